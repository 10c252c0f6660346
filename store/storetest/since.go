package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/outlookflow/outlookflow/domain"
	"github.com/outlookflow/outlookflow/store"
)

// testMessagesSince: a mailbox's messages after a time, across folders,
// newest first by received time (sent time when never received), ties by
// ID, bounded by a limit; other mailboxes and messages without a time are
// never listed.
func testMessagesSince(t *testing.T, h *harness) {
	s := h.open()
	mbox, other := "u-mgr", "u-ceo"
	folders(t, s, tenantA, mbox, "f1", folder(mbox, "inbox", "", domain.FolderInbox), folder(mbox, "sent", "", domain.FolderSentItems))
	folders(t, s, tenantA, other, "f1", folder(other, "inbox", "", domain.FolderInbox))
	t1, t2, t3 := base, base.Add(time.Hour), base.Add(2*time.Hour)
	in := func(folderID, id string, received, sent time.Time) domain.Message {
		m := message(mbox, folderID, id)
		m.ReceivedAt, m.SentAt = received, sent
		return m
	}
	a := in("inbox", "a", t1, t1.Add(-time.Minute))
	b := in("inbox", "b", t3, t1)         // received last, whatever it was sent
	c := in("sent", "c", time.Time{}, t2) // sent, never received: by SentAt
	d := in("sent", "d", t2, t3)          // same time as c: by ID
	noTime := in("inbox", "e", time.Time{}, time.Time{})
	must[store.Counts](t, "inbox")(s.ApplyMessages(ctx(t), store.MessagesPage{Tenant: tenantA, Mailbox: mbox, FolderID: "inbox",
		Upserts: []domain.Message{a, noTime, b}, Next: store.Next{Token: "i"}}))
	must[store.Counts](t, "sent")(s.ApplyMessages(ctx(t), store.MessagesPage{Tenant: tenantA, Mailbox: mbox, FolderID: "sent",
		Upserts: []domain.Message{d, c}, Next: store.Next{Token: "s"}}))
	elsewhere := message(other, "inbox", "g")
	elsewhere.ReceivedAt = t3
	must[store.Counts](t, "other mailbox")(s.ApplyMessages(ctx(t), store.MessagesPage{Tenant: tenantA, Mailbox: other, FolderID: "inbox",
		Upserts: []domain.Message{elsewhere}, Next: store.Next{Token: "o"}}))

	since := func(after time.Time, limit int) []string {
		t.Helper()
		var ids []string
		for _, m := range must[[]domain.Message](t, "MessagesSince")(s.MessagesSince(ctx(t), tenantA, mbox, after, limit)) {
			ids = append(ids, m.ID)
		}
		return ids
	}
	equal(t, "every message with a time", since(time.Time{}, 0), []string{"b", "c", "d", "a"})
	equal(t, "after exactly the first", since(t1, 0), []string{"b", "c", "d"})
	equal(t, "after the first, in another zone", since(t1.In(time.FixedZone("CET", 3600)), 0), []string{"b", "c", "d"})
	equal(t, "after the first and half a microsecond", since(t1.Add(500*time.Nanosecond), 0), []string{"b", "c", "d"})
	equal(t, "after the second", since(t2, 0), []string{"b"})
	equal(t, "after the last", since(t3, 0), []string(nil))
	equal(t, "the newest two", since(time.Time{}, 2), []string{"b", "c"})
	got := must[[]domain.Message](t, "MessagesSince")(s.MessagesSince(ctx(t), tenantA, mbox, t2, 0))
	equal(t, "the messages read", got, []domain.Message{b})
	if got := must[[]domain.Message](t, "MessagesSince")(s.MessagesSince(ctx(t), tenantB, mbox, time.Time{}, 0)); len(got) != 0 {
		t.Errorf("another tenant's read listed %d messages", len(got))
	}
	if _, err := s.MessagesSince(ctx(t), tenantA, "", t1, 0); !errors.Is(err, store.ErrInvalidRecord) {
		t.Errorf("a read without a mailbox: err = %v, want ErrInvalidRecord", err)
	}
}
