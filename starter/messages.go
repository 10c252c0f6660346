package main

import (
	"errors"
	"fmt"
	"sort"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/outlookflow/outlookflow/domain"
	"github.com/outlookflow/outlookflow/internal/app"
	"github.com/outlookflow/outlookflow/store"
	"github.com/outlookflow/outlookflow/visibility"
)

// messagesCommand lists synced mail metadata as one viewer may see it: their
// own mailbox and their reports' (visibility.For), everything for admins.
// It reads the store only; Graph is never asked.
func (c *cli) messagesCommand() *cobra.Command {
	var key, viewer, mailbox string
	var limit int
	var since time.Duration
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "messages --tenant KEY --as UPN [--mailbox UPN] [--since 24h] [--limit 50]",
		Short: "List synced mail metadata that a viewer may see: their own and their reports' (admins: all)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if limit <= 0 || since < 0 {
				return usageError{fmt.Errorf("--limit must be positive and --since not negative")}
			}
			view, st, err := c.viewerCommand(cmd, key, viewer, mailbox, "mail")
			if err != nil {
				return err
			}
			defer st.Close()
			msgs, err := view.Messages(c.ctx)
			if err != nil {
				return err
			}
			cutoff := time.Time{}
			if since > 0 {
				cutoff = time.Now().Add(-since)
			}
			var shown []domain.Message
			for _, m := range msgs {
				if m.ReceivedAt.After(cutoff) {
					shown = append(shown, m)
				}
			}
			sort.SliceStable(shown, func(i, j int) bool { return shown[i].ReceivedAt.After(shown[j].ReceivedAt) })
			if len(shown) > limit {
				shown = shown[:limit]
			}
			if asJSON {
				return printJSON(c.stdout, shown)
			}
			tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "RECEIVED\tMAILBOX\tFROM\tSUBJECT\tREAD\tFLAG")
			for _, m := range shown {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%v\t%s\n", when(m.ReceivedAt), view.Users[m.Mailbox].UserPrincipalName, dash(m.From.Address),
					dash(oneLine(truncate(m.Subject, 60))), m.IsRead, dash(string(m.Flag.Status)))
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			fmt.Fprintf(c.stderr, "%d of %d visible messages; %s sees %s.\n", len(shown), len(msgs), view.Viewer.UserPrincipalName, view.Who())
			return nil
		},
	}
	cmd.Flags().StringVar(&key, "tenant", "", "tenant key from the configuration")
	cmd.Flags().StringVar(&viewer, "as", "", "the viewer (UPN or mail address): shows what they may see")
	cmd.Flags().StringVar(&mailbox, "mailbox", "", "only this mailbox (must be visible to the viewer)")
	cmd.Flags().DurationVar(&since, "since", 0, "only mail received within this long, e.g. 24h (default: all)")
	cmd.Flags().IntVar(&limit, "limit", 50, "at most this many messages, newest first")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

// viewerCommand checks a viewer command's --tenant and --as, loads the
// configuration, opens the store and resolves what viewer may see in tenant
// key (visibility.Open: the one query path); mailbox narrows it to one
// mailbox. what names the items for the usage message.
func (c *cli) viewerCommand(cmd *cobra.Command, key, viewer, mailbox, what string) (*visibility.View, store.Store, error) {
	if viewer == "" {
		return nil, nil, usageError{fmt.Errorf("%s needs --as UPN: whose view of the %s to show", cmd.CommandPath(), what)}
	}
	if key == "" {
		return nil, nil, usageError{fmt.Errorf("%s needs --tenant KEY", cmd.CommandPath())}
	}
	if err := c.loadConfig(); err != nil {
		return nil, nil, err
	}
	if _, err := c.tenantConfig(key); err != nil {
		return nil, nil, err
	}
	st, err := app.OpenStore(c.ctx, c.cfg.Store)
	if err != nil {
		return nil, nil, fmt.Errorf("opening the store: %w", err)
	}
	view, err := visibility.Open(c.ctx, st, visibility.Request{Tenant: key, Viewer: viewer, Admins: c.cfg.Visibility.Admins, Mailbox: mailbox})
	if err != nil {
		_ = st.Close()
		if errors.Is(err, visibility.ErrNotVisible) {
			return nil, nil, errorf(exitNotFound, "%v", err)
		}
		return nil, nil, err
	}
	return view, st, nil
}

func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
