package main

import (
	"strings"
	"testing"
	"time"

	"github.com/outlookflow/outlookflow/recipe"
)

// A decision refused because the recipe already fired for the message
// (moved or copied under a new ID) prints the duplicate check and the
// reason naming the earlier run.
func TestWhyPrintsAMovedMessagesDuplicateCheck(t *testing.T) {
	d := recipe.Decision{Recipe: "any-folder", Enabled: true, RunID: "outlookflow-recipe-new", Fire: true,
		Trigger: recipe.Check{Name: "trigger", Passed: true, Reason: "new message"},
		Mailbox: recipe.Check{Name: "mailbox", Passed: true, Reason: "one of the listed users"}}
	d.AlreadyFired("outlookflow-recipe-first")
	rep := whyReport{Tenant: "contoso", Recipe: "any-folder", ItemID: "m-moved", Decisions: []whyDecision{{
		At: time.Date(2025, 3, 3, 9, 0, 0, 0, time.UTC), ChangeKey: "new", Mailbox: "u1", Reason: d.Reason(), RunID: d.RunID, Match: &d}}}
	var b strings.Builder
	if err := printWhy(&b, rep); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	t.Logf("recipes why:\n%s", out)
	for _, want := range []string{
		"duplicate  refused  already fired for this message as run outlookflow-recipe-first: it was moved or copied",
		"decided    not fired  already fired for this message as run outlookflow-recipe-first",
	} {
		if !strings.Contains(strings.Join(strings.Fields(out), " "), strings.Join(strings.Fields(want), " ")) {
			t.Errorf("why's table lacks %q:\n%s", want, out)
		}
	}
}
