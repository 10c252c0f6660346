package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.uber.org/zap"

	"github.com/outlookflow/outlookflow/config"
	"github.com/outlookflow/outlookflow/domain"
	"github.com/outlookflow/outlookflow/graphsim"
	"github.com/outlookflow/outlookflow/internal/app"
	"github.com/outlookflow/outlookflow/internal/testenv"
	"github.com/outlookflow/outlookflow/workflows/mailsync"
	"github.com/outlookflow/outlookflow/workflows/tenant"
	"github.com/outlookflow/outlookflow/workflows/user"
)

var temporalServer *testenv.Temporal

func TestMain(m *testing.M) { testenv.Main(m, &temporalServer) }

type result struct {
	code           int
	stdout, stderr string
}

func runStarter(t *testing.T, configPath string, stdin string, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	full := append([]string{"--config", configPath}, args...)
	code := Run(context.Background(), full, strings.NewReader(stdin), &out, &errb, nil)
	return result{code, out.String(), errb.String()}
}

// world starts a simulator with the demo tenant, writes a config file for it
// and runs a worker on a fresh task queue.
func world(t *testing.T) string {
	t.Helper()
	cfg, _ := worldWithSim(t)
	return cfg
}

// worldWithSim is world that also returns the simulator, for fault injection.
func worldWithSim(t *testing.T) (string, *graphsim.Server) {
	t.Helper()
	return worldWithFeatures(t, "[directory, mail, mail-send]")
}

// worldWithFeatures is worldWithSim with the demo tenant's features.
func worldWithFeatures(t *testing.T, features string) (string, *graphsim.Server) {
	t.Helper()
	return worldWithConfig(t, features, "")
}

// worldWithConfig is worldWithFeatures with extra top-level configuration
// (YAML), which the worker reads too (recipes.dir).
func worldWithConfig(t *testing.T, features, extra string) (string, *graphsim.Server) {
	t.Helper()
	return worldWith(t, features, "", extra)
}

// worldWith is worldWithConfig with extra YAML lines for the demo tenant
// (indented as its keys), e.g. "authMode: delegated".
func worldWith(t *testing.T, features, tenantExtra, extra string) (string, *graphsim.Server) {
	t.Helper()
	cfg, sim, _ := worldWithWorker(t, features, tenantExtra, extra)
	return cfg, sim
}

// worldWithWorker is worldWith that also returns the running worker.
func worldWithWorker(t *testing.T, features, tenantExtra, extra string) (string, *graphsim.Server, *app.Workers) {
	t.Helper()
	sim, err := graphsim.Start(graphsim.Options{StateDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sim.Close() })
	seed, creds := graphsim.DemoTenant()
	if err := sim.SeedTenant(seed); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	secretFile := filepath.Join(dir, "secret")
	keyFile := filepath.Join(dir, "key")
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	mustWrite(t, secretFile, creds.ClientSecret)
	mustWrite(t, keyFile, base64.StdEncoding.EncodeToString(key))
	tq := temporalServer.TaskQueue(t)
	yaml := fmt.Sprintf(`temporal:
  address: %s
  taskQueue: %s
cloud:
  name: custom
  authorityHost: %s
  graphBaseURL: %s
  allowedGraphHosts: [%s]
  caFile: %s
tenants:
  - key: demo
    displayName: Demo Tenant
    tenantID: %s
    clientID: %s
    secret: {file: %s}
    features: %s
    verifyInterval: 1h
%s
  - key: unstarted
    tenantID: %s
    clientID: %s
    secret: {file: %s}
encryption:
  activeKeyID: k
  keys:
    - id: k
      secret: {file: %s}
credentials:
  dir: %s
store:
  path: %s
%s`, temporalServer.HostPort, tq, sim.AuthorityHost(), sim.GraphBaseURL(), sim.Hostname(), sim.CAFile(),
		creds.TenantID, creds.ClientID, secretFile, features, indent(tenantExtra, "    "), creds.TenantID, creds.ClientID, secretFile, keyFile, filepath.Join(dir, "credentials"), filepath.Join(dir, "outlookflow.db"), extra)
	cfgPath := filepath.Join(dir, "config.yaml")
	mustWrite(t, cfgPath, yaml)

	cfg, err := config.Load(cfgPath, nil)
	if err != nil {
		t.Fatalf("test config does not load: %v", err)
	}
	ring, err := app.Keyring(cfg)
	if err != nil {
		t.Fatal(err)
	}
	c, err := app.DialWithKeyring(context.Background(), cfg, ring, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	w, err := app.NewWorker(c, cfg, ring, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = c.TerminateWorkflow(context.Background(), tenant.WorkflowID("demo"), "", "test finished")
		endUserConnections(c, "demo")
		w.Stop()
	})
	return cfgPath, sim, w
}

func mustWrite(t *testing.T, path, s string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestUsageErrorsExitTwo(t *testing.T) {
	for _, args := range [][]string{{"bogus"}, {"connect"}, {"pause"}, {"status", "--nope"}} {
		var out, errb bytes.Buffer
		if code := Run(context.Background(), args, strings.NewReader(""), &out, &errb, nil); code != exitUsage {
			t.Errorf("starter %v exited %d, want %d (stderr %q)", args, code, exitUsage, errb.String())
		}
		if errb.Len() == 0 {
			t.Errorf("starter %v printed no explanation", args)
		}
	}
}

func TestBadConfigExitsOneNamingTheKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bad.yaml")
	mustWrite(t, path, "temporal:\n  adress: x\n")
	r := runStarter(t, path, "", "status")
	if r.code != exitFailure || !strings.Contains(r.stderr, "temporal.adress") {
		t.Fatalf("exit %d stderr %q; want 1 naming temporal.adress", r.code, r.stderr)
	}
}

func TestConnectStatusPauseResumeAgainstRealServer(t *testing.T) {
	cfg := world(t)

	r := runStarter(t, cfg, "", "connect", "--tenant", "demo")
	if r.code != exitOK || !strings.Contains(r.stdout, "Connected") {
		t.Fatalf("connect: exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	// connect is idempotent: the running workflow is reused.
	if r2 := runStarter(t, cfg, "", "connect", "--tenant", "demo"); r2.code != exitOK {
		t.Fatalf("second connect exit %d: %s", r2.code, r2.stderr)
	}

	r = runStarter(t, cfg, "", "status", "--tenant", "demo")
	if r.code != exitOK {
		t.Fatalf("status: exit %d %s", r.code, r.stderr)
	}
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "TENANT") || !strings.Contains(lines[1], "demo") || !strings.Contains(lines[1], "Connected") {
		t.Fatalf("status table:\n%s", r.stdout)
	}

	// Every configured tenant: the unstarted one makes the exit code 3.
	r = runStarter(t, cfg, "", "status", "--json")
	var views []tenant.StatusView
	if err := json.Unmarshal([]byte(r.stdout), &views); err != nil {
		t.Fatalf("status --json is not JSON: %v\n%s", err, r.stdout)
	}
	if r.code != exitNotConnected || len(views) != 2 || views[1].Status != "NotConnected" {
		t.Fatalf("status of all: exit %d views %+v", r.code, views)
	}

	r = runStarter(t, cfg, "", "pause", "--tenant", "demo", "--reason", "maintenance")
	if r.code != exitOK || !strings.Contains(r.stdout, "Paused") {
		t.Fatalf("pause: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r = runStarter(t, cfg, "", "status", "--tenant", "demo"); r.code != exitNotConnected || !strings.Contains(r.stdout, "Paused") {
		t.Fatalf("status while paused: exit %d\n%s", r.code, r.stdout)
	}
	if r = runStarter(t, cfg, "", "pause", "--tenant", "demo"); r.code != exitFailure || !strings.Contains(r.stderr, "already paused") {
		t.Fatalf("second pause: exit %d stderr %q, want 1 'already paused'", r.code, r.stderr)
	}
	if r = runStarter(t, cfg, "", "resume", "--tenant", "demo"); r.code != exitOK || !strings.Contains(r.stdout, "Connected") {
		t.Fatalf("resume: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r = runStarter(t, cfg, "", "verify", "--tenant", "demo"); r.code != exitOK {
		t.Fatalf("verify: exit %d %s", r.code, r.stderr)
	}
}

func TestUnknownOrUnstartedTenantExitsFour(t *testing.T) {
	cfg := world(t)
	if r := runStarter(t, cfg, "", "status", "--tenant", "nope"); r.code != exitNotFound || !strings.Contains(r.stderr, "not configured") {
		t.Fatalf("unknown tenant: exit %d stderr %q", r.code, r.stderr)
	}
	if r := runStarter(t, cfg, "", "pause", "--tenant", "unstarted"); r.code != exitNotFound || !strings.Contains(r.stderr, "starter connect") {
		t.Fatalf("unstarted tenant: exit %d stderr %q", r.code, r.stderr)
	}
}

func TestScopesListsLeastPrivilegedPermissions(t *testing.T) {
	cfg := world(t)
	r := runStarter(t, cfg, "", "scopes", "--tenant", "demo")
	for _, want := range []string{"User.Read.All", "Mail.ReadBasic.All", "Mail.Send", "Application"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("scopes output lacks %s:\n%s", want, r.stdout)
		}
	}
}

func TestRotateReadsTheSecretFromStdinOnly(t *testing.T) {
	cfg := world(t)
	if r := runStarter(t, cfg, "", "connect", "--tenant", "demo"); r.code != exitOK {
		t.Fatalf("connect: %d %s", r.code, r.stderr)
	}
	_, creds := graphsim.DemoTenant()
	r := runStarter(t, cfg, creds.ClientSecret+"\n", "rotate", "--tenant", "demo", "--secret-stdin")
	if r.code != exitOK || !strings.Contains(r.stdout, "Connected") || !strings.Contains(r.stdout, "Sealed the new secret") {
		t.Fatalf("rotate with the valid secret: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if strings.Contains(r.stdout+r.stderr, creds.ClientSecret) {
		t.Fatal("rotate echoed the secret")
	}
	sealed, err := os.ReadFile(filepath.Join(filepath.Dir(cfg), "credentials", "demo.json"))
	if err != nil || strings.Contains(string(sealed), creds.ClientSecret) {
		t.Fatalf("the credential file is missing or holds the secret in plaintext (err %v)", err)
	}
	if r := runStarter(t, cfg, "", "rotate", "--tenant", "demo", "--secret-stdin"); r.code != exitUsage {
		t.Fatalf("rotate with empty stdin: exit %d, want %d", r.code, exitUsage)
	}
	r = runStarter(t, cfg, "not-the-secret", "rotate", "--tenant", "demo", "--secret-stdin")
	if r.code != exitNotConnected || !strings.Contains(r.stdout, "InvalidCredentials") || !strings.Contains(r.stdout, "AADSTS7000215") {
		t.Fatalf("rotate with a wrong secret: exit %d\n%s", r.code, r.stdout)
	}
}

func rewrite(t *testing.T, path, old, new string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), old) {
		t.Fatalf("%s does not contain %q", path, old)
	}
	mustWrite(t, path, strings.Replace(string(b), old, new, 1))
}

func TestConnectAppliesEditedFeaturesToTheRunningWorkflow(t *testing.T) {
	cfg, sim := worldWithSim(t)
	if r := runStarter(t, cfg, "", "connect", "--tenant", "demo"); r.code != exitOK {
		t.Fatalf("connect: %d %s%s", r.code, r.stdout, r.stderr)
	}
	// Take the calendar permission away from the demo app.
	_, creds := graphsim.DemoTenant()
	if err := sim.SetGrantedRoles(creds.TenantID, creds.ClientID, []string{"User.Read.All", "Mail.ReadBasic.All", "Mail.Send"}); err != nil {
		t.Fatal(err)
	}
	rewrite(t, cfg, "features: [directory, mail, mail-send]", "features: [directory, mail, mail-send, calendar]")
	r := runStarter(t, cfg, "", "connect", "--tenant", "demo")
	if r.code != exitNotConnected || !strings.Contains(r.stdout, "MissingPermissions") || !strings.Contains(r.stdout, "Calendars.Read") {
		t.Fatalf("connect after enabling calendar: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

func TestWithoutAWorkerCommandsSayNoWorkerIsPolling(t *testing.T) {
	cfg := world(t)
	rewrite(t, cfg, "taskQueue: ", "taskQueue: nobody-polls-")
	t.Cleanup(func() { terminate(t, cfg, "unstarted") })
	r := runStarter(t, cfg, "", "connect", "--tenant", "unstarted", "--wait", "3s")
	if r.code != exitNoWorker || !strings.Contains(r.stderr, "no worker is polling task queue") {
		t.Fatalf("connect with no worker: exit %d stderr %q", r.code, r.stderr)
	}
	// verify says the same, at once, and no raw gRPC error.
	start := time.Now()
	r = runStarter(t, cfg, "", "verify", "--tenant", "unstarted")
	if r.code != exitNoWorker || !strings.Contains(r.stderr, "no worker is polling task queue") || strings.Contains(r.stderr, "rpc error") {
		t.Fatalf("verify with no worker: exit %d stderr %q", r.code, r.stderr)
	}
	if took := time.Since(start); took > 20*time.Second {
		t.Fatalf("verify took %s to say no worker polls; it should not wait out --wait", took)
	}
	// status neither hangs nor fails: the tenant's row says nobody polls.
	r = runStarter(t, cfg, "", "status", "--tenant", "unstarted")
	if r.code != exitNotConnected || !strings.Contains(r.stdout, "NoAnswer") || !strings.Contains(r.stdout, "no worker is polling") {
		t.Fatalf("status with no worker: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

func TestUnreachableTemporalExitsFiveWithoutARawGRPCError(t *testing.T) {
	cfg := world(t)
	// A port nothing listens on.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	rewrite(t, cfg, "address: "+temporalServer.HostPort, "address: "+addr)
	for _, args := range [][]string{{"verify", "--tenant", "demo"}, {"status"}} {
		r := runStarter(t, cfg, "", args...)
		if r.code != exitTemporalUnreachable || !strings.Contains(r.stderr, "Temporal at "+addr+" (namespace default) is unreachable") {
			t.Fatalf("starter %v with Temporal down: exit %d stderr %q", args, r.code, r.stderr)
		}
	}
}

func TestVerifyWhileACheckRetriesThrottlingSaysWhyAndExitsSeven(t *testing.T) {
	cfg, sim := worldWithSim(t)
	if r := runStarter(t, cfg, "", "connect", "--tenant", "demo"); r.code != exitOK {
		t.Fatalf("connect: %d %s", r.code, r.stderr)
	}
	_, creds := graphsim.DemoTenant()
	fault := sim.InjectFault(graphsim.Fault{Method: "POST", Path: "/" + creds.TenantID + "/oauth2/v2.0/token", Status: 429, RetryAfter: 1})
	r := runStarter(t, cfg, "", "verify", "--tenant", "demo", "--wait", "12s")
	if r.code != exitStillRunning {
		t.Fatalf("verify under throttling: exit %d, want %d\n%s%s", r.code, exitStillRunning, r.stdout, r.stderr)
	}
	for _, want := range []string{"the worker accepted verify-now", "still running", "attempt ", "Throttled (HTTP 429)"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("verify's message lacks %q:\n%s", want, r.stderr)
		}
	}
	// status shows the check in progress, not a stale Connected with a next
	// check in the past.
	r = runStarter(t, cfg, "", "status", "--tenant", "demo")
	if !strings.Contains(r.stdout, "checking now") || !strings.Contains(r.stdout, "attempt ") || !strings.Contains(r.stdout, "Throttled") {
		t.Fatalf("status during the throttled check:\n%s%s", r.stdout, r.stderr)
	}
	var rows []statusRow
	if r = runStarter(t, cfg, "", "status", "--tenant", "demo", "--json"); json.Unmarshal([]byte(r.stdout), &rows) != nil || len(rows) != 1 || rows[0].Check == nil || rows[0].Check.Attempt < 2 {
		t.Fatalf("status --json during the check: %s", r.stdout)
	}
	sim.RemoveFault(fault)
	if r = runStarter(t, cfg, "", "verify", "--tenant", "demo"); r.code != exitOK {
		t.Fatalf("verify after the throttling: exit %d %s%s", r.code, r.stdout, r.stderr)
	}
}

func TestOperatorInputIsCheckedBeforeAnythingIsSent(t *testing.T) {
	cfg := world(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"verify", "--tenant", "demo", "--wait", "-5s"}, "--wait must be a positive duration"},
		{[]string{"connect", "--tenant", "demo", "--wait", "0s"}, "--wait must be a positive duration"},
		{[]string{"pause", "--tenant", "demo", "--reason", strings.Repeat("x", 100<<10)}, "keep it to 200"},
	} {
		if r := runStarter(t, cfg, "", tc.args...); r.code != exitUsage || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("starter %v: exit %d stderr %q; want 2 and %q", tc.args[:2], r.code, r.stderr, tc.want)
		}
	}
}

func TestWithoutAConfigFileTheMessageSaysHowToGiveOne(t *testing.T) {
	var out, errb bytes.Buffer
	code := Run(context.Background(), []string{"status"}, strings.NewReader(""), &out, &errb, []string{"HOME=/tmp"})
	if code != exitUsage || !strings.Contains(errb.String(), "set OUTLOOKFLOW_CONFIG or pass --config FILE") {
		t.Fatalf("exit %d stderr %q", code, errb.String())
	}
}

func TestStatusTableShowsThePauseReason(t *testing.T) {
	cfg := world(t)
	if r := runStarter(t, cfg, "", "connect", "--tenant", "demo"); r.code != exitOK {
		t.Fatalf("connect: %d %s", r.code, r.stderr)
	}
	if r := runStarter(t, cfg, "", "pause", "--tenant", "demo", "--reason", "mailbox migration\tweekend"); r.code != exitOK {
		t.Fatalf("pause: %d %s", r.code, r.stderr)
	}
	r := runStarter(t, cfg, "", "status", "--tenant", "demo")
	if !strings.Contains(r.stdout, "paused: mailbox migration weekend") {
		t.Fatalf("status table lacks the pause reason:\n%s", r.stdout)
	}
}

// terminate ends a tenant's workflow so later tests start clean.
func terminate(t *testing.T, cfgPath, key string) {
	cfg, err := config.Load(cfgPath, nil)
	if err != nil {
		t.Fatal(err)
	}
	c, err := app.DialTemporal(context.Background(), cfg, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.TerminateWorkflow(context.Background(), tenant.WorkflowID(key), "", "test finished")
}

func TestStatusShowsRunningTenantsNoLongerConfigured(t *testing.T) {
	cfg := world(t)
	if r := runStarter(t, cfg, "", "connect", "--tenant", "demo"); r.code != exitOK {
		t.Fatalf("connect: %d %s", r.code, r.stderr)
	}
	rewrite(t, cfg, "- key: demo", "- key: renamed")
	r := runStarter(t, cfg, "", "status", "--json")
	var views []tenant.StatusView
	if err := json.Unmarshal([]byte(r.stdout), &views); err != nil {
		t.Fatalf("status --json: %v (exit %d)\nstdout:\n%s\nstderr:\n%s", err, r.code, r.stdout, r.stderr)
	}
	seen := map[string]tenant.Status{}
	for _, v := range views {
		seen[v.TenantKey] = v.Status
	}
	if seen["demo"] != tenant.StatusConnected || seen["renamed"] != "NotConnected" {
		t.Fatalf("status lists %v; want the unconfigured but running demo (Connected) and renamed (NotConnected)", seen)
	}
}

func TestSyncWaitShowsProgressAndASummaryAndFillsTheStore(t *testing.T) {
	cfg := world(t)
	if r := runStarter(t, cfg, "", "connect", "--tenant", "demo"); r.code != exitOK {
		t.Fatalf("connect: %d %s", r.code, r.stderr)
	}
	r := runStarter(t, cfg, "", "sync", "--tenant", "demo", "--wait")
	if r.code != exitOK || !strings.Contains(r.stdout, "Synced 36 of 36 mailboxes") {
		t.Fatalf("sync --wait: exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stderr, "Sync run outlookflow-sync-demo-manual") {
		t.Fatalf("sync did not name its run:\n%s", r.stderr)
	}
	// One mailbox, JSON.
	r = runStarter(t, cfg, "", "sync", "--tenant", "demo", "--mailbox", "megan.bowen@contoso.example", "--wait", "--json")
	var res mailsync.Result
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil || r.code != exitOK || res.MailboxesDone != 1 {
		t.Fatalf("sync --mailbox --json: exit %d, %v\n%s%s", r.code, err, r.stdout, r.stderr)
	}
	if r := runStarter(t, cfg, "", "sync", "--tenant", "demo", "--mailbox", "nobody@contoso.example", "--wait"); r.code == exitOK || !strings.Contains(r.stderr, "not a synced user with a mailbox") {
		t.Fatalf("sync of an unknown mailbox: exit %d %s", r.code, r.stderr)
	}
}

func TestMessagesShowsAManagerTheirTeamAPeerOnlyThemselvesAnAdminEverything(t *testing.T) {
	cfg, _ := worldWithFeatures(t, "[directory, mail, mail-send, calendar]")
	if r := runStarter(t, cfg, "", "connect", "--tenant", "demo"); r.code != exitOK {
		t.Fatalf("connect: %d %s", r.code, r.stderr)
	}
	if r := runStarter(t, cfg, "", "sync", "--tenant", "demo", "--wait"); r.code != exitOK {
		t.Fatalf("sync: %d %s%s", r.code, r.stdout, r.stderr)
	}
	seed, _ := graphsim.DemoTenant()
	byUPN := map[string]graphsim.UserSeed{}
	reports := map[string][]string{}
	for _, u := range seed.Users {
		byUPN[u.UserPrincipalName] = u
		reports[u.ManagerID] = append(reports[u.ManagerID], u.ID)
	}
	team := func(id string) map[string]bool {
		out := map[string]bool{id: true}
		for q := []string{id}; len(q) > 0; q = q[1:] {
			for _, r := range reports[q[0]] {
				out[r] = true
				q = append(q, r)
			}
		}
		return out
	}
	// seen lists the mailboxes whose messages the viewer is shown.
	seen := func(viewer string) map[string]bool {
		t.Helper()
		r := runStarter(t, cfg, "", "messages", "--tenant", "demo", "--as", viewer, "--limit", "100000", "--json")
		var msgs []domain.Message
		if err := json.Unmarshal([]byte(r.stdout), &msgs); err != nil || r.code != exitOK {
			t.Fatalf("messages --as %s: exit %d %v\n%s", viewer, r.code, err, r.stderr)
		}
		out := map[string]bool{}
		for _, m := range msgs {
			out[m.Mailbox] = true
		}
		return out
	}
	// seenCalendars lists the mailboxes whose events the viewer is shown.
	seenCalendars := func(viewer string) map[string]bool {
		t.Helper()
		r := runStarter(t, cfg, "", "events", "--tenant", "demo", "--as", viewer, "--back", "2400h", "--ahead", "2400h", "--limit", "100000", "--json")
		var events []domain.Event
		if err := json.Unmarshal([]byte(r.stdout), &events); err != nil || r.code != exitOK {
			t.Fatalf("events --as %s: exit %d %v\n%s", viewer, r.code, err, r.stderr)
		}
		out := map[string]bool{}
		for _, e := range events {
			out[e.Mailbox] = true
		}
		return out
	}
	// A manager with reports: sees exactly their subtree's mailboxes.
	var manager, peer graphsim.UserSeed
	for _, u := range seed.Users {
		if len(reports[u.ID]) > 0 && u.ManagerID != "" && manager.ID == "" {
			manager = u
		}
	}
	for _, u := range seed.Users {
		if u.ManagerID == manager.ManagerID && u.ID != manager.ID {
			peer = u
			break
		}
	}
	if manager.ID == "" || peer.ID == "" {
		t.Fatal("the demo tenant lacks a manager with a peer")
	}
	got, want := seen(manager.UserPrincipalName), team(manager.ID)
	if len(got) < 2 {
		t.Fatalf("%s sees mail of %d mailboxes; want their own and their reports'", manager.UserPrincipalName, len(got))
	}
	for mb := range got {
		if !want[mb] {
			t.Fatalf("%s sees mailbox %s, which is not theirs or a report's", manager.UserPrincipalName, mb)
		}
	}
	if got[peer.ID] {
		t.Fatalf("%s sees their peer %s's mail", manager.UserPrincipalName, peer.UserPrincipalName)
	}
	// Every demo calendar has events this week: the manager sees exactly
	// their team's calendars, through the same path as the mail.
	if cals := seenCalendars(manager.UserPrincipalName); !maps.Equal(cals, want) {
		t.Fatalf("%s sees the calendars of %d mailboxes, want their team's %d", manager.UserPrincipalName, len(cals), len(want))
	}
	if p := seen(peer.UserPrincipalName); len(p) == 0 || p[manager.ID] {
		t.Fatalf("peer %s sees %v; want their own mailbox and their team only", peer.UserPrincipalName, p)
	}
	// The peer made admin sees every mailbox.
	mustWrite(t, cfg, mustRead(t, cfg)+"visibility:\n  admins: ["+peer.UserPrincipalName+"]\n")
	if all := seen(peer.UserPrincipalName); len(all) < len(got)+2 || !all[manager.ID] {
		t.Fatalf("admin %s sees %d mailboxes", peer.UserPrincipalName, len(all))
	}
	if cals := seenCalendars(peer.UserPrincipalName); len(cals) != len(seed.Users) {
		t.Fatalf("admin %s sees %d calendars of %d", peer.UserPrincipalName, len(cals), len(seed.Users))
	}
	// Asking for a mailbox outside one's view is refused, not empty.
	r := runStarter(t, cfg, "", "messages", "--tenant", "demo", "--as", manager.UserPrincipalName, "--mailbox", peer.UserPrincipalName)
	if r.code != exitNotFound || !strings.Contains(r.stderr, "may not see") {
		t.Fatalf("manager asking for a peer's mailbox: exit %d %s", r.code, r.stderr)
	}
	r = runStarter(t, cfg, "", "events", "--tenant", "demo", "--as", manager.UserPrincipalName, "--mailbox", peer.UserPrincipalName)
	if r.code != exitNotFound || !strings.Contains(r.stderr, "may not see") {
		t.Fatalf("manager asking for a peer's calendar: exit %d %s", r.code, r.stderr)
	}
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestRecipesValidateNamesEveryProblemByPositionAndChecksTheGrant: a
// recipe for a tenant the configuration lacks is refused at its tenant
// line; with --grants, a step needing a permission the demo app was not
// granted (move needs Mail.ReadWrite; so does forward, which writes a keyed
// draft before sending) is refused at its step; the valid recipes are
// still listed, and validate exits 8.
func TestRecipesValidateNamesEveryProblemByPositionAndChecksTheGrant(t *testing.T) {
	cfg := world(t)
	dir := t.TempDir()
	mustWrite(t, filepath.Join(dir, "forward.yaml"), "name: forward-boss\ntenant: demo\nmailboxes: {all: true}\ntrigger:\n  newMail: {from: boss@contoso.example}\nsteps:\n  - id: fwd\n    forward: {to: assistant@contoso.example}\n")
	mustWrite(t, filepath.Join(dir, "file.yaml"), "name: file-it\ntenant: demo\nmailboxes: {all: true}\ntrigger:\n  newMail: {}\nsteps:\n  - id: file\n    move: {folder: archive}\n")
	mustWrite(t, filepath.Join(dir, "digest.yaml"), "name: digest-it\ntenant: demo\nmailboxes: {all: true}\ntrigger:\n  newMail: {}\nsteps:\n  - id: digest\n    summarize: {of: threads}\n")
	mustWrite(t, filepath.Join(dir, "other.yaml"), "name: other\ntenant: nope\nmailboxes: {all: true}\ntrigger:\n  newMail: {}\nsteps:\n  - id: fwd\n    forward: {to: assistant@contoso.example}\n")

	r := runStarter(t, cfg, "", "recipes", "validate", dir)
	t.Logf("offline: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	if r.code != exitInvalidRecipes || !strings.Contains(r.stdout, "3 recipe(s) valid, 1 problem(s)") ||
		!strings.Contains(r.stderr, filepath.Join(dir, "other.yaml")+":2:9: ") || !strings.Contains(r.stderr, `"nope"`) {
		t.Fatalf("offline validate: exit %d\nstdout %s\nstderr %s", r.code, r.stdout, r.stderr)
	}

	if r := runStarter(t, cfg, "", "connect", "--tenant", "demo"); r.code != exitOK {
		t.Fatalf("connect: exit %d %s", r.code, r.stderr)
	}
	r = runStarter(t, cfg, "", "recipes", "validate", "--grants", dir)
	t.Logf("with grants: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	if r.code != exitInvalidRecipes || !strings.Contains(r.stdout, "1 recipe(s) valid, 3 problem(s)") ||
		!strings.Contains(r.stderr, filepath.Join(dir, "file.yaml")+":8:5: ") || !strings.Contains(r.stderr, "Mail.ReadWrite") ||
		!strings.Contains(r.stderr, filepath.Join(dir, "forward.yaml")+":8:5: ") {
		t.Fatalf("validate --grants: exit %d\nstdout %s\nstderr %s", r.code, r.stdout, r.stderr)
	}

	r = runStarter(t, cfg, "", "recipes", "list", "--grants", dir)
	if r.code != exitOK || !strings.Contains(r.stdout, "digest-it") || strings.Contains(r.stdout, "file-it") || strings.Contains(r.stdout, "forward-boss") ||
		!strings.Contains(r.stdout, "Mail.ReadBasic.All") || !strings.Contains(r.stderr, "3 problem(s)") {
		t.Fatalf("list --grants: exit %d\nstdout %s\nstderr %s", r.code, r.stdout, r.stderr)
	}
}

// indent prefixes every line of s.
func indent(s, prefix string) string {
	if s == "" {
		return ""
	}
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		lines[i] = prefix + l
	}
	return strings.Join(lines, "\n")
}

// endUserConnections terminates a tenant's running user connections: the
// tests share one server and the tenant key, so a later test must not find
// an earlier one's users.
func endUserConnections(c client.Client, tenantKey string) {
	q := fmt.Sprintf("WorkflowType = '%s' AND OutlookflowTenant = '%s' AND ExecutionStatus = 'Running'", user.ConnectionWorkflowName, tenantKey)
	resp, err := c.ListWorkflow(context.Background(), &workflowservice.ListWorkflowExecutionsRequest{Query: q})
	if err != nil {
		return
	}
	for _, e := range resp.Executions {
		_ = c.TerminateWorkflow(context.Background(), e.Execution.WorkflowId, e.Execution.RunId, "test finished")
	}
}
