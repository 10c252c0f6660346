package integration

import (
	"context"
	"crypto/rand"
	"strings"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	workflowpb "go.temporal.io/api/workflow/v1"

	"github.com/outlookflow/outlookflow/graphsim"
	"github.com/outlookflow/outlookflow/workflows/tenant"
)

// These tests run what an operator meets on a bad day on the real dev
// server: a worker killed mid-check, minutes of throttling, Retry-After long
// and short. They wait in real time, so they run in parallel with each other.

func randomKey(t *testing.T) []byte {
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	return k
}

// pendingCheck is the server's record of the tenant's running check, or nil.
func (h *harness) pendingCheck() *workflowpb.PendingActivityInfo {
	h.t.Helper()
	d, err := h.client.DescribeWorkflowExecution(context.Background(), tenant.WorkflowID(h.key), "")
	if err != nil {
		h.t.Fatalf("describe: %v", err)
	}
	for _, pa := range d.GetPendingActivities() {
		if pa.GetActivityType().GetName() == "VerifyConnection" {
			return pa
		}
	}
	return nil
}

// verifyStarts lists the ActivityTaskStarted events of the current run's
// credential checks (not of other activities, such as the schedule's).
func (h *harness) verifyStarts() []*historypb.ActivityTaskStartedEventAttributes {
	h.t.Helper()
	var out []*historypb.ActivityTaskStartedEventAttributes
	verifies := map[int64]bool{}
	iter := h.client.GetWorkflowHistory(context.Background(), tenant.WorkflowID(h.key), "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for iter.HasNext() {
		ev, err := iter.Next()
		if err != nil {
			h.t.Fatal(err)
		}
		if a := ev.GetActivityTaskScheduledEventAttributes(); a != nil && a.GetActivityType().GetName() == "VerifyConnection" {
			verifies[ev.GetEventId()] = true
		}
		if a := ev.GetActivityTaskStartedEventAttributes(); a != nil && verifies[a.GetScheduledEventId()] {
			out = append(out, a)
		}
	}
	return out
}

func tokenPath(h *harness) string { return "/" + h.tenant.TenantID + "/oauth2/v2.0/token" }

// TestWorkerKilledMidCheckIsTakenOverWithinSeconds kills -9 the worker
// process while its check hangs on Graph, starts a new worker, and wants the
// check re-run on it within 30 s, with the status query saying a check is in
// progress in the meantime (and before the kill).
func TestWorkerKilledMidCheckIsTakenOverWithinSeconds(t *testing.T) {
	t.Parallel()
	h := newWorld(t, allRoles, []string{"directory", "mail"}, time.Hour, randomKey(t))
	// The first Graph call hangs: the check is mid-flight when the worker dies.
	h.sim.InjectFault(graphsim.Fault{Method: "GET", Path: "/v1.0/users", Latency: 5 * time.Minute, Count: 1})
	first := h.startWorkerProcess()
	h.connect()
	before := h.waitFor("the check to be in progress", time.Minute, func(v tenant.StatusView) bool { return v.CheckInProgress })
	if before.CheckStartedAt.IsZero() || before.Verifications != 0 {
		t.Fatalf("in-progress view %+v, want a start time and no finished check", before)
	}
	// Kill only once the hanging Graph call is under way (the one-shot fault
	// is used up), so the worker dies mid-call and the retry is clean.
	deadline := time.Now().Add(30 * time.Second)
	for len(h.sim.Faults()) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("the check never reached Graph: %+v", h.pendingCheck())
		}
		time.Sleep(100 * time.Millisecond)
	}
	if pa := h.pendingCheck(); pa == nil || pa.GetState() != enumspb.PENDING_ACTIVITY_STATE_STARTED {
		t.Fatalf("the check is not running on the worker: %+v", pa)
	}
	first.kill(t)
	killedAt := time.Now()

	second := h.startWorkerProcess()
	// The new worker answers queries at once (it replays the workflow), and
	// the check is still in progress until the heartbeat timeout hands it over.
	sawInProgress := false
	var last tenant.StatusView
	for time.Since(second.started) < 30*time.Second {
		v, err := h.status()
		if err == nil {
			last = v
			if v.CheckInProgress && v.Verifications == 0 {
				sawInProgress = true
				if !v.CheckStartedAt.Equal(before.CheckStartedAt) {
					t.Fatalf("check start moved from %s to %s: the query must report the same check", before.CheckStartedAt, v.CheckStartedAt)
				}
			}
			if v.Verifications > 0 {
				break
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	if last.Verifications == 0 || last.Status != tenant.StatusConnected {
		t.Fatalf("30 s after a new worker started, the check had not re-run: %+v", last)
	}
	t.Logf("check re-ran %s after the kill and %s after the new worker started", time.Since(killedAt).Round(100*time.Millisecond), time.Since(second.started).Round(100*time.Millisecond))
	if !sawInProgress {
		t.Fatal("the status query never reported the check in progress after the kill")
	}
	// History tells why: attempt 2, after attempt 1 stopped heartbeating.
	starts := h.verifyStarts()
	if len(starts) == 0 {
		t.Fatal("no activity started event")
	}
	lastStart := starts[len(starts)-1]
	if lastStart.Attempt < 2 || lastStart.GetLastFailure().GetTimeoutFailureInfo().GetTimeoutType() != enumspb.TIMEOUT_TYPE_HEARTBEAT {
		t.Fatalf("the check that finished ran as attempt %d after %v; want attempt ≥ 2 after a heartbeat timeout", lastStart.Attempt, lastStart.GetLastFailure())
	}
	if !second.logged("credentials verified") {
		t.Fatalf("the new worker did not log the verification; its output:\n%s", second.output.String())
	}
}

// TestTokenThrottlingForTwoMinutesKeepsRetryingThenConnects answers every
// token request with 429 and Retry-After: 1 for two minutes. Counted in
// attempts (the old 8) the check would have given up after about 30 s; in
// time it is still retrying, and connects once the throttling ends.
func TestTokenThrottlingForTwoMinutesKeepsRetryingThenConnects(t *testing.T) {
	t.Parallel()
	h := newHarnessWithKey(t, allRoles, []string{"directory", "mail"}, time.Hour, randomKey(t))
	fault := h.sim.InjectFault(graphsim.Fault{Method: "POST", Path: tokenPath(h), Status: 429, RetryAfter: 1})
	h.connect()
	time.Sleep(2 * time.Minute)

	v, err := h.status()
	if err != nil {
		t.Fatal(err)
	}
	if !v.CheckInProgress || v.Verifications != 0 || v.Status != tenant.StatusVerifying {
		t.Fatalf("after 2 minutes of throttling: %+v; want the first check still in progress", v)
	}
	pa := h.pendingCheck()
	if pa == nil || pa.GetAttempt() <= 8 {
		t.Fatalf("pending check %+v; want it past attempt 8, the old budget", pa)
	}
	if got := pa.GetLastFailure().GetApplicationFailureInfo().GetType(); got != "Throttled" {
		t.Fatalf("last failure type %q, want Throttled", got)
	}
	throttled := 0
	for _, r := range h.sim.Requests() {
		if r.Status == 429 {
			throttled++
		}
	}
	t.Logf("after 2 minutes: attempt %d, %d token requests answered 429", pa.GetAttempt(), throttled)

	h.sim.RemoveFault(fault)
	cleared := time.Now()
	v = h.waitFor("Connected once throttling stops", 30*time.Second, func(v tenant.StatusView) bool { return v.Verifications > 0 })
	if v.Status != tenant.StatusConnected || v.CheckInProgress {
		t.Fatalf("after the throttling cleared: %+v", v)
	}
	t.Logf("Connected %s after the throttling cleared", time.Since(cleared).Round(100*time.Millisecond))
}

// TestLongRetryAfterIsWaitedOutNotCountedAsDeath: a token endpoint asking
// for 90 s (longer than azidentity waits in-process) is waited out by
// Temporal, never retried early; a Graph Retry-After that kiota sleeps
// through inside the attempt does not make the heartbeat time out.
func TestLongRetryAfterIsWaitedOutNotCountedAsDeath(t *testing.T) {
	t.Parallel()
	h := newHarnessWithKey(t, allRoles, []string{"directory", "mail"}, time.Hour, randomKey(t))
	h.sim.InjectFault(graphsim.Fault{Method: "POST", Path: tokenPath(h), Status: 429, RetryAfter: 90, Count: 1})
	// Then two Graph 429s with Retry-After 15: kiota sleeps 30 s inside one
	// attempt, three heartbeat timeouts' worth.
	h.sim.InjectFault(graphsim.Fault{Method: "GET", Path: "/v1.0/users", Status: 429, RetryAfter: 15, Count: 2})
	h.connect()

	// While Temporal waits out the 90 s, the server says so.
	deadline := time.Now().Add(30 * time.Second)
	var pa *workflowpb.PendingActivityInfo
	for {
		pa = h.pendingCheck()
		if pa != nil && pa.GetAttempt() == 2 && pa.GetNextAttemptScheduleTime() != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no retry scheduled after the token 429: %+v", pa)
		}
		time.Sleep(200 * time.Millisecond)
	}
	wait := time.Until(pa.GetNextAttemptScheduleTime().AsTime())
	if wait < 80*time.Second || wait > 91*time.Second {
		t.Fatalf("next attempt in %s; want the 90 s Retry-After honoured", wait)
	}

	v := h.waitFor("the check to finish", 3*time.Minute, func(v tenant.StatusView) bool { return v.Verifications > 0 })
	if v.Status != tenant.StatusConnected {
		t.Fatalf("status %s (%s); want Connected", v.Status, v.Detail)
	}
	var tokenTimes []time.Time
	for _, r := range h.sim.Requests() {
		if r.Method == "POST" && strings.HasSuffix(r.Path, "/oauth2/v2.0/token") {
			tokenTimes = append(tokenTimes, r.Time)
		}
	}
	if len(tokenTimes) < 2 || tokenTimes[1].Sub(tokenTimes[0]) < 90*time.Second {
		t.Fatalf("token requests at %v; want the second at least 90 s after the first", tokenTimes)
	}
	starts := h.verifyStarts()
	if n := len(starts); n != 1 || starts[0].Attempt != 2 || starts[0].GetLastFailure().GetApplicationFailureInfo().GetType() != "Throttled" {
		t.Fatalf("check finished as %v; want attempt 2 after one Throttled failure (kiota's in-attempt sleep must not time the heartbeat out)", starts)
	}
}
