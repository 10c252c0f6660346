package integration

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/outlookflow/outlookflow/graphsim"
	"github.com/outlookflow/outlookflow/internal/app"
	"github.com/outlookflow/outlookflow/recipe"
	"github.com/outlookflow/outlookflow/store"
	"github.com/outlookflow/outlookflow/workflows/mailsync"
	"github.com/outlookflow/outlookflow/workflows/reciperun"
	"github.com/outlookflow/outlookflow/workflows/tenant"
	"github.com/outlookflow/outlookflow/workflows/user"
)

// The team and channel the flagged-to-teams example posts to.
const (
	followUpTeam    = "7d1b5b2e-0000-4000-8000-000000000001"
	followUpChannel = "19:followups@thread.tacv2"
)

// flaggedToTeamsFor is the shipped example as it is, for this test's
// tenant and the given watched user.
func flaggedToTeamsFor(t *testing.T, name, upn string) string {
	t.Helper()
	body, err := os.ReadFile(filepath.Join(examplesDir, "flagged-to-teams.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	s := strings.Replace(string(body), "tenant: demo", "tenant: {{TENANT}}", 1)
	s = strings.Replace(s, "name: flagged-to-teams", "name: "+name, 1)
	return strings.Replace(s, "adele.vance@contoso.example", upn, 1)
}

// flaggedRuns waits until the recipe has n runs in the store and returns
// them; more than n fails.
func (d *delegatedHarness) flaggedRuns(st store.Store, name string, n int) []store.RecipeRun {
	d.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		runs, err := st.Runs(context.Background(), d.key, name, 100)
		if err != nil {
			d.t.Fatal(err)
		}
		if len(runs) > n {
			d.t.Fatalf("recipe %s has %d runs, want %d", name, len(runs), n)
		}
		if len(runs) == n {
			return runs
		}
		if time.Now().After(deadline) {
			d.t.Fatalf("recipe %s has %d runs after 30s, want %d", name, len(runs), n)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (d *delegatedHarness) channelPosts(containing string) []graphsim.ChannelMessage {
	d.t.Helper()
	msgs, err := d.sim.ChannelMessages(d.tenant.TenantID, followUpTeam, followUpChannel)
	if err != nil {
		d.t.Fatal(err)
	}
	var out []graphsim.ChannelMessage
	for _, m := range msgs {
		if strings.Contains(m.Content, containing) {
			out = append(out, m)
		}
	}
	return out
}

// TestDelegatedFlaggedToTeamsExamplePostsOnceThroughALostResponse runs the
// shipped flagged-to-teams example on a delegated tenant: a flagged
// message is posted to the channel as the mailbox's user, once. Then the
// crash window: Graph commits the post and the response is lost. Adele's
// organisation granted ChannelMessage.Read.All, so the retry finds the post
// in the channel and the run completes; Megan's token can only send, so
// her retry cannot check and fails the run with the reason rather than
// post a second time. Either way the channel holds exactly one post per
// flagged message.
func TestDelegatedFlaggedToTeamsExamplePostsOnceThroughALostResponse(t *testing.T) {
	adele, megan := "adele@contoso.example", "megan@contoso.example"
	d := newDelegatedHarnessWith(t, []string{"mail"}, map[string]string{
		"adele.yaml": flaggedToTeamsFor(t, "flagged-to-teams", adele),
		"megan.yaml": flaggedToTeamsFor(t, "flagged-to-teams-megan", megan),
	})
	adeleID, meganID := d.tenant.Users[0].ID, d.tenant.Users[1].ID
	if _, err := d.sim.CreateTeam(d.tenant.TenantID, graphsim.TeamSeed{ID: followUpTeam, DisplayName: "Sales", Owners: []string{adele},
		Members: []string{megan}, Channels: []graphsim.ChannelSeed{{ID: followUpChannel, DisplayName: "Follow-ups"}}}); err != nil {
		t.Fatal(err)
	}
	// An administrator consented to reading channel messages for Adele
	// (ChannelMessage.Read.All needs admin consent); Megan consents only to
	// what the recipes need.
	if err := d.sim.GrantUserConsent(d.tenant.TenantID, d.clientID(), adele, []string{"ChannelMessage.Read.All"}); err != nil {
		t.Fatal(err)
	}
	d.connect()
	d.connectByDeviceCode(adele, adeleID)
	d.connectByDeviceCode(megan, meganID)
	for _, id := range []string{adeleID, meganID} {
		if v := d.userStatus(id); !slices.Contains(v.Scopes, "ChannelMessage.Send") {
			t.Fatalf("the sign-in did not ask for the recipe's ChannelMessage.Send: %v", v.Scopes)
		}
	}
	if v := d.userStatus(meganID); slices.Contains(v.Scopes, "ChannelMessage.Read.All") {
		t.Fatalf("Megan holds ChannelMessage.Read.All, which nobody asked for: %v", v.Scopes)
	}
	waitConnectedCount(t, d, 2)
	d.waitNoSyncRunning()
	d.syncRun(mailsync.Input{}) // the baseline
	st := d.openStore()
	flag := func(user, id string) {
		t.Helper()
		flagged := "flagged"
		if err := d.sim.UpdateMessage(d.tenant.TenantID, user, id, graphsim.MessageUpdate{FlagStatus: &flagged}); err != nil {
			t.Fatal(err)
		}
	}

	// A flagged message, posted once as Adele.
	first := d.deliver(adeleID, megan, "Contract renewal")
	d.syncRun(mailsync.Input{})
	flag(adeleID, first)
	d.syncRun(mailsync.Input{})
	run := d.flaggedRuns(st, "flagged-to-teams", 1)[0]
	d.completedRun(run.RunID, "post=posted")
	posts := d.channelPosts("Contract renewal")
	if len(posts) != 1 || posts[0].FromUserID != adeleID || posts[0].ContentType != "html" ||
		posts[0].Content != "<b>Follow up:</b> Contract renewal (from Megan Bowen)" {
		t.Fatalf("channel posts %+v; want one HTML post from Adele", posts)
	}
	d.syncRun(mailsync.Input{}) // another cycle fires nothing new
	d.flaggedRuns(st, "flagged-to-teams", 1)

	// The crash window with a way to check: the retry reads the channel.
	fault := d.sim.InjectFault(graphsim.Fault{Method: "POST", Path: "/v1.0/teams/" + followUpTeam + "/channels/", DropResponse: true, Count: 1})
	second := d.deliver(adeleID, megan, "Renewal <terms> & pricing")
	d.syncRun(mailsync.Input{})
	flag(adeleID, second)
	d.syncRun(mailsync.Input{})
	runs := d.flaggedRuns(st, "flagged-to-teams", 2)
	var secondRun string
	for _, r := range runs {
		if r.ItemID == second {
			secondRun = r.RunID
		}
	}
	d.completedRun(secondRun, "post=already posted (found in the channel)")
	if !faultApplied(d.sim, fault) {
		t.Fatalf("the dropped-response fault was never hit")
	}
	posts = d.channelPosts("Renewal")
	if len(posts) != 1 || posts[0].Content != "<b>Follow up:</b> Renewal &lt;terms&gt; &amp; pricing (from Megan Bowen)" {
		t.Fatalf("after the lost response the channel holds %+v; want the one post, its subject HTML-escaped", posts)
	}

	// The crash window without a way to check: Megan's token may post but
	// not read, so her retry fails the run instead of posting again.
	fault = d.sim.InjectFault(graphsim.Fault{Method: "POST", Path: "/v1.0/teams/" + followUpTeam + "/channels/", DropResponse: true, Count: 1})
	third := d.deliver(meganID, adele, "Quarterly numbers")
	d.syncRun(mailsync.Input{})
	flag(meganID, third)
	d.syncRun(mailsync.Input{})
	meganRun := d.flaggedRuns(st, "flagged-to-teams-megan", 1)[0]
	if _, err := d.runResult(meganRun.RunID, 2*time.Minute); err == nil {
		t.Fatalf("Megan's run completed after a lost response it could not check")
	}
	// What the operator reads in the Web UI and in `recipes why` (both
	// show the run's state).
	if state := d.waitRunStatus(meganRun.RunID, reciperun.StatusFailed, 10*time.Second); !strings.Contains(state.Reason, "ChannelMessage.Read.All") ||
		!strings.Contains(state.Reason, "not posting twice") {
		t.Fatalf("Megan's run failed with %q; want the reason naming the permission that would let it check", state.Reason)
	}
	if !faultApplied(d.sim, fault) {
		t.Fatalf("the dropped-response fault was never hit")
	}
	if posts := d.channelPosts("Quarterly numbers"); len(posts) != 1 || posts[0].FromUserID != meganID {
		t.Fatalf("channel posts for Megan's message: %+v; want exactly the one Graph committed", posts)
	}
}

// faultApplied reports whether a fault was applied at least once (a fault
// with a Count is removed once used up).
func faultApplied(sim *graphsim.Server, id string) bool {
	for _, r := range sim.Requests() {
		if r.FaultID == id {
			return true
		}
	}
	return false
}

// TestDelegatedMeetingRequestFindsAFreeTimeAndBooksIt runs findMeetingTimes
// through Temporal as the signed-in user: mail asking to meet → Graph
// suggests a time when the sender is free (their calendar is busy for the
// next day) → a Teams meeting is booked then → the sender gets a reply with
// the time and join link.
func TestDelegatedMeetingRequestFindsAFreeTimeAndBooksIt(t *testing.T) {
	d := newDelegatedHarnessWith(t, []string{"mail"}, map[string]string{"meet.yaml": `name: book-meeting
tenant: {{TENANT}}
mailboxes:
  all: true
trigger:
  newMail:
    subjectContains: ["can we meet"]
steps:
  - id: times
    findMeetingTimes:
      attendees: ["{{ mail.from }}"]
      duration: 30m
      within: 5d
  - id: found
    if: steps.times.found
    then:
      - id: meeting
        createEvent:
          subject: "{{ mail.subject }}"
          start: "{{ steps.times.start }}"
          duration: 30m
          attendees: ["{{ mail.from }}"]
          isOnlineMeeting: true
      - id: answer
        reply:
          body: "Booked for {{ steps.times.start }}. Join: {{ steps.meeting.joinUrl }}"
`})
	adele, megan := d.tenant.Users[0], d.tenant.Users[1]
	// Megan is busy for the next 26 hours: a free slot comes after that.
	busyUntil := time.Now().UTC().Add(26 * time.Hour).Truncate(time.Hour)
	if _, err := d.sim.CreateEvent(d.tenant.TenantID, graphsim.EventSeed{Organizer: megan.UserPrincipalName, Subject: "Offsite",
		Start: time.Now().UTC().Add(-time.Hour).Truncate(time.Hour), End: busyUntil}); err != nil {
		t.Fatal(err)
	}
	d.connect()
	d.connectByDeviceCode(adele.UserPrincipalName, adele.ID)
	waitConnectedCount(t, d, 1)
	d.waitNoSyncRunning()
	d.syncRun(mailsync.Input{})

	asked := time.Now().UTC()
	msg := d.deliver(adele.ID, megan.Mail, "Can we meet about the budget?")
	d.syncRun(mailsync.Input{})
	d.completedRun(recipe.RunID(d.key, "book-meeting", msg, "new"), "times=found 5 times found=true meeting=created answer=sent")

	var booked *graphsim.EventSnapshot
	snap := d.snapshot()
	for i, e := range d.mailboxOf(snap, adele.UserPrincipalName).Events {
		if e.Subject == "Can we meet about the budget?" {
			booked = &d.mailboxOf(snap, adele.UserPrincipalName).Events[i]
		}
	}
	if booked == nil || !booked.IsOnline || booked.JoinURL == "" {
		t.Fatalf("no Teams meeting booked in Adele's calendar: %+v", booked)
	}
	if booked.Start.Before(busyUntil) || booked.Start.After(asked.Add(5*24*time.Hour)) || booked.End.Sub(booked.Start) != 30*time.Minute {
		t.Fatalf("booked %s–%s; want 30 minutes after Megan's busy day (%s) and within 5 days", booked.Start, booked.End, busyUntil)
	}
	replies := withSubject(d.mailbox(megan.ID, "inbox"), "RE: Can we meet about the budget?")
	one(t, "the reply in Megan's inbox", replies)
	if !strings.Contains(replies[0].BodyText, booked.JoinURL) || !strings.Contains(replies[0].BodyText, booked.Start.Format("2006-01-02T15:04")) {
		t.Fatalf("the reply %q does not give the booked time and join link %s", replies[0].BodyText, booked.JoinURL)
	}
}

// TestDelegatedUserShowsMissingScopesWhenARecipeNeedingMoreIsEnabled: an
// operator enables a recipe (a switch, as `starter recipes enable` sets)
// whose reply needs Mail.Send, which the signed-in user never consented
// to. Their connection shows MissingScopes at once, naming it, and the
// tenant says users need attention; meanwhile the user's mailbox is still
// synced and the recipes they consented for still act as them. Signing in
// again asks for the switched-on recipe's needs too, and they are
// Connected.
func TestDelegatedUserShowsMissingScopesWhenARecipeNeedingMoreIsEnabled(t *testing.T) {
	d := newDelegatedHarnessWith(t, []string{"mail"}, map[string]string{
		"read.yaml": `name: read-reports
tenant: {{TENANT}}
mailboxes: {all: true}
trigger:
  newMail: {subjectContains: [report]}
steps:
  - id: read
    markRead: {}
`,
		"ack.yaml": `name: ack
tenant: {{TENANT}}
enabled: false
mailboxes: {all: true}
trigger:
  newMail: {subjectContains: [urgent]}
steps:
  - id: ack
    reply: {body: "On it."}
`})
	adele, megan := d.tenant.Users[0], d.tenant.Users[1]
	d.connect()
	d.connectByDeviceCode(adele.UserPrincipalName, adele.ID)
	if v := d.userStatus(adele.ID); slices.Contains(v.Scopes, "Mail.Send") || !slices.Contains(v.Scopes, "Mail.ReadWrite") {
		t.Fatalf("Adele's consent before the switch: %v; want Mail.ReadWrite (read-reports) and no Mail.Send (ack is off)", v.Scopes)
	}
	waitConnectedCount(t, d, 1)
	d.waitNoSyncRunning()
	d.syncRun(mailsync.Input{})

	// The operator turns ack on, as starter recipes enable does.
	st := d.openStore()
	if err := st.SetRecipeEnabled(context.Background(), d.key, "ack", true); err != nil {
		t.Fatal(err)
	}
	recipes, diags := app.LoadRecipes(d.cfg)
	if len(diags) > 0 {
		t.Fatal(diags)
	}
	tc := d.cfg.Tenants[0]
	if err := app.SignalRecipeNeeds(context.Background(), d.client, tc, app.EnabledRecipeNeeds(recipes, d.switches(), true)); err != nil {
		t.Fatal(err)
	}
	v := d.waitUser(adele.ID, "MissingScopes", func(v user.StatusView) bool { return v.Status == user.StatusMissingScopes })
	if !slices.Equal(v.Missing, []string{"Mail.Send"}) || !strings.Contains(v.Detail, "Mail.Send") {
		t.Fatalf("after enabling ack: missing %v, detail %q; want Mail.Send named", v.Missing, v.Detail)
	}
	d.waitFor("UsersNeedAttention", 30*time.Second, func(v tenant.StatusView) bool { return v.Status == tenant.StatusUsersNeedAttention })

	// Still synced, and still acting as Adele where she consented.
	msg := d.deliver(adele.ID, megan.Mail, "Monthly report")
	d.syncRun(mailsync.Input{})
	d.completedRun(recipe.RunID(d.key, "read-reports", msg, "new"), "read=done")
	if m := findMessage(t, d.mailbox(adele.ID, ""), msg); !m.IsRead {
		t.Fatalf("read-reports did not act for a user missing only another recipe's scope")
	}

	// Signing in again consents to what ack needs.
	d.connectByDeviceCode(adele.UserPrincipalName, adele.ID)
	v = d.waitUser(adele.ID, "Connected with Mail.Send", func(v user.StatusView) bool {
		return v.Status == user.StatusConnected && slices.Contains(v.Scopes, "Mail.Send")
	})
	if len(v.Missing) != 0 {
		t.Fatalf("after signing in again: %+v", v)
	}
}
