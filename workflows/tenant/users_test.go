package tenant

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/outlookflow/outlookflow/activities"
	"github.com/outlookflow/outlookflow/activities/schedules"
)

func delegatedInput() Input {
	in := baseInput()
	in.AuthMode = string(activities.AuthDelegated)
	return in
}

// delegatedHarness runs a delegated tenant's connection and records what
// it did.
type delegatedHarness struct {
	env *testsuite.TestWorkflowEnvironment

	mu            sync.Mutex
	verifications int      // VerifyConnection calls: there must be none
	statuses      []string // OutlookflowConnectionStatus upserts, in order
	schedules     []schedules.EnsureSyncScheduleInput
}

func newDelegatedHarness(t *testing.T) *delegatedHarness {
	t.Helper()
	var s testsuite.WorkflowTestSuite
	h := &delegatedHarness{env: s.NewTestWorkflowEnvironment()}
	h.env.RegisterWorkflowWithOptions(Workflow, workflow.RegisterOptions{Name: WorkflowName})
	h.env.RegisterActivity(&activities.Tenant{})
	h.env.RegisterActivity(&schedules.Activities{})
	h.env.OnActivity(a.VerifyConnection, mock.Anything, mock.Anything).Return(
		func(context.Context, activities.VerifyConnectionInput) (activities.VerifyConnectionResult, error) {
			h.mu.Lock()
			h.verifications++
			h.mu.Unlock()
			return verified("Mail.ReadBasic.All", "User.Read.All"), nil
		}).Maybe()
	h.env.OnActivity(sched.EnsureSyncSchedule, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in schedules.EnsureSyncScheduleInput) (schedules.EnsureSyncScheduleResult, error) {
			h.mu.Lock()
			h.schedules = append(h.schedules, in)
			h.mu.Unlock()
			return schedules.EnsureSyncScheduleResult{}, nil
		}).Maybe()
	h.env.OnUpsertTypedSearchAttributes(mock.Anything).Run(func(args mock.Arguments) {
		status, _ := args.Get(0).(temporal.SearchAttributes).GetKeyword(SearchAttrStatus)
		h.mu.Lock()
		h.statuses = append(h.statuses, status)
		h.mu.Unlock()
	}).Return()
	return h
}

func (h *delegatedHarness) user(at time.Duration, objectID, status, code string) {
	h.env.RegisterDelayedCallback(func() {
		h.env.SignalWorkflow(SignalUserStatus, UserStatusSignal{ObjectID: objectID, Status: status, Code: code})
	}, at)
}

func (h *delegatedHarness) queryAt(t *testing.T, at time.Duration, v *StatusView) {
	h.env.RegisterDelayedCallback(func() { *v = queryStatus(t, h.env) }, at)
}

func TestDelegatedTenantAwaitsUsersWithoutVerifying(t *testing.T) {
	h := newDelegatedHarness(t)
	var first, later StatusView
	h.queryAt(t, time.Minute, &first)
	h.queryAt(t, 3*time.Hour+time.Minute, &later)
	h.env.RegisterDelayedCallback(h.env.CancelWorkflow, 3*time.Hour+2*time.Minute)
	h.env.ExecuteWorkflow(Workflow, delegatedInput())

	require.Zero(t, h.verifications, "a delegated tenant has no credential of its own to verify")
	require.Equal(t, StatusAwaitingUsers, first.Status)
	require.Contains(t, first.Detail, "connect-user --tenant contoso")
	require.Empty(t, first.Users)
	require.Equal(t, 1, first.Verifications)
	require.Equal(t, StatusAwaitingUsers, later.Status)
	require.Equal(t, 4, later.Verifications, "the summary is still refreshed every interval")
	require.Equal(t, []string{"Verifying", "AwaitingUsers"}, h.statuses)
	require.Len(t, h.schedules, 1)
	require.True(t, h.schedules[0].Paused, "no sync while no user is connected")
}

func TestTheOnlyUsersStatusIsTheTenants(t *testing.T) {
	h := newDelegatedHarness(t)
	var connected, refused StatusView
	h.user(2*time.Minute, "oid-1", "Connected", "")
	h.queryAt(t, 3*time.Minute, &connected)
	h.user(4*time.Minute, "oid-1", "ReauthRequired", "50173")
	h.queryAt(t, 5*time.Minute, &refused)
	h.env.RegisterDelayedCallback(h.env.CancelWorkflow, 6*time.Minute)
	h.env.ExecuteWorkflow(Workflow, delegatedInput())

	require.Equal(t, StatusConnected, connected.Status)
	require.Equal(t, map[string]int{"Connected": 1}, connected.Users)
	require.Equal(t, "1 users: 1 Connected", connected.Detail)
	require.Equal(t, StatusUsersNeedAttention, refused.Status)
	require.Equal(t, map[string]int{"ReauthRequired": 1}, refused.Users)
	require.Contains(t, refused.Detail, "1 users: 1 ReauthRequired (AADSTS50173)")
	require.Contains(t, refused.Detail, "starter users --tenant contoso")
	require.Empty(t, refused.Code)
	require.True(t, refused.StatusSince.Equal(connected.StatusSince.Add(2*time.Minute)), "status since %s", refused.StatusSince)
	require.Zero(t, h.verifications)
	require.Equal(t, []string{"Verifying", "AwaitingUsers", "Connected", "UsersNeedAttention"}, h.statuses)
	// The sync schedule follows: paused, running, paused again.
	var paused []bool
	for _, s := range h.schedules {
		paused = append(paused, s.Paused)
	}
	require.Equal(t, []bool{true, false, true}, paused)
}

func TestOneConnectedUserKeepsTheTenantConnected(t *testing.T) {
	h := newDelegatedHarness(t)
	var view StatusView
	h.user(time.Minute, "oid-1", "Connected", "")
	h.user(2*time.Minute, "oid-2", "ReauthRequired", "50173")
	h.queryAt(t, 3*time.Minute, &view)
	h.env.RegisterDelayedCallback(h.env.CancelWorkflow, 4*time.Minute)
	h.env.ExecuteWorkflow(Workflow, delegatedInput())

	require.Equal(t, StatusConnected, view.Status)
	require.Equal(t, map[string]int{"Connected": 1, "ReauthRequired": 1}, view.Users)
	require.Equal(t, "2 users: 1 Connected, 1 ReauthRequired (AADSTS50173)", view.Detail)
}

// An app-only tenant keeps count of users who signal it, but its status is
// its own credential's.
func TestAppOnlyTenantIgnoresUsersInItsStatus(t *testing.T) {
	env := newEnv(t)
	calls := countVerifications(env, verified("Mail.ReadBasic.All", "User.Read.All"))
	var view StatusView
	env.RegisterDelayedCallback(func() {
		env.SignalWorkflow(SignalUserStatus, UserStatusSignal{ObjectID: "oid-1", Status: "ReauthRequired", Code: "50173"})
	}, time.Minute)
	env.RegisterDelayedCallback(func() { view = queryStatus(t, env); env.CancelWorkflow() }, 2*time.Minute)
	env.ExecuteWorkflow(Workflow, baseInput())

	require.Equal(t, 1, *calls)
	require.Equal(t, StatusConnected, view.Status)
	require.Empty(t, view.Detail)
}

func TestUserStatusesSurviveContinueAsNew(t *testing.T) {
	h := newDelegatedHarness(t)
	in := delegatedInput()
	in.ContinueAsNewAfter = 2
	h.user(time.Minute, "oid-1", "Connected", "")
	h.user(2*time.Minute, "oid-2", "MissingScopes", "")
	h.env.ExecuteWorkflow(Workflow, in)

	var can *workflow.ContinueAsNewError
	require.True(t, errors.As(h.env.GetWorkflowError(), &can), "want continue-as-new, got %v", h.env.GetWorkflowError())
	var next Input
	require.NoError(t, converter.GetDefaultDataConverter().FromPayloads(can.Input, &next))
	require.NotNil(t, next.State)
	require.Equal(t, map[string]UserSummary{"oid-1": {Status: "Connected"}, "oid-2": {Status: "MissingScopes"}}, next.State.Users)
	require.Equal(t, StatusConnected, next.State.Status)

	// The next run knows them: a later signal updates one, the other stays.
	h2 := newDelegatedHarness(t)
	var first, after StatusView
	h2.queryAt(t, time.Minute, &first)
	h2.user(2*time.Minute, "oid-1", "ReauthRequired", "50173")
	h2.queryAt(t, 3*time.Minute, &after)
	h2.env.RegisterDelayedCallback(h2.env.CancelWorkflow, 4*time.Minute)
	h2.env.ExecuteWorkflow(Workflow, next)

	require.Equal(t, StatusConnected, first.Status)
	require.Equal(t, map[string]int{"Connected": 1, "MissingScopes": 1}, first.Users)
	require.Equal(t, StatusUsersNeedAttention, after.Status)
	require.Equal(t, map[string]int{"MissingScopes": 1, "ReauthRequired": 1}, after.Users)
	require.Contains(t, after.Detail, "2 users: 1 MissingScopes, 1 ReauthRequired (AADSTS50173)")
	require.Zero(t, h2.verifications)
}

// Regression test for a bug the first version had (fixed with this test).
func TestNonNumericUserCodesAreNotPrefixed(t *testing.T) {
	h := newDelegatedHarness(t)
	var view StatusView
	h.user(time.Minute, "oid-1", "ReauthRequired", "no_account")
	h.user(time.Minute, "oid-2", "ReauthRequired", "50173")
	h.queryAt(t, 2*time.Minute, &view)
	h.env.RegisterDelayedCallback(h.env.CancelWorkflow, 3*time.Minute)
	h.env.ExecuteWorkflow(Workflow, delegatedInput())

	require.Equal(t, StatusUsersNeedAttention, view.Status)
	require.Contains(t, view.Detail, "AADSTS50173")
	require.Contains(t, view.Detail, "no_account")
	require.NotContains(t, view.Detail, "AADSTSno_account")
}
