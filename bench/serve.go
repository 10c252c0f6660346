package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// The recipe scenarios need a worker that stays up while the parent drives
// it (connects the tenant, injects mail, starts workflows) rather than one
// timed sync: a serving child. It is this binary re-executed with -child
// like the sync children, with Serve set: it starts its worker, writes the
// Ready file, and runs until the parent closes its stdin (or dies, which
// closes it too). The parent reads the child's CPU time from /proc while
// it runs, to charge each measured round its own CPU; the child reports
// its peak RSS when it stops.

// servingEngine turns an engine whose constructor started a worker into a
// serving one: its "sync" is the whole serving period.
type servingEngine struct {
	engine
	ready string
}

func (s servingEngine) sync(ctx context.Context) (childResult, error) {
	return serveUntilStdinCloses(ctx, s.ready)
}

// serveUntilStdinCloses writes the ready file, then blocks until the
// parent closes stdin or ctx ends.
func serveUntilStdinCloses(ctx context.Context, ready string) (childResult, error) {
	if err := os.WriteFile(ready, []byte(strconv.Itoa(os.Getpid())), 0o600); err != nil {
		return childResult{}, err
	}
	done := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
	}
	return childResult{}, nil
}

// servedChild is a serving child as the parent sees it.
type servedChild struct {
	spec  childSpec
	cmd   *exec.Cmd
	stdin io.WriteCloser
	errF  *os.File
	exit  chan error
	// stopped is the report of stop, once it ran.
	stopped *childRun
}

// startServed starts a serving child and waits until its worker runs.
func startServed(spec childSpec) (*servedChild, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	spec.Serve = true
	spec.Ready = strings.TrimSuffix(spec.Result, ".json") + ".ready"
	b, err := json.Marshal(spec)
	if err != nil {
		return nil, err
	}
	specFile := strings.TrimSuffix(spec.Result, ".json") + ".spec.json"
	if err := os.WriteFile(specFile, b, 0o600); err != nil {
		return nil, err
	}
	_ = os.Remove(spec.Result)
	_ = os.Remove(spec.Ready)
	// Not CommandContext: the parent stops it by closing stdin, so a
	// stopped bench still collects the child's report.
	cmd := exec.Command(self, childFlag, specFile)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	ef, err := os.Create(spec.LogFile + ".stderr")
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = ef, ef
	if err := cmd.Start(); err != nil {
		ef.Close()
		return nil, err
	}
	s := &servedChild{spec: spec, cmd: cmd, stdin: stdin, errF: ef, exit: make(chan error, 1)}
	go func() { s.exit <- cmd.Wait() }()
	deadline := time.After(2 * time.Minute)
	for {
		if _, err := os.Stat(spec.Ready); err == nil {
			return s, nil
		}
		select {
		case err := <-s.exit:
			s.exit <- err
			_, serr := s.stop()
			return nil, fmt.Errorf("%s worker exited before it was ready: %w", spec.System, errors.Join(err, serr))
		case <-deadline:
			_, serr := s.stop()
			return nil, fmt.Errorf("%s worker not ready after 2 minutes: %w", spec.System, serr)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// cpu is the child's user + system CPU seconds so far (0 if unknown).
func (s *servedChild) cpu() float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", s.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	// The command name (field 2) is in parentheses and may hold spaces:
	// count fields after its closing one. utime and stime are fields 14
	// and 15, in clock ticks (USER_HZ, 100 on Linux).
	str := string(b)
	i := strings.LastIndexByte(str, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(str[i+1:])
	if len(f) < 13 {
		return 0
	}
	ut, err1 := strconv.ParseFloat(f[11], 64)
	st, err2 := strconv.ParseFloat(f[12], 64)
	if err1 != nil || err2 != nil {
		return 0
	}
	return (ut + st) / 100
}

// stop closes the child's stdin, waits for it (killing it after a minute)
// and returns its report: peak RSS and CPU of the whole serving period.
// Stopping twice returns the first report.
func (s *servedChild) stop() (childRun, error) {
	if s.stopped != nil {
		return *s.stopped, nil
	}
	defer s.errF.Close()
	_ = s.stdin.Close()
	var waitErr error
	select {
	case waitErr = <-s.exit:
	case <-time.After(time.Minute):
		_ = s.cmd.Process.Kill()
		waitErr = errors.Join(errors.New("did not stop within a minute; killed"), <-s.exit)
	}
	stderr, _ := os.ReadFile(s.spec.LogFile + ".stderr")
	if waitErr != nil {
		return childRun{}, fmt.Errorf("%s worker: %w\n%s%s", s.spec.System, waitErr, tail(string(stderr), 3000), logTail(s.spec.LogFile))
	}
	var res childResult
	rb, err := os.ReadFile(s.spec.Result)
	if err != nil {
		return childRun{}, fmt.Errorf("%s worker wrote no result: %w\n%s", s.spec.System, err, tail(string(stderr), 3000))
	}
	if err := json.Unmarshal(rb, &res); err != nil {
		return childRun{}, fmt.Errorf("%s worker result: %w", s.spec.System, err)
	}
	out := childRun{childResult: res}
	if ru, ok := s.cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		out.CPUSeconds = tvSeconds(ru.Utime) + tvSeconds(ru.Stime)
	}
	s.stopped = &out
	return out, nil
}
