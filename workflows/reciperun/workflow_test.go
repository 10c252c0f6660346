package reciperun

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/outlookflow/outlookflow/activities"
)

// t0 is every test run's start: the wait tests measure time from it.
var t0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

// harness is a test environment for one run, with what the run did.
type harness struct {
	env *testsuite.TestWorkflowEnvironment

	mu sync.Mutex // mocked activities run on their own goroutines
	// statuses are the OutlookflowRunStatus values the run upserted, in order.
	statuses []string
	// actions are the RunRecipeStep calls, in order.
	actions []activities.RecipeStepInput
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	var s testsuite.WorkflowTestSuite
	h := &harness{env: s.NewTestWorkflowEnvironment()}
	h.env.SetStartTime(t0)
	h.env.RegisterWorkflowWithOptions(Workflow, workflow.RegisterOptions{Name: WorkflowName})
	h.env.OnUpsertTypedSearchAttributes(mock.Anything).Run(func(args mock.Arguments) {
		sa := args.Get(0).(temporal.SearchAttributes)
		status, ok := sa.GetKeyword(SearchAttrStatus)
		if !ok {
			status = "<upsert without OutlookflowRunStatus>"
		}
		h.mu.Lock()
		h.statuses = append(h.statuses, status)
		h.mu.Unlock()
	}).Return()
	return h
}

// onActions mocks RunRecipeStep: each call is recorded, then answered by
// answer (nil: outcome "done").
func (h *harness) onActions(answer func(activities.RecipeStepInput) (activities.RecipeStepResult, error)) *testsuite.MockCallWrapper {
	return h.env.OnActivity(a.RunRecipeStep, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.RecipeStepInput) (activities.RecipeStepResult, error) {
			h.mu.Lock()
			h.actions = append(h.actions, in)
			h.mu.Unlock()
			if answer == nil {
				return activities.RecipeStepResult{Outcome: "done"}, nil
			}
			return answer(in)
		})
}

func (h *harness) actionIDs() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	ids := make([]string, 0, len(h.actions))
	for _, in := range h.actions {
		ids = append(ids, in.StepID)
	}
	return ids
}

func (h *harness) upserted() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.statuses...)
}

// execute runs the workflow to its end and returns its result and error.
func (h *harness) execute(t *testing.T, in Input) (Result, error) {
	t.Helper()
	h.env.ExecuteWorkflow(Workflow, in)
	require.True(t, h.env.IsWorkflowCompleted(), "the run must end")
	if err := h.env.GetWorkflowError(); err != nil {
		return Result{}, err
	}
	var res Result
	require.NoError(t, h.env.GetWorkflowResult(&res))
	return res, nil
}

// state asks the run's state query.
func (h *harness) state() (State, error) {
	v, err := h.env.QueryWorkflow(QueryState)
	if err != nil {
		return State{}, err
	}
	var s State
	err = v.Get(&s)
	return s, err
}

// stateAt queries the run's state at offset from the start (on the
// workflow clock); the returned func gives the answer after the run.
func (h *harness) stateAt(offset time.Duration) func(t *testing.T) State {
	var (
		s   State
		err error
		ran bool
	)
	h.env.RegisterDelayedCallback(func() { s, err = h.state(); ran = true }, offset)
	return func(t *testing.T) State {
		t.Helper()
		require.True(t, ran, "the state query at %v did not run (the run ended before it?)", offset)
		require.NoError(t, err, "state query at %v", offset)
		return s
	}
}

func input(steps ...PlanStep) Input {
	return Input{Tenant: "contoso", Recipe: "vip-escalate", RunID: "run-1", Mailbox: "mbx-adele",
		Trigger: "newMail", ChangeKey: "chg-1", Digest: "d1", Steps: steps}
}

func action(id, name string) PlanStep { return PlanStep{ID: id, Kind: KindAction, Action: name} }

func TestActionsRunInPlanOrderAndEachOutcomeIsRecorded(t *testing.T) {
	h := newHarness(t)
	h.onActions(func(in activities.RecipeStepInput) (activities.RecipeStepResult, error) {
		return activities.RecipeStepResult{Outcome: in.Action + " ok"}, nil
	})
	res, err := h.execute(t, input(action("forward", "forwardMessage"), action("flag", "flagMessage"), action("notify", "sendMail")))
	require.NoError(t, err)

	require.Equal(t, []string{"forward", "flag", "notify"}, h.actionIDs(), "actions must run in plan order")
	require.Equal(t, activities.RecipeStepInput{Tenant: "contoso", Recipe: "vip-escalate", RunID: "run-1", Mailbox: "mbx-adele",
		StepID: "flag", Action: "flagMessage", Digest: "d1"}, h.actions[1], "a step activity gets the run's keys and its step")
	require.Equal(t, Result{Status: StatusCompleted, Steps: []StepRecord{
		{ID: "forward", Action: "forwardMessage", Outcome: "forwardMessage ok"},
		{ID: "flag", Action: "flagMessage", Outcome: "flagMessage ok"},
		{ID: "notify", Action: "sendMail", Outcome: "sendMail ok"},
	}}, res, "a completed run's result (Step is cleared at the end)")
	require.Equal(t, []string{StatusCompleted}, h.upserted(), "OutlookflowRunStatus upserts (Running is set at start by the starter)")
	s, err := h.state()
	require.NoError(t, err)
	require.Equal(t, res, s, "after the run, the state query answers the result")
}

func TestStateQueryAndStatusFollowTheRunThroughAnActionAndAWait(t *testing.T) {
	h := newHarness(t)
	// The first action takes 10 minutes on the workflow clock.
	h.onActions(nil).After(10 * time.Minute)
	h.env.OnActivity(a.EndReplyWait, mock.Anything, mock.Anything).Return(nil)
	during1 := h.stateAt(5 * time.Minute)
	duringWait := h.stateAt(40 * time.Minute)

	res, err := h.execute(t, input(action("s1", "flagMessage"), PlanStep{ID: "pause", Kind: KindWait, WaitFor: time.Hour}, action("s2", "sendMail")))
	require.NoError(t, err)

	require.Equal(t, State{Status: StatusRunning, Step: "s1"}, during1(t), "state while the first action runs")
	require.Equal(t, State{Status: StatusWaiting, Step: "pause", Steps: []StepRecord{{ID: "s1", Action: "flagMessage", Outcome: "done"}}},
		duringWait(t), "state during the wait")
	require.Equal(t, StatusCompleted, res.Status)
	require.Equal(t, []string{StatusWaiting, StatusRunning, StatusCompleted}, h.upserted(), "OutlookflowRunStatus upserts")
}

func TestIfRunsThenOnTrueAndElseOnFalseAndNeverTheOtherBranch(t *testing.T) {
	for _, tc := range []struct {
		value       bool
		wantActions []string
		wantSteps   []StepRecord
	}{
		{true, []string{"first", "escalate", "last"}, []StepRecord{
			{ID: "first", Action: "flagMessage", Outcome: "done"},
			{ID: "vip", Action: KindIf, Outcome: "true"},
			{ID: "escalate", Action: "forwardMessage", Outcome: "done"},
			{ID: "last", Action: "markRead", Outcome: "done"},
		}},
		{false, []string{"first", "file", "ack", "last"}, []StepRecord{
			{ID: "first", Action: "flagMessage", Outcome: "done"},
			{ID: "vip", Action: KindIf, Outcome: "false"},
			{ID: "file", Action: "moveMessage", Outcome: "done"},
			{ID: "ack", Action: "replyToMessage", Outcome: "done"},
			{ID: "last", Action: "markRead", Outcome: "done"},
		}},
	} {
		h := newHarness(t)
		h.onActions(nil)
		var cond []activities.RecipeStepInput
		h.env.OnActivity(a.EvalRecipeCondition, mock.Anything, mock.Anything).Return(
			func(_ context.Context, in activities.RecipeStepInput) (activities.RecipeConditionResult, error) {
				h.mu.Lock()
				cond = append(cond, in)
				h.mu.Unlock()
				return activities.RecipeConditionResult{Value: tc.value}, nil
			})
		res, err := h.execute(t, input(
			action("first", "flagMessage"),
			PlanStep{ID: "vip", Kind: KindIf,
				Then: []PlanStep{action("escalate", "forwardMessage")},
				Else: []PlanStep{action("file", "moveMessage"), action("ack", "replyToMessage")}},
			action("last", "markRead"),
		))
		require.NoError(t, err, "condition %t", tc.value)

		require.Len(t, cond, 1, "condition %t: the condition is evaluated once", tc.value)
		require.Equal(t, "vip", cond[0].StepID, "condition %t: the condition is the if step's", tc.value)
		require.Equal(t, tc.wantActions, h.actionIDs(), "condition %t: actions run", tc.value)
		// The branch not taken leaves no record (api.go's StepRecord comment
		// promises a "skipped" outcome for it: see the report).
		require.Equal(t, tc.wantSteps, res.Steps, "condition %t: step records", tc.value)
		require.Equal(t, StatusCompleted, res.Status, "condition %t", tc.value)
	}
}

func TestFixedWaitEndsOnItsTimerAsTimedOut(t *testing.T) {
	h := newHarness(t)
	h.onActions(nil)
	var ended []activities.EndReplyWaitInput
	h.env.OnActivity(a.EndReplyWait, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.EndReplyWaitInput) error {
		h.mu.Lock()
		ended = append(ended, in)
		h.mu.Unlock()
		return nil
	})
	beforeEnd := h.stateAt(2*time.Hour - time.Minute)

	res, err := h.execute(t, input(PlanStep{ID: "cool-off", Kind: KindWait, WaitFor: 2 * time.Hour}, action("nudge", "sendMail")))
	require.NoError(t, err)

	require.Equal(t, StatusWaiting, beforeEnd(t).Status, "a minute before the timer the run still waits")
	require.Equal(t, 2*time.Hour, h.env.Now().Sub(t0), "the wait lasts its WaitFor")
	require.Len(t, ended, 1, "EndReplyWait calls")
	require.Equal(t, activities.WaitOutcome{TimedOut: true}, ended[0].Outcome, "EndReplyWait outcome")
	require.Equal(t, "cool-off", ended[0].StepID)
	require.Equal(t, []StepRecord{{ID: "cool-off", Action: KindWait, Outcome: "timed out"}, {ID: "nudge", Action: "sendMail", Outcome: "done"}},
		res.Steps)
	require.Equal(t, []string{"nudge"}, h.actionIDs(), "the step after the wait runs once it ends")
}

func TestReplyWaitEndsEarlyOnTheReplySignal(t *testing.T) {
	for name, waitFor := range map[string]time.Duration{"reply or 24h": 24 * time.Hour, "reply only": 0} {
		h := newHarness(t)
		h.onActions(nil)
		var begun []activities.ReplyWaitInput
		h.env.OnActivity(a.BeginReplyWait, mock.Anything, mock.Anything).Return(
			func(_ context.Context, in activities.ReplyWaitInput) (activities.ReplyWaitResult, error) {
				h.mu.Lock()
				begun = append(begun, in)
				h.mu.Unlock()
				return activities.ReplyWaitResult{}, nil
			})
		var ended []activities.EndReplyWaitInput
		h.env.OnActivity(a.EndReplyWait, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.EndReplyWaitInput) error {
			h.mu.Lock()
			ended = append(ended, in)
			h.mu.Unlock()
			return nil
		})
		waiting := h.stateAt(30 * time.Minute)
		replyAt := t0.Add(time.Hour)
		h.env.RegisterDelayedCallback(func() {
			h.env.SignalWorkflow(SignalReply, ReplySignal{MessageID: "msg-reply", ReceivedAt: replyAt})
		}, time.Hour)

		res, err := h.execute(t, input(PlanStep{ID: "await-answer", Kind: KindWait, WaitFor: waitFor, WaitReply: true}, action("thank", "replyToMessage")))
		require.NoError(t, err, name)

		require.Equal(t, StatusWaiting, waiting(t).Status, "%s: before the reply the run waits", name)
		require.Equal(t, time.Hour, h.env.Now().Sub(t0), "%s: the run ends when the reply comes", name)
		require.Len(t, begun, 1, "%s: BeginReplyWait calls", name)
		require.Equal(t, t0, begun[0].Since.UTC(), "%s: the wait looks for replies since it began", name)
		require.Equal(t, "await-answer", begun[0].StepID, name)
		require.Len(t, ended, 1, "%s: EndReplyWait calls", name)
		require.Equal(t, activities.WaitOutcome{Replied: true, MessageID: "msg-reply", At: replyAt}, withUTC(ended[0].Outcome), "%s: EndReplyWait outcome", name)
		require.Equal(t, []StepRecord{{ID: "await-answer", Action: KindWait, Outcome: "replied"}, {ID: "thank", Action: "replyToMessage", Outcome: "done"}},
			res.Steps, name)
	}
}

func TestReplyAlreadyThereEndsTheWaitAtOnce(t *testing.T) {
	h := newHarness(t)
	h.onActions(nil)
	earlier := t0.Add(-time.Minute)
	h.env.OnActivity(a.BeginReplyWait, mock.Anything, mock.Anything).Return(activities.ReplyWaitResult{Replied: true, MessageID: "msg-early", At: earlier}, nil)
	var ended []activities.EndReplyWaitInput
	h.env.OnActivity(a.EndReplyWait, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.EndReplyWaitInput) error {
		h.mu.Lock()
		ended = append(ended, in)
		h.mu.Unlock()
		return nil
	})

	res, err := h.execute(t, input(PlanStep{ID: "await-answer", Kind: KindWait, WaitFor: 24 * time.Hour, WaitReply: true}))
	require.NoError(t, err)

	require.Zero(t, h.env.Now().Sub(t0), "a reply already there must not wait for the timer")
	require.Len(t, ended, 1, "EndReplyWait calls")
	require.Equal(t, activities.WaitOutcome{Replied: true, MessageID: "msg-early", At: earlier}, withUTC(ended[0].Outcome), "EndReplyWait outcome")
	require.Equal(t, []StepRecord{{ID: "await-answer", Action: KindWait, Outcome: "replied"}}, res.Steps)
	require.Equal(t, []string{StatusWaiting, StatusRunning, StatusCompleted}, h.upserted())
}

// withUTC puts a decoded outcome's time in UTC, for comparison.
func withUTC(o activities.WaitOutcome) activities.WaitOutcome {
	o.At = o.At.UTC()
	return o
}

func TestStepErrorThatRetryingCannotFixFailsTheRunAtThatStep(t *testing.T) {
	for name, stepErr := range map[string]error{
		"non-retryable":               temporal.NewNonRetryableApplicationError("permission missing", string(activities.KindForbidden), nil),
		"Forbidden by the policy":     temporal.NewApplicationError("permission missing", string(activities.KindForbidden)),
		"NotFound by the policy":      temporal.NewApplicationError("permission missing", string(activities.KindNotFound)),
		"RecipeChanged by the policy": temporal.NewApplicationError("permission missing", activities.ErrRecipeChanged),
		"StepFailed by the policy":    temporal.NewApplicationError("permission missing", activities.ErrStepFailed),
	} {
		h := newHarness(t)
		var calls atomic.Int32
		h.onActions(func(in activities.RecipeStepInput) (activities.RecipeStepResult, error) {
			if in.StepID == "forward" {
				calls.Add(1)
				return activities.RecipeStepResult{}, stepErr
			}
			return activities.RecipeStepResult{Outcome: "done"}, nil
		})
		_, err := h.execute(t, input(action("flag", "flagMessage"), action("forward", "forwardMessage"), action("notify", "sendMail")))

		var app *temporal.ApplicationError
		require.True(t, errors.As(err, &app), "%s: the run must fail with an application error, got %v", name, err)
		require.Equal(t, "RecipeRunFailed", app.Type(), "%s: failure type", name)
		require.Equal(t, "step forward: permission missing", app.Message(), "%s: failure message", name)
		require.True(t, app.NonRetryable(), "%s: a failed run is not retried", name)
		require.Equal(t, int32(1), calls.Load(), "%s: the failing step must not be retried", name)
		require.Equal(t, []string{"flag", "forward"}, h.actionIDs(), "%s: steps after the failed one must not run", name)
		s, qerr := h.state()
		require.NoError(t, qerr, name)
		require.Equal(t, State{Status: StatusFailed, Step: "forward", Reason: "permission missing",
			Steps: []StepRecord{{ID: "flag", Action: "flagMessage", Outcome: "done"}}}, s, "%s: state after the failure", name)
		require.Equal(t, []string{StatusFailed}, h.upserted(), "%s: OutlookflowRunStatus upserts", name)
	}
}

func TestRetryableStepErrorIsRetriedUntilTheStepSucceeds(t *testing.T) {
	for name, stepErr := range map[string]error{
		"tenant held": temporal.NewApplicationErrorWithOptions("tenant contoso is paused", activities.ErrTenantHeld,
			temporal.ApplicationErrorOptions{NextRetryDelay: 30 * time.Second}),
		"throttled": temporal.NewApplicationError("too many requests", string(activities.KindThrottled)),
		"plain":     errors.New("connection reset"),
	} {
		h := newHarness(t)
		var calls atomic.Int32
		h.onActions(func(in activities.RecipeStepInput) (activities.RecipeStepResult, error) {
			if in.StepID == "forward" && calls.Add(1) <= 2 {
				return activities.RecipeStepResult{}, stepErr
			}
			return activities.RecipeStepResult{Outcome: "done"}, nil
		})
		res, err := h.execute(t, input(action("forward", "forwardMessage"), action("notify", "sendMail")))
		require.NoError(t, err, name)

		require.Equal(t, int32(3), calls.Load(), "%s: the step is retried until it succeeds", name)
		require.Equal(t, StatusCompleted, res.Status, name)
		require.Equal(t, []StepRecord{{ID: "forward", Action: "forwardMessage", Outcome: "done"}, {ID: "notify", Action: "sendMail", Outcome: "done"}},
			res.Steps, "%s: a retried step is recorded once", name)
	}
}

func TestRecheckThatNoLongerFiresSkipsTheRunWithoutRunningSteps(t *testing.T) {
	h := newHarness(t)
	h.onActions(nil).Never()
	var rechecks []activities.RecipeRecheckInput
	h.env.OnActivity(a.RecheckRecipeTrigger, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.RecipeRecheckInput) (activities.RecipeRecheckResult, error) {
			h.mu.Lock()
			rechecks = append(rechecks, in)
			h.mu.Unlock()
			return activities.RecipeRecheckResult{Reason: "the event moved; a reminder for its new start replaces this one"}, nil
		})
	in := input(action("remind", "sendMail"))
	in.Recheck = true
	res, err := h.execute(t, in)
	require.NoError(t, err, "a skipped run is not a failure")

	require.Equal(t, []activities.RecipeRecheckInput{{Tenant: "contoso", Recipe: "vip-escalate", RunID: "run-1"}}, rechecks, "RecheckRecipeTrigger calls")
	require.Empty(t, h.actionIDs(), "a skipped run runs no step")
	require.Equal(t, Result{Status: StatusSkipped, Reason: "the event moved; a reminder for its new start replaces this one"}, res)
	require.Equal(t, []string{StatusSkipped}, h.upserted(), "OutlookflowRunStatus upserts")
}

func TestRecheckThatStillFiresRunsTheSteps(t *testing.T) {
	h := newHarness(t)
	h.onActions(nil)
	h.env.OnActivity(a.RecheckRecipeTrigger, mock.Anything, mock.Anything).Return(activities.RecipeRecheckResult{Fire: true}, nil).Once()
	in := input(action("remind", "sendMail"))
	in.Recheck = true
	res, err := h.execute(t, in)
	require.NoError(t, err)

	h.env.AssertExpectations(t)
	require.Equal(t, []string{"remind"}, h.actionIDs())
	require.Equal(t, StatusCompleted, res.Status)
}

func TestWithoutRecheckTheTriggerIsNotMatchedAgain(t *testing.T) {
	h := newHarness(t)
	h.onActions(nil)
	h.env.OnActivity(a.RecheckRecipeTrigger, mock.Anything, mock.Anything).Return(activities.RecipeRecheckResult{}, nil).Never()
	res, err := h.execute(t, input(action("remind", "sendMail")))
	require.NoError(t, err)

	h.env.AssertExpectations(t)
	require.Equal(t, StatusCompleted, res.Status)
}

func TestInputWithoutTenantRecipeOrRunIDFailsWithoutRetry(t *testing.T) {
	for name, blank := range map[string]func(*Input){
		"tenant": func(in *Input) { in.Tenant = "" },
		"recipe": func(in *Input) { in.Recipe = "" },
		"run ID": func(in *Input) { in.RunID = "" },
	} {
		h := newHarness(t)
		h.onActions(nil).Never()
		in := input(action("s1", "sendMail"))
		blank(&in)
		_, err := h.execute(t, in)

		var app *temporal.ApplicationError
		require.True(t, errors.As(err, &app), "missing %s: want an application error, got %v", name, err)
		require.Equal(t, "InvalidInput", app.Type(), "missing %s", name)
		require.True(t, app.NonRetryable(), "missing %s: invalid input must not be retried", name)
		require.Empty(t, h.actionIDs(), "missing %s: no step runs", name)
	}
}

// A reply signal left over from an earlier wait of the run (the sync may
// signal twice) does not end a later wait: the second wait ignores a
// signal older than itself and ends on its own timer.
func TestALeftoverReplySignalDoesNotEndALaterWait(t *testing.T) {
	h := newHarness(t)
	h.onActions(nil)
	h.env.OnActivity(a.BeginReplyWait, mock.Anything, mock.Anything).Return(activities.ReplyWaitResult{}, nil)
	var ended []activities.EndReplyWaitInput
	h.env.OnActivity(a.EndReplyWait, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.EndReplyWaitInput) error {
		h.mu.Lock()
		ended = append(ended, in)
		h.mu.Unlock()
		return nil
	})
	// Two signals for the first wait's reply: at once, and again (a second
	// sync cycle) while the second wait is on.
	for _, at := range []time.Duration{10 * time.Minute, 20 * time.Minute} {
		sig := ReplySignal{MessageID: "msg-first", ReceivedAt: t0.Add(10 * time.Minute)}
		h.env.RegisterDelayedCallback(func() { h.env.SignalWorkflow(SignalReply, sig) }, at)
	}
	res, err := h.execute(t, input(
		PlanStep{ID: "w1", Kind: KindWait, WaitFor: time.Hour, WaitReply: true},
		PlanStep{ID: "gap", Kind: KindWait, WaitFor: 5 * time.Minute},
		PlanStep{ID: "w2", Kind: KindWait, WaitFor: 2 * time.Hour, WaitReply: true},
	))
	require.NoError(t, err)
	require.Equal(t, []StepRecord{{ID: "w1", Action: KindWait, Outcome: "replied"}, {ID: "gap", Action: KindWait, Outcome: "timed out"},
		{ID: "w2", Action: KindWait, Outcome: "timed out"}}, res.Steps)
	require.Len(t, ended, 3)
	require.True(t, ended[2].Outcome.TimedOut, "the second wait ended on its timer, not on the first wait's reply")
	require.Equal(t, 2*time.Hour+15*time.Minute, h.env.Now().Sub(t0))
}
