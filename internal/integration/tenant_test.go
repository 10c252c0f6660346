package integration

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/workflowservice/v1"

	"github.com/outlookflow/outlookflow/graphsim"
	"github.com/outlookflow/outlookflow/workflows/tenant"
)

var allRoles = []string{"Mail.ReadBasic.All", "Mail.Send", "User.Read.All"}

func TestTenantConnectsThroughRealSDKAndReportsGrantedPermissions(t *testing.T) {
	h := newHarness(t, allRoles, []string{"directory", "mail", "mail-send"}, time.Hour)
	h.connect()
	v := h.waitFor("Connected", time.Minute, func(v tenant.StatusView) bool { return v.Verifications > 0 })
	if v.Status != tenant.StatusConnected {
		t.Fatalf("status = %s (code %q, detail %q), want Connected", v.Status, v.Code, v.Detail)
	}
	if !slices.Equal(v.Granted, allRoles) {
		t.Fatalf("granted = %v, want %v (read from the token's roles)", v.Granted, allRoles)
	}
	if !slices.Equal(v.Required, []string{"Mail.ReadBasic.All", "Mail.Send", "User.Read.All"}) || len(v.Missing) != 0 {
		t.Fatalf("required %v missing %v", v.Required, v.Missing)
	}
	// The check really went through the identity platform and Graph.
	var sawToken, sawUsers bool
	for _, r := range h.sim.Requests() {
		sawToken = sawToken || (r.Method == "POST" && strings.HasSuffix(r.Path, "/oauth2/v2.0/token") && r.Status == 200)
		sawUsers = sawUsers || (r.Method == "GET" && strings.HasPrefix(r.Path, "/v1.0/users") && r.Status == 200)
	}
	if !sawToken || !sawUsers {
		t.Fatalf("simulator saw token request %v, Graph users request %v; want both", sawToken, sawUsers)
	}
	// Operators can filter on the search attributes in the Web UI.
	query := fmt.Sprintf("%s = %q AND %s = %q", tenant.SearchAttrTenant.GetName(), h.key, tenant.SearchAttrStatus.GetName(), "Connected")
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := h.client.ListWorkflow(context.Background(), &workflowservice.ListWorkflowExecutionsRequest{Query: query})
		if err != nil {
			t.Fatalf("visibility query %q: %v", query, err)
		}
		found := false
		for _, e := range resp.Executions {
			found = found || e.Execution.WorkflowId == tenant.WorkflowID(h.key)
		}
		if found {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("visibility query %q did not find the tenant workflow", query)
		}
		time.Sleep(300 * time.Millisecond)
	}
}

func TestWrongSecretIsInvalidCredentialsWithAADSTSCode(t *testing.T) {
	h := newHarness(t, allRoles, []string{"directory", "mail"}, time.Hour)
	writeFile(t, h.cfg.Tenants[0].Secret.File, "definitely-not-the-secret")
	h.connect()
	v := h.waitFor("first verification", time.Minute, func(v tenant.StatusView) bool { return v.Verifications > 0 })
	if v.Status != tenant.StatusInvalidCredentials || v.Code != "AADSTS7000215" {
		t.Fatalf("status %s code %q detail %q, want InvalidCredentials AADSTS7000215", v.Status, v.Code, v.Detail)
	}
}

func TestExpiredSecretThenRotationReconnects(t *testing.T) {
	h := newHarness(t, allRoles, []string{"directory", "mail"}, time.Hour)
	if err := h.sim.ExpireSecret(h.tenant.TenantID, h.clientID(), h.secret); err != nil {
		t.Fatal(err)
	}
	h.connect()
	v := h.waitFor("first verification", time.Minute, func(v tenant.StatusView) bool { return v.Verifications > 0 })
	if v.Status != tenant.StatusInvalidCredentials || v.Code != "AADSTS7000222" {
		t.Fatalf("expired secret: %s %q, want InvalidCredentials AADSTS7000222", v.Status, v.Code)
	}
	// The operator adds a new secret in Entra and hands it over.
	fresh := "sim~fresh-" + randomHex(t, 12)
	if err := h.sim.AddSecret(h.tenant.TenantID, h.clientID(), fresh, time.Now().Add(24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if v := h.rotateSecret(fresh); v.Status != tenant.StatusConnected || v.Code != "" {
		t.Fatalf("after rotation: %s %q, want Connected", v.Status, v.Code)
	}
}

func TestMissingPermissionIsNamed(t *testing.T) {
	h := newHarness(t, []string{"User.Read.All"}, []string{"directory", "mail"}, time.Hour)
	h.connect()
	v := h.waitFor("first verification", time.Minute, func(v tenant.StatusView) bool { return v.Verifications > 0 })
	if v.Status != tenant.StatusMissingPermissions || !slices.Equal(v.Missing, []string{"Mail.ReadBasic.All"}) {
		t.Fatalf("status %s missing %v, want MissingPermissions [Mail.ReadBasic.All]", v.Status, v.Missing)
	}
	// Granting it and re-verifying on demand clears the gap.
	if err := h.sim.SetGrantedRoles(h.tenant.TenantID, h.clientID(), []string{"User.Read.All", "Mail.ReadBasic.All"}); err != nil {
		t.Fatal(err)
	}
	if v := h.update(tenant.UpdateVerifyNow, tenant.VerifyNowRequest{}); v.Status != tenant.StatusConnected {
		t.Fatalf("after granting and verify-now: %s missing %v", v.Status, v.Missing)
	}
}

func TestConsentRevokedWithinOneIntervalThenConnectedAfterRestore(t *testing.T) {
	const interval = 3 * time.Second
	h := newHarness(t, allRoles, []string{"directory", "mail"}, interval)
	h.connect()
	h.waitFor("Connected", time.Minute, func(v tenant.StatusView) bool { return v.Status == tenant.StatusConnected })

	if err := h.sim.RevokeConsent(h.tenant.TenantID, h.clientID()); err != nil {
		t.Fatal(err)
	}
	revokedAt := time.Now()
	v := h.waitFor("ConsentRevoked", 2*interval+20*time.Second, func(v tenant.StatusView) bool { return v.Status == tenant.StatusConsentRevoked })
	if v.Code != "AADSTS65001" {
		t.Fatalf("ConsentRevoked carries code %q, want AADSTS65001", v.Code)
	}
	t.Logf("ConsentRevoked seen %s after revocation (interval %s)", time.Since(revokedAt).Round(100*time.Millisecond), interval)

	if err := h.sim.RestoreConsent(h.tenant.TenantID, h.clientID()); err != nil {
		t.Fatal(err)
	}
	h.waitFor("Connected after restore", 2*interval+20*time.Second, func(v tenant.StatusView) bool { return v.Status == tenant.StatusConnected })
}

func TestThrottledVerifyIsRetriedFromRetryAfterAndSucceeds(t *testing.T) {
	h := newHarness(t, allRoles, []string{"directory", "mail"}, time.Hour)
	// Five 429s: kiota's retry handler absorbs three retries inside the
	// first attempt (4 requests), the activity fails Throttled with
	// NextRetryDelay from Retry-After, and Temporal's second attempt succeeds.
	h.sim.InjectFault(graphsim.Fault{Method: "GET", Path: "/v1.0/users", Status: 429, RetryAfter: 1, Count: 5})
	run := h.connect()
	v := h.waitFor("first verification", 2*time.Minute, func(v tenant.StatusView) bool { return v.Verifications > 0 })
	if v.Status != tenant.StatusConnected {
		t.Fatalf("status %s code %q detail %q, want Connected once the burst is absorbed", v.Status, v.Code, v.Detail)
	}
	throttled := 0
	for _, r := range h.sim.Requests() {
		if r.Status == 429 {
			throttled++
		}
	}
	if throttled != 5 {
		t.Fatalf("simulator answered %d requests with 429, want the whole burst of 5", throttled)
	}
	// The retry is visible in history: the activity's started event records
	// attempt 2 and the Throttled failure of attempt 1.
	var started *historypb.ActivityTaskStartedEventAttributes
	iter := h.client.GetWorkflowHistory(context.Background(), run.GetID(), run.GetRunID(), false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for iter.HasNext() {
		ev, err := iter.Next()
		if err != nil {
			t.Fatal(err)
		}
		if a := ev.GetActivityTaskStartedEventAttributes(); a != nil && started == nil {
			started = a
		}
	}
	if started == nil || started.Attempt != 2 {
		t.Fatalf("activity started event %+v, want attempt 2", started)
	}
	if got := started.GetLastFailure().GetApplicationFailureInfo().GetType(); got != "Throttled" {
		t.Fatalf("last failure type %q, want Throttled", got)
	}
}

// TestRotatedSecretIsInNoPayloadRawOrDecoded rotates the secret the way
// `starter rotate --secret-stdin` does, tries the old wire form that carried
// the secret in the update, pauses, and then scans the tenant's history twice:
// the raw events as the server stores them, and every payload decoded through
// the worker's codec endpoint, as the Web UI shows them to anyone who reaches
// it. Neither may hold a secret; the worker's log neither.
func TestRotatedSecretIsInNoPayloadRawOrDecoded(t *testing.T) {
	h := newHarness(t, allRoles, []string{"directory", "mail"}, time.Hour)
	run := h.connect()
	h.waitFor("Connected", time.Minute, func(v tenant.StatusView) bool { return v.Status == tenant.StatusConnected })

	rotated := "sim~rotated-" + randomHex(t, 16)
	if err := h.sim.AddSecret(h.tenant.TenantID, h.clientID(), rotated, time.Time{}); err != nil {
		t.Fatal(err)
	}
	v := h.rotateSecret(rotated)
	if v.Status != tenant.StatusConnected || v.CredentialVersion == "" || v.DisplayName != testDisplayName {
		t.Fatalf("after rotation: %+v", v)
	}
	// The old wire form (the secret in the update) is refused before it can
	// reach history.
	legacy := "sim~legacy-" + randomHex(t, 16)
	if _, err := h.tryUpdate(tenant.UpdateRotateCredentials, tenant.RotateCredentialsRequest{LegacySecret: legacy}); err == nil || !strings.Contains(err.Error(), "not accepted in updates") {
		t.Errorf("an update carrying a secret was not refused: %v", err)
	}
	if v := h.update(tenant.UpdatePause, tenant.PauseRequest{Reason: "checking history"}); v.Status != tenant.StatusPaused {
		t.Fatalf("pause: %s", v.Status)
	}

	codecURL := h.codecEndpoint()
	secrets := map[string]string{
		"configured client secret": h.secret,
		"rotated client secret":    rotated,
		"refused legacy secret":    legacy,
	}
	scan := scanHistory(t, h.client, run.GetID(), codecURL)
	for name, plain := range secrets {
		if scan.rawContains(plain) {
			t.Errorf("raw history contains the %s", name)
		}
		if scan.decodedContains(plain) {
			t.Errorf("history decoded through the codec endpoint contains the %s", name)
		}
		if strings.Contains(h.logs.String(), plain) {
			t.Errorf("the worker's log contains the %s", name)
		}
	}
	// The scans can fail: the tenant key is plaintext by design, and the
	// display name is in payloads, encrypted at rest, readable when decoded.
	if !scan.rawContains(h.key) || scan.rawContains(testDisplayName) || !scan.decodedContains(testDisplayName) {
		t.Fatalf("scan sanity: raw has tenant key %v, raw has display name %v (want false), decoded has display name %v",
			scan.rawContains(h.key), scan.rawContains(testDisplayName), scan.decodedContains(testDisplayName))
	}

	// Positive control, the old path in miniature: a secret sent inside a
	// payload (here a signal) stays invisible to the raw scan, because it is
	// encrypted, and the decoded scan must find it. Without this, a scan
	// that decodes nothing would pass above.
	probe := "sim~probe-" + randomHex(t, 16)
	if err := h.client.SignalWorkflow(context.Background(), run.GetID(), "", "secret-probe", tenant.RotateCredentialsRequest{LegacySecret: probe}); err != nil {
		t.Fatal(err)
	}
	// A signal that arrives during a workflow task is written to history
	// when that task completes, so look until it is there.
	deadline := time.Now().Add(20 * time.Second)
	for {
		scan = scanHistory(t, h.client, run.GetID(), codecURL)
		if scan.rawContains(probe) {
			t.Fatal("a payload reached history unencrypted")
		}
		if scan.decodedContains(probe) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the decoded scan did not find a secret sent in a payload; it would miss the old wire form")
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func TestPauseAndResumeThroughUpdates(t *testing.T) {
	h := newHarness(t, allRoles, []string{"directory", "mail"}, time.Hour)
	h.connect()
	h.waitFor("Connected", time.Minute, func(v tenant.StatusView) bool { return v.Status == tenant.StatusConnected })
	if v := h.update(tenant.UpdatePause, tenant.PauseRequest{Reason: "maintenance"}); v.Status != tenant.StatusPaused || v.PauseReason != "maintenance" {
		t.Fatalf("pause answered %+v", v)
	}
	before := len(h.sim.Requests())
	v := h.update(tenant.UpdateResume, tenant.ResumeRequest{})
	if v.Status != tenant.StatusConnected || v.Verifications != 2 {
		t.Fatalf("resume answered %s after %d verifications, want Connected after 2", v.Status, v.Verifications)
	}
	if len(h.sim.Requests()) == before {
		t.Fatal("resume did not re-verify against the simulator")
	}
}
