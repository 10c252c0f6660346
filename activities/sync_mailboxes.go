package activities

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/outlookflow/outlookflow/domain"
	"github.com/outlookflow/outlookflow/internal/permissions"
	"github.com/outlookflow/outlookflow/store"
)

// SyncMailboxesInput names a batch of mailboxes: Offset and Limit into the
// tenant's mailbox users ordered by ID, or one Mailbox (object ID or UPN).
type SyncMailboxesInput struct {
	TenantKey         string
	CredentialVersion string
	Offset, Limit     int
	Mailbox           string
}

// FolderFailure is a part of a mailbox whose page could not be used — a
// mail folder, or "(calendar)", "(contacts)", "(mailbox settings)", "(folder
// list)" — its cursor did not move, and the rest of the tenant synced anyway.
type FolderFailure struct {
	Mailbox string
	Folder  string
	Reason  string
}

// SyncMailboxesResult counts one batch.
type SyncMailboxesResult struct {
	Mailboxes int
	Folders   int
	Pages     int
	Inserted  int
	Updated   int
	Deleted   int
	// Events and Contacts count the calendar and contact items among
	// Inserted, Updated and Deleted.
	Events   int
	Contacts int
	Failures []FolderFailure
}

func (r *SyncMailboxesResult) add(o SyncMailboxesResult) {
	r.Mailboxes += o.Mailboxes
	r.Folders += o.Folders
	r.Pages += o.Pages
	r.Inserted += o.Inserted
	r.Updated += o.Updated
	r.Deleted += o.Deleted
	r.Events += o.Events
	r.Contacts += o.Contacts
	r.Failures = append(r.Failures, o.Failures...)
}

func (r *SyncMailboxesResult) addRound(o roundResult) {
	r.Pages += o.Pages
	r.Inserted += o.Inserted
	r.Updated += o.Updated
	r.Deleted += o.Deleted
}

// setAside reports a Graph answer that concerns one part of one mailbox
// and that retrying cannot fix: a malformed page, a folder or mailbox that
// is gone (404), a mailbox an application access policy hides (403), a
// request Graph refuses for this mailbox (400). The part is reported as a
// failure, its cursor stays, and the rest of the tenant syncs.
func setAside(err error) (*GraphError, bool) {
	var ge *GraphError
	if !errors.As(err, &ge) {
		return nil, false
	}
	switch ge.Kind {
	case KindMalformed, KindNotFound, KindForbidden, KindBadRequest:
		return ge, true
	}
	return nil, false
}

// part runs one part of a mailbox's sync: a failure setAside accepts
// becomes a FolderFailure; any other error ends the batch (Temporal
// retries it and the saved cursors resume it).
func (r *SyncMailboxesResult) part(mailbox, name string, err error) error {
	if err == nil {
		return nil
	}
	if ge, ok := setAside(err); ok {
		r.Failures = append(r.Failures, FolderFailure{Mailbox: mailbox, Folder: name, Reason: ge.Error()})
		return nil
	}
	var se errStore
	if errors.As(err, &se) {
		return se.err
	}
	return ToTemporal(err)
}

// SyncMailboxes syncs a batch of mailboxes, several at once: per mailbox,
// what the tenant's features enable — mail folders and message metadata,
// the calendar window, mailbox settings, contacts. Every page commits with
// its cursor, so a retry (after a crash or throttling that outlasted the
// SDK's own retries) resumes each part where it stopped.
func (a *Sync) SyncMailboxes(ctx context.Context, in SyncMailboxesInput) (SyncMailboxesResult, error) {
	var (
		creds    Credentials
		settings TenantSettings
		err      error
	)
	delegatedTenant := false
	if s, ok := a.Tenants.Tenant(in.TenantKey); ok && s.AuthMode == AuthDelegated {
		settings, delegatedTenant = s, true
	} else if creds, settings, err = a.credentials(in.TenantKey, in.CredentialVersion); err != nil {
		return SyncMailboxesResult{}, err
	}
	mailboxes, err := a.batch(ctx, in)
	if err != nil {
		return SyncMailboxesResult{}, err
	}
	defer KeepAlive(ctx)()
	log := a.Log.With(zap.String("tenant", in.TenantKey))
	job := mailboxJob{Sync: a, creds: creds, settings: settings, tenant: in.TenantKey, now: time.Now()}

	var (
		mu       sync.Mutex
		total    SyncMailboxesResult
		firstErr error
	)
	if delegatedTenant {
		// Each mailbox is its own user's, read with their token; users
		// not connected wait (their cursors stay).
		if mailboxes, err = a.connectedMailboxes(ctx, in.TenantKey, mailboxes, &total); err != nil {
			return total, err
		}
	}
	inParallel(mailboxes, a.MailboxParallelism, func(mailbox string) {
		j := job
		if delegatedTenant {
			c, err := a.delegatedCredentials(ctx, in.TenantKey, settings, mailbox)
			if err != nil {
				mu.Lock()
				defer mu.Unlock()
				total.Failures = append(total.Failures, FolderFailure{Mailbox: mailbox, Folder: "*", Reason: "the user's tokens: " + err.Error()})
				return
			}
			j.creds = c
		}
		r, err := j.mailbox(ctx, mailbox)
		mu.Lock()
		defer mu.Unlock()
		total.add(r)
		if err != nil && firstErr == nil {
			firstErr = err
		}
	})
	for _, f := range total.Failures {
		log.Warn("mailbox part unusable; its cursor stays", zap.String("mailbox", f.Mailbox), zap.String("part", f.Folder), zap.String("reason", f.Reason))
	}
	return total, firstErr
}

// mailboxJob is what every mailbox of a batch shares.
type mailboxJob struct {
	*Sync
	creds    Credentials
	settings TenantSettings
	tenant   string
	now      time.Time
}

// mailbox brings one mailbox up to date. Its delta cursors — the folder
// list, each folder's messages, the calendar window, contacts — are its
// parts; they move together, one page each per $batch round trip, so an
// idle mailbox costs one round trip and a first sync a few.
func (j mailboxJob) mailbox(ctx context.Context, mailbox string) (SyncMailboxesResult, error) {
	res := SyncMailboxesResult{Mailboxes: 1}
	release, err := j.lease(ctx, mailbox)
	if err != nil {
		return res, err
	}
	defer release()
	b := &mailboxBatch{job: j, mailbox: mailbox, res: &res}
	b.outboxMail, b.outboxEvents = j.Triggers.Wants(j.tenant)
	if b.outboxMail || b.outboxEvents {
		initial, err := j.firstSync(ctx, mailbox)
		if err != nil {
			return res, err
		}
		b.initial = initial
	}
	if j.settings.Has(permissions.FeatureMail) {
		if err := b.addMail(ctx); err != nil {
			return res, err
		}
	}
	if j.settings.Has(permissions.FeatureCalendar) {
		if err := b.addCalendar(ctx); err != nil {
			return res, err
		}
	}
	if j.settings.Has(permissions.FeatureContacts) {
		if err := b.addContacts(ctx); err != nil {
			return res, err
		}
	}
	err = b.run(ctx)
	b.count()
	if err != nil {
		return res, err
	}
	if b.outboxMail || b.outboxEvents {
		// The pages are saved and their changes are in the outbox: match
		// them against the tenant's recipes now. A failure here fails the
		// mailbox; its retry finds the same outbox and starts nothing
		// twice.
		if _, err := j.Triggers.Dispatch(ctx, j.tenant, mailbox); err != nil {
			return res, err
		}
	}
	if j.settings.Has(permissions.FeatureMailboxSettings) {
		changed, err := j.mailboxSettings(ctx, mailbox)
		res.Updated += changed
		if err := res.part(mailbox, "(mailbox settings)", err); err != nil {
			return res, err
		}
	}
	return res, nil
}

// firstSync reports whether the mailbox has never been synced through: its
// folder list (or, without mail, its calendar) has no round that ever
// completed and was never reset. Its changes then list what was already
// there, which no trigger treats as new.
func (j mailboxJob) firstSync(ctx context.Context, mailbox string) (bool, error) {
	key := domain.CursorKey{Tenant: j.tenant, Mailbox: mailbox, Kind: domain.CursorFolders}
	if !j.settings.Has(permissions.FeatureMail) {
		_, _, window := CalendarWindow(j.now, j.settings.CalendarPast, j.settings.CalendarFuture)
		key = domain.CursorKey{Tenant: j.tenant, Mailbox: mailbox, Kind: domain.CursorEvents, Scope: window}
	}
	return j.neverCompleted(ctx, key)
}

// neverCompleted reports whether the cursor has no round that ever
// completed and was never reset: its pages enumerate what was there.
func (j mailboxJob) neverCompleted(ctx context.Context, key domain.CursorKey) (bool, error) {
	cur, found, err := j.Store.Cursor(ctx, key)
	if err != nil {
		return false, retryable("reading cursor "+key.String(), err)
	}
	everCompleted := cur.Complete || (cur.Token != "" && !cur.FromScratch)
	return !found || (!everCompleted && cur.Resyncs == 0), nil
}

// pageInitial is OutboxInitial for the pages of one cursor: set only while
// the mailbox is in its first sync and this very cursor is still in its
// first round. A cursor that already completed brings new changes even
// when another part of the mailbox is still enumerating (a manual sync
// overlapping a long first sync must not mark new mail as already there).
func (b *mailboxBatch) pageInitial(ctx context.Context, key domain.CursorKey) (bool, error) {
	if !b.initial {
		return false, nil
	}
	return b.job.neverCompleted(ctx, key)
}

// Batch sizing. A batch holds at most 20 requests (Graph's limit) and
// about batchItemBudget items by estimate, so a mailbox in flight holds a
// few thousand items in memory, not 20 full pages.
const (
	maxBatchRequests = 20
	batchItemBudget  = 3000
	fullPage         = 1000 // what a nextLink or an unknown first page may bring
	idlePage         = 20   // what a delta link usually brings
)

// mailboxPart is one of a mailbox's delta cursors, walked in the mailbox's
// batches.
type mailboxPart struct {
	name string // in failures: a folder ID, or "(calendar)", "(folder list)"…
	kind domain.CursorKind
	// size estimates a first page (a folder's item count), 0 if unknown.
	size int
	walk interface {
		position() (link string, complete bool)
	}
	request func(link string) DeltaRequest
	take    func(ctx context.Context, a DeltaAnswer) error
	result  func() roundResult
	// finished: its round ended; failed: Graph's answer for it was set
	// aside; dropped: its folder is gone.
	finished, failed, dropped bool
}

func (p *mailboxPart) over() bool { return p.finished || p.failed || p.dropped }

// estimate is how many items the part's next page may bring.
func (p *mailboxPart) estimate() int {
	switch link, complete := p.walk.position(); {
	case complete:
		return idlePage
	case link == "" && p.size > 0:
		return min(p.size, fullPage)
	default:
		return fullPage
	}
}

func (w *walk[P]) position() (string, bool) { return w.link, w.complete }

// newPart binds a round to its place in a batch: request turns its link
// into a DeltaRequest, pick takes its page out of an answer.
func newPart[P page[P]](ctx context.Context, st store.Store, name string, kind domain.CursorKind, r deltaRound[P],
	request func(link string) DeltaRequest, pick func(DeltaAnswer) P) (*mailboxPart, error) {
	w, err := startWalk(ctx, st, r)
	if err != nil {
		return nil, err
	}
	p := &mailboxPart{name: name, kind: kind, walk: w, request: request, result: func() roundResult { return w.res }}
	p.take = func(ctx context.Context, a DeltaAnswer) error {
		err := w.take(ctx, pick(a), a.Err)
		p.finished = w.done
		return err
	}
	return p, nil
}

// mailboxBatch drives one mailbox's parts.
type mailboxBatch struct {
	job     mailboxJob
	mailbox string
	res     *SyncMailboxesResult
	parts   []*mailboxPart
	// folders holds a message part per folder, by folder ID.
	folders map[string]*mailboxPart
	// outboxMail and outboxEvents: the tenant has recipes on mail or
	// calendar changes, so the pages record their changes in the trigger
	// outbox. initial: this is the mailbox's first sync, whose changes are
	// what was already there (no new mail, no calendar changes).
	outboxMail, outboxEvents, initial bool
}

// run sends the parts' next requests in batches until every part is over.
// A part whose answer setAside accepts becomes a failure; anything else
// ends the mailbox (Temporal retries it and the saved cursors resume it).
func (b *mailboxBatch) run(ctx context.Context) error {
	for round := 0; ; round++ {
		if round > 0 {
			if err := b.job.renewLease(ctx, b.mailbox); err != nil {
				return err
			}
		}
		var batch []*mailboxPart
		items := 0
		for _, p := range b.parts {
			if p.over() || len(batch) == maxBatchRequests {
				continue
			}
			if e := p.estimate(); len(batch) == 0 || items+e <= batchItemBudget {
				batch = append(batch, p)
				items += e
			}
		}
		if len(batch) == 0 {
			return nil
		}
		if err := b.step(ctx, batch, items); err != nil {
			return err
		}
	}
}

// step sends one batch and takes its answers, holding its items' share of
// the process's memory budget meanwhile.
func (b *mailboxBatch) step(ctx context.Context, batch []*mailboxPart, items int) error {
	release, err := b.job.holdItems(ctx, items)
	if err != nil {
		return ToTemporal(err)
	}
	defer release()
	reqs := make([]DeltaRequest, len(batch))
	for i, p := range batch {
		link, _ := p.walk.position()
		reqs[i] = p.request(link)
	}
	answers, err := b.job.Graph.MailboxDeltas(ctx, b.job.creds, b.mailbox, reqs)
	if err != nil {
		if _, ok := setAside(err); !ok {
			return b.res.part(b.mailbox, "", err)
		}
		// The batch's answer as a whole is unusable: its parts stop for
		// this run, their cursors where they were.
		for _, p := range batch {
			_ = b.res.part(b.mailbox, p.name, err)
			p.failed = true
		}
		return nil
	}
	if len(answers) != len(batch) {
		return ToTemporal(fmt.Errorf("mailbox %s: %d answers for %d requests", b.mailbox, len(answers), len(batch)))
	}
	// The folder list comes first in parts, so a folder it removes is
	// dropped before its own answer in this batch is used.
	for i, p := range batch {
		if p.dropped {
			continue
		}
		answers[i].load()
		err := p.take(ctx, answers[i])
		answers[i] = DeltaAnswer{} // the page is saved: let it go
		if err != nil {
			if err := b.res.part(b.mailbox, p.name, err); err != nil {
				return err
			}
			p.failed = true
		}
	}
	return nil
}

// count adds the parts' rounds to the mailbox's result.
func (b *mailboxBatch) count() {
	for _, p := range b.parts {
		if p.dropped {
			continue
		}
		r := p.result()
		b.res.addRound(r)
		switch p.kind {
		case domain.CursorEvents:
			b.res.Events += r.changed()
		case domain.CursorContacts:
			b.res.Contacts += r.changed()
		case domain.CursorMessages:
			if !p.failed {
				b.res.Folders++
			}
		}
	}
}

// legacyListingToken is the folders cursor an earlier version saved after
// a full listing; the folder delta starts from scratch after it.
const legacyListingToken = "listing"

// addMail adds the folder list (folder delta) and a message delta per
// stored folder; folders the folder delta adds or removes gain or lose
// their part as its pages arrive.
func (b *mailboxBatch) addMail(ctx context.Context) error {
	j, mailbox := b.job, b.mailbox
	stored, err := j.Store.Folders(ctx, j.tenant, mailbox)
	if err != nil {
		return retryable("reading folders", err)
	}
	// Well-known names are resolved once per mailbox (one $batch); the
	// folder delta does not carry them, so every upsert keeps the stored one.
	names := make(map[string]string, len(stored))
	hasInbox := false
	for _, f := range stored {
		if f.WellKnownName != "" {
			names[f.ID] = f.WellKnownName
		}
		hasInbox = hasInbox || f.WellKnownName == domain.FolderInbox
	}
	if !hasInbox {
		resolved, err := j.Graph.WellKnownFolders(ctx, j.creds, mailbox)
		if err := b.res.part(mailbox, "(well-known folders)", err); err != nil {
			return err
		}
		maps.Copy(names, resolved)
	}
	round := sweptRound(domain.CursorKey{Tenant: j.tenant, Mailbox: mailbox, Kind: domain.CursorFolders},
		func(f domain.MailFolder) string { return f.ID }, nil,
		func(p FoldersDeltaPage) (store.Counts, error) {
			for i := range p.Items {
				p.Items[i].WellKnownName = names[p.Items[i].ID]
			}
			return j.Store.ApplyFolders(ctx, store.FoldersPage{Tenant: j.tenant, Mailbox: mailbox, Upserts: parentsFirst(p.Items), Removed: p.Removed, Next: p.next()})
		},
		// What the store held before this round: a from-scratch round
		// that does not list a folder means it is gone.
		func() ([]domain.MailFolder, error) { return stored, nil })
	list, err := newPart(ctx, j.Store, "(folder list)", domain.CursorFolders, round,
		func(link string) DeltaRequest {
			if link == legacyListingToken {
				link = ""
			}
			return DeltaRequest{Kind: domain.CursorFolders, Link: link}
		},
		func(a DeltaAnswer) FoldersDeltaPage { return a.Folders })
	if err != nil {
		return err
	}
	take := list.take
	list.take = func(ctx context.Context, a DeltaAnswer) error {
		before := list.result().changed()
		if err := take(ctx, a); err != nil {
			return err
		}
		if list.result().changed() == before {
			return nil
		}
		folders, err := j.Store.Folders(ctx, j.tenant, mailbox)
		if err != nil {
			return errStore{retryable("reading folders", err)}
		}
		return b.setFolders(ctx, folders)
	}
	b.parts = append(b.parts, list)
	return b.setFolders(ctx, stored)
}

// setFolders gives each folder a message part and drops the parts of
// folders that are gone.
func (b *mailboxBatch) setFolders(ctx context.Context, folders []domain.MailFolder) error {
	if b.folders == nil {
		b.folders = map[string]*mailboxPart{}
	}
	present := make(map[string]bool, len(folders))
	for _, f := range folders {
		present[f.ID] = true
		if _, ok := b.folders[f.ID]; ok {
			continue
		}
		p, err := b.folderPart(ctx, f)
		if err != nil {
			return err
		}
		b.folders[f.ID] = p
		b.parts = append(b.parts, p)
	}
	for id, p := range b.folders {
		if !present[id] {
			p.dropped = true
		}
	}
	return nil
}

// folderPart walks one folder's message delta.
func (b *mailboxBatch) folderPart(ctx context.Context, f domain.MailFolder) (*mailboxPart, error) {
	j, mailbox, folderID := b.job, b.mailbox, f.ID
	bodies := j.settings.Has(permissions.FeatureMailBodies)
	key := domain.CursorKey{Tenant: j.tenant, Mailbox: mailbox, Kind: domain.CursorMessages, Scope: folderID}
	initial, err := b.pageInitial(ctx, key)
	if err != nil {
		return nil, err
	}
	round := sweptRound(key,
		func(m domain.Message) string { return m.ID }, nil,
		func(p MessagesDeltaPage) (store.Counts, error) {
			return j.Store.ApplyMessages(ctx, store.MessagesPage{Tenant: j.tenant, Mailbox: mailbox, FolderID: folderID, Upserts: p.Items, Removed: p.Removed, Next: p.next(),
				Outbox: b.outboxMail, OutboxInitial: initial})
		},
		func() ([]domain.Message, error) {
			return j.Store.Messages(ctx, store.MessageQuery{Tenant: j.tenant, Mailbox: mailbox, FolderID: folderID})
		})
	p, err := newPart(ctx, j.Store, folderID, domain.CursorMessages, round,
		func(link string) DeltaRequest {
			return DeltaRequest{Kind: domain.CursorMessages, Folder: folderID, Link: link, Bodies: bodies}
		},
		func(a DeltaAnswer) MessagesDeltaPage { return a.Messages })
	if p != nil {
		p.size = f.TotalItemCount
	}
	return p, err
}

// CalendarWindow is the calendar window the sync keeps at now: anchored on
// the Monday of the current week (UTC), so it moves once a week rather
// than every day — each move is one from-scratch round — and it always
// covers at least past back and future ahead. key names it as the events
// cursor's scope.
func CalendarWindow(now time.Time, past, future time.Duration) (from, to time.Time, key string) {
	day := now.UTC().Truncate(24 * time.Hour)
	monday := day.AddDate(0, 0, -((int(day.Weekday()) + 6) % 7))
	from = monday.Add(-past)
	to = monday.AddDate(0, 0, 7).Add(future)
	return from, to, from.Format("2006-01-02") + "/" + to.Format("2006-01-02")
}

// addCalendar adds the mailbox's calendarView delta over this week's
// window. A new window starts from scratch; its sweep drops events the
// window no longer holds and the cursors of earlier windows.
func (b *mailboxBatch) addCalendar(ctx context.Context) error {
	j, mailbox := b.job, b.mailbox
	from, to, window := CalendarWindow(j.now, j.settings.CalendarPast, j.settings.CalendarFuture)
	key := domain.CursorKey{Tenant: j.tenant, Mailbox: mailbox, Kind: domain.CursorEvents, Scope: window}
	initial, err := b.pageInitial(ctx, key)
	if err != nil {
		return err
	}
	round := sweptRound(key, func(e domain.Event) string { return e.ID }, nil,
		func(p EventsDeltaPage) (store.Counts, error) {
			return j.Store.ApplyEvents(ctx, store.EventsPage{Tenant: j.tenant, Mailbox: mailbox, Window: window, Upserts: p.Items, Removed: p.Removed, Next: p.next(),
				Outbox: b.outboxEvents, OutboxInitial: initial})
		},
		func() ([]domain.Event, error) { return j.Store.Events(ctx, j.tenant, mailbox) })
	sweep := round.sweep
	round.sweep = func(deltaLink string) (store.Counts, error) {
		counts, err := sweep(deltaLink)
		if err == nil {
			_, err = j.Store.DropOtherScopes(ctx, key)
		}
		return counts, err
	}
	p, err := newPart(ctx, j.Store, "(calendar)", domain.CursorEvents, round,
		func(link string) DeltaRequest {
			return DeltaRequest{Kind: domain.CursorEvents, Link: link, From: from, To: to}
		},
		func(a DeltaAnswer) EventsDeltaPage { return a.Events })
	if err != nil {
		return err
	}
	b.parts = append(b.parts, p)
	return nil
}

// addContacts adds the delta of the mailbox's default contacts folder.
func (b *mailboxBatch) addContacts(ctx context.Context) error {
	j, mailbox := b.job, b.mailbox
	round := sweptRound(domain.CursorKey{Tenant: j.tenant, Mailbox: mailbox, Kind: domain.CursorContacts},
		func(c domain.Contact) string { return c.ID }, nil,
		func(p ContactsDeltaPage) (store.Counts, error) {
			return j.Store.ApplyContacts(ctx, store.ContactsPage{Tenant: j.tenant, Mailbox: mailbox, Upserts: p.Items, Removed: p.Removed, Next: p.next()})
		},
		func() ([]domain.Contact, error) { return j.Store.Contacts(ctx, j.tenant, mailbox) })
	p, err := newPart(ctx, j.Store, "(contacts)", domain.CursorContacts, round,
		func(link string) DeltaRequest { return DeltaRequest{Kind: domain.CursorContacts, Link: link} },
		func(a DeltaAnswer) ContactsDeltaPage { return a.Contacts })
	if err != nil {
		return err
	}
	b.parts = append(b.parts, p)
	return nil
}

// mailboxSettings reads and saves the mailbox's settings (Graph has no delta
// for them); it returns 1 when they changed.
func (j mailboxJob) mailboxSettings(ctx context.Context, mailbox string) (int, error) {
	ms, err := j.Graph.MailboxSettings(ctx, j.creds, mailbox)
	if err != nil {
		return 0, err
	}
	ms.Mailbox = mailbox
	counts, err := j.Store.ApplyMailboxSettings(ctx, j.tenant, ms)
	if err != nil {
		return 0, errStore{retryable("saving mailbox settings of "+mailbox, err)}
	}
	return counts.Inserted + counts.Updated, nil
}
