package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	enumspb "go.temporal.io/api/enums/v1"

	"github.com/outlookflow/outlookflow/activities"
	"github.com/outlookflow/outlookflow/domain"
	"github.com/outlookflow/outlookflow/internal/app"
	"github.com/outlookflow/outlookflow/recipe"
	"github.com/outlookflow/outlookflow/store"
	"github.com/outlookflow/outlookflow/workflows/reciperun"
)

// whyReport answers `recipes why`: every decision the dispatch recorded
// about one item for one recipe, and how the runs it started did. Reasons
// never quote mail content; the recipe engine writes them that way.
type whyReport struct {
	Tenant string
	Recipe string
	ItemID string
	// RecipeFile is the recipe's file; "" when the loaded files lack it.
	RecipeFile string `json:",omitempty"`
	// Enabled is whether the recipe runs now, and EnabledBy what says so:
	// "its file" or "an operator's switch".
	Enabled   bool
	EnabledBy string `json:",omitempty"`
	Decisions []whyDecision
	// NoDecision says, when there is none, why most likely.
	NoDecision string `json:",omitempty"`
}

// whyDecision is one recorded decision with the matching record decoded.
type whyDecision struct {
	At        time.Time
	ChangeKey string
	// Mailbox is the mailbox's object ID; MailboxUPN its address when the
	// store knows the user.
	Mailbox    string
	MailboxUPN string `json:",omitempty"`
	Fired      bool
	// Reason is the decision's one-line summary: "fires", or the first
	// reason it did not.
	Reason string
	// Why adds what the reason leaves open (who disabled the recipe).
	Why   string `json:",omitempty"`
	RunID string `json:",omitempty"`
	// Match is the whole matching record: trigger, mailbox, each filter,
	// the condition.
	Match *recipe.Decision `json:",omitempty"`
	// Run is how the started run is doing, from Temporal.
	Run *runView `json:",omitempty"`
}

// runView is Temporal's account of one run.
type runView struct {
	WorkflowID string
	// Status is as `recipes runs` shows it.
	Status    string
	StartedAt time.Time `json:",omitzero"`
	ClosedAt  time.Time `json:",omitzero"`
	// Step is the step the run is on, or ended at.
	Step  string                 `json:",omitempty"`
	Steps []reciperun.StepRecord `json:",omitempty"`
	// Reason is why a run was skipped.
	Reason string `json:",omitempty"`
	// Failure is a failed run's failure: the step and Graph's reason.
	Failure string `json:",omitempty"`
	// Retrying describes a step Temporal is retrying.
	Retrying string `json:",omitempty"`
	// Unknown says why Temporal could not tell more.
	Unknown string `json:",omitempty"`
}

func (c *cli) recipesWhyCommand() *cobra.Command {
	var name, item, key string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "why --recipe NAME --item ID [--tenant KEY] [--json]",
		Short: "Explain why a recipe did or did not fire on an item: trigger filters, condition, mailbox, and the run it started",
		Long: "Shows every decision the worker recorded about the item (a message's or event's Graph ID, as `starter messages --json` shows it) " +
			"for the recipe: whether its trigger and mailbox matched, each filter, the condition, and the run it started, " +
			"which Temporal is asked about (status, current step, or the failure with Graph's reason). " +
			"Without a decision it says why most likely. Exits 4 when there is no decision.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if name == "" || item == "" {
				return usageError{fmt.Errorf("%s needs --recipe NAME and --item ID (the item's Graph ID, as `starter messages --json` shows it)", cmd.CommandPath())}
			}
			rep, err := c.why(name, item, key)
			if err != nil {
				return err
			}
			if asJSON {
				if err := printJSON(c.stdout, rep); err != nil {
					return err
				}
			} else if err := printWhy(c.stdout, rep); err != nil {
				return err
			}
			if len(rep.Decisions) == 0 {
				return exitError{code: exitNotFound}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&name, "recipe", "", "the recipe's name")
	cmd.Flags().StringVar(&item, "item", "", "the message's or event's Graph ID")
	cmd.Flags().StringVar(&key, "tenant", "", "the tenant (default: the one the recipe's file names)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

// why gathers the report: the recipe from the worker's files, the
// decisions and switches from the store, the runs from Temporal.
func (c *cli) why(name, item, key string) (whyReport, error) {
	rep := whyReport{Recipe: name, ItemID: item}
	recipes, diags, err := c.workerRecipes()
	if err != nil {
		return rep, err
	}
	r := findRecipe(recipes, name)
	switch {
	case r == nil && key == "":
		// Without the file the tenant is unknown: say what is there.
		return rep, c.unknownRecipe(name, recipes, len(diags))
	case r != nil && key == "":
		key = r.Tenant
	case r != nil && key != r.Tenant:
		return rep, errorf(exitNotFound, "recipe %q belongs to tenant %q (%s says so), not %q; drop --tenant or name that tenant", name, r.Tenant, r.TenantPos, key)
	}
	if _, err := c.tenantConfig(key); err != nil {
		return rep, err
	}
	rep.Tenant = key
	st, err := app.OpenStore(c.ctx, c.cfg.Store)
	if err != nil {
		return rep, fmt.Errorf("opening the store: %w", err)
	}
	defer st.Close()
	decisions, err := st.Decisions(c.ctx, key, name, item)
	if err != nil {
		return rep, err
	}
	switches, err := st.RecipeSwitches(c.ctx, key)
	if err != nil {
		return rep, err
	}
	if r != nil {
		rep.RecipeFile = r.File
		rep.Enabled = app.RecipeEnabled(r, switches)
		rep.EnabledBy = "its file"
		if _, ok := switches[name]; ok {
			rep.EnabledBy = "an operator's switch"
		}
	}
	if len(decisions) == 0 {
		if r == nil {
			return rep, c.unknownRecipe(name, recipes, len(diags))
		}
		rep.NoDecision, err = noDecisionWhy(c.ctx, st, key, r, item)
		return rep, err
	}
	upn := map[string]string{}
	if users, err := st.Users(c.ctx, key); err == nil {
		for _, u := range users {
			upn[u.ID] = u.UserPrincipalName
		}
	}
	// Temporal is asked only about runs; a server that is down leaves the
	// store's part of the answer standing.
	var temporalErr error
	for _, d := range decisions {
		if d.Fired && d.RunID != "" {
			temporalErr = c.load()
			break
		}
	}
	for _, d := range decisions {
		wd := whyDecision{At: d.At, ChangeKey: d.ChangeKey, Mailbox: d.Mailbox, MailboxUPN: upn[d.Mailbox], Fired: d.Fired,
			Reason: d.Reason, RunID: d.RunID}
		if len(d.Detail) > 0 {
			var m recipe.Decision
			if json.Unmarshal(d.Detail, &m) == nil {
				wd.Match = &m
				if !m.Enabled {
					wd.Why = disabledWhy(r, name, key, switches)
				}
			}
		}
		if d.Fired && d.RunID != "" {
			if temporalErr != nil {
				wd.Run = &runView{WorkflowID: d.RunID, Unknown: "Temporal not reached: " + firstLine(temporalErr.Error())}
			} else {
				wd.Run = c.describeRun(d.RunID)
			}
		}
		rep.Decisions = append(rep.Decisions, wd)
	}
	return rep, nil
}

// disabledWhy says who disabled a recipe, as things stand now.
func disabledWhy(r *recipe.Recipe, name, key string, switches map[string]bool) string {
	if on, ok := switches[name]; ok && !on {
		return fmt.Sprintf("an operator disabled it; `starter recipes enable --recipe %s --tenant %s` turns it back on", name, key)
	}
	if r != nil && !r.Enabled {
		return fmt.Sprintf("its file says enabled: false (%s)", r.NamePos.File)
	}
	return "it was disabled then, and is enabled now"
}

// describeRun asks Temporal how a run is doing: the server answers for
// closed runs without a worker; a running one's step needs the worker to
// answer its state query.
func (c *cli) describeRun(runID string) *runView {
	v := &runView{WorkflowID: runID}
	ctx, cancel := context.WithTimeout(c.ctx, queryTimeout)
	defer cancel()
	d, err := c.temporal.DescribeWorkflowExecution(ctx, runID, "")
	if err != nil {
		if activities.IsNotFound(err) {
			v.Unknown = "Temporal has no run with this ID: its retention period ended, or starting it failed (the sync's next dispatch of the item starts it)"
		} else {
			v.Unknown = "Temporal did not answer: " + firstLine(err.Error())
		}
		return v
	}
	info := d.GetWorkflowExecutionInfo()
	row := runRow(info)
	v.Status, v.StartedAt, v.ClosedAt = row.Status, row.StartedAt, row.ClosedAt
	switch info.GetStatus() {
	case enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING:
		var st reciperun.State
		resp, err := c.temporal.QueryWorkflow(ctx, runID, "", reciperun.QueryState)
		if err == nil {
			err = resp.Get(&st)
		}
		if err != nil {
			v.Unknown = "its current step is unknown: no worker answered its state query (" + firstLine(err.Error()) + ")"
		} else {
			v.Step, v.Steps, v.Status = st.Step, st.Steps, st.Status
		}
		for _, pa := range d.GetPendingActivities() {
			if f := pa.GetLastFailure(); f != nil {
				v.Retrying = fmt.Sprintf("attempt %d; last failure: %s", pa.GetAttempt(), c.failureText(f.GetMessage(), c.failures.FailureToError(f)))
			}
		}
	case enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED:
		var res reciperun.Result
		if err := c.temporal.GetWorkflow(ctx, runID, "").Get(ctx, &res); err == nil {
			v.Step, v.Steps, v.Reason = res.Step, res.Steps, res.Reason
		}
	case enumspb.WORKFLOW_EXECUTION_STATUS_FAILED:
		v.Failure = c.closeFailure(ctx, runID)
	}
	return v
}

// closeFailure is a failed run's failure from its close event, decoded
// (failure messages are encrypted like payloads): "step ack: … Forbidden".
func (c *cli) closeFailure(ctx context.Context, runID string) string {
	iter := c.temporal.GetWorkflowHistory(ctx, runID, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_CLOSE_EVENT)
	for iter.HasNext() {
		ev, err := iter.Next()
		if err != nil {
			return "unknown (" + firstLine(err.Error()) + ")"
		}
		if a := ev.GetWorkflowExecutionFailedEventAttributes(); a != nil {
			f := a.GetFailure()
			return c.failureText(f.GetMessage(), c.failures.FailureToError(f))
		}
	}
	return "unknown (the run's close event has no failure)"
}

// noDecisionWhy explains, from what the store holds, why a loaded recipe
// has no decision about an item. The dispatch records a decision only once
// a change's trigger kind and mailbox match, and never for a mailbox's
// first sync.
func noDecisionWhy(ctx context.Context, st store.Store, key string, r *recipe.Recipe, item string) (string, error) {
	k := r.Trigger.Kind
	if k == recipe.TriggerSchedule || k == recipe.TriggerManual {
		return fmt.Sprintf("recipe %q has a %s trigger: it fires on its own, not on item changes, so it decides nothing about items; `starter recipes runs --recipe %s` lists its runs", r.Name, k, r.Name), nil
	}
	found, err := findItem(ctx, st, key, r, item)
	if err != nil {
		return "", err
	}
	if found == nil {
		return fmt.Sprintf("item %q is not in the store of tenant %q: it was never synced (the sync has not reached it yet, or it is in a mailbox or folder the sync does not cover), it was deleted, or the ID is not a Graph message or event ID; `starter sync --tenant %s --wait` syncs now, then ask again",
			item, key, key), nil
	}
	pending, err := st.PendingChanges(ctx, key, found.owner.ID, 0)
	if err != nil {
		return "", err
	}
	for _, p := range pending {
		if p.Change.ItemID == item {
			return fmt.Sprintf("a change to the item (%s at %s) waits in the trigger outbox: the sync decides when it dispatches the mailbox's changes; ask again after the next sync", p.Change.Type, when(p.At)), nil
		}
	}
	in := recipe.Input{Mailbox: found.owner.ID, MailboxAddress: found.owner.UserPrincipalName, MailboxMail: found.owner.Mail, Now: time.Now(),
		Change: domain.Change{Mailbox: found.owner.ID, ItemID: item}}
	if found.message != nil {
		in.Change.Kind, in.Change.Type, in.Message = domain.KindMessage, domain.ChangeCreated, found.message
		if f, ok, err := st.Folder(ctx, key, found.owner.ID, found.message.FolderID); err == nil && ok {
			in.Folder = &f
		}
	} else {
		in.Change.Kind, in.Change.Type, in.Event = domain.KindEvent, domain.ChangeUpdated, found.event
		if k == recipe.TriggerUpcomingEvent {
			if !found.event.Start.After(in.Now) {
				return fmt.Sprintf("the event started at %s: recipe %q arms reminders only for events ahead", when(found.event.Start), r.Name), nil
			}
			in.Signal = k
		}
	}
	if r.Mailboxes.Scope == recipe.ScopeGroup {
		if in.MailboxGroups, err = memberships(ctx, st, key, found.owner.ID); err != nil {
			return "", err
		}
	}
	d := recipe.Match(r, in)
	switch {
	case !d.Trigger.Passed:
		return fmt.Sprintf("the recipe's %s trigger does not consider this item: %s", k, d.Trigger.Reason), nil
	case !d.Mailbox.Passed:
		return fmt.Sprintf("the item is in %s's mailbox, which is not one the recipe watches: %s", dash(found.owner.UserPrincipalName), d.Mailbox.Reason), nil
	}
	return fmt.Sprintf("its trigger and mailbox (%s) match the item as it is now, so most likely it was already there when its mailbox was first synced "+
		"(a first sync fires no recipe: that mail is not new), or it last changed before the worker loaded this recipe (a recipe decides on the changes it sees; the item's next change is decided)",
		dash(found.owner.UserPrincipalName)), nil
}

// foundItem is an item the store holds and the mailbox it is in.
type foundItem struct {
	owner   domain.User
	message *domain.Message
	event   *domain.Event
}

// findItem looks for the item in the recipe's own mailboxes first, then in
// every other: the store keys items by mailbox.
func findItem(ctx context.Context, st store.Store, key string, r *recipe.Recipe, item string) (*foundItem, error) {
	users, err := st.Users(ctx, key)
	if err != nil {
		return nil, err
	}
	var first, rest []domain.User
	for _, u := range users {
		listed := false
		for _, want := range r.Mailboxes.Users {
			listed = listed || strings.EqualFold(want, u.UserPrincipalName) || strings.EqualFold(want, u.ID)
		}
		if listed {
			first = append(first, u)
		} else {
			rest = append(rest, u)
		}
	}
	ids := []string{item}
	for _, u := range append(first, rest...) {
		msgs, err := st.MessagesByID(ctx, key, u.ID, ids)
		if err != nil {
			return nil, err
		}
		if m, ok := msgs[item]; ok {
			m.Body = nil
			return &foundItem{owner: u, message: &m}, nil
		}
		events, err := st.EventsByID(ctx, key, u.ID, ids)
		if err != nil {
			return nil, err
		}
		if e, ok := events[item]; ok {
			return &foundItem{owner: u, event: &e}, nil
		}
	}
	return nil, nil
}

// memberships are the groups (IDs and mail addresses) a member is in, as
// the dispatch matches group-scoped recipes.
func memberships(ctx context.Context, st store.Store, key, memberID string) ([]string, error) {
	groups, err := st.Groups(ctx, key)
	if err != nil {
		return nil, err
	}
	mail := map[string]string{}
	for _, g := range groups {
		mail[g.ID] = g.Mail
	}
	members, err := st.GroupMembers(ctx, key)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, m := range members {
		if m.MemberID == memberID {
			out = append(out, m.GroupID)
			if addr := mail[m.GroupID]; addr != "" {
				out = append(out, strings.ToLower(addr))
			}
		}
	}
	return out, nil
}

// printWhy prints the report for people: one block per decision.
func printWhy(w io.Writer, rep whyReport) error {
	head := fmt.Sprintf("Recipe %q of tenant %q", rep.Recipe, rep.Tenant)
	if rep.RecipeFile != "" {
		head += fmt.Sprintf(" (%s): %s by %s now", rep.RecipeFile, onOff(rep.Enabled), rep.EnabledBy)
	} else {
		head += ": not among the loaded recipe files now"
	}
	fmt.Fprintln(w, head+".")
	if len(rep.Decisions) == 0 {
		fmt.Fprintf(w, "No decision about item %s: %s.\n", rep.ItemID, rep.NoDecision)
		return nil
	}
	fmt.Fprintf(w, "Item %s: %d decision(s), newest first.\n", rep.ItemID, len(rep.Decisions))
	for _, d := range rep.Decisions {
		mailbox := d.Mailbox
		if d.MailboxUPN != "" {
			mailbox = d.MailboxUPN
		}
		fmt.Fprintf(w, "\n%s  change %q  mailbox %s\n", when(d.At), d.ChangeKey, mailbox)
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		if m := d.Match; m != nil {
			printCheck(tw, m.Trigger)
			printCheck(tw, m.Mailbox)
			for _, f := range m.Filters {
				printCheck(tw, f)
			}
			if cond := m.Condition; cond != nil {
				switch {
				case cond.Err != "":
					fmt.Fprintf(tw, "  condition\tfailed\t%s: %s\n", cond.Source, cond.Err)
				default:
					fmt.Fprintf(tw, "  condition\t%t\t%s\n", cond.Value, cond.Source)
				}
			}
			if dup := m.Duplicate; dup != nil {
				printCheck(tw, *dup)
			}
			fmt.Fprintf(tw, "  enabled\t%t\tat the time of the decision\n", m.Enabled)
		}
		if d.Fired {
			fmt.Fprintf(tw, "  decided\tfired\trun %s\n", d.RunID)
		} else {
			reason := d.Reason
			if d.Why != "" {
				reason += ": " + d.Why
			}
			fmt.Fprintf(tw, "  decided\tnot fired\t%s\n", reason)
		}
		if r := d.Run; r != nil {
			printRun(tw, r)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	return nil
}

func printCheck(tw io.Writer, ch recipe.Check) {
	verdict := "passed"
	if !ch.Passed {
		verdict = "refused"
	}
	fmt.Fprintf(tw, "  %s\t%s\t%s\n", ch.Name, verdict, ch.Reason)
}

func printRun(tw io.Writer, r *runView) {
	if r.Status != "" {
		span := "started " + when(r.StartedAt)
		if !r.ClosedAt.IsZero() {
			span += ", closed " + when(r.ClosedAt)
		}
		fmt.Fprintf(tw, "  run\t%s\t%s\n", r.Status, span)
	}
	if r.Step != "" && r.ClosedAt.IsZero() {
		fmt.Fprintf(tw, "  step\tnow\t%s\n", r.Step)
	}
	if len(r.Steps) > 0 {
		var done []string
		for _, s := range r.Steps {
			done = append(done, s.ID+"="+s.Outcome)
		}
		fmt.Fprintf(tw, "  steps\tdone\t%s\n", strings.Join(done, " "))
	}
	for _, line := range []struct{ name, text string }{{"skipped", r.Reason}, {"failure", r.Failure}, {"retrying", r.Retrying}, {"unknown", r.Unknown}} {
		if line.text != "" {
			fmt.Fprintf(tw, "  run\t%s\t%s\n", line.name, oneLine(line.text))
		}
	}
}
