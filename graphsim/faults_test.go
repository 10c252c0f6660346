package graphsim

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// A 429 burst with Retry-After is absorbed by kiota's retry handler; the
// request log shows each attempt and its Retry-Attempt header.
func TestFaults_429BurstWithRetryAfterIsAbsorbedByKiotaRetryHandler(t *testing.T) {
	e := startDemoSim(t)
	client, _ := e.demoClient(t)
	if _, err := client.Users().Get(ctxT(t), nil); err != nil { // warm the token
		t.Fatal(err)
	}
	e.sim.ClearRequests()
	id := e.sim.InjectFault(Fault{Path: "/v1.0/users", Status: http.StatusTooManyRequests, RetryAfter: 1, Count: 2})
	start := time.Now()
	if _, err := client.Users().Get(ctxT(t), nil); err != nil {
		t.Fatalf("list users through a 429 burst: %v", err)
	}
	if elapsed := time.Since(start); elapsed < 2*time.Second {
		t.Errorf("took %s, want >= 2s (two Retry-After: 1 waits)", elapsed)
	}
	recs := requestsTo(e.sim, http.MethodGet, "/v1.0/users")
	var got []string
	for _, r := range recs {
		got = append(got, r.RetryAttempt+":"+http.StatusText(r.Status))
	}
	want := []string{":Too Many Requests", "1:Too Many Requests", "2:OK"}
	if strings.Join(got, " | ") != strings.Join(want, " | ") {
		t.Errorf("attempts (Retry-Attempt:status) = %v, want %v", got, want)
	}
	if len(recs) == 3 && (recs[0].FaultID != id || recs[2].FaultID != "") {
		t.Errorf("fault ids on records = %q,%q,%q, want %q on the faulted ones", recs[0].FaultID, recs[1].FaultID, recs[2].FaultID, id)
	}
	if fs := e.sim.Faults(); len(fs) != 0 {
		t.Errorf("a Count:2 fault is still active after two uses: %+v", fs)
	}
}

// The documented 429 body and integer Retry-After.
func TestFaults_429BodyMatchesDocumentedThrottlingResponse(t *testing.T) {
	t.Parallel()
	e := startDemoSim(t)
	token := rawToken(t, e.sim, e.creds.TenantID, e.creds.ClientID, e.creds.ClientSecret)
	e.sim.InjectFault(Fault{Method: http.MethodGet, Path: "/v1.0/users", Status: 429, RetryAfter: 7, Count: 1})
	resp, body := rawDo(t, e.sim, http.MethodGet, "/v1.0/users", token, nil)
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "7" {
		t.Fatalf("status %d Retry-After %q, want 429 and 7", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	ev := jsonObject(t, body)["error"].(map[string]any)
	if ev["code"] != "TooManyRequests" || ev["message"] != "Please retry again later." {
		t.Errorf("error = %v", ev)
	}
	ie := ev["innerError"].(map[string]any)
	if ie["code"] != "429" || ie["status"] != "429" || ie["message"] != "Please retry after" || ie["request-id"] == nil || !innerErrorDate.MatchString(ie["date"].(string)) {
		t.Errorf("innerError = %v, want the documented code/date/message/request-id/status", ie)
	}
	if resp, _ := rawDo(t, e.sim, http.MethodGet, "/v1.0/users", token, nil); resp.StatusCode != http.StatusOK {
		t.Errorf("after a Count:1 fault: status %d, want 200", resp.StatusCode)
	}
}

// A persistent 503 surfaces after kiota's three retries.
func TestFaults_Persistent503SurfacesAfterThreeRetries(t *testing.T) {
	e := startDemoSim(t)
	client, _ := e.demoClient(t)
	if _, err := client.Users().Get(ctxT(t), nil); err != nil {
		t.Fatal(err)
	}
	e.sim.ClearRequests()
	e.sim.InjectFault(Fault{Path: "/v1.0/users", Status: http.StatusServiceUnavailable, RetryAfter: 1})
	_, err := client.Users().Get(ctxT(t), nil)
	status, code, _, _ := odataError(t, err)
	if status != http.StatusServiceUnavailable || code != "serviceNotAvailable" {
		t.Errorf("got %d %s, want 503 serviceNotAvailable", status, code)
	}
	if n := len(requestsTo(e.sim, http.MethodGet, "/v1.0/users")); n != 4 {
		t.Errorf("%d attempts, want 4 (one plus kiota's 3 retries)", n)
	}
	e.sim.ClearFaults()
	if _, err := client.Users().Get(ctxT(t), nil); err != nil {
		t.Errorf("after ClearFaults: %v", err)
	}
}

// Faults match on method and path prefix; latency-only faults delay and
// then answer normally.
func TestFaults_MatchMethodAndPathPrefixAndLatencyOnlyDelays(t *testing.T) {
	t.Parallel()
	e := startDemoSim(t)
	token := rawToken(t, e.sim, e.creds.TenantID, e.creds.ClientID, e.creds.ClientSecret)
	uid := e.seed.Users[0].ID
	e.sim.InjectFault(Fault{Method: http.MethodPost, Path: "/v1.0/users/" + uid + "/sendMail", Status: 504})
	if resp, _ := rawDo(t, e.sim, http.MethodGet, "/v1.0/users/"+uid+"/messages", token, nil); resp.StatusCode != http.StatusOK {
		t.Errorf("GET unaffected by a POST fault: status %d", resp.StatusCode)
	}
	resp, body := rawDo(t, e.sim, http.MethodPost, "/v1.0/USERS/"+uid+"/sendmail", token, strings.NewReader("{}"))
	if resp.StatusCode != http.StatusGatewayTimeout {
		t.Errorf("POST sendMail (path case differs): %d %s, want the injected 504", resp.StatusCode, body)
	}
	e.sim.ClearFaults()

	e.sim.InjectFault(Fault{Path: "/v1.0/users", Latency: 300 * time.Millisecond, Count: 1})
	start := time.Now()
	resp, _ = rawDo(t, e.sim, http.MethodGet, "/v1.0/users", token, nil)
	if d := time.Since(start); resp.StatusCode != http.StatusOK || d < 300*time.Millisecond {
		t.Errorf("latency fault: status %d after %s, want 200 after >= 300ms", resp.StatusCode, d)
	}
}

// Token-endpoint faults use the identity platform's error shape; azcore's
// retry policy absorbs a transient one.
func TestFaults_TokenEndpointFaultIsIdentityShapedAndRetriedByAzcore(t *testing.T) {
	t.Parallel()
	e := startDemoSim(t)
	tokenPath := "/" + e.creds.TenantID + "/oauth2/v2.0/token"
	e.sim.InjectFault(Fault{Path: tokenPath, Status: http.StatusServiceUnavailable, Count: 1})
	status, body := postTokenForm(t, e.sim, e.creds.TenantID, url.Values{
		"grant_type": {"client_credentials"}, "client_id": {e.creds.ClientID},
		"client_secret": {e.creds.ClientSecret}, "scope": {graphScope},
	})
	checkIdentityError(t, status, body, http.StatusServiceUnavailable, "temporarily_unavailable", 90033)

	e.sim.InjectFault(Fault{Path: tokenPath, Status: http.StatusServiceUnavailable, Count: 1})
	cred := newCredential(t, e.sim, e.creds.TenantID, e.creds.ClientID, e.creds.ClientSecret)
	if _, err := cred.GetToken(ctxT(t), tokenOptions()); err != nil {
		t.Fatalf("GetToken through one transient 503: %v", err)
	}
	if recs := requestsTo(e.sim, http.MethodPost, tokenPath); len(recs) != 3 || recs[1].Status != 503 || recs[2].Status != 200 {
		t.Errorf("token requests = %+v, want raw 503, then 503 and 200 from the credential", recs)
	}
}

// Reset faults drop the connection; the log records status 0.
func TestFaults_ResetDropsTheConnection(t *testing.T) {
	t.Parallel()
	e := startDemoSim(t)
	token := rawToken(t, e.sim, e.creds.TenantID, e.creds.ClientID, e.creds.ClientSecret)
	e.sim.InjectFault(Fault{Path: "/v1.0/users", Reset: true, Count: 1})
	req, _ := http.NewRequest(http.MethodGet, e.sim.GraphBaseURL()+"/users", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := tlsClient(e.sim).Do(req)
	if err == nil {
		resp.Body.Close()
		t.Fatalf("reset fault answered with status %d", resp.StatusCode)
	}
	recs := requestsTo(e.sim, http.MethodGet, "/v1.0/users")
	if len(recs) != 1 || recs[0].Status != 0 || recs[0].FaultID == "" {
		t.Errorf("records = %+v, want one with status 0 and the fault id", recs)
	}
}

func TestProbabilisticFaultsHitAShareAndBodyFaultsReplaceTheAnswer(t *testing.T) {
	s, err := Start(Options{StateDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: s.TLSClientConfig()}}
	get := func(path string) (int, string) {
		resp, err := c.Get(s.GraphBaseURL() + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	s.InjectFault(Fault{Path: "/v1.0/users", Status: 503, Probability: 0.3})
	hits := 0
	for i := 0; i < 400; i++ {
		if code, _ := get("/users"); code == 503 {
			hits++
		}
	}
	if hits < 80 || hits > 160 {
		t.Fatalf("a 30%% fault hit %d of 400 requests", hits)
	}
	s.ClearFaults()
	s.InjectFault(Fault{Path: "/v1.0/users", Body: `{"value":[{"displayName":"no id"`, Count: 1})
	if code, body := get("/users"); code != 200 || body != `{"value":[{"displayName":"no id"` {
		t.Fatalf("body fault answered %d %q", code, body)
	}
	if code, _ := get("/users"); code == 200 {
		// no token: the real handler answers 401, proving the one-shot fault is used up
		t.Fatal("the body fault outlived its count")
	}
}
