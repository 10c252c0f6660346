package user

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/outlookflow/outlookflow/activities"
	"github.com/outlookflow/outlookflow/domain"
)

const signInURL = "https://login.example/authorize?state=contoso.req-1"

func signInInput(flow Flow) SignInInput {
	return SignInInput{TenantKey: "contoso", RequestID: "req-1", LoginHint: "adele@contoso.example", Flow: flow,
		Needed: needed(), VerifyInterval: domain.Duration(time.Hour)}
}

// signInHarness runs one sign-in and records what it asked.
type signInHarness struct {
	env *testsuite.TestWorkflowEnvironment

	mu       sync.Mutex
	begun    []activities.BeginSignInInput
	devices  []activities.DeviceSignInInput
	attached []activities.AttachUserInput
}

func newSignInHarness(t *testing.T) *signInHarness {
	t.Helper()
	var s testsuite.WorkflowTestSuite
	h := &signInHarness{env: s.NewTestWorkflowEnvironment()}
	h.env.SetStartTime(t0)
	h.env.RegisterWorkflowWithOptions(SignIn, workflow.RegisterOptions{Name: SignInWorkflowName})
	h.env.RegisterActivity(&activities.Delegated{})
	h.env.OnActivity(d.BeginUserSignIn, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.BeginSignInInput) (activities.BeginSignInResult, error) {
			h.mu.Lock()
			h.begun = append(h.begun, in)
			h.mu.Unlock()
			return activities.BeginSignInResult{URL: signInURL, ExpiresAt: t0.Add(15 * time.Minute)}, nil
		}).Maybe()
	h.env.OnActivity(d.AttachUser, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.AttachUserInput) (string, error) {
			h.mu.Lock()
			h.attached = append(h.attached, in)
			h.mu.Unlock()
			return ConnectionID(in.TenantKey, in.Account.ObjectID), nil
		}).Maybe()
	return h
}

// onDevice mocks DeviceCodeSignIn, taking `after` (env time) to answer res.
func (h *signInHarness) onDevice(after time.Duration, res activities.DeviceSignInResult) {
	h.env.OnActivity(d.DeviceCodeSignIn, mock.Anything, mock.Anything).After(after).Return(
		func(_ context.Context, in activities.DeviceSignInInput) (activities.DeviceSignInResult, error) {
			h.mu.Lock()
			h.devices = append(h.devices, in)
			h.mu.Unlock()
			return res, nil
		})
}

func (h *signInHarness) progress(t *testing.T) SignInProgress {
	t.Helper()
	val, err := h.env.QueryWorkflow(QuerySignIn)
	require.NoError(t, err)
	var p SignInProgress
	require.NoError(t, val.Get(&p))
	return p
}

func (h *signInHarness) result(t *testing.T) SignInResult {
	t.Helper()
	require.True(t, h.env.IsWorkflowCompleted())
	require.NoError(t, h.env.GetWorkflowError())
	var r SignInResult
	require.NoError(t, h.env.GetWorkflowResult(&r))
	return r
}

func (h *signInHarness) redirect(after time.Duration, r RedirectResult) {
	h.env.RegisterDelayedCallback(func() { h.env.SignalWorkflow(SignalResult, r) }, after)
}

func TestAuthCodeSignInShowsTheURLAndAttachesTheUser(t *testing.T) {
	h := newSignInHarness(t)
	acct := account()
	var waiting SignInProgress
	h.env.RegisterDelayedCallback(func() { waiting = h.progress(t) }, time.Minute)
	h.redirect(3*time.Minute, RedirectResult{Account: &acct})
	h.env.ExecuteWorkflow(SignIn, signInInput(FlowAuthCode))

	r := h.result(t)
	require.Equal(t, signInURL, waiting.URL)
	require.True(t, waiting.ExpiresAt.Equal(t0.Add(15*time.Minute)))
	require.False(t, waiting.Done)
	require.Len(t, h.begun, 1)
	require.Equal(t, activities.BeginSignInInput{TenantKey: "contoso", RequestID: "req-1", LoginHint: "adele@contoso.example", Permissions: allScopes}, h.begun[0])

	require.Len(t, h.attached, 1)
	require.Equal(t, acct, h.attached[0].Account)
	require.Equal(t, "contoso", h.attached[0].TenantKey)
	require.Equal(t, needed(), h.attached[0].Needed)
	require.Equal(t, time.Hour, h.attached[0].VerifyInterval)

	require.True(t, r.Connected)
	require.Equal(t, StatusConnected, r.Status)
	require.Equal(t, "oid-1", r.ObjectID)
	require.Equal(t, "adele@contoso.example", r.Username)
	require.Equal(t, allScopes, r.Scopes)
	require.Equal(t, ConnectionID("contoso", "oid-1"), r.ConnectionID)
	require.Empty(t, r.Code)

	done := h.progress(t)
	require.True(t, done.Done)
	require.NotNil(t, done.Result)
	require.Equal(t, r, *done.Result)
}

func TestAuthCodeSignInWithFewerScopesIsMissingScopes(t *testing.T) {
	h := newSignInHarness(t)
	acct := account()
	acct.Scopes = []string{"Mail.ReadBasic"}
	h.redirect(time.Minute, RedirectResult{Account: &acct})
	h.env.ExecuteWorkflow(SignIn, signInInput(FlowAuthCode))

	r := h.result(t)
	require.Len(t, h.attached, 1, "a user with fewer scopes is attached all the same")
	require.True(t, r.Connected)
	require.Equal(t, StatusMissingScopes, r.Status)
	require.Contains(t, r.Reason, "Calendars.Read")
}

func TestDeclinedConsentIsNotConnected(t *testing.T) {
	h := newSignInHarness(t)
	h.redirect(time.Minute, RedirectResult{Code: "65004", Reason: "AADSTS65004: User declined to consent to access the app."})
	h.env.ExecuteWorkflow(SignIn, signInInput(FlowAuthCode))

	r := h.result(t)
	require.False(t, r.Connected)
	require.Equal(t, "65004", r.Code)
	require.Contains(t, r.Reason, "declined")
	require.Empty(t, r.ConnectionID)
	require.Empty(t, h.attached, "a refused sign-in attaches nobody")
}

func TestSignInTimesOutWithoutARedirect(t *testing.T) {
	h := newSignInHarness(t)
	var before SignInProgress
	h.env.RegisterDelayedCallback(func() { before = h.progress(t) }, 14*time.Minute)
	start := h.env.Now()
	h.env.ExecuteWorkflow(SignIn, signInInput(FlowAuthCode))

	r := h.result(t)
	require.False(t, before.Done, "still waiting at 14 minutes")
	require.False(t, r.Connected)
	require.Equal(t, "timeout", r.Code)
	require.Contains(t, r.Reason, "15m")
	require.Equal(t, 15*time.Minute, h.env.Now().Sub(start), "the sign-in gives up after 15 minutes")
	require.Empty(t, h.attached)
}

func TestDeviceCodeSignInShowsThePromptAndConnects(t *testing.T) {
	h := newSignInHarness(t)
	acct := account()
	acct.Flow = string(FlowDeviceCode)
	h.onDevice(5*time.Minute, activities.DeviceSignInResult{Account: &acct})
	const message = "To sign in, open https://microsoft.com/devicelogin and enter the code ABCD-EFGH."
	var prompted SignInProgress
	h.env.RegisterDelayedCallback(func() {
		h.env.SignalWorkflow(SignalDevice, DevicePrompt{Message: message, ExpiresAt: t0.Add(15 * time.Minute)})
	}, time.Minute)
	h.env.RegisterDelayedCallback(func() { prompted = h.progress(t) }, 2*time.Minute)
	h.env.ExecuteWorkflow(SignIn, signInInput(FlowDeviceCode))

	r := h.result(t)
	require.Equal(t, message, prompted.Message)
	require.True(t, prompted.ExpiresAt.Equal(t0.Add(15*time.Minute)))
	require.False(t, prompted.Done)
	require.Empty(t, h.begun, "the device-code flow needs no sign-in URL")
	require.Len(t, h.devices, 1)
	require.Equal(t, activities.DeviceSignInInput{TenantKey: "contoso", Permissions: allScopes}, h.devices[0])
	require.Len(t, h.attached, 1)
	require.Equal(t, acct, h.attached[0].Account)
	require.True(t, r.Connected)
	require.Equal(t, StatusConnected, r.Status)
	require.Equal(t, ConnectionID("contoso", "oid-1"), r.ConnectionID)
}

func TestDeclinedDeviceCodeIsNotConnected(t *testing.T) {
	h := newSignInHarness(t)
	h.onDevice(time.Minute, activities.DeviceSignInResult{Code: "authorization_declined", Reason: "the user declined the sign-in"})
	h.env.ExecuteWorkflow(SignIn, signInInput(FlowDeviceCode))

	r := h.result(t)
	require.False(t, r.Connected)
	require.Equal(t, "authorization_declined", r.Code)
	require.Equal(t, "the user declined the sign-in", r.Reason)
	require.Empty(t, h.attached)
}

func TestSignInRejectsBadInput(t *testing.T) {
	h := newSignInHarness(t)
	in := signInInput(FlowAuthCode)
	in.RequestID = ""
	h.env.ExecuteWorkflow(SignIn, in)
	require.ErrorContains(t, h.env.GetWorkflowError(), "request ID")
}
