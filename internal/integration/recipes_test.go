package integration

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.temporal.io/api/workflowservice/v1"

	"github.com/outlookflow/outlookflow/activities"
	"github.com/outlookflow/outlookflow/graphsim"
	"github.com/outlookflow/outlookflow/internal/app"
	"github.com/outlookflow/outlookflow/internal/permissions"
	"github.com/outlookflow/outlookflow/recipe"
	"github.com/outlookflow/outlookflow/workflows/mailsync"
	"github.com/outlookflow/outlookflow/workflows/reciperun"
	"github.com/outlookflow/outlookflow/workflows/tenant"
)

// recipeRoles are what the recipe tests' app holds: the sync's reads plus
// sending and writing mail (the key lookups read extended properties).
var recipeRoles = []string{"User.Read.All", "Mail.ReadWrite", "Mail.Send", "Calendars.ReadWrite"}

const (
	adele = "adele@contoso.example"
	megan = "megan@contoso.example"
)

// newRecipeHarness is a connected tenant (Adele and Megan) whose worker
// loads the given recipes (file name → YAML, with {{TENANT}} standing for
// the tenant key), synced once so later mail is new.
func newRecipeHarness(t *testing.T, roles []string, recipes map[string]string) *harness {
	t.Helper()
	h, _ := newRecipeHarnessWorker(t, roles, recipes)
	return h
}

// newRecipeHarnessWorker is newRecipeHarness that also returns the worker.
func newRecipeHarnessWorker(t *testing.T, roles []string, recipes map[string]string) (*harness, *app.Workers) {
	t.Helper()
	h := newWorld(t, roles, []string{permissions.FeatureMail}, time.Hour, randomKey(t))
	dir := t.TempDir()
	for name, body := range recipes {
		writeFile(t, filepath.Join(dir, name), strings.ReplaceAll(body, "{{TENANT}}", h.key))
	}
	h.cfg.Recipes.Dir = dir
	w := h.startWorker()
	h.connect()
	h.waitFor("Connected", time.Minute, func(v tenant.StatusView) bool { return v.Status == tenant.StatusConnected })
	h.settleFirstSync()
	return h, w
}

// settleFirstSync lets the tenant's first sync end before a test's mail
// arrives: connecting starts the scheduled sync at once, and mail that a
// first sync picks up counts as already there. So: wait for the scheduled
// run to have ended, sync once more (the tests' baseline), and wait for
// it. (A manual sync during the first one waits for each mailbox's lease:
// TestManualSyncDuringTheFirstSyncWaitsForEachMailbox.)
func (h *harness) settleFirstSync() {
	h.t.Helper()
	q := fmt.Sprintf("OutlookflowTenant = %q AND WorkflowType = %q AND OutlookflowSyncKind = %q AND ExecutionStatus != 'Running'",
		h.key, mailsync.WorkflowName, mailsync.KindScheduled)
	deadline := time.Now().Add(time.Minute)
	for {
		resp, err := h.client.ListWorkflow(context.Background(), &workflowservice.ListWorkflowExecutionsRequest{Namespace: h.cfg.Temporal.Namespace, Query: q})
		if err != nil {
			h.t.Fatal(err)
		}
		if len(resp.GetExecutions()) > 0 {
			break
		}
		if time.Now().After(deadline) {
			h.t.Fatal("the tenant's first scheduled sync did not end within a minute")
		}
		time.Sleep(200 * time.Millisecond)
	}
	h.syncRun(mailsync.Input{})
	h.waitNoSyncRunning()
}

// waitNoSyncRunning waits until visibility shows no running sync run of
// the tenant.
func (h *harness) waitNoSyncRunning() {
	h.t.Helper()
	q := fmt.Sprintf("OutlookflowTenant = %q AND WorkflowType = %q AND ExecutionStatus = 'Running'", h.key, mailsync.WorkflowName)
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		resp, err := h.client.ListWorkflow(context.Background(), &workflowservice.ListWorkflowExecutionsRequest{Namespace: h.cfg.Temporal.Namespace, Query: q})
		if err != nil {
			h.t.Fatal(err)
		}
		if len(resp.GetExecutions()) == 0 {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	h.t.Fatal("the tenant's sync runs did not end within a minute")
}

// deliver puts a message in a mailbox's inbox as if it arrived from from.
func (h *harness) deliver(to, from, subject string) string {
	h.t.Helper()
	id, err := h.sim.DeliverMessage(h.tenant.TenantID, to, graphsim.MessageSeed{From: from, To: []string{to}, Subject: subject, BodyText: "hello", ReceivedAt: time.Now().UTC()})
	if err != nil {
		h.t.Fatal(err)
	}
	return id
}

// mailbox lists a simulated mailbox's folder ("" = all).
func (h *harness) mailbox(user, folder string) []graphsim.Message {
	h.t.Helper()
	msgs, err := h.sim.Mailbox(h.tenant.TenantID, user, folder)
	if err != nil {
		h.t.Fatal(err)
	}
	return msgs
}

func withSubject(msgs []graphsim.Message, subject string) []graphsim.Message {
	var out []graphsim.Message
	for _, m := range msgs {
		if m.Subject == subject {
			out = append(out, m)
		}
	}
	return out
}

// userID is a seeded user's object ID.
func (h *harness) userID(upn string) string {
	for _, u := range h.tenant.Users {
		if strings.EqualFold(u.UserPrincipalName, upn) {
			return u.ID
		}
	}
	h.t.Fatalf("no seeded user %s", upn)
	return ""
}

// runResult waits for a recipe run to end and returns its result.
func (h *harness) runResult(runID string, timeout time.Duration) (reciperun.Result, error) {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var res reciperun.Result
	err := h.client.GetWorkflow(ctx, runID, "").Get(ctx, &res)
	return res, err
}

// recipeRuns lists the runs of a recipe in the tenant (all of them, closed
// or not), from visibility.
func (h *harness) recipeRuns(name string) []string {
	h.t.Helper()
	q := fmt.Sprintf("OutlookflowTenant = %q AND OutlookflowRecipe = %q", h.key, name)
	var ids []string
	var token []byte
	for {
		resp, err := h.client.ListWorkflow(context.Background(), &workflowservice.ListWorkflowExecutionsRequest{
			Namespace: h.cfg.Temporal.Namespace, Query: q, NextPageToken: token})
		if err != nil {
			h.t.Fatal(err)
		}
		for _, e := range resp.GetExecutions() {
			ids = append(ids, e.GetExecution().GetWorkflowId())
		}
		if token = resp.GetNextPageToken(); len(token) == 0 {
			return ids
		}
	}
}

const ackRecipe = `name: ack-vip
tenant: {{TENANT}}
mailboxes:
  users: [adele@contoso.example]
trigger:
  newMail:
    from: [megan@contoso.example]
    subjectContains: [urgent]
steps:
  - id: ack
    reply:
      body: "Thanks {{ mail.fromName }}, we have your message."
  - id: tag
    setCategories:
      categories: [VIP]
`

// A new message that matches fires the recipe once: the reply reaches the
// sender and Adele's Sent Items once, the category is set; a message that
// does not match starts nothing; syncing again, replaying the delta from
// scratch and restarting the worker start no second run.
func TestRecipeFiresOncePerMessageThroughReplaysResyncsAndRestarts(t *testing.T) {
	h, w := newRecipeHarnessWorker(t, recipeRoles, map[string]string{"ack.yaml": ackRecipe})
	hit := h.deliver(adele, megan, "urgent: budget")
	h.deliver(adele, megan, "lunch?")
	h.syncRun(mailsync.Input{})

	runID := recipe.RunID(h.key, "ack-vip", hit, "new")
	res, err := h.runResult(runID, time.Minute)
	if err != nil {
		t.Fatalf("run %s: %v", runID, err)
	}
	if res.Status != reciperun.StatusCompleted || len(res.Steps) != 2 {
		t.Fatalf("run result %+v, want Completed with 2 steps", res)
	}
	assertOneReply := func(when string) {
		t.Helper()
		if got := withSubject(h.mailbox(megan, "inbox"), "RE: urgent: budget"); len(got) != 1 {
			t.Fatalf("%s: Megan's inbox holds %d replies, want 1", when, len(got))
		}
		if got := withSubject(h.mailbox(adele, "sentitems"), "RE: urgent: budget"); len(got) != 1 {
			t.Fatalf("%s: Adele's Sent Items hold %d replies, want 1", when, len(got))
		}
	}
	assertOneReply("after the run")
	for _, m := range h.mailbox(adele, "inbox") {
		if m.ID == hit && (len(m.Categories) != 1 || m.Categories[0] != "VIP") {
			t.Fatalf("categories of the triggering message = %v, want [VIP]", m.Categories)
		}
	}

	// Replays: more cycles, a lost delta state (the sync starts over and
	// sees every message again), a restarted worker.
	h.syncRun(mailsync.Input{})
	if err := h.sim.ExpireDeltaTokens(h.tenant.TenantID); err != nil {
		t.Fatal(err)
	}
	h.syncRun(mailsync.Input{})
	w.Stop()
	h.startWorker()
	h.syncRun(mailsync.Input{})
	if runs := h.recipeRuns("ack-vip"); len(runs) != 1 || runs[0] != runID {
		t.Fatalf("runs of ack-vip = %v, want exactly [%s]", runs, runID)
	}
	assertOneReply("after replays")
}

const escalateRecipe = `name: vip-escalate
tenant: {{TENANT}}
mailboxes:
  users: [adele@contoso.example]
trigger:
  newMail:
    from: [megan@contoso.example]
steps:
  - id: ack
    reply:
      body: "Got it."
  - id: waitReply
    wait: {for: 8s, untilReplyInConversation: true}
  - id: check
    if: "!steps.waitReply.replied"
    then:
      - id: escalate
        forward:
          to: megan@contoso.example
          body: "No reply within the time."
    else:
      - id: done
        markRead: {}
`

// A durable wait ends on a reply in the conversation (the sync signals
// it) or on time, and the if step branches on which came first.
func TestRecipeWaitEndsOnReplyOrOnTimeAndBranches(t *testing.T) {
	h := newRecipeHarness(t, recipeRoles, map[string]string{"escalate.yaml": escalateRecipe})
	quiet := h.deliver(adele, megan, "question A")
	answered := h.deliver(adele, megan, "question B")
	h.syncRun(mailsync.Input{})

	answeredRun := recipe.RunID(h.key, "vip-escalate", answered, "new")
	h.waitRunStatus(answeredRun, reciperun.StatusWaiting, 30*time.Second)
	st := h.openStore()
	msgs, err := st.MessagesByID(context.Background(), h.key, h.userID(adele), []string{answered})
	if err != nil || msgs[answered].ConversationID == "" {
		t.Fatalf("conversation of the answered message: %v %+v", err, msgs)
	}
	if _, err := h.sim.DeliverMessage(h.tenant.TenantID, adele, graphsim.MessageSeed{From: megan, To: []string{adele},
		Subject: "RE: question B", BodyText: "here you go", ConversationID: msgs[answered].ConversationID}); err != nil {
		t.Fatal(err)
	}
	h.syncRun(mailsync.Input{})

	res, err := h.runResult(answeredRun, time.Minute)
	if err != nil {
		t.Fatalf("answered run: %v", err)
	}
	if got := outcomes(res); got != "ack=sent waitReply=replied check=false done=done" {
		t.Fatalf("answered run steps: %s", got)
	}
	res, err = h.runResult(recipe.RunID(h.key, "vip-escalate", quiet, "new"), time.Minute)
	if err != nil {
		t.Fatalf("quiet run: %v", err)
	}
	if got := outcomes(res); got != "ack=sent waitReply=timed out check=true escalate=sent" {
		t.Fatalf("quiet run steps: %s", got)
	}
	if got := withSubject(h.mailbox(megan, "inbox"), "FW: question A"); len(got) != 1 {
		t.Fatalf("Megan's inbox holds %d escalations of question A, want 1", len(got))
	}
	if got := withSubject(h.mailbox(megan, "inbox"), "FW: question B"); len(got) != 0 {
		t.Fatalf("question B was answered but escalated %d times", len(got))
	}
}

func outcomes(res reciperun.Result) string {
	var parts []string
	for _, s := range res.Steps {
		parts = append(parts, s.ID+"="+s.Outcome)
	}
	return strings.Join(parts, " ")
}

// waitRunStatus polls a run's state query until it reports status.
func (h *harness) waitRunStatus(runID, status string, timeout time.Duration) reciperun.State {
	h.t.Helper()
	deadline := time.Now().Add(timeout)
	var last reciperun.State
	var lastErr error
	for time.Now().Before(deadline) {
		resp, err := h.client.QueryWorkflow(context.Background(), runID, "", reciperun.QueryState)
		if lastErr = err; err == nil {
			if lastErr = resp.Get(&last); lastErr == nil && last.Status == status {
				return last
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	h.t.Fatalf("run %s did not reach %s within %s: last %+v (%v)", runID, status, timeout, last, lastErr)
	return last
}

// An action Graph refuses (the app lacks Mail.Send) fails that run with a
// reason an operator can read, and the worker goes on with other runs.
func TestRecipeRunGraphRefusesFailsWithReasonAndOthersGoOn(t *testing.T) {
	recipes := map[string]string{"ack.yaml": ackRecipe, "tag.yaml": `name: tag-all
tenant: {{TENANT}}
mailboxes: {all: true}
trigger:
  newMail: {}
steps:
  - id: tag
    setCategories: {categories: [Seen]}
`}
	h := newRecipeHarness(t, []string{"User.Read.All", "Mail.ReadWrite"}, recipes)
	hit := h.deliver(adele, megan, "urgent: refused")
	h.syncRun(mailsync.Input{})
	_, err := h.runResult(recipe.RunID(h.key, "ack-vip", hit, "new"), time.Minute)
	if err == nil || !strings.Contains(err.Error(), "step ack") || !strings.Contains(err.Error(), "Forbidden") {
		t.Fatalf("ack-vip run error = %v, want a failure at step ack naming Forbidden", err)
	}
	if _, err := h.runResult(recipe.RunID(h.key, "tag-all", hit, "new"), time.Minute); err != nil {
		t.Fatalf("tag-all run: %v", err)
	}
	desc, err := h.client.DescribeWorkflowExecution(context.Background(), recipe.RunID(h.key, "ack-vip", hit, "new"), "")
	if err != nil {
		t.Fatal(err)
	}
	var status string
	if p := desc.GetWorkflowExecutionInfo().GetSearchAttributes().GetIndexedFields()[reciperun.SearchAttrStatus.GetName()]; p != nil {
		status = string(p.GetData())
	}
	if !strings.Contains(status, reciperun.StatusFailed) {
		t.Fatalf("OutlookflowRunStatus = %s, want Failed", status)
	}
}

// A paused tenant holds its runs' actions; resuming releases them.
func TestRecipeActionsWaitWhileTheTenantIsPausedAndRunOnResume(t *testing.T) {
	h := newRecipeHarness(t, recipeRoles, map[string]string{"ack.yaml": ackRecipe})
	h.update(tenant.UpdatePause, tenant.PauseRequest{Reason: "maintenance"})
	hit := h.deliver(adele, megan, "urgent: while paused")
	h.syncRun(mailsync.Input{})
	runID := recipe.RunID(h.key, "ack-vip", hit, "new")
	time.Sleep(3 * time.Second)
	if got := withSubject(h.mailbox(megan, "inbox"), "RE: urgent: while paused"); len(got) != 0 {
		t.Fatalf("a paused tenant's run sent %d replies", len(got))
	}
	desc, err := h.client.DescribeWorkflowExecution(context.Background(), runID, "")
	if err != nil {
		t.Fatal(err)
	}
	pending := desc.GetPendingActivities()
	if len(pending) != 1 || pending[0].GetLastFailure().GetApplicationFailureInfo().GetType() != activities.ErrTenantHeld {
		t.Fatalf("pending activities while paused: %+v, want the ack step held (TenantHeld)", pending)
	}
	h.update(tenant.UpdateResume, tenant.ResumeRequest{})
	if _, err := h.runResult(runID, time.Minute); err != nil {
		t.Fatalf("run after resume: %v", err)
	}
	if got := withSubject(h.mailbox(megan, "inbox"), "RE: urgent: while paused"); len(got) != 1 {
		t.Fatalf("after resume Megan has %d replies, want 1", len(got))
	}
}

// The crash window: Graph commits each write and the response is lost
// (the draft's creation, then its sending). The step's retries find the
// draft, then the sent message, by their key: one reply reaches the sender
// and one copy lands in Sent Items.
func TestRecipeReplyIsSentOnceWhenGraphCommitsAndDropsTheResponse(t *testing.T) {
	h := newRecipeHarness(t, recipeRoles, map[string]string{"ack.yaml": ackRecipe})
	fault := h.sim.InjectFault(graphsim.Fault{Method: "POST", Path: "/v1.0/users/" + h.userID(adele) + "/messages", DropResponse: true, Count: 2})
	hit := h.deliver(adele, megan, "urgent: crash window")
	h.syncRun(mailsync.Input{})
	res, err := h.runResult(recipe.RunID(h.key, "ack-vip", hit, "new"), 2*time.Minute)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	var dropped []string
	for _, r := range h.sim.Requests() {
		if r.FaultID == fault {
			dropped = append(dropped, r.Path[strings.LastIndex(r.Path, "/")+1:])
		}
	}
	if strings.Join(dropped, ",") != "createReply,send" {
		t.Fatalf("responses dropped for %v, want createReply then send", dropped)
	}
	if got := withSubject(h.mailbox(megan, "inbox"), "RE: urgent: crash window"); len(got) != 1 {
		t.Fatalf("Megan's inbox holds %d replies, want 1 (run %+v)", len(got), res)
	}
	if got := withSubject(h.mailbox(adele, "sentitems"), "RE: urgent: crash window"); len(got) != 1 {
		t.Fatalf("Adele's Sent Items hold %d replies, want 1", len(got))
	}
	if got := withSubject(h.mailbox(adele, "drafts"), "RE: urgent: crash window"); len(got) != 0 {
		t.Fatalf("%d drafts left behind", len(got))
	}
}
