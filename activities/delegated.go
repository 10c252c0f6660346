package activities

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/outlookflow/outlookflow/internal/delegated"
	"github.com/outlookflow/outlookflow/internal/permissions"
)

// DelegatedAccount is a signed-in user as workflows know them: IDs, the UPN
// (in encrypted payloads only) and consented scopes, never a token.
type DelegatedAccount struct {
	ObjectID      string
	TenantID      string
	HomeAccountID string
	Username      string
	Scopes        []string
	Flow          string // "auth-code" | "device-code"
}

func accountFrom(a delegated.Account) DelegatedAccount {
	return DelegatedAccount{ObjectID: a.ObjectID, TenantID: a.TenantID, HomeAccountID: a.HomeAccountID, Username: a.Username, Scopes: a.Scopes, Flow: string(a.Flow)}
}

// Account is the delegated package's view of a, for its credential.
func (a DelegatedAccount) Account() delegated.Account {
	return delegated.Account{ObjectID: a.ObjectID, TenantID: a.TenantID, HomeAccountID: a.HomeAccountID, Username: a.Username, Scopes: a.Scopes, Flow: delegated.Flow(a.Flow)}
}

// DelegatedApps resolves a tenant's app registration for the delegated
// flows: endpoints, client credential (secret or certificate, read when
// asked so a rotated one is used) and the redirect URL.
type DelegatedApps interface {
	DelegatedApp(tenantKey string) (delegated.App, error)
}

// UserConnections starts or signals a user's connection workflow and tells
// a sign-in workflow about a device-code prompt. internal/app implements
// it with the Temporal client (the workflow names live in workflows/user,
// which imports this package).
type UserConnections interface {
	Attach(ctx context.Context, in AttachUserInput) (connectionID string, err error)
	PromptDeviceCode(ctx context.Context, signInWorkflowID, message string, expiresAt time.Time) error
}

// Delegated holds the delegated-connection activities.
type Delegated struct {
	Broker      *delegated.Broker
	Apps        DelegatedApps
	Connections UserConnections
}

// BeginSignInInput asks for an authorization-code sign-in URL.
type BeginSignInInput struct {
	TenantKey   string
	RequestID   string
	LoginHint   string
	Permissions []string
}

// BeginSignInResult is the URL to open and until when it works.
type BeginSignInResult struct {
	URL       string
	ExpiresAt time.Time
}

// BeginUserSignIn keeps a fresh PKCE verifier sealed in the store and
// returns the sign-in URL. The state it embeds names the tenant and the
// request, so the worker's /auth/callback finds the sign-in workflow.
func (d *Delegated) BeginUserSignIn(ctx context.Context, in BeginSignInInput) (BeginSignInResult, error) {
	app, err := d.Apps.DelegatedApp(in.TenantKey)
	if err != nil {
		return BeginSignInResult{}, temporal.NewNonRetryableApplicationError(err.Error(), string(KindMisconfigured), nil)
	}
	u, _, err := d.Broker.BeginAuthCode(ctx, app, in.RequestID, in.LoginHint, app.Scopes(in.Permissions))
	if err != nil {
		return BeginSignInResult{}, nonRetryableIfConfig(err)
	}
	return BeginSignInResult{URL: u, ExpiresAt: time.Now().Add(delegated.SignInTimeout)}, nil
}

// DeviceSignInInput runs a device-code sign-in.
type DeviceSignInInput struct {
	TenantKey   string
	Permissions []string
}

// DeviceSignInResult is the account, or why there is none.
type DeviceSignInResult struct {
	Account *DelegatedAccount
	Code    string
	Reason  string
}

// DeviceCodeSignIn asks for a device code, tells the sign-in workflow the
// prompt, and polls (through MSAL) until the user signs in, declines or the
// code expires. A refusal is a result, not an error: retrying it would ask
// the user again.
func (d *Delegated) DeviceCodeSignIn(ctx context.Context, in DeviceSignInInput) (DeviceSignInResult, error) {
	app, err := d.Apps.DelegatedApp(in.TenantKey)
	if err != nil {
		return DeviceSignInResult{}, temporal.NewNonRetryableApplicationError(err.Error(), string(KindMisconfigured), nil)
	}
	stop := KeepAlive(ctx)
	defer stop()
	flow, err := d.Broker.BeginDeviceCode(ctx, app, app.Scopes(in.Permissions))
	if res, ok := refused(err); ok {
		return res, nil
	}
	if err != nil {
		return DeviceSignInResult{}, err
	}
	if err := d.Connections.PromptDeviceCode(ctx, activity.GetInfo(ctx).WorkflowExecution.ID, flow.Message, flow.ExpiresOn); err != nil {
		return DeviceSignInResult{}, fmt.Errorf("telling the sign-in its device code: %w", err)
	}
	acct, err := flow.Wait(ctx)
	if res, ok := refused(err); ok {
		return res, nil
	}
	if err != nil {
		return DeviceSignInResult{}, err
	}
	a := accountFrom(acct)
	return DeviceSignInResult{Account: &a}, nil
}

func refused(err error) (DeviceSignInResult, bool) {
	var se *delegated.SignInError
	if errors.As(err, &se) {
		return DeviceSignInResult{Code: se.Code, Reason: se.Message}, true
	}
	return DeviceSignInResult{}, false
}

// AttachUserInput hands a signed-in account to its connection workflow.
type AttachUserInput struct {
	TenantKey      string
	Account        DelegatedAccount
	Needed         []permissions.Need
	VerifyInterval time.Duration
}

// AttachUser starts the user's connection workflow, or tells the running
// one that the user signed in again.
func (d *Delegated) AttachUser(ctx context.Context, in AttachUserInput) (string, error) {
	return d.Connections.Attach(ctx, in)
}

// CheckUserInput checks one user's tokens.
type CheckUserInput struct {
	TenantKey   string
	Account     DelegatedAccount
	Permissions []string // asked for on the refresh: the minimal set of the needs
}

// CheckUserResult is a check's verdict. ReauthCode is set when the refresh
// token was refused (the user must sign in again); Scopes otherwise.
type CheckUserResult struct {
	Scopes     []string
	ReauthCode string
	Reason     string
}

// CheckUserConnection redeems the user's refresh token now (not a cached
// access token) and returns the scopes granted. A refusal is a result;
// transport trouble and throttling are errors, retried.
func (d *Delegated) CheckUserConnection(ctx context.Context, in CheckUserInput) (CheckUserResult, error) {
	app, err := d.Apps.DelegatedApp(in.TenantKey)
	if err != nil {
		return CheckUserResult{}, temporal.NewNonRetryableApplicationError(err.Error(), string(KindMisconfigured), nil)
	}
	scopes, err := d.Broker.Credential(app, in.Account.Account()).Refresh(ctx, in.Permissions)
	var re *delegated.ReauthError
	if errors.As(err, &re) {
		return CheckUserResult{ReauthCode: re.Code, Reason: re.Message}, nil
	}
	var se *delegated.SignInError
	if errors.As(err, &se) {
		return CheckUserResult{ReauthCode: se.Code, Reason: se.Message}, nil
	}
	if err != nil {
		return CheckUserResult{}, err
	}
	return CheckUserResult{Scopes: scopes}, nil
}

// nonRetryableIfConfig marks a refused sign-in (SignInError: no client
// credential for the auth-code flow) as not worth retrying.
func nonRetryableIfConfig(err error) error {
	var se *delegated.SignInError
	if errors.As(err, &se) {
		return temporal.NewNonRetryableApplicationError(se.Error(), "SignInRefused", nil)
	}
	return err
}
