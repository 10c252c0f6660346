package integration

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/outlookflow/outlookflow/graphsim"
	"github.com/outlookflow/outlookflow/internal/permissions"
	"github.com/outlookflow/outlookflow/recipe"
	"github.com/outlookflow/outlookflow/workflows/mailsync"
	"github.com/outlookflow/outlookflow/workflows/reciperun"
	"github.com/outlookflow/outlookflow/workflows/tenant"
)

// examplesDir holds the example recipes the README points to and the demo
// loads (make demo).
const examplesDir = "../../recipes/examples"

// exampleRoles are what the example recipes need app-only (see
// `starter scopes`): the sync's reads, writing mail and calendars, sending.
var exampleRoles = []string{"User.Read.All", "GroupMember.Read.All", "Mail.ReadWrite", "Mail.Send", "Calendars.ReadWrite"}

// The shipped examples, each driven by its trigger on the demo tenant
// (the demo's people and groups): the files are used as they are, except
// that the tenant key is the test's and vip-escalate's two-day wait is
// eight seconds. flagged-to-teams needs delegated auth (Graph has no
// application permission to post channel messages): on an app-only
// tenant it is refused with that reason, which is what the demo shows.
func TestRecipeExamplesRunAsDocumented(t *testing.T) {
	t.Parallel()
	seed, creds := graphsim.DemoTenant()
	seed.Apps[0].GrantedRoles = exampleRoles
	// A leadership meeting 15 minutes and 40 seconds from now: the
	// reminder goes out in about 40 seconds.
	meetingStart := time.Now().UTC().Add(15*time.Minute + 40*time.Second).Truncate(time.Second)
	seed.Events = append(seed.Events, graphsim.EventSeed{Organizer: "adele.vance@contoso.example", Subject: "Pipeline review",
		Start: meetingStart, End: meetingStart.Add(30 * time.Minute), IsOnlineMeeting: true, TimeZone: "UTC",
		Attendees: []graphsim.EventAttendeeSeed{{Address: "alex.wilber@contoso.example", Response: "none"}}})
	h := newWorldFromSeed(t, seed, creds.ClientSecret,
		[]string{permissions.FeatureDirectory, permissions.FeatureGroups, permissions.FeatureMail, permissions.FeatureCalendar}, time.Hour, randomKey(t))

	files, err := filepath.Glob(filepath.Join(examplesDir, "*.yaml"))
	if err != nil || len(files) != 6 {
		t.Fatalf("want the 6 documented examples in %s, found %v (%v)", examplesDir, files, err)
	}
	dir := t.TempDir()
	for _, f := range files {
		body, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		s := strings.Replace(string(body), "tenant: demo", "tenant: "+h.key, 1)
		s = strings.Replace(s, "for: 2d", "for: 8s", 1)
		writeFile(t, filepath.Join(dir, filepath.Base(f)), s)
	}
	h.cfg.Recipes.Dir = dir
	// What the worker refuses: only flagged-to-teams, for its auth mode.
	valid, diags := recipe.LoadDir(dir, recipe.Options{Tenants: map[string]recipe.Grant{h.key: {}}})
	if len(valid) != 5 || len(diags) != 1 || !strings.Contains(diags[0].Error(), "flagged-to-teams.yaml") || !strings.Contains(strings.ToLower(diags[0].Error()), "delegated") {
		t.Fatalf("app-only tenant: %d valid, refused %v; want 5 valid and flagged-to-teams refused as delegated-only", len(valid), diags)
	}
	w := h.startWorker()
	if w.Book.Get(h.key, "flagged-to-teams") != nil || len(w.Book.Tenant(h.key)) != 5 {
		t.Fatalf("the worker loaded %d recipes; want the 5 valid ones", len(w.Book.Tenant(h.key)))
	}
	h.connect()
	h.waitFor("Connected", time.Minute, func(v tenant.StatusView) bool { return v.Status == tenant.StatusConnected })
	h.settleFirstSync()

	const (
		adeleV = "adele.vance@contoso.example"
		meganB = "megan.bowen@contoso.example"
		alexW  = "alex.wilber@contoso.example"
		diegoS = "diego.siciliani@contoso.example"
		grady  = "grady.archie@contoso.example"
		johan  = "johanna.lorenz@contoso.example"
	)
	deliver := func(to, from, subject string) string {
		id, err := h.sim.DeliverMessage(h.tenant.TenantID, to, graphsim.MessageSeed{From: from, To: []string{to}, Subject: subject,
			BodyText: "Could you look at this?", ReceivedAt: time.Now().UTC(), Importance: "normal"})
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	vip := deliver(adeleV, meganB, "Board pack")
	ask := deliver(alexW, diegoS, "Meeting request: budget")
	news := deliver(grady, "news@fabrikam.example", "Fabrikam weekly update")
	h.syncRun(mailsync.Input{})

	// meeting-request: a Teams meeting a day later, and a reply with its link.
	if res, err := h.runResult(recipe.RunID(h.key, "meeting-request", ask, "new"), 2*time.Minute); err != nil || res.Status != reciperun.StatusCompleted {
		t.Fatalf("meeting-request: %+v, %v", res, err)
	}
	snap, err := h.sim.Snapshot(h.tenant.TenantID, time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	var joinURL string
	for _, ev := range snap.Mailboxes[h.userID(alexW)].Events {
		if ev.Subject == "Meeting request: budget" {
			if !ev.IsOnline || ev.JoinURL == "" || len(ev.Attendees) != 1 || !strings.EqualFold(ev.Attendees[0].Address.Address, diegoS) {
				t.Fatalf("meeting-request created %+v; want a Teams meeting with Diego", ev)
			}
			joinURL = ev.JoinURL
		}
	}
	if joinURL == "" {
		t.Fatal("meeting-request created no event in Alex's calendar")
	}
	replies := withSubject(h.mailbox(diegoS, "inbox"), "RE: Meeting request: budget")
	if len(replies) != 1 || !strings.Contains(replies[0].BodyText, joinURL) {
		t.Fatalf("meeting-request reply: %d, want 1 carrying the join URL %s", len(replies), joinURL)
	}

	// newsletters: filed in Newsletters, read.
	if res, err := h.runResult(recipe.RunID(h.key, "newsletters", news, "new"), 2*time.Minute); err != nil || res.Status != reciperun.StatusCompleted {
		t.Fatalf("newsletters: %+v, %v", res, err)
	}
	if got := withSubject(h.mailbox(grady, "inbox"), "Fabrikam weekly update"); len(got) != 0 {
		t.Fatal("newsletters left the newsletter in the inbox")
	}
	filed := withSubject(h.mailbox(grady, ""), "Fabrikam weekly update")
	if len(filed) != 1 || !filed[0].IsRead || filed[0].Folder == "inbox" {
		t.Fatalf("newsletters: %+v; want one read copy outside the inbox", filed)
	}

	// vip-escalate: an acknowledgement at once; no reply within the
	// (shortened) wait, so a forward to the deputy and a flag.
	if res, err := h.runResult(recipe.RunID(h.key, "vip-escalate", vip, "new"), 2*time.Minute); err != nil || res.Status != reciperun.StatusCompleted {
		t.Fatalf("vip-escalate: %+v, %v", res, err)
	}
	if got := withSubject(h.mailbox(meganB, "inbox"), "RE: Board pack"); len(got) != 1 {
		t.Fatalf("vip-escalate: Megan got %d acknowledgements; want 1", len(got))
	}
	if got := withSubject(h.mailbox(johan, "inbox"), "FW: Board pack"); len(got) != 1 {
		t.Fatalf("vip-escalate: Johanna got %d escalations; want 1", len(got))
	}
	if got := withSubject(h.mailbox(adeleV, "inbox"), "Board pack"); len(got) != 1 || got[0].FlagStatus != "flagged" {
		t.Fatalf("vip-escalate: the VIP message is %+v; want it flagged", got)
	}

	// meeting-reminder: the attendee is reminded 15 minutes ahead.
	deadline := time.Now().Add(2 * time.Minute)
	for len(withSubject(h.mailbox(alexW, "inbox"), "Starting in 15 minutes: Pipeline review")) == 0 && time.Now().Before(deadline) {
		time.Sleep(500 * time.Millisecond)
	}
	reminders := withSubject(h.mailbox(alexW, "inbox"), "Starting in 15 minutes: Pipeline review")
	if len(reminders) != 1 {
		t.Fatalf("meeting-reminder: Alex got %d reminders; want 1", len(reminders))
	}
	if early := time.Until(meetingStart) - 15*time.Minute; early > 2*time.Second {
		t.Fatalf("meeting-reminder went out %s before start−15m", early)
	}

	// daily-digest: a tick (as the 9:00 schedule would) mails Adele the
	// unanswered threads of the last day.
	ctx := context.Background()
	if err := h.client.ScheduleClient().GetHandle(ctx, reciperun.ScheduleID(h.key, "daily-digest")).Trigger(ctx, client.ScheduleTriggerOptions{}); err != nil {
		t.Fatalf("daily-digest has no schedule to trigger: %v", err)
	}
	deadline = time.Now().Add(2 * time.Minute)
	var digests []graphsim.Message
	for time.Now().Before(deadline) {
		for _, m := range h.mailbox(adeleV, "inbox") {
			if strings.HasSuffix(m.Subject, "unanswered threads") {
				digests = append(digests, m)
			}
		}
		if len(digests) > 0 {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	if len(digests) != 1 {
		t.Fatalf("daily-digest: Adele got %d digests; want 1", len(digests))
	}
}
