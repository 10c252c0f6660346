package activities

import (
	"context"
	"time"

	"github.com/outlookflow/outlookflow/domain"
	"github.com/outlookflow/outlookflow/store"
)

// page is a delta page: it says where its round goes on (next), and can be
// marked as part of a round that started from scratch (scratch), which
// its saved cursor then records.
type page[P any] interface {
	next() store.Next
	scratch() P
	// empty: the page reports no change at all.
	empty() bool
}

// idleCursorRefresh is how long a delta link that reported nothing is kept
// instead of the new one Graph hands back. Reusing it is safe — a delta
// link reports every change since it was issued, and changes are applied
// idempotently — and it spares an idle cursor a write every cycle; the
// link is still renewed this often, so it never ages toward expiry.
const idleCursorRefresh = time.Hour

// deltaRound is one cursor's delta round, whatever it walks (users, groups,
// a folder's messages, a calendar window, contacts): pages come from the
// saved link and each is saved with the cursor that follows it, so a crash
// resumes at the last saved page and never skips one. A round that starts
// from scratch — a first sync, or Graph having forgotten the token — ends
// with a sweep, because such a round only lists what exists: what the store
// holds beyond it was deleted while no token could say so.
type deltaRound[P page[P]] struct {
	key domain.CursorKey
	// fetch reads one page: link is the saved next or delta link, "" to
	// start from scratch. Rounds a mailbox batch drives have none.
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

// walk is a deltaRound under way: where it stands and what it did. It
// moves one answer at a time (take), so rounds can be driven one request
// after another (follow) or many in one $batch (a mailbox's parts).
type walk[P page[P]] struct {
	r  deltaRound[P]
	st store.Store
	// link is the next request's link; complete says it is a delta link
	// (the last round finished), "" means from scratch.
	link        string
	complete    bool
	fromScratch bool
	resynced    bool
	done        bool
	res         roundResult
	// savedAt is when the cursor was last saved.
	savedAt time.Time
}

// startWalk reads the round's saved cursor.
func startWalk[P page[P]](ctx context.Context, st store.Store, r deltaRound[P]) (*walk[P], error) {
	cur, _, err := st.Cursor(ctx, r.key)
	if err != nil {
		return nil, errStore{retryable("reading cursor "+r.key.String(), err)}
	}
	w := &walk[P]{r: r, st: st, link: cur.Token, complete: cur.Complete && cur.Token != "", fromScratch: cur.Token == "", savedAt: cur.UpdatedAt}
	if cur.FromScratch && !cur.Complete && r.sweep != nil {
		// A from-scratch round was interrupted (a worker died): the IDs
		// its earlier pages listed are gone with that worker, and the
		// sweep needs them all, so the round starts over. Its pages are
		// saved already; seeing them again changes nothing.
		w.link, w.fromScratch = "", true
	}
	if w.fromScratch && r.begin != nil {
		r.begin()
	}
	return w, nil
}

// take moves the walk on by one answer: the page Graph gave for w.link, or
// its error. A lost token (SyncStateNotFound) resets the cursor and starts
// over once; any other error ends the walk and comes back — Graph errors as
// the adapter gave them, store errors wrapped in errStore.
func (w *walk[P]) take(ctx context.Context, page P, err error) error {
	if lost(err) && !w.resynced {
		w.resynced = true
		if err := w.st.ResetCursor(ctx, w.r.key); err != nil {
			w.done = true
			return errStore{retryable("resetting cursor "+w.r.key.String(), err)}
		}
		w.link, w.complete, w.fromScratch = "", false, true
		if w.r.begin != nil {
			w.r.begin()
		}
		return nil
	}
	if err != nil {
		w.done = true
		return err
	}
	if w.complete && !w.fromScratch && page.empty() && page.next().Complete && time.Since(w.savedAt) < idleCursorRefresh {
		// Nothing changed since the saved delta link: keep it.
		w.res.Pages++
		w.done = true
		return nil
	}
	if w.fromScratch {
		page = page.scratch()
	}
	counts, err := w.r.save(page, w.fromScratch)
	if err != nil {
		w.done = true
		return errStore{retryable("saving a page for cursor "+w.r.key.String(), err)}
	}
	w.res.Pages++
	w.res.add(counts)
	next := page.next()
	if !next.Complete {
		w.link, w.complete = next.Token, false
		return nil
	}
	w.done = true
	if w.fromScratch && w.r.sweep != nil {
		counts, err := w.r.sweep(next.Token)
		if err != nil {
			return errStore{retryable("sweeping for cursor "+w.r.key.String(), err)}
		}
		w.res.add(counts)
	}
	return nil
}

// follow runs r to the end of its round, one request after another.
func follow[P page[P]](ctx context.Context, st store.Store, r deltaRound[P]) (roundResult, error) {
	w, err := startWalk(ctx, st, r)
	if err != nil {
		return roundResult{}, err
	}
	for !w.done {
		page, err := r.fetch(w.link)
		if err := w.take(ctx, page, err); err != nil {
			return w.res, err
		}
	}
	return w.res, nil
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
