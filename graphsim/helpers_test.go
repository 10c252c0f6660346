package graphsim

// Raw-HTTP helpers, for checking exact bodies and headers against
// Microsoft's documented examples.

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"testing"
	"time"
)

// rawToken gets an app-only token with a plain form POST.
func rawToken(t *testing.T, sim *Server, tenantID, clientID, secret string) string {
	t.Helper()
	status, body := postTokenForm(t, sim, tenantID, url.Values{
		"grant_type":    {"client_credentials"},
		"client_id":     {clientID},
		"client_secret": {secret},
		"scope":         {graphScope + " openid offline_access profile"},
	})
	if status != http.StatusOK {
		t.Fatalf("token request: status %d, body %s", status, body)
	}
	var tr struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal([]byte(body), &tr); err != nil || tr.AccessToken == "" {
		t.Fatalf("token response %s: %v", body, err)
	}
	return tr.AccessToken
}

func postTokenForm(t *testing.T, sim *Server, tenantID string, form url.Values) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, sim.URL()+"/"+tenantID+"/oauth2/v2.0/token", strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	resp, err := tlsClient(sim).Do(req)
	if err != nil {
		t.Fatalf("POST token: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// rawDo sends a request to the simulator; path may be absolute or start
// with "/". Headers are "Name: value" strings.
func rawDo(t *testing.T, sim *Server, method, path, token string, body io.Reader, headers ...string) (*http.Response, []byte) {
	t.Helper()
	u := path
	if strings.HasPrefix(path, "/") {
		u = sim.URL() + path
	}
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for _, h := range headers {
		k, v, _ := strings.Cut(h, ":")
		req.Header.Set(strings.TrimSpace(k), strings.TrimSpace(v))
	}
	resp, err := tlsClient(sim).Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	return resp, b
}

func jsonObject(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("body is not a JSON object: %v\n%s", err, b)
	}
	return m
}

func keysOf(m map[string]any) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func sameKeys(t *testing.T, what string, m map[string]any, want ...string) {
	t.Helper()
	// Sort a copy: callers pass package slices such as userDefaultProps
	// (want...), which the server reads concurrently.
	want = append([]string(nil), want...)
	sort.Strings(want)
	if got := keysOf(m); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("%s keys = %v, want %v", what, got, want)
	}
}

func jwtClaims(t *testing.T, tok string) map[string]any {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("token has %d dot-separated parts, want 3", len(parts))
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatalf("token payload is not base64url: %v", err)
	}
	return jsonObject(t, b)
}

// mintDelegatedToken issues a delegated (user) token directly: the
// delegated flows (auth code, device code) are not simulated yet, but /me
// resolution and delegated permission checks are.
func mintDelegatedToken(t *testing.T, s *Server, tenantID, userID, scopes string) string {
	t.Helper()
	s.mu.Lock()
	tn := s.tenants[strings.ToLower(tenantID)]
	var a *app
	for _, x := range tn.apps {
		a = x
	}
	s.mu.Unlock()
	tok, err := s.issueAccessToken(tokenSpec{
		tenantID: tn.id, clientID: a.clientID, appName: a.displayName, oid: userID,
		resource: "https://graph.microsoft.com", delegated: true, scp: scopes, consentGen: a.consentGen,
	})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// requestsTo filters the request log by method and path prefix.
func requestsTo(s *Server, method, pathPrefix string) []RequestRecord {
	var out []RequestRecord
	for _, r := range s.Requests() {
		if (method == "" || r.Method == method) && strings.HasPrefix(strings.ToLower(r.Path), strings.ToLower(pathPrefix)) {
			out = append(out, r)
		}
	}
	return out
}

// mailSeed is a small custom tenant: an app with Mail.Read, User.Read.All
// and Mail.Send, a user "big" with n inbox messages, and two more users.
func mailSeed(n int) (TenantSeed, DemoCredentials) {
	tid := deterministicGUID("test", "mail", "tenant")
	cid := deterministicGUID("test", "mail", "app")
	creds := DemoCredentials{TenantID: tid, ClientID: cid, ClientSecret: "test-secret-" + cid[:8]}
	big := UserSeed{ID: deterministicGUID("test", "big"), DisplayName: "Big Mailbox", Mail: "big@fabrikam.example", UserPrincipalName: "big@fabrikam.example"}
	base := time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)
	for i := 0; i < n; i++ {
		big.Messages = append(big.Messages, MessageSeed{
			Subject: fmt.Sprintf("message %04d", i), BodyText: fmt.Sprintf("body of message %d", i),
			From: "sender@external.example", To: []string{big.Mail}, ReceivedAt: base.Add(time.Duration(i) * time.Minute),
		})
	}
	seed := TenantSeed{
		TenantID: tid, DisplayName: "Fabrikam (test)", Domain: "fabrikam.example",
		Apps: []AppSeed{{ClientID: cid, DisplayName: "mail test app", Secrets: []SecretSeed{{Value: creds.ClientSecret}},
			GrantedRoles: []string{"Mail.Read", "User.Read.All", "Mail.Send"}}},
		Users: []UserSeed{
			big,
			{ID: deterministicGUID("test", "ann"), DisplayName: "Ann Lee", Mail: "ann@fabrikam.example", UserPrincipalName: "ann@fabrikam.example"},
			{ID: deterministicGUID("test", "bob"), DisplayName: "Bob Ray", Mail: "bob@fabrikam.example", UserPrincipalName: "bob@fabrikam.example"},
		},
	}
	return seed, creds
}

func startMailSim(t *testing.T, n int) *simEnv {
	t.Helper()
	sim, err := Start(Options{})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { sim.Close() })
	seed, creds := mailSeed(n)
	if err := sim.SeedTenant(seed); err != nil {
		t.Fatalf("SeedTenant: %v", err)
	}
	return &simEnv{sim: sim, seed: seed, creds: creds}
}

// seedCount counts a seeded user's messages in a folder (by seed name).
func seedCount(u UserSeed, folder string) int {
	n := 0
	for _, m := range u.Messages {
		if m.Folder == folder || (m.Folder == "" && folder == "inbox") {
			n++
		}
	}
	return n
}
