package integration

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/outlookflow/outlookflow/graphsim"
	"github.com/outlookflow/outlookflow/internal/permissions"
	"github.com/outlookflow/outlookflow/recipe"
	"github.com/outlookflow/outlookflow/store"
	"github.com/outlookflow/outlookflow/workflows/mailsync"
	"github.com/outlookflow/outlookflow/workflows/reciperun"
)

// Graph gives a message moved or copied to another folder a new ID, and
// the new folder's delta lists it as created: to the sync, a new message.
// A recipe that already fired for the message must not fire again for it
// (recipe.Decision.AlreadyFired, store.FiredMessageRuns); its decision
// about the new ID says why, for `starter recipes why`.

const anyFolderRecipe = `name: any-folder
tenant: {{TENANT}}
mailboxes: {users: [adele@contoso.example]}
trigger:
  newMail: {folder: "*"}
steps:
  - id: pause
    wait: {for: 1s}
`

// graphPost posts to the simulator through outlookflow's own Graph client
// as the tenant's app, for what the control API does not do (a copy).
func (h *harness) graphPost(path string, body, out any) {
	h.t.Helper()
	h.graphCall(http.MethodPost, path, body, out)
}

// moveMessage moves one of Adele's messages to a folder as a user would;
// the message gets a new ID, which it returns.
func (h *harness) moveMessage(id, folder string) string {
	h.t.Helper()
	moved, err := h.sim.MoveMessage(h.tenant.TenantID, adele, id, folder)
	if err != nil {
		h.t.Fatal(err)
	}
	if moved == id {
		h.t.Fatalf("the moved message kept its ID %s; Graph gives it a new one", id)
	}
	return moved
}

// storedIn fails unless the store holds Adele's message id in the folder
// with the well-known name, and no longer holds each of gone: the sync saw
// the move (so a run that did not start was not merely unsynced mail).
func (h *harness) storedIn(st store.Store, id, wellKnown string, gone ...string) {
	h.t.Helper()
	ctx := context.Background()
	mb := h.userID(adele)
	got, err := st.MessagesByID(ctx, h.key, mb, append([]string{id}, gone...))
	if err != nil {
		h.t.Fatal(err)
	}
	m, ok := got[id]
	if !ok || len(got) != 1 {
		h.t.Fatalf("the store holds %d of the messages %s (and gone %v), want only %s", len(got), id, gone, id)
	}
	f, found, err := st.Folder(ctx, h.key, mb, m.FolderID)
	if err != nil || !found || f.WellKnownName != wellKnown {
		h.t.Fatalf("message %s is stored in folder %+v (%v), want %s", id, f, err, wellKnown)
	}
	if m.InternetMessageID == "" {
		h.t.Fatalf("message %s is stored without its internetMessageId", id)
	}
}

// refusedAsMoved fails unless the one decision of the recipe about item is
// not fired, naming earlier as the run that already fired for it.
func (h *harness) refusedAsMoved(st store.Store, name, item, earlier string) {
	h.t.Helper()
	ds, err := st.Decisions(context.Background(), h.key, name, item)
	if err != nil || len(ds) != 1 {
		h.t.Fatalf("decisions of %s about %s: %+v, %v; want one", name, item, ds, err)
	}
	want := "already fired for this message as run " + earlier + ": it was moved or copied (Graph gives a moved message a new ID)"
	if d := ds[0]; d.Fired || d.Reason != want {
		h.t.Fatalf("decision of %s about %s: fired %v, reason %q; want not fired, %q", name, item, d.Fired, d.Reason, want)
	}
}

// newMail on any folder fires once for a message: not again when it is
// moved to the archive (a new ID there), nor when that is copied back to
// the inbox; a message that is new in the archive fires as usual.
func TestRecipeNewMailOnAnyFolderDoesNotFireAgainForAMovedOrCopiedMessage(t *testing.T) {
	t.Parallel()
	names := itemNames{}
	h := newTriggerHarness(t, []string{permissions.FeatureMail}, nil, map[string]string{"any-folder.yaml": anyFolderRecipe}, nil)
	st := h.openStore()
	h.assertRunItems(st, names, "any-folder")

	msg := h.deliver(adele, megan, "move me")
	names[msg] = "move me"
	h.syncRun(mailsync.Input{})
	runs := h.assertRunItems(st, names, "any-folder", msg)
	first := recipe.RunID(h.key, "any-folder", msg, "new")
	if runs[0].RunID != first || runs[0].MessageKey == "" {
		t.Fatalf("the run of the new message: %+v; want %s with a message key", runs[0], first)
	}
	h.waitRuns(runs, reciperun.StatusCompleted, time.Minute)

	// Moved to the archive, with a message new in the archive beside it.
	moved := h.moveMessage(msg, "archive")
	fresh, err := h.sim.DeliverMessage(h.tenant.TenantID, adele, graphsim.MessageSeed{From: megan, To: []string{adele}, Subject: "new in the archive",
		Folder: "archive", ReceivedAt: time.Now().UTC()})
	if err != nil {
		t.Fatal(err)
	}
	names[moved], names[fresh] = "move me (moved to the archive)", "new in the archive"
	h.syncRun(mailsync.Input{})
	h.storedIn(st, moved, "archive", msg)
	h.assertRunItems(st, names, "any-folder", msg, fresh)
	h.refusedAsMoved(st, "any-folder", moved, first)

	// Copied back to the inbox through Graph: the same internetMessageId
	// under a third ID.
	var copied struct {
		ID string `json:"id"`
	}
	h.graphPost("/users/"+url.PathEscape(h.userID(adele))+"/messages/"+url.PathEscape(moved)+"/copy", map[string]any{"destinationId": "inbox"}, &copied)
	if copied.ID == "" || copied.ID == moved {
		t.Fatalf("the copy's ID: %q", copied.ID)
	}
	names[copied.ID] = "move me (copied to the inbox)"
	h.syncRun(mailsync.Input{})
	h.storedIn(st, copied.ID, "inbox", msg)
	runs = h.assertRunItems(st, names, "any-folder", msg, fresh)
	h.refusedAsMoved(st, "any-folder", copied.ID, first)
	h.waitRuns(runs, reciperun.StatusCompleted, time.Minute)
}

// mailFlagged fires when a message becomes flagged, not again when it is
// moved while flagged (under its new ID its flag before is unknown), and
// again when it is cleared and flagged anew after the move.
func TestRecipeMailFlaggedDoesNotFireAgainForAMessageMovedWhileFlagged(t *testing.T) {
	t.Parallel()
	names := itemNames{}
	h := newTriggerHarness(t, []string{permissions.FeatureMail}, nil, map[string]string{"flagged.yaml": flaggedRecipe}, nil)
	st := h.openStore()

	msg := h.deliver(adele, megan, "flag, move, flag again")
	names[msg] = "flag, move, flag again"
	h.syncRun(mailsync.Input{})
	h.assertRunItems(st, names, "flagged")

	flag := func(id, status string) {
		t.Helper()
		if err := h.sim.UpdateMessage(h.tenant.TenantID, adele, id, graphsim.MessageUpdate{FlagStatus: &status}); err != nil {
			t.Fatal(err)
		}
		h.syncRun(mailsync.Input{})
	}
	flag(msg, "flagged")
	runs := h.assertRunItems(st, names, "flagged", msg)
	first := runs[0].RunID

	moved := h.moveMessage(msg, "archive")
	names[moved] = "flag, move, flag again (moved)"
	h.syncRun(mailsync.Input{})
	h.storedIn(st, moved, "archive", msg)
	h.assertRunItems(st, names, "flagged", msg)
	h.refusedAsMoved(st, "flagged", moved, first)

	// Cleared and flagged again on the moved message: a real new flagging.
	flag(moved, "notFlagged")
	h.assertRunItems(st, names, "flagged", msg)
	flag(moved, "flagged")
	runs = h.assertRunItems(st, names, "flagged", msg, moved)
	for _, r := range runs {
		if !strings.HasPrefix(r.ChangeKey, "flagged:") {
			t.Fatalf("run %s has change key %q, want flagged:…", r.RunID, r.ChangeKey)
		}
	}
	h.waitRuns(runs, reciperun.StatusCompleted, time.Minute)
}
