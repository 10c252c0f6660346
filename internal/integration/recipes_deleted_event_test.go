package integration

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/outlookflow/outlookflow/graphsim"
	"github.com/outlookflow/outlookflow/internal/permissions"
	"github.com/outlookflow/outlookflow/workflows/mailsync"
	"github.com/outlookflow/outlookflow/workflows/reciperun"
)

// A deleted-event recipe with filters: Graph's delta says only that an
// event ID is gone, so the filters and the templates match the event as
// the store last held it.
const deletedOffsiteRecipe = `name: offsite-cancelled
tenant: {{TENANT}}
mailboxes: {users: [adele@contoso.example]}
trigger:
  eventChanged:
    changeTypes: [deleted]
    subjectContains: [offsite]
    organizer: [adele@contoso.example]
steps:
  - id: tell
    send:
      to: megan@contoso.example
      subject: "Called off: {{ event.subject }} ({{ event.start }})"
`

// TestRecipeEventDeletedMatchesFiltersOnTheEventAsLastStored: of two
// deleted events only the one whose stored subject matches fires, its run
// reads the deleted event's subject and start, and `recipes why` on the
// other names the filter that failed on its last known subject.
func TestRecipeEventDeletedMatchesFiltersOnTheEventAsLastStored(t *testing.T) {
	t.Parallel()
	h := newTriggerHarness(t, []string{permissions.FeatureMail, permissions.FeatureCalendar}, nil,
		map[string]string{"offsite.yaml": deletedOffsiteRecipe}, nil)
	start := time.Now().UTC().Add(72 * time.Hour).Truncate(time.Hour)
	offsite, err := h.sim.CreateEvent(h.tenant.TenantID, graphsim.EventSeed{Organizer: adele, Subject: "Team offsite", Start: start, End: start.Add(4 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	budget, err := h.sim.CreateEvent(h.tenant.TenantID, graphsim.EventSeed{Organizer: adele, Subject: "Budget review", Start: start.Add(-24 * time.Hour), End: start.Add(-23 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	names := itemNames{offsite: "Team offsite", budget: "Budget review"}
	h.syncRun(mailsync.Input{})
	st := h.openStore()
	h.assertRunItems(st, names, "offsite-cancelled") // created: not this recipe's change type

	for _, id := range []string{offsite, budget} {
		if err := h.sim.DeleteEvent(h.tenant.TenantID, adele, id); err != nil {
			t.Fatal(err)
		}
	}
	h.syncRun(mailsync.Input{})
	runs := h.assertRunItems(st, names, "offsite-cancelled", offsite)
	h.completedRun(runs[0].RunID, "tell=sent")
	want := "Called off: Team offsite (" + start.Format(time.RFC3339) + ")"
	one(t, "the notice in Megan's inbox", withSubject(h.mailbox(megan, "inbox"), want))

	decisions, err := st.Decisions(context.Background(), h.key, "offsite-cancelled", budget)
	if err != nil {
		t.Fatal(err)
	}
	var deletedDecision string
	for _, d := range decisions {
		if strings.HasPrefix(d.ChangeKey, "deleted:") {
			deletedDecision = d.Reason
			if d.Fired {
				t.Fatalf("the budget review's deletion fired: %+v", d)
			}
		}
	}
	// Before, a deleted event had no data: "no event data (deleted and not
	// in the store)". Now the subject filter is evaluated, and fails.
	if deletedDecision != "subjectContains: the subject contains none of the 1 strings" {
		t.Fatalf("the budget review's deletion was recorded as %q; want the subject filter failing on its last known subject", deletedDecision)
	}
	h.waitRuns(runs, reciperun.StatusCompleted, time.Minute)
}
