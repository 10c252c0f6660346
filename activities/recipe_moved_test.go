package activities_test

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/outlookflow/outlookflow/activities"
	"github.com/outlookflow/outlookflow/domain"
	"github.com/outlookflow/outlookflow/recipe"
	"github.com/outlookflow/outlookflow/store"
)

// Graph gives a message moved or copied to another folder a new ID, and
// the new folder's delta lists it as created. These tests feed the
// dispatcher such pages directly (the integration tests do it through the
// simulator and Temporal): a recipe that fired for a message does not fire
// again for its moved or copied self, whether the earlier run is in the
// store or in the same chunk; a repeated dispatch still starts its own run;
// a message that is flagged again on the same ID is a new run.

const (
	movedTenant  = "contoso"
	movedMailbox = "u-adele"
)

var movedRecipes = []string{`name: any-folder
tenant: contoso
mailboxes: {all: true}
trigger:
  newMail: {folder: "*"}
steps:
  - id: pause
    wait: {for: 1s}
`, `name: flagged
tenant: contoso
mailboxes: {all: true}
trigger:
  mailFlagged: {}
steps:
  - id: pause
    wait: {for: 1s}
`}

// flakyRuns is startedRuns that fails while failing is set.
type flakyRuns struct {
	startedRuns
	failing bool
}

func (f *flakyRuns) StartRun(ctx context.Context, start activities.RunStart) (bool, error) {
	if f.failing {
		return false, errors.New("temporal is away")
	}
	return f.startedRuns.StartRun(ctx, start)
}

type movedWorld struct {
	t    *testing.T
	st   store.Store
	a    *activities.Recipes
	runs *flakyRuns
	page int
}

func newMovedWorld(t *testing.T) *movedWorld {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, store.Config{SQLitePath: filepath.Join(t.TempDir(), "store.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	if _, err := st.ApplyFolders(ctx, store.FoldersPage{Tenant: movedTenant, Mailbox: movedMailbox, Next: store.Next{Token: "f", Complete: true},
		Upserts: []domain.MailFolder{
			{ID: "inbox", DisplayName: "Inbox", WellKnownName: "inbox"},
			{ID: "archive", DisplayName: "Archive", WellKnownName: "archive"},
		}}); err != nil {
		t.Fatal(err)
	}
	rs := parseRecipes(t, movedRecipes...)
	runs := &flakyRuns{}
	return &movedWorld{t: t, st: st, runs: runs, a: &activities.Recipes{Store: st, Book: activities.NewRecipeBook(rs), Runs: runs, Log: zap.NewNop()}}
}

func movedMessage(id, folder, internetID string, flag domain.FlagStatus) domain.Message {
	return domain.Message{ID: id, FolderID: folder, InternetMessageID: internetID, Subject: "s", Flag: domain.Flag{Status: flag},
		ReceivedAt: time.Date(2025, 3, 3, 9, 0, 0, 0, time.UTC), From: domain.EmailAddress{Address: "megan@contoso.example"}}
}

// apply saves a page of one folder with its outbox, then dispatches it.
func (w *movedWorld) apply(folder string, upserts []domain.Message, removed ...string) error {
	w.t.Helper()
	w.page++
	if _, err := w.st.ApplyMessages(context.Background(), store.MessagesPage{Tenant: movedTenant, Mailbox: movedMailbox, FolderID: folder,
		Upserts: upserts, Removed: removed, Next: store.Next{Token: strings.Repeat("p", w.page)}, Outbox: true}); err != nil {
		w.t.Fatal(err)
	}
	_, err := w.a.Dispatch(context.Background(), movedTenant, movedMailbox)
	return err
}

func (w *movedWorld) mustApply(folder string, upserts []domain.Message, removed ...string) {
	w.t.Helper()
	if err := w.apply(folder, upserts, removed...); err != nil {
		w.t.Fatal(err)
	}
}

// started lists the items of the runs of recipe started so far, sorted
// (a dispatch starts its runs in parallel).
func (w *movedWorld) started(name string) []string {
	w.runs.mu.Lock()
	defer w.runs.mu.Unlock()
	var out []string
	for _, r := range w.runs.runs {
		if r.Recipe == name {
			run, found, err := w.st.Run(context.Background(), r.RunID)
			if err != nil || !found {
				w.t.Fatalf("started run %s is not stored: %v", r.RunID, err)
			}
			out = append(out, run.ItemID)
		}
	}
	slices.Sort(out)
	return out
}

func (w *movedWorld) startedAre(name string, want ...string) {
	w.t.Helper()
	slices.Sort(want)
	if got := w.started(name); !slices.Equal(got, want) {
		w.t.Fatalf("runs of %s started for %q, want %q", name, got, want)
	}
}

// decision is the one recorded decision of recipe about item.
func (w *movedWorld) decision(name, item string) store.RecipeDecision {
	w.t.Helper()
	ds, err := w.st.Decisions(context.Background(), movedTenant, name, item)
	if err != nil || len(ds) != 1 {
		w.t.Fatalf("decisions of %s about %s: %+v, %v; want one", name, item, ds, err)
	}
	return ds[0]
}

func (w *movedWorld) refusedAsMoved(name, item, earlierRun string) {
	w.t.Helper()
	d := w.decision(name, item)
	want := "already fired for this message as run " + earlierRun + ": it was moved or copied"
	if d.Fired || !strings.HasPrefix(d.Reason, want) || !strings.Contains(string(d.Detail), `"Duplicate":{"Name":"duplicate","Passed":false`) {
		w.t.Fatalf("decision of %s about %s: fired %v, reason %q, detail %s; want not fired, %q…", name, item, d.Fired, d.Reason, d.Detail, want)
	}
}

func TestDispatchDoesNotFireAgainForAMovedOrCopiedMessage(t *testing.T) {
	w := newMovedWorld(t)
	w.mustApply("inbox", []domain.Message{movedMessage("m1", "inbox", "<one@contoso.example>", domain.FlagNotFlagged)})
	w.startedAre("any-folder", "m1")
	first := recipe.RunID(movedTenant, "any-folder", "m1", "new")
	run, _, _ := w.st.Run(context.Background(), first)
	if run.MessageKey != recipe.MessageKey("<one@contoso.example>") {
		t.Fatalf("the run's message key = %q, want recipe.MessageKey of its internetMessageId", run.MessageKey)
	}

	// Moved to the archive: a new ID there (Graph's Message-ID case may
	// differ between copies), removed from the inbox.
	w.mustApply("archive", []domain.Message{movedMessage("m1-moved", "archive", " <ONE@contoso.example>", domain.FlagNotFlagged)})
	w.mustApply("inbox", nil, "m1")
	w.startedAre("any-folder", "m1")
	w.refusedAsMoved("any-folder", "m1-moved", first)

	// Copied twice in one chunk: one run, the second copy refused as a
	// copy of the first.
	w.mustApply("archive", []domain.Message{
		movedMessage("m2-a", "archive", "<two@contoso.example>", domain.FlagNotFlagged),
		movedMessage("m2-b", "archive", "<two@contoso.example>", domain.FlagNotFlagged),
	})
	w.startedAre("any-folder", "m1", "m2-a")
	w.refusedAsMoved("any-folder", "m2-b", recipe.RunID(movedTenant, "any-folder", "m2-a", "new"))

	// Messages without a Message-ID are never taken for one another.
	w.mustApply("inbox", []domain.Message{movedMessage("d1", "inbox", "", domain.FlagNotFlagged), movedMessage("d2", "inbox", "", domain.FlagNotFlagged)})
	w.startedAre("any-folder", "m1", "m2-a", "d1", "d2")
}

// A dispatch that fails after saving its runs is repeated: the runs it
// saved are its own, not earlier ones, and start.
func TestRepeatedDispatchStartsTheRunsItSaved(t *testing.T) {
	w := newMovedWorld(t)
	w.runs.failing = true
	if err := w.apply("inbox", []domain.Message{movedMessage("m1", "inbox", "<one@contoso.example>", domain.FlagNotFlagged)}); err == nil {
		t.Fatal("the dispatch succeeded while runs could not start")
	}
	if _, found, _ := w.st.Run(context.Background(), recipe.RunID(movedTenant, "any-folder", "m1", "new")); !found {
		t.Fatal("the failed dispatch did not save its run first")
	}
	w.runs.failing = false
	if _, err := w.a.Dispatch(context.Background(), movedTenant, movedMailbox); err != nil {
		t.Fatal(err)
	}
	w.startedAre("any-folder", "m1")
	if d := w.decision("any-folder", "m1"); !d.Fired {
		t.Fatalf("the repeated dispatch's decision: %+v, want fired", d)
	}
}

// mailFlagged: a message moved while flagged does not fire again (its
// previous flag is unknown under the new ID); cleared and flagged again
// there, it does.
func TestDispatchDoesNotFireFlaggedAgainForAMessageMovedWhileFlagged(t *testing.T) {
	w := newMovedWorld(t)
	const id = "<flag@contoso.example>"
	w.mustApply("inbox", []domain.Message{movedMessage("m1", "inbox", id, domain.FlagNotFlagged)})
	w.mustApply("inbox", []domain.Message{movedMessage("m1", "inbox", id, domain.FlagFlagged)})
	w.startedAre("flagged", "m1")
	flaggedRun := w.runs.runs[len(w.runs.runs)-1].RunID

	w.mustApply("archive", []domain.Message{movedMessage("m1-moved", "archive", id, domain.FlagFlagged)})
	w.mustApply("inbox", nil, "m1")
	w.startedAre("flagged", "m1")
	w.refusedAsMoved("flagged", "m1-moved", flaggedRun)

	w.mustApply("archive", []domain.Message{movedMessage("m1-moved", "archive", id, domain.FlagNotFlagged)})
	w.mustApply("archive", []domain.Message{movedMessage("m1-moved", "archive", id, domain.FlagFlagged)})
	w.startedAre("flagged", "m1", "m1-moved")
}
