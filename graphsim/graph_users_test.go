package graphsim

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	msgraphcore "github.com/microsoftgraph/msgraph-sdk-go-core"
	"github.com/microsoftgraph/msgraph-sdk-go/models"
	"github.com/microsoftgraph/msgraph-sdk-go/users"
)

// (S39, S15) The SDK's PageIterator follows absolute nextLinks through the
// same adapter.
func TestUsers_PageIteratorVisitsEveryUserOnce(t *testing.T) {
	e := startDemoSim(t)
	client, _ := e.demoClient(t)
	top := int32(5)
	first, err := client.Users().Get(ctxT(t), &users.UsersRequestBuilderGetRequestConfiguration{
		QueryParameters: &users.UsersRequestBuilderGetQueryParameters{Top: &top, Select: []string{"id", "displayName", "mail"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	it, err := msgraphcore.NewPageIterator[models.Userable](first, client.GetAdapter(), models.CreateUserCollectionResponseFromDiscriminatorValue)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	err = it.Iterate(ctxT(t), func(u models.Userable) bool {
		id := deref(u.GetId())
		if seen[id] {
			t.Errorf("user %s returned twice", id)
		}
		seen[id] = true
		return true
	})
	if err != nil {
		t.Fatalf("Iterate: %v", err)
	}
	if len(seen) != len(e.seed.Users) {
		t.Errorf("iterated %d users, want %d", len(seen), len(e.seed.Users))
	}
	for _, u := range e.seed.Users {
		if !seen[u.ID] {
			t.Errorf("user %s (%s) never returned", u.ID, u.DisplayName)
		}
	}
	pages := requestsTo(e.sim, http.MethodGet, "/v1.0/users")
	if want := (len(e.seed.Users) + 4) / 5; len(pages) != want {
		t.Errorf("%d page requests, want %d", len(pages), want)
	}
	for _, p := range pages[1:] {
		if !strings.Contains(p.RawQuery, "$select=") || !strings.Contains(p.RawQuery, "$skiptoken=") {
			t.Errorf("follow-up page query %q lost $select or has no $skiptoken", p.RawQuery)
		}
	}
}

// (S39)
func TestUsers_DefaultPageIs100AndTopAbove999Gives400(t *testing.T) {
	t.Parallel()
	sim, err := Start(Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Close() })
	seed, creds := mailSeed(0)
	for i := 0; i < 1200; i++ {
		seed.Users = append(seed.Users, UserSeed{ID: deterministicGUID("bulk", fmt.Sprint(i)), DisplayName: fmt.Sprintf("User %d", i)})
	}
	if err := sim.SeedTenant(seed); err != nil {
		t.Fatal(err)
	}
	token := rawToken(t, sim, creds.TenantID, creds.ClientID, creds.ClientSecret)

	for _, tc := range []struct {
		query string
		want  int
	}{{"", 100}, {"?$top=999", 999}, {"?$top=1", 1}} {
		resp, body := rawDo(t, sim, http.MethodGet, "/v1.0/users"+tc.query, token, nil)
		m := jsonObject(t, body)
		if resp.StatusCode != http.StatusOK || len(m["value"].([]any)) != tc.want || m["@odata.nextLink"] == nil {
			t.Errorf("GET /users%s: status %d, %v users, nextLink %v: want %d users and a nextLink", tc.query, resp.StatusCode, len(m["value"].([]any)), m["@odata.nextLink"] != nil, tc.want)
		}
		if m["@odata.context"] != sim.GraphBaseURL()+"/$metadata#users" {
			t.Errorf("@odata.context = %v", m["@odata.context"])
		}
	}
	for _, top := range []string{"1000", "0"} {
		resp, body := rawDo(t, sim, http.MethodGet, "/v1.0/users?$top="+top, token, nil)
		want := fmt.Sprintf("Invalid page size specified: '%s'. Must be between 1 and 999 inclusive.", top)
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), `"Request_UnsupportedQuery"`) || !strings.Contains(string(body), want) {
			t.Errorf("$top=%s: %d %s, want 400 Request_UnsupportedQuery %q", top, resp.StatusCode, body, want)
		}
	}
}

// (S39) $select, and the documented default property set.
func TestUsers_SelectReturnsOnlySelectedProperties(t *testing.T) {
	t.Parallel()
	e := startDemoSim(t)
	token := rawToken(t, e.sim, e.creds.TenantID, e.creds.ClientID, e.creds.ClientSecret)
	_, body := rawDo(t, e.sim, http.MethodGet, "/v1.0/users", token, nil)
	m := jsonObject(t, body)
	sameKeys(t, "users page", m, "@odata.context", "value")
	sameKeys(t, "default user", m["value"].([]any)[0].(map[string]any), userDefaultProps...)

	_, body = rawDo(t, e.sim, http.MethodGet, "/v1.0/users?$select=displayName,JobTitle,department", token, nil)
	m = jsonObject(t, body)
	if m["@odata.context"] != e.sim.GraphBaseURL()+"/$metadata#users(displayName,jobTitle,department)" {
		t.Errorf("@odata.context = %v", m["@odata.context"])
	}
	sameKeys(t, "selected user", m["value"].([]any)[0].(map[string]any), "displayName", "jobTitle", "department")

	resp, body := rawDo(t, e.sim, http.MethodGet, "/v1.0/users?$select=shoeSize", token, nil)
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "Could not find a property named 'shoeSize' on type 'microsoft.graph.user'.") {
		t.Errorf("unknown $select property: %d %s", resp.StatusCode, body)
	}
}

func TestUsers_GetByIDOrUserPrincipalName(t *testing.T) {
	e := startDemoSim(t)
	client, _ := e.demoClient(t)
	want := e.seed.Users[9]
	for _, key := range []string{want.ID, want.UserPrincipalName, strings.ToUpper(want.UserPrincipalName)} {
		u, err := client.Users().ByUserId(key).Get(ctxT(t), nil)
		if err != nil {
			t.Fatalf("GET /users/%s: %v", key, err)
		}
		if deref(u.GetId()) != want.ID || deref(u.GetJobTitle()) != want.JobTitle {
			t.Errorf("GET /users/%s = %s %s, want %s %s", key, deref(u.GetId()), deref(u.GetJobTitle()), want.ID, want.JobTitle)
		}
	}
	token := rawToken(t, e.sim, e.creds.TenantID, e.creds.ClientID, e.creds.ClientSecret)
	_, body := rawDo(t, e.sim, http.MethodGet, "/v1.0/users/"+want.ID+"?$select=displayName,id", token, nil)
	m := jsonObject(t, body)
	sameKeys(t, "user entity", m, "@odata.context", "displayName", "id")
	if m["@odata.context"] != e.sim.GraphBaseURL()+"/$metadata#users(displayName,id)/$entity" {
		t.Errorf("@odata.context = %v", m["@odata.context"])
	}
	// OData key syntax works as well.
	resp, _ := rawDo(t, e.sim, http.MethodGet, "/v1.0/users('"+want.UserPrincipalName+"')", token, nil)
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET /users('upn'): %d", resp.StatusCode)
	}
}
