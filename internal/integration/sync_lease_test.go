package integration

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/outlookflow/outlookflow/domain"
	"github.com/outlookflow/outlookflow/graphsim"
	"github.com/outlookflow/outlookflow/internal/permissions"
	"github.com/outlookflow/outlookflow/workflows/mailsync"
	"github.com/outlookflow/outlookflow/workflows/tenant"
)

// A manual sync started while the scheduled first sync is still walking
// the mailboxes waits for each mailbox's lease instead of walking the same
// cursors beside it: the mail that was there before the first sync stays
// "already there" and fires no new-mail recipe, and both runs succeed.
func TestManualSyncDuringTheFirstSyncWaitsForEachMailbox(t *testing.T) {
	t.Parallel()
	h := newWorld(t, recipeRoles, []string{permissions.FeatureMail}, time.Hour, randomKey(t))
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "any.yaml"), strings.ReplaceAll(`name: any-mail
tenant: {{TENANT}}
mailboxes: {all: true}
trigger:
  newMail: {folder: "*"}
steps:
  - id: tag
    setCategories: {categories: [Seen]}
`, "{{TENANT}}", h.key))
	h.cfg.Recipes.Dir = dir
	for i, to := range []string{adele, megan, adele} {
		if _, err := h.sim.DeliverMessage(h.tenant.TenantID, to, graphsim.MessageSeed{From: "someone@fabrikam.example", To: []string{to},
			Subject: "there before " + string(rune('a'+i)), BodyText: "old", ReceivedAt: time.Now().UTC().Add(-time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	// Every Graph request takes a second, so the first sync's rounds are
	// slow; the manual sync starts once that first sync has the mailbox's
	// folder list but not yet its folders' messages — the window in which
	// a second walker would have taken the folders' first rounds for new
	// mail.
	h.sim.SetLatency(graphsim.Latency{Fixed: time.Second})
	w := h.startWorker()
	h.connect()
	h.waitFor("Connected", time.Minute, func(v tenant.StatusView) bool { return v.Status == tenant.StatusConnected })
	folders := domain.CursorKey{Tenant: h.key, Mailbox: h.userID(adele), Kind: domain.CursorFolders}
	deadline := time.Now().Add(time.Minute)
	for {
		cur, found, err := w.Store.Cursor(context.Background(), folders)
		if err != nil {
			t.Fatal(err)
		}
		if found && cur.Complete {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the first sync never finished Adele's folder list")
		}
		time.Sleep(20 * time.Millisecond)
	}
	h.syncRun(mailsync.Input{})
	h.waitNoSyncRunning()
	h.sim.SetLatency(graphsim.Latency{})
	if !strings.Contains(h.logs.String(), "mailbox is being synced by another run; waiting for it") {
		t.Fatal("the manual sync never waited for a mailbox: the two runs did not overlap, so this test showed nothing")
	}
	if runs := h.recipeRuns("any-mail"); len(runs) != 0 {
		t.Fatalf("mail that was there before the first sync fired %d runs: %v", len(runs), runs)
	}
}
