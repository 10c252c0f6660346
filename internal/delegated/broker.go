// Package delegated signs users in to a tenant's app registration and keeps
// their tokens: the authorization-code flow with PKCE (the worker hosts the
// redirect endpoint) and the device-code flow, both through MSAL Go, the
// library azidentity is built on. Each user's MSAL token cache — which holds
// their refresh token — lives sealed in the store (see Secrets), one cache
// per user as MSAL recommends, and is read and written through MSAL's
// ExportReplace hooks, so a rotated refresh token is persisted the moment
// MSAL receives it and every worker sees it.
//
// Nothing here reaches Temporal: the workflows get an Account (object ID,
// scopes), never a token.
package delegated

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/cache"
	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/confidential"
	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/public"

	"github.com/outlookflow/outlookflow/internal/credentials"
)

// Kinds of sealed secrets this package keeps in the store.
const (
	// KindTokenCache is a user's serialized MSAL cache (subject: object ID).
	KindTokenCache = credentials.KindMSALCache
	// KindPendingSignIn is an authorization-code sign-in waiting for its
	// redirect: the PKCE verifier and what was asked (subject: the state).
	KindPendingSignIn = credentials.KindPKCE
	// KindAccount is who a token cache belongs to (subject: object ID):
	// what the sync needs to use it. Sealed too: it names a person.
	KindAccount = "account"
)

// ErrNoSecret is what Secrets returns for a secret that is not there.
var ErrNoSecret = errors.New("no such secret")

// Secrets keeps sealed secrets: what is put is encrypted at rest and bound to
// its (kind, tenant, subject).
type Secrets interface {
	PutSecret(ctx context.Context, kind, tenant, subject string, plaintext []byte) error
	// Secret returns ErrNoSecret (wrapped) when there is none.
	Secret(ctx context.Context, kind, tenant, subject string) ([]byte, error)
	DeleteSecret(ctx context.Context, kind, tenant, subject string) error
}

// Sweeper is a Secrets that can drop a kind's secrets put before a time.
type Sweeper interface {
	DeleteOlderThan(ctx context.Context, kind string, before time.Time) (int, error)
}

// Flow is how a user signed in; it decides which MSAL client refreshes
// their tokens (a device-code sign-in is a public client's, with no secret).
type Flow string

const (
	FlowAuthCode   Flow = "auth-code"
	FlowDeviceCode Flow = "device-code"
)

// App is one tenant's app registration as the delegated flows use it.
type App struct {
	TenantKey string
	// Authority is the authority URL: host plus tenant segment (a tenant ID,
	// a domain, organizations, common or consumers).
	Authority string
	ClientID  string
	// Credential authenticates the confidential (web) client of the
	// authorization-code flow; nil when the app has no secret or
	// certificate configured, which leaves only the device-code flow.
	Credential *confidential.Credential
	// RedirectURL is the worker's /auth/callback as the browser reaches it.
	RedirectURL string
	// Fingerprint changes when the client credential does (a hash of the
	// secret or certificate file), so credentials built from an older one
	// are not reused after a rotation.
	Fingerprint string
	// Resource prefixes permission names into scopes: for global Graph
	// https://graph.microsoft.com (so Mail.Read asks for
	// https://graph.microsoft.com/Mail.Read).
	Resource string
}

// Scopes turns permission names into the scopes MSAL asks for. MSAL adds
// openid, profile and offline_access itself (a refresh token and the ID
// token come with every sign-in).
func (a App) Scopes(permissions []string) []string {
	out := make([]string, 0, len(permissions))
	for _, p := range permissions {
		out = append(out, strings.TrimSuffix(a.Resource, "/")+"/"+p)
	}
	return out
}

// Permissions turns granted scopes back into permission names: the
// resource prefix goes, and so do the OpenID scopes (openid, profile,
// offline_access, email), which are not Graph permissions.
func (a App) Permissions(scopes []string) []string {
	var out []string
	prefix := strings.TrimSuffix(a.Resource, "/") + "/"
	for _, s := range scopes {
		s = strings.TrimPrefix(s, prefix)
		switch strings.ToLower(s) {
		case "openid", "profile", "offline_access", "email", "":
			continue
		}
		out = append(out, s)
	}
	return out
}

// Account is who signed in, as the workflows may know it: no token.
type Account struct {
	ObjectID      string
	TenantID      string
	HomeAccountID string // MSAL's uid.utid
	Username      string // the UPN the user signed in with
	Scopes        []string
	Flow          Flow
}

// Broker runs the flows. One per worker process.
type Broker struct {
	Secrets Secrets
	// HTTP reaches the identity platform (the simulator's CA for tests).
	HTTP *http.Client
	// InstanceDiscovery stays on only for Microsoft's public cloud; for any
	// other authority MSAL would otherwise ask login.microsoftonline.com.
	InstanceDiscovery bool
}

// pendingSignIn is sealed under KindPendingSignIn until the redirect comes.
type pendingSignIn struct {
	Verifier  string
	LoginHint string
	Scopes    []string
	Created   time.Time
}

// SignInTimeout bounds an authorization-code sign-in: the state is
// refused after it (the identity platform's codes live about 10 minutes).
const SignInTimeout = 15 * time.Minute

// BeginAuthCode starts an authorization-code sign-in with PKCE: it keeps
// the verifier sealed under a fresh state and returns the URL the user
// opens. state starts with the tenant key and a dot, so the redirect
// endpoint knows whose app it is.
func (b *Broker) BeginAuthCode(ctx context.Context, app App, requestID, loginHint string, scopes []string) (signInURL, state string, err error) {
	if app.Credential == nil {
		return "", "", &SignInError{Code: "no_credential", Message: "the authorization-code flow needs the app's client secret or certificate (tenants[].secret or certificate); configure one, or use --device-code"}
	}
	cca, err := b.confidential(app, nil)
	if err != nil {
		return "", "", err
	}
	random := make([]byte, 24)
	verifier := make([]byte, 32)
	if _, err := rand.Read(random); err != nil {
		return "", "", err
	}
	if _, err := rand.Read(verifier); err != nil {
		return "", "", err
	}
	state = app.TenantKey + "." + requestID + "." + base64.RawURLEncoding.EncodeToString(random)
	p := pendingSignIn{Verifier: base64.RawURLEncoding.EncodeToString(verifier), LoginHint: loginHint, Scopes: scopes, Created: time.Now().UTC()}
	raw, err := json.Marshal(p)
	if err != nil {
		return "", "", err
	}
	if err := b.Secrets.PutSecret(ctx, KindPendingSignIn, app.TenantKey, state, raw); err != nil {
		return "", "", fmt.Errorf("keeping the sign-in's PKCE verifier: %w", err)
	}
	// Sign-ins nobody finished leave their verifiers behind: each new one
	// sweeps those past the sign-in window (they are refused anyway).
	if sw, ok := b.Secrets.(Sweeper); ok {
		_, _ = sw.DeleteOlderThan(ctx, KindPendingSignIn, time.Now().Add(-SignInTimeout))
	}
	var opts []confidential.AuthCodeURLOption
	if loginHint != "" {
		opts = append(opts, confidential.WithLoginHint(loginHint))
	}
	// MSAL adds openid, profile and offline_access to its token requests
	// but not to this URL; without them the user would consent to no
	// refresh token and no ID token.
	urlScopes := append(slices.Clip(scopes), "openid", "profile", "offline_access")
	raw2, err := cca.AuthCodeURL(ctx, app.ClientID, app.RedirectURL, urlScopes, opts...)
	if err != nil {
		return "", "", fmt.Errorf("building the sign-in URL: %w", err)
	}
	// MSAL's confidential client builds the URL but takes no PKCE challenge
	// or state (its public client does, for its own browser flow): add them.
	u, err := url.Parse(raw2)
	if err != nil {
		return "", "", err
	}
	q := u.Query()
	sum := sha256.Sum256([]byte(p.Verifier))
	q.Set("code_challenge", base64.RawURLEncoding.EncodeToString(sum[:]))
	q.Set("code_challenge_method", "S256")
	q.Set("state", state)
	q.Set("response_mode", "query")
	u.RawQuery = q.Encode()
	return u.String(), state, nil
}

// ParseState is the tenant key and request ID a state from BeginAuthCode
// names. Neither is trusted until the state's pending sign-in is found.
func ParseState(state string) (tenantKey, requestID string, ok bool) {
	parts := strings.Split(state, ".")
	if len(parts) != 3 || parts[0] == "" || parts[1] == "" || parts[2] == "" {
		return "", "", false
	}
	return parts[0], parts[1], true
}

// CompleteAuthCode redeems the code the redirect brought for the state's
// sign-in, once: the pending sign-in is deleted whatever the outcome. The
// user's token cache is stored sealed under their object ID.
func (b *Broker) CompleteAuthCode(ctx context.Context, app App, state, code string) (Account, error) {
	raw, err := b.Secrets.Secret(ctx, KindPendingSignIn, app.TenantKey, state)
	if errors.Is(err, ErrNoSecret) {
		return Account{}, &SignInError{Code: "unknown_state", Message: "this sign-in link is unknown or was already used; run `starter connect-user` again"}
	}
	if err != nil {
		return Account{}, err
	}
	_ = b.Secrets.DeleteSecret(ctx, KindPendingSignIn, app.TenantKey, state)
	var p pendingSignIn
	if err := json.Unmarshal(raw, &p); err != nil {
		return Account{}, fmt.Errorf("reading the pending sign-in: %w", err)
	}
	if time.Since(p.Created) > SignInTimeout {
		return Account{}, &SignInError{Code: "expired", Message: fmt.Sprintf("the sign-in started at %s and took longer than %s; run `starter connect-user` again", p.Created.Format(time.RFC3339), SignInTimeout)}
	}
	mem := &memoryCache{}
	cca, err := b.confidential(app, mem)
	if err != nil {
		return Account{}, err
	}
	res, err := cca.AcquireTokenByAuthCode(ctx, code, app.RedirectURL, p.Scopes, confidential.WithChallenge(p.Verifier))
	if err != nil {
		return Account{}, classify(err)
	}
	acct := accountOf(res.Account, res.IDToken.Oid, app.Permissions(res.GrantedScopes), FlowAuthCode)
	if p.LoginHint != "" && !strings.EqualFold(acct.Username, p.LoginHint) {
		return Account{}, &SignInError{Code: "wrong_user", Message: fmt.Sprintf("the sign-in was for %s but %s signed in; sign in as %s (or run connect-user for the other user)", p.LoginHint, acct.Username, p.LoginHint)}
	}
	if err := b.keep(ctx, app, acct, mem.data); err != nil {
		return Account{}, err
	}
	return acct, nil
}

// keep stores a signed-in user's token cache and account.
func (b *Broker) keep(ctx context.Context, app App, acct Account, cache []byte) error {
	if err := b.Secrets.PutSecret(ctx, KindTokenCache, app.TenantKey, acct.ObjectID, cache); err != nil {
		return fmt.Errorf("storing the user's tokens: %w", err)
	}
	raw, err := json.Marshal(acct)
	if err != nil {
		return err
	}
	if err := b.Secrets.PutSecret(ctx, KindAccount, app.TenantKey, acct.ObjectID, raw); err != nil {
		return fmt.Errorf("storing the user's account: %w", err)
	}
	return nil
}

// StoredAccount is the account of a user who signed in to the tenant's
// app, as kept at sign-in; ErrNoSecret when they never did.
func (b *Broker) StoredAccount(ctx context.Context, tenantKey, objectID string) (Account, error) {
	raw, err := b.Secrets.Secret(ctx, KindAccount, tenantKey, objectID)
	if err != nil {
		return Account{}, err
	}
	var a Account
	if err := json.Unmarshal(raw, &a); err != nil {
		return Account{}, fmt.Errorf("reading the stored account: %w", err)
	}
	return a, nil
}

// DeviceSignIn is a device-code sign-in in progress.
type DeviceSignIn struct {
	// Message tells the user where to go and which code to enter.
	Message   string
	UserCode  string
	URL       string
	ExpiresOn time.Time

	app  App
	b    *Broker
	mem  *memoryCache
	code public.DeviceCode
}

// BeginDeviceCode asks for a device code. The app registration must allow
// public client flows.
func (b *Broker) BeginDeviceCode(ctx context.Context, app App, scopes []string) (*DeviceSignIn, error) {
	mem := &memoryCache{}
	pca, err := b.public(app, mem)
	if err != nil {
		return nil, err
	}
	dc, err := pca.AcquireTokenByDeviceCode(ctx, scopes)
	if err != nil {
		return nil, classify(err)
	}
	return &DeviceSignIn{Message: dc.Result.Message, UserCode: dc.Result.UserCode, URL: dc.Result.VerificationURL, ExpiresOn: dc.Result.ExpiresOn,
		app: app, b: b, mem: mem, code: dc}, nil
}

// Wait polls until the user signs in, declines or the code expires, then
// stores the user's token cache sealed.
func (d *DeviceSignIn) Wait(ctx context.Context) (Account, error) {
	res, err := d.code.AuthenticationResult(ctx)
	if err != nil {
		return Account{}, classify(err)
	}
	acct := accountOf(res.Account, res.IDToken.Oid, d.app.Permissions(res.GrantedScopes), FlowDeviceCode)
	if err := d.b.keep(ctx, d.app, acct, d.mem.data); err != nil {
		return Account{}, err
	}
	return acct, nil
}

func accountOf(a confidential.Account, oid string, scopes []string, flow Flow) Account {
	uid, utid, _ := strings.Cut(a.HomeAccountID, ".")
	if oid == "" {
		oid = uid
	}
	return Account{ObjectID: oid, TenantID: utid, HomeAccountID: a.HomeAccountID, Username: a.PreferredUsername, Scopes: scopes, Flow: flow}
}

func (b *Broker) confidential(app App, c cache.ExportReplace) (confidential.Client, error) {
	if app.Credential == nil {
		return confidential.Client{}, errors.New("no client credential configured")
	}
	opts := []confidential.Option{confidential.WithHTTPClient(b.HTTP), confidential.WithInstanceDiscovery(b.InstanceDiscovery)}
	if c != nil {
		opts = append(opts, confidential.WithCache(c))
	}
	return confidential.New(app.Authority, app.ClientID, *app.Credential, opts...)
}

func (b *Broker) public(app App, c cache.ExportReplace) (public.Client, error) {
	opts := []public.Option{public.WithAuthority(app.Authority), public.WithHTTPClient(b.HTTP), public.WithInstanceDiscovery(b.InstanceDiscovery)}
	if c != nil {
		opts = append(opts, public.WithCache(c))
	}
	return public.New(app.ClientID, opts...)
}

// memoryCache captures the cache MSAL writes during a sign-in, before the
// user's object ID (the store key) is known.
type memoryCache struct{ data []byte }

func (m *memoryCache) Replace(_ context.Context, u cache.Unmarshaler, _ cache.ReplaceHints) error {
	if len(m.data) == 0 {
		return nil
	}
	return u.Unmarshal(m.data)
}

func (m *memoryCache) Export(_ context.Context, c cache.Marshaler, _ cache.ExportHints) error {
	data, err := c.Marshal()
	if err == nil {
		m.data = data
	}
	return err
}

// Forget ends the state's pending sign-in without redeeming anything (the
// user declined): it fails when the state is not one this store issued, so
// a forged redirect cannot end somebody else's sign-in.
func (b *Broker) Forget(ctx context.Context, app App, state string) error {
	if _, err := b.Secrets.Secret(ctx, KindPendingSignIn, app.TenantKey, state); err != nil {
		if errors.Is(err, ErrNoSecret) {
			return errors.New("this sign-in link is unknown or was already used; run `starter connect-user` again")
		}
		return err
	}
	return b.Secrets.DeleteSecret(ctx, KindPendingSignIn, app.TenantKey, state)
}
