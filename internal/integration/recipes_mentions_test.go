package integration

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/outlookflow/outlookflow/graphsim"
	"github.com/outlookflow/outlookflow/recipe"
	"github.com/outlookflow/outlookflow/workflows/mailsync"
	"github.com/outlookflow/outlookflow/workflows/reciperun"
)

// The condition reads the signal the trigger fired on, so the run's
// snapshot must carry it too.
const mentionsMeRecipe = `name: mentions-me
tenant: {{TENANT}}
mailboxes: {users: [adele@contoso.example]}
trigger:
  mailMentionsMe: {}
condition: mail.isMentioned
steps:
  - id: pause
    wait: {for: 1s}
`

// mailMentionsMe fires on new mail that @-mentions the mailbox's owner, as
// Graph beta's mentionsPreview.isMentioned says (asked through the SDK
// pipeline, on /beta): once for the message mentioning Adele, not for one
// mentioning nobody or only Megan, and not again on later syncs.
func TestRecipeMailMentionsMeFiresOnlyOnMailMentioningTheOwner(t *testing.T) {
	h := newRecipeHarness(t, recipeRoles, map[string]string{"mentions.yaml": mentionsMeRecipe})
	ids := map[string]string{}
	for _, m := range []graphsim.MessageSeed{
		{Subject: "mentions adele", Mentions: []string{adele}},
		{Subject: "mentions nobody"},
		{Subject: "mentions megan", Mentions: []string{megan}},
	} {
		m.From, m.To, m.BodyText, m.ReceivedAt = megan, []string{adele}, "hello", time.Now().UTC()
		id, err := h.sim.DeliverMessage(h.tenant.TenantID, adele, m)
		if err != nil {
			t.Fatal(err)
		}
		ids[m.Subject] = id
	}
	h.sim.ClearRequests()
	h.syncRun(mailsync.Input{})

	runID := recipe.RunID(h.key, "mentions-me", ids["mentions adele"], "new")
	res, err := h.runResult(runID, time.Minute)
	if err != nil {
		t.Fatalf("run %s of the message mentioning Adele: %v", runID, err)
	}
	if res.Status != reciperun.StatusCompleted {
		t.Fatalf("run result %+v, want Completed", res)
	}
	var beta []graphsim.RequestRecord
	for _, r := range h.sim.Requests() {
		if strings.HasPrefix(r.Path, "/beta/") {
			beta = append(beta, r)
		}
	}
	if len(beta) != 1 || beta[0].Path != "/beta/users/"+h.userID(adele)+"/messages" || beta[0].Status != 200 {
		t.Fatalf("beta requests %+v, want one 200 GET of Adele's messages", beta)
	}

	// Later syncs (and a lost delta state, which lists every message
	// again) start nothing more.
	h.syncRun(mailsync.Input{})
	if err := h.sim.ExpireDeltaTokens(h.tenant.TenantID); err != nil {
		t.Fatal(err)
	}
	h.syncRun(mailsync.Input{})
	if runs := h.recipeRuns("mentions-me"); len(runs) != 1 || runs[0] != runID {
		t.Fatalf("runs of mentions-me = %v, want exactly [%s]", runs, runID)
	}
	st := h.openStore()
	for _, subject := range []string{"mentions nobody", "mentions megan"} {
		if ds, err := st.Decisions(context.Background(), h.key, "mentions-me", ids[subject]); err != nil || len(ds) != 0 && ds[0].Fired {
			t.Errorf("%s: decisions %+v, %v; want it not fired", subject, ds, err)
		}
	}
}
