package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/outlookflow/outlookflow/activities"
	"github.com/outlookflow/outlookflow/config"
	"github.com/outlookflow/outlookflow/graphsim"
	"github.com/outlookflow/outlookflow/internal/app"
	"github.com/outlookflow/outlookflow/internal/permissions"
	"github.com/outlookflow/outlookflow/recipe"
	"github.com/outlookflow/outlookflow/workflows/mailsync"
	"github.com/outlookflow/outlookflow/workflows/reciperun"
	"github.com/outlookflow/outlookflow/workflows/tenant"
)

// Every action a recipe can run app-only, each asserted by its effect on
// the simulator's state (its control API, or Graph itself where only
// Graph shows a field), through a real worker on the dev server.

const (
	alex  = "alex@contoso.example"
	diego = "diego@contoso.example"
)

// actionRoles are what the app holds for every app-only action.
var actionRoles = []string{"User.Read.All", "Mail.ReadWrite", "Mail.Send", "Calendars.ReadWrite", "Contacts.ReadWrite",
	"MailboxSettings.ReadWrite", "OnlineMeetings.ReadWrite.All"}

// newActionHarness is newRecipeHarness with four people (Adele, Megan,
// Alex, Diego), the mail and calendar syncs, and a hook to change the
// configuration before the worker starts.
func newActionHarness(t *testing.T, recipes map[string]string, configure func(*config.Config)) *harness {
	t.Helper()
	secret := "sim~" + randomHex(t, 20)
	seed := graphsim.TenantSeed{TenantID: guid(t), DisplayName: testDisplayName, Domain: "contoso.example",
		Apps: []graphsim.AppSeed{{ClientID: guid(t), DisplayName: "outlookflow", Secrets: []graphsim.SecretSeed{{Value: secret}}, GrantedRoles: actionRoles}},
		Users: []graphsim.UserSeed{
			{ID: guid(t), DisplayName: "Adele Vance", Mail: adele, UserPrincipalName: adele},
			{ID: guid(t), DisplayName: "Megan Bowen", Mail: megan, UserPrincipalName: megan},
			{ID: guid(t), DisplayName: "Alex Wilber", Mail: alex, UserPrincipalName: alex},
			{ID: guid(t), DisplayName: "Diego Siciliani", Mail: diego, UserPrincipalName: diego},
		}}
	h := newWorldFromSeed(t, seed, secret, []string{permissions.FeatureMail, permissions.FeatureCalendar}, time.Hour, randomKey(t))
	dir := t.TempDir()
	for name, body := range recipes {
		writeFile(t, filepath.Join(dir, name), strings.ReplaceAll(body, "{{TENANT}}", h.key))
	}
	h.cfg.Recipes.Dir = dir
	if configure != nil {
		configure(h.cfg)
	}
	if _, diags := app.LoadRecipes(h.cfg); len(diags) > 0 {
		t.Fatalf("the test's recipes are refused: %v", diags)
	}
	h.startWorker()
	h.connect()
	h.waitFor("Connected", time.Minute, func(v tenant.StatusView) bool { return v.Status == tenant.StatusConnected })
	h.settleFirstSync()
	return h
}

// completedRun waits for a run and fails unless it completed with the
// given step outcomes.
func (h *harness) completedRun(runID, wantOutcomes string) {
	h.t.Helper()
	res, err := h.runResult(runID, 2*time.Minute)
	if err != nil {
		h.t.Fatalf("run %s: %v", runID, err)
	}
	if res.Status != reciperun.StatusCompleted || outcomes(res) != wantOutcomes {
		h.t.Fatalf("run %s ended %s with steps\n %s\nwant\n %s", runID, res.Status, outcomes(res), wantOutcomes)
	}
}

// graphGet reads a resource from the simulator through outlookflow's own
// Graph client, for the fields the control API does not show.
func (h *harness) graphGet(path string, out any) {
	h.t.Helper()
	h.graphCall(http.MethodGet, path, nil, out)
}

// graphCall sends a request to the simulator through outlookflow's own
// Graph client as the tenant's app.
func (h *harness) graphCall(method, path string, body, out any) {
	h.t.Helper()
	g, err := app.NewGraphClient(h.cfg.Cloud)
	if err != nil {
		h.t.Fatal(err)
	}
	creds := activities.Credentials{TenantID: h.tenant.TenantID, ClientID: h.clientID(), ClientSecret: h.secret, AuthMode: activities.AuthAppOnly}
	if err := g.Call(context.Background(), creds, "", method, path, body, out); err != nil {
		h.t.Fatalf("%s %s: %v", method, path, err)
	}
}

func (h *harness) snapshot() *graphsim.TenantSnapshot {
	h.t.Helper()
	snap, err := h.sim.Snapshot(h.tenant.TenantID, time.Time{}, time.Time{})
	if err != nil {
		h.t.Fatal(err)
	}
	return snap
}

func (h *harness) mailboxOf(snap *graphsim.TenantSnapshot, upn string) *graphsim.MailboxSnapshot {
	h.t.Helper()
	mb := snap.Mailboxes[h.userID(upn)]
	if mb == nil {
		h.t.Fatalf("no mailbox for %s in the snapshot", upn)
	}
	return mb
}

func folderNamed(mb *graphsim.MailboxSnapshot, name string) (graphsim.FolderSnapshot, bool) {
	for _, f := range mb.Folders {
		if f.DisplayName == name || f.WellKnownName == name {
			return f, true
		}
	}
	return graphsim.FolderSnapshot{}, false
}

func messagesIn(mb *graphsim.MailboxSnapshot, folderID, subject string) []graphsim.MessageSnapshot {
	var out []graphsim.MessageSnapshot
	for _, m := range mb.Messages {
		if m.FolderID == folderID && m.Subject == subject {
			out = append(out, m)
		}
	}
	return out
}

func addressesOf(as []graphsim.Address) []string {
	var out []string
	for _, a := range as {
		out = append(out, a.Address)
	}
	return out
}

// one fails unless items holds exactly one item and returns it.
func one[T any](t *testing.T, what string, items []T) T {
	t.Helper()
	if len(items) != 1 {
		t.Fatalf("%s: %d found, want exactly 1", what, len(items))
	}
	return items[0]
}

const mailActionsRecipe = `name: mail-actions
tenant: {{TENANT}}
mailboxes:
  users: [adele@contoso.example]
trigger:
  newMail:
    from: [megan@contoso.example]
    subjectContains: [mail actions]
steps:
  - id: announce
    send:
      to: megan@contoso.example
      cc: alex@contoso.example
      bcc: diego@contoso.example
      replyTo: alex@contoso.example
      subject: "Announce: {{ mail.subject }}"
      body: "<p>Hello <b>{{ mail.fromName }}</b></p>"
      bodyType: html
      importance: high
  - id: draft
    createDraft:
      to: megan@contoso.example
      subject: "Draft: {{ mail.subject }}"
      body: not sent
  - id: ack
    reply: {body: "Thanks, noted."}
  - id: ackAll
    replyAll: {body: "Thanks, all."}
  - id: fwd
    forward: {to: diego@contoso.example, body: FYI}
  - id: dup
    copy: {folder: archive}
  - id: projects
    createFolder: {name: Projects}
  - id: file
    move: {folder: "{{ steps.projects.folderId }}"}
  - id: read
    markRead: {messageId: "{{ steps.file.messageId }}"}
  - id: flagIt
    flag: {messageId: "{{ steps.file.messageId }}", dueIn: 2d}
  - id: tag
    setCategories: {messageId: "{{ steps.file.messageId }}", categories: [Blue, Red]}
  - id: untag
    setCategories: {messageId: "{{ steps.file.messageId }}", categories: [Red], mode: remove}
  - id: readCopy
    markRead: {messageId: "{{ steps.dup.messageId }}"}
  - id: unreadCopy
    markUnread: {messageId: "{{ steps.dup.messageId }}"}
  - id: flagCopy
    flag: {messageId: "{{ steps.dup.messageId }}"}
  - id: unflagCopy
    unflag: {messageId: "{{ steps.dup.messageId }}"}
  - id: scratch
    createDraft: {subject: "Scratch: {{ mail.subject }}", body: to delete}
  - id: discard
    delete: {messageId: "{{ steps.scratch.messageId }}"}
`

// Each mail action of one run leaves its effect in the simulator: the sent
// message with its cc, bcc, replyTo, importance and HTML body in every
// recipient's inbox and Adele's Sent Items; the draft; the reply, the
// reply-all and the forward; the copy, the new folder, the message moved
// there; read, flag and category changes (and their undoing) on the moved
// message and the copy; the deleted draft gone.
func TestRecipeMailActionsEachLeaveTheirEffectInGraph(t *testing.T) {
	h := newActionHarness(t, map[string]string{"mail.yaml": mailActionsRecipe}, nil)
	const subject = "mail actions 1"
	hit, err := h.sim.DeliverMessage(h.tenant.TenantID, adele, graphsim.MessageSeed{From: megan, To: []string{adele, alex}, Subject: subject,
		BodyText: "Please look.", ReceivedAt: time.Now().UTC()})
	if err != nil {
		t.Fatal(err)
	}
	h.syncRun(mailsync.Input{})
	h.completedRun(recipe.RunID(h.key, "mail-actions", hit, "new"), "announce=sent draft=draft created ack=sent ackAll=sent fwd=sent dup=copied "+
		"projects=created file=moved read=done flagIt=done tag=done untag=done readCopy=done unreadCopy=done flagCopy=done "+
		"unflagCopy=done scratch=draft created discard=deleted")

	snap := h.snapshot()
	adeleMB, meganMB := h.mailboxOf(snap, adele), h.mailboxOf(snap, megan)
	inbox := func(mb *graphsim.MailboxSnapshot) string { f, _ := folderNamed(mb, "inbox"); return f.ID }

	// send: to, cc, bcc, replyTo, importance, HTML.
	announce := "Announce: " + subject
	got := one(t, "the announcement in Megan's inbox", messagesIn(meganMB, inbox(meganMB), announce))
	if got.Importance != "high" || !slices.Equal(addressesOf(got.Cc), []string{alex}) || len(got.Bcc) != 0 {
		t.Fatalf("Megan's copy: importance %s, cc %v, bcc %v; want high, [alex], none visible", got.Importance, addressesOf(got.Cc), addressesOf(got.Bcc))
	}
	var wire struct {
		ReplyTo []struct{ EmailAddress struct{ Address string } } `json:"replyTo"`
		Body    struct{ ContentType, Content string }             `json:"body"`
	}
	h.graphGet("/users/"+h.userID(megan)+"/messages/"+got.ID+"?$select=replyTo,body", &wire)
	if len(wire.ReplyTo) != 1 || wire.ReplyTo[0].EmailAddress.Address != alex || wire.Body.ContentType != "html" ||
		!strings.Contains(wire.Body.Content, "<p>Hello <b>Megan Bowen</b></p>") {
		t.Fatalf("Megan's copy on the wire: replyTo %+v, body %+v; want alex and the HTML body", wire.ReplyTo, wire.Body)
	}
	one(t, "the announcement in Alex's inbox (cc)", messagesIn(h.mailboxOf(snap, alex), inbox(h.mailboxOf(snap, alex)), announce))
	one(t, "the announcement in Diego's inbox (bcc)", messagesIn(h.mailboxOf(snap, diego), inbox(h.mailboxOf(snap, diego)), announce))
	sentItems, _ := folderNamed(adeleMB, "sentitems")
	if sent := one(t, "the announcement in Adele's Sent Items", messagesIn(adeleMB, sentItems.ID, announce)); !slices.Equal(addressesOf(sent.Bcc), []string{diego}) {
		t.Fatalf("Adele's sent copy has bcc %v, want [diego]", addressesOf(sent.Bcc))
	}

	// createDraft: in Adele's Drafts, sent to nobody.
	drafts, _ := folderNamed(adeleMB, "drafts")
	if d := one(t, "the draft", messagesIn(adeleMB, drafts.ID, "Draft: "+subject)); !d.IsDraft {
		t.Fatalf("the draft is not a draft: %+v", d)
	}
	if n := len(messagesIn(meganMB, inbox(meganMB), "Draft: "+subject)); n != 0 {
		t.Fatalf("the draft reached Megan %d times", n)
	}

	// reply and replyAll reach Megan, replyAll also Alex; forward reaches Diego.
	if n := len(messagesIn(meganMB, inbox(meganMB), "RE: "+subject)); n != 2 {
		t.Fatalf("Megan's inbox holds %d replies, want 2 (reply and reply-all)", n)
	}
	one(t, "the reply-all in Alex's inbox", messagesIn(h.mailboxOf(snap, alex), inbox(h.mailboxOf(snap, alex)), "RE: "+subject))
	one(t, "the forward in Diego's inbox", messagesIn(h.mailboxOf(snap, diego), inbox(h.mailboxOf(snap, diego)), "FW: "+subject))

	// copy, createFolder, move and the changes on each.
	archive, _ := folderNamed(adeleMB, "archive")
	copied := one(t, "the copy in Archive", messagesIn(adeleMB, archive.ID, subject))
	if copied.IsRead || copied.FlagStatus != "notFlagged" {
		t.Fatalf("the copy: read %v, flag %s; want unread and not flagged after being marked and flagged then undone", copied.IsRead, copied.FlagStatus)
	}
	projects, ok := folderNamed(adeleMB, "Projects")
	if !ok {
		t.Fatal("no Projects folder in Adele's mailbox")
	}
	moved := one(t, "the moved message in Projects", messagesIn(adeleMB, projects.ID, subject))
	if !moved.IsRead || moved.FlagStatus != "flagged" || !slices.Equal(moved.Categories, []string{"Blue"}) {
		t.Fatalf("the moved message: read %v, flag %s, categories %v; want read, flagged, [Blue]", moved.IsRead, moved.FlagStatus, moved.Categories)
	}
	if n := len(messagesIn(adeleMB, inbox(adeleMB), subject)); n != 0 {
		t.Fatalf("the message is still in the inbox (%d) after the move", n)
	}
	var flag struct {
		Flag struct {
			DueDateTime struct{ DateTime string } `json:"dueDateTime"`
		} `json:"flag"`
	}
	h.graphGet("/users/"+h.userID(adele)+"/messages/"+moved.ID+"?$select=flag", &flag)
	if flag.Flag.DueDateTime.DateTime == "" {
		t.Fatalf("the flag has no due date; dueIn: 2d should set one")
	}

	// delete: the scratch draft is gone from Drafts.
	if n := len(messagesIn(adeleMB, drafts.ID, "Scratch: "+subject)); n != 0 {
		t.Fatalf("the deleted draft is still in Drafts (%d)", n)
	}
}

const planRecipe = `name: plan
tenant: {{TENANT}}
mailboxes:
  users: [adele@contoso.example]
trigger:
  newMail:
    from: [megan@contoso.example]
    subjectContains: [plan]
steps:
  - id: kickoff
    createEvent:
      subject: "Kickoff {{ mail.subject }}"
      start: "{{ mail.receivedAt + duration('24h') }}"
      duration: 30m
      attendees: [megan@contoso.example]
      location: Room 1
      isOnlineMeeting: true
  - id: relocate
    updateEvent:
      eventId: "{{ steps.kickoff.eventId }}"
      location: Room 2
  - id: standup
    createEvent:
      subject: "Standup {{ mail.subject }}"
      start: "{{ mail.receivedAt + duration('48h') }}"
      duration: 15m
      attendees: [megan@contoso.example]
  - id: dropStandup
    cancelEvent: {eventId: "{{ steps.standup.eventId }}", comment: Not needed}
  - id: bridge
    createOnlineMeeting:
      subject: "Bridge {{ mail.subject }}"
      start: "{{ mail.receivedAt + duration('72h') }}"
      duration: 1h
  - id: card
    createContact: {displayName: "{{ mail.fromName }}", emails: ["{{ mail.from }}"], companyName: Contoso}
  - id: cardJob
    updateContact: {contactId: "{{ steps.card.contactId }}", jobTitle: Planner}
  - id: away
    setAutomaticReplies: {status: alwaysEnabled, externalAudience: none, internalMessage: Back soon}
  - id: raw
    graphRequest:
      method: POST
      path: "/users/{{ trigger.mailbox }}/mailFolders"
      body: '{"displayName": "Raw folder"}'
      permissions: {application: [Mail.ReadWrite], delegated: [Mail.ReadWrite]}
  - id: links
    send:
      to: megan@contoso.example
      subject: "Links {{ mail.subject }}"
      body: "Teams {{ steps.kickoff.joinUrl }} bridge {{ steps.bridge.joinUrl }} raw {{ steps.raw.status }}"
`

const acceptRecipe = `name: accept-kickoff
tenant: {{TENANT}}
mailboxes:
  users: [megan@contoso.example]
trigger:
  eventChanged:
    changeTypes: [created]
    subjectContains: [Kickoff]
steps:
  - id: accept
    respondToEvent: {response: accept, comment: See you}
`

const digestRecipe = `name: digest
tenant: {{TENANT}}
mailboxes:
  users: [adele@contoso.example]
trigger:
  newMail:
    from: [megan@contoso.example]
    subjectContains: [digest please]
steps:
  - id: threads
    summarize: {of: threads, since: 1h, unansweredOnly: true, includeBodies: true}
  - id: events
    summarize: {of: events, within: 7d}
  - id: remote
    summarize: {of: threads, since: 1h, summarizer: local}
  - id: mailIt
    send:
      to: megan@contoso.example
      subject: "Digest: {{ steps.threads.count }} threads, {{ steps.events.count }} events"
      body: "{{ steps.threads.summary }}\n===\n{{ steps.events.summary }}\n===\n{{ steps.remote.summary }}"
`

// chatCompletions is a local OpenAI-compatible endpoint for the worker's
// configured summarizer; it keeps the user messages it was sent.
type chatCompletions struct {
	mu    sync.Mutex
	users []string
}

func (c *chatCompletions) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Model    string
		Messages []struct{ Role, Content string }
	}
	raw, _ := io.ReadAll(r.Body)
	if r.URL.Path != "/v1/chat/completions" || json.Unmarshal(raw, &req) != nil || req.Model != "digest-model" || len(req.Messages) != 2 {
		http.Error(w, `{"error":{"message":"unexpected request"}}`, http.StatusBadRequest)
		return
	}
	c.mu.Lock()
	c.users = append(c.users, req.Messages[1].Content)
	c.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_, _ = io.WriteString(w, `{"choices":[{"message":{"role":"assistant","content":"MODEL DIGEST: answer Megan."},"finish_reason":"stop"}]}`)
}

// The calendar, meeting, contact, settings and raw-request actions leave
// their effect in the simulator; an attendee's recipe accepts the
// invitation it received; and a digest of threads and events (built-in,
// and from a configured chat endpoint) is mailed with what the mailbox
// holds.
func TestRecipeCalendarContactSettingsRawAndSummarizeActionsLeaveTheirEffectInGraph(t *testing.T) {
	chat := &chatCompletions{}
	endpoint := httptest.NewServer(chat)
	t.Cleanup(endpoint.Close)
	h := newActionHarness(t, map[string]string{"plan.yaml": planRecipe, "accept.yaml": acceptRecipe, "digest.yaml": digestRecipe},
		func(cfg *config.Config) {
			cfg.Recipes.Summarizers = []config.Summarizer{{Name: "local", URL: endpoint.URL + "/v1", Model: "digest-model"}}
		})
	if err := h.sim.GrantOnlineMeetingPolicy(h.tenant.TenantID, h.clientID(), adele); err != nil {
		t.Fatal(err)
	}

	planMail := h.deliver(adele, megan, "plan Q3")
	h.syncRun(mailsync.Input{})
	h.completedRun(recipe.RunID(h.key, "plan", planMail, "new"), "kickoff=created relocate=updated standup=created dropStandup=cancelled "+
		"bridge=created card=created cardJob=updated away=set raw=answered links=sent")

	// Megan's calendar now holds the invitation: her recipe accepts it.
	h.syncRun(mailsync.Input{})
	accepts := h.recipeRuns("accept-kickoff")
	if len(accepts) != 1 {
		t.Fatalf("accept-kickoff runs = %v, want one (for the Kickoff invitation)", accepts)
	}
	h.completedRun(accepts[0], "accept=accepted")

	snap := h.snapshot()
	adeleMB, meganMB := h.mailboxOf(snap, adele), h.mailboxOf(snap, megan)
	eventsNamed := func(mb *graphsim.MailboxSnapshot, subject string) []graphsim.EventSnapshot {
		var out []graphsim.EventSnapshot
		for _, e := range mb.Events {
			if e.Subject == subject {
				out = append(out, e)
			}
		}
		return out
	}
	kickoff := one(t, "Kickoff in Adele's calendar", eventsNamed(adeleMB, "Kickoff plan Q3"))
	if kickoff.Location != "Room 2" || !kickoff.IsOnline || kickoff.JoinURL == "" {
		t.Fatalf("Kickoff: location %q, online %v, join URL %q; want Room 2 and a Teams join URL", kickoff.Location, kickoff.IsOnline, kickoff.JoinURL)
	}
	if len(kickoff.Attendees) != 1 || kickoff.Attendees[0].Address.Address != megan || kickoff.Attendees[0].Response != "accepted" {
		t.Fatalf("Kickoff's attendees %+v, want Megan, accepted", kickoff.Attendees)
	}
	if n := len(eventsNamed(adeleMB, "Standup plan Q3")); n != 0 {
		t.Fatalf("the cancelled Standup is still in Adele's calendar (%d)", n)
	}
	// Exchange renames an attendee's cancelled copy.
	if st := one(t, "Standup in Megan's calendar", eventsNamed(meganMB, "Canceled: Standup plan Q3")); !st.IsCancelled {
		t.Fatalf("Megan's Standup is not cancelled")
	}
	meetings, err := h.sim.OnlineMeetings(h.tenant.TenantID, adele)
	if err != nil {
		t.Fatal(err)
	}
	bridge := one(t, "Adele's online meetings", meetings)
	if bridge.Subject != "Bridge plan Q3" || bridge.JoinWebURL == "" || bridge.End.Sub(bridge.Start) != time.Hour {
		t.Fatalf("online meeting %+v, want Bridge plan Q3, an hour, with a join URL", bridge)
	}
	contact := one(t, "Adele's contacts", adeleMB.Contacts)
	if contact.DisplayName != "Megan Bowen" || !slices.Equal(addressesOf(contact.Emails), []string{megan}) || contact.CompanyName != "Contoso" || contact.JobTitle != "Planner" {
		t.Fatalf("contact %+v, want Megan Bowen at Contoso, Planner", contact)
	}
	settings, err := h.sim.GetMailboxSettings(h.tenant.TenantID, adele)
	if err != nil {
		t.Fatal(err)
	}
	if ar := settings.AutomaticReplies; ar.Status != "alwaysEnabled" || ar.ExternalAudience != "none" || ar.InternalReplyMessage != "Back soon" {
		t.Fatalf("automatic replies %+v, want alwaysEnabled, none, Back soon", ar)
	}
	if _, ok := folderNamed(adeleMB, "Raw folder"); !ok {
		t.Fatal("the raw POST made no Raw folder")
	}
	links := one(t, "the links mail in Megan's inbox", withSubject(h.mailbox(megan, "inbox"), "Links plan Q3"))
	if want := fmt.Sprintf("Teams %s bridge %s raw 200", kickoff.JoinURL, bridge.JoinWebURL); links.BodyText != want {
		t.Fatalf("links mail body %q, want %q (the steps' outputs)", links.BodyText, want)
	}

	// The digest: Megan's question is unanswered; the events ahead include
	// the Kickoff.
	if _, err := h.sim.DeliverMessage(h.tenant.TenantID, adele, graphsim.MessageSeed{From: megan, To: []string{adele}, Subject: "Travel budget",
		BodyText:   "Hi Adele,\nCould you approve the Lisbon travel budget before Friday? The hotel holds the rooms until then.\n\nOn Mon, Megan wrote:\n> old quoted text",
		ReceivedAt: time.Now().UTC()}); err != nil {
		t.Fatal(err)
	}
	digestMail := h.deliver(adele, megan, "digest please")
	h.syncRun(mailsync.Input{})
	res, err := h.runResult(recipe.RunID(h.key, "digest", digestMail, "new"), 2*time.Minute)
	if err != nil {
		t.Fatalf("digest run: %v", err)
	}
	if res.Status != reciperun.StatusCompleted || len(res.Steps) != 4 || !strings.HasPrefix(res.Steps[0].Outcome, "summarized ") {
		t.Fatalf("digest run %s: %s", res.Status, outcomes(res))
	}
	var digest graphsim.Message
	for _, m := range h.mailbox(megan, "inbox") {
		if strings.HasPrefix(m.Subject, "Digest: ") {
			digest = m
		}
	}
	parts := strings.Split(digest.BodyText, "\n===\n")
	if len(parts) != 3 {
		t.Fatalf("digest mail %q: body\n%s\nwant three parts", digest.Subject, digest.BodyText)
	}
	for _, want := range []string{"- Travel budget — Megan Bowen; 1 message;", "(unanswered)",
		"  Could you approve the Lisbon travel budget before Friday?", "- plan Q3 — Megan Bowen"} {
		if !strings.Contains(parts[0], want) {
			t.Errorf("the threads digest lacks %q:\n%s", want, parts[0])
		}
	}
	if strings.Contains(parts[0], "old quoted text") || strings.Contains(parts[0], "Links plan Q3") {
		t.Errorf("the threads digest holds quoted history or Adele's own mail:\n%s", parts[0])
	}
	if !strings.Contains(parts[1], " Kickoff plan Q3 — organizer Adele Vance; Room 2; Teams meeting; 1 attendee") || strings.Contains(parts[1], "Standup") {
		t.Errorf("the events digest:\n%s\nwant the Kickoff and not the cancelled Standup", parts[1])
	}
	if parts[2] != "MODEL DIGEST: answer Megan." {
		t.Errorf("the endpoint's digest = %q", parts[2])
	}
	chat.mu.Lock()
	users := append([]string(nil), chat.users...)
	chat.mu.Unlock()
	if len(users) != 1 || !strings.Contains(users[0], "Travel budget") || strings.Contains(users[0], "Lisbon") {
		t.Errorf("the endpoint got %q; want one request with subjects and no message text (the step has no includeBodies)", users)
	}
	if logs := h.logs.String(); strings.Contains(logs, "Lisbon travel budget") || strings.Contains(logs, "MODEL DIGEST") {
		t.Errorf("the worker logged mail content or a digest")
	}
}

const onceRecipe = `name: once
tenant: {{TENANT}}
mailboxes:
  users: [adele@contoso.example]
trigger:
  newMail:
    from: [megan@contoso.example]
    subjectContains: [once]
steps:
  - id: notify
    send: {to: megan@contoso.example, subject: "Notice: {{ mail.subject }}", body: Sent once.}
  - id: meet
    createEvent:
      subject: "Meet {{ mail.subject }}"
      start: "{{ mail.receivedAt + duration('24h') }}"
      duration: 30m
      attendees: [megan@contoso.example]
`

// The crash window for send and createEvent: Graph commits each write and
// the response is lost (the draft's creation and its sending; the event's
// creation). The retries find the draft, then the sent message, by their
// key, and Graph answers the repeated event POST by its transactionId:
// one mail reaches Megan and Adele's Sent Items, one event is in each
// calendar.
func TestRecipeSendAndCreateEventHappenOnceWhenGraphCommitsAndDropsTheResponse(t *testing.T) {
	h := newActionHarness(t, map[string]string{"once.yaml": onceRecipe}, nil)
	mailFault := h.sim.InjectFault(graphsim.Fault{Method: "POST", Path: "/v1.0/users/" + h.userID(adele) + "/messages", DropResponse: true, Count: 2})
	eventFault := h.sim.InjectFault(graphsim.Fault{Method: "POST", Path: "/v1.0/users/" + h.userID(adele) + "/events", DropResponse: true, Count: 1})
	hit := h.deliver(adele, megan, "once only")
	h.syncRun(mailsync.Input{})
	h.completedRun(recipe.RunID(h.key, "once", hit, "new"), "notify=already sent (found by its key) meet=created")

	dropped := map[string][]string{}
	for _, r := range h.sim.Requests() {
		if r.FaultID == mailFault || r.FaultID == eventFault {
			dropped[r.FaultID] = append(dropped[r.FaultID], r.Path[strings.LastIndex(r.Path, "/")+1:])
		}
	}
	if got := strings.Join(dropped[mailFault], ","); got != "messages,send" {
		t.Fatalf("mail responses dropped for %q, want the draft's creation then its sending", got)
	}
	if got := strings.Join(dropped[eventFault], ","); got != "events" {
		t.Fatalf("event responses dropped for %q, want the event's creation", got)
	}
	one(t, "the notice in Megan's inbox", withSubject(h.mailbox(megan, "inbox"), "Notice: once only"))
	one(t, "the notice in Adele's Sent Items", withSubject(h.mailbox(adele, "sentitems"), "Notice: once only"))
	if n := len(withSubject(h.mailbox(adele, "drafts"), "Notice: once only")); n != 0 {
		t.Fatalf("%d drafts left behind", n)
	}
	snap := h.snapshot()
	for _, who := range []string{adele, megan} {
		var n int
		for _, e := range h.mailboxOf(snap, who).Events {
			if e.Subject == "Meet once only" {
				n++
			}
		}
		if n != 1 {
			t.Fatalf("%s's calendar holds %d Meet events, want 1", who, n)
		}
	}
}
