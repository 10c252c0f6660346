package activities_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/outlookflow/outlookflow/activities"
	"github.com/outlookflow/outlookflow/activities/graphclient"
	"github.com/outlookflow/outlookflow/domain"
	"github.com/outlookflow/outlookflow/graphsim"
	"github.com/outlookflow/outlookflow/internal/summarize"
	"github.com/outlookflow/outlookflow/recipe"
	"github.com/outlookflow/outlookflow/store"
)

// mailWorld is a stepWorld whose store holds a morning of Adele's mail:
//
//	lisbon    Megan → Adele 3h ago, unanswered; its body is in the store
//	answered  Megan → Adele 5h ago, Adele's reply 4h ago (Sent Items)
//	old       Megan → Adele 30h ago, outside a day
//	projects  Alex → Adele 1h ago in Projects, unanswered; its body is
//	          only in Graph (the simulator), as in metadata-only sync
//	draft     Adele's draft 10m ago, never part of a digest
type mailWorld struct {
	*stepWorld
	now        time.Time
	projectsID string // the Projects folder's ID
}

func newMailWorld(t *testing.T) *mailWorld {
	t.Helper()
	w := &mailWorld{stepWorld: newStepWorld(t, []string{"User.Read.All", "Mail.Read"}), now: time.Now().UTC().Truncate(time.Second)}
	ctx := context.Background()
	projects, err := w.sim.CreateFolder(w.tenantID, adeleUPN, "", "Projects", false)
	if err != nil {
		t.Fatal(err)
	}
	w.projectsID = projects
	projectsMsg, err := w.sim.DeliverMessage(w.tenantID, adeleUPN, graphsim.MessageSeed{From: "alex@fabrikam.example", To: []string{adeleUPN},
		Subject: "Roadmap", Folder: "Projects", ReceivedAt: w.now.Add(-time.Hour),
		BodyText: "Hello Adele,\nThe roadmap review needs your sign-off on the Q3 milestones before Friday.\n\nOn Mon, Alex wrote:\n> older quoted roadmap text"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.store.ApplyFolders(ctx, store.FoldersPage{Tenant: worldKey, Mailbox: w.adele, Next: store.Next{Token: "f", Complete: true}, Upserts: []domain.MailFolder{
		{ID: "inbox-id", DisplayName: "Inbox", WellKnownName: domain.FolderInbox},
		{ID: "sent-id", DisplayName: "Sent Items", WellKnownName: domain.FolderSentItems},
		{ID: "drafts-id", DisplayName: "Drafts", WellKnownName: "drafts"},
		{ID: projects, DisplayName: "Projects"},
	}}); err != nil {
		t.Fatal(err)
	}
	megan := domain.EmailAddress{Name: "Megan Bowen", Address: meganUPN}
	adele := domain.EmailAddress{Name: "Adele Vance", Address: adeleUPN}
	msg := func(id, folder, conv string, from domain.EmailAddress, subject string, at time.Duration, body string) domain.Message {
		m := domain.Message{ID: id, FolderID: folder, ConversationID: conv, From: from, Subject: subject, ReceivedAt: w.now.Add(-at), SentAt: w.now.Add(-at)}
		if body != "" {
			m.Body = &domain.MessageBody{ContentType: "html", Content: body}
		}
		return m
	}
	pages := map[string][]domain.Message{
		"inbox-id": {
			msg("lisbon", "inbox-id", "c-lisbon", megan, "Lisbon budget", 3*time.Hour,
				"<p>Hi Adele,</p><p>Finance needs the final Lisbon budget numbers by Wednesday noon. The budget review itself moves to Thursday.</p>"),
			msg("answered", "inbox-id", "c-answered", megan, "Lunch", 5*time.Hour, "<p>Lunch on Friday at the usual place?</p>"),
			msg("old", "inbox-id", "c-old", megan, "Old news", 30*time.Hour, ""),
		},
		"sent-id": {msg("reply", "sent-id", "c-answered", adele, "RE: Lunch", 4*time.Hour, "")},
		"drafts-id": {func() domain.Message {
			m := msg("draft", "drafts-id", "c-draft", adele, "Unsent", 10*time.Minute, "")
			m.IsDraft = true
			return m
		}()},
		projects: {msg(projectsMsg, projects, "c-projects", domain.EmailAddress{Name: "Alex Wilber", Address: "alex@fabrikam.example"}, "Roadmap", time.Hour, "")},
	}
	for folder, msgs := range pages {
		if _, err := w.store.ApplyMessages(ctx, store.MessagesPage{Tenant: worldKey, Mailbox: w.adele, FolderID: folder, Upserts: msgs, Next: store.Next{Token: folder}}); err != nil {
			t.Fatal(err)
		}
	}
	return w
}

// appGraph is outlookflow's own Graph client against the simulator.
func (w *stepWorld) appGraph() activities.GraphCaller {
	w.t.Helper()
	g, err := graphclient.New(graphclient.Cloud{AuthorityHost: w.sim.AuthorityHost(), GraphBaseURL: w.sim.GraphBaseURL(),
		AllowedHosts: []string{w.sim.Hostname()}, ExtraCAFile: w.sim.CAFile()})
	if err != nil {
		w.t.Fatal(err)
	}
	return g
}

func summaryOf(t *testing.T, data []byte) recipe.SummaryOutput {
	t.Helper()
	var out recipe.SummaryOutput
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatalf("outputs %s: %v", data, err)
	}
	return out
}

func summarizeRecipe(params string) string {
	return "name: digest\ntenant: contoso\nmailboxes:\n  users: [adele@contoso.example]\ntrigger:\n  newMail: {}\nsteps:\n  - id: digest\n    summarize: " + params + "\n"
}

// The built-in digest of unanswered threads lists the threads active in
// the last day whose last word is not Adele's, newest first, with each
// thread's key sentence: from the stored body, or read from Graph when
// the store holds none; quoted history, drafts, answered and older
// threads stay out.
func TestSummarizeUnansweredThreadsWithBodiesFromTheStoreAndFromGraph(t *testing.T) {
	w := newMailWorld(t)
	outcome, data, err := w.run(w.appGraph(), activities.AuthAppOnly,
		summarizeRecipe("{of: threads, since: 24h, unansweredOnly: true, includeBodies: true}"), w.now)
	if err != nil {
		t.Fatalf("step: %v", err)
	}
	out := summaryOf(t, data)
	if outcome != "summarized 2 threads" || out.Count != 2 {
		t.Fatalf("outcome %q, count %d; want 2 threads", outcome, out.Count)
	}
	lines := strings.Split(out.Summary, "\n")
	want := []string{
		"2 threads awaiting an answer, active since " + w.now.Add(-24*time.Hour).Format("Mon 2 Jan 15:04") + " (times in UTC)",
		"",
		"- Roadmap — Alex Wilber; 1 message; last " + w.now.Add(-time.Hour).Format("Mon 2 Jan 15:04") + " from Alex Wilber (unanswered)",
		"  The roadmap review needs your sign-off on the Q3 milestones before Friday.",
		"- Lisbon budget — Megan Bowen; 1 message; last " + w.now.Add(-3*time.Hour).Format("Mon 2 Jan 15:04") + " from Megan Bowen (unanswered)",
		"  Finance needs the final Lisbon budget numbers by Wednesday noon. The budget review itself moves to Thursday.",
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Fatalf("digest:\n%s\nwant:\n%s", out.Summary, strings.Join(want, "\n"))
	}
	reads := 0
	for _, r := range w.sim.Requests() {
		if r.Method == http.MethodGet && strings.Contains(r.Path, "/messages/") {
			reads++
		}
	}
	if reads != 1 {
		t.Fatalf("%d message reads from Graph, want 1 (only the message whose body the store lacks)", reads)
	}
}

// Without includeBodies nothing is read from Graph; folder keeps threads
// with a message in that folder; maxItems keeps the newest.
func TestSummarizeThreadsByFolderAndMaxItemsWithoutBodies(t *testing.T) {
	w := newMailWorld(t)
	_, data, err := w.run(w.appGraph(), activities.AuthAppOnly, summarizeRecipe("{of: threads, folder: projects}"), w.now)
	if err != nil {
		t.Fatalf("step: %v", err)
	}
	if out := summaryOf(t, data); out.Count != 1 || !strings.Contains(out.Summary, "- Roadmap — Alex Wilber") || strings.Contains(out.Summary, "sign-off") {
		t.Fatalf("folder digest (count %d):\n%s\nwant only Roadmap, without its text", out.Count, out.Summary)
	}
	_, data, err = w.run(w.appGraph(), activities.AuthAppOnly, summarizeRecipe("{of: threads, maxItems: 2}"), w.now)
	if err != nil {
		t.Fatalf("step: %v", err)
	}
	out := summaryOf(t, data)
	if out.Count != 2 || !strings.Contains(out.Summary, "- Roadmap") || !strings.Contains(out.Summary, "- Lisbon budget") || strings.Contains(out.Summary, "Lunch") {
		t.Fatalf("maxItems 2 digest (count %d):\n%s\nwant the two newest threads", out.Count, out.Summary)
	}
	for _, r := range w.sim.Requests() {
		if strings.Contains(r.Path, "/messages/") {
			t.Fatalf("a digest without includeBodies read %s %s", r.Method, r.Path)
		}
	}
}

func TestSummarizeEventsWithinTheWindow(t *testing.T) {
	w := newMailWorld(t)
	ev := func(id, subject string, in time.Duration, cancelled bool) domain.Event {
		return domain.Event{ID: id, Subject: subject, Start: w.now.Add(in), End: w.now.Add(in + 30*time.Minute), IsCancelled: cancelled,
			Organizer: domain.EmailAddress{Name: "Megan Bowen", Address: meganUPN}, Location: "Room 2", Type: domain.EventSingleInstance,
			Attendees: []domain.Attendee{{EmailAddress: domain.EmailAddress{Address: adeleUPN}, Type: domain.AttendeeRequired}}}
	}
	if _, err := w.store.ApplyEvents(context.Background(), store.EventsPage{Tenant: worldKey, Mailbox: w.adele, Window: "w", Next: store.Next{Token: "e", Complete: true},
		Upserts: []domain.Event{ev("e2", "Review", 5*time.Hour, false), ev("e1", "Standup", 2*time.Hour, false),
			ev("e3", "Cancelled one", 3*time.Hour, true), ev("e4", "Next week", 7*24*time.Hour, false)}}); err != nil {
		t.Fatal(err)
	}
	outcome, data, err := w.run(w.appGraph(), activities.AuthAppOnly, summarizeRecipe("{of: events, within: 12h}"), w.now)
	if err != nil {
		t.Fatalf("step: %v", err)
	}
	out := summaryOf(t, data)
	standup := w.now.Add(2 * time.Hour)
	if outcome != "summarized 2 events" || out.Count != 2 ||
		!strings.Contains(out.Summary, "\n- "+standup.Format("Mon 2 Jan 15:04")+"–"+standup.Add(30*time.Minute).Format("15:04")+" Standup — organizer Megan Bowen; Room 2; 1 attendee\n- ") ||
		!strings.Contains(out.Summary, " Review — ") || strings.Contains(out.Summary, "Cancelled") || strings.Contains(out.Summary, "Next week") {
		t.Fatalf("outcome %q, events digest:\n%s", outcome, out.Summary)
	}
}

// chatEndpoint is a local OpenAI-compatible endpoint: it records the user
// messages it gets and answers with status (200: a completion).
type chatEndpoint struct {
	*httptest.Server
	mu     sync.Mutex
	status int
	users  []string
}

func newChatEndpoint(t *testing.T) *chatEndpoint {
	t.Helper()
	e := &chatEndpoint{status: http.StatusOK}
	e.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		var req struct {
			Messages []struct{ Role, Content string }
		}
		_ = json.Unmarshal(raw, &req)
		e.mu.Lock()
		defer e.mu.Unlock()
		if len(req.Messages) == 2 {
			e.users = append(e.users, req.Messages[1].Content)
		}
		if e.status != http.StatusOK {
			w.WriteHeader(e.status)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"choices":[{"message":{"role":"assistant","content":"Two threads need you."},"finish_reason":"stop"}]}`)
	}))
	t.Cleanup(e.Close)
	return e
}

// A step naming a configured endpoint gets its answer as the summary; the
// endpoint sees message texts only when the step sets includeBodies; its
// failures are retried (5xx) or fail the step (401); a name the worker
// does not know fails the step.
func TestSummarizeWithAConfiguredChatEndpoint(t *testing.T) {
	w := newMailWorld(t)
	chat := newChatEndpoint(t)
	w.summarizers = map[string]summarize.Summarizer{"local": &summarize.Chat{Name: "local", URL: chat.URL + "/v1", Model: "m"}}

	_, data, err := w.run(w.appGraph(), activities.AuthAppOnly, summarizeRecipe("{of: threads, unansweredOnly: true, summarizer: local}"), w.now)
	if err != nil {
		t.Fatalf("step: %v", err)
	}
	if out := summaryOf(t, data); out.Summary != "Two threads need you." || out.Count != 2 {
		t.Fatalf("outputs %+v, want the endpoint's answer for 2 threads", out)
	}
	_, _, err = w.run(w.appGraph(), activities.AuthAppOnly, summarizeRecipe("{of: threads, unansweredOnly: true, includeBodies: true, summarizer: local}"), w.now)
	if err != nil {
		t.Fatalf("step with bodies: %v", err)
	}
	chat.mu.Lock()
	users := append([]string(nil), chat.users...)
	chat.status = http.StatusServiceUnavailable
	chat.mu.Unlock()
	if len(users) != 2 || strings.Contains(users[0], "Finance needs") || !strings.Contains(users[0], "Lisbon budget") ||
		!strings.Contains(users[1], "Finance needs the final Lisbon budget numbers") {
		t.Fatalf("the endpoint saw %q; want subjects always and texts only with includeBodies", users)
	}

	_, _, err = w.run(w.appGraph(), activities.AuthAppOnly, summarizeRecipe("{of: threads, summarizer: local}"), w.now)
	var ae *temporal.ApplicationError
	if !errors.As(err, &ae) || ae.Type() != activities.ErrSummarizerUnavailable || ae.NonRetryable() || !strings.Contains(ae.Error(), "503") {
		t.Fatalf("a 503 from the endpoint: err = %v, want a retryable SummarizerUnavailable", err)
	}
	chat.mu.Lock()
	chat.status = http.StatusUnauthorized
	chat.mu.Unlock()
	_, _, err = w.run(w.appGraph(), activities.AuthAppOnly, summarizeRecipe("{of: threads, summarizer: local}"), w.now)
	if !errors.As(err, &ae) || ae.Type() != activities.ErrStepFailed || !ae.NonRetryable() || !strings.Contains(ae.Error(), "apiKey") {
		t.Fatalf("a 401 from the endpoint: err = %v, want a non-retryable StepFailed naming apiKey", err)
	}
	_, _, err = w.run(w.appGraph(), activities.AuthAppOnly, summarizeRecipe("{of: threads, summarizer: elsewhere}"), w.now)
	if !errors.As(err, &ae) || ae.Type() != activities.ErrStepFailed || !strings.Contains(ae.Error(), `summarizer "elsewhere" is not configured`) {
		t.Fatalf("an unknown summarizer: err = %v, want StepFailed naming it", err)
	}
}
