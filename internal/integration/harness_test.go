package integration

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest"

	"github.com/outlookflow/outlookflow/config"
	"github.com/outlookflow/outlookflow/graphsim"
	"github.com/outlookflow/outlookflow/internal/app"
	"github.com/outlookflow/outlookflow/internal/codec"
	"github.com/outlookflow/outlookflow/internal/testenv"
	"github.com/outlookflow/outlookflow/workflows/mailsync"
	"github.com/outlookflow/outlookflow/workflows/reciperun"
	"github.com/outlookflow/outlookflow/workflows/tenant"
)

var temporalServer *testenv.Temporal

func TestMain(m *testing.M) {
	// The same binary doubles as a worker process that tests can kill -9.
	if cfgJSON := os.Getenv(workerProcessEnv); cfgJSON != "" {
		os.Exit(runWorkerProcess(cfgJSON))
	}
	srv, err := testenv.StartTemporal(context.Background(), nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, "these tests need a Temporal dev server:", err)
		os.Exit(1)
	}
	temporalServer = srv
	code := m.Run()
	if postgres.srv != nil {
		if err := postgres.srv.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "stopping the test PostgreSQL server:", err)
		}
	}
	_ = srv.Stop()
	os.Exit(code)
}

// harness is one test's world: its own simulator, task queue, worker and
// encrypted Temporal client, sharing the package's dev server.
type harness struct {
	t       *testing.T
	key     string // the tenant key, unique per test so parallel tests never share a workflow
	sim     *graphsim.Server
	cfg     *config.Config
	ring    codec.Keyring
	client  client.Client
	tenant  graphsim.TenantSeed
	secret  string
	keyFile string
	log     *zap.Logger
	logs    *syncBuffer // everything the in-process worker logged
}

// syncBuffer is a bytes.Buffer safe for a logger and a test to share.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// tenantKeys numbers the harnesses' tenant keys.
var tenantKeys atomic.Int64

const (
	testTenantKey   = "contoso"
	testDisplayName = "Contoso Pharmaceuticals Zeta"
)

func randomHex(t *testing.T, n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%x", b)
}

func guid(t *testing.T) string {
	h := randomHex(t, 16)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// newHarness seeds a tenant whose app holds roles and starts a worker for it.
func newHarness(t *testing.T, roles []string, features []string, verifyInterval time.Duration) *harness {
	t.Helper()
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	return newHarnessWithKey(t, roles, features, verifyInterval, key)
}

// newHarnessWithKey is newHarness with a given payload-encryption key.
func newHarnessWithKey(t *testing.T, roles []string, features []string, verifyInterval time.Duration, key []byte) *harness {
	t.Helper()
	h := newWorld(t, roles, features, verifyInterval, key)
	h.startWorker()
	return h
}

// newWorld is a harness without a worker: tests that run the worker as a
// separate process (to kill it) start their own.
func newWorld(t *testing.T, roles []string, features []string, verifyInterval time.Duration, key []byte) *harness {
	t.Helper()
	secret := "sim~" + randomHex(t, 20)
	seed := graphsim.TenantSeed{
		TenantID:    guid(t),
		DisplayName: testDisplayName,
		Domain:      "contoso.example",
		Apps: []graphsim.AppSeed{{
			ClientID:     guid(t),
			DisplayName:  "outlookflow",
			Secrets:      []graphsim.SecretSeed{{Value: secret}},
			GrantedRoles: roles,
		}},
		Users: []graphsim.UserSeed{
			{ID: guid(t), DisplayName: "Adele Vance", Mail: "adele@contoso.example", UserPrincipalName: "adele@contoso.example"},
			{ID: guid(t), DisplayName: "Megan Bowen", Mail: "megan@contoso.example", UserPrincipalName: "megan@contoso.example"},
		},
	}
	return newWorldFromSeed(t, seed, secret, features, verifyInterval, key)
}

// newWorldFromSeed is newWorld for a given tenant seed whose first app
// holds secret.
func newWorldFromSeed(t *testing.T, seed graphsim.TenantSeed, secret string, features []string, verifyInterval time.Duration, key []byte) *harness {
	t.Helper()
	sim, err := graphsim.Start(graphsim.Options{StateDir: t.TempDir()})
	if err != nil {
		t.Fatalf("starting the Graph simulator: %v", err)
	}
	t.Cleanup(func() { _ = sim.Close() })

	h := &harness{t: t, sim: sim, secret: secret, tenant: seed, key: fmt.Sprintf("%s-%d", testTenantKey, tenantKeys.Add(1))}
	if err := sim.SeedTenant(h.tenant); err != nil {
		t.Fatalf("seeding: %v", err)
	}

	dir := t.TempDir()
	secretFile := filepath.Join(dir, "client-secret")
	writeFile(t, secretFile, h.secret)
	h.keyFile = filepath.Join(dir, "payload.key")
	writeFile(t, h.keyFile, base64.StdEncoding.EncodeToString(key))

	h.cfg = &config.Config{
		Temporal: config.Temporal{Address: temporalServer.HostPort, Namespace: temporalServer.Namespace, TaskQueue: temporalServer.TaskQueue(t)},
		Cloud: config.Cloud{
			Name:              config.CloudCustom,
			AuthorityHost:     sim.AuthorityHost(),
			GraphBaseURL:      sim.GraphBaseURL(),
			GraphScope:        "https://graph.microsoft.com/.default",
			AllowedGraphHosts: []string{sim.Hostname()},
			CAFile:            sim.CAFile(),
		},
		Tenants: []config.Tenant{{
			Key:                h.key,
			DisplayName:        testDisplayName,
			TenantID:           h.tenant.TenantID,
			ClientID:           h.tenant.Apps[0].ClientID,
			AuthMode:           config.AuthAppOnly,
			Secret:             config.SecretRef{File: secretFile},
			Features:           features,
			VerifyInterval:     verifyInterval,
			CalendarPastDays:   config.DefaultCalendarPastDays,
			CalendarFutureDays: config.DefaultCalendarFutureDays,
		}},
		Logging:     config.Logging{Level: "info", Format: "console"},
		Encryption:  config.Encryption{ActiveKeyID: "replay", Keys: []config.EncryptionKey{{ID: "replay", Secret: config.SecretRef{File: h.keyFile}}}},
		Credentials: config.Credentials{Dir: filepath.Join(dir, "credentials")},
		Store:       config.Store{Driver: config.StoreSQLite, Path: filepath.Join(dir, "outlookflow.db")},
	}

	// Logs go to the test's output and to a buffer tests can search.
	h.logs = &syncBuffer{}
	captured := zapcore.NewCore(zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()), zapcore.AddSync(h.logs), zap.DebugLevel)
	h.log = zaptest.NewLogger(t, zaptest.Level(zap.InfoLevel), zaptest.WrapOptions(zap.WrapCore(func(c zapcore.Core) zapcore.Core {
		return zapcore.NewTee(c, captured)
	})))
	ring, err := app.Keyring(h.cfg)
	if err != nil {
		t.Fatal(err)
	}
	h.ring = ring
	c, err := app.DialWithKeyring(context.Background(), h.cfg, ring, h.log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	h.client = c
	t.Cleanup(h.deleteSchedules)
	return h
}

// deleteSchedules removes the schedules this test's tenant left on the
// shared dev server. Their scheduler workflows would otherwise live on for
// the whole package run, and a server answering hundreds of them is slow to
// describe a schedule for the tests after.
func (h *harness) deleteSchedules() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sc := h.client.ScheduleClient()
	_ = sc.GetHandle(ctx, mailsync.ScheduleID(h.key)).Delete(ctx)
	it, err := sc.List(ctx, client.ScheduleListOptions{PageSize: 500})
	if err != nil {
		return
	}
	for it.HasNext() {
		e, err := it.Next()
		if err != nil {
			return
		}
		if strings.HasPrefix(e.ID, reciperun.ScheduleIDPrefix+h.key+"-") {
			_ = sc.GetHandle(ctx, e.ID).Delete(ctx)
		}
	}
}

// startWorker runs a worker for the harness's task queue in this process.
func (h *harness) startWorker() *app.Workers {
	h.t.Helper()
	w, err := app.NewWorker(h.client, h.cfg, h.ring, h.log)
	if err != nil {
		h.t.Fatal(err)
	}
	// A step held by a paused tenant checks again every second, not 30.
	w.RecipeActivities.HoldRetry = time.Second
	if err := w.Start(); err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(w.Stop)
	return w
}

// rotateSecret does what `starter rotate --secret-stdin` does: seal the
// secret into the credential vault and send the workflow only its version.
func (h *harness) rotateSecret(secret string) tenant.StatusView {
	h.t.Helper()
	vault, err := app.OpenVault(h.cfg, h.ring)
	if err != nil {
		h.t.Fatal(err)
	}
	version, err := vault.Put(h.key, secret)
	if err != nil {
		h.t.Fatal(err)
	}
	return h.update(tenant.UpdateRotateCredentials, tenant.RotateCredentialsRequest{CredentialVersion: version})
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func (h *harness) clientID() string { return h.tenant.Apps[0].ClientID }

// connect starts the tenant workflow the way `starter connect` does.
func (h *harness) connect() client.WorkflowRun {
	h.t.Helper()
	run, err := h.client.ExecuteWorkflow(context.Background(), client.StartWorkflowOptions{
		ID:        tenant.WorkflowID(h.key),
		TaskQueue: h.cfg.Temporal.TaskQueue,
	}, tenant.WorkflowName, app.TenantInput(h.cfg.Tenants[0]))
	if err != nil {
		h.t.Fatalf("starting tenant workflow: %v", err)
	}
	h.t.Cleanup(func() {
		_ = h.client.TerminateWorkflow(context.Background(), run.GetID(), "", "test finished")
	})
	return run
}

func (h *harness) status() (tenant.StatusView, error) {
	var v tenant.StatusView
	resp, err := h.client.QueryWorkflow(context.Background(), tenant.WorkflowID(h.key), "", tenant.QueryStatus)
	if err != nil {
		return v, err
	}
	return v, resp.Get(&v)
}

// waitFor polls the status query until cond holds or the timeout passes.
func (h *harness) waitFor(what string, timeout time.Duration, cond func(tenant.StatusView) bool) tenant.StatusView {
	h.t.Helper()
	deadline := time.Now().Add(timeout)
	var last tenant.StatusView
	var lastErr error
	for time.Now().Before(deadline) {
		last, lastErr = h.status()
		if lastErr == nil && cond(last) {
			return last
		}
		time.Sleep(200 * time.Millisecond)
	}
	h.t.Fatalf("timed out after %s waiting for %s; last status %+v (query error %v)", timeout, what, last, lastErr)
	return last
}

func (h *harness) update(name string, arg any) tenant.StatusView {
	h.t.Helper()
	v, err := h.tryUpdate(name, arg)
	if err != nil {
		h.t.Fatalf("update %s: %v", name, err)
	}
	return v
}

// tryUpdate sends an update and returns its answer or error.
func (h *harness) tryUpdate(name string, arg any) (tenant.StatusView, error) {
	var v tenant.StatusView
	handle, err := h.client.UpdateWorkflow(context.Background(), client.UpdateWorkflowOptions{
		WorkflowID:   tenant.WorkflowID(h.key),
		UpdateName:   name,
		Args:         []any{arg},
		WaitForStage: client.WorkflowUpdateStageCompleted,
	})
	if err != nil {
		return v, err
	}
	return v, handle.Get(context.Background(), &v)
}
