package graphsim

import (
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
)

func tokenOptions() policy.TokenRequestOptions {
	// EnableCAE is what kiota asks for; azidentity then sends the CP1 claims.
	return policy.TokenRequestOptions{Scopes: []string{graphScope}, EnableCAE: true}
}

// (S1)
func TestOpenIDConfiguration_IssuerMatchesAuthorityHostAndPort(t *testing.T) {
	t.Parallel()
	e := startDemoSim(t)

	// The unmodified credential only succeeds if MSAL accepts the issuer.
	cred := newCredential(t, e.sim, e.creds.TenantID, e.creds.ClientID, e.creds.ClientSecret)
	if _, err := cred.GetToken(ctxT(t), tokenOptions()); err != nil {
		t.Fatalf("GetToken through the simulator: %v", err)
	}
	disc := requestsTo(e.sim, http.MethodGet, "/"+e.creds.TenantID+"/v2.0/.well-known/openid-configuration")
	if len(disc) != 1 || disc[0].Status != http.StatusOK {
		t.Fatalf("openid-configuration requests = %+v, want one 200", disc)
	}

	authority, _ := url.Parse(e.sim.AuthorityHost())
	for _, host := range []string{e.sim.URL(), "https://127.0.0.1:" + strconv.Itoa(e.sim.Port())} {
		resp, body := rawDo(t, e.sim, http.MethodGet, host+"/"+e.creds.TenantID+"/v2.0/.well-known/openid-configuration", "", nil)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: status %d, body %s", host, resp.StatusCode, body)
		}
		if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			t.Errorf("Content-Type = %q, want application/json", ct)
		}
		cfg := jsonObject(t, body)
		want, _ := url.Parse(host)
		for _, k := range []string{"authorization_endpoint", "token_endpoint", "issuer", "jwks_uri", "device_authorization_endpoint"} {
			v, _ := cfg[k].(string)
			u, err := url.Parse(v)
			if v == "" || err != nil {
				t.Errorf("%s: %s = %q, want a non-empty URL", host, k, v)
				continue
			}
			if u.Scheme != "https" || u.Host != want.Host {
				t.Errorf("%s: %s = %q, want scheme https and host %q (the authority's host:port)", host, k, v, want.Host)
			}
		}
		if host == e.sim.URL() {
			iss, _ := url.Parse(cfg["issuer"].(string))
			if iss.Host != authority.Host {
				t.Errorf("issuer host %q != authority host %q", iss.Host, authority.Host)
			}
		}
	}

	// An unknown tenant is refused the way Entra does.
	resp, body := rawDo(t, e.sim, http.MethodGet, "/"+deterministicGUID("nope")+"/v2.0/.well-known/openid-configuration", "", nil)
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "AADSTS90002") {
		t.Errorf("unknown tenant discovery: status %d body %s, want 400 with AADSTS90002", resp.StatusCode, body)
	}
}

// (S2)
func TestInstanceDiscovery_ClientNeverCallsItAndItAnswersWithMetadata(t *testing.T) {
	e := startDemoSim(t)
	client, _ := e.demoClient(t)
	if _, err := client.Users().Get(ctxT(t), nil); err != nil {
		t.Fatalf("list users: %v", err)
	}
	if got := requestsTo(e.sim, "", "/common/discovery/instance"); len(got) != 0 {
		t.Errorf("client with DisableInstanceDiscovery made instance discovery requests: %+v", got)
	}

	ae := url.QueryEscape(e.sim.URL() + "/" + e.creds.TenantID + "/oauth2/v2.0/authorize")
	resp, body := rawDo(t, e.sim, http.MethodGet, "/common/discovery/instance?api-version=1.1&authorization_endpoint="+ae, "", nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("instance discovery: status %d body %s", resp.StatusCode, body)
	}
	var got struct {
		TenantDiscoveryEndpoint string `json:"tenant_discovery_endpoint"`
		Metadata                []struct {
			PreferredNetwork string   `json:"preferred_network"`
			PreferredCache   string   `json:"preferred_cache"`
			Aliases          []string `json:"aliases"`
		} `json:"metadata"`
	}
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	host := strings.TrimPrefix(e.sim.URL(), "https://")
	wantEndpoint := e.sim.URL() + "/" + e.creds.TenantID + "/v2.0/.well-known/openid-configuration"
	if got.TenantDiscoveryEndpoint != wantEndpoint {
		t.Errorf("tenant_discovery_endpoint = %q, want %q", got.TenantDiscoveryEndpoint, wantEndpoint)
	}
	if len(got.Metadata) != 1 || got.Metadata[0].PreferredNetwork != host || got.Metadata[0].PreferredCache != host || !slices.Contains(got.Metadata[0].Aliases, host) {
		t.Errorf("metadata = %+v, want one entry naming %q", got.Metadata, host)
	}
}

// (S2) Only HTTPS is served: plain HTTP on the same port gets no identity
// data, and azidentity itself refuses an http authority.
func TestIdentity_OnlyHTTPSIsServed(t *testing.T) {
	t.Parallel()
	e := startDemoSim(t)
	plain := "http://127.0.0.1:" + strconv.Itoa(e.sim.Port()) + "/" + e.creds.TenantID + "/v2.0/.well-known/openid-configuration"
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Get(plain)
	if err == nil {
		defer resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Fatalf("plain HTTP request was answered with 200")
		}
	}
	_, err = azidentity.NewClientSecretCredential(e.creds.TenantID, e.creds.ClientID, e.creds.ClientSecret, &azidentity.ClientSecretCredentialOptions{
		ClientOptions:            azcore.ClientOptions{Cloud: cloud.Configuration{ActiveDirectoryAuthorityHost: strings.Replace(e.sim.AuthorityHost(), "https", "http", 1)}},
		DisableInstanceDiscovery: true,
	})
	if err == nil {
		t.Errorf("azidentity accepted an http authority host")
	}
}

// (S3)
func TestTokenEndpoint_ClientCredentialsReturnsBearerJWTWithRoles(t *testing.T) {
	t.Parallel()
	e := startDemoSim(t)
	cred := newCredential(t, e.sim, e.creds.TenantID, e.creds.ClientID, e.creds.ClientSecret)
	tok, err := cred.GetToken(ctxT(t), tokenOptions())
	if err != nil {
		t.Fatalf("GetToken: %v", err)
	}
	c := jwtClaims(t, tok.Token)
	want := map[string]any{
		"aud":   "https://graph.microsoft.com",
		"iss":   "https://sts.windows.net/" + e.creds.TenantID + "/",
		"tid":   e.creds.TenantID,
		"appid": e.creds.ClientID,
		"azp":   e.creds.ClientID,
		"idtyp": "app",
		"ver":   "1.0",
	}
	for k, v := range want {
		if c[k] != v {
			t.Errorf("claim %s = %v, want %v", k, c[k], v)
		}
	}
	if oid, _ := c["oid"].(string); !isGUID(oid) {
		t.Errorf("oid = %v, want the service principal's GUID", c["oid"])
	}
	var roles []string
	for _, r := range c["roles"].([]any) {
		roles = append(roles, r.(string))
	}
	slices.Sort(roles)
	if strings.Join(roles, ",") != "Calendars.Read,Contacts.Read,GroupMember.Read.All,Mail.ReadBasic.All,Mail.Send,MailboxSettings.Read,User.Read.All" {
		t.Errorf("roles = %v, want the granted Mail.ReadBasic.All, Mail.Send, User.Read.All", roles)
	}
	iat, exp := c["iat"].(float64), c["exp"].(float64)
	if exp-iat != 3599 || c["nbf"] == nil {
		t.Errorf("iat %v, nbf %v, exp %v: want exp = iat + 3599 and nbf set", iat, c["nbf"], exp)
	}
	if cc, _ := c["xms_cc"].([]any); len(cc) != 1 || cc[0] != "CP1" {
		t.Errorf("xms_cc = %v, want [CP1] (azidentity sent the CAE capability)", c["xms_cc"])
	}

	// The raw exchange, as MSAL sends it: charset in the content type, the
	// OIDC scopes appended, and a claims field.
	status, body := postTokenForm(t, e.sim, e.creds.TenantID, url.Values{
		"grant_type":    {"client_credentials"},
		"client_id":     {e.creds.ClientID},
		"client_secret": {e.creds.ClientSecret},
		"scope":         {"https://graph.microsoft.com/.default openid offline_access profile"},
		"claims":        {`{"access_token":{"xms_cc":{"values":["CP1"]}}}`},
	})
	if status != http.StatusOK {
		t.Fatalf("raw token request: %d %s", status, body)
	}
	m := jsonObject(t, []byte(body))
	sameKeys(t, "token response", m, "token_type", "expires_in", "ext_expires_in", "access_token")
	if m["token_type"] != "Bearer" || m["expires_in"] != float64(3599) || m["ext_expires_in"] != float64(3599) {
		t.Errorf("token response = %s, want Bearer with expires_in and ext_expires_in 3599", body)
	}

	// No granted roles: the claim is omitted rather than empty.
	if err := e.sim.SetGrantedRoles(e.creds.TenantID, e.creds.ClientID, nil); err != nil {
		t.Fatal(err)
	}
	if _, ok := jwtClaims(t, rawToken(t, e.sim, e.creds.TenantID, e.creds.ClientID, e.creds.ClientSecret))["roles"]; ok {
		t.Errorf("token for an app without roles carries a roles claim")
	}
}

// (S4)
func TestTokenEndpoint_ExpiresInExceedsMSALRefreshMarginSoTokensAreReused(t *testing.T) {
	if _, err := Start(Options{TokenLifetime: 300 * time.Second}); err == nil {
		t.Errorf("Start accepted a 300s token lifetime; MSAL would fetch a token per call")
	}
	e := startDemoSim(t)
	client, _ := e.demoClient(t)
	for i := 0; i < 3; i++ {
		if _, err := client.Users().Get(ctxT(t), nil); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	if got := requestsTo(e.sim, http.MethodPost, "/"+e.creds.TenantID+"/oauth2/v2.0/token"); len(got) != 1 {
		t.Errorf("token requests for 3 Graph calls = %d, want 1 (expires_in must exceed MSAL's 300s margin)", len(got))
	}
	status, body := postTokenForm(t, e.sim, e.creds.TenantID, url.Values{
		"grant_type": {"client_credentials"}, "client_id": {e.creds.ClientID},
		"client_secret": {e.creds.ClientSecret}, "scope": {graphScope},
	})
	var tr struct {
		ExpiresIn int `json:"expires_in"`
	}
	if json.Unmarshal([]byte(body), &tr); status != http.StatusOK || tr.ExpiresIn <= 300 {
		t.Errorf("expires_in = %d (status %d), want > 300", tr.ExpiresIn, status)
	}
}

var aadDescription = regexp.MustCompile(`^AADSTS(\d+): .+\r\nTrace ID: [0-9a-f-]{36}\r\nCorrelation ID: [0-9a-f-]{36}\r\nTimestamp: \d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ$`)

// checkIdentityError verifies the documented identity error body shape.
func checkIdentityError(t *testing.T, status int, body string, wantStatus int, wantError string, wantCode int) map[string]any {
	t.Helper()
	if status != wantStatus {
		t.Errorf("status = %d, want %d (body %s)", status, wantStatus, body)
	}
	m := jsonObject(t, []byte(body))
	if m["error"] != wantError {
		t.Errorf("error = %v, want %q", m["error"], wantError)
	}
	desc, _ := m["error_description"].(string)
	if sm := aadDescription.FindStringSubmatch(desc); sm == nil || sm[1] != strconv.Itoa(wantCode) {
		t.Errorf("error_description = %q, want \"AADSTS%d: ...\\r\\nTrace ID: ...\\r\\nCorrelation ID: ...\\r\\nTimestamp: ...\"", desc, wantCode)
	}
	if codes, _ := m["error_codes"].([]any); len(codes) != 1 || codes[0] != float64(wantCode) {
		t.Errorf("error_codes = %v, want [%d]", m["error_codes"], wantCode)
	}
	for _, k := range []string{"timestamp", "trace_id", "correlation_id"} {
		if v, _ := m[k].(string); v == "" {
			t.Errorf("%s missing from identity error body", k)
		}
	}
	return m
}

// (S5)
func TestTokenEndpoint_WrongSecretGivesInvalidClient7000215(t *testing.T) {
	t.Parallel()
	e := startDemoSim(t)
	cred := newCredential(t, e.sim, e.creds.TenantID, e.creds.ClientID, "not-the-secret")
	_, err := cred.GetToken(ctxT(t), tokenOptions())
	status, body := authFailure(t, err)
	checkIdentityError(t, status, body, http.StatusUnauthorized, "invalid_client", 7000215)
}

// (S5)
func TestTokenEndpoint_ExpiredSecretGivesInvalidClient7000222(t *testing.T) {
	t.Parallel()
	e := startDemoSim(t)
	if err := e.sim.ExpireSecret(e.creds.TenantID, e.creds.ClientID, e.creds.ClientSecret); err != nil {
		t.Fatal(err)
	}
	cred := newCredential(t, e.sim, e.creds.TenantID, e.creds.ClientID, e.creds.ClientSecret)
	_, err := cred.GetToken(ctxT(t), tokenOptions())
	status, body := authFailure(t, err)
	checkIdentityError(t, status, body, http.StatusUnauthorized, "invalid_client", 7000222)

	// A fresh secret works; removing it makes it a wrong secret.
	if err := e.sim.AddSecret(e.creds.TenantID, e.creds.ClientID, "rotated-secret", time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	cred2 := newCredential(t, e.sim, e.creds.TenantID, e.creds.ClientID, "rotated-secret")
	if _, err := cred2.GetToken(ctxT(t), tokenOptions()); err != nil {
		t.Fatalf("GetToken with the added secret: %v", err)
	}
	if err := e.sim.RemoveSecret(e.creds.TenantID, e.creds.ClientID, "rotated-secret"); err != nil {
		t.Fatal(err)
	}
	status, body = postTokenForm(t, e.sim, e.creds.TenantID, url.Values{
		"grant_type": {"client_credentials"}, "client_id": {e.creds.ClientID},
		"client_secret": {"rotated-secret"}, "scope": {graphScope},
	})
	// The only secret left is expired, so Entra reports expiry.
	checkIdentityError(t, status, body, http.StatusUnauthorized, "invalid_client", 7000222)
}

// (S5)
func TestTokenEndpoint_UnknownClientGivesUnauthorizedClient700016(t *testing.T) {
	t.Parallel()
	e := startDemoSim(t)
	cred := newCredential(t, e.sim, e.creds.TenantID, deterministicGUID("unknown app"), "whatever")
	_, err := cred.GetToken(ctxT(t), tokenOptions())
	status, body := authFailure(t, err)
	checkIdentityError(t, status, body, http.StatusBadRequest, "unauthorized_client", 700016)
}

// (S5)
func TestTokenEndpoint_UnknownTenantGives90002(t *testing.T) {
	t.Parallel()
	e := startDemoSim(t)
	unknown := deterministicGUID("unknown tenant")
	// MSAL's tenant discovery is the first request to fail.
	cred := newCredential(t, e.sim, unknown, e.creds.ClientID, e.creds.ClientSecret)
	_, err := cred.GetToken(ctxT(t), tokenOptions())
	if err == nil || !strings.Contains(err.Error(), "AADSTS90002") {
		t.Errorf("GetToken for an unknown tenant: %v, want an error carrying AADSTS90002", err)
	}
	status, body := postTokenForm(t, e.sim, unknown, url.Values{
		"grant_type": {"client_credentials"}, "client_id": {e.creds.ClientID},
		"client_secret": {e.creds.ClientSecret}, "scope": {graphScope},
	})
	checkIdentityError(t, status, body, http.StatusBadRequest, "invalid_request", 90002)
}

// (S5, consent)
func TestTokenEndpoint_RevokedConsentGivesInvalidGrant65001(t *testing.T) {
	t.Parallel()
	e := startDemoSim(t)
	if err := e.sim.RevokeConsent(e.creds.TenantID, e.creds.ClientID); err != nil {
		t.Fatal(err)
	}
	cred := newCredential(t, e.sim, e.creds.TenantID, e.creds.ClientID, e.creds.ClientSecret)
	_, err := cred.GetToken(ctxT(t), tokenOptions())
	status, body := authFailure(t, err)
	m := checkIdentityError(t, status, body, http.StatusBadRequest, "invalid_grant", 65001)
	if m["suberror"] != "consent_required" {
		t.Errorf("suberror = %v, want consent_required", m["suberror"])
	}
	if err := e.sim.RestoreConsent(e.creds.TenantID, e.creds.ClientID); err != nil {
		t.Fatal(err)
	}
	if _, err := cred.GetToken(ctxT(t), tokenOptions()); err != nil {
		t.Errorf("GetToken after RestoreConsent: %v", err)
	}
}

func TestTokenEndpoint_ScopeMustBeOneGraphDefaultScope(t *testing.T) {
	t.Parallel()
	e := startDemoSim(t)
	for _, tc := range []struct {
		scope string
		code  int
	}{
		{"https://graph.microsoft.com/User.Read", 1002012},
		{"https://contoso.example/api/.default", 500011},
		{"openid profile", 70011},
	} {
		status, body := postTokenForm(t, e.sim, e.creds.TenantID, url.Values{
			"grant_type": {"client_credentials"}, "client_id": {e.creds.ClientID},
			"client_secret": {e.creds.ClientSecret}, "scope": {tc.scope},
		})
		checkIdentityError(t, status, body, http.StatusBadRequest, "invalid_scope", tc.code)
	}
}
