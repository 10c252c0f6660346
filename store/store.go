// Package store keeps what the sync reads from Microsoft Graph — directory,
// mail metadata, calendars, mailbox settings, contacts — and the cursors that
// say where each sync stopped. Callers see domain types only; the SQL stays
// here.
//
// Writes come in pages, the unit Graph delivers: a page's rows and the cursor
// that follows them commit in one transaction, so a crash can never leave a
// cursor ahead of unsaved rows, and applying a page twice leaves the same
// rows (every primary key is the Graph ID within its tenant or mailbox).
//
// It also keeps the recipe engine's state: the trigger outbox a page may
// write with its rows (MessagesPage.Outbox), recipe runs and their step
// outputs, trigger-matching decisions, operators' recipe switches and the
// runs waiting for a reply.
//
// And it keeps sealed secrets (SealedSecret): bytes sealed above it, by
// kind, tenant and subject, for rotation to find and re-seal.
//
// Two drivers share one implementation over database/sql: SQLite (pure Go,
// the embedded default) and PostgreSQL (production). Both pass the
// conformance suite in store/storetest unchanged.
package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/outlookflow/outlookflow/domain"
)

// Store is the synced data and the cursors, for one or many tenants.
type Store interface {
	// ApplyUsers saves a page of users delta and its cursor (kind users).
	ApplyUsers(ctx context.Context, page UsersPage) (Counts, error)
	// ApplyGroups saves a page of groups delta, its membership changes and
	// its cursor (kind groups).
	ApplyGroups(ctx context.Context, page GroupsPage) (Counts, error)
	// ApplyFolders saves a page of a mailbox's mail-folder delta and its
	// cursor (kind folders). A removed folder takes its child folders, their
	// messages and their message cursors with it.
	ApplyFolders(ctx context.Context, page FoldersPage) (Counts, error)
	// ApplyMessages saves a page of one folder's message delta and its
	// cursor (kind messages, scope the folder ID). A message already stored
	// in another folder is moved; a removal only deletes the message from
	// this folder, because Graph reports a move as a removal from the old
	// folder, which may arrive after the new folder's page.
	ApplyMessages(ctx context.Context, page MessagesPage) (Counts, error)
	// ApplyEvents saves a page of a mailbox's calendarView delta and its
	// cursor (kind events, scope the window key). A changed event's
	// attendees are replaced as a whole.
	ApplyEvents(ctx context.Context, page EventsPage) (Counts, error)
	// ApplyContacts saves a page of a mailbox's contacts delta and its cursor
	// (kind contacts).
	ApplyContacts(ctx context.Context, page ContactsPage) (Counts, error)
	// ApplyMailboxSettings saves a mailbox's settings; Graph has no delta for
	// them, so there is no cursor.
	ApplyMailboxSettings(ctx context.Context, tenant string, settings domain.MailboxSettings) (Counts, error)

	// Cursor returns the cursor saved under key; found is false if none is.
	Cursor(ctx context.Context, key domain.CursorKey) (cursor domain.Cursor, found bool, err error)
	// Cursors lists a tenant's cursors, ordered by mailbox, kind and scope.
	Cursors(ctx context.Context, tenant string) ([]domain.Cursor, error)
	// ResetCursor empties a cursor's token so the next round starts from
	// scratch (after SyncStateNotFound or an operator's resync) and counts
	// the resync. Rows stay: a full round upserts them again without
	// duplicates, and its removals or a DeleteFolder clear what is gone.
	ResetCursor(ctx context.Context, key domain.CursorKey) error
	// DropOtherScopes deletes the cursors of key's tenant, mailbox and kind
	// whose scope is not key's: what a calendar window that moved on leaves
	// behind. It returns how many it deleted.
	DropOtherScopes(ctx context.Context, key domain.CursorKey) (int, error)
	// DeleteFolder removes a folder, its child folders, their messages and
	// their message cursors: what a folder deleted in Graph leaves behind.
	DeleteFolder(ctx context.Context, tenant, mailbox, folderID string) (Counts, error)

	// Tenants lists the tenants that have data, in order.
	Tenants(ctx context.Context) ([]string, error)
	// Users lists a tenant's users ordered by ID.
	Users(ctx context.Context, tenant string) ([]domain.User, error)
	// Groups lists a tenant's groups ordered by ID.
	Groups(ctx context.Context, tenant string) ([]domain.Group, error)
	// GroupMembers lists a tenant's direct memberships ordered by group and
	// member ID.
	GroupMembers(ctx context.Context, tenant string) ([]domain.GroupMember, error)
	// Folders lists mail folders ordered by mailbox and ID; mailbox ""
	// means every mailbox of the tenant.
	Folders(ctx context.Context, tenant, mailbox string) ([]domain.MailFolder, error)
	// Messages lists the messages q selects, ordered by mailbox and ID.
	Messages(ctx context.Context, q MessageQuery) ([]domain.Message, error)
	// Events lists events with their attendees, ordered by mailbox and ID;
	// mailbox "" means every mailbox of the tenant.
	Events(ctx context.Context, tenant, mailbox string) ([]domain.Event, error)
	// Contacts lists contacts ordered by mailbox and ID; mailbox "" means
	// every mailbox of the tenant.
	Contacts(ctx context.Context, tenant, mailbox string) ([]domain.Contact, error)
	// MailboxSettings returns a mailbox's settings; found is false if they
	// were never synced.
	MailboxSettings(ctx context.Context, tenant, mailbox string) (settings domain.MailboxSettings, found bool, err error)
	// Count counts a tenant's items of one kind; mailbox "" counts across
	// mailboxes (and is the only choice for users and groups).
	Count(ctx context.Context, tenant, mailbox string, kind domain.ItemKind) (int, error)

	// MessagesByID returns the mailbox's messages among ids, keyed by ID;
	// an ID that is not stored is absent from the map.
	MessagesByID(ctx context.Context, tenant, mailbox string, ids []string) (map[string]domain.Message, error)
	// EventsByID returns the mailbox's events among ids with their
	// attendees, keyed by ID; an ID that is not stored is absent.
	EventsByID(ctx context.Context, tenant, mailbox string, ids []string) (map[string]domain.Event, error)
	// Folder returns one mail folder; found is false if it is not stored.
	Folder(ctx context.Context, tenant, mailbox, id string) (folder domain.MailFolder, found bool, err error)
	// ConversationMessages lists the mailbox's messages (in any folder) of
	// one conversation whose time (ReceivedAt, or SentAt when ReceivedAt is
	// zero) is strictly after after, oldest first (ties by ID). A message
	// with neither time is never listed; a zero after lists every other.
	// The read is indexed by time: it costs what the mailbox received
	// after after, so a zero after reads every message of the mailbox.
	ConversationMessages(ctx context.Context, tenant, mailbox, conversationID string, after time.Time) ([]domain.Message, error)
	// MessagesSince lists the mailbox's messages (in any folder) whose time
	// (ReceivedAt, or SentAt when ReceivedAt is zero) is strictly after
	// after, newest first (ties by ID), at most limit of them (all if
	// limit <= 0); a message with neither time is never listed. Like
	// ConversationMessages it reads through the time index, so it costs
	// what the mailbox received after after.
	MessagesSince(ctx context.Context, tenant, mailbox string, after time.Time, limit int) ([]domain.Message, error)

	// PendingChanges lists up to limit (all if limit <= 0) changes waiting
	// in the trigger outbox, ordered by Seq; mailbox "" means every mailbox
	// of the tenant. They stay until acknowledged with AckChanges.
	PendingChanges(ctx context.Context, tenant, mailbox string, limit int) ([]PendingChange, error)
	// AckChanges deletes the tenant's outbox changes with the given
	// sequence numbers; a number that is not (or no longer) there is
	// ignored, so acknowledging twice is harmless.
	AckChanges(ctx context.Context, tenant string, seqs []int64) error

	// SaveRun records a recipe run. If the RunID is already stored, the
	// first writer wins and saving again succeeds without changing
	// anything: a change delivered twice must not move a run that went on
	// (its Status moves only through UpdateRun). A zero CreatedAt is the
	// store's clock, a zero UpdatedAt is CreatedAt.
	SaveRun(ctx context.Context, run RecipeRun) error
	// FiredMessageRuns returns, for each of keys (RecipeRun.MessageKey)
	// that runs of the mailbox were saved with, those runs' recipes and
	// IDs, oldest first; a key without runs is absent, and empty keys are
	// ignored. The dispatcher reads it so a message moved or copied (a new
	// ID, the same key) does not fire a recipe that fired for it already.
	FiredMessageRuns(ctx context.Context, tenant, mailbox string, keys []string) (map[string][]FiredRun, error)
	// Run returns a recipe run; found is false if none has the ID.
	Run(ctx context.Context, runID string) (run RecipeRun, found bool, err error)
	// UpdateRun sets a run's status, step and reason, and its UpdatedAt to
	// the store's clock. An unknown run is an error wrapping ErrNotFound.
	UpdateRun(ctx context.Context, runID, status, step, reason string) error
	// Runs lists up to limit (all if limit <= 0) of a tenant's runs, newest
	// (by CreatedAt) first; recipe "" means every recipe.
	Runs(ctx context.Context, tenant, recipe string, limit int) ([]RecipeRun, error)
	// SaveStepOutput saves (or replaces) the output of one step of a run;
	// the run must have been saved.
	SaveStepOutput(ctx context.Context, runID, stepID string, output []byte) error
	// StepOutputs returns a run's step outputs by step ID (empty if none).
	StepOutputs(ctx context.Context, runID string) (map[string][]byte, error)
	// RecordDecisions saves trigger-matching decisions in one transaction;
	// a decision for a (Tenant, Recipe, ItemID, ChangeKey) already stored
	// replaces it, and within the batch the last one wins. A zero At is the
	// store's clock.
	RecordDecisions(ctx context.Context, decisions []RecipeDecision) error
	// Decisions lists the decisions about one item, newest (by At) first;
	// recipe "" means every recipe.
	Decisions(ctx context.Context, tenant, recipe, itemID string) ([]RecipeDecision, error)
	// SetRecipeEnabled records an operator's override turning a recipe on
	// or off for a tenant, whatever its definition says.
	SetRecipeEnabled(ctx context.Context, tenant, recipe string, enabled bool) error
	// RecipeSwitches returns a tenant's overrides: recipe → enabled. A
	// recipe without an override is absent.
	RecipeSwitches(ctx context.Context, tenant string) (map[string]bool, error)
	// AddReplyWait records (or replaces, by RunID) a run's wait for a reply
	// in a conversation.
	AddReplyWait(ctx context.Context, wait ReplyWait) error
	// DeleteReplyWait removes a run's reply wait; an unknown run is fine.
	DeleteReplyWait(ctx context.Context, runID string) error
	// ReplyWaits lists the waits on any of the conversations, ordered by
	// Since then RunID; mailbox "" means every mailbox of the tenant. No
	// conversation IDs list none.
	ReplyWaits(ctx context.Context, tenant, mailbox string, conversationIDs []string) ([]ReplyWait, error)

	// LeaseMailbox takes, or renews, holder's lease on syncing a mailbox
	// until now+ttl: one sync run at a time walks a mailbox's cursors.
	// ok is false while another holder's lease has not expired.
	LeaseMailbox(ctx context.Context, tenant, mailbox, holder string, ttl time.Duration) (ok bool, err error)
	// ReleaseMailbox ends holder's lease (another holder's is left alone).
	ReleaseMailbox(ctx context.Context, tenant, mailbox, holder string) error

	// PutSealedSecret saves (or replaces) a sealed secret; a zero UpdatedAt
	// is the store's clock. The bytes are sealed above the store
	// (internal/credentials.SecretStore); the store never sees plaintext.
	PutSealedSecret(ctx context.Context, secret SealedSecret) error
	// SealedSecret returns a sealed secret; found is false if none is
	// stored under key.
	SealedSecret(ctx context.Context, key SecretKey) (secret SealedSecret, found bool, err error)
	// DeleteSealedSecret removes a sealed secret; an unknown key is fine.
	DeleteSealedSecret(ctx context.Context, key SecretKey) error
	// DeleteSealedSecretsBefore removes the secrets of one kind whose
	// UpdatedAt is strictly before before (a zero before removes none) and
	// returns how many: the sweep of short-lived kinds such as PKCE
	// verifiers.
	DeleteSealedSecretsBefore(ctx context.Context, kind string, before time.Time) (int, error)
	// SealedSecretKeyIDs counts the sealed secrets by the id of the key
	// that sealed them (empty map when there are none).
	SealedSecretKeyIDs(ctx context.Context) (map[string]int, error)
	// SealedSecretsNotUnder lists up to limit (all if limit <= 0) sealed
	// secrets whose KeyID is not keyID and whose key is strictly after
	// after (a zero after starts at the first), ordered by kind, tenant and
	// subject: pages for rotation, each starting after the last key of the
	// one before.
	SealedSecretsNotUnder(ctx context.Context, keyID string, after SecretKey, limit int) ([]SealedSecret, error)
	// ResealSecret replaces a secret's key id and sealed bytes, only if the
	// row still holds old.Sealed (so a Put made meanwhile is never
	// overwritten with an older secret), and keeps its UpdatedAt. ok is
	// false when the row changed or is gone.
	ResealSecret(ctx context.Context, old SealedSecret, keyID string, sealed []byte) (ok bool, err error)

	// Close releases the database. The Store must not be used after.
	Close() error
}

// Next is the link that follows a page, saved as the page's cursor in the
// same transaction as its rows.
type Next struct {
	// Token is Graph's @odata.nextLink (more pages in this round) or
	// @odata.deltaLink (round complete). It must not be empty: a page that
	// does not say where to continue cannot be saved safely.
	Token string
	// Complete is true when Token is a deltaLink.
	Complete bool
	// FromScratch marks a nextLink of a round that started from scratch:
	// such a round must be run whole to sweep, so it is restarted rather
	// than resumed (domain.Cursor.FromScratch).
	FromScratch bool
}

// UsersPage is one page of users delta for a tenant.
type UsersPage struct {
	Tenant  string
	Upserts []domain.User
	// Removed are IDs of users Graph reported as @removed.
	Removed []string
	Next    Next
}

// GroupsPage is one page of groups delta for a tenant. Membership comes as
// changes (members@delta), not as whole lists, so a large group's members
// can span pages.
type GroupsPage struct {
	Tenant  string
	Upserts []domain.Group
	Removed []string
	// MembersAdded and MembersRemoved may name groups upserted in this page
	// or stored before; a membership of an unknown group fails the page.
	MembersAdded   []domain.GroupMember
	MembersRemoved []domain.GroupMember
	Next           Next
}

// FoldersPage is one page of a mailbox's mail-folder delta.
type FoldersPage struct {
	Tenant  string
	Mailbox string
	// Upserts' Mailbox may be empty (it is taken from the page) or equal
	// to the page's.
	Upserts []domain.MailFolder
	Removed []string
	Next    Next
}

// MessagesPage is one page of one folder's message delta.
type MessagesPage struct {
	Tenant   string
	Mailbox  string
	FolderID string
	// Upserts' Mailbox and FolderID may be empty (taken from the page) or
	// equal to the page's. The folder must have been saved by ApplyFolders.
	Upserts []domain.Message
	Removed []string
	Next    Next
	// Outbox, when true, also records each change the page makes (exactly
	// its Counts.Changes) in the trigger outbox, in the same transaction as
	// the rows and the cursor, with the message's flag status as stored
	// before the change (PendingChange.PrevFlag). See PendingChanges.
	Outbox bool
	// OutboxInitial is copied to every outbox row of the page as
	// PendingChange.Initial: the sync sets it for a mailbox's first-ever
	// round, so triggers on new items can tell pre-existing ones apart.
	OutboxInitial bool
}

// EventsPage is one page of a mailbox's calendarView delta over a window.
type EventsPage struct {
	Tenant  string
	Mailbox string
	// Window is the cursor's scope: a key for the calendar window the delta
	// covers (e.g. "P30D/P180D"), so a changed window gets a fresh cursor.
	Window  string
	Upserts []domain.Event
	Removed []string
	Next    Next
	// Outbox, when true, also records each change the page makes (exactly
	// its Counts.Changes) in the trigger outbox, in the same transaction as
	// the rows and the cursor. See PendingChanges.
	Outbox bool
	// OutboxInitial is copied to every outbox row of the page as
	// PendingChange.Initial (see MessagesPage.OutboxInitial).
	OutboxInitial bool
}

// ContactsPage is one page of a mailbox's contacts delta.
type ContactsPage struct {
	Tenant  string
	Mailbox string
	// Scope is the contact folder the delta walks, "" for the default one.
	Scope   string
	Upserts []domain.Contact
	Removed []string
	Next    Next
}

// MessageQuery selects messages. Tenant is required; empty fields select all.
type MessageQuery struct {
	Tenant   string
	Mailbox  string
	FolderID string
}

// Counts is what applying a page did. Changes lists each created, updated or
// deleted item in page order (keys only), so the sync can report progress
// and hand new items to trigger matching without reading the rows back.
// An ID upserted more than once in a page is saved, counted and listed once,
// as its last occurrence: the last one wins, as in Graph's delta.
type Counts struct {
	Inserted int
	Updated  int
	// Unchanged counts upserts that matched the stored row exactly; a
	// replayed page is all unchanged.
	Unchanged int
	Deleted   int
	Changes   []domain.Change
}

// Add adds o's counts and changes to c.
func (c *Counts) Add(o Counts) {
	c.Inserted += o.Inserted
	c.Updated += o.Updated
	c.Unchanged += o.Unchanged
	c.Deleted += o.Deleted
	c.Changes = append(c.Changes, o.Changes...)
}

// Driver names a store implementation.
const (
	DriverSQLite   = "sqlite"
	DriverPostgres = "postgres"
)

// Config picks and configures a driver. It is the store's own type so the
// store does not depend on the project's config package.
type Config struct {
	// Driver is "sqlite" (the default when empty) or "postgres".
	Driver string
	// SQLitePath is the database file; it and its folder are created if
	// missing, the file with mode 0600.
	SQLitePath string
	// PostgresDSN is a libpq-style URL or key=value string, e.g.
	// postgres://user:pass@host:5432/outlookflow?sslmode=verify-full.
	PostgresDSN string
}

// ErrInvalidRecord is wrapped by errors for a recipe record or outbox call
// the store refuses before touching the database (a missing key such as the
// tenant or run ID): a bug in the caller, not worth retrying.
var ErrInvalidRecord = errors.New("invalid record")

// ErrNotFound is wrapped by errors for an update of a row that is not
// stored (UpdateRun of an unknown run).
var ErrNotFound = errors.New("not found")

// ErrInvalidPage is wrapped by errors for a page the store refuses before
// touching the database (an empty ID, a mismatched mailbox, a missing next
// link): a bug in the caller, not worth retrying.
var ErrInvalidPage = errors.New("invalid page")

// Open opens the configured store and applies pending migrations.
func Open(ctx context.Context, cfg Config) (Store, error) {
	switch cfg.Driver {
	case DriverSQLite, "":
		if cfg.SQLitePath == "" {
			return nil, errors.New("store: the sqlite driver needs a path; set store.path to a file, e.g. ./data/outlookflow.db")
		}
		return openSQLite(ctx, cfg.SQLitePath)
	case DriverPostgres:
		if cfg.PostgresDSN == "" {
			return nil, errors.New("store: the postgres driver needs a DSN; set store.dsn (a secret reference) to a URL such as postgres://user:pass@host:5432/outlookflow")
		}
		return openPostgres(ctx, cfg.PostgresDSN)
	default:
		return nil, fmt.Errorf("store: unknown driver %q; use %q or %q", cfg.Driver, DriverSQLite, DriverPostgres)
	}
}
