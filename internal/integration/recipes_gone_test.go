package integration

import (
	"strings"
	"testing"
	"time"

	"github.com/outlookflow/outlookflow/recipe"
	"github.com/outlookflow/outlookflow/workflows/mailsync"
	"github.com/outlookflow/outlookflow/workflows/reciperun"
)

// An item deleted in Outlook while its run waits: the next action gets
// Graph's 404, the run fails at once (no retrying a gone item) with a
// reason naming the step and the 404, and another recipe's run on the same
// message completes.
func TestRecipeRunOnAnItemGoneFailsWithTheStepAndGraphs404(t *testing.T) {
	t.Parallel()
	h := newRecipeHarness(t, recipeRoles, map[string]string{"later.yaml": `name: read-later
tenant: {{TENANT}}
mailboxes:
  users: [adele@contoso.example]
trigger:
  newMail:
    subjectContains: [gone]
steps:
  - id: pause
    wait: {for: 4s}
  - id: read
    markRead: {}
`, "tag.yaml": `name: tag-now
tenant: {{TENANT}}
mailboxes:
  users: [adele@contoso.example]
trigger:
  newMail:
    subjectContains: [gone]
steps:
  - id: tag
    setCategories: {categories: [Seen]}
`})
	msg := h.deliver(adele, megan, "gone soon")
	h.syncRun(mailsync.Input{})
	later := recipe.RunID(h.key, "read-later", msg, "new")
	if res, err := h.runResult(recipe.RunID(h.key, "tag-now", msg, "new"), time.Minute); err != nil || res.Status != reciperun.StatusCompleted {
		t.Fatalf("tag-now: %+v, %v", res, err)
	}
	h.waitRunStatus(later, reciperun.StatusWaiting, time.Minute)
	if err := h.sim.DeleteMessage(h.tenant.TenantID, adele, msg); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err := h.runResult(later, time.Minute)
	if err == nil || !strings.Contains(err.Error(), "step read") || !strings.Contains(err.Error(), "404") {
		t.Fatalf("run on a deleted message: %v; want a failure at step read naming Graph's 404", err)
	}
	if took := time.Since(start); took > 20*time.Second {
		t.Fatalf("the run took %s to fail after the wait: a 404 must not be retried", took.Round(time.Second))
	}
	st := h.waitRunStatus(later, reciperun.StatusFailed, 10*time.Second)
	if st.Step != "read" || !strings.Contains(st.Reason, "404") {
		t.Fatalf("the run's state: step %q reason %q; want step read and Graph's 404", st.Step, st.Reason)
	}
}
