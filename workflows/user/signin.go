package user

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/outlookflow/outlookflow/activities"
	"github.com/outlookflow/outlookflow/internal/permissions"
)

var d *activities.Delegated

// signInTimeout bounds a sign-in: the user has this long to finish in the
// browser or enter the device code (Entra's device codes last 15 minutes).
const signInTimeout = 15 * time.Minute

var quickOptions = workflow.ActivityOptions{
	StartToCloseTimeout: 30 * time.Second,
	RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, MaximumInterval: 30 * time.Second, MaximumAttempts: 10},
}

// SignIn runs one `starter connect-user`: it gets the URL (or the device
// code prompt) the user needs, shows it through QuerySignIn, waits for the
// outcome, and on success hands the account to the user's connection. Its
// result says Connected or why not (declined consent: AADSTS65004).
func SignIn(ctx workflow.Context, in SignInInput) (SignInResult, error) {
	if in.TenantKey == "" || in.RequestID == "" {
		return SignInResult{}, temporal.NewNonRetryableApplicationError("tenant key and request ID are required", "InvalidInput", nil)
	}
	var progress SignInProgress
	if err := workflow.SetQueryHandler(ctx, QuerySignIn, func() (SignInProgress, error) { return progress, nil }); err != nil {
		return SignInResult{}, err
	}
	workflow.GetLogger(ctx).Info("sign-in started", "tenant", in.TenantKey, "flow", in.Flow)
	finish := func(r SignInResult) (SignInResult, error) {
		progress.Done, progress.Result = true, &r
		return r, nil
	}

	var outcome RedirectResult
	switch in.Flow {
	case FlowDeviceCode:
		prompts := workflow.GetSignalChannel(ctx, SignalDevice)
		workflow.Go(ctx, func(ctx workflow.Context) {
			for {
				var p DevicePrompt
				prompts.Receive(ctx, &p)
				progress.Message, progress.ExpiresAt = p.Message, p.ExpiresAt
			}
		})
		var res activities.DeviceSignInResult
		opts := workflow.ActivityOptions{
			StartToCloseTimeout: signInTimeout + time.Minute,
			HeartbeatTimeout:    30 * time.Second,
			// A worker that dies mid-poll loses MSAL's poll; a new device
			// code is asked for, and the prompt updated.
			RetryPolicy: &temporal.RetryPolicy{InitialInterval: time.Second, MaximumAttempts: 3},
		}
		if err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, opts), d.DeviceCodeSignIn,
			activities.DeviceSignInInput{TenantKey: in.TenantKey, Permissions: Scopes(in.Needed)}).Get(ctx, &res); err != nil {
			return finish(SignInResult{Code: "error", Reason: "the device-code sign-in failed: " + err.Error()})
		}
		outcome = RedirectResult{Account: res.Account, Code: res.Code, Reason: res.Reason}
	default:
		var begun activities.BeginSignInResult
		if err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, quickOptions), d.BeginUserSignIn,
			activities.BeginSignInInput{TenantKey: in.TenantKey, RequestID: in.RequestID, LoginHint: in.LoginHint, Permissions: Scopes(in.Needed)}).Get(ctx, &begun); err != nil {
			return finish(SignInResult{Code: "error", Reason: "could not start the sign-in: " + err.Error()})
		}
		progress.URL, progress.ExpiresAt = begun.URL, begun.ExpiresAt
		redirects := workflow.GetSignalChannel(ctx, SignalResult)
		got, err := receiveWithin(ctx, redirects, signInTimeout, &outcome)
		if err != nil {
			return SignInResult{}, err
		}
		if !got {
			return finish(SignInResult{Code: "timeout", Reason: fmt.Sprintf("nobody finished the sign-in within %s; run connect-user again", signInTimeout)})
		}
	}
	if outcome.Account == nil {
		return finish(SignInResult{Code: outcome.Code, Reason: outcome.Reason})
	}
	acct := *outcome.Account
	var connID string
	if err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, quickOptions), d.AttachUser, activities.AttachUserInput{
		TenantKey: in.TenantKey, Account: acct, Needed: in.Needed, VerifyInterval: in.VerifyInterval.Std(),
	}).Get(ctx, &connID); err != nil {
		return finish(SignInResult{Code: "error", Reason: "signed in, but the user's connection could not start: " + err.Error()})
	}
	missing := permissions.Compare(in.Needed, acct.Scopes).Lacking
	status := StatusConnected
	reason := ""
	if len(missing) > 0 {
		status, reason = StatusMissingScopes, fmt.Sprintf("the user consented without %v; the features need them", missing)
	}
	return finish(SignInResult{Connected: true, ObjectID: acct.ObjectID, Username: acct.Username, Scopes: acct.Scopes,
		ConnectionID: connID, Status: status, Reason: reason})
}

// receiveWithin receives one value from ch, or gives up after d.
func receiveWithin(ctx workflow.Context, ch workflow.ReceiveChannel, d time.Duration, v any) (bool, error) {
	timerCtx, cancel := workflow.WithCancel(ctx)
	defer cancel()
	timer := workflow.NewTimer(timerCtx, d)
	got := false
	sel := workflow.NewSelector(ctx)
	sel.AddReceive(ch, func(c workflow.ReceiveChannel, _ bool) { c.Receive(ctx, v); got = true })
	sel.AddFuture(timer, func(workflow.Future) {})
	sel.Select(ctx)
	return got, ctx.Err()
}

// Scopes are the permissions a sign-in asks for: the minimal set of the
// needs (Mail.ReadBasic goes when Mail.Read is needed as well).
func Scopes(needs []permissions.Need) []string {
	var out []string
	for _, n := range permissions.Minimal(needs) {
		out = append(out, n.Permission)
	}
	return out
}
