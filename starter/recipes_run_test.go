package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/outlookflow/outlookflow/activities"
	"github.com/outlookflow/outlookflow/graphsim"
)

// `recipes run` fires a manual recipe with its payload through the worker
// and waits for the run; the same --request-id starts nothing new; a bad
// payload, a payload for a recipe without input and an unknown recipe are
// refused with the fix.
func TestRecipesRunFiresOncePerRequestAndRefusesBadRequests(t *testing.T) {
	watched, sender, _ := demoMailboxes(t)
	dir := writeRecipes(t, map[string]string{
		"note.yaml": "name: note\ntenant: demo\nmailboxes: {users: [" + watched.UserPrincipalName + "]}\ntrigger:\n  manual: {}\n" +
			"steps:\n  - id: send\n    send: {to: \"{{ input.to }}\", subject: \"note {{ input.ticket }}\", body: by hand}\n",
		"tag.yaml": recipeFor("tag-boss", watched.UserPrincipalName, sender.Mail, "", "  - id: tag\n    setCategories: {categories: [Boss]}\n"),
	})
	cfg, sim := worldWithConfig(t, "[directory, mail, mail-send]", "recipes:\n  dir: "+dir+"\n")
	_, creds := graphsim.DemoTenant()
	if err := sim.SetGrantedRoles(creds.TenantID, creds.ClientID, []string{"User.Read.All", "Mail.ReadWrite", "Mail.Send"}); err != nil {
		t.Fatal(err)
	}
	if r := runStarter(t, cfg, "", "connect", "--tenant", "demo"); r.code != exitOK {
		t.Fatalf("connect: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := runStarter(t, cfg, "", "sync", "--tenant", "demo", "--wait"); r.code != exitOK {
		t.Fatalf("sync: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	waitNoSyncRunning(t, cfg)

	payload := `{"to": "` + sender.Mail + `", "ticket": "T-7"}`
	r := runStarter(t, cfg, "", "recipes", "run", "--tenant", "demo", "--recipe", "note", "--payload", payload, "--request-id", "r-1", "--wait", "1m")
	if r.code != exitOK || !strings.Contains(r.stdout, ": Completed") || !strings.Contains(r.stdout, watched.UserPrincipalName) {
		t.Fatalf("recipes run: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	again := runStarter(t, cfg, "", "recipes", "run", "--tenant", "demo", "--recipe", "note", "--payload", payload, "--request-id", "r-1", "--json")
	var res struct {
		RequestID string
		activities.FireResult
	}
	if again.code != exitOK || json.Unmarshal([]byte(again.stdout), &res) != nil || len(res.Runs) != 1 || res.RequestID != "r-1" {
		t.Fatalf("repeated request: exit %d\n%s%s", again.code, again.stdout, again.stderr)
	}
	deadline := time.Now().Add(30 * time.Second)
	var notes int
	for ; time.Now().Before(deadline); time.Sleep(300 * time.Millisecond) {
		msgs, err := sim.Mailbox(creds.TenantID, sender.UserPrincipalName, "inbox")
		if err != nil {
			t.Fatal(err)
		}
		notes = 0
		for _, m := range msgs {
			if m.Subject == "note T-7" {
				notes++
			}
		}
		if notes > 0 {
			break
		}
	}
	if notes != 1 {
		t.Fatalf("the manual run delivered %d notes; want 1 (the repeated request must not send again)", notes)
	}

	for _, c := range []struct {
		args []string
		code int
		says string
	}{
		{[]string{"--recipe", "note", "--payload", "{not json"}, exitUsage, "give a JSON object"},
		{[]string{"--recipe", "tag-boss", "--payload", `{"x": 1}`}, exitFailure, "drop --payload"},
		{[]string{"--recipe", "tag-boss"}, exitFailure, "--item ID"},
		{[]string{"--recipe", "nope"}, exitFailure, "not loaded"},
	} {
		r := runStarter(t, cfg, "", append([]string{"recipes", "run", "--tenant", "demo"}, c.args...)...)
		if r.code != c.code || !strings.Contains(r.stderr, c.says) {
			t.Errorf("recipes run %v: exit %d (want %d), stderr %q should say %q", c.args, r.code, c.code, r.stderr, c.says)
		}
	}
}
