package integration

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/outlookflow/outlookflow/config"
	"github.com/outlookflow/outlookflow/graphsim"
	"github.com/outlookflow/outlookflow/internal/app"
	"github.com/outlookflow/outlookflow/internal/testenv"
	"github.com/outlookflow/outlookflow/workflows/tenant"
)

var temporalServer *testenv.Temporal

func TestMain(m *testing.M) { testenv.Main(m, &temporalServer) }

// harness is one test's world: its own simulator, task queue, worker and
// encrypted Temporal client, sharing the package's dev server.
type harness struct {
	t       *testing.T
	sim     *graphsim.Server
	cfg     *config.Config
	client  client.Client
	tenant  graphsim.TenantSeed
	secret  string
	keyFile string
}

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
	sim, err := graphsim.Start(graphsim.Options{StateDir: t.TempDir()})
	if err != nil {
		t.Fatalf("starting the Graph simulator: %v", err)
	}
	t.Cleanup(func() { _ = sim.Close() })

	h := &harness{t: t, sim: sim, secret: "sim~" + randomHex(t, 20)}
	h.tenant = graphsim.TenantSeed{
		TenantID:    guid(t),
		DisplayName: testDisplayName,
		Domain:      "contoso.example",
		Apps: []graphsim.AppSeed{{
			ClientID:     guid(t),
			DisplayName:  "outlookflow",
			Secrets:      []graphsim.SecretSeed{{Value: h.secret}},
			GrantedRoles: roles,
		}},
		Users: []graphsim.UserSeed{
			{ID: guid(t), DisplayName: "Adele Vance", Mail: "adele@contoso.example", UserPrincipalName: "adele@contoso.example"},
			{ID: guid(t), DisplayName: "Megan Bowen", Mail: "megan@contoso.example", UserPrincipalName: "megan@contoso.example"},
		},
	}
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
			Key:            testTenantKey,
			DisplayName:    testDisplayName,
			TenantID:       h.tenant.TenantID,
			ClientID:       h.tenant.Apps[0].ClientID,
			AuthMode:       config.AuthAppOnly,
			Secret:         config.SecretRef{File: secretFile},
			Features:       features,
			VerifyInterval: verifyInterval,
		}},
		Logging:    config.Logging{Level: "info", Format: "console"},
		Encryption: config.Encryption{ActiveKeyID: "replay", Keys: []config.EncryptionKey{{ID: "replay", Secret: config.SecretRef{File: h.keyFile}}}},
	}

	log := zaptest.NewLogger(t, zaptest.Level(zap.InfoLevel))
	ctx := context.Background()
	c, err := app.DialTemporal(ctx, h.cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	h.client = c
	w, err := app.NewWorker(c, h.cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)
	return h
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
		ID:        tenant.WorkflowID(testTenantKey),
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
	resp, err := h.client.QueryWorkflow(context.Background(), tenant.WorkflowID(testTenantKey), "", tenant.QueryStatus)
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
	handle, err := h.client.UpdateWorkflow(context.Background(), client.UpdateWorkflowOptions{
		WorkflowID:   tenant.WorkflowID(testTenantKey),
		UpdateName:   name,
		Args:         []any{arg},
		WaitForStage: client.WorkflowUpdateStageCompleted,
	})
	if err != nil {
		h.t.Fatalf("update %s: %v", name, err)
	}
	var v tenant.StatusView
	if err := handle.Get(context.Background(), &v); err != nil {
		h.t.Fatalf("update %s result: %v", name, err)
	}
	return v
}
