package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"

	"go.uber.org/zap"

	"github.com/outlookflow/outlookflow/config"
	"github.com/outlookflow/outlookflow/internal/app"
	"github.com/outlookflow/outlookflow/internal/codec"
	"github.com/outlookflow/outlookflow/internal/logging"
)

// childFlag re-executes this binary as one system's sync engine.
const childFlag = "-child"

// childSpec is what the parent asks a child to do: one sync of one system.
type childSpec struct {
	System string `json:"system"`
	// ConfigPath is the worker configuration file; the child loads it with
	// config.Load as the worker does.
	ConfigPath string `json:"configPath"`
	TenantKey  string `json:"tenantKey"`
	// WorkflowID names outlookflow's run.
	WorkflowID string `json:"workflowID,omitempty"`
	// FloorParallel is how many mailboxes the floor syncs at once.
	FloorParallel int `json:"floorParallel,omitempty"`
	// NaiveDB is the naive loop's own SQLite file; NaiveSample how many
	// mailboxes (the first, in directory order) it syncs.
	NaiveDB     string `json:"naiveDB,omitempty"`
	NaiveSample int    `json:"naiveSample,omitempty"`
	CPUProfile  string `json:"cpuProfile,omitempty"`
	// Serve makes the child a serving worker (serve.go): it writes Ready
	// once its worker runs and serves until its stdin closes.
	Serve   bool   `json:"serve,omitempty"`
	Ready   string `json:"ready,omitempty"`
	Result  string `json:"result"`
	LogFile string `json:"logFile"`
}

// childResult is what a child reports; the parent adds rusage.
type childResult struct {
	WallSeconds float64 `json:"wallSeconds"`
	// Changed is what the system reports it wrote: inserted + updated +
	// deleted items (outlookflow's progress Items, the floor's counts, the
	// naive loop's upserts).
	Changed   int      `json:"changed"`
	Pages     int      `json:"pages"`
	Mailboxes int      `json:"mailboxes"`
	Failures  []string `json:"failures,omitempty"`
	// Heartbeats are RecordActivityTaskHeartbeat calls that reached the
	// server (Temporal Cloud bills those, and they are not in histories).
	Heartbeats int64 `json:"heartbeats,omitempty"`
	// PeakRSSBytes is the process's own high-water RSS (VmHWM), read at
	// the end of the sync. (wait4's ru_maxrss is not used: Linux carries
	// the parent's high-water mark into a child started with vfork+exec.)
	PeakRSSBytes int64 `json:"peakRSSBytes"`
	// SyncCPUSeconds is the process's CPU time during the sync alone
	// (startup excluded), the span the CPU profile covers.
	SyncCPUSeconds float64 `json:"syncCPUSeconds"`
	RunID          string  `json:"runID,omitempty"`
	Sampled        int     `json:"sampled,omitempty"`
}

// childRun is a finished child: its report and its resource use.
type childRun struct {
	childResult
	CPUSeconds float64 // wait4's rusage: the whole child process
	Elapsed    time.Duration
}

// runChild runs spec in a child process and waits for it.
func runChild(ctx context.Context, spec childSpec, timeout time.Duration) (childRun, error) {
	self, err := os.Executable()
	if err != nil {
		return childRun{}, err
	}
	b, err := json.Marshal(spec)
	if err != nil {
		return childRun{}, err
	}
	specFile := strings.TrimSuffix(spec.Result, ".json") + ".spec.json"
	if err := os.WriteFile(specFile, b, 0o600); err != nil {
		return childRun{}, err
	}
	_ = os.Remove(spec.Result)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, self, childFlag, specFile)
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 30 * time.Second
	// The child's own output goes to a file beside its log (a stuck child
	// can be asked for its goroutines with SIGQUIT).
	errFile := spec.LogFile + ".stderr"
	ef, err := os.Create(errFile)
	if err != nil {
		return childRun{}, err
	}
	defer ef.Close()
	cmd.Stdout, cmd.Stderr = ef, ef
	started := time.Now()
	runErr := cmd.Run()
	elapsed := time.Since(started)
	stderr, _ := os.ReadFile(errFile)
	if runErr != nil {
		return childRun{}, fmt.Errorf("%s child: %w\n%s%s", spec.System, runErr, tail(string(stderr), 3000), logTail(spec.LogFile))
	}
	var res childResult
	rb, err := os.ReadFile(spec.Result)
	if err != nil {
		return childRun{}, fmt.Errorf("%s child wrote no result: %w\n%s", spec.System, err, tail(string(stderr), 3000))
	}
	if err := json.Unmarshal(rb, &res); err != nil {
		return childRun{}, fmt.Errorf("%s child result: %w", spec.System, err)
	}
	out := childRun{childResult: res, Elapsed: elapsed}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		out.CPUSeconds = tvSeconds(ru.Utime) + tvSeconds(ru.Stime)
	}
	return out, nil
}

// processCPU is this process's user + system CPU seconds so far.
func processCPU() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return tvSeconds(ru.Utime) + tvSeconds(ru.Stime)
}

// peakRSS is this process's high-water resident set (VmHWM), 0 if unknown.
func peakRSS() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				return 0
			}
			return kb * 1024
		}
	}
	return 0
}

func tvSeconds(tv syscall.Timeval) float64 {
	return float64(tv.Sec) + float64(tv.Usec)/1e6
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}

func logTail(path string) string {
	if path == "" {
		return ""
	}
	b, err := os.ReadFile(path)
	if err != nil || len(b) == 0 {
		return ""
	}
	return "worker log " + path + ":\n" + tail(string(b), 3000)
}

// childMain is the child process: it runs one system's sync and writes the
// result file. Its exit code says whether the sync succeeded.
func childMain(specFile string) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	b, err := os.ReadFile(specFile)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench child:", err)
		return 2
	}
	var spec childSpec
	if err := json.Unmarshal(b, &spec); err != nil {
		fmt.Fprintln(os.Stderr, "bench child: bad spec:", err)
		return 2
	}
	// Not every engine watches ctx (the floor's activity environment runs
	// to its end): a stopped bench gets a few seconds, then the child goes.
	go func() {
		<-ctx.Done()
		time.Sleep(5 * time.Second)
		fmt.Fprintln(os.Stderr, "bench child: stopped")
		os.Exit(1)
	}()
	res, err := runSystem(ctx, spec)
	if err != nil {
		fmt.Fprintf(os.Stderr, "bench child (%s): %v\n", spec.System, err)
		return 1
	}
	out, err := json.Marshal(res)
	if err == nil {
		err = os.WriteFile(spec.Result, out, 0o600)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench child:", err)
		return 1
	}
	return 0
}

// engine is one system's sync, already set up; sync runs it once and is the
// only part timed and profiled.
type engine interface {
	sync(ctx context.Context) (childResult, error)
	close()
}

func runSystem(ctx context.Context, spec childSpec) (childResult, error) {
	cfg, err := config.Load(spec.ConfigPath, nil)
	if err != nil {
		return childResult{}, err
	}
	var e engine
	switch spec.System {
	case sysOutlookflow:
		e, err = newOutlookflow(ctx, spec, cfg)
		if err == nil && spec.Serve {
			e = servingEngine{engine: e, ready: spec.Ready}
		}
	case sysBare:
		e, err = newBare(ctx, spec, cfg)
	case sysFloor:
		e, err = newFloor(ctx, spec, cfg)
	case sysNaive:
		e, err = newNaive(ctx, spec, cfg)
	default:
		err = fmt.Errorf("unknown system %q", spec.System)
	}
	if err != nil {
		return childResult{}, err
	}
	defer e.close()
	if spec.CPUProfile != "" {
		if err := os.MkdirAll(filepath.Dir(spec.CPUProfile), 0o755); err != nil {
			return childResult{}, err
		}
		f, err := os.Create(spec.CPUProfile)
		if err != nil {
			return childResult{}, err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return childResult{}, err
		}
	}
	cpu0 := processCPU()
	started := time.Now()
	res, err := e.sync(ctx)
	res.WallSeconds = time.Since(started).Seconds()
	res.SyncCPUSeconds = processCPU() - cpu0
	res.PeakRSSBytes = peakRSS()
	if spec.CPUProfile != "" {
		pprof.StopCPUProfile()
	}
	if err != nil {
		return res, err
	}
	if len(res.Failures) > 0 {
		return res, errors.New("sync reported failures: " + strings.Join(res.Failures, "; "))
	}
	return res, nil
}

// openChild opens what every system's child needs first: its log file, a
// logger writing to it, and the payload keyring from the configuration.
func openChild(spec childSpec, cfg *config.Config) (*os.File, *zap.Logger, codec.Keyring, error) {
	lf, err := os.OpenFile(spec.LogFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, nil, codec.Keyring{}, err
	}
	log, err := logging.New("warn", "console", lf)
	if err != nil {
		lf.Close()
		return nil, nil, codec.Keyring{}, err
	}
	ring, err := app.Keyring(cfg)
	if err != nil {
		lf.Close()
		return nil, nil, codec.Keyring{}, err
	}
	return lf, log, ring, nil
}
