package graphclient

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/outlookflow/outlookflow/activities"
	"github.com/outlookflow/outlookflow/graphsim"
)

// simClient starts a simulator with n tenants and returns a Client for it.
func simClient(t *testing.T, n int, roles []string) (*Client, *graphsim.Server, []activities.Credentials) {
	t.Helper()
	sim, err := graphsim.Start(graphsim.Options{StateDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sim.Close() })
	var creds []activities.Credentials
	for i := 0; i < n; i++ {
		tid := fmt.Sprintf("00000000-0000-4000-8000-%012d", i+1)
		cid := fmt.Sprintf("11111111-0000-4000-8000-%012d", i+1)
		secret := fmt.Sprintf("sim-secret-%d", i)
		err := sim.SeedTenant(graphsim.TenantSeed{
			TenantID: tid, DisplayName: "T", Domain: fmt.Sprintf("t%d.example", i),
			Apps:  []graphsim.AppSeed{{ClientID: cid, Secrets: []graphsim.SecretSeed{{Value: secret}}, GrantedRoles: roles}},
			Users: []graphsim.UserSeed{{ID: fmt.Sprintf("22222222-0000-4000-8000-%012d", i+1), DisplayName: "U", UserPrincipalName: fmt.Sprintf("u@t%d.example", i)}},
		})
		if err != nil {
			t.Fatal(err)
		}
		creds = append(creds, activities.Credentials{TenantID: tid, ClientID: cid, ClientSecret: secret, AuthMode: activities.AuthAppOnly})
	}
	c, err := New(Cloud{
		AuthorityHost: sim.AuthorityHost(),
		GraphBaseURL:  sim.GraphBaseURL(),
		AllowedHosts:  []string{sim.Hostname()},
		ExtraCAFile:   sim.CAFile(),
	})
	if err != nil {
		t.Fatal(err)
	}
	return c, sim, creds
}

func TestVerifyReadsRolesThroughRealSDK(t *testing.T) {
	c, _, creds := simClient(t, 1, []string{"User.Read.All", "Mail.ReadBasic.All"})
	v, err := c.Verify(context.Background(), creds[0])
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(v.GrantedPermissions, []string{"Mail.ReadBasic.All", "User.Read.All"}) || v.ProbeStatus != 200 || v.TokenExpiresAt.IsZero() {
		t.Fatalf("verification = %+v", v)
	}
}

func TestVerifyWithoutDirectoryRoleStillProvesTheToken(t *testing.T) {
	c, _, creds := simClient(t, 1, []string{"Mail.ReadBasic.All"})
	v, err := c.Verify(context.Background(), creds[0])
	if err != nil {
		t.Fatalf("a 403 on the probe must count as a valid token: %v", err)
	}
	if v.ProbeStatus != 403 {
		t.Fatalf("probe status %d, want 403", v.ProbeStatus)
	}
}

func TestVerifyClassifiesWrongSecretAndRevokedConsent(t *testing.T) {
	c, sim, creds := simClient(t, 1, []string{"User.Read.All"})
	bad := creds[0]
	bad.ClientSecret = "wrong"
	_, err := c.Verify(context.Background(), bad)
	var ge *activities.GraphError
	if !errors.As(err, &ge) || ge.Kind != activities.KindInvalidCredentials || ge.Code != "AADSTS7000215" {
		t.Fatalf("wrong secret → %v, want InvalidCredentials AADSTS7000215", err)
	}
	if err := sim.RevokeConsent(creds[0].TenantID, creds[0].ClientID); err != nil {
		t.Fatal(err)
	}
	_, err = c.Verify(context.Background(), creds[0])
	if !errors.As(err, &ge) || ge.Kind != activities.KindConsentRevoked || ge.Code != "AADSTS65001" {
		t.Fatalf("revoked consent → %v, want ConsentRevoked AADSTS65001", err)
	}
}

func TestVerifyPersistentThrottlingSurfacesRetryAfter(t *testing.T) {
	c, sim, creds := simClient(t, 1, []string{"User.Read.All"})
	// More 429s than kiota's three retries absorb.
	sim.InjectFault(graphsim.Fault{Method: "GET", Path: "/v1.0/users", Status: 429, RetryAfter: 1, Count: 4})
	_, err := c.Verify(context.Background(), creds[0])
	var ge *activities.GraphError
	if !errors.As(err, &ge) || ge.Kind != activities.KindThrottled || ge.RetryAfter.Seconds() != 1 {
		t.Fatalf("persistent 429 → %v, want Throttled with RetryAfter 1s", err)
	}
}

// TestConcurrentVerifiesAreRaceFree runs under -race in `make test`: the
// worker verifies many tenants at once, each building its own SDK clients.
func TestConcurrentVerifiesAreRaceFree(t *testing.T) {
	const n = 6
	c, _, creds := simClient(t, n, []string{"User.Read.All"})
	var wg sync.WaitGroup
	errs := make([]error, n*2)
	for i := 0; i < n*2; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			_, errs[i] = c.Verify(context.Background(), creds[i%n])
		}(i)
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("verify %d: %v", i, err)
		}
	}
}
