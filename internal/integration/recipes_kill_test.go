package integration

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/outlookflow/outlookflow/graphsim"
	"github.com/outlookflow/outlookflow/internal/permissions"
	"github.com/outlookflow/outlookflow/recipe"
	"github.com/outlookflow/outlookflow/workflows/mailsync"
	"github.com/outlookflow/outlookflow/workflows/reciperun"
	"github.com/outlookflow/outlookflow/workflows/tenant"
)

const killReplyRecipe = `name: kill-reply
tenant: {{TENANT}}
mailboxes:
  users: [adele@contoso.example]
trigger:
  newMail:
    subjectContains: [crash]
steps:
  - id: ack
    reply:
      body: "received"
`

const killWaitRecipe = `name: kill-wait
tenant: {{TENANT}}
mailboxes:
  users: [adele@contoso.example]
trigger:
  newMail:
    subjectContains: [crash]
steps:
  - id: pause
    wait:
      for: 25s
  - id: fwd
    forward:
      to: [megan@contoso.example]
      body: "after the wait"
`

// A worker process killed -9 in the middle of a run: one run is inside
// its reply's send (Graph is holding the request), the other inside a
// durable 25-second wait. A new worker finishes both: the send is retried
// after the heartbeat timeout and the reply arrives once; the wait ends
// on time (its timer lives on the server) and the forward goes out once.
func TestRecipeWorkerKilledDuringAnActionAndAWaitFinishesEachRunOnce(t *testing.T) {
	t.Parallel()
	h := newWorld(t, recipeRoles, []string{permissions.FeatureMail}, time.Hour, randomKey(t))
	dir := t.TempDir()
	for name, body := range map[string]string{"reply.yaml": killReplyRecipe, "wait.yaml": killWaitRecipe} {
		writeFile(t, filepath.Join(dir, name), strings.ReplaceAll(body, "{{TENANT}}", h.key))
	}
	h.cfg.Recipes.Dir = dir
	first := h.startWorkerProcess()
	h.connect()
	h.waitFor("Connected", time.Minute, func(v tenant.StatusView) bool { return v.Status == tenant.StatusConnected })
	h.settleFirstSync()

	// The reply's send hangs in Graph (before committing) until the
	// worker dies.
	h.sim.InjectFault(graphsim.Fault{Method: "POST", Path: "/v1.0/users/" + h.userID(adele) + "/messages/", Latency: 10 * time.Minute, Count: 1})
	msg := h.deliver(adele, megan, "crash test")
	h.syncRun(mailsync.Input{})
	replyRun := recipe.RunID(h.key, "kill-reply", msg, "new")
	waitRun := recipe.RunID(h.key, "kill-wait", msg, "new")
	h.waitRunStatus(waitRun, reciperun.StatusWaiting, time.Minute)
	waitStart := time.Now()
	deadline := time.Now().Add(time.Minute)
	for len(h.sim.Faults()) > 0 {
		if time.Now().After(deadline) {
			t.Fatal("the reply never reached Graph's send")
		}
		time.Sleep(100 * time.Millisecond)
	}
	first.kill(t)
	if got := len(withSubject(h.mailbox(megan, "inbox"), "RE: crash test")); got != 0 {
		t.Fatalf("a reply arrived before the kill (%d): the send was not in flight", got)
	}
	time.Sleep(3 * time.Second) // the worker stays dead a moment
	h.startWorkerProcess()

	res, err := h.runResult(replyRun, 2*time.Minute)
	if err != nil || res.Status != reciperun.StatusCompleted {
		t.Fatalf("reply run after the kill: %+v, %v", res, err)
	}
	if got := len(withSubject(h.mailbox(megan, "inbox"), "RE: crash test")); got != 1 {
		t.Fatalf("Megan got %d replies; want exactly 1", got)
	}
	if got := len(withSubject(h.mailbox(adele, "sentitems"), "RE: crash test")); got != 1 {
		t.Fatalf("Adele's Sent Items hold %d replies; want exactly 1", got)
	}
	if drafts := withSubject(h.mailbox(adele, "drafts"), "RE: crash test"); len(drafts) != 0 {
		t.Fatalf("%d reply drafts left behind", len(drafts))
	}

	res, err = h.runResult(waitRun, 2*time.Minute)
	ended := time.Now()
	if err != nil || res.Status != reciperun.StatusCompleted {
		t.Fatalf("wait run after the kill: %+v, %v", res, err)
	}
	if got := len(withSubject(h.mailbox(megan, "inbox"), "FW: crash test")); got != 1 {
		t.Fatalf("Megan got %d forwards; want exactly 1", got)
	}
	// On time: not before the 25 s, and not long after (the timer fires on
	// the server; the new worker only has to pick the task up).
	if took := ended.Sub(waitStart); took < 24*time.Second || took > 45*time.Second {
		t.Fatalf("the wait ended %s after it began; want about 25 s", took.Round(time.Second))
	}
	t.Logf("wait ended %s after it began (25 s wait, worker dead for part of it)", ended.Sub(waitStart).Round(100*time.Millisecond))
}
