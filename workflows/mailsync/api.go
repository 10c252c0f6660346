// Package mailsync is the sync run: one workflow per tenant and round that
// brings the store up to date with Graph — the directory first, then the
// tenant's mailboxes in batches, many mailboxes per activity — and answers a
// progress query while it runs. Payloads carry keys, cursors stay in the
// store, and counts come back: never pages of data.
package mailsync

import (
	"fmt"
	"strings"

	"go.temporal.io/sdk/temporal"
)

// WorkflowName is the registered name of the sync-run workflow.
const WorkflowName = "SyncRun"

// QueryProgress answers with a Progress.
const QueryProgress = "progress"

// DefaultTaskQueueSuffix names the sync's own task queue next to the
// tenant connection's: a sync backlog never delays connection checks (or,
// later, sends).
const DefaultTaskQueueSuffix = "-sync"

// TaskQueue is the sync task queue for a worker whose main queue is base.
func TaskQueue(base string) string { return base + DefaultTaskQueueSuffix }

// WorkflowID derives a run's ID from the tenant key and what started it:
// "scheduled" runs share one ID, so two never overlap; a manual run of one
// mailbox gets its own. The mailbox part is a hash, not the address:
// workflow IDs are visible unencrypted.
func WorkflowID(tenantKey, trigger string) string {
	return fmt.Sprintf("outlookflow-sync-%s-%s", tenantKey, trigger)
}

// TenantKeyFromWorkflowID is WorkflowID's inverse for the tenant part.
func TenantKeyFromWorkflowID(id string) (string, bool) {
	rest, ok := strings.CutPrefix(id, "outlookflow-sync-")
	if !ok {
		return "", false
	}
	i := strings.LastIndexByte(rest, '-')
	if i <= 0 {
		return "", false
	}
	return rest[:i], true
}

// Search attributes: operators find every sync run by tenant and kind in
// the Web UI. Never personal data: they are not encrypted.
var (
	SearchAttrTenant = temporal.NewSearchAttributeKeyKeyword("OutlookflowTenant")
	SearchAttrKind   = temporal.NewSearchAttributeKeyKeyword("OutlookflowSyncKind")
)

// SearchAttributeNames lists the Keyword attributes the sync needs registered.
func SearchAttributeNames() []string {
	return []string{SearchAttrTenant.GetName(), SearchAttrKind.GetName()}
}

// Kinds of runs, as OutlookflowSyncKind shows them.
const (
	KindScheduled = "scheduled"
	KindManual    = "manual"
	KindMailbox   = "mailbox"
)

// Input starts a sync run.
type Input struct {
	TenantKey string
	// CredentialVersion is the tenant's vault version ("" for its configured
	// secret), as the tenant workflow reports it.
	CredentialVersion string
	// Mailbox, when set (object ID or UPN), syncs only that mailbox (after
	// the directory).
	Mailbox string
	Kind    string
	// BatchSize is how many mailboxes one activity syncs; Parallel how many
	// batches run at once. Zero means the defaults.
	BatchSize int
	Parallel  int
}

// Defaults for Input.
const (
	DefaultBatchSize = 50
	DefaultParallel  = 4
)

// Progress is what the progress query answers: enough for a progress bar
// and a summary, nothing personal.
type Progress struct {
	TenantKey      string
	Phase          string // directory, mailboxes, done
	MailboxesTotal int
	MailboxesDone  int
	Batches        int
	BatchesDone    int
	Users          int // users changed by the directory round
	Groups         int // groups and memberships changed by the directory round
	Items          int // items inserted, updated or deleted: messages, events, contacts, settings
	Events         int // of Items, calendar events
	Contacts       int // of Items, contacts
	Pages          int
	Failures       int // mailbox parts (folders, calendars…) whose page was unusable (their cursors stayed)
}

// Result is the run's outcome.
type Result struct {
	Progress
	FailedFolders []FolderFailure
}

// FolderFailure names a folder whose page could not be used.
type FolderFailure struct {
	Mailbox, Folder, Reason string
}

// ScheduleID is the tenant's sync schedule: one per tenant, created and kept
// in step (interval, credentials, paused while the tenant is not Connected)
// by the tenant-connection workflow.
func ScheduleID(tenantKey string) string { return "outlookflow-sync-schedule-" + tenantKey }
