package integration

import (
	"context"
	"encoding/base64"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/temporalproto"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/outlookflow/outlookflow/graphsim"
	"github.com/outlookflow/outlookflow/internal/app"
	"github.com/outlookflow/outlookflow/internal/codec"
	"github.com/outlookflow/outlookflow/internal/testenv"
	"github.com/outlookflow/outlookflow/workflows/tenant"
)

var updateHistories = flag.Bool("update-histories", false, "rewrite workflows/tenant/testdata/*.history.json from a fresh run")

// replayKeyring is the test-only key the committed replay histories are
// encrypted with (workflows/tenant/testdata/replay.key).
func replayKeyring(t *testing.T) codec.Keyring {
	t.Helper()
	root, err := testenv.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(root, "workflows", "tenant", "testdata", "replay.key"))
	if err != nil {
		t.Fatal(err)
	}
	key, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(raw)))
	if err != nil {
		t.Fatal(err)
	}
	return codec.Keyring{ActiveID: "replay", Keys: map[string][]byte{"replay": key}}
}

func waitClosed(t *testing.T, h *harness, id, runID string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		d, err := h.client.DescribeWorkflowExecution(context.Background(), id, runID)
		if err == nil && d.WorkflowExecutionInfo.Status != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("run %s did not close", runID)
}

// TestFreshHistoryReplaysDeterministically drives one tenant through every
// path the workflow has — a throttled first check retried by Temporal,
// Connected, pause, resume, credential rotation, verify-now and
// continue-as-new — then replays the recorded history with the current code.
// With -update-histories it also refreshes the committed history that
// workflows/tenant's replay test guards.
func TestFreshHistoryReplaysDeterministically(t *testing.T) {
	ring := replayKeyring(t)
	h := newHarnessWithKey(t, allRoles, []string{"directory", "mail"}, time.Hour, ring.Keys["replay"])
	h.sim.InjectFault(graphsim.Fault{Method: "GET", Path: "/v1.0/users", Status: 429, RetryAfter: 1, Count: 4})
	in := app.TenantInput(h.cfg.Tenants[0])
	in.ContinueAsNewAfter = 4
	run, err := h.client.ExecuteWorkflow(context.Background(), client.StartWorkflowOptions{
		ID: tenant.WorkflowID(h.key), TaskQueue: h.cfg.Temporal.TaskQueue,
	}, tenant.WorkflowName, in)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = h.client.TerminateWorkflow(context.Background(), run.GetID(), "", "test finished") }()
	h.waitFor("Connected", 2*time.Minute, func(v tenant.StatusView) bool { return v.Status == tenant.StatusConnected })
	h.update(tenant.UpdatePause, tenant.PauseRequest{Reason: "replay"})
	h.update(tenant.UpdateResume, tenant.ResumeRequest{})
	rotated := "sim~replay-rotated"
	if err := h.sim.AddSecret(h.tenant.TenantID, h.clientID(), rotated, time.Time{}); err != nil {
		t.Fatal(err)
	}
	h.rotateSecret(rotated)
	h.update(tenant.UpdateVerifyNow, tenant.VerifyNowRequest{})
	// The fourth check ends the first run with continue-as-new.
	// Get follows continue-as-new to the latest run, which keeps running, so
	// wait for the first run to close instead.
	waitClosed(t, h, run.GetID(), run.GetRunID())

	var events []*historypb.HistoryEvent
	iter := h.client.GetWorkflowHistory(context.Background(), run.GetID(), run.GetRunID(), false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for iter.HasNext() {
		ev, err := iter.Next()
		if err != nil {
			t.Fatal(err)
		}
		events = append(events, ev)
	}
	last := events[len(events)-1]
	if last.GetEventType() != enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW {
		t.Fatalf("first run ended with %s, want continued-as-new", last.GetEventType())
	}
	history := &historypb.History{Events: events}

	dc, _ := codec.NewDataConverter(ring)
	fc, _ := codec.NewFailureConverter(ring)
	replayer, err := worker.NewWorkflowReplayerWithOptions(worker.WorkflowReplayerOptions{DataConverter: dc, FailureConverter: fc})
	if err != nil {
		t.Fatal(err)
	}
	replayer.RegisterWorkflowWithOptions(tenant.Workflow, workflow.RegisterOptions{Name: tenant.WorkflowName})
	if err := replayer.ReplayWorkflowHistory(nil, history); err != nil {
		t.Fatalf("a history the current code just produced does not replay: %v", err)
	}

	if *updateHistories {
		b, err := temporalproto.CustomJSONMarshalOptions{Indent: "  "}.Marshal(history)
		if err != nil {
			t.Fatal(err)
		}
		root, _ := testenv.ModuleRoot()
		path := filepath.Join(root, "workflows", "tenant", "testdata", "tenant-connection.history.json")
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s (%d events)", path, len(events))
	}
}
