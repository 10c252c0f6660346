package activities_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	abstractions "github.com/microsoft/kiota-abstractions-go"
	absser "github.com/microsoft/kiota-abstractions-go/serialization"
	khttp "github.com/microsoft/kiota-http-go"
	jsonserialization "github.com/microsoft/kiota-serialization-json-go"
	msgraphsdk "github.com/microsoftgraph/msgraph-sdk-go"
	msgraphcore "github.com/microsoftgraph/msgraph-sdk-go-core"
	msgraphauth "github.com/microsoftgraph/msgraph-sdk-go-core/authentication"
	"github.com/microsoftgraph/msgraph-sdk-go/models/odataerrors"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.uber.org/zap"

	"github.com/outlookflow/outlookflow/activities"
	"github.com/outlookflow/outlookflow/activities/graphclient"
	"github.com/outlookflow/outlookflow/domain"
	"github.com/outlookflow/outlookflow/graphsim"
	"github.com/outlookflow/outlookflow/internal/summarize"
	"github.com/outlookflow/outlookflow/recipe"
	"github.com/outlookflow/outlookflow/store"
)

// stepWorld is what runs one recipe step outside a workflow: a Graph
// simulator with Adele and Megan, a real SQLite store, and the recipe
// activities built over them.
type stepWorld struct {
	t        *testing.T
	sim      *graphsim.Server
	tenantID string
	clientID string
	secret   string
	adele    string // object IDs
	megan    string
	store    store.Store
	// summarizers are the configured endpoints the steps may name.
	summarizers map[string]summarize.Summarizer
	// users are a delegated tenant's signed-in users.
	users activities.DelegatedUsers
}

const (
	adeleUPN = "adele@contoso.example"
	meganUPN = "megan@contoso.example"
	worldKey = "contoso"
)

func newStepWorld(t *testing.T, roles []string) *stepWorld {
	t.Helper()
	sim, err := graphsim.Start(graphsim.Options{StateDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sim.Close() })
	w := &stepWorld{t: t, sim: sim, tenantID: "00000000-0000-4000-8000-0000000000a1", clientID: "11111111-0000-4000-8000-0000000000a1",
		secret: "sim-secret", adele: "22222222-0000-4000-8000-0000000000a1", megan: "22222222-0000-4000-8000-0000000000a2"}
	if err := sim.SeedTenant(graphsim.TenantSeed{TenantID: w.tenantID, DisplayName: "Contoso", Domain: "contoso.example",
		Apps: []graphsim.AppSeed{{ClientID: w.clientID, DisplayName: "outlookflow", Secrets: []graphsim.SecretSeed{{Value: w.secret}}, GrantedRoles: roles}},
		Users: []graphsim.UserSeed{
			{ID: w.adele, DisplayName: "Adele Vance", Mail: adeleUPN, UserPrincipalName: adeleUPN},
			{ID: w.megan, DisplayName: "Megan Bowen", Mail: meganUPN, UserPrincipalName: meganUPN},
		}}); err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(context.Background(), store.Config{Driver: store.DriverSQLite, SQLitePath: filepath.Join(t.TempDir(), "outlookflow.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	w.store = st
	if _, err := st.ApplyUsers(context.Background(), store.UsersPage{Tenant: worldKey, Next: store.Next{Token: "users", Complete: true}, Upserts: []domain.User{
		{ID: w.adele, UserPrincipalName: adeleUPN, Mail: adeleUPN, DisplayName: "Adele Vance", HasMailbox: true, AccountEnabled: true},
		{ID: w.megan, UserPrincipalName: meganUPN, Mail: meganUPN, DisplayName: "Megan Bowen", HasMailbox: true, AccountEnabled: true},
	}}); err != nil {
		t.Fatal(err)
	}
	return w
}

// tenants is a TenantDirectory of the one tenant, in the given auth mode.
type tenants struct {
	settings activities.TenantSettings
}

func (d tenants) Tenant(key string) (activities.TenantSettings, bool) {
	return d.settings, key == worldKey
}

// run parses the recipe (a single step), saves a run of it for Adele and
// runs the step as Temporal runs an activity; it returns the outcome and
// the outputs the step saved.
func (w *stepWorld) run(graph activities.GraphCaller, mode activities.AuthMode, src string, now time.Time) (string, []byte, error) {
	w.t.Helper()
	r, diags := recipe.Parse("step.yaml", []byte(src), recipe.Options{})
	if len(diags) > 0 {
		w.t.Fatalf("recipe: %v", diags)
	}
	runID := fmt.Sprintf("run-%d", time.Now().UnixNano())
	in := recipe.Input{Mailbox: w.adele, MailboxAddress: adeleUPN, Now: now,
		Change: domain.Change{Kind: domain.KindMessage, Mailbox: w.adele, ItemID: "m1", Type: domain.ChangeCreated}}
	snap, err := json.Marshal(in)
	if err != nil {
		w.t.Fatal(err)
	}
	if err := w.store.SaveRun(context.Background(), store.RecipeRun{RunID: runID, Tenant: worldKey, Recipe: r.Name, Mailbox: w.adele,
		ItemID: "m1", Trigger: snap, Status: "started"}); err != nil {
		w.t.Fatal(err)
	}
	a := &activities.Recipes{Store: w.store, Book: activities.NewRecipeBook([]*recipe.Recipe{r}), Graph: graph, Log: zap.NewNop(),
		Summarizers: w.summarizers,
		Tenants: tenants{activities.TenantSettings{TenantID: w.tenantID, ClientID: w.clientID, AuthMode: mode,
			ResolveSecret: func() (string, error) { return w.secret, nil }}},
		Users: w.users}
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestActivityEnvironment()
	env.RegisterActivity(a.RunRecipeStep)
	step := r.Steps[0]
	val, err := env.ExecuteActivity(a.RunRecipeStep, activities.RecipeStepInput{Tenant: worldKey, Recipe: r.Name, RunID: runID,
		Mailbox: w.adele, StepID: step.ID, Action: step.Action, Digest: r.Digest})
	if err != nil {
		return "", nil, err
	}
	var res activities.RecipeStepResult
	if err := val.Get(&res); err != nil {
		w.t.Fatal(err)
	}
	outs, err := w.store.StepOutputs(context.Background(), runID)
	if err != nil {
		w.t.Fatal(err)
	}
	return res.Outcome, outs[step.ID], nil
}

// delegatedGraph is a GraphCaller that acts as a signed-in user: each
// request goes through msgraph-sdk-go's own request adapter and middleware
// (retry, redirect, compression, the allowed-hosts check) with a user's
// access token. outlookflow's Graph client cannot connect a tenant with
// delegated auth yet; this stands in for its delegated credential, the
// rest of the path being the SDK's.
type delegatedGraph struct {
	adapter *msgraphsdk.GraphRequestAdapter
	base    string
}

type userToken string

// signedInUsers is a delegated tenant whose users are all Connected, each
// acting with token.
type signedInUsers struct{ token string }

func (u signedInUsers) Connected(context.Context, string) ([]string, error)  { return nil, nil }
func (u signedInUsers) Held(context.Context, string, string) (string, error) { return "", nil }
func (u signedInUsers) Credential(context.Context, string, string) (azcore.TokenCredential, error) {
	return userToken(u.token), nil
}

func (t userToken) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{Token: string(t), ExpiresOn: time.Now().Add(time.Hour)}, nil
}

func newDelegatedGraph(t *testing.T, sim *graphsim.Server, token string) *delegatedGraph {
	t.Helper()
	auth, err := msgraphauth.NewAzureIdentityAuthenticationProviderWithScopesAndValidHosts(userToken(token),
		[]string{"https://graph.microsoft.com/.default"}, []string{sim.Hostname()})
	if err != nil {
		t.Fatal(err)
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.TLSClientConfig = sim.TLSClientConfig()
	opts := msgraphsdk.GetDefaultClientOptions()
	client := &http.Client{Transport: khttp.NewCustomTransportWithParentTransport(transport, msgraphcore.GetDefaultMiddlewaresWithOptions(&opts)...)}
	parsers := absser.NewParseNodeFactoryRegistry()
	parsers.ContentTypeAssociatedFactories["application/json"] = jsonserialization.NewJsonParseNodeFactory()
	writers := absser.NewSerializationWriterFactoryRegistry()
	writers.ContentTypeAssociatedFactories["application/json"] = jsonserialization.NewJsonSerializationWriterFactory()
	adapter, err := msgraphsdk.NewGraphRequestAdapterWithParseNodeFactoryAndSerializationWriterFactoryAndHttpClient(auth, parsers, writers, client)
	if err != nil {
		t.Fatal(err)
	}
	return &delegatedGraph{adapter: adapter, base: sim.GraphBaseURL()}
}

func (g *delegatedGraph) Call(ctx context.Context, _ activities.Credentials, _, method, path string, body, out any) error {
	u, err := url.Parse(g.base + path)
	if err != nil {
		return err
	}
	ri := abstractions.NewRequestInformation()
	ri.Method = map[string]abstractions.HttpMethod{"GET": abstractions.GET, "POST": abstractions.POST, "PATCH": abstractions.PATCH}[method]
	ri.SetUri(*u)
	ri.Headers.Add("Accept", "application/json")
	if body != nil {
		payload, err := json.Marshal(body)
		if err != nil {
			return err
		}
		ri.SetStreamContentAndContentType(payload, "application/json")
	}
	answer, err := g.adapter.SendPrimitive(ctx, ri, "[]byte", abstractions.ErrorMappings{"XXX": odataerrors.CreateODataErrorFromDiscriminatorValue})
	if err != nil {
		return graphclient.Classify(err)
	}
	if b, _ := answer.([]byte); out != nil && len(b) > 0 {
		return json.Unmarshal(b, out)
	}
	return nil
}

const findTimesRecipe = `name: find-times
tenant: contoso
mailboxes:
  users: [adele@contoso.example]
trigger:
  newMail: {}
steps:
  - id: find
    findMeetingTimes:
      attendees: [megan@contoso.example]
      duration: 45m
      within: 7d
      timeZone: Europe/Paris
`

// With a user's token, the step asks the simulator's findMeetingTimes for
// Adele and Megan and saves its suggestions: 45 minutes each, inside the
// next seven days and Adele's working hours, never while Megan is busy,
// in Graph's order, the best as start/end, written in the step's zone.
func TestFindMeetingTimesStepSavesTheSuggestionsGraphGives(t *testing.T) {
	w := newStepWorld(t, []string{"User.Read.All"})
	now := time.Now().UTC()
	// Megan is busy for the next two days: no suggestion may start then.
	busyUntil := now.Add(48 * time.Hour).Truncate(time.Hour)
	if _, err := w.sim.CreateEvent(w.tenantID, graphsim.EventSeed{Organizer: meganUPN, Subject: "Offsite", Start: now.Add(-time.Hour), End: busyUntil, ShowAs: "busy"}); err != nil {
		t.Fatal(err)
	}
	token, err := w.sim.DelegatedAccessToken(w.tenantID, w.clientID, adeleUPN, []string{"Calendars.Read", "User.Read"})
	if err != nil {
		t.Fatal(err)
	}
	w.users = signedInUsers{token}
	outcome, data, err := w.run(newDelegatedGraph(t, w.sim, token), activities.AuthDelegated, findTimesRecipe, now)
	if err != nil {
		t.Fatalf("step: %v", err)
	}
	var out recipe.MeetingTimesOutput
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatalf("outputs %s: %v", data, err)
	}
	if outcome != fmt.Sprintf("found %d times", len(out.Suggestions)) || !out.Found || len(out.Suggestions) != 5 {
		t.Fatalf("outcome %q, outputs %+v; want found with Graph's default 5 suggestions", outcome, out)
	}
	if !out.Start.Equal(out.Suggestions[0].Start) || !out.End.Equal(out.Suggestions[0].End) {
		t.Fatalf("start/end %s–%s are not the first suggestion %+v", out.Start, out.End, out.Suggestions[0])
	}
	paris, _ := time.LoadLocation("Europe/Paris")
	for i, s := range out.Suggestions {
		if s.End.Sub(s.Start) != 45*time.Minute {
			t.Errorf("suggestion %d lasts %s, want 45m", i, s.End.Sub(s.Start))
		}
		if s.Start.Before(busyUntil) || s.End.After(now.Add(7*24*time.Hour+time.Minute)) {
			t.Errorf("suggestion %d at %s is outside [Megan free at %s, now+7d]", i, s.Start, busyUntil)
		}
		// Adele's working hours: the simulator's default, 08:00–17:00 UTC
		// Monday to Friday.
		u := s.Start.UTC()
		if wd := u.Weekday(); wd == time.Saturday || wd == time.Sunday || u.Hour() < 8 || s.End.UTC().After(time.Date(u.Year(), u.Month(), u.Day(), 17, 0, 0, 0, time.UTC)) {
			t.Errorf("suggestion %d at %s is outside Adele's working hours", i, u)
		}
		if _, off := s.Start.Zone(); off != func() int { _, o := s.Start.In(paris).Zone(); return o }() {
			t.Errorf("suggestion %d is written with offset %d, not Paris's", i, off)
		}
		if i > 0 && !out.Suggestions[i-1].Start.Before(s.Start) {
			t.Errorf("suggestions %d and %d are not in time order (equal confidence)", i-1, i)
		}
	}
	var asked []graphsim.RequestRecord
	for _, r := range w.sim.Requests() {
		if strings.HasSuffix(r.Path, "/findMeetingTimes") {
			asked = append(asked, r)
		}
	}
	if len(asked) != 1 || asked[0].Method != http.MethodPost || asked[0].Path != "/v1.0/users/"+w.adele+"/findMeetingTimes" || asked[0].Status != http.StatusOK {
		t.Fatalf("findMeetingTimes requests %+v, want one POST for Adele answered 200", asked)
	}
}

// An app-only connection cannot run findMeetingTimes (Graph has no
// application permission for it): the step fails for good with the fix,
// without a request Graph would refuse.
func TestFindMeetingTimesStepRefusesAnAppOnlyConnection(t *testing.T) {
	w := newStepWorld(t, []string{"User.Read.All", "Calendars.ReadWrite"})
	graph, err := graphclient.New(graphclient.Cloud{AuthorityHost: w.sim.AuthorityHost(), GraphBaseURL: w.sim.GraphBaseURL(),
		AllowedHosts: []string{w.sim.Hostname()}, ExtraCAFile: w.sim.CAFile()})
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = w.run(graph, activities.AuthAppOnly, findTimesRecipe, time.Now())
	var ae *temporal.ApplicationError
	if !errors.As(err, &ae) || ae.Type() != activities.ErrStepFailed || !ae.NonRetryable() ||
		!strings.Contains(ae.Error(), "needs a delegated connection") || !strings.Contains(ae.Error(), "authMode delegated") {
		t.Fatalf("err = %v, want a non-retryable StepFailed naming the delegated connection", err)
	}
	for _, r := range w.sim.Requests() {
		if strings.Contains(r.Path, "findMeetingTimes") {
			t.Fatalf("the step sent %s %s", r.Method, r.Path)
		}
	}
}
