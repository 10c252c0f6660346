package integration

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/outlookflow/outlookflow/activities"
	"github.com/outlookflow/outlookflow/config"
	"github.com/outlookflow/outlookflow/domain"
	"github.com/outlookflow/outlookflow/graphsim"
	"github.com/outlookflow/outlookflow/internal/app"
	"github.com/outlookflow/outlookflow/internal/delegated"
	"github.com/outlookflow/outlookflow/recipe"
	"github.com/outlookflow/outlookflow/store"
	"github.com/outlookflow/outlookflow/workflows/mailsync"
	"github.com/outlookflow/outlookflow/workflows/reciperun"
	"github.com/outlookflow/outlookflow/workflows/tenant"
	"github.com/outlookflow/outlookflow/workflows/user"
)

// delegatedHarness is a harness whose tenant is delegated: its worker's
// /auth/callback is served on loopback and registered on the simulated app
// as a redirect URI, as an operator registers the worker's public URL.
type delegatedHarness struct {
	*harness
	callbackURL string
}

func newDelegatedHarness(t *testing.T, features []string) *delegatedHarness {
	t.Helper()
	return newDelegatedHarnessWith(t, features, nil)
}

// newDelegatedHarnessWith is newDelegatedHarness whose worker loads the
// given recipes (file name → YAML, {{TENANT}} standing for the tenant key).
func newDelegatedHarnessWith(t *testing.T, features []string, recipes map[string]string) *delegatedHarness {
	t.Helper()
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	h := newWorld(t, nil, features, time.Hour, key)
	var handler atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hh, ok := handler.Load().(http.Handler); ok && r.URL.Path == "/auth/callback" {
			hh.ServeHTTP(w, r)
			return
		}
		http.NotFound(w, r)
	}))
	t.Cleanup(srv.Close)
	d := &delegatedHarness{harness: h, callbackURL: srv.URL + "/auth/callback"}
	tc := &h.cfg.Tenants[0]
	tc.AuthMode = config.AuthDelegated
	tc.Delegated = config.Delegated{RedirectURL: d.callbackURL, DeviceCode: true}
	if err := h.sim.SetRedirectURIs(h.tenant.TenantID, h.clientID(), []string{d.callbackURL}); err != nil {
		t.Fatal(err)
	}
	if err := h.sim.SetPublicClient(h.tenant.TenantID, h.clientID(), true); err != nil {
		t.Fatal(err)
	}
	if recipes != nil {
		dir := t.TempDir()
		for name, body := range recipes {
			writeFile(t, filepath.Join(dir, name), strings.ReplaceAll(body, "{{TENANT}}", h.key))
		}
		h.cfg.Recipes.Dir = dir
	}
	w := h.startWorker()
	handler.Store(w.AuthCallback)
	return d
}

// signIn starts a sign-in the way `starter connect-user` does and returns
// it once it shows its URL or device prompt.
func (d *delegatedHarness) signIn(upn string, flow user.Flow) (client.WorkflowRun, user.SignInProgress) {
	d.t.Helper()
	tc := d.cfg.Tenants[0]
	in := user.SignInInput{TenantKey: tc.Key, RequestID: "req-" + randomHex(d.t, 8), LoginHint: upn, Flow: flow,
		Needed: app.SignInNeeds(d.cfg, tc, d.switches()), VerifyInterval: domain.Duration(time.Hour)}
	run, err := d.client.ExecuteWorkflow(context.Background(), client.StartWorkflowOptions{
		ID: user.SignInID(tc.Key, in.RequestID), TaskQueue: d.cfg.Temporal.TaskQueue,
	}, user.SignInWorkflowName, in)
	if err != nil {
		d.t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		var p user.SignInProgress
		if v, err := d.client.QueryWorkflow(context.Background(), run.GetID(), run.GetRunID(), user.QuerySignIn); err == nil && v.Get(&p) == nil {
			if p.URL != "" || p.Message != "" || p.Done {
				return run, p
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	d.t.Fatalf("the sign-in showed no URL or prompt within 30s")
	return nil, user.SignInProgress{}
}

// switches are the operators' recipe switches of the harness's tenant, as
// starter connect-user reads them.
func (d *delegatedHarness) switches() map[string]bool {
	d.t.Helper()
	st, err := app.OpenStore(context.Background(), d.cfg.Store)
	if err != nil {
		d.t.Fatal(err)
	}
	defer st.Close()
	sw, err := st.RecipeSwitches(context.Background(), d.key)
	if err != nil {
		d.t.Fatal(err)
	}
	return sw
}

// browse is the user's browser: it opens the sign-in URL at the simulated
// identity platform and follows its redirect to the worker's callback.
func (d *delegatedHarness) browse(signInURL string) (status int, page string) {
	d.t.Helper()
	pem, err := os.ReadFile(d.sim.CAFile())
	if err != nil {
		d.t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	browser := &http.Client{
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}},
		Timeout:   30 * time.Second,
	}
	resp, err := browser.Get(signInURL)
	if err != nil {
		d.t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode >= 400 {
		d.t.Fatalf("the sign-in page answered %d: %s", resp.StatusCode, body)
	}
	if !strings.HasPrefix(resp.Request.URL.String(), d.callbackURL) {
		d.t.Fatalf("the browser ended at %s, not the worker's callback (%d %s)", resp.Request.URL, resp.StatusCode, body)
	}
	return resp.StatusCode, string(body)
}

func (d *delegatedHarness) userStatus(objectID string) user.StatusView {
	d.t.Helper()
	var v user.StatusView
	resp, err := d.client.QueryWorkflow(context.Background(), user.ConnectionID(d.key, objectID), "", user.QueryStatus)
	if err != nil {
		d.t.Fatalf("querying the user's connection: %v", err)
	}
	if err := resp.Get(&v); err != nil {
		d.t.Fatal(err)
	}
	return v
}

func (d *delegatedHarness) waitUser(objectID, what string, cond func(user.StatusView) bool) user.StatusView {
	d.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	var last user.StatusView
	for time.Now().Before(deadline) {
		last = d.userStatus(objectID)
		if cond(last) {
			return last
		}
		time.Sleep(200 * time.Millisecond)
	}
	d.t.Fatalf("timed out waiting for %s; last user status %+v", what, last)
	return last
}

func (d *delegatedHarness) checkUserNow(objectID string) user.StatusView {
	d.t.Helper()
	h, err := d.client.UpdateWorkflow(context.Background(), client.UpdateWorkflowOptions{
		WorkflowID: user.ConnectionID(d.key, objectID), UpdateName: user.UpdateCheck, WaitForStage: client.WorkflowUpdateStageCompleted,
	})
	if err != nil {
		d.t.Fatal(err)
	}
	var v user.StatusView
	if err := h.Get(context.Background(), &v); err != nil {
		d.t.Fatal(err)
	}
	return v
}

// TestDelegatedUserConnectsByAuthCodeAndDeviceCodeAndReauthsAfterRevocation
// walks a delegated user through the connection's life on the real server
// and the simulator, through the unmodified MSAL clients: sign-in with the
// authorization code and PKCE (browser → simulated consent → the worker's
// /auth/callback), Connected with the scopes the features need and no
// more; their refresh token revoked → ReauthRequired with AADSTS50173 and
// the tenant summary says so; signing in again with the device code →
// Connected. A second user declining consent stays unconnected with the
// reason. The user's refresh token is nowhere in the raw store or in any
// history, raw or decoded.
func TestDelegatedUserConnectsByAuthCodeAndDeviceCodeAndReauthsAfterRevocation(t *testing.T) {
	d := newDelegatedHarness(t, []string{"mail"})
	d.connect()
	d.waitFor("AwaitingUsers", 30*time.Second, func(v tenant.StatusView) bool { return v.Status == tenant.StatusAwaitingUsers })
	adele := d.tenant.Users[0]

	// Authorization code with PKCE.
	run, progress := d.signIn(adele.UserPrincipalName, user.FlowAuthCode)
	if !strings.Contains(progress.URL, "code_challenge=") || !strings.Contains(progress.URL, "code_challenge_method=S256") {
		t.Fatalf("sign-in URL lacks the PKCE challenge: %s", progress.URL)
	}
	for _, scope := range []string{"Mail.ReadBasic", "User.Read", "offline_access"} {
		if !strings.Contains(progress.URL, scope) {
			t.Errorf("sign-in URL does not ask for %s: %s", scope, progress.URL)
		}
	}
	for _, scope := range []string{"Mail.Read%20", "Mail.Read+", "Calendars", "Contacts", "Mail.Send"} {
		if strings.Contains(progress.URL, scope) {
			t.Errorf("sign-in URL asks for %s, which the mail feature does not need: %s", scope, progress.URL)
		}
	}
	if err := d.sim.DecideSignIn(d.tenant.TenantID, d.clientID(), adele.UserPrincipalName, true); err != nil {
		t.Fatal(err)
	}
	if _, page := d.browse(progress.URL); !strings.Contains(page, "Connected") {
		t.Fatalf("callback page: %s", page)
	}
	var res user.SignInResult
	if err := run.Get(context.Background(), &res); err != nil {
		t.Fatal(err)
	}
	if !res.Connected || res.ObjectID != adele.ID || res.Status != user.StatusConnected {
		t.Fatalf("auth-code sign-in: %+v", res)
	}
	v := d.waitUser(adele.ID, "Connected", func(v user.StatusView) bool { return v.Status == user.StatusConnected })
	if v.Username != adele.UserPrincipalName || len(v.Missing) != 0 {
		t.Fatalf("user status after sign-in: %+v", v)
	}
	tv := d.waitFor("tenant Connected through its user", 30*time.Second, func(v tenant.StatusView) bool {
		return v.Status == tenant.StatusConnected && v.Users["Connected"] == 1
	})
	t.Logf("tenant after the sign-in: %s — %s", tv.Status, tv.Detail)

	// The refresh token, as MSAL keeps it, sealed in the store.
	refreshToken := storedRefreshToken(t, d.harness, adele.ID)

	// Revocation: the next check finds the refresh token refused.
	if err := d.sim.RevokeUserRefreshTokens(d.tenant.TenantID, adele.ID); err != nil {
		t.Fatal(err)
	}
	v = d.checkUserNow(adele.ID)
	if v.Status != user.StatusReauthRequired || v.Code != "50173" {
		t.Fatalf("after revocation: %+v", v)
	}
	tv = d.waitFor("tenant UsersNeedAttention", 30*time.Second, func(v tenant.StatusView) bool { return v.Status == tenant.StatusUsersNeedAttention })
	if !strings.Contains(tv.Detail, "AADSTS50173") {
		t.Fatalf("tenant detail does not name the code: %q", tv.Detail)
	}

	// Device code: the user signs in again on another device.
	run, progress = d.signIn("", user.FlowDeviceCode)
	codes := d.sim.PendingDeviceCodes()
	if progress.Message == "" || len(codes) == 0 || !strings.Contains(progress.Message, codes[len(codes)-1].UserCode) {
		t.Fatalf("device prompt %q, pending codes %+v", progress.Message, codes)
	}
	time.Sleep(1500 * time.Millisecond) // MSAL polls at least once: authorization_pending
	if err := d.sim.ApproveDeviceCode(codes[len(codes)-1].UserCode, adele.UserPrincipalName); err != nil {
		t.Fatal(err)
	}
	res = user.SignInResult{}
	if err := run.Get(context.Background(), &res); err != nil {
		t.Fatal(err)
	}
	if !res.Connected || res.ObjectID != adele.ID {
		t.Fatalf("device-code sign-in: %+v", res)
	}
	v = d.waitUser(adele.ID, "Connected again", func(v user.StatusView) bool { return v.Status == user.StatusConnected && v.Flow == "device-code" })
	d.waitFor("tenant Connected again", 30*time.Second, func(v tenant.StatusView) bool { return v.Status == tenant.StatusConnected })
	if rt := storedRefreshToken(t, d.harness, adele.ID); rt == refreshToken {
		t.Fatalf("the stored refresh token did not change with the new sign-in")
	}

	// A user who declines consent stays unconnected, with the reason.
	megan := d.tenant.Users[1]
	run, progress = d.signIn(megan.UserPrincipalName, user.FlowAuthCode)
	if err := d.sim.DecideSignIn(d.tenant.TenantID, d.clientID(), megan.UserPrincipalName, false); err != nil {
		t.Fatal(err)
	}
	if _, page := d.browse(progress.URL); !strings.Contains(page, "Not connected") {
		t.Fatalf("callback page after declining: %s", page)
	}
	res = user.SignInResult{}
	if err := run.Get(context.Background(), &res); err != nil {
		t.Fatal(err)
	}
	if res.Connected || res.Code != "65004" || !strings.Contains(res.Reason, "declined") {
		t.Fatalf("declined sign-in: %+v", res)
	}
	if _, err := d.client.DescribeWorkflowExecution(context.Background(), user.ConnectionID(d.key, megan.ID), ""); err == nil {
		t.Fatalf("a connection exists for the user who declined")
	}

	// No refresh token in plaintext: not in the store file, not in any
	// history (raw or decoded through the codec).
	for _, rt := range []string{refreshToken, storedRefreshToken(t, d.harness, adele.ID)} {
		assertNotInStoreFile(t, d.cfg.Store.Path, rt)
		codecURL := d.codecEndpoint()
		for _, id := range []string{user.ConnectionID(d.key, adele.ID), tenant.WorkflowID(d.key), run.GetID()} {
			scan := scanHistory(t, d.client, id, codecURL)
			if scan.rawContains(rt) || scan.decodedContains(rt) {
				t.Fatalf("a refresh token is in the history of %s", id)
			}
		}
	}
}

// storedRefreshToken opens the user's sealed MSAL cache and returns the
// refresh token in it.
func storedRefreshToken(t *testing.T, h *harness, objectID string) string {
	t.Helper()
	st, err := app.OpenStore(context.Background(), h.cfg.Store)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	secrets, err := app.OpenSecretStore(st, h.ring)
	if err != nil {
		t.Fatal(err)
	}
	raw, _, err := secrets.Secret(context.Background(), delegated.KindTokenCache, h.key, objectID)
	if err != nil {
		t.Fatal(err)
	}
	var cache struct {
		RefreshToken map[string]struct {
			Secret string `json:"secret"`
		} `json:"RefreshToken"`
	}
	if err := json.Unmarshal(raw, &cache); err != nil {
		t.Fatal(err)
	}
	for _, rt := range cache.RefreshToken {
		if rt.Secret != "" {
			return rt.Secret
		}
	}
	t.Fatalf("the user's stored cache holds no refresh token")
	return ""
}

// assertNotInStoreFile reads the SQLite database and its WAL as bytes.
func assertNotInStoreFile(t *testing.T, path, secret string) {
	t.Helper()
	for _, p := range []string{path, path + "-wal"} {
		raw, err := os.ReadFile(filepath.Clean(p))
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(raw, []byte(secret)) {
			t.Fatalf("%s holds a refresh token in plaintext", p)
		}
	}
}

// connectByDeviceCode signs upn in through the device-code flow and waits
// for their connection to be Connected.
func (d *delegatedHarness) connectByDeviceCode(upn, objectID string) {
	d.t.Helper()
	run, progress := d.signIn("", user.FlowDeviceCode)
	var code string
	for _, c := range d.sim.PendingDeviceCodes() {
		if strings.Contains(progress.Message, c.UserCode) {
			code = c.UserCode
		}
	}
	if code == "" {
		d.t.Fatalf("no pending device code matches the prompt %q", progress.Message)
	}
	if err := d.sim.ApproveDeviceCode(code, upn); err != nil {
		d.t.Fatal(err)
	}
	var res user.SignInResult
	if err := run.Get(context.Background(), &res); err != nil || !res.Connected {
		d.t.Fatalf("device-code sign-in of %s: %+v %v", upn, res, err)
	}
	d.waitUser(objectID, "Connected", func(v user.StatusView) bool { return v.Status == user.StatusConnected })
}

// storedSubjects lists the subjects of a mailbox's stored messages, sorted.
func storedSubjects(t *testing.T, st store.Store, tenantKey, mailbox string) []string {
	t.Helper()
	msgs, err := st.Messages(context.Background(), store.MessageQuery{Tenant: tenantKey, Mailbox: mailbox})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range msgs {
		out = append(out, m.Subject)
	}
	slices.Sort(out)
	return out
}

func (d *delegatedHarness) simSubjects(mailbox string) []string {
	d.t.Helper()
	var out []string
	for _, m := range d.mailbox(mailbox, "") {
		out = append(out, m.Subject)
	}
	slices.Sort(out)
	return out
}

// TestDelegatedSyncReadsEachConnectedUsersOwnMailboxAndPausesWhileReauthIsNeeded
// syncs a delegated tenant: only the connected user's profile and mailbox
// reach the store, through /me with their token; revoking their refresh
// token makes them ReauthRequired and their sync waits (mail arriving
// meanwhile is not lost), and after they reconnect the store is exact.
func TestDelegatedSyncReadsEachConnectedUsersOwnMailboxAndPausesWhileReauthIsNeeded(t *testing.T) {
	d := newDelegatedHarness(t, []string{"mail", "calendar"})
	d.connect()
	d.waitFor("AwaitingUsers", 30*time.Second, func(v tenant.StatusView) bool { return v.Status == tenant.StatusAwaitingUsers })
	adele, megan := d.tenant.Users[0], d.tenant.Users[1]
	for _, s := range []string{"Budget", "Offsite", "Hiring"} {
		d.deliver(adele.ID, megan.Mail, s)
	}
	start := time.Now().UTC().Add(48 * time.Hour).Truncate(time.Hour)
	if _, err := d.sim.CreateEvent(d.tenant.TenantID, graphsim.EventSeed{Organizer: adele.UserPrincipalName, Subject: "Planning",
		Start: start, End: start.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	d.deliver(megan.ID, adele.Mail, "Megan's own mail")
	d.connectByDeviceCode(adele.UserPrincipalName, adele.ID)
	d.waitNoSyncRunning()

	st := d.openStore()
	d.syncRun(mailsync.Input{})
	users, err := st.Users(context.Background(), d.key)
	if err != nil {
		t.Fatal(err)
	}
	if len(users) != 1 || users[0].ID != adele.ID || users[0].UserPrincipalName != adele.UserPrincipalName || !users[0].HasMailbox {
		t.Fatalf("stored users %+v; want Adele alone (the only connected user)", users)
	}
	if got, want := storedSubjects(t, st, d.key, adele.ID), d.simSubjects(adele.ID); !slices.Equal(got, want) {
		t.Fatalf("Adele's stored mail %v, simulator %v", got, want)
	}
	if got := storedSubjects(t, st, d.key, megan.ID); len(got) != 0 {
		t.Fatalf("Megan never connected, yet her mail is stored: %v", got)
	}
	events, err := st.Events(context.Background(), d.key, adele.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != 1 || events[0].Subject != "Planning" {
		t.Fatalf("Adele's stored calendar: %+v; want her one event, read through /me", events)
	}

	// Revoked: Adele must sign in again; her sync waits, mail keeps coming.
	if err := d.sim.RevokeUserRefreshTokens(d.tenant.TenantID, adele.ID); err != nil {
		t.Fatal(err)
	}
	if v := d.checkUserNow(adele.ID); v.Status != user.StatusReauthRequired || v.Code != "50173" {
		t.Fatalf("after revocation: %+v", v)
	}
	d.waitFor("UsersNeedAttention", 30*time.Second, func(v tenant.StatusView) bool { return v.Status == tenant.StatusUsersNeedAttention })
	d.deliver(adele.ID, megan.Mail, "Arrived while disconnected")
	waitConnectedCount(t, d, 0)
	paused := d.syncRun(mailsync.Input{})
	if slices.Contains(storedSubjects(t, st, d.key, adele.ID), "Arrived while disconnected") {
		t.Fatalf("a ReauthRequired user's mailbox was synced (run %+v)", paused.Progress)
	}

	// Reconnected: the next sync picks up where it stopped.
	d.connectByDeviceCode(adele.UserPrincipalName, adele.ID)
	waitConnectedCount(t, d, 1)
	d.waitNoSyncRunning()
	d.syncRun(mailsync.Input{})
	if got, want := storedSubjects(t, st, d.key, adele.ID), d.simSubjects(adele.ID); !slices.Equal(got, want) || !slices.Contains(got, "Arrived while disconnected") {
		t.Fatalf("after reconnecting, Adele's stored mail %v, simulator %v", got, want)
	}
}

// waitConnectedCount waits until visibility lists n Connected users (the
// sync asks visibility who is connected).
func waitConnectedCount(t *testing.T, d *delegatedHarness, n int) {
	t.Helper()
	q := fmt.Sprintf("WorkflowType = '%s' AND OutlookflowTenant = '%s' AND OutlookflowConnectionStatus = 'Connected' AND ExecutionStatus = 'Running'", user.ConnectionWorkflowName, d.key)
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := d.client.ListWorkflow(context.Background(), &workflowservice.ListWorkflowExecutionsRequest{Namespace: d.cfg.Temporal.Namespace, Query: q})
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.GetExecutions()) == n {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("visibility does not list %d Connected users within 30s", n)
}

// TestDelegatedRecipeActsAsTheUserAndWaitsWhileTheyMustSignInAgain runs a
// recipe on a delegated tenant: its step acts as the mailbox's user with
// their token (the user consented to the recipe's Mail.ReadWrite when they
// signed in), and a step due while the user is ReauthRequired waits —
// retried, the message untouched — and runs once they reconnect. The run's
// summaries name its recipe and steps, and no mail content.
func TestDelegatedRecipeActsAsTheUserAndWaitsWhileTheyMustSignInAgain(t *testing.T) {
	d := newDelegatedHarnessWith(t, []string{"mail"}, map[string]string{"read.yaml": `name: read-later
tenant: {{TENANT}}
mailboxes:
  all: true
trigger:
  newMail:
    subjectContains: [report]
steps:
  - id: pause
    wait: {for: 6s}
  - id: read
    markRead: {}
`})
	d.connect()
	adele, megan := d.tenant.Users[0], d.tenant.Users[1]
	d.connectByDeviceCode(adele.UserPrincipalName, adele.ID)
	if v := d.userStatus(adele.ID); !slices.Contains(v.Scopes, "Mail.ReadWrite") {
		t.Fatalf("the sign-in did not ask for the recipe's Mail.ReadWrite: %v", v.Scopes)
	}
	waitConnectedCount(t, d, 1)
	d.waitNoSyncRunning()
	d.syncRun(mailsync.Input{}) // the baseline: later mail is new

	msg := d.deliver(adele.ID, megan.Mail, "Weekly report")
	d.syncRun(mailsync.Input{})
	runID := recipe.RunID(d.key, "read-later", msg, "new")
	d.waitRunStatus(runID, reciperun.StatusWaiting, 30*time.Second)

	// Adele's sessions are revoked while the run waits.
	if err := d.sim.RevokeUserRefreshTokens(d.tenant.TenantID, adele.ID); err != nil {
		t.Fatal(err)
	}
	if v := d.checkUserNow(adele.ID); v.Status != user.StatusReauthRequired {
		t.Fatalf("after revocation: %+v", v)
	}
	time.Sleep(10 * time.Second) // past the wait: the step is due, and held
	if m := findMessage(t, d.mailbox(adele.ID, ""), msg); m.IsRead {
		t.Fatalf("the step ran while its user must sign in again")
	}
	// The step is held (its last failure is TenantHeld, the message
	// encrypted like every failure), not failing on Graph.
	desc, err := d.client.DescribeWorkflowExecution(context.Background(), runID, "")
	if err != nil {
		t.Fatal(err)
	}
	held := false
	for _, pa := range desc.PendingActivities {
		if pa.GetLastFailure().GetApplicationFailureInfo().GetType() == activities.ErrTenantHeld {
			held = true
		}
	}
	if !held {
		t.Fatalf("the due step is not held for the user's reconnection: pending %+v", desc.PendingActivities)
	}

	d.connectByDeviceCode(adele.UserPrincipalName, adele.ID)
	res, err := d.runResult(runID, time.Minute)
	if err != nil || res.Status != reciperun.StatusCompleted {
		t.Fatalf("run after reconnecting: %+v %v", res, err)
	}
	if m := findMessage(t, d.mailbox(adele.ID, ""), msg); !m.IsRead {
		t.Fatalf("the message is not read after the run completed")
	}

	// What the Web UI shows of the run (through the codec endpoint): the
	// workflow's summary names the recipe, each activity and timer its
	// step; the mail's subject is in no summary nor anywhere in the history.
	scan := scanHistory(t, d.client, runID, d.codecEndpoint())
	for _, want := range []string{"recipe read-later (newMail)", "pause: wait", "read: markRead"} {
		if !scan.decodedContains(want) {
			t.Errorf("the run's history shows no summary %q", want)
		}
	}
	if scan.rawContains("Weekly report") || scan.decodedContains("Weekly report") {
		t.Errorf("the mail's subject is in the run's history")
	}
}

func findMessage(t *testing.T, msgs []graphsim.Message, id string) graphsim.Message {
	t.Helper()
	for _, m := range msgs {
		if m.ID == id {
			return m
		}
	}
	t.Fatalf("message %s is not in the mailbox", id)
	return graphsim.Message{}
}
