package integration

import (
	"testing"
	"time"

	"github.com/outlookflow/outlookflow/graphsim"
	"github.com/outlookflow/outlookflow/internal/permissions"
	"github.com/outlookflow/outlookflow/recipe"
	"github.com/outlookflow/outlookflow/store"
	"github.com/outlookflow/outlookflow/workflows/mailsync"
	"github.com/outlookflow/outlookflow/workflows/reciperun"
)

// TestRecipeReminderIsArmedAgainWhenItsEventComesBackAfterItWasSkipped: an
// event is moved away before its reminder goes off, so that run is
// skipped; moved back to its first start (now inside the lead time), it
// gets its reminder at once, under the next run ID — Temporal never
// reuses the skipped run's — and another sync starts nothing more.
func TestRecipeReminderIsArmedAgainWhenItsEventComesBackAfterItWasSkipped(t *testing.T) {
	t.Parallel()
	h := newTriggerHarness(t, []string{permissions.FeatureMail, permissions.FeatureCalendar}, []graphsim.UserSeed{
		{ID: guid(t), DisplayName: "Diego Siciliani", Mail: diegoAddress, UserPrincipalName: diegoAddress},
	}, map[string]string{"reminder.yaml": reminderRecipe}, nil)
	st := h.openStore()
	start := time.Now().UTC().Truncate(time.Second).Add(reminderLead + 15*time.Second)
	id, err := h.sim.CreateEvent(h.tenant.TenantID, graphsim.EventSeed{Organizer: megan, Subject: "budget sync", Start: start, End: start.Add(30 * time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	names := itemNames{id: "budget sync"}
	moveTo := func(at time.Time) {
		t.Helper()
		end := at.Add(30 * time.Minute)
		if err := h.sim.UpdateEvent(h.tenant.TenantID, megan, id, graphsim.EventUpdate{Start: &at, End: &end}); err != nil {
			t.Fatal(err)
		}
		h.syncRun(mailsync.Input{})
	}
	h.syncRun(mailsync.Input{})
	first := h.assertRunItems(st, names, "reminder", id)[0]

	// Moved an hour later before the reminder goes off: skipped when it
	// does.
	moveTo(start.Add(time.Hour))
	h.assertRunItems(st, names, "reminder", id, id)
	h.waitRuns([]store.RecipeRun{first}, reciperun.StatusSkipped, time.Minute)
	if !time.Now().Before(start) {
		t.Fatalf("the first reminder was skipped only at %s, after the event's start %s: the test cannot move it back in time", time.Now().UTC(), start)
	}

	// Back at its first start: a new run for that start, at once.
	moveTo(start)
	runs := h.assertRunItems(st, names, "reminder", id, id, id)
	var again store.RecipeRun
	for _, r := range runs {
		if r.RunID == recipe.ReArmedRunID(first.RunID, 2) {
			again = r
		}
	}
	if again.RunID == "" || again.ChangeKey != first.ChangeKey {
		t.Fatalf("no re-armed run %s with change key %s among %+v", recipe.ReArmedRunID(first.RunID, 2), first.ChangeKey, runs)
	}
	h.waitRuns([]store.RecipeRun{again}, reciperun.StatusCompleted, time.Minute)
	one(t, "the reminder in Diego's inbox", withSubject(h.mailbox(diegoAddress, "inbox"), "Reminder: budget sync"))

	// Another change at the same start re-arms nothing: the new run fired.
	room := "room 2"
	if err := h.sim.UpdateEvent(h.tenant.TenantID, megan, id, graphsim.EventUpdate{Location: &room}); err != nil {
		t.Fatal(err)
	}
	h.syncRun(mailsync.Input{})
	h.assertRunItems(st, names, "reminder", id, id, id)
	one(t, "the reminder in Diego's inbox", withSubject(h.mailbox(diegoAddress, "inbox"), "Reminder: budget sync"))
}
