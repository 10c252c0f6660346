package storetest

import (
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/outlookflow/outlookflow/domain"
	"github.com/outlookflow/outlookflow/store"
)

// What the recipe engine keeps: the trigger outbox written with the pages,
// reads by ID, runs, decisions, switches and reply waits.

// pendingIs checks the outbox's changes (Seq and At checked apart: Seqs
// must increase, At must be the store's clock of the apply).
func pendingIs(t *testing.T, what string, got []store.PendingChange, want []store.PendingChange) {
	t.Helper()
	var prev int64
	for i, pc := range got {
		if i > 0 && pc.Seq <= prev {
			t.Errorf("%s: Seq %d follows %d; sequence numbers must increase", what, pc.Seq, prev)
		}
		prev = pc.Seq
		if d := time.Since(pc.At); pc.At.IsZero() || d < -time.Minute || d > 5*time.Minute {
			t.Errorf("%s: change %d has At %v, want the time it was applied", what, i+1, pc.At)
		}
	}
	strip := func(pcs []store.PendingChange) []store.PendingChange {
		out := make([]store.PendingChange, len(pcs))
		for i, pc := range pcs {
			pc.Seq, pc.At = 0, time.Time{}
			out[i] = pc
		}
		return out
	}
	equal(t, what, strip(got), strip(want))
}

// pending is the outbox row a change should become.
func pending(tenant string, kind domain.ItemKind, mailbox, id string, typ domain.ChangeType, prev domain.FlagStatus, initial bool) store.PendingChange {
	return store.PendingChange{Tenant: tenant, Change: domain.Change{Kind: kind, Mailbox: mailbox, ItemID: id, Type: typ}, PrevFlag: prev, Initial: initial}
}

func seqs(pcs []store.PendingChange) []int64 {
	out := make([]int64, len(pcs))
	for i, pc := range pcs {
		out[i] = pc.Seq
	}
	return out
}

func flagged(m domain.Message, status domain.FlagStatus) domain.Message {
	m.Flag = domain.Flag{Status: status}
	return m
}

func testOutbox(t *testing.T, h *harness) {
	s := h.open()
	mbox := "u-mgr"
	folders(t, s, tenantA, mbox, "f1", folder(mbox, "inbox", "", domain.FolderInbox), folder(mbox, "archive", "", domain.FolderArchive))
	apply := func(p store.MessagesPage) store.Counts {
		t.Helper()
		p.Tenant, p.Mailbox = tenantA, mbox
		if p.FolderID == "" {
			p.FolderID = "inbox"
		}
		return must[store.Counts](t, "applying "+p.Next.Token)(s.ApplyMessages(ctx(t), p))
	}
	list := func(tenant, mailbox string, limit int) []store.PendingChange {
		t.Helper()
		return must[[]store.PendingChange](t, "listing pending changes")(s.PendingChanges(ctx(t), tenant, mailbox, limit))
	}
	msg := func(id string) domain.Message { return message(mbox, "inbox", id) }
	m1, m2 := flagged(msg("m1"), domain.FlagNotFlagged), flagged(msg("m2"), domain.FlagFlagged)

	// A mailbox's first round: new messages, marked initial, no PrevFlag.
	first := apply(store.MessagesPage{Upserts: []domain.Message{m1, m2}, Next: store.Next{Token: "p1"}, Outbox: true, OutboxInitial: true})
	counts(t, "first page", first, 2, 0, 0, 0)
	got := list(tenantA, mbox, 0)
	pendingIs(t, "the outbox after a first page", got, []store.PendingChange{
		pending(tenantA, domain.KindMessage, mbox, "m1", domain.ChangeCreated, "", true),
		pending(tenantA, domain.KindMessage, mbox, "m2", domain.ChangeCreated, "", true),
	})

	// A replayed page is all unchanged: it adds nothing.
	replay := apply(store.MessagesPage{Upserts: []domain.Message{m1, m2}, Next: store.Next{Token: "p1"}, Outbox: true, OutboxInitial: true})
	counts(t, "the page replayed", replay, 0, 0, 2, 0)
	if again := list(tenantA, mbox, 0); len(again) != 2 {
		t.Errorf("a replayed page left %d changes in the outbox, want the first page's 2", len(again))
	}
	if err := s.AckChanges(ctx(t), tenantA, seqs(got)); err != nil {
		t.Fatalf("acknowledging: %v", err)
	}
	if left := list(tenantA, "", 0); len(left) != 0 {
		t.Errorf("%d changes left after acknowledging them all: %+v", len(left), left)
	}
	// Acknowledging again, or numbers never issued, is harmless.
	if err := s.AckChanges(ctx(t), tenantA, append(seqs(got), 1<<40)); err != nil {
		t.Errorf("acknowledging changes already acknowledged: %v", err)
	}

	// Without Outbox a page writes nothing there.
	read := m1
	read.IsRead = true
	quiet := apply(store.MessagesPage{Upserts: []domain.Message{read}, Next: store.Next{Token: "p2"}})
	counts(t, "a page without outbox", quiet, 0, 1, 0, 0)
	if left := list(tenantA, "", 0); len(left) != 0 {
		t.Errorf("a page without Outbox wrote %d changes to the outbox", len(left))
	}

	// m1 flagged (stored notFlagged), m3 new, m2 (flagged) removed, m4
	// removed but never stored: the outbox is exactly the page's changes,
	// in their order, each with the flag stored before it.
	m1f := flagged(read, domain.FlagFlagged)
	m3 := flagged(msg("m3"), domain.FlagComplete)
	third := apply(store.MessagesPage{Upserts: []domain.Message{m1f, m3}, Removed: []string{"m2", "m4"}, Next: store.Next{Token: "p3"}, Outbox: true})
	counts(t, "third page", third, 1, 1, 0, 1)
	want := []store.PendingChange{
		pending(tenantA, domain.KindMessage, mbox, "m1", domain.ChangeUpdated, domain.FlagNotFlagged, false),
		pending(tenantA, domain.KindMessage, mbox, "m3", domain.ChangeCreated, "", false),
		pending(tenantA, domain.KindMessage, mbox, "m2", domain.ChangeDeleted, domain.FlagFlagged, false),
	}
	got = list(tenantA, mbox, 0)
	pendingIs(t, "the outbox after flagging, adding and removing", got, want)
	var fromOutbox []domain.Change
	for _, pc := range got {
		fromOutbox = append(fromOutbox, pc.Change)
	}
	equal(t, "the outbox's changes against the page's Counts.Changes", fromOutbox, third.Changes)

	// A move into another folder is an update; PrevFlag is what was stored.
	moved := flagged(m3, domain.FlagComplete)
	moved.FolderID = "archive"
	apply(store.MessagesPage{FolderID: "archive", Upserts: []domain.Message{moved}, Next: store.Next{Token: "a1"}, Outbox: true})
	want = append(want, pending(tenantA, domain.KindMessage, mbox, "m3", domain.ChangeUpdated, domain.FlagComplete, false))
	// An upsert and a removal of the same message in one page: the removal
	// sees the flag the page just wrote.
	apply(store.MessagesPage{FolderID: "archive", Upserts: []domain.Message{flagged(moved, domain.FlagNotFlagged)}, Removed: []string{"m3"},
		Next: store.Next{Token: "a2"}, Outbox: true})
	want = append(want,
		pending(tenantA, domain.KindMessage, mbox, "m3", domain.ChangeUpdated, domain.FlagComplete, false),
		pending(tenantA, domain.KindMessage, mbox, "m3", domain.ChangeDeleted, domain.FlagNotFlagged, false))
	got = list(tenantA, mbox, 0)
	pendingIs(t, "the outbox after a move and a removal", got, want)
	pendingIs(t, "the first two pending changes", list(tenantA, mbox, 2), want[:2])

	// Events: their changes too, with no flag.
	ev := event(mbox, "e1", attendee("a@contoso.com", domain.ResponseNone))
	applyEvents := func(token string, upserts []domain.Event, removed []string, initial bool) store.Counts {
		t.Helper()
		return must[store.Counts](t, "applying events "+token)(s.ApplyEvents(ctx(t), store.EventsPage{Tenant: tenantA, Mailbox: mbox, Window: "w",
			Upserts: upserts, Removed: removed, Next: store.Next{Token: token}, Outbox: true, OutboxInitial: initial}))
	}
	applyEvents("e1", []domain.Event{ev, event(mbox, "e2")}, nil, true)
	applyEvents("e1", []domain.Event{ev, event(mbox, "e2")}, nil, true) // replayed
	ev.Subject = "Pipeline review (moved)"
	// A deleted event's change carries the event as the store last held
	// it (Graph's delta gives only its ID); an ID never stored, none.
	held := must[map[string]domain.Event](t, "reading e2")(s.EventsByID(ctx(t), tenantA, mbox, []string{"e2"}))
	e2, ok := held["e2"]
	if !ok || e2.Subject != event(mbox, "e2").Subject {
		t.Fatalf("e2 as stored: %+v", held)
	}
	applyEvents("e2", []domain.Event{ev}, []string{"e2", "never-stored"}, false)
	deleted := pending(tenantA, domain.KindEvent, mbox, "e2", domain.ChangeDeleted, "", false)
	deleted.DeletedEvent = &e2
	want = append(want,
		pending(tenantA, domain.KindEvent, mbox, "e1", domain.ChangeCreated, "", true),
		pending(tenantA, domain.KindEvent, mbox, "e2", domain.ChangeCreated, "", true),
		pending(tenantA, domain.KindEvent, mbox, "e1", domain.ChangeUpdated, "", false),
		deleted)
	pendingIs(t, "the outbox after events", list(tenantA, mbox, 0), want)

	// Other mailboxes and tenants: the mailbox filter, "" for the whole
	// tenant, and acknowledgements scoped by tenant.
	other := "u-ceo"
	for _, tenant := range []string{tenantA, tenantB} {
		folders(t, s, tenant, other, "f1", folder(other, "inbox", "", domain.FolderInbox))
		must[store.Counts](t, "another mailbox")(s.ApplyMessages(ctx(t), store.MessagesPage{Tenant: tenant, Mailbox: other, FolderID: "inbox",
			Upserts: []domain.Message{message(other, "inbox", "x1")}, Next: store.Next{Token: "o1"}, Outbox: true}))
	}
	otherWant := pending(tenantA, domain.KindMessage, other, "x1", domain.ChangeCreated, "", false)
	pendingIs(t, "the other mailbox's outbox", list(tenantA, other, 0), []store.PendingChange{otherWant})
	pendingIs(t, "the whole tenant's outbox", list(tenantA, "", 0), append(append([]store.PendingChange{}, want...), otherWant))
	bOutbox := list(tenantB, "", 0)
	bWant := otherWant
	bWant.Tenant = tenantB
	pendingIs(t, "the other tenant's outbox", bOutbox, []store.PendingChange{bWant})
	// Tenant A acknowledging tenant B's number acknowledges nothing.
	if err := s.AckChanges(ctx(t), tenantA, seqs(bOutbox)); err != nil {
		t.Fatal(err)
	}
	if n := len(list(tenantB, "", 0)); n != 1 {
		t.Errorf("tenant A acknowledged tenant B's change: %d left, want 1", n)
	}
	// Acknowledging some leaves the others, in order.
	all := list(tenantA, "", 0)
	if err := s.AckChanges(ctx(t), tenantA, []int64{all[0].Seq, all[2].Seq, all[2].Seq}); err != nil {
		t.Fatal(err)
	}
	equal(t, "sequence numbers left after acknowledging the first and third", seqs(list(tenantA, "", 0)), append([]int64{all[1].Seq}, seqs(all[3:])...))

	if _, err := s.PendingChanges(ctx(t), "", "", 0); err == nil {
		t.Error("listing pending changes without a tenant succeeded")
	}
	if err := s.AckChanges(ctx(t), "", []int64{1}); !errors.Is(err, store.ErrInvalidRecord) {
		t.Errorf("acknowledging without a tenant: err = %v, want ErrInvalidRecord", err)
	}
}

// failCursorSaves makes the database refuse to save a cursor whose token is
// token, with a trigger: the last write of a page, after its rows and its
// outbox rows, so a failure there must roll those back too.
func failCursorSaves(t *testing.T, cfg store.Config, token string) {
	t.Helper()
	var db *sql.DB
	var stmts []string
	var err error
	switch cfg.Driver {
	case store.DriverPostgres:
		db, err = sql.Open("pgx", cfg.PostgresDSN)
		stmts = []string{
			`CREATE FUNCTION storetest_refuse_cursor() RETURNS trigger LANGUAGE plpgsql AS $$
			BEGIN
				IF NEW.token = '` + token + `' THEN RAISE EXCEPTION 'storetest refuses cursor %', NEW.token; END IF;
				RETURN NEW;
			END $$`,
			`CREATE TRIGGER storetest_refuse_cursor BEFORE INSERT OR UPDATE ON sync_cursors
			FOR EACH ROW EXECUTE FUNCTION storetest_refuse_cursor()`,
		}
	case store.DriverSQLite, "":
		db, err = sql.Open("sqlite", "file:"+(&url.URL{Path: cfg.SQLitePath}).EscapedPath()+"?_pragma=busy_timeout(10000)")
		for _, op := range []string{"INSERT", "UPDATE"} {
			stmts = append(stmts, `CREATE TRIGGER storetest_refuse_cursor_`+strings.ToLower(op)+` BEFORE `+op+` ON sync_cursors
			WHEN NEW.token = '`+token+`' BEGIN SELECT RAISE(ABORT, 'storetest refuses the cursor'); END`)
		}
	default:
		t.Fatalf("no way to inject a failure into driver %q", cfg.Driver)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range stmts {
		if _, err := db.ExecContext(ctx(t), q); err != nil {
			t.Fatalf("installing the failing trigger: %v", err)
		}
	}
}

func testOutboxRollsBack(t *testing.T, h *harness) {
	s := h.open()
	mbox := "u-mgr"
	folders(t, s, tenantA, mbox, "f1", folder(mbox, "inbox", "", domain.FolderInbox))
	m1 := flagged(message(mbox, "inbox", "m1"), domain.FlagNotFlagged)
	must[store.Counts](t, "first page")(s.ApplyMessages(ctx(t), store.MessagesPage{Tenant: tenantA, Mailbox: mbox, FolderID: "inbox",
		Upserts: []domain.Message{m1}, Next: store.Next{Token: "good"}}))
	failCursorSaves(t, h.cfg, "boom")

	// The page writes its rows and its outbox rows, then fails saving the
	// cursor: none of it may stay.
	_, err := s.ApplyMessages(ctx(t), store.MessagesPage{Tenant: tenantA, Mailbox: mbox, FolderID: "inbox",
		Upserts: []domain.Message{flagged(m1, domain.FlagFlagged), message(mbox, "inbox", "m2")}, Removed: []string{"m1"},
		Next: store.Next{Token: "boom"}, Outbox: true})
	if err == nil {
		t.Fatal("a page whose cursor the database refuses succeeded")
	}
	_, err = s.ApplyEvents(ctx(t), store.EventsPage{Tenant: tenantA, Mailbox: mbox, Window: "w",
		Upserts: []domain.Event{event(mbox, "e1")}, Next: store.Next{Token: "boom"}, Outbox: true})
	if err == nil {
		t.Fatal("an events page whose cursor the database refuses succeeded")
	}
	// A page refused for an unknown folder writes nothing either.
	if _, err := s.ApplyMessages(ctx(t), store.MessagesPage{Tenant: tenantA, Mailbox: mbox, FolderID: "no-such-folder",
		Upserts: []domain.Message{message(mbox, "", "m3")}, Next: store.Next{Token: "x"}, Outbox: true}); err == nil {
		t.Fatal("a page for an unknown folder succeeded")
	}
	if got := must[[]store.PendingChange](t, "listing")(s.PendingChanges(ctx(t), tenantA, "", 0)); len(got) != 0 {
		t.Errorf("failed pages left %d changes in the outbox: %+v", len(got), got)
	}
	equal(t, "messages after the failed page", must[[]domain.Message](t, "listing")(s.Messages(ctx(t), store.MessageQuery{Tenant: tenantA})), []domain.Message{m1})
	cursorIs(t, s, domain.CursorKey{Tenant: tenantA, Mailbox: mbox, Kind: domain.CursorMessages, Scope: "inbox"}, "good", false, 0)

	// The same page with a cursor the database takes: all of it is saved.
	c := must[store.Counts](t, "the page again")(s.ApplyMessages(ctx(t), store.MessagesPage{Tenant: tenantA, Mailbox: mbox, FolderID: "inbox",
		Upserts: []domain.Message{flagged(m1, domain.FlagFlagged), message(mbox, "inbox", "m2")}, Removed: []string{"m1"},
		Next: store.Next{Token: "fine"}, Outbox: true}))
	counts(t, "the page again", c, 1, 1, 0, 1)
	pendingIs(t, "the outbox of the page saved", must[[]store.PendingChange](t, "listing")(s.PendingChanges(ctx(t), tenantA, mbox, 0)), []store.PendingChange{
		pending(tenantA, domain.KindMessage, mbox, "m1", domain.ChangeUpdated, domain.FlagNotFlagged, false),
		pending(tenantA, domain.KindMessage, mbox, "m2", domain.ChangeCreated, "", false),
		pending(tenantA, domain.KindMessage, mbox, "m1", domain.ChangeDeleted, domain.FlagFlagged, false),
	})
}

// A page as large as Graph's largest with the outbox: every change gets
// its row, in page order.
func testOutboxLargePage(t *testing.T, h *harness) {
	s := h.open()
	mbox := "u-ceo"
	folders(t, s, tenantA, mbox, "f1", folder(mbox, "inbox", "", domain.FolderInbox))
	page := make([]domain.Message, largePage)
	for i := range page {
		page[i] = flagged(message(mbox, "inbox", permuted("m", i, largePage)), domain.FlagNotFlagged)
	}
	apply := func(token string) store.Counts {
		return must[store.Counts](t, "applying "+token)(s.ApplyMessages(ctx(t), store.MessagesPage{Tenant: tenantA, Mailbox: mbox, FolderID: "inbox",
			Upserts: page, Next: store.Next{Token: token}, Outbox: true}))
	}
	apply("p1")
	got := must[[]store.PendingChange](t, "listing")(s.PendingChanges(ctx(t), tenantA, mbox, 0))
	if len(got) != largePage {
		t.Fatalf("a page of %d new messages left %d changes in the outbox", largePage, len(got))
	}
	if err := s.AckChanges(ctx(t), tenantA, seqs(got)); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < len(page); i += 2 {
		page[i].Flag.Status = domain.FlagFlagged
	}
	c := apply("p2")
	got = must[[]store.PendingChange](t, "listing")(s.PendingChanges(ctx(t), tenantA, mbox, 0))
	if len(got) != largePage/2 || len(c.Changes) != largePage/2 {
		t.Fatalf("flagging %d messages: %d changes, %d in the outbox", largePage/2, len(c.Changes), len(got))
	}
	for i, pc := range got {
		if pc.Change != c.Changes[i] || pc.PrevFlag != domain.FlagNotFlagged {
			t.Fatalf("outbox change %d of %d is %+v, want %+v with PrevFlag notFlagged", i+1, len(got), pc, c.Changes[i])
		}
	}
}

func testReadsByID(t *testing.T, h *harness) {
	s := h.open()
	mbox, other := "u-mgr", "u-ceo"
	folders(t, s, tenantA, mbox, "f1", folder(mbox, "inbox", "", domain.FolderInbox), folder(mbox, "projects", "inbox", ""))
	folders(t, s, tenantA, other, "f1", folder(other, "inbox", "", domain.FolderInbox))
	m1, m2 := message(mbox, "inbox", "m1"), message(mbox, "projects", "m2")
	m2.Body = &domain.MessageBody{ContentType: "text", Content: "hello"}
	must[store.Counts](t, "inbox")(s.ApplyMessages(ctx(t), store.MessagesPage{Tenant: tenantA, Mailbox: mbox, FolderID: "inbox",
		Upserts: []domain.Message{m1}, Next: store.Next{Token: "i"}}))
	must[store.Counts](t, "projects")(s.ApplyMessages(ctx(t), store.MessagesPage{Tenant: tenantA, Mailbox: mbox, FolderID: "projects",
		Upserts: []domain.Message{m2}, Next: store.Next{Token: "p"}}))
	must[store.Counts](t, "other mailbox")(s.ApplyMessages(ctx(t), store.MessagesPage{Tenant: tenantA, Mailbox: other, FolderID: "inbox",
		Upserts: []domain.Message{message(other, "inbox", "m3")}, Next: store.Next{Token: "o"}}))

	got := must[map[string]domain.Message](t, "MessagesByID")(s.MessagesByID(ctx(t), tenantA, mbox, []string{"m2", "m1", "missing", "m1", "m3"}))
	equal(t, "messages by ID", got, map[string]domain.Message{"m1": m1, "m2": m2})
	if got := must[map[string]domain.Message](t, "MessagesByID")(s.MessagesByID(ctx(t), tenantB, mbox, []string{"m1"})); len(got) != 0 {
		t.Errorf("another tenant's read by ID found %d messages", len(got))
	}
	if got := must[map[string]domain.Message](t, "MessagesByID")(s.MessagesByID(ctx(t), tenantA, mbox, nil)); got == nil || len(got) != 0 {
		t.Errorf("a read of no IDs returned %v, want an empty map", got)
	}

	e1 := event(mbox, "e1", attendee("a@contoso.com", domain.ResponseAccepted), attendee("b@contoso.com", domain.ResponseNone))
	e2 := event(mbox, "e2")
	e3 := event(mbox, "e3", attendee("c@contoso.com", domain.ResponseDeclined))
	must[store.Counts](t, "events")(s.ApplyEvents(ctx(t), store.EventsPage{Tenant: tenantA, Mailbox: mbox, Window: "w",
		Upserts: []domain.Event{e1, e2, e3}, Next: store.Next{Token: "e"}}))
	must[store.Counts](t, "other events")(s.ApplyEvents(ctx(t), store.EventsPage{Tenant: tenantA, Mailbox: other, Window: "w",
		Upserts: []domain.Event{event(other, "e1", attendee("z@contoso.com", domain.ResponseNone))}, Next: store.Next{Token: "e"}}))
	equal(t, "events by ID", must[map[string]domain.Event](t, "EventsByID")(s.EventsByID(ctx(t), tenantA, mbox, []string{"e1", "e2", "nope"})),
		map[string]domain.Event{"e1": e1, "e2": e2})

	f, found, err := s.Folder(ctx(t), tenantA, mbox, "projects")
	if err != nil || !found {
		t.Fatalf("reading a folder: found %v, err %v", found, err)
	}
	equal(t, "folder", f, folder(mbox, "projects", "inbox", ""))
	if _, found, err := s.Folder(ctx(t), tenantA, other, "projects"); err != nil || found {
		t.Errorf("another mailbox's folder: found %v, err %v; want not found", found, err)
	}
	if _, err := s.MessagesByID(ctx(t), tenantA, "", []string{"m1"}); !errors.Is(err, store.ErrInvalidRecord) {
		t.Errorf("a read by ID without a mailbox: err = %v, want ErrInvalidRecord", err)
	}
}

func testConversationMessages(t *testing.T, h *harness) {
	s := h.open()
	mbox, other := "u-mgr", "u-ceo"
	folders(t, s, tenantA, mbox, "f1", folder(mbox, "inbox", "", domain.FolderInbox), folder(mbox, "sent", "", domain.FolderSentItems))
	folders(t, s, tenantA, other, "f1", folder(other, "inbox", "", domain.FolderInbox))
	t1, t2, t3 := base, base.Add(time.Hour), base.Add(2*time.Hour)
	in := func(folderID, id, conv string, received, sent time.Time) domain.Message {
		m := message(mbox, folderID, id)
		m.ConversationID, m.ReceivedAt, m.SentAt = conv, received, sent
		return m
	}
	a := in("inbox", "a", "c1", t1, t1.Add(-time.Minute))
	b := in("inbox", "b", "c1", t3, t1)         // received last, whatever it was sent
	c := in("sent", "c", "c1", time.Time{}, t2) // sent, never received: by SentAt
	d := in("sent", "d", "c1", t2, t3)          // same time as c: by ID
	noTime := in("inbox", "e", "c1", time.Time{}, time.Time{})
	otherConv := in("inbox", "f", "c2", t2, t2)
	must[store.Counts](t, "inbox")(s.ApplyMessages(ctx(t), store.MessagesPage{Tenant: tenantA, Mailbox: mbox, FolderID: "inbox",
		Upserts: []domain.Message{b, a, noTime, otherConv}, Next: store.Next{Token: "i"}}))
	must[store.Counts](t, "sent")(s.ApplyMessages(ctx(t), store.MessagesPage{Tenant: tenantA, Mailbox: mbox, FolderID: "sent",
		Upserts: []domain.Message{d, c}, Next: store.Next{Token: "s"}}))
	elsewhere := message(other, "inbox", "g")
	elsewhere.ConversationID, elsewhere.ReceivedAt = "c1", t3
	must[store.Counts](t, "other mailbox")(s.ApplyMessages(ctx(t), store.MessagesPage{Tenant: tenantA, Mailbox: other, FolderID: "inbox",
		Upserts: []domain.Message{elsewhere}, Next: store.Next{Token: "o"}}))

	conv := func(after time.Time) []string {
		t.Helper()
		var ids []string
		for _, m := range must[[]domain.Message](t, "ConversationMessages")(s.ConversationMessages(ctx(t), tenantA, mbox, "c1", after)) {
			ids = append(ids, m.ID)
		}
		return ids
	}
	equal(t, "the whole conversation", conv(time.Time{}), []string{"a", "c", "d", "b"})
	equal(t, "after a nanosecond before the first", conv(t1.Add(-time.Nanosecond)), []string{"a", "c", "d", "b"})
	equal(t, "after exactly the first", conv(t1), []string{"c", "d", "b"})
	equal(t, "after the first and half a microsecond", conv(t1.Add(500*time.Nanosecond)), []string{"c", "d", "b"})
	equal(t, "after the first, in another zone", conv(t1.In(time.FixedZone("CET", 3600))), []string{"c", "d", "b"})
	equal(t, "after the second", conv(t2), []string{"b"})
	equal(t, "after a microsecond before the last", conv(t3.Add(-time.Microsecond)), []string{"b"})
	equal(t, "after the last", conv(t3), []string(nil))
	got := must[[]domain.Message](t, "ConversationMessages")(s.ConversationMessages(ctx(t), tenantA, mbox, "c1", t2))
	equal(t, "the messages read", got, []domain.Message{b})
}

func testRecipeRuns(t *testing.T, h *harness) {
	s := h.open()
	run := store.RecipeRun{RunID: "run-1", Tenant: tenantA, Recipe: "flag-escalation", Mailbox: "u-mgr", ItemID: "m1", ChangeKey: "ck1",
		MessageKey: "0123456789abcdef0123456789abcdef", Trigger: []byte(`{"kind":"message","id":"m1"}`), Status: "running", Step: "check", CreatedAt: base, UpdatedAt: base}
	if err := s.SaveRun(ctx(t), run); err != nil {
		t.Fatal(err)
	}
	got, found, err := s.Run(ctx(t), "run-1")
	if err != nil || !found {
		t.Fatalf("reading a saved run: found %v, err %v", found, err)
	}
	equal(t, "the run saved", got, run)

	// The run moves on; saving it again (a change delivered twice, a
	// retried activity) does not fail and changes nothing: the first
	// writer's Trigger and CreatedAt stay, and the run is not moved back.
	if err := s.UpdateRun(ctx(t), "run-1", "waiting", "wait-reply", ""); err != nil {
		t.Fatal(err)
	}
	want, _, _ := s.Run(ctx(t), "run-1")
	second := run
	second.Trigger, second.CreatedAt, second.UpdatedAt = []byte(`{"kind":"message","id":"other"}`), base.Add(time.Hour), base.Add(time.Hour)
	second.Recipe, second.ItemID, second.MessageKey = "another-recipe", "m2", "another-key"
	if err := s.SaveRun(ctx(t), second); err != nil {
		t.Fatalf("saving a run again: %v", err)
	}
	got, _, _ = s.Run(ctx(t), "run-1")
	equal(t, "the run saved twice", got, want)
	if got.Status != "waiting" || string(got.Trigger) != string(run.Trigger) || !got.CreatedAt.Equal(base) {
		t.Errorf("the run saved again: %+v; want the first Trigger and CreatedAt, status waiting", got)
	}

	before := time.Now().Add(-time.Second)
	if err := s.UpdateRun(ctx(t), "run-1", "failed", "send", "graph refused the send: 403"); err != nil {
		t.Fatal(err)
	}
	got, _, _ = s.Run(ctx(t), "run-1")
	if got.Status != "failed" || got.Step != "send" || got.Reason != "graph refused the send: 403" {
		t.Errorf("the run after UpdateRun: %+v", got)
	}
	if got.UpdatedAt.Before(before) || !got.CreatedAt.Equal(base) || string(got.Trigger) != string(run.Trigger) {
		t.Errorf("UpdateRun: UpdatedAt %v (want about now), CreatedAt %v (want %v), Trigger %s", got.UpdatedAt, got.CreatedAt, base, got.Trigger)
	}
	if err := s.UpdateRun(ctx(t), "no-such-run", "failed", "", ""); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("updating an unknown run: err = %v, want ErrNotFound", err)
	}
	if _, found, err := s.Run(ctx(t), "no-such-run"); err != nil || found {
		t.Errorf("reading an unknown run: found %v, err %v", found, err)
	}

	// A run saved without times or trigger gets the store's clock and nil.
	if err := s.SaveRun(ctx(t), store.RecipeRun{RunID: "run-bare", Tenant: tenantB, Recipe: "r", Status: "skipped", Reason: "disabled"}); err != nil {
		t.Fatal(err)
	}
	bare, _, _ := s.Run(ctx(t), "run-bare")
	if bare.CreatedAt.Before(before) || !bare.UpdatedAt.Equal(bare.CreatedAt) || bare.Trigger != nil {
		t.Errorf("a run saved without times: %+v; want CreatedAt = UpdatedAt = now and a nil Trigger", bare)
	}

	for i, r := range []store.RecipeRun{
		{RunID: "run-2", Tenant: tenantA, Recipe: "flag-escalation", Status: "completed", CreatedAt: base.Add(2 * time.Hour)},
		{RunID: "run-3", Tenant: tenantA, Recipe: "auto-file", Status: "completed", CreatedAt: base.Add(3 * time.Hour)},
		{RunID: "run-0", Tenant: tenantA, Recipe: "flag-escalation", Status: "completed", CreatedAt: base.Add(-time.Hour)},
	} {
		if err := s.SaveRun(ctx(t), r); err != nil {
			t.Fatalf("saving run %d: %v", i, err)
		}
	}
	ids := func(runs []store.RecipeRun, err error) []string {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, r := range runs {
			out = append(out, r.RunID)
		}
		return out
	}
	equal(t, "the tenant's runs, newest first", ids(s.Runs(ctx(t), tenantA, "", 0)), []string{"run-3", "run-2", "run-1", "run-0"})
	equal(t, "one recipe's runs", ids(s.Runs(ctx(t), tenantA, "flag-escalation", 0)), []string{"run-2", "run-1", "run-0"})
	equal(t, "the two newest", ids(s.Runs(ctx(t), tenantA, "flag-escalation", 2)), []string{"run-2", "run-1"})
	equal(t, "the other tenant's runs", ids(s.Runs(ctx(t), tenantB, "", 0)), []string{"run-bare"})

	// Step outputs: upserted by step.
	for _, o := range []struct{ step, out string }{{"check", `{"ok":true}`}, {"send", `{"id":"x"}`}, {"check", `{"ok":false}`}, {"empty", ""}} {
		if err := s.SaveStepOutput(ctx(t), "run-1", o.step, []byte(o.out)); err != nil {
			t.Fatal(err)
		}
	}
	equal(t, "step outputs", must[map[string][]byte](t, "StepOutputs")(s.StepOutputs(ctx(t), "run-1")),
		map[string][]byte{"check": []byte(`{"ok":false}`), "send": []byte(`{"id":"x"}`), "empty": nil})
	equal(t, "step outputs of a run without any", must[map[string][]byte](t, "StepOutputs")(s.StepOutputs(ctx(t), "run-2")), map[string][]byte{})
	if err := s.SaveStepOutput(ctx(t), "no-such-run", "check", []byte(`{}`)); err == nil {
		t.Error("saving a step output of an unknown run succeeded")
	}

	if err := s.SaveRun(ctx(t), store.RecipeRun{Tenant: tenantA, Recipe: "r"}); !errors.Is(err, store.ErrInvalidRecord) {
		t.Errorf("saving a run without an ID: err = %v, want ErrInvalidRecord", err)
	}
}

// testFiredMessageRuns: runs are found by the message key they were saved
// with, per mailbox and tenant, across recipes, oldest first; keys
// without runs, empty keys and runs without a key are not.
func testFiredMessageRuns(t *testing.T, h *harness) {
	s := h.open()
	const k1, k2, k3, none = "k1-0000000000000000000000000000", "k2-0000000000000000000000000000", "k3-0000000000000000000000000000", "k4-0000000000000000000000000000"
	mbox, other := "u-mgr", "u-ceo"
	for _, r := range []store.RecipeRun{
		{RunID: "run-new-m1", Recipe: "any-folder", Mailbox: mbox, ItemID: "m1", ChangeKey: "new", MessageKey: k1, CreatedAt: base},
		// Saved before the run above but created after it: the order is
		// by CreatedAt.
		{RunID: "run-flag-m1-later", Recipe: "flagged", Mailbox: mbox, ItemID: "m1", ChangeKey: "flagged:9", MessageKey: k1, CreatedAt: base.Add(2 * time.Minute)},
		{RunID: "run-flag-m1", Recipe: "flagged", Mailbox: mbox, ItemID: "m1", ChangeKey: "flagged:3", MessageKey: k1, CreatedAt: base.Add(time.Minute)},
		{RunID: "run-new-m2", Recipe: "any-folder", Mailbox: mbox, ItemID: "m2", ChangeKey: "new", MessageKey: k2, CreatedAt: base},
		// The same message in another mailbox, and in another tenant.
		{RunID: "run-other-mailbox", Recipe: "any-folder", Mailbox: other, ItemID: "x1", ChangeKey: "new", MessageKey: k1, CreatedAt: base},
		{RunID: "run-other-tenant", Tenant: tenantB, Recipe: "any-folder", Mailbox: mbox, ItemID: "m1", ChangeKey: "new", MessageKey: k1, CreatedAt: base},
		// A run about no message (a schedule tick) and one in a key not asked for.
		{RunID: "run-schedule", Recipe: "daily", Mailbox: mbox, ItemID: mbox, ChangeKey: "schedule:x", CreatedAt: base},
		{RunID: "run-new-m3", Recipe: "any-folder", Mailbox: mbox, ItemID: "m3", ChangeKey: "new", MessageKey: k3, CreatedAt: base},
	} {
		if r.Tenant == "" {
			r.Tenant = tenantA
		}
		r.Status = "started"
		if err := s.SaveRun(ctx(t), r); err != nil {
			t.Fatalf("saving %s: %v", r.RunID, err)
		}
	}
	// Saving a run again with another key changes nothing (first writer wins).
	if err := s.SaveRun(ctx(t), store.RecipeRun{RunID: "run-new-m2", Tenant: tenantA, Recipe: "any-folder", Mailbox: mbox, MessageKey: none}); err != nil {
		t.Fatal(err)
	}
	fired := func(tenant, mailbox string, keys ...string) map[string][]store.FiredRun {
		t.Helper()
		return must[map[string][]store.FiredRun](t, "FiredMessageRuns")(s.FiredMessageRuns(ctx(t), tenant, mailbox, keys))
	}
	equal(t, "the runs of k1, k2 and a key without runs", fired(tenantA, mbox, k1, none, k2, "", k1), map[string][]store.FiredRun{
		k1: {{Recipe: "any-folder", RunID: "run-new-m1"}, {Recipe: "flagged", RunID: "run-flag-m1"}, {Recipe: "flagged", RunID: "run-flag-m1-later"}},
		k2: {{Recipe: "any-folder", RunID: "run-new-m2"}},
	})
	equal(t, "the other mailbox's runs of k1", fired(tenantA, other, k1, k2), map[string][]store.FiredRun{
		k1: {{Recipe: "any-folder", RunID: "run-other-mailbox"}},
	})
	equal(t, "the other tenant's runs of k1", fired(tenantB, mbox, k1), map[string][]store.FiredRun{
		k1: {{Recipe: "any-folder", RunID: "run-other-tenant"}},
	})
	equal(t, "no keys", fired(tenantA, mbox), map[string][]store.FiredRun{})
	equal(t, "only empty keys (runs without a message are never found)", fired(tenantA, mbox, "", ""), map[string][]store.FiredRun{})
	if got, _, _ := s.Run(ctx(t), "run-new-m2"); got.MessageKey != k2 {
		t.Errorf("run-new-m2 saved again with another key: MessageKey %q, want the first %q", got.MessageKey, k2)
	}
	if _, err := s.FiredMessageRuns(ctx(t), tenantA, "", []string{k1}); !errors.Is(err, store.ErrInvalidRecord) {
		t.Errorf("reading without a mailbox: err = %v, want ErrInvalidRecord", err)
	}
}

func testRecipeDecisions(t *testing.T, h *harness) {
	s := h.open()
	dec := func(recipe, item, change string, fired bool, at time.Time) store.RecipeDecision {
		d := store.RecipeDecision{Tenant: tenantA, Recipe: recipe, ItemID: item, ChangeKey: change, Mailbox: "u-mgr",
			Fired: fired, Reason: "no match: folder is not inbox", Detail: []byte(`{"conditions":[false]}`), At: at}
		if fired {
			d.RunID, d.Reason, d.Detail = "run-"+recipe+"-"+item+"-"+change, "matched", []byte(`{"conditions":[true]}`)
		}
		return d
	}
	first := []store.RecipeDecision{
		dec("r1", "m1", "ck1", false, base),
		dec("r2", "m1", "ck1", true, base.Add(time.Minute)),
		dec("r1", "m2", "", false, base),
		dec("r1", "m1", "ck1", true, base.Add(2*time.Minute)), // the same key again: the last wins
	}
	if err := s.RecordDecisions(ctx(t), first); err != nil {
		t.Fatal(err)
	}
	got := must[[]store.RecipeDecision](t, "Decisions")(s.Decisions(ctx(t), tenantA, "", "m1"))
	equal(t, "decisions about m1, newest first", got, []store.RecipeDecision{first[3], first[1]})
	equal(t, "r1's decisions about m2", must[[]store.RecipeDecision](t, "Decisions")(s.Decisions(ctx(t), tenantA, "r1", "m2")), []store.RecipeDecision{first[2]})

	// Recorded again (the item evaluated again): replaced, not added.
	later := []store.RecipeDecision{dec("r2", "m1", "ck1", false, base.Add(time.Hour)), dec("r2", "m1", "ck2", true, base.Add(2*time.Hour))}
	later[0].Detail = nil
	if err := s.RecordDecisions(ctx(t), later); err != nil {
		t.Fatal(err)
	}
	equal(t, "r2's decisions about m1", must[[]store.RecipeDecision](t, "Decisions")(s.Decisions(ctx(t), tenantA, "r2", "m1")), []store.RecipeDecision{later[1], later[0]})
	if got := must[[]store.RecipeDecision](t, "Decisions")(s.Decisions(ctx(t), tenantB, "", "m1")); len(got) != 0 {
		t.Errorf("another tenant sees %d decisions", len(got))
	}

	// A batch larger than one statement, with the store's clock for At.
	var many []store.RecipeDecision
	for i := range 1300 {
		d := dec("bulk", fmt.Sprintf("item-%04d", i%1000), "ck", i%2 == 0, time.Time{})
		d.Reason = fmt.Sprintf("occurrence %d", i)
		many = append(many, d)
	}
	before := time.Now().Add(-time.Second)
	if err := s.RecordDecisions(ctx(t), many); err != nil {
		t.Fatal(err)
	}
	for _, i := range []int{0, 299, 300, 999} {
		got := must[[]store.RecipeDecision](t, "Decisions")(s.Decisions(ctx(t), tenantA, "bulk", fmt.Sprintf("item-%04d", i)))
		last := i
		if i < 300 {
			last = i + 1000
		}
		if len(got) != 1 || got[0].Reason != fmt.Sprintf("occurrence %d", last) || got[0].At.Before(before) {
			t.Errorf("item-%04d after a large batch: %+v, want one decision, occurrence %d, at about now", i, got, last)
		}
	}

	// A batch with an invalid decision saves nothing.
	bad := []store.RecipeDecision{dec("r9", "m9", "", true, base), {Tenant: tenantA, Recipe: "r9"}}
	if err := s.RecordDecisions(ctx(t), bad); !errors.Is(err, store.ErrInvalidRecord) {
		t.Errorf("a decision without an item: err = %v, want ErrInvalidRecord", err)
	}
	if got := must[[]store.RecipeDecision](t, "Decisions")(s.Decisions(ctx(t), tenantA, "r9", "m9")); len(got) != 0 {
		t.Errorf("a refused batch saved %d decisions", len(got))
	}
	if err := s.RecordDecisions(ctx(t), nil); err != nil {
		t.Errorf("recording no decisions: %v", err)
	}
}

func testRecipeSwitches(t *testing.T, h *harness) {
	s := h.open()
	equal(t, "switches before any", must[map[string]bool](t, "RecipeSwitches")(s.RecipeSwitches(ctx(t), tenantA)), map[string]bool{})
	for _, sw := range []struct {
		tenant, recipe string
		on             bool
	}{{tenantA, "r1", false}, {tenantA, "r2", true}, {tenantA, "r1", true}, {tenantA, "r3", false}, {tenantB, "r1", false}} {
		if err := s.SetRecipeEnabled(ctx(t), sw.tenant, sw.recipe, sw.on); err != nil {
			t.Fatal(err)
		}
	}
	equal(t, "tenant A's switches", must[map[string]bool](t, "RecipeSwitches")(s.RecipeSwitches(ctx(t), tenantA)), map[string]bool{"r1": true, "r2": true, "r3": false})
	equal(t, "tenant B's switches", must[map[string]bool](t, "RecipeSwitches")(s.RecipeSwitches(ctx(t), tenantB)), map[string]bool{"r1": false})
	if err := s.SetRecipeEnabled(ctx(t), tenantA, "", true); !errors.Is(err, store.ErrInvalidRecord) {
		t.Errorf("switching a recipe without a name: err = %v, want ErrInvalidRecord", err)
	}
}

func testReplyWaits(t *testing.T, h *harness) {
	s := h.open()
	mbox, other := "u-mgr", "u-ceo"
	w1 := store.ReplyWait{RunID: "run-1", Tenant: tenantA, Mailbox: mbox, ConversationID: "c1", Since: base}
	w2 := store.ReplyWait{RunID: "run-2", Tenant: tenantA, Mailbox: mbox, ConversationID: "c2", Since: base.Add(time.Hour)}
	w3 := store.ReplyWait{RunID: "run-3", Tenant: tenantA, Mailbox: other, ConversationID: "c1", Since: base.Add(3 * time.Hour)}
	w4 := store.ReplyWait{RunID: "run-4", Tenant: tenantB, Mailbox: mbox, ConversationID: "c1", Since: base}
	for _, w := range []store.ReplyWait{w1, w2, w3, w4} {
		if err := s.AddReplyWait(ctx(t), w); err != nil {
			t.Fatal(err)
		}
	}
	// Added again (the run waits anew): replaced by RunID.
	w1.Since = base.Add(2 * time.Hour)
	if err := s.AddReplyWait(ctx(t), w1); err != nil {
		t.Fatal(err)
	}
	waits := func(tenant, mailbox string, convs ...string) []store.ReplyWait {
		t.Helper()
		return must[[]store.ReplyWait](t, "ReplyWaits")(s.ReplyWaits(ctx(t), tenant, mailbox, convs))
	}
	equal(t, "waits on c1, c2 and an unknown conversation", waits(tenantA, mbox, "c1", "c2", "c9", "c1"), []store.ReplyWait{w2, w1})
	equal(t, "waits on c1 in every mailbox", waits(tenantA, "", "c1"), []store.ReplyWait{w1, w3})
	equal(t, "tenant B's waits", waits(tenantB, "", "c1", "c2"), []store.ReplyWait{w4})
	equal(t, "waits on no conversation", waits(tenantA, mbox), []store.ReplyWait(nil))
	if err := s.DeleteReplyWait(ctx(t), "run-1"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteReplyWait(ctx(t), "run-1"); err != nil {
		t.Errorf("deleting a wait already deleted: %v", err)
	}
	equal(t, "waits after deleting run-1's", waits(tenantA, "", "c1", "c2"), []store.ReplyWait{w2, w3})
	if err := s.AddReplyWait(ctx(t), store.ReplyWait{RunID: "run-5", Tenant: tenantA, Mailbox: mbox}); !errors.Is(err, store.ErrInvalidRecord) {
		t.Errorf("a wait without a conversation: err = %v, want ErrInvalidRecord", err)
	}
}
