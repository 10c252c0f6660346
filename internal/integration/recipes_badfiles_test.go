package integration

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/outlookflow/outlookflow/recipe"
	"github.com/outlookflow/outlookflow/workflows/mailsync"
	"github.com/outlookflow/outlookflow/workflows/reciperun"
	"github.com/outlookflow/outlookflow/workflows/tenant"
)

// badRecipes are one file per class of mistake, each with the position
// and the words its message must have.
var badRecipes = []struct {
	file, body string
	pos        string // line:col of the mistake
	says       []string
}{
	{"unknown-trigger.yaml", "name: a\ntenant: {{TENANT}}\nmailboxes: {all: true}\ntrigger:\n  newEmail: {}\nsteps:\n  - id: r\n    markRead: {}\n",
		"5:3", []string{"newEmail", "newMail"}},
	{"unknown-action.yaml", "name: b\ntenant: {{TENANT}}\nmailboxes: {all: true}\ntrigger:\n  newMail: {}\nsteps:\n  - id: r\n    markAsRead: {}\n",
		"8:5", []string{"markAsRead", "markRead"}},
	{"bad-field.yaml", "name: c\ntenant: {{TENANT}}\nmailboxes: {all: true}\ntrigger:\n  newMail:\n    sender: [x@contoso.example]\nsteps:\n  - id: r\n    markRead: {}\n",
		"6:5", []string{"sender", "did you mean"}},
	{"bad-expression.yaml", "name: d\ntenant: {{TENANT}}\nmailboxes: {all: true}\ntrigger:\n  newMail: {}\ncondition: mail.importance ==\nsteps:\n  - id: r\n    markRead: {}\n",
		"6:29", []string{"condition", "expr-lang.org"}},
	{"missing-field.yaml", "name: e\ntenant: {{TENANT}}\nmailboxes: {all: true}\ntrigger:\n  newMail: {}\nsteps:\n  - id: r\n    reply:\n      body: \"Hi {{ mail.sendr }}\"\n",
		"9:25", []string{"sendr", "sender"}},
}

// A worker given bad recipe files logs each with its file:line:col, what is
// wrong and how to fix it, and serves the valid recipe beside them; a
// valid recipe whose action needs a permission the tenant lacks is named
// in the tenant's status (MISSING and the recipe in DETAIL) and its run
// fails with Graph's 403, while the other recipe's run completes.
func TestRecipeWorkerRefusesBadFilesByPositionAndServesTheRest(t *testing.T) {
	t.Parallel()
	files := map[string]string{
		"good.yaml": ackRecipe,
		"needs-more.yaml": `name: file-it
tenant: {{TENANT}}
mailboxes:
  users: [adele@contoso.example]
trigger:
  newMail:
    subjectContains: [urgent]
steps:
  - id: file
    createContact:
      displayName: Someone
      emails: [someone@fabrikam.example]
`,
	}
	for _, b := range badRecipes {
		files[b.file] = b.body
	}
	// Mail.ReadWrite and Mail.Send for the good recipe; no Contacts.ReadWrite.
	h, w := newRecipeHarnessWorker(t, recipeRoles, files)
	dir := h.cfg.Recipes.Dir
	logs := h.logs.String()
	for _, b := range badRecipes {
		prefix := filepath.Join(dir, b.file) + ":" + b.pos + ": "
		if !strings.Contains(logs, prefix) {
			t.Errorf("%s: the worker's log has no message at %s", b.file, prefix)
			continue
		}
		line := logs[strings.Index(logs, prefix):]
		line = line[:strings.IndexByte(line, '\n')]
		for _, word := range b.says {
			if !strings.Contains(line, word) {
				t.Errorf("%s: message %q does not mention %q", b.file, line, word)
			}
		}
	}
	if got := len(w.Book.Tenant(h.key)); got != 2 {
		t.Fatalf("the worker serves %d recipes; want the 2 valid ones", got)
	}

	v := h.waitFor("the recipe's need in the status", time.Minute, func(v tenant.StatusView) bool {
		return strings.Contains(strings.Join(v.Missing, ","), "Contacts.ReadWrite")
	})
	if !strings.Contains(v.Detail, "file-it") {
		t.Errorf("status detail %q does not name the recipe that needs Contacts.ReadWrite", v.Detail)
	}

	msg := h.deliver(adele, megan, "urgent: contracts")
	h.syncRun(mailsync.Input{})
	if res, err := h.runResult(recipe.RunID(h.key, "ack-vip", msg, "new"), time.Minute); err != nil || res.Status != reciperun.StatusCompleted {
		t.Fatalf("the valid recipe's run: %+v, %v", res, err)
	}
	if _, err := h.runResult(recipe.RunID(h.key, "file-it", msg, "new"), time.Minute); err == nil || !strings.Contains(err.Error(), "step file") || !strings.Contains(err.Error(), "403") {
		t.Fatalf("the recipe lacking Contacts.ReadWrite: %v; want its run failed at step file with Graph's 403", err)
	}
}
