// Package activities holds every side effect of outlookflow: Microsoft Graph
// calls (through the adapter in activities/graphclient), secrets, and later the
// store. Activities are methods on structs built once per worker process;
// workflows reference them through a nil handle. This package itself does not
// import the Graph SDK, so workflows can import it for names and types.
package activities

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"go.temporal.io/sdk/activity"
	"go.uber.org/zap"

	"github.com/outlookflow/outlookflow/internal/permissions"
)

// AuthMode mirrors config.AuthMode without importing config into workflows.
type AuthMode string

const (
	AuthAppOnly   AuthMode = "app-only"
	AuthDelegated AuthMode = "delegated"
)

// Credentials are what the Graph adapter needs to act as a tenant's app. They
// live only in activity memory: never in payloads, logs or errors.
type Credentials struct {
	TenantID     string // Entra tenant ID
	ClientID     string
	ClientSecret string
	AuthMode     AuthMode
	// Certificate, when not empty, replaces ClientSecret: the certificate
	// file's contents (PEM with the private key, or PKCS#12), read when
	// the credential is built. CertificatePassword opens a PKCS#12 file.
	Certificate         []byte
	CertificatePassword string
	// SendCertificateChain sends the x5c header (subject name + issuer
	// authentication).
	SendCertificateChain bool
	// User and Token, set for a delegated tenant, act as one signed-in
	// user: Token is their credential (their refresh token, sealed in the
	// store), User their object ID — Graph is reached through /me for
	// their own mailbox.
	User  string
	Token azcore.TokenCredential
}

// UsesCertificate reports whether the credentials are a certificate.
func (c Credentials) UsesCertificate() bool { return len(c.Certificate) > 0 }

// Verification is what a successful credential check learned.
type Verification struct {
	// GrantedPermissions are the token's roles (app-only) or scp (delegated).
	GrantedPermissions []string
	// TokenExpiresAt is when the access token used for the check expires.
	TokenExpiresAt time.Time
	// ProbeStatus is the HTTP status of the Graph probe call (200, or 403 when
	// the token is valid but lacks the probe's permission).
	ProbeStatus int
}

// GraphConnector is the narrow slice of the Graph adapter the tenant
// activities use; activities/graphclient implements it over msgraph-sdk-go and
// azidentity, unit tests with a function-field fake.
type GraphConnector interface {
	// Verify acquires a fresh token (never a cached one) and calls Graph with
	// it. Failures are *GraphError.
	Verify(ctx context.Context, creds Credentials) (Verification, error)
}

// TenantSettings is what activities know about a configured tenant.
type TenantSettings struct {
	TenantID string
	ClientID string
	AuthMode AuthMode
	// ResolveSecret reads the client secret from its reference (env var or
	// file) at call time, so rotating the file needs no restart.
	ResolveSecret func() (string, error)
	// ResolveCertificate, set for tenants configured with a certificate,
	// reads the certificate file and its password at call time (rotation is
	// replacing the file). A secret sealed by `starter rotate
	// --secret-stdin` still takes precedence.
	ResolveCertificate func() (data []byte, password string, err error)
	// SendCertificateChain is certificate.sendCertificateChain.
	SendCertificateChain bool
	// Features are the tenant's enabled features (permissions.Feature*):
	// the sync reads only what they name.
	Features []string
	// CalendarPast and CalendarFuture bound the calendar window the sync
	// keeps, back from and ahead of today.
	CalendarPast, CalendarFuture time.Duration
}

// Has reports whether feature is enabled.
func (s TenantSettings) Has(feature string) bool {
	return slices.Contains(s.Features, feature)
}

// TenantDirectory looks up a tenant's settings by its key.
type TenantDirectory interface {
	Tenant(key string) (TenantSettings, bool)
}

// CredentialVault opens secrets that operators handed over at runtime. The
// workflow carries only the version; the secret stays on the worker's side
// (internal/credentials keeps them in sealed files; the store can later take
// over behind this one call).
type CredentialVault interface {
	Secret(tenantKey, version string) (string, error)
}

// RecipeNeedsSource says what a tenant's enabled recipes need: the recipes
// the worker loaded, with operators' switches applied (internal/app).
type RecipeNeedsSource interface {
	RecipeNeeds(ctx context.Context, tenantKey string) ([]permissions.Need, error)
}

// Tenant holds the tenant-connection activities and their dependencies.
type Tenant struct {
	Graph   GraphConnector
	Tenants TenantDirectory
	Vault   CredentialVault
	// RecipeNeeds, when set, adds the enabled recipes' needs to a check's
	// result, so the connection compares the grant with them too.
	RecipeNeeds RecipeNeedsSource
	Log         *zap.Logger
}

// VerifyHeartbeatTimeout is the heartbeat timeout of the verification
// activity: a worker that dies mid-check is noticed within it, and the check
// is retried on another worker instead of waiting out StartToClose.
const VerifyHeartbeatTimeout = 10 * time.Second

// VerifyConnectionInput asks for one credential check of a tenant.
type VerifyConnectionInput struct {
	TenantKey string
	// CredentialVersion, when set, names a secret sealed in the credential
	// vault by `starter rotate --secret-stdin`; it replaces the configured
	// secret reference. Only the version travels, never the secret.
	CredentialVersion string
}

// ConnectionOutcome is the verdict of a credential check.
type ConnectionOutcome string

const (
	OutcomeVerified           ConnectionOutcome = "Verified"
	OutcomeInvalidCredentials ConnectionOutcome = "InvalidCredentials"
	OutcomeConsentRevoked     ConnectionOutcome = "ConsentRevoked"
	OutcomeMisconfigured      ConnectionOutcome = "Misconfigured"
)

// VerifyConnectionResult reports a definitive verdict. Transient failures
// (throttling, outages) are returned as retryable errors instead, so Temporal
// retries them and they show up in the workflow history.
type VerifyConnectionResult struct {
	Outcome            ConnectionOutcome
	Code               string // AADSTS or Graph error code for failures
	Detail             string // sanitized explanation for operators
	GrantedPermissions []string
	TokenExpiresAt     time.Time
	// RecipeNeeds are what the tenant's enabled recipes need, as this
	// worker loaded them; RecipeNeedsKnown is false when the worker could
	// not tell (no recipe source, the store unreadable), and the workflow
	// then keeps what it knew.
	RecipeNeeds      []permissions.Need `json:",omitempty"`
	RecipeNeedsKnown bool               `json:",omitempty"`
}

// VerifyConnection checks a tenant's credentials against the identity
// platform and Graph and reports the granted permissions.
func (a *Tenant) VerifyConnection(ctx context.Context, in VerifyConnectionInput) (VerifyConnectionResult, error) {
	settings, ok := a.Tenants.Tenant(in.TenantKey)
	if !ok {
		return VerifyConnectionResult{
			Outcome: OutcomeMisconfigured,
			Detail:  fmt.Sprintf("tenant %q is not in this worker's configuration; add it under tenants: and restart the worker", in.TenantKey),
		}, nil
	}
	creds, err := resolveCredentials(a.Vault, in.TenantKey, in.CredentialVersion, settings)
	if err != nil {
		return VerifyConnectionResult{Outcome: OutcomeMisconfigured, Detail: err.Error()}, nil
	}
	// Graph calls can sleep through Retry-After inside one attempt; the
	// heartbeats say the worker is alive meanwhile.
	defer KeepAlive(ctx)()
	log := a.logger(ctx).With(zap.String("tenant", in.TenantKey))
	v, err := a.Graph.Verify(ctx, creds)
	if err != nil {
		var ge *GraphError
		if !errors.As(err, &ge) {
			return VerifyConnectionResult{}, err
		}
		switch ge.Kind {
		case KindInvalidCredentials, KindUnauthenticated:
			log.Info("credential check failed", zap.String("kind", string(ge.Kind)), zap.String("code", ge.Code))
			return VerifyConnectionResult{Outcome: OutcomeInvalidCredentials, Code: ge.Code, Detail: ge.Message}, nil
		case KindConsentRevoked:
			log.Info("admin consent missing", zap.String("code", ge.Code))
			return VerifyConnectionResult{Outcome: OutcomeConsentRevoked, Code: ge.Code, Detail: ge.Message}, nil
		case KindMisconfigured:
			log.Warn("tenant misconfigured", zap.String("detail", ge.Message))
			return VerifyConnectionResult{Outcome: OutcomeMisconfigured, Detail: ge.Message}, nil
		default:
			log.Warn("credential check could not complete", zap.Error(ge))
			return VerifyConnectionResult{}, ToTemporal(ge)
		}
	}
	granted := append([]string(nil), v.GrantedPermissions...)
	sort.Strings(granted)
	log.Info("credentials verified", zap.Strings("granted", granted), zap.Int("probeStatus", v.ProbeStatus))
	res := VerifyConnectionResult{
		Outcome:            OutcomeVerified,
		GrantedPermissions: granted,
		TokenExpiresAt:     v.TokenExpiresAt,
	}
	if a.RecipeNeeds != nil {
		needs, err := a.RecipeNeeds.RecipeNeeds(ctx, in.TenantKey)
		if err != nil {
			// The credentials were checked; what the recipes need is
			// asked again at the next check.
			log.Warn("could not tell what the tenant's recipes need; the status keeps what it knew", zap.Error(err))
		} else {
			res.RecipeNeeds, res.RecipeNeedsKnown = needs, true
		}
	}
	return res, nil
}

// logger returns the activity's zap logger carrying the workflow and activity
// identifiers, so a log line leads to its workflow in the Web UI.
func (a *Tenant) logger(ctx context.Context) *zap.Logger {
	if !activity.IsActivity(ctx) {
		return a.Log
	}
	info := activity.GetInfo(ctx)
	return a.Log.With(
		zap.String("workflowID", info.WorkflowExecution.ID),
		zap.String("runID", info.WorkflowExecution.RunID),
		zap.String("activity", info.ActivityType.Name),
		zap.Int32("attempt", info.Attempt),
	)
}

// resolveCredentials resolves a tenant's credentials for a check or a sync:
// a secret the vault holds for the version the tenant workflow names, else
// the configured certificate or secret, read afresh each time.
func resolveCredentials(vault CredentialVault, tenantKey, version string, settings TenantSettings) (Credentials, error) {
	creds := Credentials{TenantID: settings.TenantID, ClientID: settings.ClientID, AuthMode: settings.AuthMode}
	if version == "" && settings.ResolveCertificate != nil {
		data, password, err := settings.ResolveCertificate()
		if err != nil {
			return Credentials{}, err
		}
		if len(data) == 0 {
			return Credentials{}, fmt.Errorf("the tenant's certificate file is empty; put the certificate and its private key in it (PEM or .pfx), then run `starter rotate --tenant %s`", tenantKey)
		}
		creds.Certificate, creds.CertificatePassword, creds.SendCertificateChain = data, password, settings.SendCertificateChain
		return creds, nil
	}
	secret, err := resolveSecret(vault, tenantKey, version, settings)
	if err != nil {
		return Credentials{}, err
	}
	creds.ClientSecret = secret
	return creds, nil
}

// resolveSecret resolves a tenant's client secret for a check or a sync:
// the vault version the tenant workflow names, else the configured reference
// (read afresh each time, so replacing the file needs no restart).
func resolveSecret(vault CredentialVault, tenantKey, version string, settings TenantSettings) (string, error) {
	in := VerifyConnectionInput{TenantKey: tenantKey, CredentialVersion: version}
	if in.CredentialVersion == "" {
		return settings.ResolveSecret()
	}
	if vault == nil {
		return "", fmt.Errorf("the tenant uses a rotated secret (version %s) but this worker has no credential vault; set credentials.dir and restart the worker", in.CredentialVersion)
	}
	s, err := vault.Secret(in.TenantKey, in.CredentialVersion)
	if err != nil {
		return "", fmt.Errorf("the rotated secret (version %s) cannot be read: %v; run `starter rotate --tenant %s --secret-stdin` on a host that shares credentials.dir with the worker, or `starter rotate --tenant %s` to go back to the configured secret",
			in.CredentialVersion, err, in.TenantKey, in.TenantKey)
	}
	return s, nil
}
