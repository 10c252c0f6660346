package main

import (
	"strings"
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
