package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/outlookflow/outlookflow/activities"
	"github.com/outlookflow/outlookflow/workflows/reciperun"
)

// recipesRunCommand fires a recipe by hand: a manual recipe with a
// payload, a schedule recipe now, or a mail or calendar recipe on one
// item. The worker does the firing (RecipeFire on the recipe-run queue),
// so the decision is recorded for `recipes why` like any other and the
// request ID makes repeating the command harmless.
func (c *cli) recipesRunCommand() *cobra.Command {
	var key, name, item, mailbox, payload, requestID string
	var wait time.Duration
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "run --tenant KEY --recipe NAME [--item ID] [--mailbox UPN] [--payload JSON|@FILE] [--request-id ID] [--wait 2m]",
		Short: "Fire a recipe now: a manual recipe with --payload, a schedule recipe, or a mail/calendar recipe on one --item",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if name == "" {
				return usageError{fmt.Errorf("recipes run needs --recipe NAME (see `starter recipes list`)")}
			}
			if wait < 0 {
				return usageError{fmt.Errorf("--wait must not be negative")}
			}
			in := reciperun.FireInput{Recipe: name, Manual: true, Mailbox: mailbox, ItemID: item, RequestID: requestID}
			var err error
			if in.Payload, err = readPayload(payload); err != nil {
				return err
			}
			if in.RequestID == "" {
				in.RequestID = newRequestID()
			}
			t, err := c.configuredTenant(cmd, key)
			if err != nil {
				return err
			}
			in.Tenant = t.Key
			res, err := c.fire(in)
			if err != nil {
				return err
			}
			if wait > 0 {
				if err := c.waitRuns(res, wait); err != nil {
					return err
				}
			}
			if asJSON {
				return printJSON(c.stdout, struct {
					RequestID string
					activities.FireResult
				}{in.RequestID, res})
			}
			fmt.Fprintf(c.stdout, "request %s (repeat with --request-id %s to get the same runs, never new ones)\n", in.RequestID, in.RequestID)
			tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "MAILBOX\tFIRED\tRUN\tDECISION")
			for _, r := range res.Runs {
				run := "-"
				if r.Fired {
					run = r.RunID
					if !r.Started {
						run += " (already started)"
					}
				}
				fmt.Fprintf(tw, "%s\t%t\t%s\t%s\n", dash(r.Mailbox), r.Fired, run, r.Reason)
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			if len(res.Runs) == 0 {
				fmt.Fprintln(c.stderr, "no mailbox to run for: the recipe's mailboxes are not in the synced directory yet")
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&key, "tenant", "", "tenant key")
	cmd.Flags().StringVar(&name, "recipe", "", "recipe name")
	cmd.Flags().StringVar(&item, "item", "", "message or event ID to run a mail or calendar recipe on (see `starter messages`, `starter events`)")
	cmd.Flags().StringVar(&mailbox, "mailbox", "", "only this one of the recipe's mailboxes (UPN or object ID)")
	cmd.Flags().StringVar(&payload, "payload", "", "a manual recipe's input: a JSON object, or @FILE holding one")
	cmd.Flags().StringVar(&requestID, "request-id", "", "names this request; the same ID never starts a run twice (default: a new random ID)")
	cmd.Flags().DurationVar(&wait, "wait", 0, "also wait this long for the started runs to end and print their outcome")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

// readPayload parses --payload: a JSON object, inline or from @FILE.
func readPayload(arg string) (map[string]any, error) {
	if arg == "" {
		return nil, nil
	}
	data := []byte(arg)
	where := "--payload"
	if file, ok := strings.CutPrefix(arg, "@"); ok {
		var err error
		if data, err = os.ReadFile(file); err != nil {
			return nil, usageError{fmt.Errorf("--payload @%s: %v", file, err)}
		}
		where = "--payload file " + file
	}
	var out map[string]any
	if err := json.Unmarshal(data, &out); err != nil || out == nil {
		msg := "not a JSON object"
		if err != nil {
			msg = err.Error()
		}
		return nil, usageError{fmt.Errorf("%s: %s; give a JSON object such as '{\"customer\": \"Contoso\"}'", where, msg)}
	}
	return out, nil
}

func newRequestID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return "req-" + hex.EncodeToString(b[:])
}

// fire starts (or finds) the request's RecipeFire and waits for what it
// did. A request ID used before returns the first answer.
func (c *cli) fire(in reciperun.FireInput) (activities.FireResult, error) {
	var res activities.FireResult
	id := reciperun.FireWorkflowID(in.Tenant, in.Recipe, in.RequestID)
	ctx, cancel := context.WithTimeout(c.ctx, 2*time.Minute)
	defer cancel()
	run, err := c.temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:                       id,
		TaskQueue:                reciperun.TaskQueue(c.cfg.Temporal.TaskQueue),
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		// A request that ran before is an error here, answered below by
		// reading that run's result.
		WorkflowExecutionErrorWhenAlreadyStarted: true,
		StaticSummary:                            fmt.Sprintf("manual run of recipe %s", in.Recipe),
		TypedSearchAttributes: temporal.NewSearchAttributes(
			reciperun.SearchAttrTenant.ValueSet(in.Tenant),
			reciperun.SearchAttrRecipe.ValueSet(in.Recipe),
		),
	}, reciperun.FireWorkflowName, in)
	if err != nil && !activities.IsAlreadyStarted(err) {
		return res, err
	}
	if err != nil {
		// The same request ran before: its answer stands.
		run = c.temporal.GetWorkflow(ctx, id, "")
	}
	if err := run.Get(ctx, &res); err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return res, errorf(exitFailure, "the worker did not fire recipe %q within 2 minutes: is a worker running for task queue %s? (workflow %s)", in.Recipe, reciperun.TaskQueue(c.cfg.Temporal.TaskQueue), id)
		}
		var app *temporal.ApplicationError
		if errors.As(err, &app) {
			return res, errorf(exitFailure, "recipe %q not fired: %s", in.Recipe, app.Message())
		}
		return res, err
	}
	return res, nil
}

// waitRuns waits for the started runs to end and prints each outcome.
func (c *cli) waitRuns(res activities.FireResult, wait time.Duration) error {
	ctx, cancel := context.WithTimeout(c.ctx, wait)
	defer cancel()
	for _, r := range res.Runs {
		if !r.Fired {
			continue
		}
		var out reciperun.Result
		err := c.temporal.GetWorkflow(ctx, r.RunID, "").Get(ctx, &out)
		switch {
		case ctx.Err() != nil:
			return errorf(exitFailure, "run %s still going after %s; see `starter recipes why` or the Web UI", r.RunID, wait)
		case err != nil:
			var app *temporal.ApplicationError
			msg := err.Error()
			if errors.As(err, &app) {
				msg = app.Message()
			}
			fmt.Fprintf(c.stdout, "run %s: Failed: %s\n", r.RunID, msg)
		default:
			fmt.Fprintf(c.stdout, "run %s: %s\n", r.RunID, out.Status)
		}
	}
	return nil
}
