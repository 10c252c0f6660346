package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"syscall"
	"testing"
	"time"

	"github.com/outlookflow/outlookflow/config"
	"github.com/outlookflow/outlookflow/internal/app"
	"github.com/outlookflow/outlookflow/internal/logging"
)

// workerProcessEnv carries a JSON config to the test binary re-run as a
// worker process: a real process that a test can kill -9 in the middle of
// an activity, which an in-process worker cannot imitate (Stop lets running
// activities finish or fail cleanly).
const workerProcessEnv = "OUTLOOKFLOW_TEST_WORKER_CONFIG_JSON"

func runWorkerProcess(cfgJSON string) int {
	var cfg config.Config
	if err := json.Unmarshal([]byte(cfgJSON), &cfg); err != nil {
		fmt.Fprintln(os.Stderr, "worker process: bad config:", err)
		return 2
	}
	log, err := logging.New("info", "console", os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "worker process:", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if err := app.RunWorker(ctx, &cfg, log); err != nil {
		fmt.Fprintln(os.Stderr, "worker process:", err)
		return 1
	}
	return 0
}

// workerProcess is a worker running as a child process of the test.
type workerProcess struct {
	cmd     *exec.Cmd
	output  *syncBuffer
	started time.Time
	exited  chan struct{}
}

// startWorkerProcess runs the harness's worker in a child process. The HTTP
// listener (codec endpoint) takes a free port, so several can run at once.
func (h *harness) startWorkerProcess() *workerProcess {
	h.t.Helper()
	cfg := *h.cfg
	cfg.HTTP = config.HTTP{Listen: "127.0.0.1:0"}
	b, err := json.Marshal(cfg)
	if err != nil {
		h.t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), workerProcessEnv+"="+string(b))
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		h.t.Fatal(err)
	}
	p := &workerProcess{cmd: cmd, output: out, started: time.Now(), exited: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		close(p.exited)
	}()
	h.t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-p.exited
		if h.t.Failed() {
			h.t.Logf("worker process %d output:\n%s", cmd.Process.Pid, out.String())
		}
	})
	return p
}

// kill ends the process with SIGKILL: no shutdown, no failed activity
// reported, exactly what an OOM kill or a lost machine looks like to Temporal.
func (p *workerProcess) kill(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.exited:
	case <-time.After(10 * time.Second):
		t.Fatal("killed worker process did not exit")
	}
}

// logged reports whether the process's output contains s.
func (p *workerProcess) logged(s string) bool {
	return bytes.Contains([]byte(p.output.String()), []byte(s))
}
