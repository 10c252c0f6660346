package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/outlookflow/outlookflow/graphsim"
)

// TestConnectUserByDeviceCodeAgainstARealWorker runs `starter connect-user
// --device-code` as an operator would: the command prints the device
// prompt, the user (the simulator's control API here) enters the code and
// signs in, and the command ends Connected; `starter users` then lists
// the user with their status and scopes.
func TestConnectUserByDeviceCodeAgainstARealWorker(t *testing.T) {
	cfg, sim := worldWith(t, "[mail]", "authMode: delegated\ndelegated:\n  deviceCode: true", "")
	if r := runStarter(t, cfg, "", "connect", "--tenant", "demo"); r.code != exitOK || !strings.Contains(r.stdout, "AwaitingUsers") || !strings.Contains(r.stderr, "connect-user") {
		t.Fatalf("connect of a delegated tenant: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	seed, _ := graphsim.DemoTenant()
	who := seed.Users[0]

	done := make(chan result, 1)
	go func() {
		done <- runStarter(t, cfg, "", "connect-user", "--tenant", "demo", "--device-code", "--wait", "2m")
	}()
	var code string
	deadline := time.Now().Add(time.Minute)
	for code == "" && time.Now().Before(deadline) {
		if pending := sim.PendingDeviceCodes(); len(pending) > 0 {
			code = pending[0].UserCode
		}
		time.Sleep(200 * time.Millisecond)
	}
	if code == "" {
		t.Fatal("no device code was asked for within a minute")
	}
	if err := sim.ApproveDeviceCode(code, who.UserPrincipalName); err != nil {
		t.Fatal(err)
	}
	r := <-done
	if r.code != exitOK || !strings.Contains(r.stdout, code) || !strings.Contains(r.stdout, who.UserPrincipalName) || !strings.Contains(r.stdout, "Connected") {
		t.Fatalf("connect-user: exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stdout, "Mail.ReadBasic") || strings.Contains(r.stdout, "Calendars") {
		t.Fatalf("connect-user asked for more or less than the mail feature needs:\n%s", r.stdout)
	}

	var listed bool
	for i := 0; i < 50 && !listed; i++ {
		r = runStarter(t, cfg, "", "users", "--tenant", "demo")
		listed = strings.Contains(r.stdout, who.UserPrincipalName) && strings.Contains(r.stdout, "Connected")
		if !listed {
			time.Sleep(200 * time.Millisecond) // visibility catches up
		}
	}
	if !listed {
		t.Fatalf("users does not list the connected user:\n%s%s", r.stdout, r.stderr)
	}
}

func TestConnectUserRefusesWhatCannotWork(t *testing.T) {
	cfg := world(t) // app-only demo tenant
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"connect-user", "--tenant", "demo", "--user", "adele@contoso.example"}, "is app-only"},
		{[]string{"connect-user", "--tenant", "demo"}, "needs --user UPN"},
		{[]string{"connect-user", "--tenant", "demo", "--user", "not an address"}, "is not a user principal name"},
		{[]string{"connect-user", "--tenant", "demo", "--user", "a@b.example", "--wait", "0s"}, "--wait must be a positive duration"},
	} {
		if r := runStarter(t, cfg, "", tc.args...); r.code != exitUsage || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("starter %v: exit %d stderr %q; want 2 and %q", tc.args, r.code, r.stderr, tc.want)
		}
	}
}

// lockedBuffer is a bytes.Buffer a running command writes while the test
// reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestConnectUserByAuthCodePrintsTheURLAndEndsConnected runs `starter
// connect-user --user UPN` as an operator would: it prints the sign-in URL
// (with the PKCE challenge), the user opens it (a browser against the
// simulator, which has their consent), the identity platform sends the
// browser to the worker's /auth/callback, and the command ends Connected.
func TestConnectUserByAuthCodePrintsTheURLAndEndsConnected(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	redirect := "http://" + ln.Addr().String() + "/auth/callback"
	cfg, sim, w := worldWithWorker(t, "[mail]", "authMode: delegated\ndelegated:\n  redirectURL: "+redirect, "")
	srv := &http.Server{Handler: w.AuthCallback, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	seed, creds := graphsim.DemoTenant()
	who := seed.Users[0]
	if err := sim.AddRedirectURIs(creds.TenantID, creds.ClientID, redirect); err != nil {
		t.Fatal(err)
	}
	if err := sim.DecideSignIn(creds.TenantID, creds.ClientID, who.UserPrincipalName, true); err != nil {
		t.Fatal(err)
	}
	if r := runStarter(t, cfg, "", "connect", "--tenant", "demo"); r.code != exitOK {
		t.Fatalf("connect: exit %d %s%s", r.code, r.stdout, r.stderr)
	}

	var out, errb lockedBuffer
	done := make(chan int, 1)
	go func() {
		done <- Run(context.Background(), []string{"--config", cfg, "connect-user", "--tenant", "demo", "--user", who.UserPrincipalName, "--wait", "2m"},
			strings.NewReader(""), &out, &errb, nil)
	}()
	var signInURL string
	for deadline := time.Now().Add(30 * time.Second); signInURL == "" && time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		for _, line := range strings.Split(out.String(), "\n") {
			if strings.HasPrefix(line, "https://") {
				signInURL = strings.TrimSpace(line)
			}
		}
	}
	if signInURL == "" || !strings.Contains(signInURL, "code_challenge_method=S256") {
		t.Fatalf("connect-user printed no sign-in URL with a PKCE challenge:\n%s\n%s", out.String(), errb.String())
	}
	browser := &http.Client{Transport: &http.Transport{TLSClientConfig: sim.TLSClientConfig()}, Timeout: 30 * time.Second}
	resp, err := browser.Get(signInURL)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.Request.URL.Path != "/auth/callback" || !strings.Contains(string(page), "Connected") {
		t.Fatalf("the browser ended at %s: %d %s", resp.Request.URL, resp.StatusCode, page)
	}
	code := <-done
	if code != exitOK || !strings.Contains(out.String(), who.UserPrincipalName) || !strings.Contains(out.String(), "Connected") ||
		!strings.Contains(errb.String(), "Open this URL") {
		t.Fatalf("connect-user: exit %d\nstdout:\n%s\nstderr:\n%s", code, out.String(), errb.String())
	}
}
