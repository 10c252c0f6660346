package activities

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.uber.org/zap"
)

// fakeGraph is a function-field fake of GraphConnector.
type fakeGraph struct {
	verify func(context.Context, Credentials) (Verification, error)
}

var _ GraphConnector = (*fakeGraph)(nil)

func (f *fakeGraph) Verify(ctx context.Context, c Credentials) (Verification, error) {
	return f.verify(ctx, c)
}

type dir map[string]TenantSettings

func (d dir) Tenant(k string) (TenantSettings, bool) { s, ok := d[k]; return s, ok }

func newTenant(verify func(context.Context, Credentials) (Verification, error), secret func() (string, error)) *Tenant {
	return &Tenant{
		Graph:   &fakeGraph{verify: verify},
		Tenants: dir{"contoso": {TenantID: "tid", ClientID: "cid", AuthMode: AuthAppOnly, ResolveSecret: secret}},
		Log:     zap.NewNop(),
	}
}

func staticSecret(s string) func() (string, error) { return func() (string, error) { return s, nil } }

func TestVerifyConnectionReportsSortedGrantedPermissions(t *testing.T) {
	var got Credentials
	a := newTenant(func(_ context.Context, c Credentials) (Verification, error) {
		got = c
		return Verification{GrantedPermissions: []string{"User.Read.All", "Mail.Send"}, ProbeStatus: 200}, nil
	}, staticSecret("configured"))
	res, err := a.VerifyConnection(context.Background(), VerifyConnectionInput{TenantKey: "contoso"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Outcome != OutcomeVerified || len(res.GrantedPermissions) != 2 || res.GrantedPermissions[0] != "Mail.Send" {
		t.Fatalf("result = %+v, want Verified with sorted permissions", res)
	}
	if got.ClientSecret != "configured" || got.TenantID != "tid" || got.ClientID != "cid" {
		t.Fatalf("credentials passed to Graph = %+v", got)
	}
}

// vaultFunc is a function-field fake of the credential vault.
type vaultFunc func(tenant, version string) (string, error)

func (f vaultFunc) Secret(tenant, version string) (string, error) { return f(tenant, version) }

func TestVerifyConnectionUsesTheVaultVersionOverTheConfiguredSecret(t *testing.T) {
	var got string
	a := newTenant(func(_ context.Context, c Credentials) (Verification, error) {
		got = c.ClientSecret
		return Verification{}, nil
	},
		func() (string, error) { return "", errors.New("must not be read") })
	a.Vault = vaultFunc(func(tenant, version string) (string, error) {
		if tenant != "contoso" || version != "0123456789abcdef" {
			return "", fmt.Errorf("asked for %s/%s", tenant, version)
		}
		return "rotated", nil
	})
	if _, err := a.VerifyConnection(context.Background(), VerifyConnectionInput{TenantKey: "contoso", CredentialVersion: "0123456789abcdef"}); err != nil {
		t.Fatal(err)
	}
	if got != "rotated" {
		t.Fatalf("secret used = %q, want the vault's", got)
	}
}

func TestVerifyConnectionWithAnUnreadableVaultVersionIsMisconfiguredWithTheFix(t *testing.T) {
	a := newTenant(func(context.Context, Credentials) (Verification, error) {
		t.Fatal("Graph must not be called without a secret")
		return Verification{}, nil
	}, staticSecret("configured"))
	a.Vault = vaultFunc(func(string, string) (string, error) { return "", errors.New("credential not found") })
	res, err := a.VerifyConnection(context.Background(), VerifyConnectionInput{TenantKey: "contoso", CredentialVersion: "0123456789abcdef"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Outcome != OutcomeMisconfigured || !strings.Contains(res.Detail, "starter rotate --tenant contoso --secret-stdin") {
		t.Fatalf("result %+v, want Misconfigured naming the fix", res)
	}
}

func TestVerifyConnectionTurnsDefinitiveFailuresIntoOutcomes(t *testing.T) {
	cases := []struct {
		kind GraphErrorKind
		want ConnectionOutcome
	}{
		{KindInvalidCredentials, OutcomeInvalidCredentials},
		{KindUnauthenticated, OutcomeInvalidCredentials},
		{KindConsentRevoked, OutcomeConsentRevoked},
	}
	for _, c := range cases {
		a := newTenant(func(context.Context, Credentials) (Verification, error) {
			return Verification{}, &GraphError{Kind: c.kind, Status: 401, Code: "AADSTS7000215", Message: "Invalid client secret provided."}
		}, staticSecret("s"))
		res, err := a.VerifyConnection(context.Background(), VerifyConnectionInput{TenantKey: "contoso"})
		if err != nil {
			t.Fatalf("%s: unexpected error %v", c.kind, err)
		}
		if res.Outcome != c.want || res.Code != "AADSTS7000215" {
			t.Fatalf("%s: result %+v, want outcome %s with the code", c.kind, res, c.want)
		}
	}
}

func TestVerifyConnectionThrottlingIsRetryableWithRetryAfter(t *testing.T) {
	a := newTenant(func(context.Context, Credentials) (Verification, error) {
		return Verification{}, &GraphError{Kind: KindThrottled, Status: 429, Code: "TooManyRequests", RetryAfter: 7 * time.Second}
	}, staticSecret("s"))
	_, err := a.VerifyConnection(context.Background(), VerifyConnectionInput{TenantKey: "contoso"})
	var appErr *temporal.ApplicationError
	if !errors.As(err, &appErr) {
		t.Fatalf("error %v is not an ApplicationError", err)
	}
	if appErr.NonRetryable() || appErr.NextRetryDelay() != 7*time.Second || appErr.Type() != "Throttled" {
		t.Fatalf("got nonRetryable=%v delay=%v type=%s, want retryable after 7s of type Throttled", appErr.NonRetryable(), appErr.NextRetryDelay(), appErr.Type())
	}
}

func TestVerifyConnectionUnknownTenantOrUnreadableSecretIsMisconfigured(t *testing.T) {
	a := newTenant(nil, func() (string, error) { return "", errors.New("tenants[0].secret.env: OUTLOOKFLOW_X is not set") })
	res, err := a.VerifyConnection(context.Background(), VerifyConnectionInput{TenantKey: "nope"})
	if err != nil || res.Outcome != OutcomeMisconfigured {
		t.Fatalf("unknown tenant: %+v %v", res, err)
	}
	res, err = a.VerifyConnection(context.Background(), VerifyConnectionInput{TenantKey: "contoso"})
	if err != nil || res.Outcome != OutcomeMisconfigured || res.Detail == "" {
		t.Fatalf("unreadable secret: %+v %v", res, err)
	}
}

func TestVerifyConnectionMisconfiguredAdapterIsAnOutcome(t *testing.T) {
	a := newTenant(func(context.Context, Credentials) (Verification, error) {
		return Verification{}, &GraphError{Kind: KindMisconfigured, Message: "delegated authentication is not supported yet"}
	}, staticSecret("s"))
	res, err := a.VerifyConnection(context.Background(), VerifyConnectionInput{TenantKey: "contoso"})
	if err != nil || res.Outcome != OutcomeMisconfigured || res.Detail == "" {
		t.Fatalf("got %+v %v, want Misconfigured with a detail", res, err)
	}
}

func TestToTemporalNonRetryableKindsCarryCode(t *testing.T) {
	err := ToTemporal(&GraphError{Kind: KindForbidden, Status: 403, Code: "ErrorAccessDenied"})
	var appErr *temporal.ApplicationError
	if !errors.As(err, &appErr) || !appErr.NonRetryable() || appErr.Type() != "Forbidden" {
		t.Fatalf("got %v, want non-retryable Forbidden", err)
	}
	var d GraphErrorDetails
	if err := appErr.Details(&d); err != nil || d.Code != "ErrorAccessDenied" || d.Status != 403 {
		t.Fatalf("details = %+v (%v)", d, err)
	}
	plain := errors.New("plain")
	if ToTemporal(plain) != plain {
		t.Fatal("non-Graph errors must pass through unchanged")
	}
}
