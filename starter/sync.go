package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/outlookflow/outlookflow/workflows/mailsync"
	"github.com/outlookflow/outlookflow/workflows/tenant"
)

// syncCommand starts a sync run now and, with --wait, follows it with a
// progress bar fed by the run's progress query. progressbar (schollz) draws
// the bar: a small, widely used library that handles terminal width, rates
// and non-terminal output, which a hand-written bar would not.
func (c *cli) syncCommand() *cobra.Command {
	var key, mailbox string
	var wait, asJSON bool
	cmd := &cobra.Command{
		Use:   "sync --tenant KEY [--mailbox UPN] [--wait]",
		Short: "Sync a tenant (or one mailbox) now: directory, mail folders and message metadata into the store",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if _, err := c.configuredTenant(cmd, key); err != nil {
				return err
			}
			view, err := c.queryStatus(key)
			if err != nil {
				return err
			}
			if view.Status != tenant.StatusConnected {
				return errorf(exitNotConnected, "tenant %q is %s, not Connected (%s); a sync needs working credentials: see `starter status --tenant %s`",
					key, view.Status, dash(view.Detail), key)
			}
			in := mailsync.Input{TenantKey: key, CredentialVersion: view.CredentialVersion, Mailbox: mailbox, Kind: mailsync.KindManual}
			trigger := mailsync.KindManual
			if mailbox != "" {
				in.Kind = mailsync.KindMailbox
				// The workflow ID is visible unencrypted: a hash, not the address.
				sum := sha256.Sum256([]byte(strings.ToLower(mailbox)))
				trigger = "mailbox-" + hex.EncodeToString(sum[:6])
			}
			run, err := c.temporal.ExecuteWorkflow(c.ctx, client.StartWorkflowOptions{
				ID:        mailsync.WorkflowID(key, trigger),
				TaskQueue: mailsync.TaskQueue(c.cfg.Temporal.TaskQueue),
				// A manual run already going is joined, not doubled.
				WorkflowIDConflictPolicy: enumsUseExisting,
				TypedSearchAttributes: temporal.NewSearchAttributes(
					mailsync.SearchAttrTenant.ValueSet(key), mailsync.SearchAttrKind.ValueSet(in.Kind)),
			}, mailsync.WorkflowName, in)
			if err != nil {
				return c.temporalError(fmt.Sprintf("starting a sync of %q", key), err)
			}
			fmt.Fprintf(c.stderr, "Sync run %s (run %s) for tenant %q.\n", run.GetID(), run.GetRunID(), key)
			if !wait {
				fmt.Fprintf(c.stderr, "Follow it with `starter sync --tenant %s --wait`, or in the Web UI (OutlookflowTenant = %q).\n", key, key)
				return nil
			}
			res, err := c.follow(run)
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(c.stdout, res)
			}
			printSyncSummary(c, res)
			if res.Failures > 0 {
				return exitError{code: exitFailure}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&key, "tenant", "", "tenant key from the configuration")
	cmd.Flags().StringVar(&mailbox, "mailbox", "", "sync only this mailbox (UPN, mail address or object ID), after the directory")
	cmd.Flags().BoolVar(&wait, "wait", false, "wait for the run, with a progress bar, and print a summary")
	cmd.Flags().BoolVar(&asJSON, "json", false, "with --wait, print the result as JSON")
	return cmd
}

// follow draws the progress bar until the run ends and returns its result.
func (c *cli) follow(run client.WorkflowRun) (mailsync.Result, error) {
	done := make(chan error, 1)
	var res mailsync.Result
	go func() { done <- run.Get(c.ctx, &res) }()

	// The bar starts once the directory round knows how many mailboxes
	// there are: a bar of unknown length spins from a goroutine of its own
	// that races with updates (progressbar v3.18).
	var bar *progressbar.ProgressBar
	fmt.Fprintln(c.stderr, "Syncing the directory...")
	ticker := time.NewTicker(500 * time.Millisecond)
	defer ticker.Stop()
	for {
		select {
		case err := <-done:
			if bar != nil {
				_ = bar.Finish()
			}
			if err != nil {
				return res, fmt.Errorf("the sync run failed: %w", err)
			}
			return res, nil
		case <-ticker.C:
			p, err := c.progress(run)
			if err != nil || p.MailboxesTotal == 0 {
				continue // the next tick, or the result, will tell
			}
			if bar == nil {
				bar = progressbar.NewOptions(p.MailboxesTotal,
					progressbar.OptionSetWriter(c.stderr),
					progressbar.OptionShowCount(),
					progressbar.OptionSetItsString("mailboxes"),
					progressbar.OptionThrottle(100*time.Millisecond),
					progressbar.OptionClearOnFinish(),
				)
			}
			bar.Describe(fmt.Sprintf("mailboxes · %d items", p.Items))
			_ = bar.Set(p.MailboxesDone)
		case <-c.ctx.Done():
			return res, c.ctx.Err()
		}
	}
}

func (c *cli) progress(run client.WorkflowRun) (mailsync.Progress, error) {
	ctx, cancel := context.WithTimeout(c.ctx, 2*time.Second)
	defer cancel()
	var p mailsync.Progress
	v, err := c.temporal.QueryWorkflow(ctx, run.GetID(), run.GetRunID(), mailsync.QueryProgress)
	if err != nil {
		return p, err
	}
	if err := v.Get(&p); err != nil {
		return p, errors.New("progress answer: " + err.Error())
	}
	return p, nil
}

func printSyncSummary(c *cli, res mailsync.Result) {
	fmt.Fprintf(c.stdout, "Synced %d of %d mailboxes of %q: %d items added, changed or removed (%d messages and settings, %d events, %d contacts) in %d pages; %d users and %d groups or memberships changed.\n",
		res.MailboxesDone, res.MailboxesTotal, res.TenantKey, res.Items, res.Items-res.Events-res.Contacts, res.Events, res.Contacts, res.Pages, res.Users, res.Groups)
	if res.Failures == 0 {
		return
	}
	fmt.Fprintf(c.stdout, "%d mailbox part(s) could not be synced; their cursors did not move and the next run retries them:\n", res.Failures)
	for _, f := range res.FailedFolders {
		fmt.Fprintf(c.stdout, "  mailbox %s %s: %s\n", f.Mailbox, partName(f.Folder), f.Reason)
	}
}

// partName names a failed part: a mail folder by its ID, the rest as the
// activity named them ("(calendar)").
func partName(part string) string {
	if strings.HasPrefix(part, "(") {
		return strings.Trim(part, "()")
	}
	return "folder " + part
}
