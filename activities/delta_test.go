package activities

import (
	"context"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/outlookflow/outlookflow/domain"
	"github.com/outlookflow/outlookflow/store"
)

// TestAnInterruptedFromScratchRoundStartsOverAndSweeps: Graph forgot a
// cursor's token while a contact was deleted, so only a from-scratch
// round's sweep can notice the delete. The worker dies after the round's
// first page is saved. The next sync must not resume from the saved
// nextLink (it would end without the IDs the first page listed, so without
// a sweep, keeping the deleted contact): it starts the round over, and the
// store ends exact. Real SQLite; Graph is the pages below.
func TestAnInterruptedFromScratchRoundStartsOverAndSweeps(t *testing.T) {
	ctx := context.Background()
	st := openTestStore(t)
	key := domain.CursorKey{Tenant: "t", Mailbox: "m", Kind: domain.CursorContacts}
	contact := func(id string) domain.Contact { return domain.Contact{ID: id, Mailbox: "m", DisplayName: id} }
	apply := func(p ContactsDeltaPage) (store.Counts, error) {
		return st.ApplyContacts(ctx, store.ContactsPage{Tenant: "t", Mailbox: "m", Upserts: p.Items, Removed: p.Removed, Next: p.next()})
	}
	// An earlier round stored a, b and c.
	if _, err := apply(ContactsDeltaPage{Items: []domain.Contact{contact("a"), contact("b"), contact("c")}, DeltaLink: "delta-0"}); err != nil {
		t.Fatal(err)
	}
	// c is deleted while Graph forgets the token: from scratch, Graph
	// lists a, then b.
	if err := st.ResetCursor(ctx, key); err != nil {
		t.Fatal(err)
	}
	pages := map[string]ContactsDeltaPage{
		"":       {Items: []domain.Contact{contact("a")}, NextLink: "next-1"},
		"next-1": {Items: []domain.Contact{contact("b")}, DeltaLink: "delta-1"},
	}
	var asked []string
	round := func() deltaRound[ContactsDeltaPage] {
		return sweptRound(key, func(c domain.Contact) string { return c.ID },
			func(link string) (ContactsDeltaPage, error) {
				asked = append(asked, link)
				return pages[link], nil
			},
			apply,
			func() ([]domain.Contact, error) { return st.Contacts(ctx, "t", "m") })
	}

	// The first worker saves the round's first page, then dies.
	w, err := startWalk(ctx, st, round())
	if err != nil {
		t.Fatal(err)
	}
	first, _ := w.r.fetch(w.link)
	if err := w.take(ctx, first, nil); err != nil {
		t.Fatal(err)
	}
	cur, _, err := st.Cursor(ctx, key)
	if err != nil || cur.Token != "next-1" || !cur.FromScratch {
		t.Fatalf("cursor after the first page: %+v, %v; want next-1 marked from scratch", cur, err)
	}

	// The next worker's sync.
	asked = nil
	res, err := follow(ctx, st, round())
	if err != nil {
		t.Fatal(err)
	}
	stored, err := st.Contacts(ctx, "t", "m")
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, c := range stored {
		ids = append(ids, c.ID)
	}
	slices.Sort(ids)
	if !slices.Equal(ids, []string{"a", "b"}) || !slices.Equal(asked, []string{"", "next-1"}) || res.Deleted != 1 {
		t.Fatalf("after the restarted round: stored %v, links asked %q, %+v; want [a b], the round from the start, c swept", ids, asked, res)
	}
	if cur, _, _ := st.Cursor(ctx, key); cur.Token != "delta-1" || !cur.Complete || cur.FromScratch {
		t.Fatalf("cursor after the round: %+v", cur)
	}
}

// TestAnIdleRoundKeepsItsDeltaLinkWithoutAWrite: a round that reports
// nothing keeps the saved delta link (no store write), one with a change
// saves the new link, and an idle cursor older than idleCursorRefresh is
// renewed.
func TestAnIdleRoundKeepsItsDeltaLinkWithoutAWrite(t *testing.T) {
	ctx := context.Background()
	st := openTestStore(t)
	key := domain.CursorKey{Tenant: "t", Mailbox: "m", Kind: domain.CursorContacts}
	var answer ContactsDeltaPage
	round := sweptRound(key, func(c domain.Contact) string { return c.ID },
		func(string) (ContactsDeltaPage, error) { return answer, nil },
		func(p ContactsDeltaPage) (store.Counts, error) {
			return st.ApplyContacts(ctx, store.ContactsPage{Tenant: "t", Mailbox: "m", Upserts: p.Items, Removed: p.Removed, Next: p.next()})
		},
		func() ([]domain.Contact, error) { return st.Contacts(ctx, "t", "m") })
	token := func() string {
		c, _, err := st.Cursor(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		return c.Token
	}

	answer = ContactsDeltaPage{Items: []domain.Contact{{ID: "a", Mailbox: "m"}}, DeltaLink: "delta-1"}
	if _, err := follow(ctx, st, round); err != nil || token() != "delta-1" {
		t.Fatalf("first round: %v, cursor %q", err, token())
	}
	answer = ContactsDeltaPage{DeltaLink: "delta-2"}
	if _, err := follow(ctx, st, round); err != nil || token() != "delta-1" {
		t.Fatalf("idle round: %v, cursor %q; want delta-1 kept", err, token())
	}
	answer = ContactsDeltaPage{Removed: []string{"a"}, DeltaLink: "delta-3"}
	if _, err := follow(ctx, st, round); err != nil || token() != "delta-3" {
		t.Fatalf("round with a change: %v, cursor %q; want delta-3", err, token())
	}
	// An idle cursor saved longer ago than idleCursorRefresh is renewed.
	w, err := startWalk(ctx, st, round)
	if err != nil {
		t.Fatal(err)
	}
	w.savedAt = w.savedAt.Add(-idleCursorRefresh - time.Minute)
	if err := w.take(ctx, ContactsDeltaPage{DeltaLink: "delta-4"}, nil); err != nil || token() != "delta-4" {
		t.Fatalf("stale idle cursor: %v, cursor %q; want delta-4", err, token())
	}
}

// openTestStore opens a fresh SQLite store for one test.
func openTestStore(t *testing.T) store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), store.Config{Driver: store.DriverSQLite, SQLitePath: filepath.Join(t.TempDir(), "s.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}
