package activities

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.uber.org/zap"

	"github.com/outlookflow/outlookflow/recipe"
	"github.com/outlookflow/outlookflow/store"
)

// Error types a recipe step fails with that retrying cannot fix.
const (
	// ErrRecipeChanged: the recipe was removed, or changed so that the
	// run's step is gone or is another action now.
	ErrRecipeChanged = "RecipeChanged"
	// ErrStepFailed: the step cannot run as written for this item (a
	// template failed, a required value rendered empty, an outcome Graph
	// left ambiguous that must not be repeated).
	ErrStepFailed = "StepFailed"
	// ErrTenantHeld (retryable): the tenant is paused or not connected;
	// the step waits for it.
	ErrTenantHeld = "TenantHeld"
)

// GraphCaller sends one Graph request through the SDK's pipeline (token,
// retries of 429/5xx that are safe, allowed hosts) and decodes its answer:
// the narrow door every recipe action goes through. path is from the
// version on (/users/{id}/messages…); body is JSON-encoded (nil for none);
// out receives the decoded answer (nil to ignore it). Failures are
// *GraphError. mailbox names the mailbox the request counts against.
type GraphCaller interface {
	Call(ctx context.Context, creds Credentials, mailbox, method, path string, body, out any) error
}

// TenantGate says whether a tenant's actions may run now: its connection
// status and the credential version it uses. A paused or disconnected
// tenant holds its runs' actions (held is the reason), which go on when it
// resumes.
type TenantGate interface {
	Gate(ctx context.Context, tenant string) (credentialVersion string, held string, err error)
}

// RecipeStepInput names one step of one run: keys only.
type RecipeStepInput struct {
	Tenant, Recipe, RunID, Mailbox string
	StepID, Action                 string
	// Digest is the recipe version the run's plan came from.
	Digest string
}

// RecipeStepResult is what a step did, in words without mail content
// ("sent", "already sent (found by its key)").
type RecipeStepResult struct {
	Outcome string
}

// RecipeConditionResult is an if step's value.
type RecipeConditionResult struct {
	Value bool
}

// ReplyWaitInput starts a wait for a reply in the trigger's conversation.
type ReplyWaitInput struct {
	RecipeStepInput
	Since time.Time
}

// ReplyWaitResult says whether a reply was already there.
type ReplyWaitResult struct {
	Replied   bool
	MessageID string
	At        time.Time
}

// WaitOutcome is how a wait ended.
type WaitOutcome struct {
	Replied, TimedOut bool
	MessageID         string
	At                time.Time
}

// EndReplyWaitInput records a wait's outcome as its step's outputs.
type EndReplyWaitInput struct {
	RecipeStepInput
	Outcome WaitOutcome
}

// RecipeRecheckInput asks whether a delayed run still fires.
type RecipeRecheckInput struct {
	Tenant, Recipe, RunID string
}

// RecipeRecheckResult answers it.
type RecipeRecheckResult struct {
	Fire   bool
	Reason string
}

// runContext is what a step runs with: the recipe, the step, the
// environment rebuilt from the store (the trigger's snapshot and the
// outputs of the steps before).
type runContext struct {
	r    *recipe.Recipe
	step *recipe.Step
	env  *recipe.Env
	in   recipe.Input
	run  store.RecipeRun
}

func stepFailed(format string, args ...any) error {
	return temporal.NewNonRetryableApplicationError(fmt.Sprintf(format, args...), ErrStepFailed, nil)
}

// load finds the run's recipe and step and rebuilds its environment.
func (a *Recipes) load(ctx context.Context, in RecipeStepInput) (*runContext, error) {
	r := a.Book.Get(in.Tenant, in.Recipe)
	if r == nil {
		return nil, temporal.NewNonRetryableApplicationError(fmt.Sprintf("recipe %s of tenant %s is no longer loaded (its file was removed or is now invalid); the run stops", in.Recipe, in.Tenant), ErrRecipeChanged, nil)
	}
	rc := &runContext{r: r}
	if in.StepID != "" {
		rc.step = r.Step(in.StepID)
		if rc.step == nil || (in.Action != "" && rc.step.Action != in.Action) {
			return nil, temporal.NewNonRetryableApplicationError(fmt.Sprintf("recipe %s changed (version %s → %s): step %s is gone or is no longer a %s step; the run stops", r.Name, in.Digest, r.Digest, in.StepID, in.Action), ErrRecipeChanged, nil)
		}
	}
	run, found, err := a.Store.Run(ctx, in.RunID)
	if err != nil {
		return nil, retryable("reading the run", err)
	}
	if !found {
		return nil, stepFailed("run %s has no trigger snapshot in the store (was the store reset?)", in.RunID)
	}
	rc.run = run
	if err := json.Unmarshal(run.Trigger, &rc.in); err != nil {
		return nil, stepFailed("run %s: unreadable trigger snapshot: %v", in.RunID, err)
	}
	rc.env = recipe.NewEnv(r, rc.in, rc.in.Now)
	outs, err := a.Store.StepOutputs(ctx, in.RunID)
	if err != nil {
		return nil, retryable("reading step outputs", err)
	}
	for id, data := range outs {
		if r.Step(id) == nil {
			continue
		}
		if err := rc.env.SetOutputJSON(id, data); err != nil {
			return nil, stepFailed("run %s: %v", in.RunID, err)
		}
	}
	return rc, nil
}

// idempotencyKey is the key of one step of one run: derived, never random,
// so every retry of the step carries the same one. It is a hash: Graph
// stores it on items (extended properties, transactionId) and it must not
// reveal the run's parts.
func idempotencyKey(runID, stepID string) string {
	sum := sha256.Sum256([]byte(runID + "\x00" + stepID))
	return "ofk-" + hex.EncodeToString(sum[:16])
}

// RunRecipeStep runs one action step of a run. Every action is idempotent
// under its key (see the README's action table), so Temporal may retry it
// after any failure, a worker crash or a lost response included.
func (a *Recipes) RunRecipeStep(ctx context.Context, in RecipeStepInput) (RecipeStepResult, error) {
	// A worker that dies mid-action is noticed within the heartbeat
	// timeout, not the 5-minute start-to-close: the step's retry (which
	// finds what the dead attempt committed by its key) runs in seconds.
	defer KeepAlive(ctx)()
	rc, err := a.load(ctx, in)
	if err != nil {
		return RecipeStepResult{}, err
	}
	creds, err := a.hold(ctx, in.Tenant, in.Mailbox)
	if err != nil {
		return RecipeStepResult{}, err
	}
	x := &executor{a: a, rc: rc, creds: creds, key: idempotencyKey(in.RunID, in.StepID), mailbox: in.Mailbox}
	out, outcome, err := x.run(ctx)
	if err != nil {
		a.Log.Info("recipe step failed", zap.String("tenant", in.Tenant), zap.String("recipe", in.Recipe), zap.String("runId", in.RunID),
			zap.String("step", in.StepID), zap.String("action", in.Action), zap.Error(err))
		return RecipeStepResult{}, ToTemporal(err)
	}
	if out != nil {
		data, err := json.Marshal(out)
		if err != nil {
			return RecipeStepResult{}, err
		}
		if err := a.Store.SaveStepOutput(ctx, in.RunID, in.StepID, data); err != nil {
			return RecipeStepResult{}, retryable("saving step outputs", err)
		}
	}
	return RecipeStepResult{Outcome: outcome}, nil
}

// hold returns the tenant's credentials, or a retryable TenantHeld error
// while the tenant is paused or disconnected.
func (a *Recipes) hold(ctx context.Context, tenant, mailbox string) (Credentials, error) {
	if settings, ok := a.Tenants.Tenant(tenant); ok && settings.AuthMode == AuthDelegated {
		return a.holdUser(ctx, tenant, mailbox, settings)
	}
	version := ""
	if a.Gate != nil {
		v, held, err := a.Gate.Gate(ctx, tenant)
		if err != nil {
			return Credentials{}, retryable("reading the tenant's status", err)
		}
		if held != "" {
			return Credentials{}, a.heldError(ctx, held, fmt.Sprintf("tenant %s is %s: the step waits until it is connected again", tenant, held))
		}
		version = v
	}
	creds, _, err := tenantCredentials(a.Tenants, a.Vault, tenant, version)
	return creds, err
}

// heldError is the retryable TenantHeld failure of a step that must wait
// (why, heartbeated, shows on the pending activity), retried after
// HoldRetry (30 seconds when unset).
func (a *Recipes) heldError(ctx context.Context, held, message string) error {
	delay := a.HoldRetry
	if delay <= 0 {
		delay = 30 * time.Second
	}
	activity.RecordHeartbeat(ctx, held)
	return temporal.NewApplicationErrorWithOptions(message, ErrTenantHeld, temporal.ApplicationErrorOptions{NextRetryDelay: delay})
}

// holdUser is hold for a delegated tenant: the step acts as the mailbox's
// user, with their token, and waits while their connection is not
// Connected (ReauthRequired, Paused, never signed in) — retried, so it
// runs once they reconnect, and nothing is lost.
func (a *Recipes) holdUser(ctx context.Context, tenant, mailbox string, settings TenantSettings) (Credentials, error) {
	if a.Users == nil {
		return Credentials{}, errors.New("this worker has no delegated user directory")
	}
	held, err := a.Users.Held(ctx, tenant, mailbox)
	if err != nil {
		return Credentials{}, retryable("reading the user's connection", err)
	}
	if held != "" {
		return Credentials{}, a.heldError(ctx, held, fmt.Sprintf("the mailbox's user is %s: the step waits until they are connected again (starter connect-user)", held))
	}
	tok, err := a.Users.Credential(ctx, tenant, mailbox)
	if err != nil {
		return Credentials{}, retryable("the user's tokens", err)
	}
	return Credentials{TenantID: settings.TenantID, ClientID: settings.ClientID, AuthMode: AuthDelegated, User: mailbox, Token: tok}, nil
}

// EvalRecipeCondition evaluates an if step.
func (a *Recipes) EvalRecipeCondition(ctx context.Context, in RecipeStepInput) (RecipeConditionResult, error) {
	rc, err := a.load(ctx, in)
	if err != nil {
		return RecipeConditionResult{}, err
	}
	v, err := rc.step.EvalIf(rc.env)
	if err != nil {
		return RecipeConditionResult{}, stepFailed("step %s: the condition failed: %v", in.StepID, err)
	}
	return RecipeConditionResult{Value: v}, nil
}

// BeginReplyWait registers the wait, so the sync signals a reply it saves,
// and looks for one that already arrived after since.
func (a *Recipes) BeginReplyWait(ctx context.Context, in ReplyWaitInput) (ReplyWaitResult, error) {
	rc, err := a.load(ctx, in.RecipeStepInput)
	if err != nil {
		return ReplyWaitResult{}, err
	}
	conv := ""
	if p := rc.step.Param("conversationId"); p != nil {
		if conv, err = rc.step.Text("conversationId", rc.env); err != nil {
			return ReplyWaitResult{}, stepFailed("step %s: conversationId: %v", in.StepID, err)
		}
	} else if rc.in.Message != nil {
		conv = rc.in.Message.ConversationID
	}
	if conv == "" {
		return ReplyWaitResult{}, stepFailed("step %s: no conversation to wait on (the trigger is not a message and conversationId is not set)", in.StepID)
	}
	if err := a.Store.AddReplyWait(ctx, store.ReplyWait{RunID: in.RunID, Tenant: in.Tenant, Mailbox: rc.run.Mailbox, ConversationID: conv, Since: in.Since}); err != nil {
		return ReplyWaitResult{}, retryable("registering the wait", err)
	}
	msgs, err := a.Store.ConversationMessages(ctx, in.Tenant, rc.run.Mailbox, conv, in.Since.Truncate(time.Second).Add(-time.Nanosecond))
	if err != nil {
		return ReplyWaitResult{}, retryable("reading the conversation", err)
	}
	own, err := a.runMessages(ctx, in.RunID)
	if err != nil {
		return ReplyWaitResult{}, err
	}
	for _, m := range msgs {
		if isReply(m, in.Since, own) {
			return ReplyWaitResult{Replied: true, MessageID: m.ID, At: messageTime(m)}, nil
		}
	}
	return ReplyWaitResult{}, nil
}

// EndReplyWait records the wait's outcome as its step's outputs and drops
// its registration.
func (a *Recipes) EndReplyWait(ctx context.Context, in EndReplyWaitInput) error {
	out := recipe.WaitOutput{Replied: in.Outcome.Replied, TimedOut: in.Outcome.TimedOut && !in.Outcome.Replied,
		ReplyMessageID: in.Outcome.MessageID, RepliedAt: in.Outcome.At}
	data, err := json.Marshal(out)
	if err != nil {
		return err
	}
	if err := a.Store.SaveStepOutput(ctx, in.RunID, in.StepID, data); err != nil {
		return retryable("saving the wait's outputs", err)
	}
	if err := a.Store.DeleteReplyWait(ctx, in.RunID); err != nil {
		return retryable("dropping the wait", err)
	}
	return nil
}

// RecheckRecipeTrigger matches a delayed run's trigger again when it goes
// off: an upcoming-event reminder fires only if the event still starts when
// it did when the reminder was armed and is not cancelled.
func (a *Recipes) RecheckRecipeTrigger(ctx context.Context, in RecipeRecheckInput) (RecipeRecheckResult, error) {
	rc, err := a.load(ctx, RecipeStepInput{Tenant: in.Tenant, Recipe: in.Recipe, RunID: in.RunID})
	if err != nil {
		return RecipeRecheckResult{}, err
	}
	// An operator's switch, flipped while the run waited, wins over the file.
	switches, err := a.Store.RecipeSwitches(ctx, in.Tenant)
	if err != nil {
		return RecipeRecheckResult{}, retryable("reading recipe switches", err)
	}
	if on, ok := switches[in.Recipe]; ok && !on {
		return RecipeRecheckResult{Reason: "an operator disabled the recipe before the run began (`starter recipes enable` turns it back on)"}, nil
	} else if ok && !rc.r.Enabled {
		switched := *rc.r
		switched.Enabled = true
		rc.r = &switched
	}
	if rc.in.Event == nil {
		return RecipeRecheckResult{Fire: true}, nil
	}
	events, err := a.Store.EventsByID(ctx, in.Tenant, rc.run.Mailbox, []string{rc.in.Event.ID})
	if err != nil {
		return RecipeRecheckResult{}, retryable("reading the event", err)
	}
	ev, ok := events[rc.in.Event.ID]
	switch {
	case !ok:
		return RecipeRecheckResult{Reason: "the event was deleted before the reminder went off"}, nil
	case ev.IsCancelled:
		return RecipeRecheckResult{Reason: "the event was cancelled before the reminder went off"}, nil
	case !ev.Start.Equal(rc.in.Event.Start):
		return RecipeRecheckResult{Reason: "the event moved; a reminder for its new start replaces this one"}, nil
	}
	fresh := rc.in
	fresh.Event = &ev
	fresh.Signal = recipe.TriggerUpcomingEvent
	d := recipe.Match(rc.r, fresh)
	if !d.Fire {
		return RecipeRecheckResult{Reason: d.Reason()}, nil
	}
	return RecipeRecheckResult{Fire: true}, nil
}
