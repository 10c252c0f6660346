package graphsim

import (
	"net/http"
	"reflect"
	"strings"
	"testing"
)

func TestDemoTenant_IsDeterministicWithManagerChainAndMailboxes(t *testing.T) {
	t.Parallel()
	a, ca := DemoTenant()
	b, cb := DemoTenant()
	if !reflect.DeepEqual(a, b) || ca != cb {
		t.Fatalf("two DemoTenant calls differ")
	}
	if !isGUID(ca.TenantID) || !isGUID(ca.ClientID) || len(ca.ClientSecret) < 30 {
		t.Errorf("credentials %+v: want GUID tenant and client IDs and a long secret", DemoCredentials{TenantID: ca.TenantID, ClientID: ca.ClientID})
	}
	if n := len(a.Users); n < 30 || n > 40 {
		t.Errorf("%d users, want about 36", n)
	}
	byID := map[string]UserSeed{}
	for _, u := range a.Users {
		byID[u.ID] = u
		if n := len(u.Messages); n < 3 || n > 8 {
			t.Errorf("user %s has %d messages, want 3-8", u.DisplayName, n)
		}
	}
	roots := 0
	for _, u := range a.Users {
		if u.ManagerID == "" {
			roots++
			continue
		}
		seen := map[string]bool{u.ID: true}
		for m := u.ManagerID; m != ""; m = byID[m].ManagerID {
			if seen[m] {
				t.Fatalf("manager cycle through %s", u.DisplayName)
			}
			if _, ok := byID[m]; !ok {
				t.Fatalf("user %s has unknown manager %s", u.DisplayName, m)
			}
			seen[m] = true
		}
	}
	if roots != 1 {
		t.Errorf("%d users without a manager, want exactly one (the CEO)", roots)
	}
	if roles := a.Apps[0].GrantedRoles; strings.Join(roles, ",") != "User.Read.All,Mail.ReadBasic.All,Mail.Send,GroupMember.Read.All,Calendars.Read,Contacts.Read,MailboxSettings.Read" {
		t.Errorf("demo app roles = %v", roles)
	}

	// Two simulators seeded with it serve identical data, message IDs included.
	e1, e2 := startDemoSim(t), startDemoSim(t)
	uid := a.Users[11].ID
	m1, _ := e1.sim.Mailbox(ca.TenantID, uid, "inbox")
	m2, _ := e2.sim.Mailbox(ca.TenantID, uid, "inbox")
	if len(m1) == 0 || !reflect.DeepEqual(m1, m2) {
		t.Errorf("mailboxes differ between two seeded simulators")
	}
	get := func(e *simEnv) string {
		tok := rawToken(t, e.sim, ca.TenantID, ca.ClientID, ca.ClientSecret)
		_, body := rawDo(t, e.sim, http.MethodGet, "/v1.0/users/"+uid+"/messages?$select=subject,receivedDateTime", tok, nil)
		return strings.ReplaceAll(string(body), e.sim.URL(), "")
	}
	if get(e1) != get(e2) {
		t.Errorf("GET messages differs between two seeded simulators")
	}
}

func TestSeedTenant_RejectsInconsistentSeeds(t *testing.T) {
	t.Parallel()
	sim, err := Start(Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Close() })
	ok, _ := mailSeed(1)
	for name, mutate := range map[string]func(*TenantSeed){
		"tenant id with space": func(s *TenantSeed) { s.TenantID = "a b" },
		"unknown manager":      func(s *TenantSeed) { s.Users[1].ManagerID = "missing" },
		"duplicate upn":        func(s *TenantSeed) { s.Users[2].UserPrincipalName = s.Users[1].UserPrincipalName },
		"unknown folder":       func(s *TenantSeed) { s.Users[0].Messages[0].Folder = "nowhere" },
		"empty secret":         func(s *TenantSeed) { s.Apps[0].Secrets = []SecretSeed{{}} },
	} {
		s, _ := mailSeed(1)
		mutate(&s)
		if err := sim.SeedTenant(s); err == nil {
			t.Errorf("%s: SeedTenant accepted the seed", name)
		}
	}
	if err := sim.SeedTenant(ok); err != nil {
		t.Errorf("valid seed: %v", err)
	}
}
