package activities

import (
	"context"

	"github.com/outlookflow/outlookflow/domain"
	"github.com/outlookflow/outlookflow/store"
)

// deltaRound is one cursor's delta round, whatever it walks (users, groups,
// a folder's messages, a calendar window, contacts): pages come from the
// saved link and each is saved with the cursor that follows it, so a crash
// resumes at the last saved page and never skips one. A round that starts
// from scratch — a first sync, or Graph having forgotten the token — ends
// with a sweep, because such a round only lists what exists: what the store
// holds beyond it was deleted while no token could say so.
type deltaRound[P interface{ next() store.Next }] struct {
	key domain.CursorKey
	// fetch reads one page: link is the saved next or delta link, "" to
	// start from scratch.
	fetch func(link string) (P, error)
	// save stores a page with its cursor. fromScratch says the round
	// started from scratch, so the page's IDs must be kept for the sweep.
	save func(page P, fromScratch bool) (store.Counts, error)
	// begin, when set, is called as a from-scratch round starts (to forget
	// what an abandoned one remembered).
	begin func()
	// sweep, when set, runs after a from-scratch round completes, with the
	// round's delta link to save as the cursor.
	sweep func(deltaLink string) (store.Counts, error)
}

// roundResult counts what a round did.
type roundResult struct {
	Pages                                 int
	Inserted, Updated, Unchanged, Deleted int
}

func (r *roundResult) add(c store.Counts) {
	r.Inserted += c.Inserted
	r.Updated += c.Updated
	r.Unchanged += c.Unchanged
	r.Deleted += c.Deleted
}

// changed counts inserted, updated and deleted items.
func (r roundResult) changed() int { return r.Inserted + r.Updated + r.Deleted }

// errStore marks a store failure inside a round, so callers tell it from a
// Graph answer they may set aside (a malformed page).
type errStore struct{ err error }

func (e errStore) Error() string { return e.err.Error() }
func (e errStore) Unwrap() error { return e.err }

// follow runs r to the end of its round. A lost token (SyncStateNotFound)
// resets the cursor and starts over once; Graph errors come back as the
// adapter gave them, store errors wrapped in errStore.
func follow[P interface{ next() store.Next }](ctx context.Context, st store.Store, r deltaRound[P]) (roundResult, error) {
	var res roundResult
	cur, _, err := st.Cursor(ctx, r.key)
	if err != nil {
		return res, errStore{retryable("reading cursor "+r.key.String(), err)}
	}
	link := cur.Token
	fromScratch := link == ""
	if fromScratch && r.begin != nil {
		r.begin()
	}
	resynced := false
	for {
		page, err := r.fetch(link)
		if lost(err) && !resynced {
			resynced = true
			if err := st.ResetCursor(ctx, r.key); err != nil {
				return res, errStore{retryable("resetting cursor "+r.key.String(), err)}
			}
			link, fromScratch = "", true
			if r.begin != nil {
				r.begin()
			}
			continue
		}
		if err != nil {
			return res, err
		}
		counts, err := r.save(page, fromScratch)
		if err != nil {
			return res, errStore{retryable("saving a page for cursor "+r.key.String(), err)}
		}
		res.Pages++
		res.add(counts)
		next := page.next()
		if !next.Complete {
			link = next.Token
			continue
		}
		if fromScratch && r.sweep != nil {
			counts, err := r.sweep(next.Token)
			if err != nil {
				return res, errStore{retryable("sweeping for cursor "+r.key.String(), err)}
			}
			res.add(counts)
		}
		return res, nil
	}
}

// sweptRound is the deltaRound of a per-mailbox kind the store lists: a
// from-scratch round remembers the IDs it saw, and its sweep removes the
// stored items (as stored() lists them) it did not see. apply saves a page;
// the sweep hands it a page of removals only.
func sweptRound[T any](key domain.CursorKey, id func(T) string,
	fetch func(link string) (DeltaPage[T], error),
	apply func(DeltaPage[T]) (store.Counts, error),
	stored func() ([]T, error),
) deltaRound[DeltaPage[T]] {
	var seen map[string]bool
	return deltaRound[DeltaPage[T]]{
		key:   key,
		fetch: fetch,
		begin: func() { seen = map[string]bool{} },
		save: func(p DeltaPage[T], fromScratch bool) (store.Counts, error) {
			if fromScratch {
				for _, it := range p.Items {
					seen[id(it)] = true
				}
			}
			return apply(p)
		},
		sweep: func(deltaLink string) (store.Counts, error) {
			items, err := stored()
			if err != nil {
				return store.Counts{}, err
			}
			gone := unseen(items, id, seen)
			if len(gone) == 0 {
				return store.Counts{}, nil
			}
			return apply(DeltaPage[T]{Removed: gone, DeltaLink: deltaLink})
		},
	}
}

// unseen returns the IDs in stored that seen lacks.
func unseen[T any](stored []T, id func(T) string, seen map[string]bool) []string {
	var out []string
	for _, it := range stored {
		if !seen[id(it)] {
			out = append(out, id(it))
		}
	}
	return out
}
