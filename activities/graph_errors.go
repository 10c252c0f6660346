package activities

import (
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
)

// GraphErrorKind is outlookflow's small vocabulary for everything that can go
// wrong between us and Microsoft Graph or the identity platform. The Graph
// adapter maps every SDK error to one of these exactly once; activities turn
// them into Temporal semantics with ToTemporal.
type GraphErrorKind string

const (
	// Retryable: Temporal retries, after Retry-After when Graph gave one.
	KindThrottled   GraphErrorKind = "Throttled"   // 429, or 503 with Retry-After
	KindUnavailable GraphErrorKind = "Unavailable" // 5xx, timeouts, connection resets

	// Non-retryable: retrying cannot help until someone changes something.
	KindInvalidCredentials GraphErrorKind = "InvalidCredentials" // wrong/expired secret, unknown app or tenant
	KindConsentRevoked     GraphErrorKind = "ConsentRevoked"     // admin consent missing or withdrawn
	KindUnauthenticated    GraphErrorKind = "Unauthenticated"    // Graph rejected the token (401)
	KindForbidden          GraphErrorKind = "Forbidden"          // token valid, permission missing (403)
	KindNotFound           GraphErrorKind = "NotFound"           // 404
	KindBadRequest         GraphErrorKind = "BadRequest"         // 400 and other 4xx
	KindSyncStateLost      GraphErrorKind = "SyncStateLost"      // 410 / SyncStateNotFound: resync
	KindMisconfigured      GraphErrorKind = "Misconfigured"      // our side: unknown tenant key, unreadable secret
	// An answer we cannot use: bad JSON, a truncated page, an item without
	// an id or of an unexpected @odata.type. The sync fails that page (its
	// cursor stays) and goes on with the rest of the tenant.
	KindMalformed GraphErrorKind = "MalformedResponse"
)

// Retryable reports whether Temporal should retry an activity that failed with this kind.
func (k GraphErrorKind) Retryable() bool {
	return k == KindThrottled || k == KindUnavailable
}

// GraphError is a classified Graph or identity-platform failure. Message is
// safe to log and to put in (encrypted) payloads: it never holds secrets,
// tokens or mail content.
type GraphError struct {
	Kind       GraphErrorKind
	Status     int           // HTTP status, 0 when none (network failure)
	Code       string        // Graph error code ("ErrorAccessDenied") or "AADSTS7000215"
	Message    string        // short, sanitized
	RetryAfter time.Duration // from Retry-After, 0 when absent
}

func (e *GraphError) Error() string {
	s := string(e.Kind)
	if e.Status != 0 {
		s += fmt.Sprintf(" (HTTP %d)", e.Status)
	}
	if e.Code != "" {
		s += " " + e.Code
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	return s
}

// GraphErrorDetails travels as the details of the Temporal ApplicationError so
// workflows can read the code after the failure crossed the wire.
type GraphErrorDetails struct {
	Status int
	Code   string
}

// ToTemporal converts err into the Temporal error that carries its retry
// semantics: retryable kinds become retryable application errors whose
// NextRetryDelay honours Retry-After; the rest are non-retryable with the kind
// as the stable error type. Errors that are not GraphErrors pass through (and
// are retried by the activity's policy).
func ToTemporal(err error) error {
	var ge *GraphError
	if err == nil || !errors.As(err, &ge) {
		return err
	}
	opts := temporal.ApplicationErrorOptions{
		NonRetryable: !ge.Kind.Retryable(),
		Details:      []any{GraphErrorDetails{Status: ge.Status, Code: ge.Code}},
	}
	if ge.Kind.Retryable() && ge.RetryAfter > 0 {
		opts.NextRetryDelay = ge.RetryAfter
	}
	return temporal.NewApplicationErrorWithOptions(ge.Error(), string(ge.Kind), opts)
}
