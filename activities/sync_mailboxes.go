package activities

import (
	"context"
	"errors"
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
	creds, settings, err := a.credentials(in.TenantKey, in.CredentialVersion)
	if err != nil {
		return SyncMailboxesResult{}, err
	}
	mailboxes, err := a.batch(ctx, in)
	if err != nil {
		return SyncMailboxesResult{}, err
	}
	defer KeepAlive(ctx)()
	log := a.Log.With(zap.String("tenant", in.TenantKey))
	job := mailboxJob{Sync: a, creds: creds, settings: settings, tenant: in.TenantKey, now: time.Now()}

	parallel := max(a.MailboxParallelism, 1)
	var (
		mu       sync.Mutex
		total    SyncMailboxesResult
		firstErr error
		wg       sync.WaitGroup
		slots    = make(chan struct{}, parallel)
	)
	for _, mb := range mailboxes {
		slots <- struct{}{}
		wg.Add(1)
		go func(mailbox string) {
			defer wg.Done()
			defer func() { <-slots }()
			r, err := job.mailbox(ctx, mailbox)
			mu.Lock()
			defer mu.Unlock()
			total.add(r)
			if err != nil && firstErr == nil {
				firstErr = err
			}
		}(mb)
	}
	wg.Wait()
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

// mailbox brings one mailbox up to date, part by part.
func (j mailboxJob) mailbox(ctx context.Context, mailbox string) (SyncMailboxesResult, error) {
	res := SyncMailboxesResult{Mailboxes: 1}
	if j.settings.Has(permissions.FeatureMail) {
		if err := j.mail(ctx, mailbox, &res); err != nil {
			return res, err
		}
	}
	if j.settings.Has(permissions.FeatureCalendar) {
		r, err := j.calendar(ctx, mailbox)
		res.addRound(r)
		res.Events += r.changed()
		if err := res.part(mailbox, "(calendar)", err); err != nil {
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
	if j.settings.Has(permissions.FeatureContacts) {
		r, err := j.contacts(ctx, mailbox)
		res.addRound(r)
		res.Contacts += r.changed()
		if err := res.part(mailbox, "(contacts)", err); err != nil {
			return res, err
		}
	}
	return res, nil
}

// legacyListingToken is the folders cursor an earlier version saved after
// a full listing; the folder delta starts from scratch after it.
const legacyListingToken = "listing"

// mail syncs a mailbox's folders through folder delta, then each folder's
// messages through message delta.
func (j mailboxJob) mail(ctx context.Context, mailbox string, res *SyncMailboxesResult) error {
	stored, err := j.Store.Folders(ctx, j.tenant, mailbox)
	if err != nil {
		return retryable("reading folders", err)
	}
	// Well-known names are resolved once per mailbox (one $batch); the
	// folder delta does not carry them, so every upsert keeps the stored one.
	names := make(map[string]string, len(stored))
	for _, f := range stored {
		if f.WellKnownName != "" {
			names[f.ID] = f.WellKnownName
		}
	}
	hasInbox := false
	for _, f := range stored {
		hasInbox = hasInbox || f.WellKnownName == domain.FolderInbox
	}
	if !hasInbox {
		resolved, err := j.Graph.WellKnownFolders(ctx, j.creds, mailbox)
		if err := res.part(mailbox, "(well-known folders)", err); err != nil {
			return err
		}
		maps.Copy(names, resolved)
	}
	folders, err := follow(ctx, j.Store, sweptRound(domain.CursorKey{Tenant: j.tenant, Mailbox: mailbox, Kind: domain.CursorFolders},
		func(f domain.MailFolder) string { return f.ID },
		func(link string) (FoldersDeltaPage, error) {
			if link == legacyListingToken {
				link = ""
			}
			return j.Graph.FoldersDelta(ctx, j.creds, mailbox, link)
		},
		func(p FoldersDeltaPage) (store.Counts, error) {
			for i := range p.Items {
				p.Items[i].WellKnownName = names[p.Items[i].ID]
			}
			return j.Store.ApplyFolders(ctx, store.FoldersPage{Tenant: j.tenant, Mailbox: mailbox, Upserts: parentsFirst(p.Items), Removed: p.Removed, Next: p.next()})
		},
		// What the store held before this round: a from-scratch round
		// that does not list a folder means it is gone.
		func() ([]domain.MailFolder, error) { return stored, nil }))
	res.Pages += folders.Pages
	if err := res.part(mailbox, "(folder list)", err); err != nil {
		return err
	}
	if folders.changed() > 0 {
		if stored, err = j.Store.Folders(ctx, j.tenant, mailbox); err != nil {
			return retryable("reading folders", err)
		}
	}
	for _, f := range stored {
		r, err := j.folder(ctx, mailbox, f.ID)
		res.addRound(r)
		if err := res.part(mailbox, f.ID, err); err != nil {
			return err
		}
		res.Folders++
	}
	return nil
}

// folder follows one folder's message delta to the end of its round.
func (j mailboxJob) folder(ctx context.Context, mailbox, folderID string) (roundResult, error) {
	return follow(ctx, j.Store, sweptRound(domain.CursorKey{Tenant: j.tenant, Mailbox: mailbox, Kind: domain.CursorMessages, Scope: folderID},
		func(m domain.Message) string { return m.ID },
		func(link string) (MessagesDeltaPage, error) {
			return j.Graph.MessagesDelta(ctx, j.creds, mailbox, folderID, link, j.settings.Has(permissions.FeatureMailBodies))
		},
		func(p MessagesDeltaPage) (store.Counts, error) {
			return j.Store.ApplyMessages(ctx, store.MessagesPage{Tenant: j.tenant, Mailbox: mailbox, FolderID: folderID, Upserts: p.Items, Removed: p.Removed, Next: p.next()})
		},
		func() ([]domain.Message, error) {
			return j.Store.Messages(ctx, store.MessageQuery{Tenant: j.tenant, Mailbox: mailbox, FolderID: folderID})
		}))
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

// calendar follows the mailbox's calendarView delta over this week's
// window. A new window starts from scratch; its sweep drops events the
// window no longer holds and the cursors of earlier windows.
func (j mailboxJob) calendar(ctx context.Context, mailbox string) (roundResult, error) {
	from, to, window := CalendarWindow(j.now, j.settings.CalendarPast, j.settings.CalendarFuture)
	key := domain.CursorKey{Tenant: j.tenant, Mailbox: mailbox, Kind: domain.CursorEvents, Scope: window}
	round := sweptRound(key, func(e domain.Event) string { return e.ID },
		func(link string) (EventsDeltaPage, error) {
			return j.Graph.EventsDelta(ctx, j.creds, mailbox, from, to, link)
		},
		func(p EventsDeltaPage) (store.Counts, error) {
			return j.Store.ApplyEvents(ctx, store.EventsPage{Tenant: j.tenant, Mailbox: mailbox, Window: window, Upserts: p.Items, Removed: p.Removed, Next: p.next()})
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
	return follow(ctx, j.Store, round)
}

// contacts follows the delta of the mailbox's default contacts folder.
func (j mailboxJob) contacts(ctx context.Context, mailbox string) (roundResult, error) {
	return follow(ctx, j.Store, sweptRound(domain.CursorKey{Tenant: j.tenant, Mailbox: mailbox, Kind: domain.CursorContacts},
		func(c domain.Contact) string { return c.ID },
		func(link string) (ContactsDeltaPage, error) {
			return j.Graph.ContactsDelta(ctx, j.creds, mailbox, link)
		},
		func(p ContactsDeltaPage) (store.Counts, error) {
			return j.Store.ApplyContacts(ctx, store.ContactsPage{Tenant: j.tenant, Mailbox: mailbox, Upserts: p.Items, Removed: p.Removed, Next: p.next()})
		},
		func() ([]domain.Contact, error) { return j.Store.Contacts(ctx, j.tenant, mailbox) }))
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
