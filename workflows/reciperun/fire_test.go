package reciperun

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/outlookflow/outlookflow/activities"
	"github.com/outlookflow/outlookflow/recipe"
)

// fireWith runs FireWorkflow (started at start, with the given start
// search attributes) against a FireRecipe mock that answers answer, and
// returns the requests it got, the result and the workflow's error.
func fireWith(t *testing.T, start time.Time, attrs *temporal.SearchAttributes, in FireInput, answer error) ([]activities.FireRequest, activities.FireResult, error) {
	t.Helper()
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	env.SetStartTime(start)
	if attrs != nil {
		require.NoError(t, env.SetTypedSearchAttributesOnStart(*attrs))
	}
	env.RegisterWorkflowWithOptions(FireWorkflow, workflow.RegisterOptions{Name: FireWorkflowName})
	var (
		mu   sync.Mutex
		reqs []activities.FireRequest
	)
	env.OnActivity(a.FireRecipe, mock.Anything, mock.Anything).Return(
		func(_ context.Context, req activities.FireRequest) (activities.FireResult, error) {
			mu.Lock()
			reqs = append(reqs, req)
			mu.Unlock()
			if answer != nil {
				return activities.FireResult{}, answer
			}
			return activities.FireResult{Runs: []activities.FiredRun{{Mailbox: "adele@contoso.example", RunID: "run-9", Fired: true, Started: true, Reason: "fires"}}}, nil
		})
	env.ExecuteWorkflow(FireWorkflow, in)
	require.True(t, env.IsWorkflowCompleted(), "the fire must end")
	if err := env.GetWorkflowError(); err != nil {
		return reqs, activities.FireResult{}, err
	}
	var res activities.FireResult
	require.NoError(t, env.GetWorkflowResult(&res))
	for i := range reqs {
		reqs[i].At = reqs[i].At.UTC()
	}
	return reqs, res, nil
}

// startedAt is a start time with a fraction of a second, in a zone other
// than UTC: the fired time must come out whole-second UTC.
var startedAt = time.Date(2026, 3, 2, 10, 15, 42, 789_000_000, time.FixedZone("CET", 3600))

func TestManualFireSendsTheOperatorsRequestAtTheStartSecond(t *testing.T) {
	reqs, res, err := fireWith(t, startedAt, nil, FireInput{Tenant: "contoso", Recipe: "triage", Manual: true, RequestID: "req-42",
		Mailbox: "adele@contoso.example", ItemID: "msg-1", Payload: map[string]any{"note": "from the CLI"}}, nil)
	require.NoError(t, err)

	require.Equal(t, []activities.FireRequest{{Tenant: "contoso", Recipe: "triage", Signal: recipe.TriggerManual,
		At: time.Date(2026, 3, 2, 9, 15, 42, 0, time.UTC), RequestID: "req-42", Mailbox: "adele@contoso.example", ItemID: "msg-1",
		Payload: map[string]any{"note": "from the CLI"}}}, reqs, "FireRecipe requests")
	require.Equal(t, activities.FireResult{Runs: []activities.FiredRun{{Mailbox: "adele@contoso.example", RunID: "run-9", Fired: true, Started: true, Reason: "fires"}}},
		res, "the fire's result is FireRecipe's")
}

func TestScheduleTickFiresAtTheScheduledStartTime(t *testing.T) {
	// The tick was due at 09:00:00.5 UTC; this attempt started later.
	tick := time.Date(2026, 3, 2, 9, 0, 0, 500_000_000, time.UTC)
	attrs := temporal.NewSearchAttributes(scheduledStartTime.ValueSet(tick))
	reqs, _, err := fireWith(t, startedAt, &attrs, FireInput{Tenant: "contoso", Recipe: "morning-digest"}, nil)
	require.NoError(t, err)

	require.Equal(t, []activities.FireRequest{{Tenant: "contoso", Recipe: "morning-digest", Signal: recipe.TriggerSchedule,
		At: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}}, reqs, "FireRecipe requests")
}

func TestScheduleTickWithoutTheScheduledStartTimeFiresAtTheStartTime(t *testing.T) {
	reqs, _, err := fireWith(t, startedAt, nil, FireInput{Tenant: "contoso", Recipe: "morning-digest"}, nil)
	require.NoError(t, err)

	require.Equal(t, []activities.FireRequest{{Tenant: "contoso", Recipe: "morning-digest", Signal: recipe.TriggerSchedule,
		At: time.Date(2026, 3, 2, 9, 15, 42, 0, time.UTC)}}, reqs, "FireRecipe requests")
}

func TestFireWithoutTenantRecipeOrManualRequestIDFailsWithoutRetry(t *testing.T) {
	for name, in := range map[string]FireInput{
		"tenant":            {Recipe: "triage"},
		"recipe":            {Tenant: "contoso"},
		"manual request ID": {Tenant: "contoso", Recipe: "triage", Manual: true},
	} {
		reqs, _, err := fireWith(t, startedAt, nil, in, nil)

		var app *temporal.ApplicationError
		require.True(t, errors.As(err, &app), "missing %s: want an application error, got %v", name, err)
		require.Equal(t, "InvalidInput", app.Type(), "missing %s", name)
		require.True(t, app.NonRetryable(), "missing %s: invalid input must not be retried", name)
		require.Empty(t, reqs, "missing %s: nothing fires", name)
	}
}

func TestFireErrorsRetryingCannotFixAreNotRetried(t *testing.T) {
	for _, errType := range []string{activities.ErrRecipeUnknown, activities.ErrFireRefused} {
		reqs, _, err := fireWith(t, startedAt, nil, FireInput{Tenant: "contoso", Recipe: "triage", Manual: true, RequestID: "req-1"},
			temporal.NewApplicationError("refused", errType))

		var app *temporal.ApplicationError
		require.True(t, errors.As(err, &app), "%s: want the activity's application error, got %v", errType, err)
		require.Equal(t, errType, app.Type())
		require.Len(t, reqs, 1, "%s: FireRecipe must be called once", errType)
	}
}
