package delegated_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/confidential"

	"github.com/outlookflow/outlookflow/graphsim"
	"github.com/outlookflow/outlookflow/internal/delegated"
	"github.com/outlookflow/outlookflow/internal/delegated/delegatedtest"
)

type world struct {
	sim     *graphsim.Server
	broker  *delegated.Broker
	app     delegated.App
	tenant  graphsim.TenantSeed
	browser *http.Client
}

const redirect = "http://127.0.0.1:9/auth/callback"

func newWorld(t *testing.T) *world {
	t.Helper()
	sim, err := graphsim.Start(graphsim.Options{StateDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sim.Close() })
	seed, creds := graphsim.DemoTenant()
	if err := sim.SeedTenant(seed); err != nil {
		t.Fatal(err)
	}
	if err := sim.SetRedirectURIs(creds.TenantID, creds.ClientID, []string{redirect}); err != nil {
		t.Fatal(err)
	}
	pem, err := os.ReadFile(sim.CAFile())
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}
	cred, err := confidential.NewCredFromSecret(creds.ClientSecret)
	if err != nil {
		t.Fatal(err)
	}
	return &world{
		sim:    sim,
		tenant: seed,
		broker: &delegated.Broker{Secrets: &delegatedtest.Secrets{}, HTTP: &http.Client{Transport: tr}},
		app: delegated.App{TenantKey: "demo", Authority: strings.TrimSuffix(sim.AuthorityHost(), "/") + "/" + creds.TenantID, ClientID: creds.ClientID,
			Credential: &cred, RedirectURL: redirect, Resource: "https://graph.microsoft.com"},
		browser: &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
	}
}

// signIn runs the authorization-code flow for upn, approving consent, and
// returns the account.
func (w *world) signIn(t *testing.T, upn string) delegated.Account {
	t.Helper()
	ctx := context.Background()
	u, state, err := w.broker.BeginAuthCode(ctx, w.app, "req1", upn, w.app.Scopes([]string{"Mail.ReadBasic", "User.Read"}))
	if err != nil {
		t.Fatal(err)
	}
	if err := w.sim.DecideSignIn(w.tenant.TenantID, w.app.ClientID, upn, true); err != nil {
		t.Fatal(err)
	}
	resp, err := w.browser.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || resp.StatusCode != http.StatusFound {
		t.Fatalf("authorize answered %d, Location %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if loc.Query().Get("state") != state {
		t.Fatalf("state %q came back as %q", state, loc.Query().Get("state"))
	}
	acct, err := w.broker.CompleteAuthCode(ctx, w.app, state, loc.Query().Get("code"))
	if err != nil {
		t.Fatal(err)
	}
	return acct
}

func TestRefreshRedeemsTheRefreshTokenAndARevokedOneIsReauth(t *testing.T) {
	w := newWorld(t)
	upn := w.tenant.Users[0].UserPrincipalName
	acct := w.signIn(t, upn)
	if acct.ObjectID != w.tenant.Users[0].ID || !strings.EqualFold(acct.Username, upn) || acct.HomeAccountID == "" {
		t.Fatalf("account %+v", acct)
	}
	cred := w.broker.Credential(w.app, acct)
	scopes, err := cred.Refresh(context.Background(), []string{"Mail.ReadBasic", "User.Read"})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(scopes, " ") != "Mail.ReadBasic User.Read" {
		t.Fatalf("granted %v", scopes)
	}
	if err := w.sim.RevokeUserRefreshTokens(w.tenant.TenantID, acct.ObjectID); err != nil {
		t.Fatal(err)
	}
	_, err = w.broker.Credential(w.app, acct).Refresh(context.Background(), []string{"Mail.ReadBasic", "User.Read"})
	var re *delegated.ReauthError
	if !errors.As(err, &re) || re.Code != "50173" {
		t.Fatalf("refresh after revocation: %v, want ReauthError 50173", err)
	}
	// The access token cached before still serves Graph until it expires;
	// only Refresh goes to the refresh token.
}

func TestASecondUseOfTheStateIsRefused(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	_, state, err := w.broker.BeginAuthCode(ctx, w.app, "req1", "", w.app.Scopes([]string{"User.Read"}))
	if err != nil {
		t.Fatal(err)
	}
	if err := w.broker.Forget(ctx, w.app, state); err != nil {
		t.Fatal(err)
	}
	_, err = w.broker.CompleteAuthCode(ctx, w.app, state, "whatever")
	var se *delegated.SignInError
	if !errors.As(err, &se) || se.Code != "unknown_state" {
		t.Fatalf("second use: %v", err)
	}
	if err := w.broker.Forget(ctx, w.app, "demo.req1.forged"); err == nil {
		t.Fatalf("a forged state was forgotten")
	}
}
