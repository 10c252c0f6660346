package integration

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/outlookflow/outlookflow/domain"
	"github.com/outlookflow/outlookflow/graphsim"
	"github.com/outlookflow/outlookflow/internal/permissions"
	"github.com/outlookflow/outlookflow/store"
	"github.com/outlookflow/outlookflow/workflows/mailsync"
	"github.com/outlookflow/outlookflow/workflows/reciperun"
	"github.com/outlookflow/outlookflow/workflows/tenant"
)

// Issue 7's acceptance: every mail and calendar trigger fires on its own
// change and on no other, every filter narrows, and what a mailbox held
// before its first sync fires nothing. Each test boots one world (a
// simulator, a worker, the shared dev server) and groups its recipes in it.

const (
	diegoAddress = "diego@contoso.example"
	// supportMailbox is a shared mailbox's address. Its UPN differs, as it
	// does for a shared mailbox created under the tenant's initial domain:
	// recipes name it by the address mail is sent to.
	supportMailbox = "support@contoso.example"
	supportUPN     = "support@contosoinc.onmicrosoft.com"
	// Outside addresses: recipients the filters look for that are not
	// mailboxes of the tenant.
	partnerAddress = "partner@fabrikam.example"
	salesAddress   = "sales@fabrikam.example"
	otherAddress   = "other@fabrikam.example"
)

// newTriggerHarness is newRecipeHarness with more users (extra) and the
// given features; prepare runs before the worker starts, so what it puts
// in the simulator is there at the mailboxes' first sync.
func newTriggerHarness(t *testing.T, features []string, extra []graphsim.UserSeed, recipes map[string]string, prepare func(*harness)) *harness {
	t.Helper()
	secret := "sim~" + randomHex(t, 20)
	seed := graphsim.TenantSeed{
		TenantID:    guid(t),
		DisplayName: testDisplayName,
		Domain:      "contoso.example",
		Apps: []graphsim.AppSeed{{
			ClientID: guid(t), DisplayName: "outlookflow",
			Secrets: []graphsim.SecretSeed{{Value: secret}}, GrantedRoles: recipeRoles,
		}},
		Users: append([]graphsim.UserSeed{
			{ID: guid(t), DisplayName: "Adele Vance", Mail: adele, UserPrincipalName: adele},
			{ID: guid(t), DisplayName: "Megan Bowen", Mail: megan, UserPrincipalName: megan},
		}, extra...),
	}
	h := newWorldFromSeed(t, seed, secret, features, time.Hour, randomKey(t))
	dir := t.TempDir()
	for name, body := range recipes {
		writeFile(t, filepath.Join(dir, name), strings.ReplaceAll(body, "{{TENANT}}", h.key))
	}
	h.cfg.Recipes.Dir = dir
	if prepare != nil {
		prepare(h)
	}
	h.startWorker()
	h.connect()
	h.waitFor("Connected", time.Minute, func(v tenant.StatusView) bool { return v.Status == tenant.StatusConnected })
	h.settleFirstSync()
	return h
}

// graphMail is a message a tenant user sends through Graph's sendMail, for
// what the control API cannot seed: Cc and Bcc recipients, attachments.
type graphMail struct {
	From, Subject, Importance string
	To, Cc, Bcc               []string
	WithAttachment            bool
}

// sendThroughGraph sends m over HTTPS as the tenant's app (app-only, with
// Mail.Send), as any client would; the simulator delivers a copy to each
// recipient mailbox of the tenant.
func (h *harness) sendThroughGraph(m graphMail) {
	h.t.Helper()
	httpClient := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: h.sim.TLSClientConfig()}}
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {h.clientID()}, "client_secret": {h.secret},
		"scope": {"https://graph.microsoft.com/.default"}}
	resp, err := httpClient.PostForm(h.sim.URL()+tokenPath(h), form)
	if err != nil {
		h.t.Fatal(err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	err = json.NewDecoder(resp.Body).Decode(&tok)
	_ = resp.Body.Close()
	if err != nil || tok.AccessToken == "" {
		h.t.Fatalf("token for sendMail: status %d, %v", resp.StatusCode, err)
	}

	recipients := func(addrs []string) []map[string]any {
		out := []map[string]any{}
		for _, a := range addrs {
			out = append(out, map[string]any{"emailAddress": map[string]any{"address": a}})
		}
		return out
	}
	msg := map[string]any{
		"subject":      m.Subject,
		"body":         map[string]any{"contentType": "text", "content": "hello"},
		"toRecipients": recipients(m.To), "ccRecipients": recipients(m.Cc), "bccRecipients": recipients(m.Bcc),
	}
	if m.Importance != "" {
		msg["importance"] = m.Importance
	}
	if m.WithAttachment {
		msg["attachments"] = []map[string]any{{
			"@odata.type": "#microsoft.graph.fileAttachment", "name": "figures.txt", "contentType": "text/plain",
			"contentBytes": base64.StdEncoding.EncodeToString([]byte("42")),
		}}
	}
	// Not saved to the sender's Sent Items: only the recipients' copies matter here.
	body, err := json.Marshal(map[string]any{"message": msg, "saveToSentItems": false})
	if err != nil {
		h.t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, h.sim.GraphBaseURL()+"/users/"+url.PathEscape(m.From)+"/sendMail", bytes.NewReader(body))
	if err != nil {
		h.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err = httpClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		h.t.Fatalf("sendMail %q from %s: status %d, want 202", m.Subject, m.From, resp.StatusCode)
	}
}

// messageID is the ID of the one message with subject in a folder of a
// simulated mailbox.
func (h *harness) messageID(user, folder, subject string) string {
	h.t.Helper()
	got := withSubject(h.mailbox(user, folder), subject)
	if len(got) != 1 {
		h.t.Fatalf("%s's %s holds %d messages %q, want 1", user, folder, len(got), subject)
	}
	return got[0].ID
}

// itemNames names the items (message and event IDs) a test made, so a
// failure says which messages fired rather than printing opaque IDs.
type itemNames map[string]string

func (n itemNames) of(ids []string) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		if name, ok := n[id]; ok {
			out[i] = name
		} else {
			out[i] = "unknown item " + id
		}
	}
	slices.Sort(out)
	return out
}

// assertRunItems checks that the recipe's runs are exactly one per listed
// item (an item listed twice has two runs), no more: first as the
// dispatcher saved them in the store (synchronously, before starting
// each), then as RecipeRun workflows on Temporal — visibility is polled,
// as it lags the start a little. It returns the runs.
func (h *harness) assertRunItems(st store.Store, names itemNames, name string, want ...string) []store.RecipeRun {
	h.t.Helper()
	runs, err := st.Runs(context.Background(), h.key, name, 0)
	if err != nil {
		h.t.Fatal(err)
	}
	items := make([]string, len(runs))
	stored := make([]string, len(runs))
	for i, r := range runs {
		items[i], stored[i] = r.ItemID, r.RunID
	}
	if got, exp := names.of(items), names.of(want); !slices.Equal(got, exp) {
		h.t.Fatalf("runs of %s are about %q, want %q", name, got, exp)
	}
	slices.Sort(stored)
	var started []string
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		started = h.recipeRuns(name)
		slices.Sort(started)
		if slices.Equal(started, stored) {
			return runs
		}
	}
	h.t.Fatalf("workflows of %s on Temporal: %v, want the stored runs %v", name, started, stored)
	return nil
}

// waitRuns waits for each run to end and checks it ended with status.
func (h *harness) waitRuns(runs []store.RecipeRun, status string, timeout time.Duration) {
	h.t.Helper()
	for _, r := range runs {
		res, err := h.runResult(r.RunID, timeout)
		if err != nil || res.Status != status {
			h.t.Fatalf("run %s of %s (%s): %+v, %v; want %s", r.RunID, r.Recipe, r.ChangeKey, res, err, status)
		}
	}
}

// mailTriggerRecipes each hold a few of newMail's filters (one recipe per
// way a message can be made: sent through Graph with recipients and
// attachments, or delivered into a folder with categories), and the
// other mail triggers. Their step only waits a second: these tests are
// about which runs start, and a step that writes to the message would be
// a change of its own.
var mailTriggerRecipes = map[string]string{
	"addressed.yaml": `name: addressed
tenant: {{TENANT}}
mailboxes: {users: [adele@contoso.example]}
trigger:
  newMail:
    from: megan@contoso.example
    to: adele@contoso.example
    cc: partner@fabrikam.example
steps:
  - id: pause
    wait: {for: 1s}
`,
	"to-or-cc.yaml": `name: to-or-cc
tenant: {{TENANT}}
mailboxes: {users: [adele@contoso.example]}
trigger:
  newMail:
    toOrCc: sales@fabrikam.example
steps:
  - id: pause
    wait: {for: 1s}
`,
	"content.yaml": `name: content
tenant: {{TENANT}}
mailboxes: {users: [adele@contoso.example]}
trigger:
  newMail:
    subjectContains: budget
    importance: high
    hasAttachments: true
steps:
  - id: pause
    wait: {for: 1s}
`,
	"filed.yaml": `name: filed
tenant: {{TENANT}}
mailboxes: {users: [adele@contoso.example]}
trigger:
  newMail:
    folder: Projects
    categories: [VIP]
steps:
  - id: pause
    wait: {for: 1s}
`,
	"support.yaml": `name: support-inbox
tenant: {{TENANT}}
trigger:
  sharedMailboxNewMail:
    mailbox: support@contoso.example
steps:
  - id: pause
    wait: {for: 1s}
`,
	"mentions.yaml": `name: mentions
tenant: {{TENANT}}
mailboxes: {users: [adele@contoso.example]}
trigger:
  mailMentionsMe: {}
steps:
  - id: pause
    wait: {for: 1s}
`,
}

// newMail: for each filter a message that passes and one that fails only
// it, and exactly the passing ones start runs; sharedMailboxNewMail fires
// on new mail in its shared mailbox only; mail that was there before the
// first sync fires nothing.
func TestRecipeNewMailFiltersEachNarrowAndSharedMailboxFiresOnlyOnItsMail(t *testing.T) {
	t.Parallel()
	names := itemNames{}
	var initial []string
	h := newTriggerHarness(t, []string{permissions.FeatureMail}, []graphsim.UserSeed{
		{ID: guid(t), DisplayName: "Diego Siciliani", Mail: diegoAddress, UserPrincipalName: diegoAddress},
		{ID: guid(t), DisplayName: "Support", Mail: supportMailbox, UserPrincipalName: supportUPN},
	}, mailTriggerRecipes, func(h *harness) {
		// Adele's Projects folder exists before the first sync.
		if _, err := h.sim.CreateFolder(h.tenant.TenantID, adele, "", "Projects", false); err != nil {
			t.Fatal(err)
		}
		// Mail that would match, there before the first sync.
		for _, m := range []struct {
			to   string
			seed graphsim.MessageSeed
		}{
			{adele, graphsim.MessageSeed{From: megan, To: []string{adele}, Subject: "initial filed", Folder: "Projects", Categories: []string{"VIP"}}},
			{adele, graphsim.MessageSeed{From: megan, To: []string{adele}, Subject: "initial budget", Importance: "high"}},
			{supportUPN, graphsim.MessageSeed{From: megan, To: []string{supportMailbox}, Subject: "initial support"}},
		} {
			id, err := h.sim.DeliverMessage(h.tenant.TenantID, m.to, m.seed)
			if err != nil {
				t.Fatal(err)
			}
			names[id] = m.seed.Subject
			initial = append(initial, id)
		}
	})
	st := h.openStore()
	for _, r := range []string{"addressed", "to-or-cc", "content", "filed", "support-inbox", "mentions"} {
		h.assertRunItems(st, names, r)
	}
	// The initial mail was synced (so it was seen and judged, not missed).
	if got, err := st.MessagesByID(context.Background(), h.key, h.userID(adele), initial[:2]); err != nil || len(got) != 2 {
		t.Fatalf("Adele's initial messages in the store: %d, %v; want 2", len(got), err)
	}

	sent := []graphMail{
		// addressed: from, to, cc.
		{Subject: "addressed pass", From: megan, To: []string{adele}, Cc: []string{partnerAddress}},
		{Subject: "addressed wrong from", From: diegoAddress, To: []string{adele}, Cc: []string{partnerAddress}},
		{Subject: "addressed wrong to", From: megan, To: []string{otherAddress}, Cc: []string{adele, partnerAddress}},
		{Subject: "addressed wrong cc", From: megan, To: []string{adele}, Cc: []string{otherAddress}},
		// to-or-cc: either list counts; Bcc is not on the recipient's copy.
		{Subject: "listed in to", From: diegoAddress, To: []string{salesAddress}, Cc: []string{adele}},
		{Subject: "listed in cc", From: diegoAddress, To: []string{adele}, Cc: []string{salesAddress}},
		{Subject: "listed in bcc", From: diegoAddress, To: []string{adele}, Bcc: []string{salesAddress}},
		// content: subjectContains (any case), importance, hasAttachments.
		{Subject: "Q3 BUDGET figures", From: diegoAddress, To: []string{adele}, Importance: "high", WithAttachment: true},
		{Subject: "Q3 forecast figures", From: diegoAddress, To: []string{adele}, Importance: "high", WithAttachment: true},
		{Subject: "Q3 budget at normal importance", From: diegoAddress, To: []string{adele}, Importance: "normal", WithAttachment: true},
		{Subject: "Q3 budget without attachment", From: diegoAddress, To: []string{adele}, Importance: "high"},
	}
	for _, m := range sent {
		h.sendThroughGraph(m)
	}
	delivered := []struct {
		to   string
		seed graphsim.MessageSeed
	}{
		// filed: folder (by display name), categories (any of them, any case).
		{adele, graphsim.MessageSeed{From: megan, To: []string{adele}, Subject: "filed pass", Folder: "Projects", Categories: []string{"Blue", "vip"}}},
		{adele, graphsim.MessageSeed{From: megan, To: []string{adele}, Subject: "filed in inbox", Categories: []string{"VIP"}}},
		{adele, graphsim.MessageSeed{From: megan, To: []string{adele}, Subject: "filed other category", Folder: "Projects", Categories: []string{"Blue"}}},
		// support-inbox: the shared mailbox, not its users' mailboxes.
		{supportUPN, graphsim.MessageSeed{From: megan, To: []string{supportMailbox}, Subject: "support new"}},
		{megan, graphsim.MessageSeed{From: diegoAddress, To: []string{megan}, Subject: "megan new"}},
	}
	for _, m := range delivered {
		id, err := h.sim.DeliverMessage(h.tenant.TenantID, m.to, m.seed)
		if err != nil {
			t.Fatal(err)
		}
		names[id] = m.seed.Subject
	}
	for _, m := range sent {
		names[h.messageID(adele, "inbox", m.Subject)] = m.Subject
	}
	id := func(subject string) string {
		for id, n := range names {
			if n == subject {
				return id
			}
		}
		t.Fatalf("no message %q", subject)
		return ""
	}
	h.syncRun(mailsync.Input{})

	var fired []store.RecipeRun
	fired = append(fired, h.assertRunItems(st, names, "addressed", id("addressed pass"))...)
	fired = append(fired, h.assertRunItems(st, names, "to-or-cc", id("listed in to"), id("listed in cc"))...)
	fired = append(fired, h.assertRunItems(st, names, "content", id("Q3 BUDGET figures"))...)
	fired = append(fired, h.assertRunItems(st, names, "filed", id("filed pass"))...)
	fired = append(fired, h.assertRunItems(st, names, "support-inbox", id("support new"))...)
	// mailMentionsMe fires on what Graph beta's mentionsPreview says: none
	// of this mail mentions anyone, so it fires on nothing rather than on
	// every new message (recipes_mentions_test.go has mail that does).
	h.assertRunItems(st, names, "mentions")
	for _, r := range fired {
		if r.ChangeKey != "new" {
			t.Fatalf("run %s of %s has change key %q, want new", r.RunID, r.Recipe, r.ChangeKey)
		}
	}
	h.waitRuns(fired, reciperun.StatusCompleted, time.Minute)
}

const flaggedRecipe = `name: flagged
tenant: {{TENANT}}
mailboxes: {users: [adele@contoso.example]}
trigger:
  mailFlagged: {}
steps:
  - id: pause
    wait: {for: 1s}
`

// mailFlagged fires when a message becomes flagged: once, whatever else
// then changes on the flagged message; again after its flag was cleared
// and set anew (a new run, as recipe.ChangeKey documents); for a message
// that arrives flagged (it had no flag before); never for new unflagged
// mail or for a message flagged before the first sync.
func TestRecipeMailFlaggedFiresWhenAMessageBecomesFlagged(t *testing.T) {
	t.Parallel()
	names := itemNames{}
	h := newTriggerHarness(t, []string{permissions.FeatureMail}, nil, map[string]string{"flagged.yaml": flaggedRecipe}, func(h *harness) {
		id, err := h.sim.DeliverMessage(h.tenant.TenantID, adele, graphsim.MessageSeed{From: megan, To: []string{adele}, Subject: "flagged before the first sync", Flagged: true})
		if err != nil {
			t.Fatal(err)
		}
		names[id] = "flagged before the first sync"
	})
	st := h.openStore()
	h.assertRunItems(st, names, "flagged")

	later := h.deliver(adele, megan, "flag me later")
	plain := h.deliver(adele, megan, "never flagged")
	arrived, err := h.sim.DeliverMessage(h.tenant.TenantID, adele, graphsim.MessageSeed{From: megan, To: []string{adele}, Subject: "arrives flagged", Flagged: true})
	if err != nil {
		t.Fatal(err)
	}
	names[later], names[plain], names[arrived] = "flag me later", "never flagged", "arrives flagged"
	h.syncRun(mailsync.Input{})
	h.assertRunItems(st, names, "flagged", arrived)

	update := func(up graphsim.MessageUpdate) {
		t.Helper()
		if err := h.sim.UpdateMessage(h.tenant.TenantID, adele, later, up); err != nil {
			t.Fatal(err)
		}
		h.syncRun(mailsync.Input{})
	}
	flagged, notFlagged := "flagged", "notFlagged"
	update(graphsim.MessageUpdate{FlagStatus: &flagged})
	h.assertRunItems(st, names, "flagged", arrived, later)

	// Other changes to the flagged message, and to the unflagged one.
	high, read := "high", true
	update(graphsim.MessageUpdate{Categories: &[]string{"Red"}, Importance: &high, IsRead: &read})
	if err := h.sim.UpdateMessage(h.tenant.TenantID, adele, plain, graphsim.MessageUpdate{IsRead: &read}); err != nil {
		t.Fatal(err)
	}
	h.syncRun(mailsync.Input{})
	h.assertRunItems(st, names, "flagged", arrived, later)

	// Cleared, then flagged again: a second run for the message.
	update(graphsim.MessageUpdate{FlagStatus: &notFlagged})
	h.assertRunItems(st, names, "flagged", arrived, later)
	update(graphsim.MessageUpdate{FlagStatus: &flagged})
	runs := h.assertRunItems(st, names, "flagged", arrived, later, later)
	var keys []string
	for _, r := range runs {
		if r.ItemID == later {
			keys = append(keys, r.ChangeKey)
		}
	}
	if len(keys) != 2 || keys[0] == keys[1] || !strings.HasPrefix(keys[0], "flagged:") || !strings.HasPrefix(keys[1], "flagged:") {
		t.Fatalf("change keys of the runs for the re-flagged message: %q, want two different flagged:… keys", keys)
	}
	h.waitRuns(runs, reciperun.StatusCompleted, time.Minute)
}

// eventChangedRecipes fire on one change type each.
func eventChangedRecipes() map[string]string {
	out := map[string]string{}
	for _, ct := range []domain.ChangeType{domain.ChangeCreated, domain.ChangeUpdated, domain.ChangeDeleted} {
		out["event-"+string(ct)+".yaml"] = fmt.Sprintf(`name: event-%s
tenant: {{TENANT}}
mailboxes: {users: [adele@contoso.example]}
trigger:
  eventChanged:
    changeTypes: [%s]
steps:
  - id: pause
    wait: {for: 1s}
`, ct, ct)
	}
	return out
}

// eventChanged with changeTypes created, updated or deleted fires on its
// change and not on the others; an event that was there before the first
// sync fires none of them.
func TestRecipeEventChangedFiresOnlyOnItsChangeType(t *testing.T) {
	t.Parallel()
	names := itemNames{}
	start := time.Now().UTC().Add(48 * time.Hour).Truncate(time.Hour)
	var before string
	h := newTriggerHarness(t, []string{permissions.FeatureMail, permissions.FeatureCalendar}, nil, eventChangedRecipes(), func(h *harness) {
		id, err := h.sim.CreateEvent(h.tenant.TenantID, graphsim.EventSeed{Organizer: adele, Subject: "there before the first sync", Start: start, End: start.Add(time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		before, names[id] = id, "there before the first sync"
	})
	st := h.openStore()
	if got, err := st.EventsByID(context.Background(), h.key, h.userID(adele), []string{before}); err != nil || len(got) != 1 {
		t.Fatalf("the event there before the first sync is not in the store: %v %v", got, err)
	}
	assertRuns := func(created, updated, deleted []string) {
		t.Helper()
		h.assertRunItems(st, names, "event-created", created...)
		h.assertRunItems(st, names, "event-updated", updated...)
		h.assertRunItems(st, names, "event-deleted", deleted...)
	}
	assertRuns(nil, nil, nil)

	ev, err := h.sim.CreateEvent(h.tenant.TenantID, graphsim.EventSeed{Organizer: adele, Subject: "planning", Start: start.Add(2 * time.Hour), End: start.Add(3 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	names[ev] = "planning"
	h.syncRun(mailsync.Input{})
	assertRuns([]string{ev}, nil, nil)

	subject := "planning (moved room)"
	if err := h.sim.UpdateEvent(h.tenant.TenantID, adele, ev, graphsim.EventUpdate{Subject: &subject}); err != nil {
		t.Fatal(err)
	}
	h.syncRun(mailsync.Input{})
	assertRuns([]string{ev}, []string{ev}, nil)

	if err := h.sim.DeleteEvent(h.tenant.TenantID, adele, ev); err != nil {
		t.Fatal(err)
	}
	h.syncRun(mailsync.Input{})
	runs := []store.RecipeRun{}
	for _, name := range []string{"event-created", "event-updated", "event-deleted"} {
		runs = append(runs, h.assertRunItems(st, names, name, ev)...)
	}
	for _, r := range runs {
		if want := strings.TrimPrefix(r.Recipe, "event-") + ":"; !strings.HasPrefix(r.ChangeKey, want) {
			t.Fatalf("run of %s has change key %q, want it to start with %q", r.Recipe, r.ChangeKey, want)
		}
	}
	h.waitRuns(runs, reciperun.StatusCompleted, time.Minute)
}

// reminderLead is the upcomingEvent recipe's lead time: long enough for
// the test to sync twice before the first reminders go off.
const reminderLead = 30 * time.Second

var reminderRecipe = fmt.Sprintf(`name: reminder
tenant: {{TENANT}}
mailboxes: {users: [megan@contoso.example]}
trigger:
  upcomingEvent:
    leadTime: %s
steps:
  - id: remind
    send:
      to: diego@contoso.example
      subject: "Reminder: {{ event.subject }}"
`, reminderLead)

// upcomingEvent fires leadTime before the start; a moved event is re-armed
// (one reminder, at the new time); a cancelled or deleted event's run is
// Skipped and sends nothing. An event there before the first sync gets its
// reminder too: a reminder is about the start, not about a change (the
// dispatcher exempts upcomingEvent from the first sync's rule).
func TestRecipeUpcomingEventFiresAtLeadTimeIsReArmedWhenMovedAndDroppedWhenCancelled(t *testing.T) {
	t.Parallel()
	names := itemNames{}
	meeting := func(h *harness, organizer, subject string, start time.Time, attendees ...string) string {
		t.Helper()
		es := graphsim.EventSeed{Organizer: organizer, Subject: subject, Start: start, End: start.Add(30 * time.Minute)}
		for _, a := range attendees {
			es.Attendees = append(es.Attendees, graphsim.EventAttendeeSeed{Address: a, Type: "required"})
		}
		id, err := h.sim.CreateEvent(h.tenant.TenantID, es)
		if err != nil {
			t.Fatal(err)
		}
		names[id] = subject
		return id
	}
	// Graph's event times have whole seconds.
	preStart := time.Now().UTC().Truncate(time.Second).Add(90 * time.Second)
	var pre string
	h := newTriggerHarness(t, []string{permissions.FeatureMail, permissions.FeatureCalendar}, []graphsim.UserSeed{
		{ID: guid(t), DisplayName: "Diego Siciliani", Mail: diegoAddress, UserPrincipalName: diegoAddress},
	}, map[string]string{"reminder.yaml": reminderRecipe}, func(h *harness) {
		pre = meeting(h, megan, "pre-existing", preStart)
	})
	st := h.openStore()

	t0 := time.Now().UTC().Truncate(time.Second)
	start := t0.Add(reminderLead + 30*time.Second)
	standup := meeting(h, megan, "standup", start)
	review := meeting(h, megan, "design review", start)
	oneOnOne := meeting(h, megan, "one on one", start)
	// Diego organizes, Megan attends: her copy is the item the recipe sees.
	vendorOrganized := meeting(h, diegoAddress, "vendor call", start, megan)
	h.syncRun(mailsync.Input{})
	vendor := ""
	events, err := st.Events(context.Background(), h.key, h.userID(megan))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range events {
		if e.Subject == "vendor call" {
			vendor, names[e.ID] = e.ID, "vendor call (Megan's copy)"
		}
	}
	if vendor == "" {
		t.Fatal("Megan's copy of the vendor call is not in the store")
	}
	h.assertRunItems(st, names, "reminder", pre, standup, review, oneOnOne, vendor)

	// Before the first reminders go off: move one later, cancel one (the
	// organizer cancels, the attendee's copy is marked cancelled), delete
	// one, and change another's location only (same start: nothing new).
	moved := start.Add(25 * time.Second)
	movedEnd := moved.Add(30 * time.Minute)
	if err := h.sim.UpdateEvent(h.tenant.TenantID, megan, review, graphsim.EventUpdate{Start: &moved, End: &movedEnd}); err != nil {
		t.Fatal(err)
	}
	if err := h.sim.CancelEvent(h.tenant.TenantID, diegoAddress, vendorOrganized); err != nil {
		t.Fatal(err)
	}
	if err := h.sim.DeleteEvent(h.tenant.TenantID, megan, oneOnOne); err != nil {
		t.Fatal(err)
	}
	room := "room 4"
	if err := h.sim.UpdateEvent(h.tenant.TenantID, megan, standup, graphsim.EventUpdate{Location: &room}); err != nil {
		t.Fatal(err)
	}
	h.syncRun(mailsync.Input{})
	if time.Now().After(start.Add(-reminderLead)) {
		t.Fatalf("the changes were synced at %s, after the first reminders were due (%s): the test cannot tell re-arming from firing", time.Now().UTC(), start.Add(-reminderLead))
	}
	runs := h.assertRunItems(st, names, "reminder", pre, standup, review, review, oneOnOne, vendor)

	runFor := func(id string, at time.Time) store.RecipeRun {
		t.Helper()
		key := "reminder:" + at.UTC().Format(time.RFC3339)
		for _, r := range runs {
			if r.ItemID == id && r.ChangeKey == key {
				return r
			}
		}
		t.Fatalf("no run for %s with change key %s", names[id], key)
		return store.RecipeRun{}
	}
	h.waitRuns([]store.RecipeRun{runFor(pre, preStart), runFor(standup, start), runFor(review, moved)}, reciperun.StatusCompleted, 3*time.Minute)
	h.waitRuns([]store.RecipeRun{runFor(review, start), runFor(vendor, start), runFor(oneOnOne, start)}, reciperun.StatusSkipped, 3*time.Minute)

	// What the runs did: one reminder per event that still happens, sent
	// leadTime before its (latest) start; none for the others.
	inbox := h.mailbox(diegoAddress, "inbox")
	for subject, at := range map[string]time.Time{"standup": start.Add(-reminderLead), "design review": moved.Add(-reminderLead)} {
		got := withSubject(inbox, "Reminder: "+subject)
		if len(got) != 1 {
			t.Fatalf("Diego received %d reminders of %s, want 1", len(got), subject)
		}
		// Whole seconds on both sides; the run starts on a server timer
		// and sends through two activities, so allow some lateness.
		if r := got[0].ReceivedAt; r.Before(at.Add(-time.Second)) || r.After(at.Add(20*time.Second)) {
			t.Fatalf("the reminder of %s arrived at %s, want at %s (leadTime before the start)", subject, r.UTC(), at)
		}
	}
	if got := withSubject(inbox, "Reminder: pre-existing"); len(got) != 1 {
		t.Fatalf("Diego received %d reminders of the pre-existing event, want 1", len(got))
	}
	for _, m := range inbox {
		if strings.Contains(m.Subject, "vendor call") || strings.Contains(m.Subject, "one on one") {
			t.Fatalf("a reminder was sent for a cancelled or deleted event: %q", m.Subject)
		}
	}
	if len(inbox) != 3 {
		t.Fatalf("Diego's inbox holds %d messages, want the 3 reminders", len(inbox))
	}
}
