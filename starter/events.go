package main

import (
	"fmt"
	"sort"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/outlookflow/outlookflow/domain"
)

// eventsCommand lists synced calendar events as one viewer may see them,
// through the same visibility path as messages. It reads the store only.
func (c *cli) eventsCommand() *cobra.Command {
	var key, viewer, mailbox string
	var limit int
	var ahead, back time.Duration
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "events --tenant KEY --as UPN [--mailbox UPN] [--ahead 168h] [--back 0s] [--limit 50]",
		Short: "List synced calendar events that a viewer may see: their own and their reports' (admins: all)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if limit <= 0 || ahead < 0 || back < 0 {
				return usageError{fmt.Errorf("--limit must be positive and --ahead and --back not negative")}
			}
			view, st, err := c.viewerCommand(cmd, key, viewer, mailbox, "calendars")
			if err != nil {
				return err
			}
			defer st.Close()
			events, err := view.Events(c.ctx)
			if err != nil {
				return err
			}
			now := time.Now()
			from, to := now.Add(-back), now.Add(ahead)
			var shown []domain.Event
			for _, e := range events {
				if e.End.After(from) && e.Start.Before(to) {
					shown = append(shown, e)
				}
			}
			sort.SliceStable(shown, func(i, j int) bool { return shown[i].Start.Before(shown[j].Start) })
			if len(shown) > limit {
				shown = shown[:limit]
			}
			if asJSON {
				return printJSON(c.stdout, shown)
			}
			tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "START\tEND\tCALENDAR\tORGANIZER\tSUBJECT\tATTENDEES\tONLINE\tSTATE")
			for _, e := range shown {
				state := string(e.Type)
				if e.IsCancelled {
					state = "cancelled"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%v\t%s\n", when(e.Start), e.End.UTC().Format("15:04Z"), view.Users[e.Mailbox].UserPrincipalName,
					dash(e.Organizer.Address), dash(oneLine(truncate(e.Subject, 50))), len(e.Attendees), e.IsOnlineMeeting, state)
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			fmt.Fprintf(c.stderr, "%d of %d visible events between %s and %s; %s sees %s.\n", len(shown), len(events),
				from.Format(time.DateOnly), to.Format(time.DateOnly), view.Viewer.UserPrincipalName, view.Who())
			return nil
		},
	}
	cmd.Flags().StringVar(&key, "tenant", "", "tenant key from the configuration")
	cmd.Flags().StringVar(&viewer, "as", "", "the viewer (UPN or mail address): shows what they may see")
	cmd.Flags().StringVar(&mailbox, "mailbox", "", "only this calendar (must be visible to the viewer)")
	cmd.Flags().DurationVar(&ahead, "ahead", 7*24*time.Hour, "show events up to this long ahead")
	cmd.Flags().DurationVar(&back, "back", 0, "and from this long ago (default: from now)")
	cmd.Flags().IntVar(&limit, "limit", 50, "at most this many events, earliest first")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}
