package storetest

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/outlookflow/outlookflow/domain"
	"github.com/outlookflow/outlookflow/store"
)

// largePage is more items than one statement writes (a driver may batch
// rows, and a page's rows must still commit whole and in page order).
const largePage = 2500

// permuted is the i-th of n IDs in an order unlike their sorted one, so page
// order and read order differ.
func permuted(prefix string, i, n int) string {
	return fmt.Sprintf("%s%05d", prefix, (i*7919)%n)
}

func testLargePage(t *testing.T, h *harness) {
	s := h.open()
	mbox := "u-ceo"
	folders(t, s, tenantA, mbox, "f1", folder(mbox, "inbox", "", domain.FolderInbox))
	page := make([]domain.Message, largePage)
	for i := range page {
		page[i] = message(mbox, "inbox", permuted("m", i, largePage))
	}
	apply := func(token string, upserts []domain.Message) store.Counts {
		return must[store.Counts](t, "applying "+token)(s.ApplyMessages(ctx(t), store.MessagesPage{Tenant: tenantA, Mailbox: mbox, FolderID: "inbox",
			Upserts: upserts, Next: store.Next{Token: token}}))
	}
	changesAre := func(what string, got []domain.Change, typ domain.ChangeType, ids []string) {
		t.Helper()
		want := make([]domain.Change, len(ids))
		for i, id := range ids {
			want[i] = domain.Change{Kind: domain.KindMessage, Mailbox: mbox, ItemID: id, Type: typ}
		}
		if len(got) != len(want) {
			t.Errorf("%s: %d changes, want %d", what, len(got), len(want))
			return
		}
		equal(t, what, got, want)
	}
	var all []string
	for _, m := range page {
		all = append(all, m.ID)
	}

	first := apply("p1", page)
	counts(t, "a large page", first, largePage, 0, 0, 0)
	changesAre("changes of a large page", first.Changes, domain.ChangeCreated, all)
	if n := must[int](t, "counting")(s.Count(ctx(t), tenantA, mbox, domain.KindMessage)); n != largePage {
		t.Errorf("Count = %d messages after a page of %d, want %d", n, largePage, largePage)
	}
	replay := apply("p1", page)
	counts(t, "the large page replayed", replay, 0, 0, largePage, 0)
	if len(replay.Changes) != 0 {
		t.Errorf("replaying a large page reported %d changes; a replay must fire nothing", len(replay.Changes))
	}

	// Every third message read: those are updated, in page order.
	changed := append([]domain.Message(nil), page...)
	var updated []string
	for i := 0; i < len(changed); i += 3 {
		changed[i].IsRead = true
		updated = append(updated, changed[i].ID)
	}
	second := apply("p2", changed)
	counts(t, "every third message read", second, 0, len(updated), largePage-len(updated), 0)
	changesAre("changes of every third message read", second.Changes, domain.ChangeUpdated, updated)
	sameItems(t, "messages", must[[]domain.Message](t, "listing")(s.Messages(ctx(t), store.MessageQuery{Tenant: tenantA, Mailbox: mbox})),
		changed, func(m domain.Message) string { return m.ID })
	cursorIs(t, s, domain.CursorKey{Tenant: tenantA, Mailbox: mbox, Kind: domain.CursorMessages, Scope: "inbox"}, "p2", false, 0)

	// Events whose attendees together are more rows than one statement.
	const events, perEvent = 300, 20
	var evs []domain.Event
	for i := range events {
		e := event(mbox, permuted("e", i, events))
		for j := range perEvent {
			e.Attendees = append(e.Attendees, attendee(fmt.Sprintf("a%02d@contoso.com", j), domain.ResponseAccepted))
		}
		evs = append(evs, e)
	}
	applyEvents := func(token string, upserts []domain.Event) store.Counts {
		return must[store.Counts](t, "applying events "+token)(s.ApplyEvents(ctx(t), store.EventsPage{Tenant: tenantA, Mailbox: mbox, Window: "w",
			Upserts: upserts, Next: store.Next{Token: token}}))
	}
	counts(t, "events with many attendees", applyEvents("e1", evs), events, 0, 0, 0)
	// Half the events lose all but their first attendee.
	for i := 0; i < len(evs); i += 2 {
		evs[i].Attendees = evs[i].Attendees[:1]
	}
	counts(t, "events with attendees dropped", applyEvents("e2", evs), 0, events/2, events/2, 0)
	sameItems(t, "events", must[[]domain.Event](t, "listing events")(s.Events(ctx(t), tenantA, mbox)),
		evs, func(e domain.Event) string { return e.ID })
}

// sameItems checks that got, a read ordered by ID, is the items applied,
// naming the first that differs rather than printing them all.
func sameItems[T any](t *testing.T, what string, got, applied []T, id func(T) string) {
	t.Helper()
	want := slices.Clone(applied)
	slices.SortFunc(want, func(a, b T) int { return strings.Compare(id(a), id(b)) })
	if len(got) != len(want) {
		t.Errorf("listed %d %s, want %d", len(got), what, len(want))
		return
	}
	for i := range got {
		if !reflect.DeepEqual(got[i], want[i]) {
			equal(t, fmt.Sprintf("%s %d of %d (%s)", what, i+1, len(got), id(want[i])), got[i], want[i])
			return
		}
	}
}

func testSameIDTwice(t *testing.T, h *harness) {
	s := h.open()
	v := func(n int) domain.User {
		return domain.User{ID: "u-a", UserPrincipalName: "a@contoso.com", DisplayName: fmt.Sprintf("A v%d", n), AccountEnabled: true}
	}
	b := domain.User{ID: "u-b", UserPrincipalName: "b@contoso.com", DisplayName: "B"}
	apply := func(token string, upserts []domain.User, removed []string) store.Counts {
		return must[store.Counts](t, "applying "+token)(s.ApplyUsers(ctx(t), store.UsersPage{Tenant: tenantA, Upserts: upserts, Removed: removed, Next: store.Next{Token: token}}))
	}
	created := func(id string) domain.Change {
		return domain.Change{Kind: domain.KindUser, ItemID: id, Type: domain.ChangeCreated}
	}

	// The last occurrence wins and is the one counted and listed.
	first := apply("p1", []domain.User{v(1), b, v(2)}, nil)
	counts(t, "an ID twice in a new page", first, 2, 0, 0, 0)
	equal(t, "changes of an ID twice", first.Changes, []domain.Change{created("u-b"), created("u-a")})
	equal(t, "users after an ID twice", must[[]domain.User](t, "listing")(s.Users(ctx(t), tenantA)), []domain.User{v(2), b})

	replay := apply("p1", []domain.User{v(1), b, v(2)}, nil)
	counts(t, "the page replayed", replay, 0, 0, 2, 0)
	if len(replay.Changes) != 0 {
		t.Errorf("replaying a page with an ID twice reported changes %+v", replay.Changes)
	}

	// Ending on what is stored is no change, whatever came before it.
	back := apply("p2", []domain.User{v(3), v(2)}, nil)
	counts(t, "a change undone within the page", back, 0, 0, 1, 0)
	if len(back.Changes) != 0 {
		t.Errorf("a page ending on the stored user reported changes %+v", back.Changes)
	}
	equal(t, "users after a change undone within the page", must[[]domain.User](t, "listing")(s.Users(ctx(t), tenantA)), []domain.User{v(2), b})

	forward := apply("p3", []domain.User{v(2), v(3)}, []string{"u-b", "u-b"})
	counts(t, "an update after the stored value, a removal twice", forward, 0, 1, 0, 1)
	equal(t, "changes of an update and a removal twice", forward.Changes, []domain.Change{
		{Kind: domain.KindUser, ItemID: "u-a", Type: domain.ChangeUpdated},
		{Kind: domain.KindUser, ItemID: "u-b", Type: domain.ChangeDeleted},
	})
	equal(t, "users after the update", must[[]domain.User](t, "listing")(s.Users(ctx(t), tenantA)), []domain.User{v(3)})

	// An event twice: its attendees are the last occurrence's.
	mbox := "u-a"
	one := event(mbox, "e1", attendee("a@contoso.com", domain.ResponseNone), attendee("b@contoso.com", domain.ResponseNone))
	two := event(mbox, "e1", attendee("c@contoso.com", domain.ResponseAccepted))
	c := must[store.Counts](t, "an event twice")(s.ApplyEvents(ctx(t), store.EventsPage{Tenant: tenantA, Mailbox: mbox, Window: "w",
		Upserts: []domain.Event{one, two}, Next: store.Next{Token: "e1"}}))
	counts(t, "an event twice", c, 1, 0, 0, 0)
	equal(t, "an event applied twice in a page", must[[]domain.Event](t, "listing")(s.Events(ctx(t), tenantA, mbox)), []domain.Event{two})
}
