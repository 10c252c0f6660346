package main

import (
	"encoding/json"
	"net"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/outlookflow/outlookflow/config"
	"github.com/outlookflow/outlookflow/graphsim"
	"github.com/outlookflow/outlookflow/internal/permissions"
	"github.com/outlookflow/outlookflow/workflows/user"
)

// scopesJSON runs `starter scopes --tenant demo --json` and returns the one
// report.
func scopesJSON(t *testing.T, cfg string) scopesReport {
	t.Helper()
	r := runStarter(t, cfg, "", "scopes", "--tenant", "demo", "--json")
	var reps []scopesReport
	if err := json.Unmarshal([]byte(r.stdout), &reps); err != nil || r.code != exitOK || len(reps) != 1 {
		t.Fatalf("scopes --json: exit %d %v\n%s%s", r.code, err, r.stdout, r.stderr)
	}
	return reps[0]
}

func neededNames(ns []permissions.Needed) []string {
	out := []string{}
	for _, n := range ns {
		out = append(out, n.Permission)
	}
	return out
}

// consentScopes checks the per-user consent URL of rep against the
// configuration (authority, tenant, client, redirect URL) and returns the
// scopes it asks for.
func consentScopes(t *testing.T, cfg string, rep scopesReport) []string {
	t.Helper()
	loaded, err := config.Load(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	ten := loaded.Tenants[0]
	u, err := url.Parse(rep.UserConsentURL)
	if err != nil || rep.UserConsentURL == "" {
		t.Fatalf("user consent URL %q: %v", rep.UserConsentURL, err)
	}
	if want := strings.TrimRight(loaded.Cloud.AuthorityHost, "/") + "/" + ten.TenantID + "/oauth2/v2.0/authorize"; u.Scheme+"://"+u.Host+u.Path != want {
		t.Errorf("user consent URL %s is not on %s", rep.UserConsentURL, want)
	}
	q := u.Query()
	for k, want := range map[string]string{"client_id": ten.ClientID, "response_type": "code", "redirect_uri": ten.Delegated.RedirectURL,
		"response_mode": "query", "prompt": "consent"} {
		if q.Get(k) != want || want == "" {
			t.Errorf("user consent URL %s: %s = %q, want %q", rep.UserConsentURL, k, q.Get(k), want)
		}
	}
	return strings.Fields(q.Get("scope"))
}

// TestScopesShowsTheApplicationAndDelegatedSetsSideBySide: for an app-only
// tenant `starter scopes` gives both minimal sets with §8's least-privileged
// names, the application one marked in use and compared with the app's
// grant exactly as before. An app-only tenant cannot configure a redirect
// URL (tenants[].delegated is for delegated ones), so it gets no per-user
// consent URL.
func TestScopesShowsTheApplicationAndDelegatedSetsSideBySide(t *testing.T) {
	cfg := world(t)
	if r := runStarter(t, cfg, "", "connect", "--tenant", "demo"); r.code != exitOK {
		t.Fatalf("connect: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	rep := scopesJSON(t, cfg)
	if rep.Kind != "Application" || rep.AuthMode != config.AuthAppOnly {
		t.Errorf("kind %s, auth mode %s; want Application, app-only", rep.Kind, rep.AuthMode)
	}
	if got, want := neededNames(rep.Application), []string{"Mail.ReadBasic.All", "Mail.Send", "User.Read.All"}; !slices.Equal(got, want) {
		t.Errorf("Application = %v, want %v (§8)", got, want)
	}
	// User.Read (sign-in) is covered by User.ReadBasic.All, which the
	// directory feature needs.
	if got, want := neededNames(rep.Delegated), []string{"Mail.ReadBasic", "Mail.Send", "User.ReadBasic.All"}; !slices.Equal(got, want) {
		t.Errorf("Delegated = %v, want %v (§8)", got, want)
	}
	if got := neededNames(rep.Needed); !slices.Equal(got, neededNames(rep.Application)) {
		t.Errorf("Needed = %v, want the Application set", got)
	}
	// The app's grant, as before: the demo app holds what it needs.
	if !rep.GrantKnown || len(rep.Lacking) > 0 || rep.Needed[2].GrantedAs != "User.Read.All" {
		t.Errorf("grant: known %v (%s), lacking %v, needed %+v", rep.GrantKnown, rep.GrantUnknown, rep.Lacking, rep.Needed)
	}
	if rep.Users != nil || rep.UsersKnown {
		t.Errorf("an app-only tenant has no users to compare: %+v", rep.Users)
	}
	if rep.UserConsentURL != "" || rep.UserConsentScopes != nil {
		t.Errorf("app-only without a redirect URL: user consent URL %q, scopes %v", rep.UserConsentURL, rep.UserConsentScopes)
	}

	r := runStarter(t, cfg, "", "scopes", "--tenant", "demo")
	t.Logf("scopes --tenant demo:\n%s%s", r.stdout, r.stderr)
	for _, line := range [][]string{
		{"Tenant demo", "app-only auth, so Application permissions (marked *; Delegated beside them)"},
		{"PERMISSION(APPLICATION)*", "GRANT", "PERMISSION(DELEGATED)", "NEEDED BY"},
		{"Mail.ReadBasic.All", "granted", "Mail.ReadBasic", "feature mail"},
		{"Mail.Send", "granted", "Mail.Send", "feature mail-send"},
		{"User.Read.All", "granted", "User.ReadBasic.All", "feature directory; delegated also: sign-in"},
		{"Lacking: nothing."},
		{"Admin consent: " + rep.AdminConsentURL},
	} {
		if !hasLine(r.stdout, line...) {
			t.Errorf("scopes table has no line with %q", line)
		}
	}
	if lines := strings.Split(r.stdout, "\n"); !slices.ContainsFunc(lines, func(l string) bool { return strings.HasPrefix(l, "PERMISSION(") && len(l) <= 100 }) {
		t.Errorf("the table's header is wider than 100 columns:\n%s", r.stdout)
	}

	if strings.Contains(r.stdout, "User consent:") {
		t.Errorf("app-only without a redirect URL prints a user consent URL:\n%s", r.stdout)
	}
}

// connectUserByDeviceCode runs `starter connect-user --device-code` and
// signs upn in through the simulator.
func connectUserByDeviceCode(t *testing.T, cfg string, sim *graphsim.Server, upn string) {
	t.Helper()
	done := make(chan result, 1)
	go func() {
		done <- runStarter(t, cfg, "", "connect-user", "--tenant", "demo", "--device-code", "--wait", "2m")
	}()
	var code string
	for deadline := time.Now().Add(time.Minute); code == "" && time.Now().Before(deadline); {
		if pending := sim.PendingDeviceCodes(); len(pending) > 0 {
			code = pending[0].UserCode
		} else {
			time.Sleep(200 * time.Millisecond)
		}
	}
	if code == "" {
		t.Fatal("no device code was asked for within a minute")
	}
	if err := sim.ApproveDeviceCode(code, upn); err != nil {
		t.Fatal(err)
	}
	if r := <-done; r.code != exitOK {
		t.Fatalf("connect-user: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// TestScopesComparesEachDelegatedUsersConsent: for a delegated tenant the
// Delegated set is in use and the grant is each user's consent. The
// per-user consent URL asks exactly the minimal delegated set plus the
// OpenID scopes; a user who had consented to Mail.Read shows it as beyond
// need (Mail.ReadBasic suffices); without users, or without Temporal, the
// notes say so and the command still succeeds.
func TestScopesComparesEachDelegatedUsersConsent(t *testing.T) {
	cfg, sim := worldWith(t, "[mail]", "authMode: delegated\ndelegated:\n  deviceCode: true", "")
	if r := runStarter(t, cfg, "", "connect", "--tenant", "demo"); r.code != exitOK {
		t.Fatalf("connect: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	rep := scopesJSON(t, cfg)
	if rep.Kind != "Delegated" {
		t.Errorf("kind %s, want Delegated", rep.Kind)
	}
	if got, want := neededNames(rep.Delegated), []string{"Mail.ReadBasic", "User.Read"}; !slices.Equal(got, want) {
		t.Errorf("Delegated = %v, want %v", got, want)
	}
	if got, want := neededNames(rep.Application), []string{"Mail.ReadBasic.All"}; !slices.Equal(got, want) {
		t.Errorf("Application = %v, want %v", got, want)
	}
	if got := neededNames(rep.Needed); !slices.Equal(got, neededNames(rep.Delegated)) {
		t.Errorf("Needed = %v, want the Delegated set", got)
	}
	want := []string{"openid", "profile", "offline_access", "https://graph.microsoft.com/Mail.ReadBasic", "https://graph.microsoft.com/User.Read"}
	if got := consentScopes(t, cfg, rep); !slices.Equal(got, want) {
		t.Errorf("user consent URL asks %q, want exactly %q", got, want)
	}
	if !slices.Equal(rep.UserConsentScopes, want) {
		t.Errorf("UserConsentScopes = %q, want %q", rep.UserConsentScopes, want)
	}
	if !rep.UsersKnown || len(rep.Users) != 0 || !slices.ContainsFunc(rep.Notes, func(n string) bool { return strings.Contains(n, "no user has connected yet") }) {
		t.Errorf("before any sign-in: users known %v, %+v, notes %q", rep.UsersKnown, rep.Users, rep.Notes)
	}

	// A user who consented to Mail.Read before signs in.
	seed, creds := graphsim.DemoTenant()
	who := seed.Users[0]
	if err := sim.GrantUserConsent(creds.TenantID, creds.ClientID, who.UserPrincipalName, []string{"Mail.Read"}); err != nil {
		t.Fatal(err)
	}
	connectUserByDeviceCode(t, cfg, sim, who.UserPrincipalName)
	var u scopesUser
	for deadline := time.Now().Add(30 * time.Second); ; {
		rep = scopesJSON(t, cfg)
		if len(rep.Users) == 1 && rep.Users[0].Status == user.StatusConnected {
			u = rep.Users[0]
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("scopes does not list the connected user: %+v (notes %q)", rep.Users, rep.Notes)
		}
		time.Sleep(300 * time.Millisecond) // visibility catches up
	}
	if u.Username != who.UserPrincipalName || !slices.Contains(u.Scopes, "Mail.Read") || len(u.Lacking) > 0 {
		t.Fatalf("user %+v: want %s, consent including Mail.Read, lacking nothing", u, who.UserPrincipalName)
	}
	if len(u.Beyond) != 1 || u.Beyond[0].Permission != "Mail.Read" || !slices.Equal(u.Beyond[0].Instead, []string{"Mail.ReadBasic"}) {
		t.Errorf("beyond need = %+v, want Mail.Read with Mail.ReadBasic instead", u.Beyond)
	}
	r := runStarter(t, cfg, "", "scopes", "--tenant", "demo")
	t.Logf("scopes --tenant demo:\n%s%s", r.stdout, r.stderr)
	for _, line := range [][]string{
		{"delegated auth, so Delegated permissions (marked *; Application beside them)"},
		{"PERMISSION(APPLICATION)", "PERMISSION(DELEGATED)*", "GRANT", "NEEDED BY"},
		{"Mail.ReadBasic.All", "Mail.ReadBasic", "1/1 users", "feature mail"},
		{"-", "User.Read", "1/1 users", "sign-in"},
		{who.UserPrincipalName, "Connected", "lacking nothing"},
		{"      Mail.Read", "more than needed: Mail.ReadBasic suffices"},
		{"User consent: " + rep.UserConsentURL},
		{"`starter connect-user` is what connects"},
	} {
		if !hasLine(r.stdout, line...) {
			t.Errorf("scopes table has no line with %q", line)
		}
	}

	// Temporal unreachable: the needs and URLs still print; the notes say
	// the users' consent is unknown.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	rewrite(t, cfg, "address: "+temporalServer.HostPort, "address: "+addr)
	r = runStarter(t, cfg, "", "scopes", "--tenant", "demo", "--json")
	var reps []scopesReport
	if err := json.Unmarshal([]byte(r.stdout), &reps); err != nil || r.code != exitOK || len(reps) != 1 {
		t.Fatalf("scopes --json without Temporal: exit %d %v\n%s%s", r.code, err, r.stdout, r.stderr)
	}
	if rep := reps[0]; rep.UsersKnown || rep.Users != nil || rep.UserConsentURL == "" || len(rep.Delegated) != 2 ||
		!slices.ContainsFunc(rep.Notes, func(n string) bool { return strings.Contains(n, "users' consent unknown") }) {
		t.Errorf("without Temporal: users known %v %+v, consent URL %q, delegated %v, notes %q", rep.UsersKnown, rep.Users, rep.UserConsentURL, rep.Delegated, rep.Notes)
	}
}
