package user

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
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
	"github.com/outlookflow/outlookflow/domain"
	"github.com/outlookflow/outlookflow/internal/permissions"
	"github.com/outlookflow/outlookflow/workflows/tenant"
)

// t0 is every test run's start: the tests measure time from it.
var t0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

// needed are the delegated scopes the tests' tenant needs: mail and calendar.
func needed() []permissions.Need {
	return permissions.FeatureNeeds([]string{"mail", "calendar"}, true)
}

// allScopes cover needed(); Scopes(needed()) asks for exactly these.
var allScopes = []string{"Calendars.Read", "Mail.ReadBasic"}

func account() Account {
	return Account{ObjectID: "oid-1", TenantID: "tid", HomeAccountID: "home-1", Username: "adele@contoso.example", Scopes: allScopes, Flow: string(FlowAuthCode)}
}

func connInput() ConnectionInput {
	return ConnectionInput{TenantKey: "contoso", ObjectID: "oid-1", VerifyInterval: domain.Duration(time.Hour), Needed: needed()}
}

func scopes(s ...string) activities.CheckUserResult { return activities.CheckUserResult{Scopes: s} }

func reauth(code string) activities.CheckUserResult {
	return activities.CheckUserResult{ReauthCode: code, Reason: "AADSTS" + code + ": the refresh token was revoked"}
}

// connHarness runs one connection and records what it did.
type connHarness struct {
	env *testsuite.TestWorkflowEnvironment

	mu sync.Mutex // mocks run on their own goroutines
	// statuses are the OutlookflowConnectionStatus values upserted, in order;
	// tenantKeys the OutlookflowTenant values alongside.
	statuses   []string
	tenantKeys []string
	// signals are the SignalUserStatus signals sent, in order; targets the
	// workflow IDs and names they went to.
	signals []tenant.UserStatusSignal
	targets []string
	// checks are the CheckUserConnection calls, in order.
	checks []activities.CheckUserInput
}

func newConnHarness(t *testing.T) *connHarness {
	t.Helper()
	var s testsuite.WorkflowTestSuite
	h := &connHarness{env: s.NewTestWorkflowEnvironment()}
	h.env.SetStartTime(t0)
	h.env.RegisterWorkflowWithOptions(Connection, workflow.RegisterOptions{Name: ConnectionWorkflowName})
	h.env.RegisterActivity(&activities.Delegated{})
	h.env.OnUpsertTypedSearchAttributes(mock.Anything).Run(func(args mock.Arguments) {
		sa := args.Get(0).(temporal.SearchAttributes)
		status, ok := sa.GetKeyword(tenant.SearchAttrStatus)
		if !ok {
			status = "<no status>"
		}
		key, _ := sa.GetKeyword(tenant.SearchAttrTenant)
		h.mu.Lock()
		h.statuses = append(h.statuses, status)
		h.tenantKeys = append(h.tenantKeys, key)
		h.mu.Unlock()
	}).Return()
	h.env.OnSignalExternalWorkflow(mock.Anything, mock.Anything, mock.Anything, mock.Anything, mock.Anything).Return(
		func(_, workflowID, _, signalName string, arg any) error {
			sig, _ := arg.(tenant.UserStatusSignal)
			h.mu.Lock()
			h.signals = append(h.signals, sig)
			h.targets = append(h.targets, workflowID+" "+signalName)
			h.mu.Unlock()
			return nil
		})
	return h
}

// onChecks mocks CheckUserConnection: call n (from 1) is recorded and
// answered by answer(n).
func (h *connHarness) onChecks(answer func(n int) (activities.CheckUserResult, error)) *testsuite.MockCallWrapper {
	return h.env.OnActivity(d.CheckUserConnection, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.CheckUserInput) (activities.CheckUserResult, error) {
			h.mu.Lock()
			h.checks = append(h.checks, in)
			n := len(h.checks)
			h.mu.Unlock()
			return answer(n)
		})
}

// answers answers call n with results[n-1], the last one from then on.
func answers(results ...activities.CheckUserResult) func(int) (activities.CheckUserResult, error) {
	return func(n int) (activities.CheckUserResult, error) {
		return results[min(n, len(results))-1], nil
	}
}

func (h *connHarness) calls() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.checks)
}

func (h *connHarness) upserted() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.statuses...)
}

func (h *connHarness) signalled() []tenant.UserStatusSignal {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]tenant.UserStatusSignal(nil), h.signals...)
}

// signIn sends SignedIn after delay (0: right after the start, as
// signal-with-start does).
func (h *connHarness) signIn(acct Account, delay time.Duration) {
	h.env.RegisterDelayedCallback(func() { h.env.SignalWorkflow(SignalSignIn, SignedIn{Account: acct}) }, delay)
}

func (h *connHarness) status(t *testing.T) StatusView {
	t.Helper()
	val, err := h.env.QueryWorkflow(QueryStatus)
	require.NoError(t, err)
	var v StatusView
	require.NoError(t, val.Get(&v))
	return v
}

// at runs f at t0+offset.
func (h *connHarness) at(offset time.Duration, f func()) { h.env.RegisterDelayedCallback(f, offset) }

// cancelAt cancels the (forever-running) workflow at t0+offset.
func (h *connHarness) cancelAt(offset time.Duration) { h.at(offset, h.env.CancelWorkflow) }

type updateResult struct {
	done bool
	view StatusView
	err  error
}

func (u *updateResult) callbacks() *testsuite.TestUpdateCallback {
	return &testsuite.TestUpdateCallback{
		OnAccept:   func() {},
		OnReject:   func(err error) { u.done, u.err = true, err },
		OnComplete: func(v any, err error) { u.done, u.err = true, err; u.view, _ = v.(StatusView) },
	}
}

func TestFirstCheckWaitsForTheSignInThenConnects(t *testing.T) {
	h := newConnHarness(t)
	h.onChecks(answers(scopes(allScopes...)))
	var before, after StatusView
	var callsBefore int
	h.at(time.Minute, func() { before = h.status(t); callsBefore = h.calls() })
	h.signIn(account(), 5*time.Minute)
	h.at(6*time.Minute, func() { after = h.status(t) })
	h.cancelAt(7 * time.Minute)
	h.env.ExecuteWorkflow(Connection, connInput())

	require.Zero(t, callsBefore, "no check before the user's SignedIn signal")
	require.Equal(t, StatusChecking, before.Status)
	require.Equal(t, 1, h.calls())
	in := h.checks[0]
	require.Equal(t, "contoso", in.TenantKey)
	require.Equal(t, account(), in.Account, "the check must use the signed-in account")
	require.Equal(t, allScopes, in.Permissions, "the check asks for the minimal set of the needs")
	require.Equal(t, StatusConnected, after.Status, "detail: %s", after.Detail)
	require.Empty(t, after.Missing)
	require.Equal(t, "adele@contoso.example", after.Username)
	require.Equal(t, allScopes, after.Scopes)
	require.True(t, after.LastCheckedAt.Equal(t0.Add(5*time.Minute)), "last checked %s", after.LastCheckedAt)
	require.True(t, after.NextCheckAt.Equal(t0.Add(65*time.Minute)), "next check %s", after.NextCheckAt)
}

func TestFewerScopesAreMissingScopes(t *testing.T) {
	h := newConnHarness(t)
	h.onChecks(answers(scopes("Mail.ReadBasic", "User.Read")))
	var view StatusView
	h.signIn(account(), 0)
	h.at(time.Minute, func() { view = h.status(t) })
	h.cancelAt(2 * time.Minute)
	h.env.ExecuteWorkflow(Connection, connInput())

	require.Equal(t, StatusMissingScopes, view.Status)
	require.Equal(t, []string{"Calendars.Read"}, view.Missing)
	require.Contains(t, view.Detail, "Calendars.Read")
	require.Equal(t, []string{"Mail.ReadBasic", "User.Read"}, view.Scopes, "the scopes the check saw replace the sign-in's")
}

// Transient failures are retried within the check's budget; after it the
// user shows Unreachable, and the next interval checks again.
func TestFailingChecksAreUnreachable(t *testing.T) {
	h := newConnHarness(t)
	var failing atomic.Bool
	failing.Store(true)
	var view, later StatusView
	h.onChecks(func(int) (activities.CheckUserResult, error) {
		if failing.Load() {
			return activities.CheckUserResult{}, errors.New("identity platform unavailable (HTTP 503)")
		}
		return scopes(allScopes...), nil
	})
	h.signIn(account(), 0)
	h.at(45*time.Minute, func() { view = h.status(t); failing.Store(false) })
	h.at(100*time.Minute, func() { later = h.status(t) })
	h.cancelAt(2 * time.Hour)
	h.env.ExecuteWorkflow(Connection, connInput())

	require.Equal(t, StatusUnreachable, view.Status)
	require.Contains(t, view.Detail, "HTTP 503")
	require.Greater(t, len(h.checks), 2, "transient failures are retried")
	require.Equal(t, StatusConnected, later.Status)
}

// A refused refresh token never comes back by itself: no checks until the
// user signs in again, then a check at once.
func TestReauthRequiredWaitsForANewSignIn(t *testing.T) {
	h := newConnHarness(t)
	h.onChecks(answers(reauth("50173"), scopes(allScopes...)))
	again := account()
	again.HomeAccountID = "home-2"
	var refused, afterSignIn StatusView
	var callsWhileRefused int
	h.signIn(account(), 0)
	h.at(time.Minute, func() { refused = h.status(t) })
	h.at(5*time.Hour, func() { callsWhileRefused = h.calls() })
	h.signIn(again, 5*time.Hour+time.Minute)
	h.at(5*time.Hour+2*time.Minute, func() { afterSignIn = h.status(t) })
	h.cancelAt(5*time.Hour + 3*time.Minute)
	h.env.ExecuteWorkflow(Connection, connInput())

	require.Equal(t, StatusReauthRequired, refused.Status)
	require.Equal(t, "50173", refused.Code)
	require.Contains(t, refused.Detail, "connect-user")
	require.True(t, refused.NextCheckAt.IsZero(), "no next check is planned for a refused token")
	require.Equal(t, 1, callsWhileRefused, "a refused token must not be checked again until the user signs in")
	require.Equal(t, 2, h.calls())
	require.Equal(t, "home-2", h.checks[1].Account.HomeAccountID, "the new sign-in's account is checked")
	require.Equal(t, StatusConnected, afterSignIn.Status)
	require.Empty(t, afterSignIn.Code)
	require.True(t, afterSignIn.LastCheckedAt.Equal(t0.Add(5*time.Hour+time.Minute)), "checked at %s", afterSignIn.LastCheckedAt)
}

func TestRechecksEveryVerifyInterval(t *testing.T) {
	h := newConnHarness(t)
	h.onChecks(answers(scopes(allScopes...), scopes(allScopes...), scopes("Mail.ReadBasic")))
	counts := map[time.Duration]int{}
	for _, at := range []time.Duration{30 * time.Minute, 90 * time.Minute, 150 * time.Minute, 210 * time.Minute} {
		h.at(at, func() { counts[at] = h.calls() })
	}
	var third StatusView
	h.at(150*time.Minute, func() { third = h.status(t) })
	h.signIn(account(), 0)
	h.cancelAt(4 * time.Hour)
	h.env.ExecuteWorkflow(Connection, connInput())

	require.Equal(t, map[time.Duration]int{30 * time.Minute: 1, 90 * time.Minute: 2, 150 * time.Minute: 3, 210 * time.Minute: 4}, counts)
	require.Equal(t, StatusMissingScopes, third.Status, "a periodic check sees a narrowed consent")
	require.True(t, third.LastCheckedAt.Equal(t0.Add(2*time.Hour)), "checked at %s", third.LastCheckedAt)
}

func TestPauseStopsChecksAndResumeChecksAtOnce(t *testing.T) {
	h := newConnHarness(t)
	h.onChecks(answers(scopes(allScopes...)))
	var paused, resumed, tooLong, pausedAgain, resumedEarly updateResult
	var whilePaused StatusView
	var callsWhilePaused int
	h.signIn(account(), 0)
	h.at(10*time.Minute, func() {
		h.env.UpdateWorkflow(UpdatePause, "long", tooLong.callbacks(), PauseRequest{Reason: strings.Repeat("x", MaxReasonText+1)})
		h.env.UpdateWorkflow(UpdatePause, "p", paused.callbacks(), PauseRequest{Reason: "maintenance"})
	})
	h.at(5*time.Hour, func() { whilePaused = h.status(t); callsWhilePaused = h.calls() })
	h.at(5*time.Hour+time.Minute, func() { h.env.UpdateWorkflow(UpdateResume, "r", resumed.callbacks(), nil) })
	// Paused and resumed again well within the interval: the resume checks
	// at once all the same, not when the interval is up.
	h.at(5*time.Hour+10*time.Minute, func() { h.env.UpdateWorkflow(UpdatePause, "p2", pausedAgain.callbacks(), PauseRequest{}) })
	h.at(5*time.Hour+20*time.Minute, func() { h.env.UpdateWorkflow(UpdateResume, "r2", resumedEarly.callbacks(), nil) })
	h.cancelAt(5*time.Hour + 30*time.Minute)
	h.env.ExecuteWorkflow(Connection, connInput())

	require.ErrorContains(t, tooLong.err, "keep it to 200")
	require.NoError(t, paused.err)
	require.Equal(t, StatusPaused, paused.view.Status)
	require.Equal(t, StatusPaused, whilePaused.Status)
	require.Equal(t, "maintenance", whilePaused.PauseReason)
	require.True(t, whilePaused.NextCheckAt.IsZero(), "a paused user has no next check")
	require.Equal(t, 1, callsWhilePaused, "no check may run while paused")
	require.True(t, resumed.done, "resume must answer")
	require.NoError(t, resumed.err)
	require.Equal(t, StatusConnected, resumed.view.Status)
	require.Empty(t, resumed.view.PauseReason)
	require.True(t, resumed.view.LastCheckedAt.Equal(t0.Add(5*time.Hour+time.Minute)), "resume must check at once; checked at %s", resumed.view.LastCheckedAt)
	require.NoError(t, pausedAgain.err)
	require.NoError(t, resumedEarly.err)
	require.True(t, resumedEarly.view.LastCheckedAt.Equal(t0.Add(5*time.Hour+20*time.Minute)), "resume must check at once; checked at %s", resumedEarly.view.LastCheckedAt)
	require.Equal(t, 3, h.calls())
}

func TestCheckNowWhileIdleChecksAtOnce(t *testing.T) {
	h := newConnHarness(t)
	h.onChecks(answers(scopes(allScopes...), reauth("50173")))
	var now updateResult
	h.signIn(account(), 0)
	h.at(20*time.Minute, func() { h.env.UpdateWorkflow(UpdateCheck, "c", now.callbacks(), nil) })
	h.cancelAt(30 * time.Minute)
	h.env.ExecuteWorkflow(Connection, connInput())

	require.NoError(t, now.err)
	require.Equal(t, StatusReauthRequired, now.view.Status)
	require.True(t, now.view.LastCheckedAt.Equal(t0.Add(20*time.Minute)), "checked at %s", now.view.LastCheckedAt)
	require.Equal(t, 2, h.calls())
}

// A paused user is not checked, so check-now answers at once with Paused
// rather than wait for the resume.
func TestCheckNowWhilePausedAnswersAtOnce(t *testing.T) {
	h := newConnHarness(t)
	h.onChecks(answers(scopes(allScopes...)))
	var paused, now updateResult
	var answeredBy bool
	h.signIn(account(), 0)
	h.at(10*time.Minute, func() { h.env.UpdateWorkflow(UpdatePause, "p", paused.callbacks(), PauseRequest{}) })
	h.at(20*time.Minute, func() { h.env.UpdateWorkflow(UpdateCheck, "c", now.callbacks(), nil) })
	h.at(21*time.Minute, func() { answeredBy = now.done })
	h.cancelAt(3 * time.Hour)
	h.env.ExecuteWorkflow(Connection, connInput())

	require.True(t, answeredBy, "check-now on a paused user must answer at once")
	require.NoError(t, now.err)
	require.Equal(t, StatusPaused, now.view.Status)
	require.Equal(t, 1, h.calls())
}

// A check already running when check-now arrives may have used the token
// before a revocation: the answer must come from a check started after it.
func TestCheckNowDuringARunningCheckWaitsForTheNextOne(t *testing.T) {
	h := newConnHarness(t)
	// Each check takes ten minutes (throttled, say); the token is revoked
	// while the first runs.
	h.onChecks(answers(scopes(allScopes...), reauth("50173"))).After(10 * time.Minute)
	var now updateResult
	var during StatusView
	h.signIn(account(), 0)
	h.at(time.Minute, func() { h.env.UpdateWorkflow(UpdateCheck, "c", now.callbacks(), nil) })
	h.at(15*time.Minute, func() { during = h.status(t) })
	h.cancelAt(time.Hour)
	h.env.ExecuteWorkflow(Connection, connInput())

	require.Equal(t, StatusConnected, during.Status, "the first check ended Connected")
	require.False(t, during.LastCheckedAt.IsZero())
	require.NoError(t, now.err)
	require.True(t, now.done)
	require.Equal(t, StatusReauthRequired, now.view.Status, "check-now must answer with the check that started after it")
	require.True(t, now.view.LastCheckedAt.Equal(t0.Add(20*time.Minute)), "answered with the check ending %s", now.view.LastCheckedAt)
	require.Equal(t, 2, h.calls())
}

// Search attributes and the tenant's signal follow the status, once per
// change; a refusal's code travels with it.
func TestStatusChangesAreUpsertedAndToldToTheTenant(t *testing.T) {
	h := newConnHarness(t)
	h.onChecks(answers(scopes(allScopes...), scopes(allScopes...), scopes("Mail.ReadBasic"), scopes(allScopes...), reauth("50173")))
	var checked updateResult
	h.signIn(account(), 0)
	// Checks at 0 (Connected), 1h (unchanged), 2h (MissingScopes), 2h30
	// (check-now: Connected), 3h30 (ReauthRequired).
	h.at(2*time.Hour+30*time.Minute, func() { h.env.UpdateWorkflow(UpdateCheck, "c", checked.callbacks(), nil) })
	h.cancelAt(4 * time.Hour)
	h.env.ExecuteWorkflow(Connection, connInput())

	require.NoError(t, checked.err)
	require.Equal(t, StatusConnected, checked.view.Status)
	require.Equal(t, 5, h.calls())
	want := []string{"Checking", "Connected", "MissingScopes", "Connected", "ReauthRequired"}
	require.Equal(t, want, h.upserted())
	for _, k := range h.tenantKeys {
		require.Equal(t, "contoso", k)
	}
	sigs := h.signalled()
	var got []string
	for _, s := range sigs {
		got = append(got, s.Status)
		require.Equal(t, "oid-1", s.ObjectID)
	}
	require.Equal(t, want, got)
	require.Equal(t, "50173", sigs[len(sigs)-1].Code)
	require.Empty(t, sigs[len(sigs)-2].Code)
	for _, target := range h.targets {
		require.Equal(t, tenant.WorkflowID("contoso")+" "+tenant.SignalUserStatus, target)
	}
}

// Regression test for a bug the first version had (fixed with this test).
func TestPauseAndResumeArePublished(t *testing.T) {
	h := newConnHarness(t)
	h.onChecks(answers(scopes(allScopes...)))
	var paused, resumed updateResult
	h.signIn(account(), 0)
	h.at(10*time.Minute, func() {
		h.env.UpdateWorkflow(UpdatePause, "p", paused.callbacks(), PauseRequest{Reason: "maintenance"})
	})
	h.at(20*time.Minute, func() { h.env.UpdateWorkflow(UpdateResume, "r", resumed.callbacks(), nil) })
	h.cancelAt(30 * time.Minute)
	h.env.ExecuteWorkflow(Connection, connInput())

	require.NoError(t, paused.err)
	require.True(t, paused.view.StatusSince.Equal(t0.Add(10*time.Minute)), "paused since %s", paused.view.StatusSince)
	require.NoError(t, resumed.err)
	// The first two (Checking at start, Connected after the first check)
	// are TestStatusChangesAreUpsertedAndToldToTheTenant's; here the
	// pause and the resume must follow them, each published once.
	upserted := h.upserted()
	require.Len(t, upserted, 4)
	require.ElementsMatch(t, []string{"Checking", "Connected"}, upserted[:2])
	require.Equal(t, []string{"Paused", "Connected"}, upserted[2:])
	var got []string
	for _, s := range h.signalled() {
		got = append(got, s.Status)
	}
	require.Len(t, got, 4)
	require.Equal(t, []string{"Paused", "Connected"}, got[2:])
}

func TestContinuesAsNewAfterChecksPerRunCarryingState(t *testing.T) {
	h := newConnHarness(t)
	h.onChecks(answers(scopes("Mail.ReadBasic")))
	in := connInput()
	in.VerifyInterval = domain.Duration(time.Second)
	h.signIn(account(), 0)
	h.cancelAt(2 * time.Hour) // far beyond checksPerRun seconds
	h.env.ExecuteWorkflow(Connection, in)

	var can *workflow.ContinueAsNewError
	require.True(t, errors.As(h.env.GetWorkflowError(), &can), "want continue-as-new, got %v", h.env.GetWorkflowError())
	require.Equal(t, ConnectionWorkflowName, can.WorkflowType.Name)
	require.Equal(t, checksPerRun, h.calls())
	var next ConnectionInput
	require.NoError(t, converter.GetDefaultDataConverter().FromPayloads(can.Input, &next))
	require.Equal(t, "oid-1", next.ObjectID)
	require.Equal(t, "contoso", next.TenantKey)
	require.Len(t, next.Needed, 2)
	require.NotNil(t, next.State)
	require.Equal(t, checksPerRun, next.State.Checks)
	require.Equal(t, StatusMissingScopes, next.State.Status)
	require.Equal(t, []string{"Calendars.Read"}, next.State.Missing)
	require.Equal(t, "home-1", next.State.Account.HomeAccountID)
	require.False(t, next.State.LastCheckedAt.IsZero())
}

// Signals that land in the workflow task that continues-as-new (here, with
// the last check's result) are applied, not lost with the run: a recipe
// enabled then still shows as MissingScopes in the next run, and a sign-in
// then is checked before the run closes.
func TestSignalsInTheLastTaskAreAppliedBeforeContinueAsNew(t *testing.T) {
	h := newConnHarness(t)
	wider := append(needed(), permissions.Need{Requirement: permissions.Requirement{Permission: "Contacts.Read"}, By: "recipe add-contact"})
	relogged := account()
	relogged.HomeAccountID = "home-2"
	h.env.OnActivity(d.CheckUserConnection, mock.Anything, mock.Anything).Return(
		func(ctx context.Context, in activities.CheckUserInput) (activities.CheckUserResult, error) {
			h.mu.Lock()
			h.checks = append(h.checks, in)
			n := len(h.checks)
			h.mu.Unlock()
			if n != checksPerRun {
				return scopes(allScopes...), nil
			}
			// Both signals are buffered and reach the workflow with the
			// last check's result, in the task that continues-as-new.
			h.env.SignalWorkflowSkippingWorkflowTask(SignalNeeds, NeedsChanged{Needed: wider})
			h.env.SignalWorkflowSkippingWorkflowTask(SignalSignIn, SignedIn{Account: relogged})
			if err := h.env.CompleteActivity(activity.GetInfo(ctx).TaskToken, scopes(allScopes...), nil); err != nil {
				t.Error(err)
			}
			return activities.CheckUserResult{}, activity.ErrResultPending
		})
	in := connInput()
	in.VerifyInterval = domain.Duration(time.Second)
	h.signIn(account(), 0)
	h.cancelAt(2 * time.Hour)
	h.env.ExecuteWorkflow(Connection, in)

	var can *workflow.ContinueAsNewError
	require.True(t, errors.As(h.env.GetWorkflowError(), &can), "want continue-as-new, got %v", h.env.GetWorkflowError())
	var next ConnectionInput
	require.NoError(t, converter.GetDefaultDataConverter().FromPayloads(can.Input, &next))
	require.Len(t, next.Needed, 3, "the needs signalled in the last task")
	require.Equal(t, StatusMissingScopes, next.State.Status)
	require.Equal(t, []string{"Contacts.Read"}, next.State.Missing)
	require.Equal(t, "home-2", next.State.Account.HomeAccountID, "the sign-in signalled in the last task")
	require.Equal(t, checksPerRun+1, h.calls(), "the new sign-in is checked before the run closes")
}

// The server's suggestion continues-as-new too.
func TestContinuesAsNewWhenSuggested(t *testing.T) {
	h := newConnHarness(t)
	h.onChecks(answers(scopes(allScopes...)))
	h.signIn(account(), 0)
	h.at(90*time.Minute, func() { h.env.SetContinueAsNewSuggested(true) })
	h.cancelAt(5 * time.Hour)
	h.env.ExecuteWorkflow(Connection, connInput())

	var can *workflow.ContinueAsNewError
	require.True(t, errors.As(h.env.GetWorkflowError(), &can), "want continue-as-new, got %v", h.env.GetWorkflowError())
	var next ConnectionInput
	require.NoError(t, converter.GetDefaultDataConverter().FromPayloads(can.Input, &next))
	require.NotNil(t, next.State)
	require.Equal(t, StatusConnected, next.State.Status)
	// The suggestion at 1h30 is seen when the loop next turns: after the
	// check at 2h.
	require.Equal(t, 3, next.State.Checks)
}

// A continued run waits out the interval from the last check (no check at
// once) and keeps a refused token refused until the user signs in again.
func TestContinuedRunKeepsItsState(t *testing.T) {
	t.Run("connected", func(t *testing.T) {
		h := newConnHarness(t)
		h.onChecks(answers(scopes(allScopes...)))
		in := connInput()
		in.State = &ConnectionState{Status: StatusConnected, StatusSince: t0.Add(-48 * time.Hour), Account: account(),
			LastCheckedAt: t0.Add(-30 * time.Minute), Checks: 7}
		var first StatusView
		var callsAt20, callsAt40 int
		h.at(time.Minute, func() { first = h.status(t) })
		h.at(20*time.Minute, func() { callsAt20 = h.calls() })
		h.at(40*time.Minute, func() { callsAt40 = h.calls() })
		h.cancelAt(45 * time.Minute)
		h.env.ExecuteWorkflow(Connection, in)

		require.Equal(t, StatusConnected, first.Status)
		require.True(t, first.StatusSince.Equal(t0.Add(-48*time.Hour)))
		require.Equal(t, 0, callsAt20, "a continued run waits out the interval")
		require.Equal(t, 1, callsAt40)
		require.Equal(t, []string{"Connected"}, h.upserted(), "a continued run publishes its status at start")
	})
	t.Run("reauth", func(t *testing.T) {
		h := newConnHarness(t)
		h.onChecks(answers(scopes(allScopes...)))
		in := connInput()
		in.State = &ConnectionState{Status: StatusReauthRequired, Code: "50173", Account: account(), LastCheckedAt: t0.Add(-2 * time.Hour)}
		var refused StatusView
		h.at(3*time.Hour, func() { refused = h.status(t) })
		h.cancelAt(3*time.Hour + time.Minute)
		h.env.ExecuteWorkflow(Connection, in)

		require.Zero(t, h.calls())
		require.Equal(t, StatusReauthRequired, refused.Status)
		require.Equal(t, "50173", refused.Code)
		sigs := h.signalled()
		require.Len(t, sigs, 1)
		require.Equal(t, "50173", sigs[0].Code)
	})
}

// Regression test for a bug the first version had (fixed with this test).
func TestContinueAsNewServesACheckNowWaitingForACheck(t *testing.T) {
	h := newConnHarness(t)
	h.onChecks(answers(scopes(allScopes...))).After(10 * time.Minute)
	var now updateResult
	h.signIn(account(), 0)
	// Arrives while the first check runs, so it waits for a second one; the
	// server suggests continue-as-new meanwhile.
	h.at(time.Minute, func() { h.env.UpdateWorkflow(UpdateCheck, "c", now.callbacks(), nil) })
	h.at(2*time.Minute, func() { h.env.SetContinueAsNewSuggested(true) })
	h.cancelAt(3 * time.Hour)
	h.env.ExecuteWorkflow(Connection, connInput())

	require.True(t, now.done, "check-now was never answered")
	require.NoError(t, now.err)
	require.Equal(t, StatusConnected, now.view.Status)
	var can *workflow.ContinueAsNewError
	require.True(t, errors.As(h.env.GetWorkflowError(), &can), "want continue-as-new, got %v", h.env.GetWorkflowError())
}

func TestConnectionRejectsBadInput(t *testing.T) {
	h := newConnHarness(t)
	in := connInput()
	in.VerifyInterval = domain.Duration(500 * time.Millisecond)
	h.env.ExecuteWorkflow(Connection, in)
	require.ErrorContains(t, h.env.GetWorkflowError(), "verify interval")
}

// A recipe enabled after the user signed in needs a scope they never
// consented to: the needs signal makes them MissingScopes at once, from the
// scopes their last check saw, without asking the identity platform; the
// periodic check then asks only for what they consented to (asking for
// more would be refused as a dead sign-in, AADSTS65001) and keeps them
// MissingScopes; the recipe disabled again, they are Connected.
func TestNeedsChangedComparesTheConsentedScopesWithoutACheck(t *testing.T) {
	h := newConnHarness(t)
	h.onChecks(answers(scopes(allScopes...)))
	withSend := append(needed(), permissions.Need{Requirement: permissions.Requirement{Permission: "Mail.Send"}, By: `recipe ack: step "ack" (reply)`})
	var afterEnable, afterCheck, afterDisable StatusView
	var callsAfterEnable int
	h.signIn(account(), 0)
	h.at(10*time.Minute, func() { h.env.SignalWorkflow(SignalNeeds, NeedsChanged{Needed: withSend}) })
	h.at(11*time.Minute, func() { afterEnable = h.status(t); callsAfterEnable = h.calls() })
	h.at(61*time.Minute, func() { afterCheck = h.status(t) })
	h.at(70*time.Minute, func() { h.env.SignalWorkflow(SignalNeeds, NeedsChanged{Needed: needed()}) })
	h.at(71*time.Minute, func() { afterDisable = h.status(t) })
	h.cancelAt(72 * time.Minute)
	h.env.ExecuteWorkflow(Connection, connInput())

	require.Equal(t, 1, callsAfterEnable, "the needs signal must not call the identity platform")
	require.Equal(t, StatusMissingScopes, afterEnable.Status, "detail: %s", afterEnable.Detail)
	require.Equal(t, []string{"Mail.Send"}, afterEnable.Missing)
	require.Equal(t, 2, h.calls(), "one periodic check after an hour")
	require.Equal(t, allScopes, h.checks[1].Permissions, "the check asks only for the consented scopes")
	require.Equal(t, StatusMissingScopes, afterCheck.Status)
	require.Equal(t, StatusConnected, afterDisable.Status, "detail: %s", afterDisable.Detail)
	require.Empty(t, afterDisable.Missing)
	require.Equal(t, []string{"Checking", "Connected", "MissingScopes", "Connected"}, h.upserted())
	var told []string
	for _, s := range h.signalled() {
		told = append(told, s.Status)
	}
	require.Equal(t, []string{"Checking", "Connected", "MissingScopes", "Connected"}, told, "the tenant hears each change")
}
