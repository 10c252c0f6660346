package graphsim

import (
	"net/http"
	"strings"
	"testing"
)

// demoIDs finds demo users by display name.
func demoUser(t *testing.T, e *simEnv, name string) UserSeed {
	t.Helper()
	for _, u := range e.seed.Users {
		if u.DisplayName == name {
			return u
		}
	}
	t.Fatalf("no demo user %q", name)
	return UserSeed{}
}

// (S40) api/user-list-manager.md examples 1 and 2, api/user-list-directreports.md.
func TestDirectory_ManagerDirectReportsAndExpandManagerChain(t *testing.T) {
	t.Parallel()
	e := startDemoSim(t)
	tok := rawToken(t, e.sim, e.creds.TenantID, e.creds.ClientID, e.creds.ClientSecret)
	ic := e.seed.Users[len(e.seed.Users)-1] // an individual contributor, three levels below the CEO
	ceo := demoUser(t, e, "Megan Bowen")

	resp, body := rawDo(t, e.sim, http.MethodGet, "/v1.0/users/"+ic.UserPrincipalName+"/manager", tok, nil)
	m := jsonObject(t, body)
	if resp.StatusCode != 200 || m["id"] != ic.ManagerID || m["@odata.type"] != "#microsoft.graph.user" || m["userPrincipalName"] == nil {
		t.Fatalf("manager: %d %s", resp.StatusCode, body)
	}
	resp, body = rawDo(t, e.sim, http.MethodGet, "/v1.0/users/"+ceo.ID+"/manager", tok, nil)
	if resp.StatusCode != 404 || !strings.Contains(string(body), `"Request_ResourceNotFound"`) ||
		!strings.Contains(string(body), "Resource 'manager' does not exist or one of its queried reference-property objects are not present.") {
		t.Errorf("CEO manager: %d %s, want 404 Request_ResourceNotFound", resp.StatusCode, body)
	}

	// Documented example 2, with the raw ';' in the nested options.
	resp, body = rawDo(t, e.sim, http.MethodGet, "/v1.0/users/"+ic.ID+"?$expand=manager($levels=max;$select=id,displayName)&$select=id,displayName", tok, nil)
	if resp.StatusCode != 200 {
		t.Fatalf("$expand=manager($levels=max;...): %d %s", resp.StatusCode, body)
	}
	depth, cur := 0, jsonObject(t, body)
	for {
		next, ok := cur["manager"].(map[string]any)
		if !ok {
			break
		}
		sameKeys(t, "expanded manager", next, append([]string{"@odata.type", "id", "displayName"}, keysIf(next, "manager")...)...)
		depth++
		cur = next
	}
	if depth != 3 || cur["id"] != ceo.ID {
		t.Errorf("manager chain depth %d ending at %v, want 3 ending at the CEO", depth, cur["id"])
	}
	_, body = rawDo(t, e.sim, http.MethodGet, "/v1.0/users?$expand=manager&$select=id&$top=999", tok, nil)
	withMgr := 0
	for _, u := range valueOf(t, body) {
		if mm, ok := u["manager"].(map[string]any); ok {
			withMgr++
			if _, nested := mm["manager"]; nested {
				t.Errorf("$expand=manager without $levels nested further: %v", u)
			}
		}
	}
	if withMgr != len(e.seed.Users)-1 {
		t.Errorf("%d users with an expanded manager, want %d", withMgr, len(e.seed.Users)-1)
	}
	if resp, _ := rawDo(t, e.sim, http.MethodGet, "/v1.0/users/"+ic.ID+"?$expand=directReports", tok, nil); resp.StatusCode != 501 {
		t.Errorf("$expand=directReports: %d, want 501", resp.StatusCode)
	}

	_, body = rawDo(t, e.sim, http.MethodGet, "/v1.0/users/"+ceo.ID+"/directReports", tok, nil)
	reports := valueOf(t, body)
	if len(reports) != 5 || !strings.HasSuffix(jsonObject(t, body)["@odata.context"].(string), "#directoryObjects") {
		t.Errorf("CEO direct reports = %d, %s", len(reports), body)
	}
	for _, r := range reports {
		if r["@odata.type"] != "#microsoft.graph.user" {
			t.Errorf("direct report without @odata.type user: %v", r)
		}
	}
}

func keysIf(m map[string]any, k string) []string {
	if _, ok := m[k]; ok {
		return []string{k}
	}
	return nil
}

// api/group-list.md, api/group-list-members.md: groups with their kinds,
// members with @odata.type (a nested group too), and permissions.
func TestGroups_ListFilterMembersAndPermissions(t *testing.T) {
	t.Parallel()
	e := startDemoSim(t)
	tok := rawToken(t, e.sim, e.creds.TenantID, e.creds.ClientID, e.creds.ClientSecret)
	resp, body := rawDo(t, e.sim, http.MethodGet, "/v1.0/groups", tok, nil)
	if resp.StatusCode != 200 {
		t.Fatalf("groups: %d %s", resp.StatusCode, body)
	}
	byName := map[string]map[string]any{}
	for _, g := range valueOf(t, body) {
		sameKeys(t, "group", g, groupProps...)
		byName[g["displayName"].(string)] = g
	}
	if dl := byName["Sales Team"]; dl == nil || dl["mailEnabled"] != true || dl["securityEnabled"] != false || len(dl["groupTypes"].([]any)) != 0 || dl["mail"] != "sales@contoso.example" {
		t.Errorf("distribution list = %v", dl)
	}
	if m365 := byName["All Company"]; m365 == nil || m365["groupTypes"].([]any)[0] != "Unified" {
		t.Errorf("Microsoft 365 group = %v", m365)
	}
	_, body = rawDo(t, e.sim, http.MethodGet, "/v1.0/groups?$filter=groupTypes/any(c:c+eq+'Unified')&$select=id,displayName", tok, nil)
	if got := valueOf(t, body); len(got) != 1 || got[0]["displayName"] != "All Company" {
		t.Errorf("Unified filter = %s", body)
	}
	if resp, _ := rawDo(t, e.sim, http.MethodGet, "/v1.0/groups?$filter=startswith(displayName,'S')", tok, nil); resp.StatusCode != 501 {
		t.Errorf("unsupported $filter: %d, want 501", resp.StatusCode)
	}
	_, body = rawDo(t, e.sim, http.MethodGet, "/v1.0/groups/"+byName["People Managers"]["id"].(string)+"/members?$top=5", tok, nil)
	doc := jsonObject(t, body)
	types := map[string]int{}
	for _, m := range valueOf(t, body) {
		types[m["@odata.type"].(string)]++
	}
	if doc["@odata.nextLink"] == nil || types["#microsoft.graph.group"]+types["#microsoft.graph.user"] != 5 {
		t.Errorf("members page = %s", body)
	}
	all := 0
	for next := "/v1.0/groups/" + byName["People Managers"]["id"].(string) + "/members"; next != ""; {
		_, body := rawDo(t, e.sim, http.MethodGet, next, tok, nil)
		for _, m := range valueOf(t, body) {
			all++
			if m["@odata.type"] == "#microsoft.graph.group" && m["displayName"] != "Leadership" {
				t.Errorf("nested group member %v", m)
			}
		}
		next, _ = jsonObject(t, body)["@odata.nextLink"].(string)
	}
	if all != 11 {
		t.Errorf("People Managers has %d members, want 11 (Leadership + 10 managers)", all)
	}
	// Without a group permission: 403 Authorization_RequestDenied.
	if err := e.sim.SetGrantedRoles(e.creds.TenantID, e.creds.ClientID, []string{"Mail.Read"}); err != nil {
		t.Fatal(err)
	}
	tok2 := rawToken(t, e.sim, e.creds.TenantID, e.creds.ClientID, e.creds.ClientSecret)
	for _, p := range []string{"/v1.0/groups", "/v1.0/groups/delta", "/v1.0/groups/" + byName["Sales Team"]["id"].(string) + "/members"} {
		resp, body := rawDo(t, e.sim, http.MethodGet, p, tok2, nil)
		if resp.StatusCode != 403 || !strings.Contains(string(body), "Authorization_RequestDenied") {
			t.Errorf("%s without group roles: %d %s", p, resp.StatusCode, body)
		}
	}
}

// api/group-delta.md: members@delta on the initial round and for changes,
// removed groups, Prefer: return=minimal.
func TestGroupsDelta_MembersDeltaAndRemovals(t *testing.T) {
	t.Parallel()
	e := startDemoSim(t)
	tid := e.creds.TenantID
	tok := rawToken(t, e.sim, tid, e.creds.ClientID, e.creds.ClientSecret)
	items, _, dl := deltaRoundRaw(t, e.sim, tok, "/v1.0/groups/delta()")
	if len(items) != 5 {
		t.Fatalf("initial groups delta: %d groups", len(items))
	}
	var sales string
	for _, it := range items {
		if it["displayName"] == "Sales Team" {
			sales = it["id"].(string)
			if md, _ := it["members@delta"].([]any); len(md) == 0 {
				t.Errorf("initial round without members@delta: %v", it)
			}
		}
	}
	ic := e.seed.Users[len(e.seed.Users)-1]
	if err := e.sim.AddGroupMember(tid, sales, ic.UserPrincipalName); err != nil {
		t.Fatal(err)
	}
	salesMember := demoUser(t, e, "Adele Vance")
	if err := e.sim.RemoveGroupMember(tid, sales, salesMember.ID); err != nil {
		t.Fatal(err)
	}
	newID, err := e.sim.UpsertGroup(tid, GroupSeed{DisplayName: "Project X", Kind: "unified", Members: []string{ic.ID}})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.sim.DeleteGroup(tid, deterministicGUID("group", tid, "leadership")); err != nil {
		t.Fatal(err)
	}
	resp, body := rawDo(t, e.sim, http.MethodGet, dl, tok, nil, "Prefer: return=minimal")
	if resp.Header.Get("Preference-Applied") != "return=minimal" {
		t.Errorf("Preference-Applied = %q", resp.Header.Get("Preference-Applied"))
	}
	got := map[string]map[string]any{}
	for _, it := range valueOf(t, body) {
		got[it["id"].(string)] = it
	}
	s := got[sales]
	if s == nil {
		t.Fatalf("changed group missing: %s", body)
	}
	if _, has := s["displayName"]; has {
		t.Errorf("return=minimal returned an unchanged property: %v", s)
	}
	md := s["members@delta"].([]any)
	if len(md) != 2 {
		t.Fatalf("members@delta = %v", md)
	}
	for _, m := range md {
		mo := m.(map[string]any)
		switch mo["id"] {
		case ic.ID:
			if mo["@removed"] != nil {
				t.Errorf("added member marked removed: %v", mo)
			}
		case salesMember.ID:
			if mo["@removed"] == nil {
				t.Errorf("removed member without @removed: %v", mo)
			}
		}
	}
	if got[newID] == nil || got[newID]["displayName"] != "Project X" {
		t.Errorf("new group = %v", got[newID])
	}
	if lg := got[deterministicGUID("group", tid, "leadership")]; lg == nil || lg["@removed"] == nil {
		t.Errorf("deleted group = %v", lg)
	}
}

// api/user-delta.md: Prefer: return=minimal and manager@delta.
func TestUsersDelta_ReturnMinimalAndManagerDelta(t *testing.T) {
	t.Parallel()
	e := startDemoSim(t)
	tid := e.creds.TenantID
	tok := rawToken(t, e.sim, tid, e.creds.ClientID, e.creds.ClientSecret)
	items, _, dl := deltaRoundRaw(t, e.sim, tok, "/v1.0/users/delta?$select=displayName,jobTitle,manager")
	if len(items) != len(e.seed.Users) || items[0]["manager@delta"] == nil && items[1]["manager@delta"] == nil {
		t.Fatalf("initial round: %d users; first %v", len(items), items[0])
	}
	u := e.seed.Users[len(e.seed.Users)-1]
	u.Messages, u.Folders = nil, nil
	u.JobTitle = "Principal Engineer"
	u.ManagerID = demoUser(t, e, "Megan Bowen").ID
	if err := e.sim.UpsertUser(tid, u); err != nil {
		t.Fatal(err)
	}
	resp, body := rawDo(t, e.sim, http.MethodGet, dl, tok, nil, "Prefer: return=minimal")
	got := valueOf(t, body)
	if resp.Header.Get("Preference-Applied") != "return=minimal" || len(got) != 1 {
		t.Fatalf("minimal round: %q %s", resp.Header.Get("Preference-Applied"), body)
	}
	sameKeys(t, "minimal user", got[0], "id", "jobTitle", "manager@delta")
	if md := got[0]["manager@delta"].([]any)[0].(map[string]any); md["id"] != u.ManagerID {
		t.Errorf("manager@delta = %v", md)
	}
}
