package activities

import (
	"cmp"
	"sync"

	"context"
	"errors"
	"fmt"
	"golang.org/x/sync/semaphore"
	"sort"
	"strings"
	"time"

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
	// WellKnownFolders maps folder IDs to well-known names (inbox,
	// sentitems…), which v1.0's folder properties do not carry.
	WellKnownFolders(ctx context.Context, creds Credentials, mailbox string) (map[string]string, error)
	// MailboxDeltas reads one page for each of a mailbox's delta cursors
	// in reqs (at most 20), in one $batch round trip. Each answer holds
	// its page or the error Graph gave for that request alone; the call's
	// own error is one that fails them all (network, token, throttling
	// that outlasted the in-call retries).
	MailboxDeltas(ctx context.Context, creds Credentials, mailbox string, reqs []DeltaRequest) ([]DeltaAnswer, error)
	GroupsDelta(ctx context.Context, creds Credentials, link string) (GroupsDeltaPage, error)
	MailboxSettings(ctx context.Context, creds Credentials, mailbox string) (domain.MailboxSettings, error)
	// Me reads the signed-in user's own profile (delegated credentials).
	Me(ctx context.Context, creds Credentials) (domain.User, error)
}

// DeltaRequest asks for the next page of one of a mailbox's delta cursors.
type DeltaRequest struct {
	// Kind is CursorFolders (the mail-folder delta), CursorMessages (a
	// folder's message delta), CursorEvents (calendarView delta) or
	// CursorContacts (the default contact folder's delta).
	Kind domain.CursorKind
	// Link is the saved next or delta link; "" starts from scratch.
	Link string
	// Folder is the mail folder of a CursorMessages request.
	Folder string
	// Bodies asks a CursorMessages round started from scratch for message
	// bodies too (Mail.Read; a link carries what its round asked for).
	Bodies bool
	// From and To bound a CursorEvents round started from scratch; a link
	// carries its window.
	From, To time.Time
}

// DeltaAnswer is a DeltaRequest's page, in the field of its Kind, or Err:
// what Graph answered for that request alone (a lost token, a folder that
// is gone, a malformed page).
type DeltaAnswer struct {
	Folders  FoldersDeltaPage
	Messages MessagesDeltaPage
	Events   EventsDeltaPage
	Contacts ContactsDeltaPage
	Err      error
	// Load, when set, decodes the answer into the fields above (or Err)
	// on demand: a batch's pages are then decoded one at a time, as each
	// is saved, rather than all held decoded at once.
	Load func(*DeltaAnswer)
}

// load decodes the answer if it has not been.
func (a *DeltaAnswer) load() {
	if a.Load != nil {
		load := a.Load
		a.Load = nil
		load(a)
	}
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
	// fromScratch is set by the walk on pages of a round that started
	// from scratch, so their saved cursor says so.
	fromScratch bool
}

// DeltaPage is one page of a delta round over items of one kind: a folder's
// messages, a calendar window's events, a mailbox's contacts.
type DeltaPage[T any] struct {
	Items       []T
	Removed     []string
	NextLink    string // more pages in this round
	DeltaLink   string // the round is complete; the next round starts here
	fromScratch bool   // see UsersDeltaPage
}

// MessagesDeltaPage is one page of a folder's message delta.
type MessagesDeltaPage = DeltaPage[domain.Message]

// FoldersDeltaPage is one page of a mailbox's mail-folder delta.
type FoldersDeltaPage = DeltaPage[domain.MailFolder]

// EventsDeltaPage is one page of a mailbox's calendarView delta.
type EventsDeltaPage = DeltaPage[domain.Event]

// ContactsDeltaPage is one page of a mailbox's contacts delta.
type ContactsDeltaPage = DeltaPage[domain.Contact]

// GroupsDeltaPage is one page of groups delta. Membership arrives as
// changes (members@delta); a from-scratch round lists every member.
type GroupsDeltaPage struct {
	Groups         []domain.Group
	Removed        []string
	MembersAdded   []domain.GroupMember
	MembersRemoved []domain.GroupMember
	NextLink       string
	DeltaLink      string
	fromScratch    bool // see UsersDeltaPage
}

func (p UsersDeltaPage) next() store.Next  { return nextOf(p.NextLink, p.DeltaLink, p.fromScratch) }
func (p GroupsDeltaPage) next() store.Next { return nextOf(p.NextLink, p.DeltaLink, p.fromScratch) }
func (p DeltaPage[T]) next() store.Next    { return nextOf(p.NextLink, p.DeltaLink, p.fromScratch) }

func (p UsersDeltaPage) scratch() UsersDeltaPage   { p.fromScratch = true; return p }
func (p GroupsDeltaPage) scratch() GroupsDeltaPage { p.fromScratch = true; return p }
func (p DeltaPage[T]) scratch() DeltaPage[T]       { p.fromScratch = true; return p }

func (p UsersDeltaPage) empty() bool {
	return len(p.Users) == 0 && len(p.Removed) == 0 && len(p.Managers) == 0
}

func (p GroupsDeltaPage) empty() bool {
	return len(p.Groups) == 0 && len(p.Removed) == 0 && len(p.MembersAdded) == 0 && len(p.MembersRemoved) == 0
}

func (p DeltaPage[T]) empty() bool { return len(p.Items) == 0 && len(p.Removed) == 0 }

func nextOf(nextLink, deltaLink string, fromScratch bool) store.Next {
	if deltaLink != "" {
		return store.Next{Token: deltaLink, Complete: true}
	}
	return store.Next{Token: nextLink, FromScratch: fromScratch}
}

// Sync holds the sync activities and their dependencies.
type Sync struct {
	Graph   SyncGraph
	Store   store.Store
	Tenants TenantDirectory
	Vault   CredentialVault
	Log     *zap.Logger
	// Triggers, when set, is the recipe engine: pages of tenants with
	// recipes record their changes in the trigger outbox, and each
	// mailbox's changes are dispatched after its pages are saved.
	Triggers *Recipes
	// MailboxParallelism is how many mailboxes one batch syncs at once.
	MailboxParallelism int
	// Users are a delegated tenant's signed-in users: the sync reads each
	// one's own mailbox through /me with their token.
	Users DelegatedUsers
	// ItemsInFlight bounds the items (by estimate) of the pages this
	// process holds between Graph's answer and the store, across all its
	// activities; 0 means DefaultItemsInFlight. It is what bounds the
	// worker's memory in a first sync: a $batch of a mailbox's folders can
	// carry thousands of messages, and dozens of mailboxes are in flight.
	ItemsInFlight int

	itemsOnce sync.Once
	items     *semaphore.Weighted
	itemsCap  int64
}

// DefaultItemsInFlight keeps a first sync's pages to about 20,000 messages
// in memory at once (roughly 150 MB of transient Go objects).
const DefaultItemsInFlight = 20000

// holdItems waits until n more items (by estimate) may be in memory and
// returns the function that gives them back.
func (a *Sync) holdItems(ctx context.Context, n int) (release func(), err error) {
	a.itemsOnce.Do(func() {
		a.itemsCap = int64(cmp.Or(a.ItemsInFlight, DefaultItemsInFlight))
		a.items = semaphore.NewWeighted(a.itemsCap)
	})
	w := min(int64(max(n, 1)), a.itemsCap)
	if err := a.items.Acquire(ctx, w); err != nil {
		return nil, err
	}
	return func() { a.items.Release(w) }, nil
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
// does (the vault version the tenant uses, else the configured reference) and
// returns the tenant's settings with them.
func (a *Sync) credentials(tenantKey, version string) (Credentials, TenantSettings, error) {
	return tenantCredentials(a.Tenants, a.Vault, tenantKey, version)
}

// tenantCredentials is what the sync and the recipe steps share: the
// tenant's settings and its credentials (the vault version, else the
// configured certificate or secret reference), or a non-retryable Misconfigured error naming the fix.
func tenantCredentials(tenants TenantDirectory, vault CredentialVault, tenantKey, version string) (Credentials, TenantSettings, error) {
	settings, ok := tenants.Tenant(tenantKey)
	if !ok {
		return Credentials{}, settings, temporal.NewNonRetryableApplicationError(fmt.Sprintf("tenant %q is not in this worker's configuration; add it under tenants: and restart the worker", tenantKey), string(KindMisconfigured), nil)
	}
	creds, err := resolveCredentials(vault, tenantKey, version, settings)
	if err != nil {
		return Credentials{}, settings, temporal.NewNonRetryableApplicationError(err.Error(), string(KindMisconfigured), nil)
	}
	return creds, settings, nil
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
