package reciperun

import (
	"cmp"
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/outlookflow/outlookflow/activities"
)

// a is the nil handle through which the workflow names its activities.
var a *activities.Recipes

// Workflow runs one recipe run's steps in order.
func Workflow(ctx workflow.Context, in Input) (Result, error) {
	if in.Tenant == "" || in.Recipe == "" || in.RunID == "" {
		return Result{}, temporal.NewNonRetryableApplicationError("tenant, recipe and run ID are required", "InvalidInput", nil)
	}
	r := &run{in: in, log: log.With(workflow.GetLogger(ctx), "tenant", in.Tenant, "recipe", in.Recipe)}
	return r.run(ctx)
}

type run struct {
	in    Input
	log   log.Logger
	state State
	// replies receives ReplySignal while a wait is on.
	replies workflow.ReceiveChannel
}

// actionOptions: an action is idempotent (its key derives from the run and
// step), so it is retried freely — through throttling and a tenant held
// paused for as long as a week — except for what retrying cannot fix: a
// refused permission, an item that is gone, a request Graph calls bad, a
// recipe that changed under the run.
var actionOptions = workflow.ActivityOptions{
	StartToCloseTimeout:    5 * time.Minute,
	HeartbeatTimeout:       20 * time.Second,
	ScheduleToCloseTimeout: 7 * 24 * time.Hour,
	RetryPolicy: &temporal.RetryPolicy{
		InitialInterval:    2 * time.Second,
		BackoffCoefficient: 2,
		MaximumInterval:    2 * time.Minute,
		NonRetryableErrorTypes: []string{
			string(activities.KindForbidden), string(activities.KindNotFound), string(activities.KindBadRequest),
			string(activities.KindMisconfigured), string(activities.KindConsentRevoked), activities.ErrRecipeChanged,
			activities.ErrStepFailed,
		},
	},
}

// localOptions: conditions and wait bookkeeping read and write the store only.
var localOptions = workflow.LocalActivityOptions{
	StartToCloseTimeout: 30 * time.Second,
	RetryPolicy: &temporal.RetryPolicy{
		InitialInterval:        time.Second,
		MaximumInterval:        30 * time.Second,
		NonRetryableErrorTypes: []string{activities.ErrRecipeChanged, activities.ErrStepFailed},
	},
}

func (r *run) run(ctx workflow.Context) (Result, error) {
	r.state.Status = StatusRunning
	if err := workflow.SetQueryHandler(ctx, QueryState, r.query); err != nil {
		return r.state, err
	}
	r.replies = workflow.GetSignalChannel(ctx, SignalReply)
	if r.in.Recheck {
		var rc activities.RecipeRecheckResult
		err := workflow.ExecuteLocalActivity(workflow.WithLocalActivityOptions(ctx, localOptions), a.RecheckRecipeTrigger,
			activities.RecipeRecheckInput{Tenant: r.in.Tenant, Recipe: r.in.Recipe, RunID: r.in.RunID}).Get(ctx, &rc)
		if err != nil {
			r.state.Step = "(recheck)"
			return r.fail(ctx, err)
		}
		if !rc.Fire {
			r.state.Reason = rc.Reason
			return r.finish(ctx, StatusSkipped)
		}
	}
	if err := r.steps(ctx, r.in.Steps); err != nil {
		return r.fail(ctx, err)
	}
	r.state.Step = ""
	return r.finish(ctx, StatusCompleted)
}

func (r *run) query() (State, error) { return r.state, nil }

// steps runs a list of steps (the recipe's, or a branch) in order.
func (r *run) steps(ctx workflow.Context, steps []PlanStep) error {
	for _, s := range steps {
		r.state.Step = s.ID
		var err error
		switch s.Kind {
		case KindAction:
			err = r.action(ctx, s)
		case KindIf:
			err = r.branch(ctx, s)
		case KindWait:
			err = r.wait(ctx, s)
		default:
			err = temporal.NewNonRetryableApplicationError(fmt.Sprintf("step %s has unknown kind %q", s.ID, s.Kind), activities.ErrRecipeChanged, nil)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (r *run) stepInput(s PlanStep) activities.RecipeStepInput {
	return activities.RecipeStepInput{Tenant: r.in.Tenant, Recipe: r.in.Recipe, RunID: r.in.RunID, Mailbox: r.in.Mailbox,
		StepID: s.ID, Action: s.Action, Digest: r.in.Digest}
}

// action runs one action step as an activity whose summary names the step,
// so the Web UI shows which step a run is on without any mail content.
func (r *run) action(ctx workflow.Context, s PlanStep) error {
	opts := actionOptions
	opts.Summary = s.ID + ": " + s.Action
	workflow.SetCurrentDetails(ctx, fmt.Sprintf("**%s** step `%s` (%s)", r.in.Recipe, s.ID, s.Action))
	var res activities.RecipeStepResult
	if err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, opts), a.RunRecipeStep, r.stepInput(s)).Get(ctx, &res); err != nil {
		return err
	}
	r.record(s, res.Outcome)
	return nil
}

// branch evaluates an if step's condition and runs the branch it picks.
func (r *run) branch(ctx workflow.Context, s PlanStep) error {
	var res activities.RecipeConditionResult
	if err := workflow.ExecuteLocalActivity(workflow.WithLocalActivityOptions(ctx, localOptions), a.EvalRecipeCondition, r.stepInput(s)).Get(ctx, &res); err != nil {
		return err
	}
	r.record(s, fmt.Sprint(res.Value))
	if res.Value {
		return r.steps(ctx, s.Then)
	}
	return r.steps(ctx, s.Else)
}

// wait holds the run durably: until WaitFor has passed, a reply arrived in
// the conversation, or — with both — whichever comes first. The wait is
// registered in the store first, so the sync can signal a reply it saves;
// one that arrived before the registration is found by the registration
// itself.
func (r *run) wait(ctx workflow.Context, s PlanStep) error {
	r.state.Status = StatusWaiting
	if err := r.setStatus(ctx, StatusWaiting); err != nil {
		return err
	}
	workflow.SetCurrentDetails(ctx, fmt.Sprintf("**%s** step `%s` waiting", r.in.Recipe, s.ID))
	lctx := workflow.WithLocalActivityOptions(ctx, localOptions)
	out := activities.WaitOutcome{}
	since := workflow.Now(ctx)
	if s.WaitReply {
		in := activities.ReplyWaitInput{RecipeStepInput: r.stepInput(s), Since: since}
		var begun activities.ReplyWaitResult
		if err := workflow.ExecuteLocalActivity(lctx, a.BeginReplyWait, in).Get(ctx, &begun); err != nil {
			return err
		}
		if begun.Replied {
			out = activities.WaitOutcome{Replied: true, MessageID: begun.MessageID, At: begun.At}
		}
	}
	if !out.Replied {
		out = r.await(ctx, s, since)
	}
	outcome := "timed out"
	if out.Replied {
		outcome = "replied"
	}
	end := activities.EndReplyWaitInput{RecipeStepInput: r.stepInput(s), Outcome: out}
	if err := workflow.ExecuteLocalActivity(lctx, a.EndReplyWait, end).Get(ctx, nil); err != nil {
		return err
	}
	r.record(s, outcome)
	r.state.Status = StatusRunning
	return r.setStatus(ctx, StatusRunning)
}

// await blocks on the timer and the reply channel. A reply signal from
// before the wait began (one an earlier wait of the run left queued: the
// sync may signal twice, or a reply the wait's registration found itself)
// is dropped, not taken for this wait's reply. A reply ends the timer.
func (r *run) await(ctx workflow.Context, s PlanStep, since time.Time) activities.WaitOutcome {
	var out activities.WaitOutcome
	if s.WaitFor <= 0 && !s.WaitReply {
		return out // nothing to wait for (the parser refuses such a step)
	}
	tctx, cancelTimer := workflow.WithCancel(ctx)
	sel := workflow.NewSelector(ctx)
	if s.WaitFor > 0 {
		timer := workflow.NewTimerWithOptions(tctx, s.WaitFor, workflow.TimerOptions{Summary: s.ID + ": wait"})
		sel.AddFuture(timer, func(f workflow.Future) {
			if f.Get(ctx, nil) == nil {
				out.TimedOut = true
			}
		})
	}
	if s.WaitReply {
		sel.AddReceive(r.replies, func(c workflow.ReceiveChannel, _ bool) {
			var sig ReplySignal
			c.Receive(ctx, &sig)
			if sig.ReceivedAt.Before(since.Truncate(time.Second)) {
				return // stale: keep waiting
			}
			out = activities.WaitOutcome{Replied: true, MessageID: sig.MessageID, At: sig.ReceivedAt}
		})
	}
	for !out.Replied && !out.TimedOut {
		sel.Select(ctx)
	}
	if out.Replied && s.WaitFor > 0 && workflow.GetVersion(ctx, "cancel-wait-timer-on-reply", workflow.DefaultVersion, 1) == 1 {
		cancelTimer()
	}
	return out
}

func (r *run) record(s PlanStep, outcome string) {
	r.state.Steps = append(r.state.Steps, StepRecord{ID: s.ID, Action: cmp.Or(s.Action, s.Kind), Outcome: outcome})
}

func (r *run) setStatus(ctx workflow.Context, status string) error {
	return workflow.UpsertTypedSearchAttributes(ctx, SearchAttrStatus.ValueSet(status))
}

func (r *run) finish(ctx workflow.Context, status string) (Result, error) {
	r.state.Status = status
	if err := r.setStatus(ctx, status); err != nil {
		return r.state, err
	}
	workflow.SetCurrentDetails(ctx, fmt.Sprintf("**%s** %s", r.in.Recipe, status))
	return r.state, nil
}

// fail ends the run Failed with the step and reason an operator reads in
// the Web UI (the workflow's failure) and in `starter recipes why`.
func (r *run) fail(ctx workflow.Context, err error) (Result, error) {
	r.state.Status = StatusFailed
	r.state.Reason = reason(err)
	if serr := r.setStatus(ctx, StatusFailed); serr != nil {
		r.log.Warn("could not set the failed status", "error", serr)
	}
	workflow.SetCurrentDetails(ctx, fmt.Sprintf("**%s** failed at step `%s`: %s", r.in.Recipe, r.state.Step, r.state.Reason))
	return r.state, temporal.NewNonRetryableApplicationError(fmt.Sprintf("step %s: %s", r.state.Step, r.state.Reason), "RecipeRunFailed", err)
}

// reason is the innermost application error's message: what Graph or the
// step said, without the activity wrapper's noise.
func reason(err error) string {
	var app *temporal.ApplicationError
	if errors.As(err, &app) {
		return app.Message()
	}
	return err.Error()
}
