// Package testenv starts the real parts integration tests run against: a
// Temporal dev server (the CLI binary the Makefile installs) with
// outlookflow's search attributes, and the Graph simulator over HTTPS. One
// server per test package, a fresh task queue per test.
package testenv

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/testsuite"

	"github.com/outlookflow/outlookflow/internal/app"
)

// TemporalCLIEnv names the variable that points at the temporal CLI binary;
// it overrides the project-local install that `make tools` makes.
const TemporalCLIEnv = "OUTLOOKFLOW_DEVSERVER_BIN"

// TemporalCLI finds the temporal CLI: $OUTLOOKFLOW_DEVSERVER_BIN, else
// .bin/temporal at the module root.
func TemporalCLI() (string, error) {
	if p := os.Getenv(TemporalCLIEnv); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("%s=%s: %w", TemporalCLIEnv, p, err)
		}
		return p, nil
	}
	root, err := ModuleRoot()
	if err != nil {
		return "", err
	}
	p := filepath.Join(root, ".bin", "temporal")
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("temporal CLI not found at %s; run `make tools` (or `make test`, which installs it)", p)
	}
	return p, nil
}

// ModuleRoot walks up from the working directory to the folder holding go.mod.
func ModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("go.mod not found above the working directory")
		}
		dir = parent
	}
}

// Temporal is a running dev server.
type Temporal struct {
	server *testsuite.DevServer
	// HostPort is the frontend address.
	HostPort string
	// Namespace is the namespace the server was started with.
	Namespace  string
	taskQueues atomic.Int64
}

// StartTemporal starts a dev server on a free port with outlookflow's search
// attributes registered. Call it from TestMain; Stop it after m.Run.
func StartTemporal(ctx context.Context, logTo io.Writer) (*Temporal, error) {
	cli, err := TemporalCLI()
	if err != nil {
		return nil, err
	}
	if logTo == nil {
		logTo = io.Discard
	}
	var extra []string
	for name := range app.SearchAttributes() {
		extra = append(extra, "--search-attribute", name+"=Keyword")
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	srv, err := testsuite.StartDevServer(ctx, testsuite.DevServerOptions{
		ExistingPath: cli,
		LogLevel:     "error",
		ExtraArgs:    extra,
		Stdout:       logTo,
		Stderr:       logTo,
		ClientOptions: &client.Options{
			Namespace: "default",
			Logger:    quietLogger{},
		},
	})
	if err != nil {
		return nil, fmt.Errorf("starting Temporal dev server %s: %w", cli, err)
	}
	return &Temporal{server: srv, HostPort: srv.FrontendHostPort(), Namespace: "default"}, nil
}

// Main is a TestMain for packages whose tests need a dev server: it starts
// one, stores it in *srv, runs the tests, stops it and exits.
func Main(m *testing.M, srv **Temporal) {
	t, err := StartTemporal(context.Background(), nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, "these tests need a Temporal dev server:", err)
		os.Exit(1)
	}
	*srv = t
	code := m.Run()
	_ = t.Stop()
	os.Exit(code)
}

// Stop shuts the server down.
func (t *Temporal) Stop() error {
	if t == nil || t.server == nil {
		return nil
	}
	return t.server.Stop()
}

// TaskQueue returns a task queue name unique to this test.
func (t *Temporal) TaskQueue(tb testing.TB) string {
	name := strings.NewReplacer("/", "-", " ", "-").Replace(tb.Name())
	return fmt.Sprintf("test-%s-%d", name, t.taskQueues.Add(1))
}

// quietLogger keeps the dev server helper's own client from logging.
type quietLogger struct{}

func (quietLogger) Debug(string, ...interface{}) {}
func (quietLogger) Info(string, ...interface{})  {}
func (quietLogger) Warn(string, ...interface{})  {}
func (quietLogger) Error(string, ...interface{}) {}
