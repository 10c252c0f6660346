package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflow/v1"
	"go.temporal.io/sdk/temporal"

	"github.com/outlookflow/outlookflow/workflows/tenant"
)

// What the starter tells an operator when a tenant does not answer comes from
// the server, which answers without any worker: who polls the task queue
// (DescribeTaskQueue) and how the tenant's current check is doing
// (DescribeWorkflowExecution's pending activity: attempt, last failure, next
// retry). The workflow itself only knows that a check is running and since
// when; attempts and failures are the server's retry state.

// pollerFresh is how recently a worker must have polled to count as alive.
// An idle worker re-polls at least every minute (the long-poll timeout), so a
// last poll older than this means nobody is polling any more.
const pollerFresh = 75 * time.Second

// pollers describes who polls the configured task queue.
type pollers struct {
	alive    int       // pollers seen within pollerFresh
	lastSeen time.Time // the newest poll of any poller; zero when none was ever seen
}

func (c *cli) taskQueuePollers(ctx context.Context) (pollers, error) {
	ctx, cancel := context.WithTimeout(ctx, queryTimeout)
	defer cancel()
	resp, err := c.temporal.DescribeTaskQueue(ctx, c.cfg.Temporal.TaskQueue, enumspb.TASK_QUEUE_TYPE_WORKFLOW)
	if err != nil {
		return pollers{}, c.temporalError("describing task queue "+c.cfg.Temporal.TaskQueue, err)
	}
	var p pollers
	now := time.Now()
	for _, pi := range resp.GetPollers() {
		seen := pi.GetLastAccessTime().AsTime()
		if seen.After(p.lastSeen) {
			p.lastSeen = seen
		}
		if now.Sub(seen) <= pollerFresh {
			p.alive++
		}
	}
	return p, nil
}

// noWorkerError is exit 6 with what is known about the task queue's pollers.
func (c *cli) noWorkerError(p pollers) error {
	last := "no worker has polled it yet"
	if !p.lastSeen.IsZero() {
		last = fmt.Sprintf("the last poll was %s ago", time.Since(p.lastSeen).Round(time.Second))
	}
	return errorf(exitNoWorker, "no worker is polling task queue %q in namespace %q (%s); start outlookflow-worker with this configuration, then try again",
		c.cfg.Temporal.TaskQueue, c.cfg.Temporal.Namespace, last)
}

// checkProgress is the server's view of a tenant's running check.
type checkProgress struct {
	Since         time.Time `json:"since"`
	Attempt       int32     `json:"attempt"`
	State         string    `json:"state"` // running, retrying, waiting-for-worker
	Worker        string    `json:"worker,omitempty"`
	LastFailure   string    `json:"lastFailure,omitempty"`
	NextAttemptAt time.Time `json:"nextAttemptAt,omitzero"`
}

// verifyActivity is the registered name of the check's activity.
const verifyActivity = "VerifyConnection"

// checkInProgress reads the tenant workflow's pending check from the server;
// nil when no check is running.
func (c *cli) checkInProgress(ctx context.Context, key string) (*checkProgress, error) {
	ctx, cancel := context.WithTimeout(ctx, queryTimeout)
	defer cancel()
	d, err := c.temporal.DescribeWorkflowExecution(ctx, tenant.WorkflowID(key), "")
	if err != nil {
		var nf *serviceerror.NotFound
		if errors.As(err, &nf) {
			return nil, noWorkflow(key)
		}
		return nil, c.temporalError("describing tenant "+key, err)
	}
	for _, pa := range d.GetPendingActivities() {
		if pa.GetActivityType().GetName() == verifyActivity {
			return c.progressOf(pa), nil
		}
	}
	return nil, nil
}

func (c *cli) progressOf(pa *workflow.PendingActivityInfo) *checkProgress {
	p := &checkProgress{Attempt: pa.GetAttempt(), Worker: pa.GetLastWorkerIdentity()}
	if t := pa.GetScheduledTime(); t != nil {
		p.Since = t.AsTime()
	}
	if t := pa.GetNextAttemptScheduleTime(); t != nil {
		p.NextAttemptAt = t.AsTime()
	}
	switch {
	case pa.GetState() == enumspb.PENDING_ACTIVITY_STATE_STARTED:
		p.State = "running"
	case !p.NextAttemptAt.IsZero() && time.Now().Before(p.NextAttemptAt):
		p.State = "retrying"
	default:
		p.State = "waiting-for-worker"
	}
	if f := pa.GetLastFailure(); f != nil {
		p.LastFailure = c.failureText(f.GetMessage(), c.failures.FailureToError(f))
	}
	return p
}

// failureText turns a decoded failure into one line: an application error's
// own message (already "Throttled (HTTP 429): …"), or what a timeout means.
func (c *cli) failureText(raw string, err error) string {
	var app *temporal.ApplicationError
	var timeout *temporal.TimeoutError
	switch {
	case errors.As(err, &timeout) && timeout.TimeoutType() == enumspb.TIMEOUT_TYPE_HEARTBEAT:
		return "the worker running it stopped heartbeating (killed or cut off)"
	case errors.As(err, &timeout):
		return "timed out (" + strings.ToLower(strings.TrimPrefix(timeout.TimeoutType().String(), "TIMEOUT_TYPE_")) + ")"
	case errors.As(err, &app):
		return app.Message()
	case err != nil:
		return err.Error()
	}
	return raw
}

// String is the one-line summary shown in tables and messages.
func (p *checkProgress) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "check %s since %s (%s), attempt %d", strings.ReplaceAll(p.State, "-", " "), when(p.Since),
		time.Since(p.Since).Round(time.Second), p.Attempt)
	if p.LastFailure != "" {
		fmt.Fprintf(&b, "; last failure: %s", p.LastFailure)
	}
	if p.State == "retrying" {
		fmt.Fprintf(&b, "; retry in %s", time.Until(p.NextAttemptAt).Round(time.Second))
	}
	return b.String()
}

// temporalError turns an unreachable server into exit 5 and leaves other
// errors as they are.
func (c *cli) temporalError(what string, err error) error {
	var unavailable *serviceerror.Unavailable
	if errors.As(err, &unavailable) || errors.Is(err, context.DeadlineExceeded) && c.ctx.Err() == nil && isConnectionFailure(err) {
		return errorf(exitTemporalUnreachable, "%s: Temporal at %s is unreachable (%s); start it, or point temporal.address at it",
			what, c.cfg.Temporal.Address, firstLine(err.Error()))
	}
	return fmt.Errorf("%s: %w", what, err)
}

// isConnectionFailure recognises gRPC's words for a server that is not there.
func isConnectionFailure(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "connection refused") || strings.Contains(msg, "connection error") || strings.Contains(msg, "no such host")
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
