package activities

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.uber.org/zap"

	"github.com/outlookflow/outlookflow/domain"
	"github.com/outlookflow/outlookflow/store"
)

// SyncGraph is the slice of the Graph adapter the sync reads through;
// activities/graphclient implements it (raw pages through the SDK pipeline,
// decoded into domain types), tests use fakes.
type SyncGraph interface {
	UsersDelta(ctx context.Context, creds Credentials, link string) (UsersDeltaPage, error)
	MailFolders(ctx context.Context, creds Credentials, mailbox string) ([]domain.MailFolder, error)
	MessagesDelta(ctx context.Context, creds Credentials, mailbox, folderID, link string, bodies bool) (MessagesDeltaPage, error)
}

// UsersDeltaPage is one page of users delta.
type UsersDeltaPage struct {
	Users   []domain.User
	Removed []string
	// Managers holds the manager links this page reported (user → manager,
	// "" when unset). A user absent from it kept its manager: Graph reports
	// manager@delta only when the link changes.
	Managers  map[string]string
	NextLink  string // more pages in this round
	DeltaLink string // the round is complete; the next round starts here
}

// MessagesDeltaPage is one page of a folder's message delta.
type MessagesDeltaPage struct {
	Messages  []domain.Message
	Removed   []string
	NextLink  string
	DeltaLink string
}

func (p UsersDeltaPage) next() store.Next    { return nextOf(p.NextLink, p.DeltaLink) }
func (p MessagesDeltaPage) next() store.Next { return nextOf(p.NextLink, p.DeltaLink) }

func nextOf(nextLink, deltaLink string) store.Next {
	if deltaLink != "" {
		return store.Next{Token: deltaLink, Complete: true}
	}
	return store.Next{Token: nextLink}
}

// Sync holds the sync activities and their dependencies.
type Sync struct {
	Graph   SyncGraph
	Store   store.Store
	Tenants TenantDirectory
	Vault   CredentialVault
	Log     *zap.Logger
	// MailboxParallelism is how many mailboxes one batch syncs at once.
	MailboxParallelism int
	// Bodies stores message bodies too (needs Mail.Read); off by default.
	Bodies bool
}

// SyncDirectoryInput asks for one users-delta round of a tenant.
type SyncDirectoryInput struct {
	TenantKey         string
	CredentialVersion string
}

// SyncDirectoryResult counts what the round changed and how many mailboxes
// the tenant has; the workflow plans batches from the count, so no list of
// mailboxes ever travels in a payload.
type SyncDirectoryResult struct {
	Pages     int
	Changed   int // inserted + updated + deleted users
	Mailboxes int
}

// SyncDirectory runs users delta from the saved cursor to the end of the
// round, saving each page with its cursor.
func (a *Sync) SyncDirectory(ctx context.Context, in SyncDirectoryInput) (SyncDirectoryResult, error) {
	creds, err := a.credentials(in.TenantKey, in.CredentialVersion)
	if err != nil {
		return SyncDirectoryResult{}, err
	}
	defer KeepAlive(ctx)()
	var res SyncDirectoryResult
	key := domain.CursorKey{Tenant: in.TenantKey, Kind: domain.CursorUsers}
	stored, err := a.Store.Users(ctx, in.TenantKey)
	if err != nil {
		return res, retryable("reading users", err)
	}
	managers := make(map[string]string, len(stored))
	for _, u := range stored {
		managers[u.ID] = u.ManagerID
	}
	resynced := false
	for {
		cur, _, err := a.Store.Cursor(ctx, key)
		if err != nil {
			return res, retryable("reading the users cursor", err)
		}
		// A next link continues a round; a delta link starts the next one;
		// no token starts from scratch.
		page, err := a.Graph.UsersDelta(ctx, creds, cur.Token)
		if lost(err) && !resynced {
			resynced = true
			if err := a.Store.ResetCursor(ctx, key); err != nil {
				return res, retryable("resetting the users cursor", err)
			}
			continue
		}
		if err != nil {
			return res, ToTemporal(err)
		}
		for id, m := range page.Managers {
			managers[id] = m
		}
		for i := range page.Users {
			page.Users[i].ManagerID = managers[page.Users[i].ID]
		}
		counts, err := a.Store.ApplyUsers(ctx, store.UsersPage{Tenant: in.TenantKey, Upserts: page.Users, Removed: page.Removed, Next: page.next()})
		if err != nil {
			return res, retryable("saving a users page", err)
		}
		res.Pages++
		res.Changed += counts.Inserted + counts.Updated + counts.Deleted
		activity.RecordHeartbeat(ctx, res.Pages)
		if page.DeltaLink != "" {
			break
		}
	}
	n, err := a.mailboxCount(ctx, in.TenantKey)
	if err != nil {
		return res, err
	}
	res.Mailboxes = n
	return res, nil
}

// SyncMailboxesInput names a batch of mailboxes: Offset and Limit into the
// tenant's mailbox users ordered by ID, or one Mailbox (object ID or UPN).
type SyncMailboxesInput struct {
	TenantKey         string
	CredentialVersion string
	Offset, Limit     int
	Mailbox           string
}

// FolderFailure is a folder whose page could not be used; its cursor did not
// move, and the rest of the tenant synced anyway.
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
	Failures  []FolderFailure
}

func (r *SyncMailboxesResult) add(o SyncMailboxesResult) {
	r.Mailboxes += o.Mailboxes
	r.Folders += o.Folders
	r.Pages += o.Pages
	r.Inserted += o.Inserted
	r.Updated += o.Updated
	r.Deleted += o.Deleted
	r.Failures = append(r.Failures, o.Failures...)
}

// SyncMailboxes syncs the folders and message metadata of a batch of
// mailboxes, several at once. Every page commits with its cursor, so a retry
// (after a crash or throttling that outlasted the SDK's own retries) resumes
// each folder where it stopped.
func (a *Sync) SyncMailboxes(ctx context.Context, in SyncMailboxesInput) (SyncMailboxesResult, error) {
	creds, err := a.credentials(in.TenantKey, in.CredentialVersion)
	if err != nil {
		return SyncMailboxesResult{}, err
	}
	mailboxes, err := a.batch(ctx, in)
	if err != nil {
		return SyncMailboxesResult{}, err
	}
	defer KeepAlive(ctx)()
	log := a.Log.With(zap.String("tenant", in.TenantKey))

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
			r, err := a.syncMailbox(ctx, creds, in.TenantKey, mailbox)
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
		log.Warn("folder page unusable; its cursor stays", zap.String("mailbox", f.Mailbox), zap.String("folder", f.Folder), zap.String("reason", f.Reason))
	}
	if firstErr != nil {
		return total, firstErr
	}
	return total, nil
}

// syncMailbox brings one mailbox's folders and messages up to date.
func (a *Sync) syncMailbox(ctx context.Context, creds Credentials, tenant, mailbox string) (SyncMailboxesResult, error) {
	res := SyncMailboxesResult{Mailboxes: 1}
	folders, err := a.Graph.MailFolders(ctx, creds, mailbox)
	if err != nil {
		var ge *GraphError
		if errors.As(err, &ge) && ge.Kind == KindMalformed {
			res.Failures = append(res.Failures, FolderFailure{Mailbox: mailbox, Folder: "(folder list)", Reason: ge.Message})
			return res, nil
		}
		return res, ToTemporal(err)
	}
	stored, err := a.Store.Folders(ctx, tenant, mailbox)
	if err != nil {
		return res, retryable("reading folders", err)
	}
	listed := make(map[string]bool, len(folders))
	for _, f := range folders {
		listed[f.ID] = true
	}
	var gone []string
	for _, f := range stored {
		if !listed[f.ID] {
			gone = append(gone, f.ID)
		}
	}
	// The folder list has no delta here: a full listing is the round, and a
	// folder missing from it was deleted (its messages and cursor go too).
	if _, err := a.Store.ApplyFolders(ctx, store.FoldersPage{Tenant: tenant, Mailbox: mailbox, Upserts: parentsFirst(folders), Removed: gone,
		Next: store.Next{Token: "listing", Complete: true}}); err != nil {
		return res, retryable("saving folders of mailbox "+mailbox, err)
	}
	for _, f := range folders {
		r, err := a.syncFolder(ctx, creds, tenant, mailbox, f.ID)
		res.add(r) // a folder's result counts no mailbox; res keeps its 1
		if err != nil {
			var ge *GraphError
			if errors.As(err, &ge) && ge.Kind == KindMalformed {
				res.Failures = append(res.Failures, FolderFailure{Mailbox: mailbox, Folder: f.ID, Reason: ge.Message})
				continue
			}
			return res, err
		}
		res.Folders++
	}
	return res, nil
}

// syncFolder follows one folder's message delta to the end of its round. A
// round that started from scratch (first sync, or after Graph forgot the
// token) ends with a sweep: stored messages the round did not list are gone.
func (a *Sync) syncFolder(ctx context.Context, creds Credentials, tenant, mailbox, folderID string) (SyncMailboxesResult, error) {
	var res SyncMailboxesResult
	key := domain.CursorKey{Tenant: tenant, Mailbox: mailbox, Kind: domain.CursorMessages, Scope: folderID}
	cur, _, err := a.Store.Cursor(ctx, key)
	if err != nil {
		return res, retryable("reading a message cursor", err)
	}
	link := cur.Token
	resynced := false
	var seen map[string]bool // IDs listed by a round that started from scratch
	if link == "" {
		seen = map[string]bool{}
	}
	for {
		page, err := a.Graph.MessagesDelta(ctx, creds, mailbox, folderID, link, a.Bodies)
		if lost(err) && !resynced {
			resynced = true
			if err := a.Store.ResetCursor(ctx, key); err != nil {
				return res, retryable("resetting a message cursor", err)
			}
			link, seen = "", map[string]bool{}
			continue
		}
		if err != nil {
			var ge *GraphError
			if errors.As(err, &ge) && ge.Kind == KindMalformed {
				return res, err
			}
			return res, ToTemporal(err)
		}
		counts, err := a.Store.ApplyMessages(ctx, store.MessagesPage{Tenant: tenant, Mailbox: mailbox, FolderID: folderID,
			Upserts: page.Messages, Removed: page.Removed, Next: page.next()})
		if err != nil {
			return res, retryable(fmt.Sprintf("saving a message page of mailbox %s folder %s", mailbox, folderID), err)
		}
		res.Pages++
		res.Inserted += counts.Inserted
		res.Updated += counts.Updated
		res.Deleted += counts.Deleted
		for _, m := range page.Messages {
			if seen != nil {
				seen[m.ID] = true
			}
		}
		if page.DeltaLink != "" {
			if seen != nil {
				n, err := a.sweep(ctx, tenant, mailbox, folderID, seen, page.DeltaLink)
				if err != nil {
					return res, err
				}
				res.Deleted += n
			}
			return res, nil
		}
		link = page.NextLink
	}
}

// sweep deletes stored messages of a folder that a from-scratch round did
// not list: deleted while Graph had forgotten the folder's token.
func (a *Sync) sweep(ctx context.Context, tenant, mailbox, folderID string, seen map[string]bool, deltaLink string) (int, error) {
	stored, err := a.Store.Messages(ctx, store.MessageQuery{Tenant: tenant, Mailbox: mailbox, FolderID: folderID})
	if err != nil {
		return 0, retryable("reading messages to sweep", err)
	}
	var gone []string
	for _, m := range stored {
		if !seen[m.ID] {
			gone = append(gone, m.ID)
		}
	}
	if len(gone) == 0 {
		return 0, nil
	}
	counts, err := a.Store.ApplyMessages(ctx, store.MessagesPage{Tenant: tenant, Mailbox: mailbox, FolderID: folderID, Removed: gone,
		Next: store.Next{Token: deltaLink, Complete: true}})
	if err != nil {
		return 0, retryable("sweeping messages", err)
	}
	return counts.Deleted, nil
}

// parentsFirst orders folders so every parent precedes its children (the
// store checks the parent exists); the listing is breadth-first already, this
// keeps it so whatever the adapter does.
func parentsFirst(folders []domain.MailFolder) []domain.MailFolder {
	byID := make(map[string]domain.MailFolder, len(folders))
	for _, f := range folders {
		byID[f.ID] = f
	}
	depth := make(map[string]int, len(folders))
	for _, f := range folders {
		d := 0
		for p, ok := byID[f.ParentFolderID]; ok && d < len(folders); p, ok = byID[p.ParentFolderID] {
			d++
		}
		depth[f.ID] = d
	}
	out := append([]domain.MailFolder(nil), folders...)
	sort.SliceStable(out, func(i, j int) bool { return depth[out[i].ID] < depth[out[j].ID] })
	return out
}

// batch resolves the mailboxes a batch names.
func (a *Sync) batch(ctx context.Context, in SyncMailboxesInput) ([]string, error) {
	users, err := a.Store.Users(ctx, in.TenantKey)
	if err != nil {
		return nil, retryable("reading users", err)
	}
	var mailboxes []string
	for _, u := range users {
		if !u.HasMailbox {
			continue
		}
		if in.Mailbox != "" {
			if u.ID == in.Mailbox || strings.EqualFold(u.UserPrincipalName, in.Mailbox) || (u.Mail != "" && strings.EqualFold(u.Mail, in.Mailbox)) {
				return []string{u.ID}, nil
			}
			continue
		}
		mailboxes = append(mailboxes, u.ID)
	}
	if in.Mailbox != "" {
		return nil, temporal.NewNonRetryableApplicationError(fmt.Sprintf("mailbox %q is not a synced user with a mailbox in tenant %q; check the UPN, or run a full sync first", in.Mailbox, in.TenantKey), "UnknownMailbox", nil)
	}
	if in.Offset >= len(mailboxes) {
		return nil, nil
	}
	end := min(in.Offset+in.Limit, len(mailboxes))
	return mailboxes[in.Offset:end], nil
}

func (a *Sync) mailboxCount(ctx context.Context, tenant string) (int, error) {
	users, err := a.Store.Users(ctx, tenant)
	if err != nil {
		return 0, retryable("reading users", err)
	}
	n := 0
	for _, u := range users {
		if u.HasMailbox {
			n++
		}
	}
	return n, nil
}

// credentials resolves the tenant's app credentials the way a verification
// does: the vault version the tenant uses, else the configured reference.
func (a *Sync) credentials(tenantKey, version string) (Credentials, error) {
	settings, ok := a.Tenants.Tenant(tenantKey)
	if !ok {
		return Credentials{}, temporal.NewNonRetryableApplicationError(fmt.Sprintf("tenant %q is not in this worker's configuration; add it under tenants: and restart the worker", tenantKey), string(KindMisconfigured), nil)
	}
	secret, err := resolveSecret(a.Vault, tenantKey, version, settings)
	if err != nil {
		return Credentials{}, temporal.NewNonRetryableApplicationError(err.Error(), string(KindMisconfigured), nil)
	}
	return Credentials{TenantID: settings.TenantID, ClientID: settings.ClientID, ClientSecret: secret, AuthMode: settings.AuthMode}, nil
}

// lost reports Graph forgetting a delta token (SyncStateNotFound, 410).
func lost(err error) bool {
	var ge *GraphError
	return errors.As(err, &ge) && ge.Kind == KindSyncStateLost
}

// retryable wraps a store failure; Temporal retries it with the policy's backoff.
func retryable(what string, err error) error {
	return fmt.Errorf("%s: %w", what, err)
}
