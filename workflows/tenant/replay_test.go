package tenant

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/outlookflow/outlookflow/internal/codec"
)

// TestReplayCommittedHistories replays histories recorded on a real server
// (regenerate with `go test ./internal/integration -run FreshHistory
// -update-histories`). A change that makes the workflow non-deterministic
// for running tenants fails here before it reaches production.
func TestReplayCommittedHistories(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("testdata", "replay.key"))
	if err != nil {
		t.Fatal(err)
	}
	key, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(raw)))
	if err != nil {
		t.Fatal(err)
	}
	ring := codec.Keyring{ActiveID: "replay", Keys: map[string][]byte{"replay": key}}
	dc, err := codec.NewDataConverter(ring)
	if err != nil {
		t.Fatal(err)
	}
	fc, err := codec.NewFailureConverter(ring)
	if err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob(filepath.Join("testdata", "*.history.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no committed histories in testdata (%v)", err)
	}
	for _, f := range files {
		replayer, err := worker.NewWorkflowReplayerWithOptions(worker.WorkflowReplayerOptions{DataConverter: dc, FailureConverter: fc})
		if err != nil {
			t.Fatal(err)
		}
		replayer.RegisterWorkflowWithOptions(Workflow, workflow.RegisterOptions{Name: WorkflowName})
		if err := replayer.ReplayWorkflowHistoryFromJSONFile(nil, f); err != nil {
			t.Errorf("%s does not replay: %v", f, err)
		}
	}
}
