package tenant

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/outlookflow/outlookflow/activities"
	"github.com/outlookflow/outlookflow/activities/schedules"
	"github.com/outlookflow/outlookflow/domain"
	"github.com/outlookflow/outlookflow/internal/permissions"
)

func baseInput() Input {
	return Input{
		TenantKey:      "contoso",
		DisplayName:    "Contoso Ltd",
		AuthMode:       "app-only",
		Features:       []string{"directory", "mail"},
		VerifyInterval: domain.Duration(time.Hour),
	}
}

func verified(granted ...string) activities.VerifyConnectionResult {
	return activities.VerifyConnectionResult{Outcome: activities.OutcomeVerified, GrantedPermissions: granted}
}

// newEnvWithoutScheduleMock is the workflow's environment for tests that
// set their own expectations of the sync-schedule activity.
func newEnvWithoutScheduleMock() *testsuite.TestWorkflowEnvironment {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	env.RegisterWorkflowWithOptions(Workflow, workflow.RegisterOptions{Name: WorkflowName})
	env.RegisterActivity(&activities.Tenant{})
	env.RegisterActivity(&schedules.Activities{})
	return env
}

func newEnv(t *testing.T) *testsuite.TestWorkflowEnvironment {
	env := newEnvWithoutScheduleMock()
	// The sync schedule is kept in step after checks; tests that care about
	// it replace this with their own expectations.
	env.OnActivity(sched.EnsureSyncSchedule, mock.Anything, mock.Anything).Return(schedules.EnsureSyncScheduleResult{}, nil).Maybe()
	return env
}

// verifyInTurn mocks the check to return outcomes one after another (the
// last one from then on) and counts the calls.
func verifyInTurn(env *testsuite.TestWorkflowEnvironment, outcomes ...activities.VerifyConnectionResult) *int {
	calls := new(int)
	env.OnActivity(a.VerifyConnection, mock.Anything, mock.Anything).Return(
		func(context.Context, activities.VerifyConnectionInput) (activities.VerifyConnectionResult, error) {
			r := outcomes[min(*calls, len(outcomes)-1)]
			*calls++
			return r, nil
		})
	return calls
}

// countVerifications mocks the check to return res and counts the calls.
func countVerifications(env *testsuite.TestWorkflowEnvironment, res activities.VerifyConnectionResult) *int {
	calls := new(int)
	env.OnActivity(a.VerifyConnection, mock.Anything, mock.Anything).Return(
		func(context.Context, activities.VerifyConnectionInput) (activities.VerifyConnectionResult, error) {
			*calls++
			return res, nil
		})
	return calls
}

func queryStatus(t *testing.T, env *testsuite.TestWorkflowEnvironment) StatusView {
	t.Helper()
	val, err := env.QueryWorkflow(QueryStatus)
	require.NoError(t, err)
	var v StatusView
	require.NoError(t, val.Get(&v))
	return v
}

func TestFirstVerificationWithAllPermissionsIsConnected(t *testing.T) {
	env := newEnv(t)
	env.OnActivity(a.VerifyConnection, mock.Anything, mock.Anything).Return(verified("Mail.ReadBasic.All", "User.Read.All"), nil)
	var view StatusView
	env.RegisterDelayedCallback(func() {
		view = queryStatus(t, env)
		env.CancelWorkflow()
	}, time.Minute)
	env.ExecuteWorkflow(Workflow, baseInput())
	require.Equal(t, StatusConnected, view.Status, "detail: %s", view.Detail)
	require.Equal(t, []string{"Mail.ReadBasic.All", "User.Read.All"}, view.Required)
	require.Empty(t, view.Missing)
	require.Equal(t, 1, view.Verifications)
}

func TestMissingPermissionIsNamed(t *testing.T) {
	env := newEnv(t)
	env.OnActivity(a.VerifyConnection, mock.Anything, mock.Anything).Return(verified("User.Read.All"), nil)
	var view StatusView
	env.RegisterDelayedCallback(func() { view = queryStatus(t, env); env.CancelWorkflow() }, time.Minute)
	env.ExecuteWorkflow(Workflow, baseInput())
	require.Equal(t, StatusMissingPermissions, view.Status)
	require.Equal(t, []string{"Mail.ReadBasic.All"}, view.Missing)
}

func TestReverifiesEveryIntervalAndSeesRevocation(t *testing.T) {
	env := newEnv(t)
	calls := 0
	env.OnActivity(a.VerifyConnection, mock.Anything, mock.Anything).Return(
		func(context.Context, activities.VerifyConnectionInput) (activities.VerifyConnectionResult, error) {
			calls++
			if calls >= 3 {
				return activities.VerifyConnectionResult{Outcome: activities.OutcomeConsentRevoked, Code: "AADSTS65001"}, nil
			}
			return verified("Mail.ReadBasic.All", "User.Read.All"), nil
		})
	var atTwo, atThree StatusView
	env.RegisterDelayedCallback(func() { atTwo = queryStatus(t, env) }, 90*time.Minute)
	env.RegisterDelayedCallback(func() { atThree = queryStatus(t, env); env.CancelWorkflow() }, 150*time.Minute)
	env.ExecuteWorkflow(Workflow, baseInput())
	require.Equal(t, StatusConnected, atTwo.Status)
	require.Equal(t, 2, atTwo.Verifications)
	require.Equal(t, StatusConsentRevoked, atThree.Status)
	require.Equal(t, "AADSTS65001", atThree.Code)
	require.Equal(t, 3, atThree.Verifications)
}

func TestTransientFailureBecomesUnreachableWithCode(t *testing.T) {
	env := newEnv(t)
	env.OnActivity(a.VerifyConnection, mock.Anything, mock.Anything).Return(activities.VerifyConnectionResult{},
		temporal.NewNonRetryableApplicationError("Unavailable (HTTP 503)", string(activities.KindUnavailable), nil,
			activities.GraphErrorDetails{Status: 503, Code: "serviceNotAvailable"}))
	var view StatusView
	env.RegisterDelayedCallback(func() { view = queryStatus(t, env); env.CancelWorkflow() }, time.Minute)
	env.ExecuteWorkflow(Workflow, baseInput())
	require.Equal(t, StatusUnreachable, view.Status)
	require.Equal(t, "serviceNotAvailable", view.Code)
	require.Equal(t, "Unavailable (HTTP 503)", view.Detail, "detail must be Graph's failure, not the activity-error wrapping")
}

type updateResult struct {
	view StatusView
	err  error
}

func (u *updateResult) callbacks() *testsuite.TestUpdateCallback {
	return &testsuite.TestUpdateCallback{
		OnAccept:   func() {},
		OnReject:   func(err error) { u.err = err },
		OnComplete: func(v interface{}, err error) { u.err = err; u.view, _ = v.(StatusView) },
	}
}

func TestPauseStopsVerificationAndResumeVerifiesAtOnce(t *testing.T) {
	env := newEnv(t)
	calls := countVerifications(env, verified("Mail.ReadBasic.All", "User.Read.All"))
	var paused, resumed, again updateResult
	var whilePaused StatusView
	var callsWhilePaused int
	env.RegisterDelayedCallback(func() { env.UpdateWorkflow(UpdatePause, "1", paused.callbacks(), PauseRequest{Reason: "maintenance"}) }, time.Minute)
	env.RegisterDelayedCallback(func() { whilePaused = queryStatus(t, env); callsWhilePaused = *calls }, 5*time.Hour)
	env.RegisterDelayedCallback(func() { env.UpdateWorkflow(UpdatePause, "2", again.callbacks(), PauseRequest{}) }, 5*time.Hour+time.Minute)
	env.RegisterDelayedCallback(func() { env.UpdateWorkflow(UpdateResume, "3", resumed.callbacks(), ResumeRequest{}) }, 6*time.Hour)
	env.RegisterDelayedCallback(func() { env.CancelWorkflow() }, 6*time.Hour+time.Minute)
	env.ExecuteWorkflow(Workflow, baseInput())

	require.NoError(t, paused.err)
	require.Equal(t, StatusPaused, paused.view.Status)
	require.Equal(t, StatusPaused, whilePaused.Status)
	require.True(t, whilePaused.NextCheckAt.IsZero(), "a paused tenant has no next check")
	require.Equal(t, "maintenance", whilePaused.PauseReason)
	require.Equal(t, 1, callsWhilePaused, "no verification may run while paused")
	require.Error(t, again.err, "pausing a paused tenant must be rejected")
	require.NoError(t, resumed.err)
	require.Equal(t, StatusConnected, resumed.view.Status)
	require.Equal(t, 2, resumed.view.Verifications, "resume must verify at once")
}

func TestRotateCredentialsPassesTheVaultVersionAndVerifies(t *testing.T) {
	env := newEnv(t)
	var seen []string
	env.OnActivity(a.VerifyConnection, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.VerifyConnectionInput) (activities.VerifyConnectionResult, error) {
			seen = append(seen, in.CredentialVersion)
			if in.CredentialVersion == "" {
				return activities.VerifyConnectionResult{Outcome: activities.OutcomeInvalidCredentials, Code: "AADSTS7000222"}, nil
			}
			return verified("Mail.ReadBasic.All", "User.Read.All"), nil
		})
	const version = "0123456789abcdef"
	var rotated updateResult
	env.RegisterDelayedCallback(func() {
		env.UpdateWorkflow(UpdateRotateCredentials, "r", rotated.callbacks(), RotateCredentialsRequest{CredentialVersion: version})
	}, time.Minute)
	env.RegisterDelayedCallback(func() { env.CancelWorkflow() }, 2*time.Minute)
	env.ExecuteWorkflow(Workflow, baseInput())
	require.NoError(t, rotated.err)
	require.Equal(t, StatusConnected, rotated.view.Status)
	require.Equal(t, version, rotated.view.CredentialVersion)
	require.Equal(t, []string{"", version}, seen)
}

func TestRotateCredentialsRefusesSecretsAndMalformedVersions(t *testing.T) {
	env := newEnv(t)
	calls := 0
	env.OnActivity(a.VerifyConnection, mock.Anything, mock.Anything).Return(
		func(context.Context, activities.VerifyConnectionInput) (activities.VerifyConnectionResult, error) {
			calls++
			return verified("Mail.ReadBasic.All", "User.Read.All"), nil
		})
	var withSecret, malformed updateResult
	env.RegisterDelayedCallback(func() {
		env.UpdateWorkflow(UpdateRotateCredentials, "old-wire-form", withSecret.callbacks(), RotateCredentialsRequest{LegacySecret: "sim~secret"})
		env.UpdateWorkflow(UpdateRotateCredentials, "bad-version", malformed.callbacks(), RotateCredentialsRequest{CredentialVersion: "../secret"})
	}, time.Minute)
	env.RegisterDelayedCallback(func() { env.CancelWorkflow() }, 2*time.Minute)
	env.ExecuteWorkflow(Workflow, baseInput())
	require.ErrorContains(t, withSecret.err, "secrets are not accepted in updates")
	require.ErrorContains(t, malformed.err, "malformed")
	require.Equal(t, 1, calls, "a rejected rotation must not trigger a check")
}

func TestPauseReasonIsBounded(t *testing.T) {
	env := newEnv(t)
	env.OnActivity(a.VerifyConnection, mock.Anything, mock.Anything).Return(verified("Mail.ReadBasic.All", "User.Read.All"), nil)
	var tooLong, fits updateResult
	env.RegisterDelayedCallback(func() {
		env.UpdateWorkflow(UpdatePause, "long", tooLong.callbacks(), PauseRequest{Reason: strings.Repeat("x", MaxPauseReasonLength+1)})
		env.UpdateWorkflow(UpdatePause, "fits", fits.callbacks(), PauseRequest{Reason: strings.Repeat("é", MaxPauseReasonLength)})
	}, time.Minute)
	env.RegisterDelayedCallback(func() { env.CancelWorkflow() }, 2*time.Minute)
	env.ExecuteWorkflow(Workflow, baseInput())
	require.ErrorContains(t, tooLong.err, "keep it to 200")
	require.NoError(t, fits.err)
	require.Equal(t, StatusPaused, fits.view.Status)
}

func TestContinuesAsNewCarryingState(t *testing.T) {
	env := newEnv(t)
	env.OnActivity(a.VerifyConnection, mock.Anything, mock.Anything).Return(verified("User.Read.All"), nil)
	in := baseInput()
	in.ContinueAsNewAfter = 2
	env.ExecuteWorkflow(Workflow, in)
	err := env.GetWorkflowError()
	var can *workflow.ContinueAsNewError
	require.True(t, errors.As(err, &can), "want continue-as-new, got %v", err)
	var next Input
	require.NoError(t, converter.GetDefaultDataConverter().FromPayloads(can.Input, &next))
	require.NotNil(t, next.State)
	require.Equal(t, 2, next.State.Verifications)
	require.Equal(t, 1, next.State.Runs)
	require.Equal(t, StatusMissingPermissions, next.State.Status)
	require.Equal(t, "contoso", next.TenantKey)
}

// An update waiting for a check when continue-as-new is due must still get
// its check and its answer; the run then continues as new.
func TestContinueAsNewServesUpdatesWaitingForACheck(t *testing.T) {
	env := newEnv(t)
	env.OnActivity(a.VerifyConnection, mock.Anything, mock.Anything).After(10*time.Minute).Return(verified("Mail.ReadBasic.All", "User.Read.All"), nil)
	in := baseInput()
	in.ContinueAsNewAfter = 1
	var verifyNow updateResult
	// Arrives while the first check is running, so it waits for a second one.
	env.RegisterDelayedCallback(func() {
		env.UpdateWorkflow(UpdateVerifyNow, "v", verifyNow.callbacks(), VerifyNowRequest{})
	}, time.Minute)
	env.ExecuteWorkflow(Workflow, in)
	var can *workflow.ContinueAsNewError
	require.True(t, errors.As(env.GetWorkflowError(), &can), "want continue-as-new, got %v", env.GetWorkflowError())
	require.NoError(t, verifyNow.err)
	require.Equal(t, 2, verifyNow.view.Verifications, "verify-now must be answered by a check that started after it")
	require.Equal(t, StatusConnected, verifyNow.view.Status)
}

func TestSettingsUpdateAppliesChangedFeaturesAndSkipsNoOps(t *testing.T) {
	env := newEnv(t)
	calls := countVerifications(env, verified("Mail.ReadBasic.All", "User.Read.All"))
	same := SettingsRequest{DisplayName: "Contoso Ltd", AuthMode: "app-only", Features: []string{"directory", "mail"}, VerifyInterval: domain.Duration(time.Hour)}
	more := same
	more.Features = []string{"directory", "mail", "calendar"}
	var unchanged, changed, bad updateResult
	env.RegisterDelayedCallback(func() { env.UpdateWorkflow(UpdateSettings, "1", unchanged.callbacks(), same) }, time.Minute)
	env.RegisterDelayedCallback(func() { env.UpdateWorkflow(UpdateSettings, "2", changed.callbacks(), more) }, 2*time.Minute)
	env.RegisterDelayedCallback(func() {
		b := same
		b.Features = []string{"teleport"}
		env.UpdateWorkflow(UpdateSettings, "3", bad.callbacks(), b)
	}, 3*time.Minute)
	env.RegisterDelayedCallback(func() { env.CancelWorkflow() }, 4*time.Minute)
	env.ExecuteWorkflow(Workflow, baseInput())

	require.NoError(t, unchanged.err)
	require.Equal(t, 1, unchanged.view.Verifications, "unchanged settings must not trigger a check")
	require.NoError(t, changed.err)
	require.Equal(t, 2, changed.view.Verifications, "changed settings are verified at once")
	require.Equal(t, StatusMissingPermissions, changed.view.Status)
	require.Equal(t, []string{"Calendars.Read"}, changed.view.Missing)
	require.ErrorContains(t, bad.err, "teleport", "unknown features are rejected by the validator")
	require.Equal(t, 2, *calls)
}

func TestRejectsBadInput(t *testing.T) {
	env := newEnv(t)
	in := baseInput()
	in.VerifyInterval = domain.Duration(500 * time.Millisecond)
	env.ExecuteWorkflow(Workflow, in)
	require.ErrorContains(t, env.GetWorkflowError(), "verify interval")
}

func TestStatusReportsACheckInProgressAndNoNextCheckMeanwhile(t *testing.T) {
	env := newEnv(t)
	// The check takes 10 minutes (throttled, say); the query asks at minute 3.
	env.OnActivity(a.VerifyConnection, mock.Anything, mock.Anything).After(10*time.Minute).Return(verified("Mail.ReadBasic.All", "User.Read.All"), nil)
	var during, after StatusView
	start := env.Now()
	env.RegisterDelayedCallback(func() { during = queryStatus(t, env) }, 3*time.Minute)
	env.RegisterDelayedCallback(func() {
		after = queryStatus(t, env)
		env.CancelWorkflow()
	}, 11*time.Minute)
	env.ExecuteWorkflow(Workflow, baseInput())
	require.True(t, during.CheckInProgress, "a running check must show")
	require.True(t, during.CheckStartedAt.Equal(start), "check started at %s, want %s", during.CheckStartedAt, start)
	require.True(t, during.NextCheckAt.IsZero(), "no next check is planned while one runs")
	require.Equal(t, StatusVerifying, during.Status)
	require.False(t, after.CheckInProgress)
	require.True(t, after.CheckStartedAt.IsZero())
	require.Equal(t, StatusConnected, after.Status)
	require.False(t, after.NextCheckAt.IsZero())
}

func TestVerifyActivityIsBoundedByTimeAndHeartbeats(t *testing.T) {
	// A short Retry-After must not exhaust a count of attempts, and a dead
	// worker must be noticed by heartbeat, not by a long start-to-close.
	require.Zero(t, verifyActivityOptions.RetryPolicy.MaximumAttempts, "retries are bounded by time only")
	require.Equal(t, VerifyRetryBudget, verifyActivityOptions.ScheduleToCloseTimeout)
	require.LessOrEqual(t, verifyActivityOptions.HeartbeatTimeout, 15*time.Second)
	require.Greater(t, verifyActivityOptions.StartToCloseTimeout, 6*time.Minute, "kiota may sleep through Retry-After for minutes inside one attempt")
}

func TestSyncSchedulePausesWhileNotConnectedAndResumes(t *testing.T) {
	env := newEnvWithoutScheduleMock()
	var applied []schedules.EnsureSyncScheduleInput
	env.OnActivity(sched.EnsureSyncSchedule, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in schedules.EnsureSyncScheduleInput) (schedules.EnsureSyncScheduleResult, error) {
			applied = append(applied, in)
			return schedules.EnsureSyncScheduleResult{}, nil
		})
	outcomes := []activities.VerifyConnectionResult{
		verified("Mail.ReadBasic.All", "User.Read.All"),
		{Outcome: activities.OutcomeConsentRevoked, Code: "AADSTS65001"},
		verified("Mail.ReadBasic.All", "User.Read.All"),
		verified("Mail.ReadBasic.All", "User.Read.All"),
	}
	calls := verifyInTurn(env, outcomes...)
	in := baseInput()
	in.SyncInterval = domain.Duration(10 * time.Minute)
	env.RegisterDelayedCallback(func() { env.CancelWorkflow() }, 3*time.Hour+30*time.Minute)
	env.ExecuteWorkflow(Workflow, in)
	require.GreaterOrEqual(t, *calls, 4)
	// Connected → schedule running; ConsentRevoked → paused with a note;
	// Connected again → running. Unchanged checks touch nothing.
	require.Len(t, applied, 3, "one update per change of the schedule's desired state: %+v", applied)
	require.False(t, applied[0].Paused)
	require.Equal(t, domain.Duration(10*time.Minute), applied[0].Every)
	require.True(t, strings.HasSuffix(applied[0].SyncTaskQueue, "-sync"), "the sync runs on its own queue, not %q", applied[0].SyncTaskQueue)
	require.True(t, applied[1].Paused)
	require.Contains(t, applied[1].Note, "ConsentRevoked")
	require.False(t, applied[2].Paused)
}

// A schedule update that hangs (the Temporal server slow to describe the
// schedule) must not hold up the checks: consent restored while the pause
// is still being applied shows Connected at the next check, and the
// schedule is resumed once the pause went through.
func TestChecksGoOnWhileAScheduleUpdateHangs(t *testing.T) {
	env := newEnvWithoutScheduleMock()
	var applied []schedules.EnsureSyncScheduleInput
	record := func(_ context.Context, in schedules.EnsureSyncScheduleInput) (schedules.EnsureSyncScheduleResult, error) {
		applied = append(applied, in)
		return schedules.EnsureSyncScheduleResult{}, nil
	}
	paused := func(in schedules.EnsureSyncScheduleInput) bool { return in.Paused }
	env.OnActivity(sched.EnsureSyncSchedule, mock.Anything, mock.MatchedBy(paused)).After(3 * time.Hour).Return(record)
	env.OnActivity(sched.EnsureSyncSchedule, mock.Anything, mock.MatchedBy(func(in schedules.EnsureSyncScheduleInput) bool { return !paused(in) })).Return(record)
	outcomes := []activities.VerifyConnectionResult{
		verified("Mail.ReadBasic.All", "User.Read.All"),
		{Outcome: activities.OutcomeConsentRevoked, Code: "AADSTS65001"},
		verified("Mail.ReadBasic.All", "User.Read.All"),
	}
	verifyInTurn(env, outcomes...)
	var restored StatusView
	var updatesWhileHung int
	env.RegisterDelayedCallback(func() { restored = queryStatus(t, env); updatesWhileHung = len(applied) }, 2*time.Hour+time.Minute)
	env.RegisterDelayedCallback(func() { env.CancelWorkflow() }, 5*time.Hour)
	env.ExecuteWorkflow(Workflow, baseInput())
	require.Equal(t, StatusConnected, restored.Status, "the check after the restore ran although the pause was still being applied")
	require.Equal(t, 3, restored.Verifications)
	require.Equal(t, 1, updatesWhileHung, "only the first (running) schedule update had finished: %+v", applied)
	require.Len(t, applied, 3, "running, paused (slow), running again: %+v", applied)
	require.False(t, applied[0].Paused)
	require.True(t, applied[1].Paused)
	require.False(t, applied[2].Paused)
}

func recipeNeed(perm, by string, higher ...string) permissions.Need {
	return permissions.Need{Requirement: permissions.Requirement{Permission: perm, SatisfiedBy: higher}, By: by}
}

// A permission an enabled recipe needs and the grant lacks is Missing, and
// Detail names the recipe; the tenant stays Connected because its sync has
// what it needs (the sync schedule runs only while Connected).
func TestARecipeNeedTheGrantLacksIsMissingWhileTheSyncStaysConnected(t *testing.T) {
	env := newEnv(t)
	res := verified("Mail.ReadBasic.All", "User.Read.All", "Contacts.Read")
	res.RecipeNeeds = []permissions.Need{
		recipeNeed("Mail.ReadBasic.All", `recipe ack-vip: trigger newMail`, "Mail.Read", "Mail.ReadWrite"),
		recipeNeed("Mail.Send", `recipe ack-vip: step "ack" (reply)`),
	}
	res.RecipeNeedsKnown = true
	env.OnActivity(a.VerifyConnection, mock.Anything, mock.Anything).Return(res, nil)
	var view StatusView
	env.RegisterDelayedCallback(func() { view = queryStatus(t, env); env.CancelWorkflow() }, time.Minute)
	env.ExecuteWorkflow(Workflow, baseInput())
	require.Equal(t, StatusConnected, view.Status, "a recipe's missing permission must not stop the sync")
	require.Equal(t, []string{"Mail.Send"}, view.Missing)
	require.Equal(t, []string{"Mail.ReadBasic.All", "Mail.Send", "User.Read.All"}, view.Required)
	require.Contains(t, view.Detail, `recipe ack-vip: step "ack" (reply)`)
	require.Len(t, view.Beyond, 1)
	require.Equal(t, "Contacts.Read", view.Beyond[0].Permission)
}

// The worker's signal changes Missing at once, without a new check, and a
// later signal without needs (the recipe disabled) clears it.
func TestRecipeNeedsSignalComparesTheLastGrantWithoutACheck(t *testing.T) {
	env := newEnv(t)
	calls := countVerifications(env, verified("Mail.ReadBasic.All", "User.Read.All"))
	var before, withRecipe, cleared StatusView
	env.RegisterDelayedCallback(func() { before = queryStatus(t, env) }, time.Minute)
	env.RegisterDelayedCallback(func() {
		env.SignalWorkflow(SignalRecipeNeeds, RecipeNeedsSignal{Needs: []permissions.Need{recipeNeed("Mail.ReadWrite", `recipe newsletters: step "file" (move)`)}})
	}, 2*time.Minute)
	env.RegisterDelayedCallback(func() { withRecipe = queryStatus(t, env) }, 3*time.Minute)
	env.RegisterDelayedCallback(func() { env.SignalWorkflow(SignalRecipeNeeds, RecipeNeedsSignal{}) }, 4*time.Minute)
	env.RegisterDelayedCallback(func() { cleared = queryStatus(t, env); env.CancelWorkflow() }, 5*time.Minute)
	env.ExecuteWorkflow(Workflow, baseInput())
	require.Empty(t, before.Missing)
	require.Equal(t, []string{"Mail.ReadWrite"}, withRecipe.Missing)
	require.Equal(t, StatusConnected, withRecipe.Status)
	require.Contains(t, withRecipe.Detail, "newsletters")
	require.Empty(t, cleared.Missing)
	require.Empty(t, cleared.Detail)
	require.Equal(t, 1, *calls, "the signal must not start a check")
}

// A check whose worker cannot tell what the recipes need keeps what the
// connection knew; the needs travel through continue-as-new.
// Recipe needs signalled in the task that continues-as-new (here, with the
// last check's result) reach the next run's state.
func TestRecipeNeedsSignalledInTheLastTaskSurviveContinueAsNew(t *testing.T) {
	env := newEnv(t)
	checks := 0
	env.OnActivity(a.VerifyConnection, mock.Anything, mock.Anything).Return(
		func(ctx context.Context, _ activities.VerifyConnectionInput) (activities.VerifyConnectionResult, error) {
			checks++
			res := verified("Mail.ReadBasic.All", "User.Read.All")
			if checks < 2 {
				return res, nil
			}
			// The signal is buffered and reaches the workflow with this
			// result, in the task that continues-as-new.
			env.SignalWorkflowSkippingWorkflowTask(SignalRecipeNeeds, RecipeNeedsSignal{Needs: []permissions.Need{recipeNeed("Calendars.ReadWrite", "recipe book-it")}})
			if err := env.CompleteActivity(activity.GetInfo(ctx).TaskToken, res, nil); err != nil {
				t.Error(err)
			}
			return activities.VerifyConnectionResult{}, activity.ErrResultPending
		})
	in := baseInput()
	in.ContinueAsNewAfter = 2
	env.ExecuteWorkflow(Workflow, in)
	var can *workflow.ContinueAsNewError
	require.True(t, errors.As(env.GetWorkflowError(), &can), "want continue-as-new, got %v", env.GetWorkflowError())
	var next Input
	require.NoError(t, converter.GetDefaultDataConverter().FromPayloads(can.Input, &next))
	require.Len(t, next.State.RecipeNeeds, 1, "the needs signalled in the last task")
	require.Equal(t, []string{"Calendars.ReadWrite"}, next.State.Missing)
}

func TestRecipeNeedsSurviveAnUnknowingCheckAndContinueAsNew(t *testing.T) {
	env := newEnv(t)
	checks := 0
	env.OnActivity(a.VerifyConnection, mock.Anything, mock.Anything).Return(
		func(context.Context, activities.VerifyConnectionInput) (activities.VerifyConnectionResult, error) {
			checks++
			res := verified("Mail.ReadBasic.All", "User.Read.All")
			if checks == 1 {
				res.RecipeNeeds, res.RecipeNeedsKnown = []permissions.Need{recipeNeed("Calendars.ReadWrite", "recipe book-it")}, true
			}
			return res, nil
		})
	in := baseInput()
	in.ContinueAsNewAfter = 2
	env.ExecuteWorkflow(Workflow, in)
	var can *workflow.ContinueAsNewError
	require.True(t, errors.As(env.GetWorkflowError(), &can), "want continue-as-new, got %v", env.GetWorkflowError())
	var next Input
	require.NoError(t, converter.GetDefaultDataConverter().FromPayloads(can.Input, &next))
	require.Equal(t, []string{"Calendars.ReadWrite"}, next.State.Missing)
	require.Len(t, next.State.RecipeNeeds, 1)
	require.Equal(t, "recipe book-it", next.State.RecipeNeeds[0].By)
}
