package integration

import (
	"cmp"
	"context"
	"fmt"
	"net/url"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/outlookflow/outlookflow/activities"
	"github.com/outlookflow/outlookflow/config"
	"github.com/outlookflow/outlookflow/domain"
	"github.com/outlookflow/outlookflow/graphsim"
	"github.com/outlookflow/outlookflow/internal/app"
	"github.com/outlookflow/outlookflow/internal/pgtest"
	"github.com/outlookflow/outlookflow/store"
	"github.com/outlookflow/outlookflow/workflows/mailsync"
	"github.com/outlookflow/outlookflow/workflows/tenant"
)

// newSyncHarness is a worker and simulator with the demo tenant: 36 users
// with mailboxes, a manager hierarchy, mail in several folders including
// nested custom ones. driver picks the store: config.StoreSQLite (a file in
// the test's temp dir) or config.StorePostgres (a database of its own on
// the package's PostgreSQL server).
func newSyncHarness(t *testing.T, driver string) *harness {
	t.Helper()
	seed, creds := graphsim.DemoTenant()
	h := newWorldFromSeed(t, seed, creds.ClientSecret, allSyncFeatures, time.Hour, randomKey(t))
	if driver == config.StorePostgres {
		dsnFile := filepath.Join(t.TempDir(), "store-dsn")
		writeFile(t, dsnFile, postgresServer(t).Database(t))
		h.cfg.Store = config.Store{Driver: config.StorePostgres, DSN: config.SecretRef{File: dsnFile}}
	}
	h.startWorker()
	return h
}

var postgres struct {
	once sync.Once
	srv  *pgtest.Server
	err  error
}

// postgresServer starts the package's PostgreSQL server on first use
// (TestMain stops it).
func postgresServer(t *testing.T) *pgtest.Server {
	t.Helper()
	postgres.once.Do(func() { postgres.srv, postgres.err = pgtest.Start(context.Background(), nil) })
	if postgres.err != nil {
		t.Fatalf("the PostgreSQL store tests need a server: %v", postgres.err)
	}
	return postgres.srv
}

// syncRun runs one sync of the harness's tenant to its end.
func (h *harness) syncRun(in mailsync.Input) mailsync.Result {
	h.t.Helper()
	res, _ := h.syncRunWithID(in)
	return res
}

// syncRunWithID is syncRun that also returns the run's workflow ID.
func (h *harness) syncRunWithID(in mailsync.Input) (mailsync.Result, string) {
	h.t.Helper()
	in.TenantKey = h.key
	id := mailsync.WorkflowID(h.key, fmt.Sprintf("test-%d", tenantKeys.Add(1)))
	run, err := h.client.ExecuteWorkflow(context.Background(), client.StartWorkflowOptions{
		ID: id, TaskQueue: mailsync.TaskQueue(h.cfg.Temporal.TaskQueue),
	}, mailsync.WorkflowName, in)
	if err != nil {
		h.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var res mailsync.Result
	if err := run.Get(ctx, &res); err != nil {
		h.t.Fatalf("sync run %s: %v", id, err)
	}
	return res, id
}

func (h *harness) openStore() store.Store {
	h.t.Helper()
	st, err := app.OpenStore(context.Background(), h.cfg.Store)
	if err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(func() { _ = st.Close() })
	return st
}

// assertStoreEqualsSimulator compares every synced user and every message
// (with the fields the simulator exposes) of every mailbox, and each
// well-known folder's membership, between the store and the simulator.
func (h *harness) assertStoreEqualsSimulator(st store.Store) (users, messages int) {
	h.t.Helper()
	ctx := context.Background()
	stored, err := st.Users(ctx, h.key)
	if err != nil {
		h.t.Fatal(err)
	}
	storedByID := map[string]domain.User{}
	for _, u := range stored {
		storedByID[u.ID] = u
	}
	var simUsers []graphsim.UserSeed
	for _, u := range h.tenant.Users {
		if _, err := h.sim.Mailbox(h.tenant.TenantID, u.ID, ""); err == nil {
			simUsers = append(simUsers, u)
		}
	}
	if len(stored) != len(simUsers) {
		h.t.Fatalf("store has %d users, simulator %d", len(stored), len(simUsers))
	}
	for _, u := range simUsers {
		s, ok := storedByID[u.ID]
		if !ok {
			h.t.Fatalf("user %s (%s) is missing from the store", u.ID, u.UserPrincipalName)
		}
		if s.UserPrincipalName != u.UserPrincipalName || s.Mail != u.Mail || s.DisplayName != u.DisplayName || s.ManagerID != u.ManagerID {
			h.t.Fatalf("user %s differs: store %+v, simulator %+v", u.ID, s, u)
		}
		simMsgs, err := h.sim.Mailbox(h.tenant.TenantID, u.ID, "")
		if err != nil {
			h.t.Fatal(err)
		}
		storedMsgs, err := st.Messages(ctx, store.MessageQuery{Tenant: h.key, Mailbox: u.ID})
		if err != nil {
			h.t.Fatal(err)
		}
		if len(storedMsgs) != len(simMsgs) {
			h.t.Fatalf("mailbox %s: store has %d messages, simulator %d", u.UserPrincipalName, len(storedMsgs), len(simMsgs))
		}
		byID := map[string]domain.Message{}
		for _, m := range storedMsgs {
			byID[m.ID] = m
		}
		for _, m := range simMsgs {
			s, ok := byID[m.ID]
			if !ok {
				h.t.Fatalf("mailbox %s: message %s (%q) is missing from the store", u.UserPrincipalName, m.ID, m.Subject)
			}
			if s.Subject != m.Subject || s.IsRead != m.IsRead || !strings.EqualFold(s.From.Address, m.From) ||
				!s.ReceivedAt.Equal(m.ReceivedAt.UTC().Truncate(time.Second)) && !s.ReceivedAt.Equal(m.ReceivedAt.UTC()) ||
				string(s.Importance) != m.Importance || !sameAddresses(s.To, m.To) || !sameAddresses(s.Cc, m.Cc) ||
				s.FolderID != m.FolderID || !slices.Equal(s.Categories, m.Categories) || string(s.Flag.Status) != cmp.Or(m.FlagStatus, "notFlagged") {
				h.t.Fatalf("mailbox %s message %s differs:\nstore     %+v\nsimulator %+v", u.UserPrincipalName, m.ID, s, m)
			}
			messages++
		}
		// Each message sits in the right folder (checked for the
		// well-known ones the simulator names).
		folders, err := st.Folders(ctx, h.key, u.ID)
		if err != nil {
			h.t.Fatal(err)
		}
		wellKnown := map[string]string{"Inbox": "inbox", "Sent Items": "sentitems", "Archive": "archive", "Deleted Items": "deleteditems", "Drafts": "drafts"}
		for _, f := range folders {
			name, ok := wellKnown[f.DisplayName]
			if !ok || f.ParentFolderID != "" && slices.ContainsFunc(folders, func(p domain.MailFolder) bool { return p.ID == f.ParentFolderID }) {
				continue
			}
			inSim, err := h.sim.Mailbox(h.tenant.TenantID, u.ID, name)
			if err != nil {
				h.t.Fatal(err)
			}
			inStore, err := st.Messages(ctx, store.MessageQuery{Tenant: h.key, Mailbox: u.ID, FolderID: f.ID})
			if err != nil {
				h.t.Fatal(err)
			}
			if !slices.Equal(ids(inSim, func(m graphsim.Message) string { return m.ID }), ids(inStore, func(m domain.Message) string { return m.ID })) {
				h.t.Fatalf("mailbox %s folder %s: store and simulator hold different messages", u.UserPrincipalName, name)
			}
		}
		users++
	}
	if slices.Contains(h.cfg.Tenants[0].Features, "calendar") {
		groups, events, contacts := h.assertGroupsCalendarsContactsEqual(st)
		h.t.Logf("store equals simulator: %d users, %d messages, %d groups, %d events, %d contacts", users, messages, groups, events, contacts)
	}
	return users, messages
}

func sameAddresses(got []domain.EmailAddress, want []string) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if !strings.EqualFold(got[i].Address, want[i]) {
			return false
		}
	}
	return true
}

func ids[T any](items []T, id func(T) string) []string {
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = id(it)
	}
	sort.Strings(out)
	return out
}

// TestSyncIsExactInitiallyAfterChangesAndAfterLostDeltaState runs the sync
// on the real dev server against the demo tenant through the unmodified SDK
// pipeline into SQLite, and compares the store with the simulator: after the
// first round, after mail arrives, is moved and deleted and a user leaves,
// and after Graph forgets every delta token (with a delete in between that
// only a from-scratch round can notice).
func TestSyncIsExactInitiallyAfterChangesAndAfterLostDeltaState(t *testing.T) {
	for _, driver := range []string{config.StoreSQLite, config.StorePostgres} {
		t.Run(driver, func(t *testing.T) {
			t.Parallel()
			syncIsExact(t, newSyncHarness(t, driver))
		})
	}
}

func syncIsExact(t *testing.T, h *harness) {
	st := h.openStore()
	tid := h.tenant.TenantID
	// carol has a child folder of her inbox, with mail, that she deletes
	// after the first sync.
	carol := h.tenant.Users[5]
	doomed, err := h.sim.CreateFolder(tid, carol.ID, "inbox", "Old projects", false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.sim.DeliverMessage(tid, carol.ID, graphsim.MessageSeed{Subject: "Filed away", From: h.tenant.Users[4].Mail, Folder: doomed}); err != nil {
		t.Fatal(err)
	}

	first := h.syncRun(mailsync.Input{BatchSize: 8})
	users, messages := h.assertStoreEqualsSimulator(st)
	t.Logf("initial: %d users, %d messages, %d batches, %d pages, %d items", users, messages, first.Batches, first.Pages, first.Items)
	// 36 mailboxes, 4 batches at once, at most 8 each: 5 batches.
	if users < 30 || messages < 30 || first.MailboxesDone != users || first.Batches != (users+7)/8 || first.Failures != 0 {
		t.Fatalf("initial run %+v over %d users / %d messages; want every mailbox in batches of 8", first.Progress, users, messages)
	}

	// Nothing changed: the next round changes nothing.
	if idle := h.syncRun(mailsync.Input{BatchSize: 8}); idle.Items != 0 || idle.Users != 0 {
		t.Fatalf("idle round changed %d items and %d users", idle.Items, idle.Users)
	}

	// Changes while nobody syncs.
	alice := h.tenant.Users[3]
	bob := h.tenant.Users[4]
	if _, err := h.sim.DeliverMessage(tid, alice.ID, graphsim.MessageSeed{Subject: "Quarterly numbers", From: bob.Mail, BodyText: "see attached"}); err != nil {
		t.Fatal(err)
	}
	inbox, err := h.sim.Mailbox(tid, bob.ID, "inbox")
	if err != nil || len(inbox) < 4 {
		t.Fatalf("bob's inbox: %v (%d messages)", err, len(inbox))
	}
	if err := h.sim.DeleteMessage(tid, bob.ID, inbox[0].ID); err != nil {
		t.Fatal(err)
	}
	if _, err := h.sim.MoveMessage(tid, bob.ID, inbox[1].ID, "archive"); err != nil {
		t.Fatal(err)
	}
	// Read, flag and categories change in place; a new child folder gets
	// mail moved into it; carol's child folder goes with its mail.
	read, flagged, tags := true, "flagged", []string{"Red category", "Finance"}
	if err := h.sim.UpdateMessage(tid, bob.ID, inbox[2].ID, graphsim.MessageUpdate{IsRead: &read, FlagStatus: &flagged, Categories: &tags}); err != nil {
		t.Fatal(err)
	}
	projects, err := h.sim.CreateFolder(tid, bob.ID, "inbox", "Tax 2026", false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.sim.MoveMessage(tid, bob.ID, inbox[3].ID, projects); err != nil {
		t.Fatal(err)
	}
	if err := h.sim.DeleteFolder(tid, carol.ID, doomed); err != nil {
		t.Fatal(err)
	}
	leaver := h.tenant.Users[len(h.tenant.Users)-1]
	if err := h.sim.DeleteUser(tid, leaver.ID); err != nil {
		t.Fatal(err)
	}
	h.tenant.Users = h.tenant.Users[:len(h.tenant.Users)-1]
	h.changeCalendarsContactsGroups()
	second := h.syncRun(mailsync.Input{BatchSize: 8})
	h.assertStoreEqualsSimulator(st)
	if second.Items < 6 || second.Users < 1 || second.Events < 4 || second.Contacts < 3 || second.Groups < 2 || second.Failures != 0 {
		t.Fatalf("second run %+v; want the new, changed, deleted and moved messages, the folders and the removed user counted, and no failure", second.Progress)
	}
	for _, c := range []struct{ mailbox, folder string }{{bob.ID, projects}, {carol.ID, doomed}} {
		folders, err := st.Folders(context.Background(), h.key, c.mailbox)
		if err != nil {
			t.Fatal(err)
		}
		has := slices.ContainsFunc(folders, func(f domain.MailFolder) bool { return f.ID == c.folder })
		if has != (c.folder == projects) {
			t.Fatalf("mailbox %s: folder %s stored = %v after the second run", c.mailbox, c.folder, has)
		}
	}

	// Graph forgets every token; a message is deleted meanwhile, which no
	// delta can report any more: the from-scratch round's sweep must.
	if err := h.sim.ExpireDeltaTokens(tid); err != nil {
		t.Fatal(err)
	}
	inbox, _ = h.sim.Mailbox(tid, alice.ID, "inbox")
	if err := h.sim.DeleteMessage(tid, alice.ID, inbox[0].ID); err != nil {
		t.Fatal(err)
	}
	third := h.syncRun(mailsync.Input{BatchSize: 8})
	h.assertStoreEqualsSimulator(st)
	cursors, err := st.Cursors(context.Background(), h.key)
	if err != nil {
		t.Fatal(err)
	}
	resynced := 0
	for _, c := range cursors {
		resynced += c.Resyncs
	}
	if resynced == 0 || third.Failures != 0 {
		t.Fatalf("after expired tokens: %d cursors resynced, run %+v", resynced, third.Progress)
	}
	t.Logf("after lost delta state: %d cursors resynced, %d items changed", resynced, third.Items)
}

// TestSyncOfOneMailboxTouchesOnlyThatMailbox: starter sync --mailbox.
func TestSyncOfOneMailboxTouchesOnlyThatMailbox(t *testing.T) {
	t.Parallel()
	h := newSyncHarness(t, config.StoreSQLite)
	st := h.openStore()
	one := h.tenant.Users[2]
	res := h.syncRun(mailsync.Input{Mailbox: one.UserPrincipalName})
	if res.MailboxesDone != 1 || res.MailboxesTotal != 1 {
		t.Fatalf("run %+v; want one mailbox", res.Progress)
	}
	all, err := st.Messages(context.Background(), store.MessageQuery{Tenant: h.key})
	if err != nil {
		t.Fatal(err)
	}
	simMsgs, _ := h.sim.Mailbox(h.tenant.TenantID, one.ID, "")
	if len(all) != len(simMsgs) || len(all) == 0 {
		t.Fatalf("store has %d messages after syncing one mailbox of %d", len(all), len(simMsgs))
	}
	for _, m := range all {
		if m.Mailbox != one.ID {
			t.Fatalf("message of mailbox %s stored by a one-mailbox sync", m.Mailbox)
		}
	}
}

// TestScheduleSyncsAConnectedTenantAndPausesWhileConsentIsRevoked: the
// tenant workflow creates the tenant's sync schedule once it is Connected
// (its first run starts at once), pauses it when consent is revoked and
// resumes it when consent is restored.
func TestScheduleSyncsAConnectedTenantAndPausesWhileConsentIsRevoked(t *testing.T) {
	t.Parallel()
	h := newSyncHarness(t, config.StoreSQLite)
	st := h.openStore()
	h.connect()
	h.waitFor("Connected", time.Minute, func(v tenant.StatusView) bool { return v.Status == tenant.StatusConnected })
	t.Cleanup(func() {
		_ = h.client.ScheduleClient().GetHandle(context.Background(), mailsync.ScheduleID(h.key)).Delete(context.Background())
	})

	schedule := func() *client.ScheduleDescription {
		d, err := h.client.ScheduleClient().GetHandle(context.Background(), mailsync.ScheduleID(h.key)).Describe(context.Background())
		if err != nil {
			return nil
		}
		return d
	}
	waitSchedule := func(what string, cond func(*client.ScheduleDescription) bool) *client.ScheduleDescription {
		deadline := time.Now().Add(time.Minute)
		for {
			if d := schedule(); d != nil && cond(d) {
				return d
			}
			if time.Now().After(deadline) {
				t.Fatalf("schedule never %s: %+v", what, schedule())
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	waitSchedule("ran", func(d *client.ScheduleDescription) bool {
		return !d.Schedule.State.Paused && len(d.Info.RecentActions) > 0
	})
	// The scheduled run fills the store.
	deadline := time.Now().Add(time.Minute)
	for {
		n, err := st.Count(context.Background(), h.key, "", domain.KindMessage)
		if err == nil && n > 30 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the scheduled run stored %d messages (err %v)", n, err)
		}
		time.Sleep(300 * time.Millisecond)
	}

	if err := h.sim.RevokeConsent(h.tenant.TenantID, h.clientID()); err != nil {
		t.Fatal(err)
	}
	if v := h.update(tenant.UpdateVerifyNow, tenant.VerifyNowRequest{}); v.Status != tenant.StatusConsentRevoked {
		t.Fatalf("after revoking consent: %s", v.Status)
	}
	d := waitSchedule("paused", func(d *client.ScheduleDescription) bool { return d.Schedule.State.Paused })
	if !strings.Contains(d.Schedule.State.Note, "ConsentRevoked") {
		t.Fatalf("paused schedule's note %q does not say why", d.Schedule.State.Note)
	}
	if err := h.sim.RestoreConsent(h.tenant.TenantID, h.clientID()); err != nil {
		t.Fatal(err)
	}
	if v := h.update(tenant.UpdateVerifyNow, tenant.VerifyNowRequest{}); v.Status != tenant.StatusConnected {
		t.Fatalf("after restoring consent: %s", v.Status)
	}
	waitSchedule("resumed", func(d *client.ScheduleDescription) bool { return !d.Schedule.State.Paused })
}

// TestSyncUnderInjectedFaultsIsExactAndKeepsToFourRequestsPerMailbox: 10%
// 429s with Retry-After, 5% 503s and 2% dropped connections on every Graph
// mailbox and directory call; the store still equals the simulator (no
// duplicates: the counts match), and no mailbox ever saw more than 4 of our
// requests at once.
func TestSyncUnderInjectedFaultsIsExactAndKeepsToFourRequestsPerMailbox(t *testing.T) {
	t.Parallel()
	h := newSyncHarness(t, config.StoreSQLite)
	st := h.openStore()
	h.sim.InjectFault(graphsim.Fault{Path: "/v1.0/users", Status: 429, RetryAfter: 1, Probability: 0.10})
	h.sim.InjectFault(graphsim.Fault{Path: "/v1.0/users", Status: 503, Probability: 0.05})
	h.sim.InjectFault(graphsim.Fault{Path: "/v1.0/users", Reset: true, Probability: 0.02})
	res := h.syncRun(mailsync.Input{BatchSize: 8})
	users, messages := h.assertStoreEqualsSimulator(st)
	injected := 0
	for _, f := range h.sim.Faults() {
		injected += f.Applied
	}
	if injected < 20 {
		t.Fatalf("only %d faults were injected; the test would prove little", injected)
	}
	maxInFlight := 0
	for _, u := range h.tenant.Users {
		maxInFlight = max(maxInFlight, h.sim.MaxInFlight(h.tenant.TenantID, u.ID))
	}
	if maxInFlight > 4 {
		t.Fatalf("a mailbox saw %d requests in flight at once; Graph allows 4", maxInFlight)
	}
	t.Logf("under %d injected faults: %d users, %d messages exact, %d pages; at most %d requests in flight per mailbox", injected, users, messages, res.Pages, maxInFlight)
}

// TestAMalformedPageFailsOnlyItsFolderAndKeepsItsCursor: bad JSON, a
// truncated page, an item without id and an item of an unknown @odata.type,
// each in turn answering one folder's delta: the run reports that mailbox
// and folder, the folder's cursor stays, new mail elsewhere is synced, and
// once Graph answers properly again the store is exact.
func TestAMalformedPageFailsOnlyItsFolderAndKeepsItsCursor(t *testing.T) {
	t.Parallel()
	h := newSyncHarness(t, config.StoreSQLite)
	st := h.openStore()
	h.syncRun(mailsync.Input{BatchSize: 8})
	tid := h.tenant.TenantID
	alice, bob := h.tenant.Users[3], h.tenant.Users[4]
	folders, err := st.Folders(context.Background(), h.key, alice.ID)
	if err != nil {
		t.Fatal(err)
	}
	var inbox domain.MailFolder
	for _, f := range folders {
		if f.DisplayName == "Inbox" {
			inbox = f
		}
	}
	key := domain.CursorKey{Tenant: h.key, Mailbox: alice.ID, Kind: domain.CursorMessages, Scope: inbox.ID}
	before, _, err := st.Cursor(context.Background(), key)
	if err != nil || before.Token == "" {
		t.Fatalf("alice's inbox cursor: %+v %v", before, err)
	}
	link, err := url.Parse(before.Token)
	if err != nil {
		t.Fatal(err)
	}
	for name, body := range map[string]string{
		"bad JSON":        `{"value": [ nope`,
		"truncated page":  `{"value":[{"@odata.type":"#microsoft.graph.message","id":"AAMk1","subject":"cut`,
		"item without id": `{"value":[{"@odata.type":"#microsoft.graph.message","subject":"no id","isRead":false}],"@odata.deltaLink":"` + before.Token + `"}`,
		"unknown type":    `{"value":[{"@odata.type":"#microsoft.graph.contact","id":"AAMk2"}],"@odata.deltaLink":"` + before.Token + `"}`,
	} {
		if _, err := h.sim.DeliverMessage(tid, alice.ID, graphsim.MessageSeed{Subject: "for alice: " + name, From: bob.Mail}); err != nil {
			t.Fatal(err)
		}
		if _, err := h.sim.DeliverMessage(tid, bob.ID, graphsim.MessageSeed{Subject: "for bob: " + name, From: alice.Mail}); err != nil {
			t.Fatal(err)
		}
		fault := h.sim.InjectFault(graphsim.Fault{Method: "GET", Path: link.Path, Body: body})
		res := h.syncRun(mailsync.Input{BatchSize: 8})
		h.sim.RemoveFault(fault)
		if res.Failures != 1 || len(res.FailedFolders) != 1 || res.FailedFolders[0].Mailbox != alice.ID || res.FailedFolders[0].Folder != inbox.ID {
			t.Fatalf("%s: run reported %+v; want alice's inbox alone", name, res.FailedFolders)
		}
		t.Logf("%s: %s", name, res.FailedFolders[0].Reason)
		after, _, _ := st.Cursor(context.Background(), key)
		if after.Token != before.Token {
			t.Fatalf("%s: the failed folder's cursor moved", name)
		}
		bobs, _ := st.Messages(context.Background(), store.MessageQuery{Tenant: h.key, Mailbox: bob.ID})
		if !slices.ContainsFunc(bobs, func(m domain.Message) bool { return m.Subject == "for bob: "+name }) {
			t.Fatalf("%s: the rest of the tenant did not sync", name)
		}
	}
	// A calendar page too: alice's calendar alone fails, named, and its
	// cursor stays; an event elsewhere still syncs.
	_, _, window := activities.CalendarWindow(time.Now(), days(30), days(180))
	calKey := domain.CursorKey{Tenant: h.key, Mailbox: alice.ID, Kind: domain.CursorEvents, Scope: window}
	calBefore, _, err := st.Cursor(context.Background(), calKey)
	if err != nil || calBefore.Token == "" {
		t.Fatalf("alice's calendar cursor: %+v %v", calBefore, err)
	}
	calLink, err := url.Parse(calBefore.Token)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now().UTC().Truncate(time.Hour).Add(24 * time.Hour)
	if _, err := h.sim.CreateEvent(tid, graphsim.EventSeed{Organizer: alice.Mail, Subject: "Pipeline sync", Start: start, End: start.Add(time.Hour),
		Attendees: []graphsim.EventAttendeeSeed{{Address: bob.Mail}}}); err != nil {
		t.Fatal(err)
	}
	fault := h.sim.InjectFault(graphsim.Fault{Method: "GET", Path: calLink.Path, Body: `{"value":[{"@odata.type":"#microsoft.graph.event","subject":"no id"}],"@odata.deltaLink":"` + calBefore.Token + `"}`})
	res := h.syncRun(mailsync.Input{BatchSize: 8})
	h.sim.RemoveFault(fault)
	if res.Failures != 1 || res.FailedFolders[0].Mailbox != alice.ID || res.FailedFolders[0].Folder != "(calendar)" || !strings.Contains(res.FailedFolders[0].Reason, alice.ID) {
		t.Fatalf("malformed calendar page: run reported %+v; want alice's calendar alone, named", res.FailedFolders)
	}
	if after, _, _ := st.Cursor(context.Background(), calKey); after.Token != calBefore.Token {
		t.Fatal("the failed calendar's cursor moved")
	}
	bobsEvents, _ := st.Events(context.Background(), h.key, bob.ID)
	if !slices.ContainsFunc(bobsEvents, func(e domain.Event) bool { return e.Subject == "Pipeline sync" }) {
		t.Fatal("bob's calendar did not sync while alice's page was malformed")
	}
	if res := h.syncRun(mailsync.Input{BatchSize: 8}); res.Failures != 0 {
		t.Fatalf("after the fault cleared: %+v", res.FailedFolders)
	}
	h.assertStoreEqualsSimulator(st)
}

// TestMetadataSyncNeedsOnlyMailReadBasicAndStoresNoBody: an app granted only
// User.Read.All and Mail.ReadBasic.All syncs, never asks for a body, and
// the store holds none.
func TestMetadataSyncNeedsOnlyMailReadBasicAndStoresNoBody(t *testing.T) {
	t.Parallel()
	seed, creds := graphsim.DemoTenant()
	seed.Apps[0].GrantedRoles = []string{"User.Read.All", "Mail.ReadBasic.All"}
	h := newWorldFromSeed(t, seed, creds.ClientSecret, []string{"directory", "mail"}, time.Hour, randomKey(t))
	h.startWorker()
	st := h.openStore()
	h.syncRun(mailsync.Input{})
	_, messages := h.assertStoreEqualsSimulator(st)
	all, err := st.Messages(context.Background(), store.MessageQuery{Tenant: h.key})
	if err != nil || len(all) != messages {
		t.Fatalf("%d stored messages, %v", len(all), err)
	}
	for _, m := range all {
		if m.Body != nil {
			t.Fatalf("message %s has a stored body", m.ID)
		}
	}
	for _, r := range h.sim.Requests() {
		if q, _ := url.QueryUnescape(r.RawQuery); strings.Contains(q, "body") || r.Status == 403 {
			t.Fatalf("request %s %s?%s answered %d: the sync asked for more than metadata", r.Method, r.Path, r.RawQuery, r.Status)
		}
	}
}

// TestWorkerKilledMidSyncResumesAndEndsExact kills -9 the worker process in
// the middle of a sync run (Graph answers slowly, so the run is surely
// under way with some pages saved), starts another, and wants the same run
// to finish on it with the store equal to the simulator.
func TestWorkerKilledMidSyncResumesAndEndsExact(t *testing.T) {
	t.Parallel()
	seed, creds := graphsim.DemoTenant()
	h := newWorldFromSeed(t, seed, creds.ClientSecret, allSyncFeatures, time.Hour, randomKey(t))
	st := h.openStore()
	slow := h.sim.InjectFault(graphsim.Fault{Method: "GET", Path: "/v1.0/users/", Latency: 250 * time.Millisecond})
	first := h.startWorkerProcess()
	id := mailsync.WorkflowID(h.key, "killed")
	run, err := h.client.ExecuteWorkflow(context.Background(), client.StartWorkflowOptions{
		ID: id, TaskQueue: mailsync.TaskQueue(h.cfg.Temporal.TaskQueue),
	}, mailsync.WorkflowName, mailsync.Input{TenantKey: h.key, BatchSize: 12, Parallel: 3})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Minute)
	for {
		n, _ := st.Count(context.Background(), h.key, "", domain.KindMessage)
		if n > 10 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the sync never got going")
		}
		time.Sleep(100 * time.Millisecond)
	}
	first.kill(t)
	partial, _ := st.Count(context.Background(), h.key, "", domain.KindMessage)
	h.sim.RemoveFault(slow)
	second := h.startWorkerProcess()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var res mailsync.Result
	if err := run.Get(ctx, &res); err != nil {
		t.Fatalf("the run did not finish on the new worker: %v\n%s", err, second.output.String())
	}
	users, messages := h.assertStoreEqualsSimulator(st)
	if partial >= messages {
		t.Fatalf("the kill came after the sync had stored everything (%d of %d); it proved nothing", partial, messages)
	}
	t.Logf("killed with %d of %d messages stored; the run finished on the new worker %s after it started: %d users, %d messages exact",
		partial, messages, time.Since(second.started).Round(100*time.Millisecond), users, messages)
}
