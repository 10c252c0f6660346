// Package tenant is the tenant-connection entity workflow: one long-lived
// workflow per connected tenant that verifies its credentials, compares the
// granted Graph permissions with what its enabled features need, and reports a
// status operators can query, filter on in the Web UI, and steer with updates.
package tenant

import (
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/outlookflow/outlookflow/domain"
	"github.com/outlookflow/outlookflow/internal/permissions"
)

// WorkflowName is the registered name of the tenant-connection workflow.
const WorkflowName = "TenantConnection"

// WorkflowID derives the workflow ID from the operator-chosen tenant key (a
// slug validated by config). Never the display name or Entra IDs: workflow IDs
// are visible everywhere and unencrypted.
func WorkflowID(tenantKey string) string { return "outlookflow-tenant-" + tenantKey }

// Query, update and search-attribute names.
const (
	QueryStatus             = "status"
	UpdatePause             = "pause"
	UpdateResume            = "resume"
	UpdateVerifyNow         = "verify-now"
	UpdateRotateCredentials = "rotate-credentials"
	UpdateSettings          = "update-settings"
	// SignalRecipeNeeds (RecipeNeedsSignal) tells the connection what the
	// tenant's enabled recipes need. The worker sends it after loading its
	// recipes; each check also brings the current needs.
	SignalRecipeNeeds = "recipe-needs"
	// SignalUserStatus (UserStatusSignal) tells a delegated tenant's
	// connection that one of its users' status changed; the tenant's
	// status summarises its users.
	SignalUserStatus = "user-status"
)

// Search attributes let operators filter tenant workflows in the Web UI, e.g.
// OutlookflowTenant = "contoso" AND OutlookflowConnectionStatus = "MissingPermissions".
// They are never encrypted, so they hold only the tenant key and the status.
var (
	SearchAttrTenant = temporal.NewSearchAttributeKeyKeyword("OutlookflowTenant")
	SearchAttrStatus = temporal.NewSearchAttributeKeyKeyword("OutlookflowConnectionStatus")
)

// SearchAttributeNames lists the custom Keyword attributes this workflow
// needs registered on the namespace.
func SearchAttributeNames() []string {
	return []string{SearchAttrTenant.GetName(), SearchAttrStatus.GetName()}
}

// Status is a tenant connection's state.
type Status string

const (
	StatusVerifying          Status = "Verifying"          // first check not finished yet
	StatusConnected          Status = "Connected"          // credentials work, every needed permission granted
	StatusMissingPermissions Status = "MissingPermissions" // credentials work, some permissions not granted
	StatusInvalidCredentials Status = "InvalidCredentials" // wrong or expired secret, unknown app or tenant
	StatusConsentRevoked     Status = "ConsentRevoked"     // admin consent withdrawn
	StatusUnreachable        Status = "Unreachable"        // Graph or the identity platform kept failing transiently
	StatusMisconfigured      Status = "Misconfigured"      // our side: tenant missing from the worker's config, secret unreadable
	StatusPaused             Status = "Paused"             // an operator paused the tenant
	// StatusAwaitingUsers: a delegated tenant none of whose users is
	// connected yet (`starter connect-user`).
	StatusAwaitingUsers Status = "AwaitingUsers"
	// StatusUsersNeedAttention: a delegated tenant none of whose users is
	// connected any more (each must sign in again or consent to more).
	StatusUsersNeedAttention Status = "UsersNeedAttention"
)

// Input starts (or continues) a tenant-connection workflow.
type Input struct {
	TenantKey   string
	DisplayName string // shown in queries; travels only in encrypted payloads
	AuthMode    string // "app-only" or "delegated"
	Features    []string
	// VerifyInterval is how often credentials are re-verified.
	VerifyInterval domain.Duration
	// SyncInterval is how often the tenant's sync schedule runs; zero means
	// DefaultSyncInterval.
	SyncInterval domain.Duration
	// State carries everything across continue-as-new; nil on first start.
	State *State
	// ContinueAsNewAfter, when > 0, continues-as-new after that many
	// verifications. A test hook; production relies on the server's
	// suggestion and a history-length cap.
	ContinueAsNewAfter int
}

// State is the workflow's whole state, passed through continue-as-new.
type State struct {
	Status              Status
	Paused              bool
	PauseReason         string
	Code                string // AADSTS or Graph code of the last failure
	Detail              string
	Granted             []string
	Missing             []string
	LastCheckedAt       time.Time
	LastVerifiedAt      time.Time // last time credentials were accepted
	StatusSince         time.Time
	Verifications       int // completed checks over the workflow's whole life
	ConsecutiveFailures int
	// CredentialVersion names a secret handed over at runtime and sealed in
	// the worker's credential vault (`starter rotate --secret-stdin`); it
	// wins over the configured reference. Empty: use the configured secret.
	// The secret itself never enters the workflow.
	CredentialVersion string
	// Runs counts continue-as-new generations, for operators.
	Runs int
	// Schedule is the sync schedule as last applied; nil before the first
	// time. A change from it makes the workflow update the schedule.
	Schedule *ScheduleState
	// RecipeNeeds are what the tenant's enabled recipes need, as the
	// worker last said: compared with the grant beside the features'
	// needs, so Missing names what a recipe lacks.
	RecipeNeeds []permissions.Need `json:",omitempty"`
	// Users are a delegated tenant's users by object ID, as their
	// connections last said.
	Users map[string]UserSummary `json:",omitempty"`
}

// UserSummary is one delegated user's status in the tenant's summary.
type UserSummary struct {
	Status string
	Code   string `json:",omitempty"`
}

// ScheduleState is what the tenant's sync schedule was last set to.
type ScheduleState struct {
	Every             domain.Duration
	CredentialVersion string
	Paused            bool
	Note              string
}

// DefaultSyncInterval is the sync schedule's interval when none is configured.
const DefaultSyncInterval = 15 * time.Minute

// StatusView is the answer to the status query and to every update.
// Required is the minimal set of permissions the features and the enabled
// recipes need, Missing what of it the grant lacks and Beyond what the
// grant holds beyond it (permissions.Compare). A tenant whose features
// have every permission they need is Connected even when a recipe lacks
// one (Missing and Detail name it): the sync runs, and the recipe's step
// fails with Graph's refusal.
type StatusView struct {
	TenantKey      string
	DisplayName    string
	Status         Status
	Paused         bool
	PauseReason    string
	Code           string
	Detail         string
	Granted        []string
	Required       []string
	Missing        []string
	Beyond         []permissions.Excess `json:",omitempty"`
	LastCheckedAt  time.Time
	LastVerifiedAt time.Time
	StatusSince    time.Time
	NextCheckAt    time.Time
	Verifications  int
	Runs           int
	// CheckInProgress is set while a verification runs: retrying through
	// throttling, or waiting for a worker to take it over from a dead one.
	// Attempts and the last failure are the server's to tell (starter
	// status shows them from DescribeWorkflowExecution).
	CheckInProgress bool
	CheckStartedAt  time.Time
	// CredentialVersion is the vault version in use, "" for the configured
	// secret reference.
	CredentialVersion string
	// Users counts a delegated tenant's users by status.
	Users map[string]int `json:",omitempty"`
}

// PauseRequest pauses verification (and, later, the tenant's syncs and recipes).
type PauseRequest struct {
	Reason string // free text for operators, at most MaxPauseReasonLength characters
}

// MaxPauseReasonLength bounds the pause reason: it is shown in one table cell
// and kept in every status answer, so it is a sentence, not a document.
const MaxPauseReasonLength = 200

// ResumeRequest resumes a paused tenant and verifies it at once.
type ResumeRequest struct{}

// VerifyNowRequest asks for an immediate re-verification.
type VerifyNowRequest struct{}

// RotateCredentialsRequest tells the workflow the credentials changed. With
// CredentialVersion empty the worker re-reads the configured secret reference
// (the operator replaced the file or env var); otherwise the secret sealed in
// the credential vault under that version is used from now on. Either way the
// tenant is verified at once unless paused.
type RotateCredentialsRequest struct {
	CredentialVersion string
	// LegacySecret catches the old wire form, which carried the secret itself
	// ("NewSecret") and so wrote it into history. The validator rejects any
	// request that sets it; a rejected update is never written to history.
	LegacySecret string `json:"NewSecret,omitempty"`
}

// RecipeNeedsSignal carries the permissions a tenant's enabled recipes
// need, each saying which recipe and step needs it (no mail content).
type RecipeNeedsSignal struct {
	Needs []permissions.Need
}

// SettingsRequest carries a tenant's configured settings. `starter connect`
// sends it to an already running workflow, so edits to the configuration
// (features, verify interval, display name) take effect without a restart.
// Changed settings are verified at once; unchanged ones just report status.
type SettingsRequest struct {
	DisplayName    string
	AuthMode       string
	Features       []string
	VerifyInterval domain.Duration
	SyncInterval   domain.Duration
}

// UserStatusSignal is a delegated user's status, for the tenant's summary.
// Status is a workflows/user Status; Code the AADSTS code when the user
// must sign in again.
type UserStatusSignal struct {
	ObjectID string
	Status   string
	Code     string
}
