package integration

import (
	"context"
	"fmt"
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
	"github.com/outlookflow/outlookflow/store"
	"github.com/outlookflow/outlookflow/workflows/mailsync"
)

// allSyncFeatures is every feature the sync reads.
var allSyncFeatures = []string{"directory", "groups", "mail", "calendar", "mailbox-settings", "contacts"}

// assertGroupsCalendarsContactsEqual compares groups and their members, and
// per mailbox the calendar window's events (with attendees), the default
// folder's contacts and the mailbox settings, field by field, between the
// store and the simulator's snapshot.
func (h *harness) assertGroupsCalendarsContactsEqual(st store.Store) (groups, events, contacts int) {
	h.t.Helper()
	ctx := context.Background()
	t := h.cfg.Tenants[0]
	from, to, _ := activities.CalendarWindow(time.Now(), days(t.CalendarPastDays), days(t.CalendarFutureDays))
	snap, err := h.sim.Snapshot(h.tenant.TenantID, from, to)
	if err != nil {
		h.t.Fatal(err)
	}

	storedGroups, err := st.Groups(ctx, h.key)
	if err != nil {
		h.t.Fatal(err)
	}
	members, err := st.GroupMembers(ctx, h.key)
	if err != nil {
		h.t.Fatal(err)
	}
	var want, got []string
	for _, g := range snap.Groups {
		want = append(want, fmt.Sprintf("%s|%s|%s|%v|%v|%v", g.ID, g.DisplayName, strings.ToLower(g.Mail), g.MailEnabled, g.SecurityEnabled, g.GroupTypes))
		for _, m := range g.Members {
			typ := domain.MemberUser
			if m.IsGroup {
				typ = domain.MemberGroup
			}
			want = append(want, fmt.Sprintf("member %s %s %s", g.ID, m.ID, typ))
		}
	}
	for _, g := range storedGroups {
		got = append(got, fmt.Sprintf("%s|%s|%s|%v|%v|%v", g.ID, g.DisplayName, strings.ToLower(g.Mail), g.MailEnabled, g.SecurityEnabled, orEmpty(g.GroupTypes)))
	}
	for _, m := range members {
		got = append(got, fmt.Sprintf("member %s %s %s", m.GroupID, m.MemberID, m.MemberType))
	}
	sameLines(h, "groups and members", got, want)

	for id, mb := range snap.Mailboxes {
		// Folders: every visible one, with its parent and well-known name.
		storedFolders, err := st.Folders(ctx, h.key, id)
		if err != nil {
			h.t.Fatal(err)
		}
		want, got = nil, nil
		for _, f := range mb.Folders {
			if f.Hidden {
				continue
			}
			wk := f.WellKnownName
			if !slices.Contains(syncedWellKnown, wk) {
				wk = ""
			}
			want = append(want, fmt.Sprintf("%s|%s|%s|%s", f.ID, f.ParentFolderID, f.DisplayName, wk))
		}
		for _, f := range storedFolders {
			got = append(got, fmt.Sprintf("%s|%s|%s|%s", f.ID, f.ParentFolderID, f.DisplayName, f.WellKnownName))
		}
		sameLines(h, "folders of mailbox "+id, got, want)

		// Events: every instance the window holds, with its attendees.
		storedEvents, err := st.Events(ctx, h.key, id)
		if err != nil {
			h.t.Fatal(err)
		}
		want, got = nil, nil
		for _, e := range mb.Events {
			want = append(want, eventLine(e.ID, e.Subject, e.Start, e.End, e.Organizer.Address, e.IsCancelled, e.IsOnline, e.IsAllDay,
				e.Type, e.SeriesMasterID, e.JoinURL, e.Location, simAttendees(e.Attendees)))
		}
		for _, e := range storedEvents {
			var as []string
			for _, a := range e.Attendees {
				as = append(as, strings.ToLower(a.Address)+" "+string(a.Type)+" "+string(a.Response))
			}
			got = append(got, eventLine(e.ID, e.Subject, e.Start, e.End, e.Organizer.Address, e.IsCancelled, e.IsOnlineMeeting, e.IsAllDay,
				string(e.Type), e.SeriesMasterID, e.OnlineMeetingJoinURL, e.Location, as))
		}
		sameLines(h, "events of mailbox "+id, got, want)
		events += len(storedEvents)

		// Contacts of the default folder (the one the sync walks).
		storedContacts, err := st.Contacts(ctx, h.key, id)
		if err != nil {
			h.t.Fatal(err)
		}
		want, got = nil, nil
		for _, c := range mb.Contacts {
			if len(mb.ContactFolders) > 0 && c.FolderID != mb.ContactFolders[0].ID {
				continue
			}
			var emails []string
			for _, e := range c.Emails {
				emails = append(emails, strings.ToLower(e.Address))
			}
			phones := slices.Clone(c.BusinessPhones)
			if c.MobilePhone != "" {
				phones = append(phones, c.MobilePhone)
			}
			want = append(want, fmt.Sprintf("%s|%s|%s|%s|%v|%v", c.ID, c.DisplayName, c.CompanyName, c.JobTitle, emails, phones))
		}
		for _, c := range storedContacts {
			var emails, phones []string
			for _, e := range c.EmailAddresses {
				emails = append(emails, strings.ToLower(e.Address))
			}
			for _, p := range c.Phones {
				phones = append(phones, p.Number)
			}
			got = append(got, fmt.Sprintf("%s|%s|%s|%s|%v|%v", c.ID, c.DisplayName, c.CompanyName, c.JobTitle, emails, phones))
		}
		sameLines(h, "contacts of mailbox "+id, got, want)
		contacts += len(storedContacts)

		// Mailbox settings: time zone, working hours, automatic replies.
		ms, found, err := st.MailboxSettings(ctx, h.key, id)
		if err != nil || !found {
			h.t.Fatalf("mailbox settings of %s: found %v, err %v", id, found, err)
		}
		sim := mb.MailboxSettings
		wantSettings := fmt.Sprintf("%s|%v|%s|%s|%s|%s|%s", sim.TimeZone, sim.WorkingHours.DaysOfWeek, hhmm(sim.WorkingHours.StartTime), hhmm(sim.WorkingHours.EndTime),
			sim.WorkingHours.TimeZone, sim.AutomaticReplies.Status, sim.AutomaticReplies.ExternalAudience)
		gotSettings := fmt.Sprintf("%s|%v|%s|%s|%s|%s|%s", ms.TimeZone, ms.WorkingHours.Days, hhmm(ms.WorkingHours.StartTime), hhmm(ms.WorkingHours.EndTime),
			ms.WorkingHours.TimeZone, ms.AutomaticReplies.Status, ms.AutomaticReplies.ExternalAudience)
		if gotSettings != wantSettings {
			h.t.Fatalf("mailbox settings of %s differ:\nstore     %s\nsimulator %s", id, gotSettings, wantSettings)
		}
	}
	return len(storedGroups), events, contacts
}

// syncedWellKnown are the well-known names the sync resolves.
var syncedWellKnown = []string{"inbox", "sentitems", "drafts", "deleteditems", "archive", "junkemail", "outbox"}

func days(n int) time.Duration { return time.Duration(n) * 24 * time.Hour }

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func hhmm(s string) string { return s[:min(len(s), 5)] }

func simAttendees(as []graphsim.AttendeeSnapshot) []string {
	var out []string
	for _, a := range as {
		out = append(out, strings.ToLower(a.Address.Address)+" "+a.Type+" "+a.Response)
	}
	return out
}

func eventLine(id, subject string, start, end time.Time, organizer string, cancelled, online, allDay bool, typ, master, joinURL, location string, attendees []string) string {
	sort.Strings(attendees)
	return fmt.Sprintf("%s|%s|%s|%s|%s|cancelled=%v|online=%v|allday=%v|%s|%s|%s|%s|%v", id, subject, start.UTC().Format(time.RFC3339), end.UTC().Format(time.RFC3339),
		strings.ToLower(organizer), cancelled, online, allDay, typ, master, joinURL, location, attendees)
}

// sameLines fails the test with the first difference between two sets of
// rendered items.
func sameLines(h *harness, what string, got, want []string) {
	h.t.Helper()
	sort.Strings(got)
	sort.Strings(want)
	if slices.Equal(got, want) {
		return
	}
	extra, missing := diffLines(got, want)
	h.t.Fatalf("%s: store has %d, simulator %d\nonly in store:     %v\nonly in simulator: %v", what, len(got), len(want), first(extra, 3), first(missing, 3))
}

func diffLines(got, want []string) (extra, missing []string) {
	in := func(s []string, v string) bool { _, ok := slices.BinarySearch(s, v); return ok }
	for _, g := range got {
		if !in(want, g) {
			extra = append(extra, g)
		}
	}
	for _, w := range want {
		if !in(got, w) {
			missing = append(missing, w)
		}
	}
	return extra, missing
}

func first(s []string, n int) []string { return s[:min(len(s), n)] }

// changeCalendarsContactsGroups makes one of each change the sync must
// follow outside mail: an event created, one moved, one cancelled, one
// deleted, an attendee's response; a contact created, one updated, one
// deleted; working hours changed; a group member added and one removed, a
// group deleted.
func (h *harness) changeCalendarsContactsGroups() {
	h.t.Helper()
	tid := h.tenant.TenantID
	alice, bob := h.tenant.Users[3], h.tenant.Users[4]
	must := func(err error) {
		h.t.Helper()
		if err != nil {
			h.t.Fatal(err)
		}
	}
	start := time.Now().UTC().Truncate(time.Hour).Add(48 * time.Hour)
	_, err := h.sim.CreateEvent(tid, graphsim.EventSeed{Organizer: alice.Mail, Subject: "Roadmap review", Start: start, End: start.Add(time.Hour),
		IsOnlineMeeting: true, Attendees: []graphsim.EventAttendeeSeed{{Address: bob.Mail}}})
	must(err)
	snap, err := h.sim.Snapshot(tid, time.Time{}, time.Time{})
	must(err)
	var singles []graphsim.EventSnapshot
	for _, e := range snap.Mailboxes[bob.ID].Events {
		if e.Type == "singleInstance" && strings.EqualFold(e.Organizer.Address, bob.Mail) {
			singles = append(singles, e)
		}
	}
	if len(singles) < 2 {
		h.t.Fatalf("bob organizes %d single events; the demo seed should give him at least 2", len(singles))
	}
	moved := singles[0].Start.Add(2 * time.Hour)
	movedEnd := moved.Add(time.Hour)
	subject := "Moved: " + singles[0].Subject
	must(h.sim.UpdateEvent(tid, bob.ID, singles[0].ID, graphsim.EventUpdate{Subject: &subject, Start: &moved, End: &movedEnd}))
	must(h.sim.CancelEvent(tid, bob.ID, singles[1].ID))
	for _, e := range snap.Mailboxes[alice.ID].Events {
		if e.Type == "singleInstance" && strings.EqualFold(e.Organizer.Address, alice.Mail) && e.Subject == "Focus time" {
			must(h.sim.DeleteEvent(tid, alice.ID, e.ID))
			break
		}
	}

	_, err = h.sim.CreateContact(tid, alice.ID, graphsim.ContactSeed{GivenName: "Dana", Surname: "Lee", Emails: []string{"dana@partner.example"}, CompanyName: "Partner Co"})
	must(err)
	if cs := snap.Mailboxes[bob.ID].Contacts; len(cs) >= 2 {
		title := "Head of Procurement"
		must(h.sim.UpdateContact(tid, bob.ID, cs[0].ID, graphsim.ContactUpdate{JobTitle: &title}))
		must(h.sim.DeleteContact(tid, bob.ID, cs[1].ID))
	} else {
		h.t.Fatalf("bob has %d contacts; the demo seed should give him at least 2", len(cs))
	}

	ms := snap.Mailboxes[alice.ID].MailboxSettings
	ms.WorkingHours.StartTime, ms.WorkingHours.EndTime = "07:30", "15:30"
	ms.AutomaticReplies.Status = "alwaysEnabled"
	must(h.sim.SetMailboxSettings(tid, alice.ID, ms))

	var withMembers []graphsim.GroupSnapshot
	for _, g := range snap.Groups {
		if len(g.Members) > 1 {
			withMembers = append(withMembers, g)
		}
	}
	if len(withMembers) < 2 {
		h.t.Fatalf("the demo seed has %d groups with members, want 2", len(withMembers))
	}
	g := withMembers[0]
	must(h.sim.RemoveGroupMember(tid, g.ID, g.Members[0].ID))
	for _, u := range h.tenant.Users {
		if !slices.ContainsFunc(g.Members, func(m graphsim.MemberSnapshot) bool { return m.ID == u.ID }) {
			must(h.sim.AddGroupMember(tid, g.ID, u.ID))
			break
		}
	}
	must(h.sim.DeleteGroup(tid, withMembers[1].ID))
}

// TestConcurrentSyncsOfOneMailboxKeepToFourRequestsInFlight: six syncs of
// the same mailbox at once, Graph answering slowly, would put six requests
// on that mailbox at a time; the worker's per-mailbox budget holds it to
// Graph's four, as the simulator counts them, and the store ends exact.
func TestConcurrentSyncsOfOneMailboxKeepToFourRequestsInFlight(t *testing.T) {
	t.Parallel()
	h := newSyncHarness(t, config.StoreSQLite)
	st := h.openStore()
	h.syncRun(mailsync.Input{BatchSize: 8})
	alice := h.tenant.Users[3]
	if _, err := h.sim.DeliverMessage(h.tenant.TenantID, alice.ID, graphsim.MessageSeed{Subject: "while six syncs run", From: h.tenant.Users[4].Mail}); err != nil {
		t.Fatal(err)
	}
	h.sim.SetLatency(graphsim.Latency{Fixed: 150 * time.Millisecond})
	h.sim.ResetMaxInFlight(h.tenant.TenantID)
	var wg sync.WaitGroup
	for range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h.syncRun(mailsync.Input{Mailbox: alice.UserPrincipalName})
		}()
	}
	wg.Wait()
	if got := h.sim.MaxInFlight(h.tenant.TenantID, alice.ID); got != 4 {
		t.Fatalf("alice's mailbox saw at most %d requests in flight; six concurrent syncs should reach Graph's limit of 4 and never pass it", got)
	}
	h.assertStoreEqualsSimulator(st)
}

// TestBodiesAreStoredOnlyWithTheMailBodiesFeatureAndNeverReachTemporal:
// with the mail-bodies feature (and Mail.Read granted) every message's body
// is in the store, equal to the simulator's; the sync run's Temporal
// history holds no body text, raw or decoded through the codec.
func TestBodiesAreStoredOnlyWithTheMailBodiesFeatureAndNeverReachTemporal(t *testing.T) {
	t.Parallel()
	seed, creds := graphsim.DemoTenant()
	seed.Apps[0].GrantedRoles = append(seed.Apps[0].GrantedRoles, "Mail.Read")
	h := newWorldFromSeed(t, seed, creds.ClientSecret, []string{"directory", "mail", "mail-bodies"}, time.Hour, randomKey(t))
	h.startWorker()
	st := h.openStore()
	alice, bob := h.tenant.Users[3], h.tenant.Users[4]
	const secretText = "the merger closes on Friday; tell no one"
	if _, err := h.sim.DeliverMessage(h.tenant.TenantID, alice.ID, graphsim.MessageSeed{Subject: "Confidential", From: bob.Mail, BodyText: secretText}); err != nil {
		t.Fatal(err)
	}
	_, id := h.syncRunWithID(mailsync.Input{})
	_, messages := h.assertStoreEqualsSimulator(st)
	all, err := st.Messages(context.Background(), store.MessageQuery{Tenant: h.key})
	if err != nil || len(all) != messages {
		t.Fatalf("%d stored messages of %d, %v", len(all), messages, err)
	}
	found := false
	for _, m := range all {
		if m.Body == nil || m.Body.Content == "" {
			t.Fatalf("message %s was stored without its body", m.ID)
		}
		found = found || strings.Contains(m.Body.Content, secretText)
	}
	if !found {
		t.Fatal("the delivered message's body is not in the store")
	}
	scan := scanHistory(t, h.client, id, h.codecEndpoint())
	if scan.rawContains(secretText) || scan.decodedContains(secretText) || scan.decodedContains("Confidential") {
		t.Fatal("mail content reached the sync run's Temporal history")
	}
	if !scan.decodedContains(h.key) {
		t.Fatal("the decoded history does not even hold the tenant key: the scan proves nothing")
	}
}

// TestDeltaStateLostInTheMiddleOfARunEndsExact: Graph forgets every delta
// token while a sync run is under way (some mailboxes done, others not;
// mail was deleted meanwhile, which only a from-scratch round can notice):
// the rest of the run resyncs what it must and the store ends exact.
func TestDeltaStateLostInTheMiddleOfARunEndsExact(t *testing.T) {
	t.Parallel()
	h := newSyncHarness(t, config.StoreSQLite)
	st := h.openStore()
	h.syncRun(mailsync.Input{BatchSize: 4, Parallel: 1})
	tid := h.tenant.TenantID
	for _, u := range h.tenant.Users[20:] {
		inbox, err := h.sim.Mailbox(tid, u.ID, "inbox")
		if err != nil {
			t.Fatal(err)
		}
		if len(inbox) > 0 {
			if err := h.sim.DeleteMessage(tid, u.ID, inbox[0].ID); err != nil {
				t.Fatal(err)
			}
		}
	}
	h.sim.SetLatency(graphsim.Latency{Fixed: 20 * time.Millisecond})
	id := mailsync.WorkflowID(h.key, "lost-mid-run")
	run, err := h.client.ExecuteWorkflow(context.Background(), client.StartWorkflowOptions{
		ID: id, TaskQueue: mailsync.TaskQueue(h.cfg.Temporal.TaskQueue),
	}, mailsync.WorkflowName, mailsync.Input{TenantKey: h.key, BatchSize: 4, Parallel: 1})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Minute)
	var at mailsync.Progress
	for {
		v, err := h.client.QueryWorkflow(context.Background(), id, "", mailsync.QueryProgress)
		if err == nil && v.Get(&at) == nil && at.MailboxesDone > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the run never finished a batch")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := h.sim.ExpireDeltaTokens(tid); err != nil {
		t.Fatal(err)
	}
	var res mailsync.Result
	if err := run.Get(context.Background(), &res); err != nil {
		t.Fatal(err)
	}
	if at.MailboxesDone >= res.MailboxesTotal {
		t.Fatalf("the tokens expired after the run had synced every mailbox (%d); the test proved nothing", at.MailboxesDone)
	}
	h.assertStoreEqualsSimulator(st)
	cursors, err := st.Cursors(context.Background(), h.key)
	if err != nil {
		t.Fatal(err)
	}
	resynced := 0
	for _, c := range cursors {
		resynced += c.Resyncs
	}
	if resynced == 0 {
		t.Fatal("no cursor was resynced: the tokens did not expire mid-run")
	}
	t.Logf("tokens lost after %d of %d mailboxes: %d cursors resynced, store exact", at.MailboxesDone, res.MailboxesTotal, resynced)
}
