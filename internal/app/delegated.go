package app

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/confidential"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.uber.org/zap"

	"github.com/outlookflow/outlookflow/activities"
	"github.com/outlookflow/outlookflow/config"
	"github.com/outlookflow/outlookflow/domain"
	"github.com/outlookflow/outlookflow/internal/certfile"
	"github.com/outlookflow/outlookflow/internal/delegated"
	"github.com/outlookflow/outlookflow/internal/permissions"
	"github.com/outlookflow/outlookflow/recipe"
	"github.com/outlookflow/outlookflow/workflows/tenant"
	"github.com/outlookflow/outlookflow/workflows/user"
)

// delegatedApps resolves tenants' app registrations for the delegated flows
// from the configuration.
type delegatedApps struct {
	cloud   config.Cloud
	tenants map[string]config.Tenant
}

var _ activities.DelegatedApps = (*delegatedApps)(nil)

func newDelegatedApps(cfg *config.Config) *delegatedApps {
	m := make(map[string]config.Tenant, len(cfg.Tenants))
	for _, t := range cfg.Tenants {
		m[t.Key] = t
	}
	return &delegatedApps{cloud: cfg.Cloud, tenants: m}
}

// DelegatedApp implements activities.DelegatedApps. The client credential
// is read on each call, so a replaced secret file is used at once.
func (a *delegatedApps) DelegatedApp(key string) (delegated.App, error) {
	t, ok := a.tenants[key]
	if !ok {
		return delegated.App{}, fmt.Errorf("tenant %q is not in this worker's configuration; add it under tenants: and restart the worker", key)
	}
	if t.AuthMode != config.AuthDelegated {
		return delegated.App{}, fmt.Errorf("tenant %q is app-only; set tenants[].authMode: delegated to connect users", key)
	}
	app := delegated.App{
		TenantKey:   key,
		Authority:   strings.TrimSuffix(a.cloud.AuthorityHost, "/") + "/" + t.TenantID,
		ClientID:    t.ClientID,
		RedirectURL: t.Delegated.RedirectURL,
		Resource:    permissions.GraphResource(a.cloud.GraphScope),
	}
	if t.Certificate.File != "" {
		data, err := os.ReadFile(t.Certificate.File)
		if err != nil {
			return delegated.App{}, fmt.Errorf("tenant %q: reading tenants[].certificate.file: %w", key, err)
		}
		password := ""
		if t.Certificate.Password != (config.SecretRef{}) {
			if password, err = config.ResolveSecret(t.Certificate.Password, nil); err != nil {
				return delegated.App{}, fmt.Errorf("tenant %q: certificate password: %w", key, err)
			}
		}
		app.Fingerprint = fingerprint(data, []byte(password))
		certs, pk, err := certfile.Parse(data, password)
		if err != nil {
			return delegated.App{}, fmt.Errorf("tenant %q: %s: %w", key, t.Certificate.File, err)
		}
		cred, err := confidential.NewCredFromCert(certs, pk)
		if err != nil {
			return delegated.App{}, err
		}
		app.Credential = &cred
	} else if t.Secret != (config.SecretRef{}) {
		secret, err := config.ResolveSecret(t.Secret, nil)
		if err != nil {
			return delegated.App{}, fmt.Errorf("tenant %q: %w", key, err)
		}
		app.Fingerprint = fingerprint([]byte(secret))
		cred, err := confidential.NewCredFromSecret(secret)
		if err != nil {
			return delegated.App{}, err
		}
		app.Credential = &cred
	}
	return app, nil
}

// fingerprint is a short hash of a credential's material: it tells
// credentials apart without keeping the secret.
func fingerprint(parts ...[]byte) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write(p)
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:8])
}

// DelegatedNeeds are the delegated permissions a tenant's users consent to:
// the enabled features' delegated needs plus User.Read (sign-in and the
// user's own profile through /me). No mailbox scope unless a mail feature
// is enabled.
func DelegatedNeeds(t config.Tenant) []permissions.Need {
	needs := []permissions.Need{{Requirement: permissions.Requirement{Permission: "User.Read", SatisfiedBy: []string{"User.ReadWrite", "User.ReadBasic.All", "User.Read.All", "User.ReadWrite.All", "Directory.Read.All"}}, By: "sign-in"}}
	return append(needs, permissions.FeatureNeeds(t.Features, true)...)
}

// SignInNeeds are what a user of tenant t consents to when they sign in:
// User.Read and the features' delegated scopes, and what the tenant's
// enabled recipes need acting as the user — enabled by their file, or by an
// operator's switch (switches, from the store; nil when it is unreachable).
func SignInNeeds(cfg *config.Config, t config.Tenant, switches map[string]bool) []permissions.Need {
	needs := DelegatedNeeds(t)
	valid, _ := LoadRecipes(cfg)
	var mine []*recipe.Recipe
	for _, r := range valid {
		if r.Tenant == t.Key {
			mine = append(mine, r)
		}
	}
	return append(needs, EnabledRecipeNeeds(mine, switches, true)...)
}

// userConnections implements activities.UserConnections with the Temporal
// client.
type userConnections struct {
	client    client.Client
	taskQueue string
}

var _ activities.UserConnections = (*userConnections)(nil)

func (u *userConnections) Attach(ctx context.Context, in activities.AttachUserInput) (string, error) {
	id := user.ConnectionID(in.TenantKey, in.Account.ObjectID)
	interval := in.VerifyInterval
	if interval <= 0 {
		interval = 6 * time.Hour
	}
	_, err := u.client.SignalWithStartWorkflow(ctx, id, user.SignalSignIn, user.SignedIn{Account: in.Account, Needed: in.Needed},
		client.StartWorkflowOptions{
			ID:                    id,
			TaskQueue:             u.taskQueue,
			WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
			TypedSearchAttributes: temporal.NewSearchAttributes(tenant.SearchAttrTenant.ValueSet(in.TenantKey),
				tenant.SearchAttrStatus.ValueSet(string(user.StatusChecking))),
			StaticSummary: "delegated user connection of tenant " + in.TenantKey,
		},
		user.ConnectionWorkflowName, user.ConnectionInput{TenantKey: in.TenantKey, ObjectID: in.Account.ObjectID,
			VerifyInterval: domain.Duration(interval), Needed: in.Needed})
	if err != nil {
		return "", err
	}
	return id, nil
}

func (u *userConnections) PromptDeviceCode(ctx context.Context, signInID, message string, expiresAt time.Time) error {
	return u.client.SignalWorkflow(ctx, signInID, "", user.SignalDevice, user.DevicePrompt{Message: message, ExpiresAt: expiresAt})
}

// authCallback serves GET /auth/callback, where the identity platform sends
// the user's browser after sign-in: it redeems the code for the state's
// sign-in (PKCE verifier from the store), keeps the user's tokens sealed,
// and tells the sign-in workflow who signed in — or that they declined. The
// code and the tokens never reach Temporal.
type authCallback struct {
	broker *delegated.Broker
	apps   activities.DelegatedApps
	client client.Client
	log    *zap.Logger
}

var callbackPage = template.Must(template.New("page").Parse(`<!doctype html><html><head><meta charset="utf-8"><title>outlookflow sign-in</title></head>
<body><h1>{{.Title}}</h1><p>{{.Text}}</p></body></html>
`))

func (h *authCallback) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	state := q.Get("state")
	tenantKey, requestID, ok := delegated.ParseState(state)
	if !ok {
		h.page(w, http.StatusBadRequest, "Sign-in link not recognised", "This page needs the state the sign-in started with. Run `starter connect-user` again.")
		return
	}
	app, err := h.apps.DelegatedApp(tenantKey)
	if err != nil {
		h.page(w, http.StatusBadRequest, "Sign-in not possible", err.Error())
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), time.Minute)
	defer cancel()
	var result user.RedirectResult
	if e := q.Get("error"); e != "" {
		// Only a state this worker issued may end a sign-in.
		if err := h.broker.Forget(ctx, app, state); err != nil {
			h.page(w, http.StatusBadRequest, "Sign-in link not recognised", err.Error())
			return
		}
		code := e
		if m := aadstsCode(q.Get("error_description")); m != "" {
			code = m
		}
		result = user.RedirectResult{Code: code, Reason: firstLineOf(q.Get("error_description"))}
	} else {
		acct, err := h.broker.CompleteAuthCode(ctx, app, state, q.Get("code"))
		var se *delegated.SignInError
		switch {
		case errors.As(err, &se) && se.Code == "unknown_state":
			h.page(w, http.StatusBadRequest, "Sign-in link not recognised", se.Message)
			return
		case errors.As(err, &se):
			result = user.RedirectResult{Code: se.Code, Reason: se.Message}
		case err != nil:
			h.log.Warn("redeeming a sign-in's code failed", zap.String("tenant", tenantKey), zap.Error(err))
			result = user.RedirectResult{Code: "error", Reason: err.Error()}
		default:
			a := activities.DelegatedAccount{ObjectID: acct.ObjectID, TenantID: acct.TenantID, HomeAccountID: acct.HomeAccountID,
				Username: acct.Username, Scopes: acct.Scopes, Flow: string(acct.Flow)}
			result = user.RedirectResult{Account: &a}
		}
	}
	if err := h.client.SignalWorkflow(ctx, user.SignInID(tenantKey, requestID), "", user.SignalResult, result); err != nil {
		h.log.Warn("could not tell the sign-in its outcome", zap.String("tenant", tenantKey), zap.Error(err))
		h.page(w, http.StatusServiceUnavailable, "Sign-in could not be recorded", "outlookflow could not reach its workflow engine; run `starter connect-user` again in a moment.")
		return
	}
	if result.Account == nil {
		h.page(w, http.StatusOK, "Not connected", "The sign-in did not complete: "+result.Reason)
		return
	}
	h.page(w, http.StatusOK, "Connected", "outlookflow can now work with your mailbox as configured. You can close this window.")
}

func (h *authCallback) page(w http.ResponseWriter, status int, title, text string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = callbackPage.Execute(w, struct{ Title, Text string }{title, text})
}

func aadstsCode(desc string) string {
	i := strings.Index(desc, "AADSTS")
	if i < 0 {
		return ""
	}
	j := i + len("AADSTS")
	k := j
	for k < len(desc) && desc[k] >= '0' && desc[k] <= '9' {
		k++
	}
	return desc[j:k]
}

func firstLineOf(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(s)
}
