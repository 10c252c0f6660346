package integration

import (
	"context"
	"strings"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/outlookflow/outlookflow/activities"
	"github.com/outlookflow/outlookflow/recipe"
	"github.com/outlookflow/outlookflow/workflows/mailsync"
	"github.com/outlookflow/outlookflow/workflows/reciperun"
)

const tickRecipe = `name: tick-note
tenant: {{TENANT}}
mailboxes:
  users: [adele@contoso.example]
trigger:
  schedule:
    every: 1h
steps:
  - id: note
    send:
      to: "{{ trigger.mailbox }}"
      subject: "tick for {{ trigger.mailbox }}"
      body: "scheduled"
`

const cronRecipe = `name: weekday-nine
tenant: {{TENANT}}
enabled: false
trigger:
  schedule:
    cron: "0 9 * * 1-5"
    timeZone: Europe/Paris
steps:
  - id: call
    graphRequest:
      method: GET
      path: /users
      permissions:
        application: [User.Read.All]
`

const manualRecipe = `name: manual-note
tenant: {{TENANT}}
mailboxes:
  users: [megan@contoso.example]
trigger:
  manual: {}
steps:
  - id: note
    send:
      to: "{{ input.to }}"
      subject: "ticket {{ input.ticket }}"
      body: "opened by hand"
`

const helloRecipe = `name: hello-ack
tenant: {{TENANT}}
mailboxes:
  users: [adele@contoso.example]
trigger:
  newMail:
    subjectContains: [hello]
steps:
  - id: ack
    reply:
      body: "ack"
`

// fire does what `starter recipes run` and a schedule tick do: start a
// RecipeFire on the recipe queue (attaching to it when the request ran
// before) and return what it fired.
func (h *harness) fire(in reciperun.FireInput, id string) (activities.FireResult, error) {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	run, err := h.client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID: id, TaskQueue: reciperun.TaskQueue(h.cfg.Temporal.TaskQueue),
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		// A request that ran before is an error here, answered below by
		// reading that run's result.
		WorkflowExecutionErrorWhenAlreadyStarted: true,
	}, reciperun.FireWorkflowName, in)
	if activities.IsAlreadyStarted(err) {
		run, err = h.client.GetWorkflow(ctx, id, ""), nil
	}
	if err != nil {
		h.t.Fatal(err)
	}
	var res activities.FireResult
	err = run.Get(ctx, &res)
	return res, err
}

// Schedule recipes get a Temporal Schedule (interval, or cron in its time
// zone, paused while the file disables the recipe); each tick starts one
// run per mailbox, and two ticks two runs. A manual recipe runs with its
// payload once per request ID, however often the request repeats. A mail
// recipe run by hand on one item checks the filters (a message they refuse
// does not run) and gets a run of its own beside the automatic one.
func TestRecipeSchedulesTickAndManualRunsFireOncePerRequest(t *testing.T) {
	h, w := newRecipeHarnessWorker(t, recipeRoles, map[string]string{
		"tick.yaml": tickRecipe, "cron.yaml": cronRecipe, "manual.yaml": manualRecipe, "hello.yaml": helloRecipe})
	ctx := context.Background()

	// The schedules, as the Web UI shows them.
	tick := h.client.ScheduleClient().GetHandle(ctx, reciperun.ScheduleID(h.key, "tick-note"))
	desc, err := tick.Describe(ctx)
	if err != nil {
		t.Fatalf("no schedule for tick-note: %v", err)
	}
	if iv := desc.Schedule.Spec.Intervals; len(iv) != 1 || iv[0].Every != time.Hour || desc.Schedule.State.Paused {
		t.Fatalf("tick-note schedule: intervals %+v paused %v; want every 1h, running", iv, desc.Schedule.State.Paused)
	}
	if act, ok := desc.Schedule.Action.(*client.ScheduleWorkflowAction); !ok || act.TaskQueue != reciperun.TaskQueue(h.cfg.Temporal.TaskQueue) {
		t.Fatalf("tick-note schedule action %+v: want RecipeFire on the recipe queue", desc.Schedule.Action)
	}
	cron, err := h.client.ScheduleClient().GetHandle(ctx, reciperun.ScheduleID(h.key, "weekday-nine")).Describe(ctx)
	if err != nil {
		t.Fatalf("no schedule for weekday-nine: %v", err)
	}
	if cron.Schedule.Spec.TimeZoneName != "Europe/Paris" || !cron.Schedule.State.Paused || !strings.Contains(cron.Schedule.State.Note, "cron.yaml") {
		t.Fatalf("weekday-nine schedule: zone %q paused %v note %q; want Europe/Paris, paused, noting the file",
			cron.Schedule.Spec.TimeZoneName, cron.Schedule.State.Paused, cron.Schedule.State.Note)
	}
	if next := cron.Info.NextActionTimes; len(next) > 0 {
		paris, _ := time.LoadLocation("Europe/Paris")
		if at := next[0].In(paris); at.Hour() != 9 || at.Minute() != 0 || at.Weekday() == time.Saturday || at.Weekday() == time.Sunday {
			t.Fatalf("weekday-nine's next tick %s is not a weekday 9:00 in Paris", at)
		}
	}

	// Two ticks, a second apart (a tick's time is its identity, to the second).
	for i := 0; i < 2; i++ {
		if err := tick.Trigger(ctx, client.ScheduleTriggerOptions{Overlap: enumspb.SCHEDULE_OVERLAP_POLICY_ALLOW_ALL}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(1100 * time.Millisecond)
	}
	subject := "tick for " + adele
	deadline := time.Now().Add(time.Minute)
	for len(withSubject(h.mailbox(adele, "inbox"), subject)) < 2 && time.Now().Before(deadline) {
		time.Sleep(300 * time.Millisecond)
	}
	if got := len(withSubject(h.mailbox(adele, "inbox"), subject)); got != 2 {
		t.Fatalf("two ticks delivered %d notes to Adele; want 2", got)
	}
	if runs := h.recipeRuns("tick-note"); len(runs) != 4 { // 2 RecipeFire + 2 RecipeRun
		t.Fatalf("tick-note: %d workflows in visibility (%v); want 2 ticks and 2 runs", len(runs), runs)
	}

	// A manual run with a payload, repeated with the same request ID.
	in := reciperun.FireInput{Tenant: h.key, Recipe: "manual-note", Manual: true, RequestID: "req-1",
		Payload: map[string]any{"to": adele, "ticket": "T-42"}}
	id := reciperun.FireWorkflowID(h.key, "manual-note", "req-1")
	first, err := h.fire(in, id)
	if err != nil || len(first.Runs) != 1 || !first.Runs[0].Started {
		t.Fatalf("manual run: %+v, %v; want one started run", first, err)
	}
	if res, err := h.runResult(first.Runs[0].RunID, time.Minute); err != nil || res.Status != reciperun.StatusCompleted {
		t.Fatalf("manual run ended %+v, %v", res, err)
	}
	// Repeating the request (the fire workflow is done) attaches to it;
	// firing the same request from scratch (a new fire workflow ID) finds
	// the run's ID taken and starts nothing.
	again, err := h.fire(in, id)
	if err != nil || len(again.Runs) != 1 || again.Runs[0].RunID != first.Runs[0].RunID {
		t.Fatalf("repeated request: %+v, %v; want the same run", again, err)
	}
	fresh, err := h.fire(in, id+"-again")
	if err != nil || len(fresh.Runs) != 1 || fresh.Runs[0].Started || fresh.Runs[0].RunID != first.Runs[0].RunID {
		t.Fatalf("same request ID through another fire workflow: %+v, %v; want the same run as %s, not started again", fresh, err, first.Runs[0].RunID)
	}
	if got := len(withSubject(h.mailbox(adele, "inbox"), "ticket T-42")); got != 1 {
		t.Fatalf("the manual run delivered %d notes; want 1", got)
	}
	// A schedule recipe fired by hand runs now, once per request.
	extra, err := h.fire(reciperun.FireInput{Tenant: h.key, Recipe: "tick-note", Manual: true, RequestID: "now-1"},
		reciperun.FireWorkflowID(h.key, "tick-note", "now-1"))
	if err != nil || len(extra.Runs) != 1 || !extra.Runs[0].Started {
		t.Fatalf("schedule recipe fired by hand: %+v, %v; want one started run", extra, err)
	}
	if res, err := h.runResult(extra.Runs[0].RunID, time.Minute); err != nil || res.Status != reciperun.StatusCompleted {
		t.Fatalf("hand-fired tick run: %+v, %v", res, err)
	}
	if got := len(withSubject(h.mailbox(adele, "inbox"), subject)); got != 3 {
		t.Fatalf("two ticks and one hand-fired tick delivered %d notes; want 3", got)
	}

	// A payload for a recipe that takes none, and an unknown recipe, are
	// refused with the fix.
	if _, err := h.fire(reciperun.FireInput{Tenant: h.key, Recipe: "tick-note", Manual: true, RequestID: "r2", Payload: map[string]any{"x": 1}},
		reciperun.FireWorkflowID(h.key, "tick-note", "r2")); err == nil || !strings.Contains(err.Error(), "drop --payload") {
		t.Fatalf("payload for a schedule recipe: %v; want a refusal naming --payload", err)
	}
	if _, err := h.fire(reciperun.FireInput{Tenant: h.key, Recipe: "nope", Manual: true, RequestID: "r3"},
		reciperun.FireWorkflowID(h.key, "nope", "r3")); err == nil || !strings.Contains(err.Error(), "not loaded") {
		t.Fatalf("unknown recipe: %v; want a refusal saying it is not loaded", err)
	}

	// A mail recipe on one item: the filter decides, the run is its own.
	other := h.deliver(adele, megan, "quarterly numbers")
	hello := h.deliver(adele, megan, "hello there")
	h.syncRun(mailsync.Input{})
	auto := recipe.RunID(h.key, "hello-ack", hello, "new")
	if res, err := h.runResult(auto, time.Minute); err != nil || res.Status != reciperun.StatusCompleted {
		t.Fatalf("automatic hello-ack run: %+v, %v", res, err)
	}
	refused, err := h.fire(reciperun.FireInput{Tenant: h.key, Recipe: "hello-ack", Manual: true, RequestID: "r4", ItemID: other},
		reciperun.FireWorkflowID(h.key, "hello-ack", "r4"))
	if err != nil || len(refused.Runs) != 1 || refused.Runs[0].Fired || !strings.Contains(refused.Runs[0].Reason, "subjectContains") {
		t.Fatalf("manual run on a message the filter refuses: %+v, %v; want not fired, naming subjectContains", refused, err)
	}
	byHand, err := h.fire(reciperun.FireInput{Tenant: h.key, Recipe: "hello-ack", Manual: true, RequestID: "r5", ItemID: hello},
		reciperun.FireWorkflowID(h.key, "hello-ack", "r5"))
	if err != nil || len(byHand.Runs) != 1 || !byHand.Runs[0].Started || byHand.Runs[0].RunID == auto {
		t.Fatalf("manual run on a matching message: %+v, %v; want a started run of its own", byHand, err)
	}
	if res, err := h.runResult(byHand.Runs[0].RunID, time.Minute); err != nil || res.Status != reciperun.StatusCompleted {
		t.Fatalf("manual hello-ack run: %+v, %v", res, err)
	}
	// The decision is on record for `starter recipes why`.
	decs, err := w.Store.Decisions(ctx, h.key, "hello-ack", other)
	if err != nil || len(decs) == 0 {
		t.Fatalf("no decision recorded for the refused manual run: %v", err)
	}
}
