package activities_test

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.uber.org/zap"

	"github.com/outlookflow/outlookflow/activities"
	"github.com/outlookflow/outlookflow/domain"
	"github.com/outlookflow/outlookflow/graphsim"
	"github.com/outlookflow/outlookflow/recipe"
	"github.com/outlookflow/outlookflow/store"
)

// parseRecipes parses recipe sources that must be valid.
func parseRecipes(t *testing.T, srcs ...string) []*recipe.Recipe {
	t.Helper()
	var rs []*recipe.Recipe
	for _, src := range srcs {
		r, diags := recipe.Parse("r.yaml", []byte(src), recipe.Options{})
		if len(diags) > 0 {
			t.Fatalf("recipe: %v", diags)
		}
		rs = append(rs, r)
	}
	return rs
}

// startedRuns is a RunStarter that records what it was asked to start.
type startedRuns struct {
	mu   sync.Mutex
	runs []activities.RunStart
}

func (s *startedRuns) StartRun(_ context.Context, start activities.RunStart) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.runs = append(s.runs, start)
	return true, nil
}

func (s *startedRuns) SignalReply(context.Context, string, string, time.Time) (bool, error) {
	return false, nil
}

// Skipped: no run these tests start ends skipped.
func (s *startedRuns) Skipped(context.Context, string) (bool, error) { return false, nil }

func (s *startedRuns) recipes() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]int{}
	for _, r := range s.runs {
		out[r.Recipe]++
	}
	return out
}

const mentionsRecipe = `name: mentions
tenant: contoso
mailboxes: {users: [adele@contoso.example]}
trigger:
  mailMentionsMe: {}
steps:
  - id: pause
    wait: {for: 1s}
`

// mentionWorld is a stepWorld whose store holds three new messages of
// Adele's (in the simulator too): one mentioning her, one mentioning
// nobody, one mentioning Megan; their changes wait in the outbox.
func mentionWorld(t *testing.T, roles []string, recipes ...string) (*stepWorld, *activities.Recipes, *startedRuns, map[string]string) {
	t.Helper()
	w := newStepWorld(t, roles)
	ctx := context.Background()
	ids := map[string]string{}
	var upserts []domain.Message
	now := time.Now().UTC().Truncate(time.Second)
	for i, m := range []graphsim.MessageSeed{
		{Subject: "mentions adele", Mentions: []string{adeleUPN}},
		{Subject: "mentions nobody"},
		{Subject: "mentions megan", Mentions: []string{meganUPN}},
	} {
		m.From, m.To, m.ReceivedAt = meganUPN, []string{adeleUPN}, now.Add(time.Duration(i)*time.Second)
		id, err := w.sim.DeliverMessage(w.tenantID, w.adele, m)
		if err != nil {
			t.Fatal(err)
		}
		ids[m.Subject] = id
		upserts = append(upserts, domain.Message{ID: id, Subject: m.Subject, ReceivedAt: m.ReceivedAt, From: domain.EmailAddress{Address: meganUPN}})
	}
	inbox, err := w.sim.Mailbox(w.tenantID, w.adele, "inbox")
	if err != nil || len(inbox) == 0 {
		t.Fatalf("Adele's inbox: %v, %v", inbox, err)
	}
	folder := inbox[0].FolderID
	if _, err := w.store.ApplyFolders(ctx, store.FoldersPage{Tenant: worldKey, Mailbox: w.adele, Next: store.Next{Token: "f", Complete: true},
		Upserts: []domain.MailFolder{{ID: folder, DisplayName: "Inbox", WellKnownName: "inbox"}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.store.ApplyMessages(ctx, store.MessagesPage{Tenant: worldKey, Mailbox: w.adele, FolderID: folder, Upserts: upserts,
		Next: store.Next{Token: "m", Complete: true}, Outbox: true}); err != nil {
		t.Fatal(err)
	}
	rs := parseRecipes(t, recipes...)
	runs := &startedRuns{}
	a := &activities.Recipes{Store: w.store, Book: activities.NewRecipeBook(rs), Runs: runs, Graph: w.appGraph(), Log: zap.NewNop(),
		Tenants: tenants{activities.TenantSettings{TenantID: w.tenantID, ClientID: w.clientID, AuthMode: activities.AuthAppOnly,
			ResolveSecret: func() (string, error) { return w.secret, nil }}}}
	return w, a, runs, ids
}

func betaRequests(sim *graphsim.Server) []graphsim.RequestRecord {
	var out []graphsim.RequestRecord
	for _, r := range sim.Requests() {
		if strings.HasPrefix(r.Path, "/beta/") {
			out = append(out, r)
		}
	}
	return out
}

// One beta query per chunk decides every new message: the one mentioning
// Adele fires, the others do not, and the outbox is acked.
func TestDispatchAsksGraphBetaOncePerChunkAndFiresOnTheMentioningMessage(t *testing.T) {
	w, a, runs, ids := mentionWorld(t, []string{"Mail.ReadBasic.All", "User.Read.All"}, mentionsRecipe)
	res, err := a.Dispatch(context.Background(), worldKey, w.adele)
	if err != nil {
		t.Fatal(err)
	}
	if res.Changes != 3 || res.Started != 1 {
		t.Fatalf("dispatch = %+v, want 3 changes and 1 run", res)
	}
	if len(runs.runs) != 1 || runs.runs[0].RunID != recipe.RunID(worldKey, "mentions", ids["mentions adele"], "new") {
		t.Fatalf("runs = %+v, want the run of the message mentioning Adele", runs.runs)
	}
	beta := betaRequests(w.sim)
	query := ""
	if len(beta) == 1 {
		query, _ = url.QueryUnescape(beta[0].RawQuery)
	}
	if len(beta) != 1 || beta[0].Status != 200 || !strings.Contains(query, "$filter=mentionsPreview/isMentioned eq true and receivedDateTime ge ") {
		t.Fatalf("beta requests = %+v, want one 200 mention query bounded by receivedDateTime", beta)
	}
	if left, err := w.store.PendingChanges(context.Background(), worldKey, w.adele, 0); err != nil || len(left) != 0 {
		t.Fatalf("outbox after the dispatch: %d changes, %v", len(left), err)
	}
}

// Without an enabled mailMentionsMe recipe watching the mailbox, Graph
// beta is not asked.
func TestDispatchDoesNotAskGraphBetaWithoutAWatchingMentionsRecipe(t *testing.T) {
	other := strings.Replace(mentionsRecipe, "adele@contoso.example", "megan@contoso.example", 1)
	disabled := strings.Replace(strings.Replace(mentionsRecipe, "name: mentions", "name: off", 1), "mailboxes:", "enabled: false\nmailboxes:", 1)
	w, a, runs, _ := mentionWorld(t, []string{"Mail.ReadBasic.All", "User.Read.All"}, other, disabled)
	if _, err := a.Dispatch(context.Background(), worldKey, w.adele); err != nil {
		t.Fatal(err)
	}
	if n := len(betaRequests(w.sim)); n != 0 || len(runs.runs) != 0 {
		t.Fatalf("%d beta requests, %d runs; want none", n, len(runs.runs))
	}
}

// Throttling beyond kiota's retries fails the dispatch retryably, after
// Graph's Retry-After, and acks nothing; the retry decides.
func TestDispatchFailsRetryablyWhenTheMentionQueryIsThrottled(t *testing.T) {
	w, a, runs, _ := mentionWorld(t, []string{"Mail.ReadBasic.All", "User.Read.All"}, mentionsRecipe)
	w.sim.InjectFault(graphsim.Fault{Method: "GET", Path: "/beta/", Status: 429, RetryAfter: 2, Count: 4})
	_, err := a.Dispatch(context.Background(), worldKey, w.adele)
	var appErr *temporal.ApplicationError
	if !errors.As(err, &appErr) || appErr.NonRetryable() || appErr.NextRetryDelay() != 2*time.Second {
		t.Fatalf("throttled mention query → %v, want a retryable error with NextRetryDelay 2s", err)
	}
	if left, _ := w.store.PendingChanges(context.Background(), worldKey, w.adele, 0); len(left) != 3 || len(runs.runs) != 0 {
		t.Fatalf("after the failure: %d changes pending, %d runs; want 3 and 0", len(left), len(runs.runs))
	}
	if _, err := a.Dispatch(context.Background(), worldKey, w.adele); err != nil || len(runs.runs) != 1 {
		t.Fatalf("the retry: %v, %d runs; want 1", err, len(runs.runs))
	}
}

// A refusal retrying cannot fix (403: the app cannot read mail) records
// the mentions recipe's decisions as not fired, saying why, and lets the
// dispatch (and the mailbox's other recipes) go on.
func TestDispatchRecordsARefusedMentionQueryAsNotFiredAndGoesOn(t *testing.T) {
	newMail := `name: any-mail
tenant: contoso
mailboxes: {users: [adele@contoso.example]}
trigger:
  newMail: {}
steps:
  - id: pause
    wait: {for: 1s}
`
	w, a, runs, ids := mentionWorld(t, []string{"Mail.ReadBasic.All", "User.Read.All"}, mentionsRecipe, newMail)
	if err := w.sim.SetGrantedRoles(w.tenantID, w.clientID, []string{"User.Read.All"}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Dispatch(context.Background(), worldKey, w.adele); err != nil {
		t.Fatalf("a refused mention query must not fail the dispatch: %v", err)
	}
	if got := runs.recipes(); got["mentions"] != 0 || got["any-mail"] != 3 {
		t.Fatalf("runs by recipe = %v, want any-mail 3 and mentions 0", got)
	}
	for subject, id := range ids {
		ds, err := w.store.Decisions(context.Background(), worldKey, "mentions", id)
		if err != nil || len(ds) != 1 {
			t.Fatalf("%s: decisions %+v, %v; want one", subject, ds, err)
		}
		if ds[0].Fired || !strings.Contains(ds[0].Reason, "mention signal is unavailable") || !strings.Contains(ds[0].Reason, "403") ||
			strings.Contains(ds[0].Reason, subject) {
			t.Errorf("%s: decision %+v, want not fired, naming Graph's 403 and no mail content", subject, ds[0])
		}
	}
	if left, _ := w.store.PendingChanges(context.Background(), worldKey, w.adele, 0); len(left) != 0 {
		t.Fatalf("%d changes still pending, want the outbox acked", len(left))
	}
}
