package graphsim

// Delegated flows driven by the unmodified MSAL Go clients (confidential
// auth code with PKCE, silent refresh, public device code), with a
// redirect-refusing http.Client as the user's browser and the control API
// as the user's decisions.

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"html"
	"math/big"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/cache"
	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/confidential"
	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/public"
)

const testRedirectURI = "https://app.fabrikam.example/auth/callback"

// delegEnv is a simulator seeded with mailSeed's tenant, whose app (a
// confidential client) registers testRedirectURI, plus a public client app.
type delegEnv struct {
	*simEnv
	publicID string
	ann, bob UserSeed
}

func startDelegatedSim(t *testing.T) *delegEnv {
	t.Helper()
	sim, err := Start(Options{})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { sim.Close() })
	seed, creds := mailSeed(2)
	seed.Apps[0].RedirectURIs = []string{testRedirectURI}
	pub := deterministicGUID("test", "deleg", "public")
	seed.Apps = append(seed.Apps, AppSeed{ClientID: pub, DisplayName: "device app", AllowPublicClient: true, RedirectURIs: []string{"http://localhost"}})
	if err := sim.SeedTenant(seed); err != nil {
		t.Fatalf("SeedTenant: %v", err)
	}
	return &delegEnv{simEnv: &simEnv{sim: sim, seed: seed, creds: creds}, publicID: pub, ann: seed.Users[1], bob: seed.Users[2]}
}

// memCache is an MSAL cache accessor holding the exported cache in memory,
// so a test can hand it to a fresh client or age its access tokens.
type memCache struct {
	mu   sync.Mutex
	data []byte
}

func (m *memCache) Replace(_ context.Context, u cache.Unmarshaler, _ cache.ReplaceHints) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.data) == 0 {
		return nil
	}
	return u.Unmarshal(m.data)
}

func (m *memCache) Export(_ context.Context, c cache.Marshaler, _ cache.ExportHints) error {
	b, err := c.Marshal()
	if err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.data = b
	return nil
}

func (m *memCache) doc(t *testing.T) map[string]any {
	t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	var doc map[string]any
	if err := json.Unmarshal(m.data, &doc); err != nil {
		t.Fatalf("exported MSAL cache is not JSON: %v", err)
	}
	return doc
}

// expireAccessTokens rewrites the exported cache so every cached access
// token expired long ago: the next AcquireTokenSilent must refresh.
func (m *memCache) expireAccessTokens(t *testing.T) {
	t.Helper()
	doc := m.doc(t)
	ats, _ := doc["AccessToken"].(map[string]any)
	if len(ats) == 0 {
		t.Fatal("the MSAL cache holds no access token to expire")
	}
	for _, v := range ats {
		at := v.(map[string]any)
		at["expires_on"], at["extended_expires_on"], at["cached_at"] = "1000", "1000", "900"
		delete(at, "refresh_on")
	}
	b, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	m.mu.Lock()
	m.data = b
	m.mu.Unlock()
}

// refreshTokens lists the refresh token secrets in the exported cache.
func (m *memCache) refreshTokens(t *testing.T) []string {
	t.Helper()
	var out []string
	rts, _ := m.doc(t)["RefreshToken"].(map[string]any)
	for _, v := range rts {
		out = append(out, v.(map[string]any)["secret"].(string))
	}
	return out
}

func newConfidentialClient(t *testing.T, e *delegEnv, acc cache.ExportReplace) confidential.Client {
	t.Helper()
	return newConfidentialClientAt(t, e, e.creds.TenantID, acc)
}

// newConfidentialClientAt builds the client on the authority
// {sim}/{tenant}; tenant may be "organizations".
func newConfidentialClientAt(t *testing.T, e *delegEnv, tenant string, acc cache.ExportReplace) confidential.Client {
	t.Helper()
	cred, err := confidential.NewCredFromSecret(e.creds.ClientSecret)
	if err != nil {
		t.Fatal(err)
	}
	opts := []confidential.Option{confidential.WithHTTPClient(tlsClient(e.sim)), confidential.WithInstanceDiscovery(false)}
	if acc != nil {
		opts = append(opts, confidential.WithCache(acc))
	}
	c, err := confidential.New(e.sim.URL()+"/"+tenant, e.creds.ClientID, cred, opts...)
	if err != nil {
		t.Fatalf("confidential.New: %v", err)
	}
	return c
}

func newPublicClient(t *testing.T, e *delegEnv) public.Client {
	t.Helper()
	c, err := public.New(e.publicID, public.WithAuthority(e.sim.URL()+"/"+e.creds.TenantID),
		public.WithHTTPClient(tlsClient(e.sim)), public.WithInstanceDiscovery(false))
	if err != nil {
		t.Fatalf("public.New: %v", err)
	}
	return c
}

func pkcePair(seed string) (verifier, challenge string) {
	sum := sha256.Sum256([]byte("verifier " + seed))
	verifier = base64.RawURLEncoding.EncodeToString(sum[:]) + "-graphsim-test"
	c := sha256.Sum256([]byte(verifier))
	return verifier, base64.RawURLEncoding.EncodeToString(c[:])
}

// authURL builds the authorization URL with MSAL's AuthCodeURL, which has
// no PKCE option on confidential clients, and appends PKCE and state.
func authURL(t *testing.T, e *delegEnv, cca confidential.Client, user string, scopes []string, challenge, state string) string {
	t.Helper()
	u, err := cca.AuthCodeURL(context.Background(), e.creds.ClientID, testRedirectURI, scopes, confidential.WithLoginHint(user))
	if err != nil {
		t.Fatalf("AuthCodeURL: %v", err)
	}
	pu, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	q := pu.Query()
	q.Set("code_challenge", challenge)
	q.Set("code_challenge_method", "S256")
	q.Set("state", state)
	pu.RawQuery = q.Encode()
	return pu.String()
}

// browse loads a URL as the user's browser, without following redirects.
func browse(t *testing.T, e *delegEnv, u string) (*http.Response, string) {
	t.Helper()
	c := tlsClient(e.sim)
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := c.Get(u)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	var sb strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := resp.Body.Read(buf)
		sb.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return resp, sb.String()
}

// redirected checks a 302 to testRedirectURI and returns its query.
func redirected(t *testing.T, resp *http.Response, body string) url.Values {
	t.Helper()
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("authorize: status %d, want 302; body %s", resp.StatusCode, body)
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || !strings.HasPrefix(loc.String(), testRedirectURI+"?") {
		t.Fatalf("authorize: Location %q, want %s?...", resp.Header.Get("Location"), testRedirectURI)
	}
	return loc.Query()
}

// signIn runs the browser side of the authorization code flow: the first
// load shows the consent page, the harness decides, the second load
// redirects. It returns the redirect's query and the PKCE verifier.
func signIn(t *testing.T, e *delegEnv, cca confidential.Client, user UserSeed, scopes []string, approve bool) (url.Values, string) {
	t.Helper()
	verifier, challenge := pkcePair(user.ID + strings.Join(scopes, ","))
	state := "state-" + user.ID[:8]
	u := authURL(t, e, cca, user.UserPrincipalName, scopes, challenge, state)
	resp, body := browse(t, e, u)
	if resp.StatusCode != http.StatusOK || !strings.Contains(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("first authorize load: status %d (%s), want the 200 consent page; body %s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	pendingID := resp.Header.Get("X-Graphsim-Pending-Sign-In")
	found := false
	for _, p := range e.sim.PendingSignIns() {
		if p.ID == pendingID && p.UserID == user.ID && strings.EqualFold(p.ClientID, e.creds.ClientID) {
			found = true
		}
	}
	if !found || !strings.Contains(body, pendingID) {
		t.Fatalf("pending sign-in %q for %s not listed (%+v) or not named on the page", pendingID, user.ID, e.sim.PendingSignIns())
	}
	if err := e.sim.DecideSignIn(e.creds.TenantID, e.creds.ClientID, user.UserPrincipalName, approve); err != nil {
		t.Fatalf("DecideSignIn: %v", err)
	}
	resp, body = browse(t, e, u)
	q := redirected(t, resp, body)
	if q.Get("state") != state {
		t.Errorf("redirect state = %q, want %q", q.Get("state"), state)
	}
	return q, verifier
}

// signInWithMSAL signs the user in and redeems the code with MSAL,
// returning the result; acc receives MSAL's exported cache.
func signInWithMSAL(t *testing.T, e *delegEnv, acc *memCache, user UserSeed, scopes []string) confidential.AuthResult {
	t.Helper()
	cca := newConfidentialClient(t, e, acc)
	q, verifier := signIn(t, e, cca, user, append([]string{"openid", "profile", "offline_access"}, scopes...), true)
	res, err := cca.AcquireTokenByAuthCode(context.Background(), q.Get("code"), testRedirectURI, scopes, confidential.WithChallenge(verifier))
	if err != nil {
		t.Fatalf("AcquireTokenByAuthCode: %v", err)
	}
	return res
}

// silentAfterExpiry ages the cached access tokens and calls
// AcquireTokenSilent on a fresh client reading the same cache.
func silentAfterExpiry(t *testing.T, e *delegEnv, acc *memCache, homeAccountID string, scopes []string) (confidential.AuthResult, error) {
	t.Helper()
	acc.expireAccessTokens(t)
	cca := newConfidentialClient(t, e, acc)
	acct, err := cca.Account(context.Background(), homeAccountID)
	if err != nil || acct.HomeAccountID != homeAccountID {
		t.Fatalf("Account(%s) from the exported cache = %+v, %v", homeAccountID, acct, err)
	}
	return cca.AcquireTokenSilent(context.Background(), scopes, confidential.WithSilentAccount(acct))
}

func tokenPosts(e *delegEnv) int {
	return len(requestsTo(e.sim, http.MethodPost, "/"+e.creds.TenantID+"/oauth2/v2.0/token"))
}

func TestAuthCodeFlow_MSALRedeemsWithPKCEAndRefreshesSilentlyWithRotation(t *testing.T) {
	e := startDelegatedSim(t)
	acc := &memCache{}
	scopes := []string{"https://graph.microsoft.com/Mail.Read"}
	res := signInWithMSAL(t, e, acc, e.ann, scopes)

	c := jwtClaims(t, res.AccessToken)
	if c["scp"] != "Mail.Read" || c["oid"] != e.ann.ID || c["tid"] != e.creds.TenantID || c["idtyp"] != "user" {
		t.Errorf("access token scp=%v oid=%v tid=%v idtyp=%v, want Mail.Read, %s, %s, user", c["scp"], c["oid"], c["tid"], c["idtyp"], e.ann.ID, e.creds.TenantID)
	}
	if _, has := c["roles"]; has {
		t.Errorf("delegated access token carries roles: %v", c["roles"])
	}
	home := e.ann.ID + "." + e.creds.TenantID
	if res.Account.HomeAccountID != home || !strings.EqualFold(res.Account.PreferredUsername, e.ann.UserPrincipalName) {
		t.Errorf("MSAL account = %q / %q, want %q / %q", res.Account.HomeAccountID, res.Account.PreferredUsername, home, e.ann.UserPrincipalName)
	}
	if res.IDToken.Oid != e.ann.ID || res.IDToken.TenantID != e.creds.TenantID || res.IDToken.Audience != e.creds.ClientID || res.IDToken.Name != e.ann.DisplayName {
		t.Errorf("id_token = %+v, want oid %s, tid %s, aud %s, name %s", res.IDToken, e.ann.ID, e.creds.TenantID, e.creds.ClientID, e.ann.DisplayName)
	}
	rt1 := acc.refreshTokens(t)
	if len(rt1) != 1 {
		t.Fatalf("MSAL cached %d refresh tokens after the code redemption, want 1 (offline_access was asked for)", len(rt1))
	}

	// The delegated token reads the user's own mail, not another's.
	if resp, body := rawDo(t, e.sim, http.MethodGet, "/v1.0/me/messages", res.AccessToken, nil); resp.StatusCode != http.StatusOK {
		t.Errorf("GET /me/messages with the delegated token: %d %s", resp.StatusCode, body)
	}
	resp, body := rawDo(t, e.sim, http.MethodGet, "/v1.0/users/"+e.bob.ID+"/messages", res.AccessToken, nil)
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(string(body), "ErrorAccessDenied") {
		t.Errorf("GET another user's messages with ann's token: %d %s, want 403 ErrorAccessDenied", resp.StatusCode, body)
	}

	// A fresh client on the exported cache refreshes once the access
	// token has expired, and the refresh token rotates.
	before := tokenPosts(e)
	res2, err := silentAfterExpiry(t, e, acc, home, scopes)
	if err != nil {
		t.Fatalf("AcquireTokenSilent after expiry: %v", err)
	}
	if got := tokenPosts(e) - before; got != 1 {
		t.Errorf("AcquireTokenSilent sent %d token requests, want 1 (the refresh_token grant)", got)
	}
	if res2.AccessToken == res.AccessToken || jwtClaims(t, res2.AccessToken)["scp"] != "Mail.Read" {
		t.Errorf("silent refresh returned the same or a wrong access token")
	}
	rt2 := acc.refreshTokens(t)
	if len(rt2) != 1 || rt2[0] == rt1[0] {
		t.Errorf("refresh tokens after the refresh = %d (same as before: %v), want one new token", len(rt2), len(rt2) == 1 && rt2[0] == rt1[0])
	}
	// The old refresh token is not revoked by rotation.
	status, raw := postTokenForm(t, e.sim, e.creds.TenantID, url.Values{
		"grant_type": {"refresh_token"}, "refresh_token": {rt1[0]}, "client_id": {e.creds.ClientID},
		"client_secret": {e.creds.ClientSecret}, "scope": {"Mail.Read offline_access"},
	})
	if status != http.StatusOK || !strings.Contains(raw, `"refresh_token"`) {
		t.Errorf("the rotated-out refresh token: %d %s, want 200 with a new refresh_token", status, raw)
	}

	// Asking for a scope beyond the consent needs a new consent.
	_, err = silentAfterExpiry(t, e, acc, home, []string{"Calendars.Read"})
	if err == nil || !strings.Contains(err.Error(), "AADSTS65001") {
		t.Errorf("silent token for an unconsented scope: err = %v, want invalid_grant AADSTS65001", err)
	}
}

func TestAuthCodeFlow_DeclineRedirectsWithAccessDenied65004(t *testing.T) {
	e := startDelegatedSim(t)
	cca := newConfidentialClient(t, e, nil)
	q, _ := signIn(t, e, cca, e.ann, []string{"openid", "Mail.Read"}, false)
	if q.Get("code") != "" || q.Get("error") != "access_denied" ||
		!strings.HasPrefix(q.Get("error_description"), "AADSTS65004: User declined to consent to access the app.") {
		t.Errorf("declined sign-in redirect = %v, want error=access_denied, AADSTS65004 and no code", q)
	}
	if c, _ := e.sim.UserConsent(e.creds.TenantID, e.creds.ClientID, e.ann.ID); len(c) != 0 {
		t.Errorf("consent after a decline = %v, want none", c)
	}
}

func TestAuthCodeFlow_WrongVerifierIs501481AndACodeRedeemsOnce(t *testing.T) {
	e := startDelegatedSim(t)
	cca := newConfidentialClient(t, e, nil)
	q, verifier := signIn(t, e, cca, e.ann, []string{"openid", "offline_access", "Mail.Read"}, true)
	ctx := context.Background()
	wrong, _ := pkcePair("someone else")
	_, err := cca.AcquireTokenByAuthCode(ctx, q.Get("code"), testRedirectURI, []string{"Mail.Read"}, confidential.WithChallenge(wrong))
	if err == nil || !strings.Contains(err.Error(), "invalid_grant") || !strings.Contains(err.Error(), "AADSTS501481") {
		t.Fatalf("redeeming with the wrong verifier: err = %v, want invalid_grant AADSTS501481", err)
	}
	if _, err := cca.AcquireTokenByAuthCode(ctx, q.Get("code"), testRedirectURI, []string{"Mail.Read"}, confidential.WithChallenge(verifier)); err != nil {
		t.Fatalf("redeeming with the right verifier: %v", err)
	}
	_, err = cca.AcquireTokenByAuthCode(ctx, q.Get("code"), testRedirectURI, []string{"Mail.Read"}, confidential.WithChallenge(verifier))
	if err == nil || !strings.Contains(err.Error(), "AADSTS54005") {
		t.Errorf("redeeming the code a second time: err = %v, want invalid_grant AADSTS54005", err)
	}

	// A consented user signs in again without a decision (single sign-on).
	_, challenge := pkcePair("again")
	resp, body := browse(t, e, authURL(t, e, cca, e.ann.UserPrincipalName, []string{"Mail.Read"}, challenge, "s2"))
	if q := redirected(t, resp, body); q.Get("code") == "" {
		t.Errorf("sign-in within the consented scopes: redirect %v, want a code", q)
	}
}

func TestAuthorize_RefusesUnknownAppUnregisteredRedirectAndPlainPKCE(t *testing.T) {
	e := startDelegatedSim(t)
	base := e.sim.URL() + "/" + e.creds.TenantID + "/oauth2/v2.0/authorize?"
	q := url.Values{"client_id": {e.creds.ClientID}, "response_type": {"code"}, "scope": {"Mail.Read"},
		"redirect_uri": {"https://evil.example/cb"}, "login_hint": {e.ann.UserPrincipalName}}
	resp, body := browse(t, e, base+q.Encode())
	if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" || !strings.Contains(body, "AADSTS50011") {
		t.Errorf("unregistered redirect_uri: %d Location=%q, want a 400 AADSTS50011 page without redirect; body %s", resp.StatusCode, resp.Header.Get("Location"), body)
	}
	unknown := url.Values{"client_id": {deterministicGUID("nobody")}, "response_type": {"code"}, "scope": {"Mail.Read"}, "redirect_uri": {testRedirectURI}}
	if resp, body := browse(t, e, base+unknown.Encode()); resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "AADSTS700016") {
		t.Errorf("unknown client_id: %d, want a 400 AADSTS700016 page; body %s", resp.StatusCode, body)
	}

	// Registered through the control API, the URI is accepted.
	controlCall(t, e.sim, http.MethodPost, "/tenants/"+e.creds.TenantID+"/apps/"+e.creds.ClientID+"/redirect-uris", map[string]any{"uris": []string{"https://evil.example/cb"}}, 200)
	if resp, body := browse(t, e, base+q.Encode()); resp.StatusCode != http.StatusOK {
		t.Errorf("after registering the redirect URI: %d, want the consent page; body %s", resp.StatusCode, body)
	}
	got := controlCall(t, e.sim, http.MethodGet, "/tenants/"+e.creds.TenantID+"/apps/"+e.creds.ClientID+"/redirect-uris", nil, 200)
	if fmt.Sprint(got["uris"]) != fmt.Sprint([]any{testRedirectURI, "https://evil.example/cb"}) {
		t.Errorf("registered redirect URIs = %v", got["uris"])
	}

	q.Set("code_challenge", strings.Repeat("a", 43))
	q.Set("code_challenge_method", "plain")
	q.Set("state", "xyz")
	resp, body = browse(t, e, base+q.Encode())
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusFound || loc == nil || loc.Query().Get("error") != "invalid_request" || loc.Query().Get("state") != "xyz" {
		t.Errorf("plain PKCE: %d Location=%q, want 302 with error=invalid_request and the state; body %s", resp.StatusCode, resp.Header.Get("Location"), body)
	}
}

// TestRefresh_PerUserRevocationExpiryAndConsentWithdrawal: each control
// operation breaks one user's refresh with its AADSTS code while another
// user of the same app still refreshes.
func TestRefresh_PerUserRevocationExpiryAndConsentWithdrawal(t *testing.T) {
	cases := []struct {
		name string
		do   func(e *delegEnv) error
		want string
	}{
		{"revoked", func(e *delegEnv) error {
			return e.sim.RevokeUserRefreshTokens(e.creds.TenantID, e.ann.UserPrincipalName)
		}, "AADSTS50173"},
		{"inactive", func(e *delegEnv) error { return e.sim.ExpireUserRefreshTokens(e.creds.TenantID, e.ann.ID) }, "AADSTS700082"},
		{"consent withdrawn", func(e *delegEnv) error {
			return e.sim.WithdrawUserConsent(e.creds.TenantID, e.creds.ClientID, e.ann.UserPrincipalName)
		}, "AADSTS65001"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := startDelegatedSim(t)
			scopes := []string{"Mail.Read"}
			annCache, bobCache := &memCache{}, &memCache{}
			annRes := signInWithMSAL(t, e, annCache, e.ann, scopes)
			bobRes := signInWithMSAL(t, e, bobCache, e.bob, scopes)
			if err := tc.do(e); err != nil {
				t.Fatal(err)
			}
			_, err := silentAfterExpiry(t, e, annCache, annRes.Account.HomeAccountID, scopes)
			if err == nil || !strings.Contains(err.Error(), "invalid_grant") || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("ann's silent refresh: err = %v, want invalid_grant %s", err, tc.want)
			}
			if _, err := silentAfterExpiry(t, e, bobCache, bobRes.Account.HomeAccountID, scopes); err != nil {
				t.Errorf("bob's silent refresh after ann's %s: %v", tc.name, err)
			}
		})
	}
}

func TestRefresh_ErrorBodyHasTheDocumentedShape(t *testing.T) {
	e := startDelegatedSim(t)
	acc := &memCache{}
	signInWithMSAL(t, e, acc, e.ann, []string{"Mail.Read"})
	if err := e.sim.RevokeUserRefreshTokens(e.creds.TenantID, e.ann.ID); err != nil {
		t.Fatal(err)
	}
	status, raw := postTokenForm(t, e.sim, e.creds.TenantID, url.Values{
		"grant_type": {"refresh_token"}, "refresh_token": {acc.refreshTokens(t)[0]}, "client_id": {e.creds.ClientID},
		"client_secret": {e.creds.ClientSecret}, "scope": {"Mail.Read openid offline_access profile"},
	})
	body := jsonObject(t, []byte(raw))
	codes, _ := body["error_codes"].([]any)
	if status != http.StatusBadRequest || body["error"] != "invalid_grant" || !strings.HasPrefix(fmt.Sprint(body["error_description"]), "AADSTS50173: ") ||
		len(codes) != 1 || codes[0] != float64(50173) || body["trace_id"] == nil || body["correlation_id"] == nil || body["timestamp"] == nil {
		t.Errorf("revoked refresh token: %d %s, want 400 invalid_grant with AADSTS50173, error_codes, timestamp, trace_id, correlation_id", status, raw)
	}
}

// runDeviceCode starts MSAL's device code flow and waits until the
// simulator has answered at least one poll with authorization_pending.
func runDeviceCode(t *testing.T, e *delegEnv, scopes []string) (userCode string, result <-chan error, got *public.AuthResult) {
	t.Helper()
	pca := newPublicClient(t, e)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	dc, err := pca.AcquireTokenByDeviceCode(ctx, scopes)
	if err != nil {
		t.Fatalf("AcquireTokenByDeviceCode: %v", err)
	}
	if dc.Result.UserCode == "" || dc.Result.DeviceCode == "" || !strings.Contains(dc.Result.Message, dc.Result.UserCode) {
		t.Fatalf("device code result = %+v", dc.Result)
	}
	done := make(chan error, 1)
	var res public.AuthResult
	go func() {
		r, err := dc.AuthenticationResult(ctx)
		res = r
		done <- err
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		pending := false
		for _, rec := range requestsTo(e.sim, http.MethodPost, "/"+e.creds.TenantID+"/oauth2/v2.0/token") {
			pending = pending || rec.Status == http.StatusBadRequest
		}
		if pending {
			break
		}
		select {
		case err := <-done:
			t.Fatalf("device code flow ended before the user acted: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("MSAL never polled the token endpoint")
		}
		time.Sleep(20 * time.Millisecond)
	}
	return dc.Result.UserCode, done, &res
}

func TestDeviceCodeFlow_MSALPollsUntilApprovedThenReadsOwnMailOnly(t *testing.T) {
	e := startDelegatedSim(t)
	userCode, done, res := runDeviceCode(t, e, []string{"Mail.Read"})
	listed := false
	for _, p := range e.sim.PendingDeviceCodes() {
		listed = listed || p.UserCode == userCode
	}
	if !listed {
		t.Errorf("user code %s not among PendingDeviceCodes %+v", userCode, e.sim.PendingDeviceCodes())
	}
	controlCall(t, e.sim, http.MethodPost, "/device-codes/"+userCode+"/approve", map[string]any{"user": e.ann.UserPrincipalName}, 200)
	if err := <-done; err != nil {
		t.Fatalf("device code flow after approval: %v", err)
	}
	c := jwtClaims(t, res.AccessToken)
	if c["scp"] != "Mail.Read" || c["oid"] != e.ann.ID || c["appid"] != e.publicID {
		t.Errorf("device code access token scp=%v oid=%v appid=%v, want Mail.Read, %s, %s", c["scp"], c["oid"], c["appid"], e.ann.ID, e.publicID)
	}
	if res.Account.HomeAccountID != e.ann.ID+"."+e.creds.TenantID {
		t.Errorf("MSAL account %q, want %s.%s", res.Account.HomeAccountID, e.ann.ID, e.creds.TenantID)
	}
	if resp, body := rawDo(t, e.sim, http.MethodGet, "/v1.0/me/messages?$top=1", res.AccessToken, nil); resp.StatusCode != http.StatusOK {
		t.Errorf("GET /me/messages: %d %s", resp.StatusCode, body)
	}
	resp, body := rawDo(t, e.sim, http.MethodGet, "/v1.0/users/"+e.bob.UserPrincipalName+"/messages", res.AccessToken, nil)
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(string(body), "ErrorAccessDenied") {
		t.Errorf("GET bob's messages with ann's token: %d %s, want 403 ErrorAccessDenied", resp.StatusCode, body)
	}
}

func TestDeviceCodeFlow_DeclinedAndNotAllowedForConfidentialOnlyApps(t *testing.T) {
	e := startDelegatedSim(t)
	userCode, done, _ := runDeviceCode(t, e, []string{"Mail.Read"})
	if err := e.sim.DeclineDeviceCode(userCode); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err == nil || !strings.Contains(err.Error(), "authorization_declined") {
		t.Errorf("declined device code: err = %v, want authorization_declined", err)
	}

	if err := e.sim.SetPublicClient(e.creds.TenantID, e.publicID, false); err != nil {
		t.Fatal(err)
	}
	pca := newPublicClient(t, e)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	dc, err := pca.AcquireTokenByDeviceCode(ctx, []string{"Mail.Read"})
	if err != nil {
		t.Fatalf("AcquireTokenByDeviceCode: %v", err)
	}
	if _, err := dc.AuthenticationResult(ctx); err == nil || !strings.Contains(err.Error(), "AADSTS7000218") {
		t.Errorf("device code for an app without public client flows: err = %v, want invalid_client AADSTS7000218", err)
	}
}

func TestDeviceCode_RawPollingPendingThenExpired(t *testing.T) {
	e := startDelegatedSim(t)
	resp, raw := rawDo(t, e.sim, http.MethodPost, "/"+e.creds.TenantID+"/oauth2/v2.0/devicecode", "",
		strings.NewReader(url.Values{"client_id": {e.publicID}, "scope": {"Mail.Read openid offline_access profile"}}.Encode()),
		"Content-Type: application/x-www-form-urlencoded")
	dcr := jsonObject(t, raw)
	if resp.StatusCode != http.StatusOK || dcr["interval"] != float64(1) || dcr["device_code"] == nil || dcr["user_code"] == nil ||
		dcr["verification_uri"] == nil || dcr["expires_in"] == nil || dcr["message"] == nil {
		t.Fatalf("devicecode: %d %s", resp.StatusCode, raw)
	}
	poll := func() map[string]any {
		status, body := postTokenForm(t, e.sim, e.creds.TenantID, url.Values{
			"grant_type": {grantDeviceCode}, "device_code": {dcr["device_code"].(string)}, "client_id": {e.publicID}, "client_info": {"1"},
			"scope": {"Mail.Read openid offline_access profile"},
		})
		if status != http.StatusBadRequest {
			t.Fatalf("poll: %d %s, want 400", status, body)
		}
		return jsonObject(t, []byte(body))
	}
	if b := poll(); b["error"] != "authorization_pending" || !strings.HasPrefix(fmt.Sprint(b["error_description"]), "AADSTS70016: ") {
		t.Errorf("poll before approval = %v, want authorization_pending", b)
	}
	if err := e.sim.ExpireDeviceCode(dcr["user_code"].(string)); err != nil {
		t.Fatal(err)
	}
	if b := poll(); b["error"] != "expired_token" {
		t.Errorf("poll after expiry = %v, want expired_token", b)
	}
}

// TestDelegatedToken_SyncRoutesHonourScp: the sync routes, in both the
// /users/{id} and /me forms, answer a delegated token according to its
// scp (graph-behavior §8), and never serve another user's mailbox.
func TestDelegatedToken_SyncRoutesHonourScp(t *testing.T) {
	e := startDelegatedSim(t)
	now := time.Now().UTC()
	window := fmt.Sprintf("startDateTime=%s&endDateTime=%s", now.Add(-24*time.Hour).Format("2006-01-02T15:04:05Z"), now.Add(24*time.Hour).Format("2006-01-02T15:04:05Z"))
	routes := []struct{ path, scope string }{
		{"mailFolders/inbox/messages/delta", "Mail.ReadBasic"},
		{"mailFolders", "Mail.Read"},
		{"mailFolders/delta", "Mail.Read"},
		{"calendarView?" + window, "Calendars.Read"},
		{"calendarView/delta?" + window, "Calendars.Read"},
		{"mailboxSettings", "MailboxSettings.Read"},
		{"contacts/delta", "Contacts.Read"},
	}
	tok := func(scopes ...string) string {
		t.Helper()
		if err := e.sim.GrantUserConsent(e.creds.TenantID, e.creds.ClientID, e.ann.ID, scopes); err != nil {
			t.Fatal(err)
		}
		tk, err := e.sim.DelegatedAccessToken(e.creds.TenantID, e.creds.ClientID, e.ann.ID, scopes)
		if err != nil {
			t.Fatal(err)
		}
		return tk
	}
	none := tok("User.Read")
	for _, rt := range routes {
		right := tok(rt.scope)
		for _, prefix := range []string{"/v1.0/me/", "/v1.0/users/" + e.ann.ID + "/"} {
			if resp, body := rawDo(t, e.sim, http.MethodGet, prefix+rt.path, right, nil); resp.StatusCode != http.StatusOK {
				t.Errorf("GET %s%s with scp %s: %d %.200s, want 200", prefix, rt.path, rt.scope, resp.StatusCode, body)
			}
			if resp, body := rawDo(t, e.sim, http.MethodGet, prefix+rt.path, none, nil); resp.StatusCode != http.StatusForbidden || !strings.Contains(string(body), "ErrorAccessDenied") {
				t.Errorf("GET %s%s with scp User.Read: %d %.200s, want 403 ErrorAccessDenied", prefix, rt.path, resp.StatusCode, body)
			}
		}
		if resp, body := rawDo(t, e.sim, http.MethodGet, "/v1.0/users/"+e.bob.ID+"/"+rt.path, right, nil); resp.StatusCode != http.StatusForbidden || !strings.Contains(string(body), "ErrorAccessDenied") {
			t.Errorf("GET bob's %s with ann's %s token: %d %.200s, want 403 ErrorAccessDenied", rt.path, rt.scope, resp.StatusCode, body)
		}
	}
}

func TestControlAPI_DelegatedFlowRoutes(t *testing.T) {
	e := startDelegatedSim(t)
	tid, cid := e.creds.TenantID, e.creds.ClientID
	controlCall(t, e.sim, http.MethodPost, "/tenants/"+tid+"/apps/"+cid+"/public-client", map[string]any{"allow": true}, 200)
	controlCall(t, e.sim, http.MethodPost, "/tenants/"+tid+"/apps/"+cid+"/users/"+e.ann.UserPrincipalName+"/consent", map[string]any{"scopes": []string{"Mail.Read", "Calendars.Read"}}, 200)
	got := controlCall(t, e.sim, http.MethodGet, "/tenants/"+tid+"/apps/"+cid+"/users/"+e.ann.ID+"/consent", nil, 200)
	if fmt.Sprint(got["scopes"]) != "[Calendars.Read Mail.Read]" {
		t.Errorf("consent = %v", got["scopes"])
	}
	controlCall(t, e.sim, http.MethodPost, "/tenants/"+tid+"/apps/"+cid+"/users/"+e.ann.ID+"/withdraw-consent", nil, 200)
	if got := controlCall(t, e.sim, http.MethodGet, "/tenants/"+tid+"/apps/"+cid+"/users/"+e.ann.ID+"/consent", nil, 200); fmt.Sprint(got["scopes"]) != "[]" {
		t.Errorf("consent after withdrawal = %v", got["scopes"])
	}
	controlCall(t, e.sim, http.MethodPost, "/tenants/"+tid+"/apps/"+cid+"/users/"+e.ann.ID+"/sign-in", map[string]any{"approve": true}, 200)
	controlCall(t, e.sim, http.MethodPost, "/tenants/"+tid+"/apps/"+cid+"/users/nobody/sign-in", map[string]any{"approve": true}, 404)
	controlCall(t, e.sim, http.MethodPost, "/tenants/"+tid+"/users/"+e.ann.ID+"/revoke-sign-in-sessions", nil, 200)
	controlCall(t, e.sim, http.MethodPost, "/tenants/"+tid+"/users/"+e.ann.ID+"/expire-refresh-tokens", nil, 200)
	controlCall(t, e.sim, http.MethodPost, "/device-codes/NOSUCHCODE/decline", nil, 404)
	if got := controlCall(t, e.sim, http.MethodGet, "/device-codes", nil, 200); fmt.Sprint(got["value"]) != "[]" {
		t.Errorf("device codes = %v, want none", got["value"])
	}
	if got := controlCall(t, e.sim, http.MethodGet, "/sign-ins", nil, 200); fmt.Sprint(got["value"]) != "[]" {
		t.Errorf("pending sign-ins = %v, want none", got["value"])
	}
}

func TestAuthCodeFlow_OrganizationsAuthorityResolvesTheUsersTenant(t *testing.T) {
	e := startDelegatedSim(t)
	acc := &memCache{}
	cca := newConfidentialClientAt(t, e, "organizations", acc)
	scopes := []string{"Mail.Read"}
	u, err := cca.AuthCodeURL(context.Background(), e.creds.ClientID, testRedirectURI, append([]string{"openid", "offline_access"}, scopes...), confidential.WithLoginHint(e.ann.UserPrincipalName))
	if err != nil {
		t.Fatalf("AuthCodeURL on organizations: %v", err)
	}
	if !strings.Contains(u, "/organizations/oauth2/v2.0/authorize?") {
		t.Fatalf("authorization URL %s is not on the organizations authority", u)
	}
	if resp, body := browse(t, e, u); resp.StatusCode != http.StatusOK {
		t.Fatalf("first load: %d %s, want the consent page", resp.StatusCode, body)
	}
	if err := e.sim.DecideSignIn(e.creds.TenantID, e.creds.ClientID, e.ann.ID, true); err != nil {
		t.Fatal(err)
	}
	resp, body := browse(t, e, u)
	q := redirected(t, resp, body)
	res, err := cca.AcquireTokenByAuthCode(context.Background(), q.Get("code"), testRedirectURI, scopes)
	if err != nil {
		t.Fatalf("AcquireTokenByAuthCode on organizations: %v", err)
	}
	if c := jwtClaims(t, res.AccessToken); c["tid"] != e.creds.TenantID || c["oid"] != e.ann.ID {
		t.Errorf("token tid=%v oid=%v, want the user's tenant %s and id %s", c["tid"], c["oid"], e.creds.TenantID, e.ann.ID)
	}
	acc.expireAccessTokens(t)
	cca2 := newConfidentialClientAt(t, e, "organizations", acc)
	acct, err := cca2.Account(context.Background(), res.Account.HomeAccountID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cca2.AcquireTokenSilent(context.Background(), scopes, confidential.WithSilentAccount(acct)); err != nil {
		t.Errorf("silent refresh on organizations: %v", err)
	}
}

// TestInteractiveFlow_MSALPublicClientPKCEThroughLoopbackRedirect lets
// MSAL run the whole public-client authorization code flow with its own
// PKCE pair and loopback redirect server; the test is the browser.
func TestInteractiveFlow_MSALPublicClientPKCEThroughLoopbackRedirect(t *testing.T) {
	e := startDelegatedSim(t)
	pca := newPublicClient(t, e)
	openURL := func(u string) error {
		pu, err := url.Parse(u)
		if err != nil {
			return err
		}
		if q := pu.Query(); q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "" || !strings.HasPrefix(q.Get("redirect_uri"), "http://localhost:") {
			return fmt.Errorf("MSAL's authorization URL lacks S256 PKCE or a loopback redirect: %s", u)
		}
		if resp, body := browse(t, e, u); resp.StatusCode != http.StatusOK {
			return fmt.Errorf("first load: %d %s %s", resp.StatusCode, body, resp.Header.Get("Location"))
		}
		if err := e.sim.DecideSignIn(e.creds.TenantID, e.publicID, e.ann.UserPrincipalName, true); err != nil {
			return err
		}
		// MSAL asks for response_mode=form_post: the page's form posts the
		// code to MSAL's loopback server.
		resp, body := browse(t, e, u)
		m := regexp.MustCompile(`action="([^"]+)"`).FindStringSubmatch(body)
		if resp.StatusCode != http.StatusOK || m == nil {
			return fmt.Errorf("second load: %d %s, want the form_post page", resp.StatusCode, body)
		}
		form := url.Values{}
		for _, in := range regexp.MustCompile(`name="([^"]+)" value="([^"]*)"`).FindAllStringSubmatch(body, -1) {
			form.Set(in[1], html.UnescapeString(in[2]))
		}
		if form.Get("code") == "" || form.Get("state") != pu.Query().Get("state") {
			return fmt.Errorf("form_post fields %v lack the code or the state", form)
		}
		back, err := http.PostForm(html.UnescapeString(m[1]), form) // MSAL's loopback server
		if err != nil {
			return err
		}
		return back.Body.Close()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	res, err := pca.AcquireTokenInteractive(ctx, []string{"Mail.Read"}, public.WithLoginHint(e.ann.UserPrincipalName), public.WithOpenURL(openURL))
	if err != nil {
		t.Fatalf("AcquireTokenInteractive: %v", err)
	}
	if c := jwtClaims(t, res.AccessToken); c["scp"] != "Mail.Read" || c["oid"] != e.ann.ID {
		t.Errorf("interactive token scp=%v oid=%v, want Mail.Read and %s", c["scp"], c["oid"], e.ann.ID)
	}
}

// TestAuthCodeFlow_CertificateCredentialAuthenticatesTheRedemption: a
// confidential client holding a certificate (client_assertion) redeems the
// code; an unregistered certificate is refused before the code is used.
func TestAuthCodeFlow_CertificateCredentialAuthenticatesTheRedemption(t *testing.T) {
	e := startDelegatedSim(t)
	newCert := func(serial int64) (*x509.Certificate, *rsa.PrivateKey) {
		key, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "delegated"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour)}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
		if err != nil {
			t.Fatal(err)
		}
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatal(err)
		}
		return cert, key
	}
	client := func(cert *x509.Certificate, key *rsa.PrivateKey) confidential.Client {
		cred, err := confidential.NewCredFromCert([]*x509.Certificate{cert}, key)
		if err != nil {
			t.Fatal(err)
		}
		c, err := confidential.New(e.sim.URL()+"/"+e.creds.TenantID, e.creds.ClientID, cred,
			confidential.WithHTTPClient(tlsClient(e.sim)), confidential.WithInstanceDiscovery(false))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	registered, regKey := newCert(1)
	if _, err := e.sim.AddCertificate(e.creds.TenantID, e.creds.ClientID, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: registered.Raw})); err != nil {
		t.Fatalf("AddCertificate: %v", err)
	}
	good := client(registered, regKey)
	q, verifier := signIn(t, e, good, e.ann, []string{"openid", "Mail.Read"}, true)
	ctx := context.Background()
	_, err := client(newCert(2)).AcquireTokenByAuthCode(ctx, q.Get("code"), testRedirectURI, []string{"Mail.Read"}, confidential.WithChallenge(verifier))
	if err == nil || !strings.Contains(err.Error(), "invalid_client") || !strings.Contains(err.Error(), "AADSTS700027") {
		t.Errorf("redeeming with an unregistered certificate: err = %v, want invalid_client AADSTS700027", err)
	}
	res, err := good.AcquireTokenByAuthCode(ctx, q.Get("code"), testRedirectURI, []string{"Mail.Read"}, confidential.WithChallenge(verifier))
	if err != nil {
		t.Fatalf("redeeming with the registered certificate: %v", err)
	}
	if c := jwtClaims(t, res.AccessToken); c["scp"] != "Mail.Read" || c["oid"] != e.ann.ID {
		t.Errorf("token scp=%v oid=%v, want Mail.Read and %s", c["scp"], c["oid"], e.ann.ID)
	}
}
