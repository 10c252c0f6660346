// Command starter is the operator CLI: connect tenants, show their status,
// pause and resume them. It talks to Temporal only — never to Graph.
//
// Exit codes (stable, for scripts):
//
//	0  success (for connect/status/verify/resume/rotate: every tenant shown is Connected)
//	1  error: configuration invalid, Temporal unreachable, update rejected
//	2  usage: unknown command or flag, missing --tenant
//	3  a tenant shown is not Connected (the status printed says why); pause exits 0
//	4  the tenant is not configured, or has no connection workflow yet; for
//	   `recipes why|enable|disable`, the recipe is not among the loaded files
//	   or (why) there is no decision about the item (printed: why most likely)
//	5  Temporal is unreachable
//	6  no worker is polling the task queue (or none accepted the request)
//	7  the worker accepted the request, but the check it waits for is still
//	   running after --wait (throttling, a worker that died mid-check); the
//	   message says since when, which attempt, and the last failure
//	8  `recipes validate` found problems in recipe files (printed as
//	   file:line:col: what is wrong; how to fix it)
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := Run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Environ())
	stop()
	os.Exit(code)
}

// usageError marks errors that are the caller's wording, for exit code 2.
type usageError struct{ err error }

func (u usageError) Error() string { return u.err.Error() }

// exitError carries a specific exit code with a message already printed or to print.
type exitError struct {
	code int
	msg  string
}

func (e exitError) Error() string { return e.msg }

const (
	exitOK           = 0
	exitFailure      = 1
	exitUsage        = 2
	exitNotConnected = 3
	exitNotFound     = 4

	exitTemporalUnreachable = 5
	exitNoWorker            = 6
	exitStillRunning        = 7
)

func errorf(code int, format string, args ...any) error {
	return exitError{code: code, msg: fmt.Sprintf(format, args...)}
}
