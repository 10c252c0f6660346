package graphsim

import (
	"net/http"
	"strings"
	"testing"

	"github.com/microsoftgraph/msgraph-sdk-go/users"
)

// contactsSim: ann has 12 contacts in the default folder and 2 in "Vendors".
func contactsSim(t *testing.T) (*simEnv, string, UserSeed) {
	t.Helper()
	seed, creds := mailSeed(0)
	seed.Apps[0].GrantedRoles = []string{"Contacts.Read", "User.Read.All"}
	ann := &seed.Users[1]
	ann.ContactFolders = []string{"Vendors"}
	for i := 0; i < 14; i++ {
		cs := ContactSeed{GivenName: "Given" + string(rune('A'+i)), Surname: "Sur", Emails: []string{"c" + string(rune('a'+i)) + "@ext.example"}, CompanyName: "Litware"}
		if i >= 12 {
			cs.Folder = "Vendors"
		}
		ann.Contacts = append(ann.Contacts, cs)
	}
	sim, err := Start(Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Close() })
	if err := sim.SeedTenant(seed); err != nil {
		t.Fatal(err)
	}
	return &simEnv{sim: sim, seed: seed, creds: creds}, rawToken(t, sim, creds.TenantID, creds.ClientID, creds.ClientSecret), *ann
}

// api/user-list-contacts.md, api/contact-get.md, api/user-list-contactfolders.md.
func TestContacts_ListPagingSelectGetAndFolders(t *testing.T) {
	t.Parallel()
	e, tok, ann := contactsSim(t)
	base := "/v1.0/users/" + ann.UserPrincipalName

	resp, body := rawDo(t, e.sim, http.MethodGet, base+"/contacts", tok, nil)
	items := valueOf(t, body)
	m := jsonObject(t, body)
	if resp.StatusCode != 200 || len(items) != 10 || m["@odata.nextLink"] == nil {
		t.Fatalf("default page: %d, %d items, nextLink %v", resp.StatusCode, len(items), m["@odata.nextLink"])
	}
	c := items[0]
	for _, k := range []string{"@odata.etag", "id", "createdDateTime", "lastModifiedDateTime", "changeKey", "categories", "parentFolderId",
		"birthday", "fileAs", "displayName", "givenName", "surname", "emailAddresses", "businessPhones", "mobilePhone", "companyName",
		"homeAddress", "businessAddress", "otherAddress", "personalNotes", "imAddresses"} {
		if _, ok := c[k]; !ok {
			t.Errorf("contact lacks %s: %v", k, c)
		}
	}
	if ea := c["emailAddresses"].([]any); len(ea) != 1 || ea[0].(map[string]any)["address"] != "ca@ext.example" || c["displayName"] != "GivenA Sur" || c["fileAs"] != "Sur, GivenA" {
		t.Errorf("contact = %v", c)
	}
	_, body = rawDo(t, e.sim, http.MethodGet, jsonObject(t, body)["@odata.nextLink"].(string), tok, nil)
	if n := len(valueOf(t, body)); n != 2 {
		t.Errorf("second page %d items, want 2 (the Vendors contacts are not in the default folder)", n)
	}

	_, body = rawDo(t, e.sim, http.MethodGet, base+"/contacts?$select=displayName,emailAddresses&$top=3", tok, nil)
	sel := valueOf(t, body)
	if len(sel) != 3 {
		t.Fatalf("$top=3: %d", len(sel))
	}
	sameKeys(t, "selected contact", sel[0], "@odata.etag", "id", "displayName", "emailAddresses")

	resp, body = rawDo(t, e.sim, http.MethodGet, base+"/contacts/"+c["id"].(string), tok, nil)
	if resp.StatusCode != 200 || jsonObject(t, body)["displayName"] != "GivenA Sur" || !strings.Contains(jsonObject(t, body)["@odata.context"].(string), "/contacts/$entity") {
		t.Errorf("get contact: %d %s", resp.StatusCode, body)
	}
	resp, _ = rawDo(t, e.sim, http.MethodGet, base+"/contacts/AAMkAnotacontact00000000000000", tok, nil)
	if resp.StatusCode != 404 {
		t.Errorf("unknown contact: %d", resp.StatusCode)
	}

	_, body = rawDo(t, e.sim, http.MethodGet, base+"/contactFolders", tok, nil)
	folders := valueOf(t, body)
	if len(folders) != 1 || folders[0]["displayName"] != "Vendors" || folders[0]["parentFolderId"] != c["parentFolderId"] {
		t.Fatalf("contactFolders = %v", folders)
	}
	sameKeys(t, "contactFolder", folders[0], "id", "displayName", "parentFolderId")
	_, body = rawDo(t, e.sim, http.MethodGet, base+"/contactFolders/"+folders[0]["id"].(string)+"/contacts", tok, nil)
	if n := len(valueOf(t, body)); n != 2 {
		t.Errorf("Vendors contacts: %d", n)
	}

	for path, want := range map[string]int{
		base + "/contacts?$filter=emailAddresses/any(a:a/address%20eq%20'x')": 501,
		base + "/contacts?$select=nope":                                       400,
		base + "/contactFolders/delta":                                        501,
	} {
		if resp, body := rawDo(t, e.sim, http.MethodGet, path, tok, nil); resp.StatusCode != want {
			t.Errorf("%s: %d %s, want %d", path, resp.StatusCode, body, want)
		}
	}

	if err := e.sim.SetGrantedRoles(e.creds.TenantID, e.creds.ClientID, []string{"Mail.Read"}); err != nil {
		t.Fatal(err)
	}
	tok2 := rawToken(t, e.sim, e.creds.TenantID, e.creds.ClientID, e.creds.ClientSecret)
	if resp, body := rawDo(t, e.sim, http.MethodGet, base+"/contacts", tok2, nil); resp.StatusCode != 403 || !strings.Contains(string(body), "ErrorAccessDenied") {
		t.Errorf("without Contacts.Read: %d %s", resp.StatusCode, body)
	}
}

// api/contact-delta.md: pages by Prefer: odata.maxpagesize, $select kept in
// the links, changes and @removed on the deltaLink, SyncStateNotFound.
func TestContacts_DeltaPagesChangesRemovalsAndUnknownTokens(t *testing.T) {
	t.Parallel()
	e, tok, ann := contactsSim(t)
	var folderID string
	_, body := rawDo(t, e.sim, http.MethodGet, "/v1.0/users/"+ann.ID+"/contactFolders", tok, nil)
	folderID = valueOf(t, body)[0]["id"].(string)

	for _, first := range []string{
		"/v1.0/users/" + ann.ID + "/contacts/delta()?$select=displayName",
		"/v1.0/users/" + ann.ID + "/contactFolders/" + folderID + "/contacts/delta?$select=displayName",
	} {
		items, pages, deltaLink := deltaRoundRaw(t, e.sim, tok, first, "Prefer: odata.maxpagesize=5")
		want := 12
		if strings.Contains(first, "contactFolders") {
			want = 2
		}
		if len(items) != want || deltaLink == "" {
			t.Fatalf("%s: %d items %d pages, deltaLink %q", first, len(items), len(pages), deltaLink)
		}
		sameKeys(t, "delta item", items[0], "@odata.type", "@odata.etag", "id", "displayName")
		if items[0]["@odata.type"] != "#microsoft.graph.contact" {
			t.Errorf("@odata.type = %v", items[0]["@odata.type"])
		}
		if want == 12 && len(pages) != 3 {
			t.Errorf("12 contacts at 5 a page: %d pages", len(pages))
		}
		if want != 2 {
			continue
		}
		// Changes after the deltaLink: one created, one updated, one deleted.
		newID, err := e.sim.CreateContact(e.creds.TenantID, ann.UserPrincipalName, ContactSeed{GivenName: "New", Surname: "Vendor", Folder: "Vendors"})
		if err != nil {
			t.Fatal(err)
		}
		name := "Renamed"
		if err := e.sim.UpdateContact(e.creds.TenantID, ann.UserPrincipalName, items[0]["id"].(string), ContactUpdate{DisplayName: &name}); err != nil {
			t.Fatal(err)
		}
		controlCall(t, e.sim, http.MethodDelete, "/tenants/"+e.creds.TenantID+"/users/"+ann.ID+"/contacts/"+items[1]["id"].(string), nil, 200)
		got, _, _ := deltaRoundRaw(t, e.sim, tok, deltaLink, "Prefer: odata.maxpagesize=5")
		byID := map[string]map[string]any{}
		for _, it := range got {
			byID[it["id"].(string)] = it
		}
		if len(got) != 3 || byID[newID]["displayName"] != "New Vendor" || byID[items[0]["id"].(string)]["displayName"] != "Renamed" ||
			byID[items[1]["id"].(string)]["@removed"] == nil {
			t.Errorf("changes on the deltaLink: %v", got)
		}
		if _, ok := byID[newID]["givenName"]; ok {
			t.Errorf("$select not kept in the deltaLink: %v", byID[newID])
		}
	}

	for _, p := range []string{"/contacts/delta?$deltatoken=bogus", "/contacts/delta?$skiptoken=bogus"} {
		resp, body := rawDo(t, e.sim, http.MethodGet, "/v1.0/users/"+ann.ID+p, tok, nil)
		if resp.StatusCode != 410 || !strings.Contains(string(body), "SyncStateNotFound") {
			t.Errorf("%s: %d %s", p, resp.StatusCode, body)
		}
	}
}

// The SDK's contacts delta builder (users/{id}/contacts/delta()) and list.
func TestContacts_SDKDeltaAndList(t *testing.T) {
	t.Parallel()
	e := startDemoSim(t)
	client, _ := e.demoClient(t)
	u := e.seed.Users[0]
	resp, err := client.Users().ByUserId(u.ID).Contacts().Delta().GetAsDeltaGetResponse(ctxT(t), nil)
	if err != nil {
		t.Fatalf("contacts delta: %v", err)
	}
	if len(resp.GetValue()) != len(u.Contacts)-1 || resp.GetOdataDeltaLink() == nil { // one is in Suppliers
		t.Errorf("delta: %d contacts, deltaLink %v", len(resp.GetValue()), resp.GetOdataDeltaLink())
	}
	list, err := client.Users().ByUserId(u.ID).Contacts().Get(ctxT(t), &users.ItemContactsRequestBuilderGetRequestConfiguration{})
	if err != nil || len(list.GetValue()) != len(u.Contacts)-1 || len(list.GetValue()[0].GetEmailAddresses()) != 1 {
		t.Errorf("list: %v %v", err, list)
	}
}
