package delegated

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/cache"
	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/confidential"
	msalerrors "github.com/AzureAD/microsoft-authentication-library-for-go/apps/errors"
	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/public"
)

// storeCache is MSAL's cache for one user, kept sealed in the store. MSAL
// calls Replace before it reads the cache and Export after it changed it (a
// refreshed access token, a rotated refresh token).
type storeCache struct {
	secrets Secrets
	tenant  string
	user    string
	// withoutAccessTokens hands MSAL the cache without its access tokens,
	// so a silent request must redeem the refresh token (Refresh).
	withoutAccessTokens bool
}

func (s *storeCache) Replace(ctx context.Context, u cache.Unmarshaler, _ cache.ReplaceHints) error {
	raw, err := s.secrets.Secret(ctx, KindTokenCache, s.tenant, s.user)
	if errors.Is(err, ErrNoSecret) {
		return u.Unmarshal([]byte("{}"))
	}
	if err != nil {
		return err
	}
	if s.withoutAccessTokens {
		var sections map[string]json.RawMessage
		if err := json.Unmarshal(raw, &sections); err != nil {
			return fmt.Errorf("reading the stored token cache: %w", err)
		}
		delete(sections, "AccessToken")
		if raw, err = json.Marshal(sections); err != nil {
			return err
		}
	}
	return u.Unmarshal(raw)
}

func (s *storeCache) Export(ctx context.Context, m cache.Marshaler, _ cache.ExportHints) error {
	raw, err := m.Marshal()
	if err != nil {
		return err
	}
	return s.secrets.PutSecret(ctx, KindTokenCache, s.tenant, s.user, raw)
}

// Credential is an azcore.TokenCredential for one signed-in user: the Graph
// clients use it as they use the app-only credential. It refreshes through
// the user's stored refresh token; a refused refresh is a *ReauthError.
type Credential struct {
	broker  *Broker
	app     App
	account Account

	// refreshing makes every request redeem the refresh token (Refresh).
	refreshing bool

	once   sync.Once
	err    error
	silent func(ctx context.Context, scopes []string, claims string) (confidential.AuthResult, error)
}

// Credential returns the credential of a user who signed in before.
func (b *Broker) Credential(app App, account Account) *Credential {
	return &Credential{broker: b, app: app, account: account}
}

func (c *Credential) init() {
	store := &storeCache{secrets: c.broker.Secrets, tenant: c.app.TenantKey, user: c.account.ObjectID, withoutAccessTokens: c.refreshing}
	if c.account.Flow == FlowAuthCode && c.app.Credential != nil {
		cca, err := c.broker.confidential(c.app, store)
		if err != nil {
			c.err = err
			return
		}
		c.silent = func(ctx context.Context, scopes []string, claims string) (confidential.AuthResult, error) {
			acct, err := cca.Account(ctx, c.account.HomeAccountID)
			if err != nil {
				return confidential.AuthResult{}, err
			}
			opts := []confidential.AcquireSilentOption{confidential.WithSilentAccount(acct)}
			if claims != "" {
				opts = append(opts, confidential.WithClaims(claims))
			}
			return cca.AcquireTokenSilent(ctx, scopes, opts...)
		}
		return
	}
	pca, err := c.broker.public(c.app, store)
	if err != nil {
		c.err = err
		return
	}
	c.silent = func(ctx context.Context, scopes []string, claims string) (confidential.AuthResult, error) {
		accts, err := pca.Accounts(ctx)
		if err != nil {
			return confidential.AuthResult{}, err
		}
		for _, a := range accts {
			if a.HomeAccountID == c.account.HomeAccountID {
				opts := []public.AcquireSilentOption{public.WithSilentAccount(a)}
				if claims != "" {
					opts = append(opts, public.WithClaims(claims))
				}
				return pca.AcquireTokenSilent(ctx, scopes, opts...)
			}
		}
		return confidential.AuthResult{}, &ReauthError{Code: "no_account", Message: "the user's stored tokens are gone; they must sign in again (starter connect-user)"}
	}
}

// GetToken implements azcore.TokenCredential.
func (c *Credential) GetToken(ctx context.Context, opts policy.TokenRequestOptions) (azcore.AccessToken, error) {
	scopes := opts.Scopes
	if len(scopes) == 1 && strings.HasSuffix(scopes[0], "/.default") && len(c.account.Scopes) > 0 {
		// The Graph clients ask for RESOURCE/.default, the app-only form.
		// For a user it means "what they consented to", and the answer
		// lists those scopes, not .default — which MSAL would take for a
		// declined scope. Ask for the consented scopes by name instead.
		scopes = c.app.Scopes(c.account.Scopes)
	}
	res, err := c.acquire(ctx, scopes, opts.Claims)
	if err != nil {
		return azcore.AccessToken{}, err
	}
	return azcore.AccessToken{Token: res.AccessToken, ExpiresOn: res.ExpiresOn, RefreshOn: res.Metadata.RefreshOn}, nil
}

// Refresh redeems the refresh token now, bypassing any cached access token:
// a revoked or expired refresh token shows here rather than an hour later.
// It returns the scopes the identity platform granted.
func (c *Credential) Refresh(ctx context.Context, permissions []string) ([]string, error) {
	// MSAL has no "force refresh" for a silent request (its confidential
	// client refuses claims there), so this credential shows MSAL the
	// cache without access tokens: the refresh token is redeemed, and
	// the new tokens (a rotated refresh token too) are stored as usual.
	fresh := &Credential{broker: c.broker, app: c.app, account: c.account, refreshing: true}
	res, err := fresh.acquire(ctx, fresh.app.Scopes(permissions), "")
	if err != nil {
		return nil, err
	}
	return c.app.Permissions(res.GrantedScopes), nil
}

func (c *Credential) acquire(ctx context.Context, scopes []string, claims string) (confidential.AuthResult, error) {
	c.once.Do(c.init)
	if c.err != nil {
		return confidential.AuthResult{}, c.err
	}
	res, err := c.silent(ctx, scopes, claims)
	if err != nil {
		return res, classify(err)
	}
	return res, nil
}

// ReauthError is the identity platform refusing a user's refresh token: the
// user must sign in again. Code is the AADSTS number (50173 revoked, 700082
// expired after inactivity, 65001 consent withdrawn) or a word for a case
// the platform never saw (no_account).
type ReauthError struct {
	Code    string
	Message string
}

func (e *ReauthError) Error() string {
	return "the user must sign in again (" + codeName(e.Code) + "): " + e.Message
}

// SignInError is a sign-in that did not succeed: declined consent, a wrong
// verifier, an expired device code. Code as for ReauthError, or the OAuth
// error word (access_denied, authorization_declined, expired_token).
type SignInError struct {
	Code    string
	Message string
}

func (e *SignInError) Error() string {
	return "sign-in failed (" + codeName(e.Code) + "): " + e.Message
}

func codeName(code string) string {
	if _, err := strconv.Atoi(code); err == nil {
		return "AADSTS" + code
	}
	return code
}

type oauthErrorBody struct {
	Error       string `json:"error"`
	Description string `json:"error_description"`
	Codes       []int  `json:"error_codes"`
}

var aadsts = regexp.MustCompile(`AADSTS(\d+)`)

// reauthCodes are refresh refusals only a new sign-in fixes.
var reauthCodes = map[string]bool{"50173": true, "700082": true, "65001": true, "50078": true, "50076": true, "70043": true, "700084": true}

// classify turns an MSAL failure into a ReauthError (invalid_grant on a
// refresh), a SignInError (the user or platform refused a sign-in), or the
// error as it was (transport trouble, throttling: worth a retry).
func classify(err error) error {
	var callErr msalerrors.CallErr
	if !errors.As(err, &callErr) || callErr.Resp == nil {
		return err
	}
	var raw []byte
	if callErr.Resp.Body != nil {
		raw, _ = io.ReadAll(callErr.Resp.Body)
	}
	if len(strings.TrimSpace(string(raw))) == 0 && callErr.Err != nil {
		// MSAL's device-code poll reads the body to look for
		// authorization_pending; the body then lives on only in the text.
		if text := callErr.Err.Error(); strings.Contains(text, "{") {
			raw = []byte(text[strings.Index(text, "{"):])
		}
	}
	var body oauthErrorBody
	_ = json.Unmarshal(raw, &body)
	code := ""
	if len(body.Codes) > 0 {
		code = strconv.Itoa(body.Codes[0])
	} else if m := aadsts.FindStringSubmatch(body.Description); m != nil {
		code = m[1]
	}
	msg := firstLine(body.Description)
	switch {
	case body.Error == "invalid_grant" && (reauthCodes[code] || code == ""):
		return &ReauthError{Code: orWord(code, body.Error), Message: msg}
	case body.Error == "invalid_grant", body.Error == "access_denied", body.Error == "authorization_declined",
		body.Error == "expired_token", body.Error == "bad_verification_code", body.Error == "invalid_client",
		body.Error == "unauthorized_client", body.Error == "invalid_request", body.Error == "invalid_scope":
		return &SignInError{Code: orWord(code, body.Error), Message: msg}
	}
	return fmt.Errorf("identity platform answered HTTP %d: %s", callErr.Resp.StatusCode, orWord(msg, strings.TrimSpace(string(raw))))
}

func orWord(s, alt string) string {
	if s != "" {
		return s
	}
	return alt
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	s, _, _ = strings.Cut(s, "\r")
	return s
}
