package graphsim

import (
	"bytes"
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"testing"
)

// controlCall calls the control API over HTTPS and decodes the JSON answer.
func controlCall(t *testing.T, sim *Server, method, path string, in any, wantStatus int) map[string]any {
	t.Helper()
	var body *bytes.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			t.Fatal(err)
		}
		body = bytes.NewReader(b)
	} else {
		body = bytes.NewReader(nil)
	}
	resp, out := rawDo(t, sim, method, "/_sim/v1"+path, "", body, "Content-Type: application/json")
	if resp.StatusCode != wantStatus {
		t.Fatalf("%s %s: status %d, body %s; want %d", method, path, resp.StatusCode, out, wantStatus)
	}
	return jsonObject(t, out)
}

func TestControlAPI_DrivesTheSimulatorOverHTTPS(t *testing.T) {
	sim, err := Start(Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Close() })

	health := controlCall(t, sim, http.MethodGet, "/health", nil, 200)
	if health["graphBaseURL"] != sim.GraphBaseURL() || health["caFile"] != sim.CAFile() {
		t.Errorf("health = %v", health)
	}

	// Seed the demo tenant; the returned credentials work with the SDK.
	got := controlCall(t, sim, http.MethodPost, "/seed/demo", nil, 200)
	_, want := DemoTenant()
	if got["tenantId"] != want.TenantID || got["clientId"] != want.ClientID || got["clientSecret"] != want.ClientSecret {
		t.Fatalf("seed/demo = %v, want %+v", got, want)
	}
	e := &simEnv{sim: sim, creds: want}
	e.seed, _ = DemoTenant()
	appPath := "/tenants/" + want.TenantID + "/apps/" + want.ClientID
	client, _ := e.demoClient(t)
	if _, err := client.Users().Get(ctxT(t), nil); err != nil {
		t.Fatalf("SDK with control-seeded credentials: %v", err)
	}

	// Roles.
	controlCall(t, sim, http.MethodPost, appPath+"/roles", map[string]any{"roles": []string{"Mail.Send"}}, 200)
	if c := jwtClaims(t, rawToken(t, sim, want.TenantID, want.ClientID, want.ClientSecret)); !reflect.DeepEqual(c["roles"], []any{"Mail.Send"}) {
		t.Errorf("roles after control update = %v, want [Mail.Send]", c["roles"])
	}

	// Consent.
	controlCall(t, sim, http.MethodPost, appPath+"/revoke-consent", nil, 200)
	status, body := postTokenFormValues(t, sim, want)
	checkIdentityError(t, status, body, http.StatusBadRequest, "invalid_grant", 65001)
	controlCall(t, sim, http.MethodPost, appPath+"/restore-consent", nil, 200)
	if status, body := postTokenFormValues(t, sim, want); status != 200 {
		t.Errorf("token after restore-consent: %d %s", status, body)
	}

	// Secrets.
	controlCall(t, sim, http.MethodPost, appPath+"/secrets/expire", map[string]any{"value": want.ClientSecret}, 200)
	status, body = postTokenFormValues(t, sim, want)
	checkIdentityError(t, status, body, http.StatusUnauthorized, "invalid_client", 7000222)
	controlCall(t, sim, http.MethodPost, appPath+"/secrets", map[string]any{"value": "second-secret"}, 200)
	rotated := want
	rotated.ClientSecret = "second-secret"
	if status, body := postTokenFormValues(t, sim, rotated); status != 200 {
		t.Errorf("token with a control-added secret: %d %s", status, body)
	}
	controlCall(t, sim, http.MethodPost, appPath+"/secrets/remove", map[string]any{"value": "second-secret"}, 200)
	controlCall(t, sim, http.MethodPost, appPath+"/secrets/remove", map[string]any{"value": "second-secret"}, 404)

	// Faults.
	f := controlCall(t, sim, http.MethodPost, "/faults", map[string]any{"path": "/v1.0/users", "status": 503, "retryAfter": 2, "count": 1, "latency": "10ms"}, 200)
	id, _ := f["id"].(string)
	list := controlCall(t, sim, http.MethodGet, "/faults", nil, 200)["value"].([]any)
	if len(list) != 1 || list[0].(map[string]any)["id"] != id || list[0].(map[string]any)["fault"].(map[string]any)["latency"] != "10ms" {
		t.Errorf("faults = %v", list)
	}
	controlCall(t, sim, http.MethodPost, appPath+"/secrets", map[string]any{"value": "third-secret"}, 200)
	tok := rawToken(t, sim, want.TenantID, want.ClientID, "third-secret")
	if resp, _ := rawDo(t, sim, http.MethodGet, "/v1.0/users", tok, nil); resp.StatusCode != 503 || resp.Header.Get("Retry-After") != "2" {
		t.Errorf("control-injected fault: %d Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	controlCall(t, sim, http.MethodPost, "/faults", map[string]any{"status": 500}, 200)
	controlCall(t, sim, http.MethodDelete, "/faults", nil, 200)
	if n := len(sim.Faults()); n != 0 {
		t.Errorf("%d faults after DELETE /faults", n)
	}

	// Request log.
	reqs := controlCall(t, sim, http.MethodGet, "/requests", nil, 200)["value"].([]any)
	if len(reqs) == 0 || len(reqs) != len(sim.Requests()) {
		t.Errorf("GET /requests returned %d records, sim has %d", len(reqs), len(sim.Requests()))
	}
	for _, r := range reqs {
		if strings.HasPrefix(r.(map[string]any)["path"].(string), "/_sim/") {
			t.Errorf("control call recorded in the request log: %v", r)
		}
	}
	controlCall(t, sim, http.MethodDelete, "/requests", nil, 200)
	if n := len(sim.Requests()); n != 0 {
		t.Errorf("%d records after DELETE /requests", n)
	}

	// Mailbox.
	u := e.seed.Users[3]
	mb := controlCall(t, sim, http.MethodGet, "/tenants/"+want.TenantID+"/users/"+u.UserPrincipalName+"/mailbox?folder=inbox", nil, 200)["value"].([]any)
	if len(mb) != seedCount(u, "inbox") || mb[0].(map[string]any)["folder"] != "inbox" {
		t.Errorf("mailbox = %d messages, want %d in inbox", len(mb), seedCount(u, "inbox"))
	}
	controlCall(t, sim, http.MethodGet, "/tenants/"+want.TenantID+"/users/nobody/mailbox", nil, 404)

	// Custom seed replaces the tenant wholesale.
	seed, creds := mailSeed(2)
	controlCall(t, sim, http.MethodPost, "/seed", seed, 200)
	if msgs, err := sim.Mailbox(creds.TenantID, seed.Users[0].ID, "inbox"); err != nil || len(msgs) != 2 {
		t.Errorf("custom seed through control API: %d messages, %v", len(msgs), err)
	}
	controlCall(t, sim, http.MethodPost, "/seed", map[string]any{"tenantId": "bad tenant id"}, 400)
	controlCall(t, sim, http.MethodGet, "/nope", nil, 404)
}

func postTokenFormValues(t *testing.T, sim *Server, c DemoCredentials) (int, string) {
	t.Helper()
	return postTokenForm(t, sim, c.TenantID, map[string][]string{
		"grant_type": {"client_credentials"}, "client_id": {c.ClientID},
		"client_secret": {c.ClientSecret}, "scope": {graphScope},
	})
}
