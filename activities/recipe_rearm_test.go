package activities_test

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/outlookflow/outlookflow/activities"
	"github.com/outlookflow/outlookflow/domain"
	"github.com/outlookflow/outlookflow/recipe"
	"github.com/outlookflow/outlookflow/store"
)

// skippedRuns is startedRuns whose Skipped answers from a set and counts
// the questions.
type skippedRuns struct {
	startedRuns
	mu      sync.Mutex
	skipped map[string]bool
	asked   []string
}

func (s *skippedRuns) Skipped(_ context.Context, runID string) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.asked = append(s.asked, runID)
	return s.skipped[runID], nil
}

const reminderLead15 = `name: remind
tenant: contoso
mailboxes: {all: true}
trigger:
  upcomingEvent: {leadTime: 15m}
steps:
  - id: pause
    wait: {for: 1s}
`

// Only a reminder due within a minute (or overdue) can have a run that
// already went off and was skipped, so only it asks the server; a reminder
// whose run under its ID was skipped is armed under the next ID.
func TestReminderAsksWhetherItsRunWasSkippedOnlyWhenDue(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, store.Config{SQLitePath: filepath.Join(t.TempDir(), "store.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	now := time.Now().UTC().Truncate(time.Second)
	runs := &skippedRuns{skipped: map[string]bool{}}
	a := &activities.Recipes{Store: st, Book: activities.NewRecipeBook(parseRecipes(t, reminderLead15)), Runs: runs, Log: zap.NewNop(),
		Now: func() time.Time { return now }}
	event := func(id string, start time.Time, location string) domain.Event {
		return domain.Event{ID: id, Mailbox: movedMailbox, Subject: id, Start: start, End: start.Add(30 * time.Minute), Location: location,
			StartTimeZone: "UTC", EndTimeZone: "UTC", LastModifiedAt: now}
	}
	page := 0
	apply := func(events ...domain.Event) {
		t.Helper()
		page++
		if _, err := st.ApplyEvents(ctx, store.EventsPage{Tenant: movedTenant, Mailbox: movedMailbox, Window: "w", Upserts: events,
			Next: store.Next{Token: string(rune('a' + page))}, Outbox: true}); err != nil {
			t.Fatal(err)
		}
		if _, err := a.Dispatch(ctx, movedTenant, movedMailbox); err != nil {
			t.Fatal(err)
		}
	}
	later := now.Add(2 * time.Hour)   // due in 1h45m
	soon := now.Add(10 * time.Minute) // due 5 minutes ago
	apply(event("later", later, ""), event("soon", soon, ""))
	soonRun := recipe.RunID(movedTenant, "remind", "soon", "reminder:"+soon.Format(time.RFC3339))
	if len(runs.runs) != 2 {
		t.Fatalf("started %d reminders, want 2", len(runs.runs))
	}
	if len(runs.asked) != 1 || runs.asked[0] != soonRun {
		t.Fatalf("asked the server about %v; want only the due reminder %s", runs.asked, soonRun)
	}

	// The due reminder's run went off while the event was elsewhere and
	// was skipped; a change to the event now arms the next ID.
	runs.skipped[soonRun] = true
	apply(event("soon", soon, "room 2"))
	last := runs.runs[len(runs.runs)-1]
	if len(runs.runs) != 3 || last.RunID != recipe.ReArmedRunID(soonRun, 2) {
		t.Fatalf("runs %+v; want the third armed as %s", runs.runs, recipe.ReArmedRunID(soonRun, 2))
	}
}
