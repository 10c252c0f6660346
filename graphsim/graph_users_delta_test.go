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

// startUsersDeltaSim seeds mailSeed(0) plus n bulk users (for paging) and
// returns an app-only token holding User.Read.All.
func startUsersDeltaSim(t *testing.T, n int) (*simEnv, string) {
	t.Helper()
	sim, err := Start(Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Close() })
	seed, creds := mailSeed(0)
	for i := 0; i < n; i++ {
		seed.Users = append(seed.Users, UserSeed{ID: deterministicGUID("bulk", fmt.Sprint(i)), DisplayName: fmt.Sprintf("User %d", i),
			UserPrincipalName: fmt.Sprintf("user%d@fabrikam.example", i)})
	}
	if err := sim.SeedTenant(seed); err != nil {
		t.Fatal(err)
	}
	return &simEnv{sim: sim, seed: seed, creds: creds}, rawToken(t, sim, creds.TenantID, creds.ClientID, creds.ClientSecret)
}

// deltaRoundRaw follows nextLinks from first to the deltaLink, returning every
// item and the deltaLink; it fails on a page that has both or neither link.
func deltaRoundRaw(t *testing.T, sim *Server, token, first string, headers ...string) (items []map[string]any, pages []map[string]any, deltaLink string) {
	t.Helper()
	link := first
	for i := 0; i < 100; i++ {
		resp, b := rawDo(t, sim, http.MethodGet, link, token, nil, headers...)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d %s", link, resp.StatusCode, b)
		}
		page := jsonObject(t, b)
		pages = append(pages, page)
		for _, v := range page["value"].([]any) {
			items = append(items, v.(map[string]any))
		}
		next, hasNext := page["@odata.nextLink"].(string)
		dl, hasDelta := page["@odata.deltaLink"].(string)
		if hasNext == hasDelta {
			t.Fatalf("page %d of %s: nextLink %q deltaLink %q: want exactly one", i, first, next, dl)
		}
		if hasDelta {
			return items, pages, dl
		}
		link = next
	}
	t.Fatalf("no deltaLink after 100 pages of %s", first)
	return nil, nil, ""
}

func itemIDs(items []map[string]any) []string {
	var ids []string
	for _, it := range items {
		ids = append(ids, fmt.Sprint(it["id"]))
	}
	return ids
}

// (S41, S14, S15) The SDK's delta() round, through the PageIterator, then
// additions, updates and removals on the deltaLink.
func TestUsersDelta_SDKRoundThenAddUpdateDeleteOnDeltaLink(t *testing.T) {
	e := startDemoSim(t)
	client, _ := e.demoClient(t)
	ctx := ctxT(t)
	first, err := client.Users().Delta().GetAsDeltaGetResponse(ctx, &users.DeltaRequestBuilderGetRequestConfiguration{
		QueryParameters: &users.DeltaRequestBuilderGetQueryParameters{Select: []string{"displayName", "mail"}},
	})
	if err != nil {
		t.Fatalf("users delta(): %v", err)
	}
	it, err := msgraphcore.NewPageIterator[models.Userable](first, client.GetAdapter(), users.CreateDeltaGetResponseFromDiscriminatorValue)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	if err := it.Iterate(ctx, func(u models.Userable) bool {
		if u.GetDisplayName() == nil || u.GetMail() == nil || u.GetJobTitle() != nil {
			t.Errorf("user %s: displayName %v mail %v jobTitle %v: want only the selected properties", deref(u.GetId()), u.GetDisplayName(), u.GetMail(), u.GetJobTitle())
		}
		seen[deref(u.GetId())] = true
		return true
	}); err != nil {
		t.Fatalf("Iterate: %v", err)
	}
	if len(seen) != len(e.seed.Users) {
		t.Errorf("initial round listed %d users, want %d", len(seen), len(e.seed.Users))
	}
	deltaLink := deref(it.GetOdataDeltaLink())
	if !strings.HasPrefix(deltaLink, e.sim.GraphBaseURL()+"/users/delta?$deltatoken=") {
		t.Fatalf("deltaLink = %q, want %s/users/delta?$deltatoken=...", deltaLink, e.sim.GraphBaseURL())
	}
	if recs := requestsTo(e.sim, http.MethodGet, "/v1.0/users/delta()"); len(recs) != 1 {
		t.Errorf("%d requests to /v1.0/users/delta(), want 1 (the SDK's initial call)", len(recs))
	}

	// Nothing changed yet: the deltaLink answers an empty value.
	again, err := client.Users().Delta().WithUrl(deltaLink).GetAsDeltaGetResponse(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(again.GetValue()); n != 0 || again.GetOdataDeltaLink() == nil {
		t.Errorf("unchanged deltaLink: %d users, deltaLink %v; want 0 and a deltaLink", n, again.GetOdataDeltaLink())
	}

	tid := e.creds.TenantID
	renamed, untracked, removed := e.seed.Users[5], e.seed.Users[6], e.seed.Users[7]
	renamed.DisplayName = "Renamed Person"
	renamed.Messages, renamed.Folders = nil, nil
	untracked.Department = "Untracked Department" // not in $select: not reported
	untracked.Messages, untracked.Folders = nil, nil
	if err := e.sim.UpsertUser(tid, renamed); err != nil {
		t.Fatal(err)
	}
	if err := e.sim.UpsertUser(tid, untracked); err != nil {
		t.Fatal(err)
	}
	if err := e.sim.UpsertUser(tid, UserSeed{DisplayName: "New Hire", UserPrincipalName: "new.hire@contoso.example", Mail: "new.hire@contoso.example"}); err != nil {
		t.Fatal(err)
	}
	if err := e.sim.DeleteUser(tid, removed.UserPrincipalName); err != nil {
		t.Fatal(err)
	}

	changes, err := client.Users().Delta().WithUrl(deltaLink).GetAsDeltaGetResponse(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]models.Userable{}
	for _, u := range changes.GetValue() {
		got[deref(u.GetId())] = u
	}
	if len(got) != 3 {
		t.Errorf("deltaLink after changes returned %d users, want 3 (renamed, added, removed)", len(got))
	}
	if u := got[renamed.ID]; u == nil || deref(u.GetDisplayName()) != "Renamed Person" || deref(u.GetMail()) != renamed.Mail {
		t.Errorf("renamed user not reported with its selected properties: %v", u)
	}
	if _, ok := got[untracked.ID]; ok {
		t.Errorf("a change to a property outside $select was reported")
	}
	var added models.Userable
	for _, u := range got {
		if deref(u.GetDisplayName()) == "New Hire" {
			added = u
		}
	}
	if added == nil {
		t.Errorf("added user not reported")
	}
	if u := got[removed.ID]; u == nil {
		t.Errorf("removed user not reported")
	} else if rm, _ := u.GetAdditionalData()["@removed"].(map[string]any); rm == nil || deref(rm["reason"].(*string)) != "deleted" {
		t.Errorf("removed user's @removed = %v, want {reason: deleted}", u.GetAdditionalData()["@removed"])
	}
	if changes.GetOdataDeltaLink() == nil {
		t.Errorf("change page has no deltaLink")
	}
}

// (S14, S15) delta and delta() are the same function; a round pages 100
// users a page with $skiptoken nextLinks on the request's host and port,
// and the query options of the first call ride in the tokens.
func TestUsersDelta_DeltaAndDeltaParensPageTheSameWithSkipTokens(t *testing.T) {
	t.Parallel()
	e, token := startUsersDeltaSim(t, 247)
	total := len(e.seed.Users) // 250
	var rounds [][]string
	for _, path := range []string{"/v1.0/users/delta", "/v1.0/users/delta()", "/v1.0/users/microsoft.graph.delta", "/v1.0/users/delta?%24select=displayName"} {
		items, pages, dl := deltaRoundRaw(t, e.sim, token, path)
		if len(pages) != 3 || len(pages[0]["value"].([]any)) != 100 || len(items) != total {
			t.Errorf("%s: %d pages, %d users; want 3 pages of 100,100,50 = %d", path, len(pages), len(items), total)
		}
		base := e.sim.GraphBaseURL() + "/users/delta?"
		next := pages[0]["@odata.nextLink"].(string)
		if !strings.HasPrefix(next, base+"$skiptoken=") || !strings.HasPrefix(dl, base+"$deltatoken=") {
			t.Errorf("%s: nextLink %q deltaLink %q, want %s$skiptoken=... and $deltatoken=...", path, next, dl, base)
		}
		if strings.Contains(path, "select") {
			for i, p := range pages {
				if p["@odata.context"] != e.sim.URL()+"/v1.0/$metadata#users(displayName)" {
					t.Errorf("page %d @odata.context = %v, want ...#users(displayName)", i, p["@odata.context"])
				}
			}
			for _, it := range items {
				sameKeys(t, "selected delta user", it, "displayName", "id")
			}
		} else {
			if ctx := pages[0]["@odata.context"]; ctx != e.sim.URL()+"/v1.0/$metadata#users" {
				t.Errorf("%s: @odata.context = %v, want ...#users", path, ctx)
			}
			// sameKeys sorts its want slice: pass a copy.
			sameKeys(t, "default delta user", items[0], append([]string(nil), userDefaultProps...)...)
		}
		rounds = append(rounds, itemIDs(items))
	}
	for i := 1; i < len(rounds); i++ {
		if strings.Join(rounds[i], ",") != strings.Join(rounds[0], ",") {
			t.Errorf("round %d lists different users than round 0", i)
		}
	}
}

// (S41)
func TestUsersDelta_DeltaTokenLatestReturnsOnlyADeltaLinkThatSeesLaterChanges(t *testing.T) {
	t.Parallel()
	e, token := startUsersDeltaSim(t, 0)
	resp, b := rawDo(t, e.sim, http.MethodGet, "/v1.0/users/delta()?$deltatoken=latest&$select=displayName,jobTitle", token, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("latest: %d %s", resp.StatusCode, b)
	}
	page := jsonObject(t, b)
	sameKeys(t, "latest response", page, "@odata.context", "@odata.deltaLink", "value")
	if v := page["value"].([]any); len(v) != 0 {
		t.Errorf("latest returned %d users, want none", len(v))
	}
	dl := page["@odata.deltaLink"].(string)

	tid := e.creds.TenantID
	ann := e.seed.Users[1]
	ann.JobTitle = "Director"
	if err := e.sim.UpsertUser(tid, ann); err != nil {
		t.Fatal(err)
	}
	if err := e.sim.DeleteUser(tid, e.seed.Users[2].ID); err != nil {
		t.Fatal(err)
	}
	if err := e.sim.UpsertUser(tid, UserSeed{ID: "11111111-2222-4333-8444-555555555555", DisplayName: "Cy Added"}); err != nil {
		t.Fatal(err)
	}
	items, _, dl2 := deltaRoundRaw(t, e.sim, token, dl)
	want := map[string]string{ann.ID: "updated", e.seed.Users[2].ID: "removed", "11111111-2222-4333-8444-555555555555": "added"}
	if len(items) != len(want) {
		t.Errorf("deltaLink returned %d items, want %d: %v", len(items), len(want), items)
	}
	for _, it := range items {
		switch want[fmt.Sprint(it["id"])] {
		case "updated":
			if it["jobTitle"] != "Director" || it["displayName"] != ann.DisplayName {
				t.Errorf("updated user = %v", it)
			}
			sameKeys(t, "updated user", it, "id", "displayName", "jobTitle")
		case "removed":
			sameKeys(t, "removed user", it, "id", "@removed")
			if rm, _ := it["@removed"].(map[string]any); rm["reason"] != "deleted" {
				t.Errorf("@removed = %v, want reason deleted", it["@removed"])
			}
		case "added":
			if it["displayName"] != "Cy Added" {
				t.Errorf("added user = %v", it)
			}
		default:
			t.Errorf("unexpected item %v", it)
		}
	}
	// The next round starts after those changes; the old link still replays them.
	if items, _, _ := deltaRoundRaw(t, e.sim, token, dl2); len(items) != 0 {
		t.Errorf("new deltaLink returned %d items, want 0", len(items))
	}
	if items, _, _ := deltaRoundRaw(t, e.sim, token, dl); len(items) != len(want) {
		t.Errorf("replayed old deltaLink returned %d items, want %d", len(items), len(want))
	}
}

// (S22 for users) Unknown or garbled tokens, skiptokens of a completed
// round and tokens from before a reseed answer 410 SyncStateNotFound.
func TestUsersDelta_UnknownTokensGive410SyncStateNotFound(t *testing.T) {
	t.Parallel()
	e, token := startUsersDeltaSim(t, 150)
	_, pages, dl := deltaRoundRaw(t, e.sim, token, "/v1.0/users/delta")
	staleSkip := pages[0]["@odata.nextLink"].(string)
	check := func(what, link string) {
		t.Helper()
		resp, b := rawDo(t, e.sim, http.MethodGet, link, token, nil)
		if resp.StatusCode != http.StatusGone {
			t.Errorf("%s: status %d, want 410; body %s", what, resp.StatusCode, b)
			return
		}
		er, _ := jsonObject(t, b)["error"].(map[string]any)
		if er["code"] != "SyncStateNotFound" || !strings.HasPrefix(fmt.Sprint(er["message"]), "The sync state generation is not found") {
			t.Errorf("%s: error %v", what, er)
		}
		inner, _ := er["innerError"].(map[string]any)
		if inner["request-id"] == nil || inner["date"] == nil {
			t.Errorf("%s: innerError %v", what, inner)
		}
	}
	check("garbled deltatoken", "/v1.0/users/delta?$deltatoken=not-a-token")
	check("empty deltatoken", "/v1.0/users/delta()?$deltatoken=")
	check("garbled skiptoken", "/v1.0/users/delta?$skiptoken=garbage")
	check("skiptoken of a completed round", staleSkip)
	check("deltatoken used as skiptoken", strings.Replace(dl, "$deltatoken=", "$skiptoken=", 1))
	if err := e.sim.SeedTenant(e.seed); err != nil {
		t.Fatal(err)
	}
	check("deltatoken from before a reseed", dl)
}

// (S11) Users delta needs User.Read.All or Directory.Read.All.
func TestUsersDelta_WithoutDirectoryRoleGives403(t *testing.T) {
	t.Parallel()
	e, _ := startUsersDeltaSim(t, 0)
	if err := e.sim.SetGrantedRoles(e.creds.TenantID, e.creds.ClientID, []string{"Mail.Read"}); err != nil {
		t.Fatal(err)
	}
	token := rawToken(t, e.sim, e.creds.TenantID, e.creds.ClientID, e.creds.ClientSecret)
	resp, b := rawDo(t, e.sim, http.MethodGet, "/v1.0/users/delta()", token, nil)
	if er, _ := jsonObject(t, b)["error"].(map[string]any); resp.StatusCode != http.StatusForbidden || er["code"] != "Authorization_RequestDenied" {
		t.Errorf("users delta with Mail.Read only: %d %s", resp.StatusCode, b)
	}
	if err := e.sim.SetGrantedRoles(e.creds.TenantID, e.creds.ClientID, []string{"Directory.Read.All"}); err != nil {
		t.Fatal(err)
	}
	token = rawToken(t, e.sim, e.creds.TenantID, e.creds.ClientID, e.creds.ClientSecret)
	if resp, b := rawDo(t, e.sim, http.MethodGet, "/v1.0/users/delta", token, nil); resp.StatusCode != http.StatusOK {
		t.Errorf("users delta with Directory.Read.All: %d %s", resp.StatusCode, b)
	}
}

// Users added, changed and removed through the control API reach the
// directory and the delta link.
func TestControlAPI_UpsertAndDeleteUser(t *testing.T) {
	t.Parallel()
	e, token := startUsersDeltaSim(t, 0)
	_, b := rawDo(t, e.sim, http.MethodGet, "/v1.0/users/delta?$deltatoken=latest", token, nil)
	dl := jsonObject(t, b)["@odata.deltaLink"].(string)

	tid := e.creds.TenantID
	out := controlCall(t, e.sim, http.MethodPost, "/tenants/"+tid+"/users", UserSeed{DisplayName: "Dee Control", UserPrincipalName: "dee@fabrikam.example", Mail: "dee@fabrikam.example"}, 200)
	id, _ := out["id"].(string)
	if !isGUID(id) {
		t.Fatalf("POST users returned id %v", out["id"])
	}
	if resp, b := rawDo(t, e.sim, http.MethodGet, "/v1.0/users/dee@fabrikam.example", token, nil); resp.StatusCode != 200 || jsonObject(t, b)["id"] != id {
		t.Errorf("GET added user: %d %s", resp.StatusCode, b)
	}
	controlCall(t, e.sim, http.MethodPost, "/tenants/"+tid+"/users", UserSeed{ID: id, DisplayName: "Dee Renamed", UserPrincipalName: "dee@fabrikam.example"}, 200)
	controlCall(t, e.sim, http.MethodDelete, "/tenants/"+tid+"/users/"+e.seed.Users[2].UserPrincipalName, nil, 200)
	controlCall(t, e.sim, http.MethodDelete, "/tenants/"+tid+"/users/"+e.seed.Users[2].UserPrincipalName, nil, 404)
	controlCall(t, e.sim, http.MethodPost, "/tenants/"+tid+"/users", UserSeed{DisplayName: "no key"}, 400)
	controlCall(t, e.sim, http.MethodPost, "/tenants/"+tid+"/users", UserSeed{ID: "x", UserPrincipalName: e.seed.Users[1].UserPrincipalName}, 400)
	controlCall(t, e.sim, http.MethodPost, "/tenants/nope/users", UserSeed{ID: "x"}, 404)

	items, _, _ := deltaRoundRaw(t, e.sim, token, dl)
	if len(items) != 2 {
		t.Fatalf("deltaLink returned %v, want the added user and the removed one", items)
	}
	for _, it := range items {
		switch it["id"] {
		case id:
			if it["displayName"] != "Dee Renamed" || it["mail"] != nil {
				t.Errorf("upserted user = %v, want displayName Dee Renamed and mail cleared", it)
			}
		case e.seed.Users[2].ID:
			if it["@removed"] == nil {
				t.Errorf("removed user = %v", it)
			}
		default:
			t.Errorf("unexpected item %v", it)
		}
	}
	if resp, _ := rawDo(t, e.sim, http.MethodGet, "/v1.0/users/"+e.seed.Users[2].ID, token, nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET deleted user: %d, want 404", resp.StatusCode)
	}
}
