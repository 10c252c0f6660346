package reciperun

import (
	"crypto/sha256"
	"encoding/hex"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/outlookflow/outlookflow/activities"
	"github.com/outlookflow/outlookflow/recipe"
)

// FireWorkflowName is the registered name of the workflow that fires a
// schedule tick or a manual run: it resolves the recipe's mailboxes and
// starts one RecipeRun per mailbox (activity FireRecipe).
const FireWorkflowName = "RecipeFire"

// FireInput starts a RecipeFire: for a schedule tick only Tenant and
// Recipe (the tick's time is the schedule's); for a manual run, the
// operator's request. The payload travels encrypted like every payload.
type FireInput struct {
	Tenant, Recipe string
	// Manual marks an operator's request (RequestID required).
	Manual    bool
	RequestID string `json:",omitempty"`
	Mailbox   string `json:",omitempty"`
	ItemID    string `json:",omitempty"`
	// Payload is a manual recipe's `input`.
	Payload map[string]any `json:",omitempty"`
}

// ScheduleID is the Temporal Schedule of a schedule recipe. Tenant keys
// and recipe names come from configuration and files, not from mail.
func ScheduleID(tenant, recipeName string) string {
	return "outlookflow-recipe-schedule-" + tenant + "-" + recipeName
}

// ScheduleIDPrefix starts every recipe schedule's ID (the worker drops
// schedules whose recipe is gone).
const ScheduleIDPrefix = "outlookflow-recipe-schedule-"

// FireWorkflowID is the ID of a manual run's RecipeFire: the same request
// ID always names the same workflow, so a repeated command attaches to it.
func FireWorkflowID(tenant, recipeName, requestID string) string {
	h := sha256.Sum256([]byte(tenant + "\x00" + recipeName + "\x00" + requestID))
	return "outlookflow-recipe-fire-" + hex.EncodeToString(h[:12])
}

// scheduledStartTime is the search attribute Temporal sets on a workflow a
// schedule started: the tick's nominal time, the same on every retry.
var scheduledStartTime = temporal.NewSearchAttributeKeyTime("TemporalScheduledStartTime")

// fireOptions: firing reads the store and starts workflows; it is
// idempotent (run IDs derive from the tick or the request), so retried.
var fireOptions = workflow.ActivityOptions{
	StartToCloseTimeout: 2 * time.Minute,
	// A tick that cannot fire within the hour is dropped; the next one
	// comes. A manual run's operator sees the error.
	ScheduleToCloseTimeout: time.Hour,
	RetryPolicy: &temporal.RetryPolicy{
		InitialInterval:        time.Second,
		MaximumInterval:        time.Minute,
		NonRetryableErrorTypes: []string{activities.ErrRecipeUnknown, activities.ErrFireRefused},
	},
}

// FireWorkflow fires one schedule tick or manual request.
func FireWorkflow(ctx workflow.Context, in FireInput) (activities.FireResult, error) {
	if in.Tenant == "" || in.Recipe == "" || (in.Manual && in.RequestID == "") {
		return activities.FireResult{}, temporal.NewNonRetryableApplicationError("tenant and recipe are required (and a request ID for a manual run)", "InvalidInput", nil)
	}
	req := activities.FireRequest{Tenant: in.Tenant, Recipe: in.Recipe, Signal: recipe.TriggerSchedule,
		RequestID: in.RequestID, Mailbox: in.Mailbox, ItemID: in.ItemID, Payload: in.Payload}
	if in.Manual {
		req.Signal = recipe.TriggerManual
		req.At = workflow.GetInfo(ctx).WorkflowStartTime.UTC().Truncate(time.Second)
	} else {
		at, ok := workflow.GetTypedSearchAttributes(ctx).GetTime(scheduledStartTime)
		if !ok {
			// Started by hand from the Web UI's schedule "trigger" or an
			// older server: the start time is the tick.
			at = workflow.GetInfo(ctx).WorkflowStartTime
		}
		req.At = at.UTC().Truncate(time.Second)
	}
	var res activities.FireResult
	err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, fireOptions), a.FireRecipe, req).Get(ctx, &res)
	return res, err
}
