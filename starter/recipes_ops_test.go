package main

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"go.temporal.io/api/workflowservice/v1"
	"go.uber.org/zap"

	"github.com/outlookflow/outlookflow/config"
	"github.com/outlookflow/outlookflow/domain"
	"github.com/outlookflow/outlookflow/graphsim"
	"github.com/outlookflow/outlookflow/internal/app"
	"github.com/outlookflow/outlookflow/recipe"
	"github.com/outlookflow/outlookflow/workflows/mailsync"
	"github.com/outlookflow/outlookflow/workflows/reciperun"
	"github.com/outlookflow/outlookflow/workflows/tenant"
)

// exampleRecipesDir is the example recipes, from this package's folder.
// The one place that names it: the examples may move.
const exampleRecipesDir = "../recipes/examples"

// demoMailboxes picks three demo users with mailboxes: the recipes' mailbox
// (one whose seeded mail the first sync lists), a sender, and a mailbox no
// recipe watches.
func demoMailboxes(t *testing.T) (watched, sender, unwatched graphsim.UserSeed) {
	t.Helper()
	seed, _ := graphsim.DemoTenant()
	var withMail []graphsim.UserSeed
	for _, u := range seed.Users {
		if u.Mail != "" {
			withMail = append(withMail, u)
		}
	}
	i := slices.IndexFunc(withMail, func(u graphsim.UserSeed) bool { return len(u.Messages) > 0 })
	if i < 0 || len(withMail) < 3 {
		t.Fatal("the demo tenant lacks three mailboxes, one with seeded mail")
	}
	watched = withMail[i]
	rest := slices.Delete(slices.Clone(withMail), i, i+1)
	return watched, rest[0], rest[1]
}

// writeRecipes writes recipe files (name → YAML) into a new folder.
func writeRecipes(t *testing.T, recipes map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range recipes {
		mustWrite(t, filepath.Join(dir, name), body)
	}
	return dir
}

// recipeFor is a recipe of the demo tenant on new mail from sender in
// mailbox, with extra trigger filters and one step.
func recipeFor(name, mailbox, sender, filters, step string) string {
	return fmt.Sprintf("name: %s\ntenant: demo\nmailboxes: {users: [%s]}\ntrigger:\n  newMail: {from: [%s]%s}\nsteps:\n%s", name, mailbox, sender, filters, step)
}

// waitNoSyncRunning waits until no sync run of this world's worker is going:
// mail that arrives while a first sync runs would count as already there.
func waitNoSyncRunning(t *testing.T, cfgPath string) {
	t.Helper()
	cfg, err := config.Load(cfgPath, nil)
	if err != nil {
		t.Fatal(err)
	}
	c, err := app.DialTemporal(context.Background(), cfg, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	q := fmt.Sprintf("WorkflowType = %q AND ExecutionStatus = 'Running' AND TaskQueue = %q", mailsync.WorkflowName, mailsync.TaskQueue(cfg.Temporal.TaskQueue))
	for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); time.Sleep(300 * time.Millisecond) {
		resp, err := c.ListWorkflow(context.Background(), &workflowservice.ListWorkflowExecutionsRequest{Query: q})
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.GetExecutions()) == 0 {
			return
		}
	}
	t.Fatal("a sync run was still going after two minutes")
}

// why runs `recipes why --json` and decodes it.
func why(t *testing.T, cfg, recipeName, item string) (whyReport, result) {
	t.Helper()
	r := runStarter(t, cfg, "", "recipes", "why", "--recipe", recipeName, "--item", item, "--json")
	var rep whyReport
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("recipes why --recipe %s --json: exit %d, not JSON (%v)\nstdout:\n%s\nstderr:\n%s", recipeName, r.code, err, r.stdout, r.stderr)
	}
	return rep, r
}

// whyOnceClosed polls `recipes why` until the decision's run has closed.
func whyOnceClosed(t *testing.T, cfg, recipeName, item string) whyReport {
	t.Helper()
	var rep whyReport
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(300 * time.Millisecond) {
		rep, _ = why(t, cfg, recipeName, item)
		if len(rep.Decisions) > 0 && rep.Decisions[0].Run != nil && !rep.Decisions[0].Run.ClosedAt.IsZero() {
			return rep
		}
	}
	t.Fatalf("the run of %s on the item did not close within a minute: %+v", recipeName, rep)
	return rep
}

// TestRecipesWhyRunsEnableDisableAgainstARealWorker: one new message from
// the sender meets five recipes. `recipes why` shows the one that fired and
// completed with its run's steps, the one whose run waits at its wait step, the one whose subject filter refused it
// (naming the filter), the one whose run Graph refused (the step and
// Forbidden, read back from Temporal) and the one an operator disabled
// beforehand; for the same mail in a mailbox no recipe watches and for
// mail the first sync listed, it says why there is no decision. `recipes runs` lists the runs by
// recipe and status; the tenant's status names the permission the failing
// recipe lacks.
func TestRecipesWhyRunsEnableDisableAgainstARealWorker(t *testing.T) {
	watched, sender, unwatched := demoMailboxes(t)
	bookStep := "  - id: meet\n    createEvent: {subject: Talk, start: \"2030-01-02T09:00:00Z\", duration: 30m}\n"
	tagStep := "  - id: tag\n    setCategories: {categories: [Boss]}\n"
	dir := writeRecipes(t, map[string]string{
		"tag.yaml":      recipeFor("tag-boss", watched.UserPrincipalName, sender.Mail, "", tagStep),
		"invoices.yaml": recipeFor("invoices", watched.UserPrincipalName, sender.Mail, ", subjectContains: [invoice]", tagStep),
		"book.yaml":     recipeFor("book-it", watched.UserPrincipalName, sender.Mail, "", bookStep),
		"quiet.yaml":    recipeFor("quiet", watched.UserPrincipalName, sender.Mail, "", tagStep),
		"hold.yaml":     recipeFor("hold", watched.UserPrincipalName, sender.Mail, "", "  - id: pause\n    wait: {for: 1h}\n"+tagStep),
	})
	cfg, sim := worldWithConfig(t, "[directory, mail, mail-send]", "recipes:\n  dir: "+dir+"\n")
	// Writing mail but no calendars: book-it's createEvent is refused.
	_, creds := graphsim.DemoTenant()
	if err := sim.SetGrantedRoles(creds.TenantID, creds.ClientID, []string{"User.Read.All", "Mail.ReadWrite", "Mail.Send"}); err != nil {
		t.Fatal(err)
	}
	if r := runStarter(t, cfg, "", "connect", "--tenant", "demo"); r.code != exitOK {
		t.Fatalf("connect: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	// The tenant stays Connected (its sync has what it needs), and its
	// status names what book-it lacks: the worker's recipes count.
	var rows []statusRow
	if r := runStarter(t, cfg, "", "status", "--tenant", "demo", "--json"); json.Unmarshal([]byte(r.stdout), &rows) != nil || len(rows) != 1 ||
		rows[0].Status != tenant.StatusConnected || !slices.Equal(rows[0].Missing, []string{"Calendars.ReadWrite"}) || !strings.Contains(rows[0].Detail, "book-it") {
		t.Fatalf("status with a recipe lacking a permission: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := runStarter(t, cfg, "", "sync", "--tenant", "demo", "--wait"); r.code != exitOK {
		t.Fatalf("first sync: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	waitNoSyncRunning(t, cfg)

	r := runStarter(t, cfg, "", "recipes", "disable", "--recipe", "quiet")
	if r.code != exitOK || !strings.Contains(r.stdout, `Recipe "quiet" of tenant "demo" is now disabled by an operator's switch (its file says enabled: true)`) {
		t.Fatalf("recipes disable: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	hit, err := sim.DeliverMessage(creds.TenantID, watched.UserPrincipalName, graphsim.MessageSeed{From: sender.Mail, To: []string{watched.Mail},
		Subject: "quarterly numbers", BodyText: "see attached", ReceivedAt: time.Now().UTC()})
	if err != nil {
		t.Fatal(err)
	}
	elsewhere, err := sim.DeliverMessage(creds.TenantID, unwatched.UserPrincipalName, graphsim.MessageSeed{From: sender.Mail, To: []string{unwatched.Mail},
		Subject: "quarterly numbers", BodyText: "see attached", ReceivedAt: time.Now().UTC()})
	if err != nil {
		t.Fatal(err)
	}
	if r := runStarter(t, cfg, "", "sync", "--tenant", "demo", "--wait"); r.code != exitOK {
		t.Fatalf("second sync: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	t.Run("a fired run shows its decision and how the run ended", func(t *testing.T) {
		rep := whyOnceClosed(t, cfg, "tag-boss", hit)
		d := rep.Decisions[0]
		if !d.Fired || d.RunID != recipe.RunID("demo", "tag-boss", hit, "new") || d.MailboxUPN != watched.UserPrincipalName ||
			d.Match == nil || !d.Match.Trigger.Passed || !d.Match.Mailbox.Passed || len(d.Match.Filters) == 0 {
			t.Fatalf("tag-boss decision: %+v", d)
		}
		if d.Run.Status != reciperun.StatusCompleted || len(d.Run.Steps) != 1 || d.Run.Steps[0].ID != "tag" {
			t.Fatalf("tag-boss run: %+v", d.Run)
		}
		text := runStarter(t, cfg, "", "recipes", "why", "--recipe", "tag-boss", "--item", hit)
		for _, want := range []string{"decided  fired", d.RunID, "Completed", "tag=", "enabled by its file now"} {
			if !strings.Contains(text.stdout, want) {
				t.Errorf("why's table lacks %q:\n%s", want, text.stdout)
			}
		}
	})

	t.Run("a run that is waiting shows its step", func(t *testing.T) {
		var run *runView
		for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(300 * time.Millisecond) {
			if rep, _ := why(t, cfg, "hold", hit); len(rep.Decisions) == 1 && rep.Decisions[0].Run != nil {
				if run = rep.Decisions[0].Run; run.Status == reciperun.StatusWaiting {
					break
				}
			}
		}
		if run == nil || run.Status != reciperun.StatusWaiting || run.Step != "pause" || !run.ClosedAt.IsZero() {
			t.Fatalf("hold run: %+v; want Waiting at step pause", run)
		}
	})

	t.Run("a filtered-out item names the filter that refused it", func(t *testing.T) {
		rep, r := why(t, cfg, "invoices", hit)
		if r.code != exitOK || len(rep.Decisions) != 1 {
			t.Fatalf("invoices: exit %d %+v", r.code, rep)
		}
		d := rep.Decisions[0]
		var refused []string
		for _, f := range d.Match.Filters {
			if !f.Passed {
				refused = append(refused, f.Name)
			}
		}
		if d.Fired || d.Run != nil || !slices.Equal(refused, []string{"subjectContains"}) || !strings.HasPrefix(d.Reason, "subjectContains") {
			t.Fatalf("invoices decision: fired %v reason %q refused filters %v", d.Fired, d.Reason, refused)
		}
	})

	t.Run("a failed run shows the step and Graph's reason", func(t *testing.T) {
		rep := whyOnceClosed(t, cfg, "book-it", hit)
		run := rep.Decisions[0].Run
		if run.Status != reciperun.StatusFailed || !strings.Contains(run.Failure, "step meet") || !strings.Contains(run.Failure, "Forbidden") {
			t.Fatalf("book-it run: %+v; want Failed naming step meet and Forbidden", run)
		}
		text := runStarter(t, cfg, "", "recipes", "why", "--recipe", "book-it", "--item", hit)
		t.Logf("recipes why --recipe book-it:\n%s%s", text.stdout, text.stderr)
		if !hasLine(text.stdout, "run", "failure", "step meet", "Forbidden") {
			t.Errorf("why's table does not show the failure on a line of its own:\n%s", text.stdout)
		}
	})

	t.Run("a recipe an operator disabled says so", func(t *testing.T) {
		rep, _ := why(t, cfg, "quiet", hit)
		if len(rep.Decisions) != 1 || rep.Decisions[0].Fired || rep.Enabled || rep.EnabledBy != "an operator's switch" ||
			!strings.Contains(rep.Decisions[0].Why, "an operator disabled it") {
			t.Fatalf("quiet: %+v", rep)
		}
		text := runStarter(t, cfg, "", "recipes", "why", "--recipe", "quiet", "--item", hit)
		t.Logf("recipes why --recipe quiet:\n%s", text.stdout)
		if ids := runIDs(t, cfg, "--recipe", "quiet"); len(ids) != 0 {
			t.Fatalf("the disabled recipe has runs %v", ids)
		}
	})

	t.Run("no decision: a mailbox the recipe does not watch", func(t *testing.T) {
		rep, r := why(t, cfg, "tag-boss", elsewhere)
		if r.code != exitNotFound || len(rep.Decisions) != 0 || !strings.Contains(rep.NoDecision, unwatched.UserPrincipalName+"'s mailbox, which is not one the recipe watches") {
			t.Fatalf("elsewhere: exit %d %+v", r.code, rep)
		}
	})

	t.Run("no decision: mail the first sync listed", func(t *testing.T) {
		m := runStarter(t, cfg, "", "messages", "--tenant", "demo", "--as", watched.UserPrincipalName, "--mailbox", watched.UserPrincipalName, "--json")
		var msgs []domain.Message
		if err := json.Unmarshal([]byte(m.stdout), &msgs); err != nil {
			t.Fatalf("messages: %v\n%s", err, m.stderr)
		}
		i := slices.IndexFunc(msgs, func(m domain.Message) bool { return m.ID != hit && m.ID != elsewhere })
		if i < 0 {
			t.Fatal("the watched mailbox has no mail from its first sync")
		}
		rep, r := why(t, cfg, "tag-boss", msgs[i].ID)
		if r.code != exitNotFound || !strings.Contains(rep.NoDecision, "first synced") {
			t.Fatalf("mail from the first sync: exit %d %+v", r.code, rep)
		}
		if r := runStarter(t, cfg, "", "recipes", "why", "--recipe", "tag-boss", "--item", "no-such-item"); r.code != exitNotFound || !strings.Contains(r.stdout, "not in the store") {
			t.Fatalf("an unknown item: exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
		if r := runStarter(t, cfg, "", "recipes", "why", "--recipe", "nope", "--item", hit); r.code != exitNotFound || !strings.Contains(r.stderr, "book-it, hold, invoices, quiet, tag-boss") {
			t.Fatalf("an unknown recipe: exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
	})

	t.Run("runs lists runs by recipe and status", func(t *testing.T) {
		if ids := runIDs(t, cfg, "--recipe", "book-it", "--status", "failed"); !slices.Equal(ids, []string{recipe.RunID("demo", "book-it", hit, "new")}) {
			t.Fatalf("failed book-it runs = %v", ids)
		}
		if ids := runIDs(t, cfg, "--recipe", "book-it", "--status", "Completed"); len(ids) != 0 {
			t.Fatalf("completed book-it runs = %v, want none", ids)
		}
		all := runIDs(t, cfg, "--tenant", "demo")
		if !slices.Contains(all, recipe.RunID("demo", "tag-boss", hit, "new")) || !slices.Contains(all, recipe.RunID("demo", "book-it", hit, "new")) {
			t.Fatalf("runs of demo = %v, want tag-boss's and book-it's", all)
		}
		table := runStarter(t, cfg, "", "recipes", "runs", "--recipe", "tag-boss")
		if !strings.Contains(table.stdout, "WORKFLOW ID") || !strings.Contains(table.stdout, "Completed") {
			t.Fatalf("runs table:\n%s%s", table.stdout, table.stderr)
		}
		if r := runStarter(t, cfg, "", "recipes", "runs", "--status", "bogus"); r.code != exitUsage || !strings.Contains(r.stderr, "Running, Waiting, Completed, Failed, Skipped") {
			t.Fatalf("runs --status bogus: exit %d %s", r.code, r.stderr)
		}
	})

	t.Run("enable turns the switch back on and checks its input", func(t *testing.T) {
		r := runStarter(t, cfg, "", "recipes", "enable", "--recipe", "quiet", "--tenant", "demo")
		if r.code != exitOK || !strings.Contains(r.stdout, "is now enabled") {
			t.Fatalf("enable: exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
		if rep, _ := why(t, cfg, "quiet", hit); !rep.Enabled || rep.EnabledBy != "an operator's switch" {
			t.Fatalf("after enable why says enabled=%v by %s", rep.Enabled, rep.EnabledBy)
		}
		if r := runStarter(t, cfg, "", "recipes", "enable", "--recipe", "quiet", "--tenant", "unstarted"); r.code != exitNotFound || !strings.Contains(r.stderr, `belongs to tenant "demo"`) {
			t.Fatalf("enable for the wrong tenant: exit %d %s", r.code, r.stderr)
		}
		if r := runStarter(t, cfg, "", "recipes", "disable"); r.code != exitUsage || !strings.Contains(r.stderr, "--recipe NAME") {
			t.Fatalf("disable without --recipe: exit %d %s", r.code, r.stderr)
		}
	})

	t.Run("the tenant's status follows a switch without a new check", func(t *testing.T) {
		before := missingOnceSettled(t, cfg, []string{"Calendars.ReadWrite"})
		if r := runStarter(t, cfg, "", "recipes", "disable", "--recipe", "book-it"); r.code != exitOK || !strings.Contains(r.stdout, "Told the tenant's connection") {
			t.Fatalf("disable book-it: exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
		after := missingOnceSettled(t, cfg, nil)
		if after.Status != tenant.StatusConnected || after.Detail != "" || after.Verifications != before.Verifications {
			t.Fatalf("after disabling book-it: %+v; want Connected, no detail, and no new check (%d before)", after.StatusView, before.Verifications)
		}
		if r := runStarter(t, cfg, "", "recipes", "enable", "--recipe", "book-it"); r.code != exitOK {
			t.Fatalf("enable book-it: exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
		missingOnceSettled(t, cfg, []string{"Calendars.ReadWrite"})
	})
}

// missingOnceSettled polls the tenant's status until its Missing is want
// (a signal is applied in the workflow's next task).
func missingOnceSettled(t *testing.T, cfg string, want []string) statusRow {
	t.Helper()
	var rows []statusRow
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		r := runStarter(t, cfg, "", "status", "--tenant", "demo", "--json")
		if json.Unmarshal([]byte(r.stdout), &rows) == nil && len(rows) == 1 && slices.Equal(rows[0].Missing, want) {
			return rows[0]
		}
	}
	t.Fatalf("the tenant's Missing did not become %v: %+v", want, rows)
	return statusRow{}
}

// runIDs lists run workflow IDs through `recipes runs --json`, waiting
// out visibility's short delay for runs that closed a moment ago.
func runIDs(t *testing.T, cfg string, args ...string) []string {
	t.Helper()
	var ids []string
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(300 * time.Millisecond) {
		r := runStarter(t, cfg, "", append([]string{"recipes", "runs", "--json"}, args...)...)
		var rows []recipeRunRow
		if err := json.Unmarshal([]byte(r.stdout), &rows); err != nil || r.code != exitOK {
			t.Fatalf("recipes runs %v: exit %d %v\n%s", args, r.code, err, r.stderr)
		}
		ids = ids[:0]
		for _, row := range rows {
			ids = append(ids, row.WorkflowID)
		}
		if len(ids) > 0 || time.Now().After(deadline) {
			return ids
		}
	}
}

// leastPrivilege is graph-behavior.md §8 ("Permissions (least privileged
// first; D = delegated, A = application)") as data: per operation, the
// permissions that allow it, least privileged first, in each auth mode; nil
// where Graph has none. The test derives what each example recipe should
// need from it, independently of the recipe package's own tables.
var leastPrivilege = map[string]struct{ delegated, app []string }{
	// list messages / message delta / get message
	"read mail": {[]string{"Mail.ReadBasic", "Mail.Read", "Mail.ReadWrite"}, []string{"Mail.ReadBasic.All", "Mail.Read", "Mail.ReadWrite"}},
	// sendMail / reply / replyAll / forward / send draft
	"send mail": {[]string{"Mail.Send"}, []string{"Mail.Send"}},
	// create draft, PATCH message, move, copy, create mailFolder
	"write mail": {[]string{"Mail.ReadWrite"}, []string{"Mail.ReadWrite"}},
	// calendarView / list events
	"read calendar": {[]string{"Calendars.Read", "Calendars.ReadWrite"}, []string{"Calendars.Read", "Calendars.ReadWrite"}},
	// create event, accept/decline/tentative, cancel
	"write calendar": {[]string{"Calendars.ReadWrite"}, []string{"Calendars.ReadWrite"}},
	// create onlineMeeting (app-only also needs an application access policy)
	"create online meeting": {[]string{"OnlineMeetings.ReadWrite"}, []string{"OnlineMeetings.ReadWrite.All"}},
	// list users, /users/delta, manager, directReports
	"list users": {[]string{"User.ReadBasic.All", "User.Read.All"}, []string{"User.Read.All", "Directory.Read.All"}},
	// group members
	"group members": {[]string{"GroupMember.Read.All", "Group.Read.All"}, []string{"GroupMember.Read.All", "Group.Read.All"}},
	// post channel message: app-only only for migration (Teamwork.Migrate.All)
	"post channel message": {[]string{"ChannelMessage.Send", "Group.ReadWrite.All"}, nil},
	// findMeetingTimes: not supported app-only
	"find meeting times": {[]string{"Calendars.Read"}, nil},
	// message bodies: Mail.ReadBasic(.All) never returns them (simulator must 30)
	"read mail bodies": {[]string{"Mail.Read", "Mail.ReadWrite"}, []string{"Mail.Read", "Mail.ReadWrite"}},
	// contacts create, mailboxSettings update
	"write contacts":         {[]string{"Contacts.ReadWrite"}, []string{"Contacts.ReadWrite"}},
	"write mailbox settings": {[]string{"MailboxSettings.ReadWrite"}, []string{"MailboxSettings.ReadWrite"}},
}

// featureOperations are the demo tenant's sync features as §8 operations:
// directory, mail, mail-send.
var featureOperations = []string{"list users", "read mail", "send mail"}

// actionOperations map each recipe action to the §8 operation it performs.
var actionOperations = map[string]string{
	// Sending, replying and forwarding go through a draft tagged with the
	// step's key (issue 7's idempotency): a draft is written, then sent.
	"send": "send mail+write mail", "reply": "send mail+write mail", "replyAll": "send mail+write mail", "forward": "send mail+write mail",
	"createDraft": "write mail", "move": "write mail", "copy": "write mail", "markRead": "write mail", "markUnread": "write mail",
	"flag": "write mail", "unflag": "write mail", "setCategories": "write mail", "delete": "write mail", "createFolder": "write mail",
	"createEvent": "write calendar", "updateEvent": "write calendar", "cancelEvent": "write calendar", "respondToEvent": "write calendar",
	"findMeetingTimes":    "find meeting times",
	"createOnlineMeeting": "create online meeting",
	"createContact":       "write contacts", "updateContact": "write contacts",
	"setAutomaticReplies": "write mailbox settings",
	"postChannelMessage":  "post channel message",
}

// operationsOf lists the §8 operations a recipe performs: listing its
// group's members, what its trigger reads, what each step does. The
// recipe file is read with the recipe parser; what it needs is derived
// here, from §8, not from the recipe package's tables.
func operationsOf(t *testing.T, r *recipe.Recipe) []string {
	t.Helper()
	var ops []string
	if r.Mailboxes.Scope == recipe.ScopeGroup {
		ops = append(ops, "group members")
	}
	switch k := r.Trigger.Kind; {
	case k == recipe.TriggerSharedMailboxNewMail:
		t.Fatalf("example %s: §8 does not cover a shared mailbox's permissions; extend this test", r.Name)
	case k.IsMail():
		ops = append(ops, "read mail")
	case k.IsEvent():
		ops = append(ops, "read calendar")
	}
	var walk func([]*recipe.Step)
	walk = func(steps []*recipe.Step) {
		for _, st := range steps {
			switch st.Action {
			case "if":
			case "wait":
				if st.Wait != nil && st.Wait.UntilReplyInConversation {
					ops = append(ops, "read mail")
				}
			case "summarize":
				if of := st.Param("of"); of != nil && of.Str == "events" {
					ops = append(ops, "read calendar")
				} else if b := st.Param("includeBodies"); b != nil && b.Bool {
					ops = append(ops, "read mail bodies")
				} else {
					ops = append(ops, "read mail")
				}
			default:
				op, ok := actionOperations[st.Action]
				if !ok {
					t.Fatalf("example %s: step %s's action %s has no §8 operation in this test; extend it", r.Name, st.ID, st.Action)
				}
				if st.Action == "send" && st.Param("from") != nil {
					t.Fatalf("example %s: sending as another mailbox is not in §8; extend this test", r.Name)
				}
				ops = append(ops, strings.Split(op, "+")...)
			}
			walk(st.Then)
			walk(st.Else)
		}
	}
	walk(r.Steps)
	return ops
}

// expectedLeast is the minimal set the operations need in one auth mode:
// each operation's least privileged permission, without those another
// needed permission also allows (§8's "least privileged first" order).
// ok is false when an operation has no permission in that mode.
func expectedLeast(ops []string, delegated bool) (perms []string, ok bool) {
	var rows [][]string
	for _, op := range ops {
		row := leastPrivilege[op].app
		if delegated {
			row = leastPrivilege[op].delegated
		}
		if row == nil {
			return nil, false
		}
		rows = append(rows, row)
	}
	need := map[string]bool{}
	for _, row := range rows {
		need[row[0]] = true
	}
	for _, row := range rows {
		for _, higher := range row[1:] {
			if need[higher] {
				delete(need, row[0])
			}
		}
	}
	for p := range need {
		perms = append(perms, p)
	}
	sort.Strings(perms)
	return perms, true
}

// TestScopesOfTheExampleRecipesMatchTheLeastPrivilegeTable: for the demo
// tenant with the example recipes, `starter scopes` needs what §8 says each
// recipe's operations need, in both auth modes; a recipe Graph cannot run
// app-only is left out, as the worker leaves it out. Against the demo app's
// grant it marks as lacking what §8 says the grant does not cover, as
// beyond need what no operation in use needs, and gives the admin-consent
// URL on the configured cloud.
func TestScopesOfTheExampleRecipesMatchTheLeastPrivilegeTable(t *testing.T) {
	examples, err := filepath.Abs(exampleRecipesDir)
	if err != nil {
		t.Fatal(err)
	}
	cfg := world(t)
	mustWrite(t, cfg, mustRead(t, cfg)+"recipes:\n  dir: "+examples+"\n")
	if r := runStarter(t, cfg, "", "connect", "--tenant", "demo"); r.code != exitOK {
		t.Fatalf("connect: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	scopes := func() (scopesReport, result) {
		t.Helper()
		r := runStarter(t, cfg, "", "scopes", "--tenant", "demo", "--json")
		var reps []scopesReport
		if err := json.Unmarshal([]byte(r.stdout), &reps); err != nil || r.code != exitOK || len(reps) != 1 {
			t.Fatalf("scopes --json: exit %d %v\n%s%s", r.code, err, r.stdout, r.stderr)
		}
		return reps[0], r
	}
	parsed, diags := recipe.LoadDir(examples, recipe.Options{})
	if len(diags) > 0 || len(parsed) < 3 {
		t.Fatalf("the examples in %s: %d parse, problems %v; the test would prove little", examples, len(parsed), diags)
	}
	exampleOps := map[string][]string{}
	var all []string
	for _, r := range parsed {
		exampleOps[r.Name] = operationsOf(t, r)
		all = append(all, r.Name)
	}
	sort.Strings(all)
	// checkNeeds compares the report with §8 and returns the operations in
	// use (the features' and the counted recipes') and the recipes counted.
	checkNeeds := func(rep scopesReport, delegated bool) (ops []string, counted []string) {
		t.Helper()
		ops = append(ops, featureOperations...)
		for _, r := range rep.Recipes {
			counted = append(counted, r.Name)
			recipeOps := exampleOps[r.Name]
			want, possible := expectedLeast(recipeOps, delegated)
			switch {
			case !possible:
				t.Errorf("delegated=%v: %s cannot run (§8 has no permission for one of %v) but scopes counts it", delegated, r.Name, recipeOps)
			case !slices.Equal(r.Permissions, want):
				t.Errorf("delegated=%v: %s needs %v, §8 says %v", delegated, r.Name, r.Permissions, want)
			}
			ops = append(ops, recipeOps...)
		}
		want, _ := expectedLeast(ops, delegated)
		var needed []string
		for _, n := range rep.Needed {
			needed = append(needed, n.Permission)
		}
		if !slices.Equal(needed, want) {
			t.Errorf("delegated=%v: the tenant needs %v, §8 says %v", delegated, needed, want)
		}
		sort.Strings(counted)
		return ops, counted
	}

	app, text := scopes()
	appOps, appCounted := checkNeeds(app, false)
	rewrite(t, cfg, "    features: [directory, mail, mail-send]\n", "    features: [directory, mail, mail-send]\n    authMode: delegated\n")
	delegated, _ := scopes()
	if _, counted := checkNeeds(delegated, true); !slices.Equal(counted, all) {
		t.Errorf("delegated scopes counts %v, want every example %v", counted, all)
	}
	// App-only, exactly the examples §8 gives an application permission
	// for every operation are counted; the others are refused, and said so.
	var wantApp []string
	for _, name := range all {
		if _, possible := expectedLeast(exampleOps[name], false); possible {
			wantApp = append(wantApp, name)
		}
	}
	if !slices.Equal(appCounted, wantApp) {
		t.Errorf("app-only scopes counts %v, want %v", appCounted, wantApp)
	}
	if refused := len(all) - len(wantApp); refused > 0 && !strings.Contains(text.stderr, fmt.Sprintf("%d problem(s) in recipe files", refused)) {
		t.Errorf("scopes does not say %d recipe file(s) were left out:\n%s", refused, text.stderr)
	}

	// The grant: the demo app's roles, as its connection verified them.
	var rows []statusRow
	if r := runStarter(t, cfg, "", "status", "--tenant", "demo", "--json"); json.Unmarshal([]byte(r.stdout), &rows) != nil || len(rows) != 1 {
		t.Fatalf("status --json: %s%s", r.stdout, r.stderr)
	}
	granted := rows[0].Granted
	if !app.GrantKnown || !slices.Equal(app.Granted, granted) {
		t.Fatalf("scopes' grant = %v (known %v: %s), the connection's = %v", app.Granted, app.GrantKnown, app.GrantUnknown, granted)
	}
	needed, _ := expectedLeast(appOps, false)
	if want := lackingPer8(needed, granted); !slices.Equal(app.Lacking, want) {
		t.Errorf("lacking = %v, §8 says %v (needed %v, granted %v)", app.Lacking, want, needed, granted)
	}
	// Beyond need: every granted permission no operation in use allows;
	// never one the tenant needs.
	used := map[string]bool{}
	for _, op := range appOps {
		for _, p := range leastPrivilege[op].app {
			used[p] = true
		}
	}
	beyond := map[string]bool{}
	for _, e := range app.Beyond {
		beyond[e.Permission] = true
		if slices.Contains(needed, e.Permission) {
			t.Errorf("%s is needed but reported beyond need: %s", e.Permission, e.Reason)
		}
	}
	for _, g := range granted {
		if !used[g] && !beyond[g] {
			t.Errorf("%s is granted, no operation in use needs it (§8), but scopes does not report it beyond need: %+v", g, app.Beyond)
		}
	}
	loaded, err := config.Load(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	ten := loaded.Tenants[0]
	if want := strings.TrimRight(loaded.Cloud.AuthorityHost, "/") + "/" + ten.TenantID + "/adminconsent?client_id=" + ten.ClientID; app.AdminConsentURL != want {
		t.Errorf("admin-consent URL = %s, want %s", app.AdminConsentURL, want)
	}

	rewrite(t, cfg, "    authMode: delegated\n", "")
	table := runStarter(t, cfg, "", "scopes", "--tenant", "demo")
	t.Logf("scopes --tenant demo:\n%s%s", table.stdout, table.stderr)
	lines := [][]string{{"PERMISSION", "GRANT", "NEEDED BY"}, {"User.Read.All", "granted", "feature directory"}, {"Admin consent: " + app.AdminConsentURL}}
	for _, l := range app.Lacking {
		lines = append(lines, []string{l, "LACKING", "recipe "})
	}
	for _, e := range app.Beyond {
		lines = append(lines, []string{e.Permission, e.Reason})
	}
	for _, want := range lines {
		if !hasLine(table.stdout, want...) {
			t.Errorf("scopes table has no line with %q", want)
		}
	}
}

// lackingPer8 is what of needed (application permissions) granted does
// not cover, by §8's higher alternatives.
func lackingPer8(needed, granted []string) []string {
	var out []string
	for _, p := range needed {
		covered := slices.Contains(granted, p)
		for _, e := range leastPrivilege {
			if len(e.app) > 0 && e.app[0] == p {
				for _, higher := range e.app[1:] {
					covered = covered || slices.Contains(granted, higher)
				}
			}
		}
		if !covered {
			out = append(out, p)
		}
	}
	return out
}

// hasLine reports whether one line of text holds every part, in order.
func hasLine(text string, parts ...string) bool {
	for _, line := range strings.Split(text, "\n") {
		rest, ok := line, true
		for _, p := range parts {
			i := strings.Index(rest, p)
			if i < 0 {
				ok = false
				break
			}
			rest = rest[i+len(p):]
		}
		if ok {
			return true
		}
	}
	return false
}
