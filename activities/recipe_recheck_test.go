package activities

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/zap"

	"github.com/outlookflow/outlookflow/recipe"
	"github.com/outlookflow/outlookflow/store"
)

// A delayed run whose recipe an operator disabled while it waited does not
// fire when it goes off (the run then ends Skipped); switched back on, or
// never switched, it fires.
func TestRecheckSkipsARunWhoseRecipeAnOperatorDisabled(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, store.Config{SQLitePath: filepath.Join(t.TempDir(), "store.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	r, diags := recipe.Parse("remind.yaml", []byte(`name: remind
tenant: demo
mailboxes: {all: true}
trigger:
  upcomingEvent: {leadTime: 15m}
steps:
  - id: tell
    send: {to: a@contoso.example, subject: soon}
`), recipe.Options{})
	if len(diags) > 0 {
		t.Fatalf("test recipe does not parse: %v", diags)
	}
	a := &Recipes{Store: st, Book: NewRecipeBook([]*recipe.Recipe{r}), Log: zap.NewNop()}
	// The snapshot without an event: only the switch can stop the run.
	if err := st.SaveRun(ctx, store.RecipeRun{RunID: "run-1", Tenant: "demo", Recipe: "remind", Trigger: []byte(`{}`), Status: "started"}); err != nil {
		t.Fatal(err)
	}
	in := RecipeRecheckInput{Tenant: "demo", Recipe: "remind", RunID: "run-1"}
	check := func(when string, wantFire bool) {
		t.Helper()
		res, err := a.RecheckRecipeTrigger(ctx, in)
		if err != nil {
			t.Fatalf("%s: %v", when, err)
		}
		if res.Fire != wantFire {
			t.Fatalf("%s: Fire = %v (%s), want %v", when, res.Fire, res.Reason, wantFire)
		}
		if !wantFire && !strings.Contains(res.Reason, "operator disabled") {
			t.Fatalf("%s: reason %q does not say an operator disabled the recipe", when, res.Reason)
		}
	}
	check("never switched", true)
	if err := st.SetRecipeEnabled(ctx, "demo", "remind", false); err != nil {
		t.Fatal(err)
	}
	check("disabled by an operator", false)
	if err := st.SetRecipeEnabled(ctx, "demo", "remind", true); err != nil {
		t.Fatal(err)
	}
	check("enabled again", true)
}
