// Package user holds the delegated-connection workflows: SignIn, one per
// `starter connect-user` (authorization code with PKCE, or device code),
// and Connection, one long-lived workflow per signed-in user that checks
// their refresh token, compares their consented scopes with what the
// tenant's features need, and reports a status operators query and filter
// on (Connected, ReauthRequired with the AADSTS code, MissingScopes,
// Paused). What depends on the user (their sync, their recipes' actions)
// asks that status and waits while it is not Connected.
//
// Tokens never reach these workflows: activities keep them sealed in the
// store, and the workflows see an object ID and scopes.
package user

import (
	"time"

	"github.com/outlookflow/outlookflow/activities"
	"github.com/outlookflow/outlookflow/domain"
	"github.com/outlookflow/outlookflow/internal/permissions"
)

// Workflow names.
const (
	ConnectionWorkflowName = "UserConnection"
	SignInWorkflowName     = "UserSignIn"
)

// ConnectionID is the user's connection workflow ID. The object ID is a
// pseudonymous GUID, not a name or address (those stay in encrypted
// payloads).
func ConnectionID(tenantKey, objectID string) string {
	return "outlookflow-user-" + tenantKey + "-" + objectID
}

// SignInID is a sign-in's workflow ID; requestID is random, from the
// starter.
func SignInID(tenantKey, requestID string) string {
	return "outlookflow-signin-" + tenantKey + "-" + requestID
}

// Queries, signals and updates.
const (
	QueryStatus   = "status"
	QuerySignIn   = "sign-in"
	SignalSignIn  = "signed-in"   // SignedIn, to the connection
	SignalNeeds   = "needs"       // NeedsChanged, to the connection
	SignalResult  = "redirect"    // RedirectResult, to the sign-in
	SignalDevice  = "device-code" // DevicePrompt, to the sign-in
	UpdatePause   = "pause"
	UpdateResume  = "resume"
	UpdateCheck   = "check-now"
	MaxReasonText = 200
)

// Status is a delegated user's connection state.
type Status string

const (
	StatusChecking       Status = "Checking"       // signed in; first check running
	StatusConnected      Status = "Connected"      // refresh works and the scopes cover the features
	StatusReauthRequired Status = "ReauthRequired" // the refresh token was refused: revoked, expired, consent withdrawn
	StatusMissingScopes  Status = "MissingScopes"  // signed in, but consented to less than the features and enabled recipes need
	StatusUnreachable    Status = "Unreachable"    // the identity platform kept failing transiently
	StatusPaused         Status = "Paused"         // an operator paused the user
)

// Flow is how the user signs in.
type Flow string

const (
	FlowAuthCode   Flow = "auth-code"
	FlowDeviceCode Flow = "device-code"
)

// SignInInput starts a sign-in.
type SignInInput struct {
	TenantKey string
	RequestID string
	// LoginHint is the UPN the operator named; the signed-in user must be
	// it. Personal data: it travels only in encrypted payloads.
	LoginHint string
	Flow      Flow
	// Needed are the delegated permissions the tenant's enabled features
	// need: the sign-in asks for exactly their minimal set. With
	// VerifyInterval they are handed to the user's connection.
	Needed         []permissions.Need
	VerifyInterval domain.Duration
}

// SignInProgress is what a sign-in shows while it waits (QuerySignIn).
type SignInProgress struct {
	// URL is the sign-in URL to open (auth code), Message what to do (device code).
	URL       string
	Message   string
	ExpiresAt time.Time
	Done      bool
	Result    *SignInResult
}

// SignInResult is how a sign-in ended.
type SignInResult struct {
	Connected bool
	ObjectID  string
	Username  string
	Scopes    []string
	// Code and Reason say why not: the AADSTS code (65004 declined
	// consent) or the OAuth error word, and the platform's message.
	Code   string
	Reason string
	// ConnectionID is the user's connection workflow.
	ConnectionID string
	Status       Status
}

// Account is a signed-in user, as the workflows know them: no token.
type Account = activities.DelegatedAccount

// RedirectResult is what the worker's /auth/callback learnt: an account,
// or the refusal the identity platform redirected with.
type RedirectResult struct {
	Account *Account
	Code    string
	Reason  string
}

// DevicePrompt is the device-code prompt the sign-in activity got.
type DevicePrompt struct {
	Message   string
	ExpiresAt time.Time
}

// ConnectionInput starts (or continues) a user's connection.
type ConnectionInput struct {
	TenantKey      string
	ObjectID       string
	VerifyInterval domain.Duration
	// Needed are the delegated permissions the tenant's features need.
	Needed []permissions.Need
	State  *ConnectionState
}

// ConnectionState is what a connection carries across continue-as-new.
type ConnectionState struct {
	Status        Status
	Code          string
	Detail        string
	StatusSince   time.Time
	Account       Account
	Missing       []string
	Paused        bool
	PauseReason   string
	LastCheckedAt time.Time
	Checks        int
}

// SignedIn tells a connection its user signed in (again).
type SignedIn struct {
	Account Account
	Needed  []permissions.Need
}

// NeedsChanged tells a connection what its user must now have consented
// to: the tenant's features and enabled recipes, after a recipe was
// enabled or disabled (the worker at start; starter recipes enable).
type NeedsChanged struct {
	Needed []permissions.Need
}

// StatusView answers QueryStatus.
type StatusView struct {
	TenantKey     string
	ObjectID      string
	Username      string
	Status        Status
	Code          string
	Detail        string
	StatusSince   time.Time
	Scopes        []string
	Missing       []string
	Flow          string
	Paused        bool
	PauseReason   string
	LastCheckedAt time.Time
	NextCheckAt   time.Time
}

// PauseRequest pauses a user's connection.
type PauseRequest struct{ Reason string }
