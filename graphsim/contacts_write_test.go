package graphsim

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

const crmKey = "String {66f5a359-4659-4830-9070-00047ec6ac6e} Name ExternalKey"

// api/user-post-contacts.md, api/contact-update.md and the single-value
// extended property docs: writes, the Any() $filter, the $expand, delta.
func TestContacts_WritesExtendedPropertiesFilterExpandAndDelta(t *testing.T) {
	t.Parallel()
	e, tok, ids := collabSim(t, []string{"Contacts.ReadWrite", "User.Read.All"})
	base := "/v1.0/users/" + ids["ann"]
	_, _, dl := deltaRoundRaw(t, e.sim, tok, base+"/contacts/delta")

	resp, c1 := cwPost(t, e.sim, base+"/contacts", tok, map[string]any{
		"givenName": "Pavel", "surname": "Bansky",
		"emailAddresses": []any{map[string]any{"address": "pavelb@fabrikam.example", "name": "Pavel Bansky"}},
		"businessPhones": []string{"+1 732 555 0102"}, "birthday": "1974-07-22T00:00:00Z",
		"businessAddress":               map[string]any{"city": "Redmond", "street": "1 Main St"},
		"singleValueExtendedProperties": []any{map[string]any{"id": crmKey, "value": "crm-42"}},
	})
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST contact: %d %v", resp.StatusCode, c1)
	}
	if c1["displayName"] != "Pavel Bansky" || c1["fileAs"] != "Bansky, Pavel" || c1["birthday"] != "1974-07-22T00:00:00Z" ||
		c1["businessAddress"].(map[string]any)["city"] != "Redmond" || c1["businessPhones"].([]any)[0] != "+1 732 555 0102" ||
		c1["emailAddresses"].([]any)[0].(map[string]any)["address"] != "pavelb@fabrikam.example" ||
		!strings.HasSuffix(c1["@odata.context"].(string), "/contacts/$entity") {
		t.Errorf("created contact = %v", c1)
	}
	if _, has := c1["singleValueExtendedProperties"]; has {
		t.Errorf("the create response carries the extended property: %v", c1)
	}
	_, c2 := cwPost(t, e.sim, base+"/contacts", tok, map[string]any{"displayName": "Litware Desk",
		"singleValueExtendedProperties": []any{map[string]any{"id": crmKey, "value": "crm-7"}}})
	if c2["displayName"] != "Litware Desk" {
		t.Fatalf("second contact = %v", c2)
	}
	filter := func(expr string) []map[string]any {
		t.Helper()
		resp, b := rawDo(t, e.sim, http.MethodGet, base+"/contacts?$filter="+url.QueryEscape(expr), tok, nil)
		if resp.StatusCode != 200 {
			t.Fatalf("$filter=%s: %d %s", expr, resp.StatusCode, b)
		}
		return valueOf(t, b)
	}
	// The GUID and type match case-insensitively, the value too; the name does not.
	if got := filter("singleValueExtendedProperties/Any(ep: ep/id eq 'String {66F5A359-4659-4830-9070-00047EC6AC6E} Name ExternalKey' and ep/value eq 'CRM-42')"); len(got) != 1 || got[0]["id"] != c1["id"] {
		t.Errorf("eq filter = %v", got)
	} else if _, has := got[0]["singleValueExtendedProperties"]; has {
		t.Errorf("filtered contacts carry the property: %v", got[0])
	}
	if got := filter("singleValueExtendedProperties/Any(ep: ep/id eq 'String {66f5a359-4659-4830-9070-00047ec6ac6e} Name externalkey' and ep/value eq 'crm-42')"); len(got) != 0 {
		t.Errorf("the name matched case-insensitively: %v", got)
	}
	if got := filter("singleValueExtendedProperties/any(ep:ep/id eq '" + crmKey + "' and contains(ep/value, 'CRM'))"); len(got) != 2 {
		t.Errorf("contains filter = %d contacts", len(got))
	}
	if got := filter("singleValueExtendedProperties/any(x: x/id eq '" + crmKey + "' and x/value ne 'crm-42')"); len(got) != 1 || got[0]["id"] != c2["id"] {
		t.Errorf("ne filter = %v", got)
	}
	if resp, _ := rawDo(t, e.sim, http.MethodGet, base+"/contacts?$filter="+url.QueryEscape("displayName eq 'x'"), tok, nil); resp.StatusCode != 501 {
		t.Errorf("other $filter: %d", resp.StatusCode)
	}
	// $expand on one contact and on the filtered list.
	expand := "$expand=" + url.QueryEscape("singleValueExtendedProperties($filter=id eq '"+crmKey+"')")
	resp, b := rawDo(t, e.sim, http.MethodGet, base+"/contacts/"+c1["id"].(string)+"?"+expand, tok, nil)
	ep, _ := jsonObject(t, b)["singleValueExtendedProperties"].([]any)
	if resp.StatusCode != 200 || len(ep) != 1 || ep[0].(map[string]any)["id"] != crmKey || ep[0].(map[string]any)["value"] != "crm-42" {
		t.Errorf("$expand on a contact: %d %s", resp.StatusCode, b)
	}
	_, b = rawDo(t, e.sim, http.MethodGet, base+"/contacts?"+expand+"&$filter="+url.QueryEscape("singleValueExtendedProperties/any(ep: ep/id eq '"+crmKey+"' and ep/value eq 'crm-7')"), tok, nil)
	if l := valueOf(t, b); len(l) != 1 || l[0]["singleValueExtendedProperties"].([]any)[0].(map[string]any)["value"] != "crm-7" {
		t.Errorf("$expand with $filter: %s", b)
	}
	// PATCH replaces the property's value and other fields.
	resp, up := cwPatch(t, e.sim, base+"/contacts/"+c1["id"].(string), tok, map[string]any{"jobTitle": "Buyer",
		"singleValueExtendedProperties": []any{map[string]any{"id": crmKey, "value": "crm-43"}}})
	if resp.StatusCode != 200 || up["jobTitle"] != "Buyer" || up["changeKey"] == c1["changeKey"] {
		t.Fatalf("PATCH: %d %v", resp.StatusCode, up)
	}
	if len(filter("singleValueExtendedProperties/Any(ep: ep/id eq '"+crmKey+"' and ep/value eq 'crm-42')")) != 0 ||
		len(filter("singleValueExtendedProperties/Any(ep: ep/id eq '"+crmKey+"' and ep/value eq 'crm-43')")) != 1 {
		t.Errorf("the PATCH did not replace the extended property")
	}
	// Delta reports both new contacts (the patched one current), then a deletion.
	items, _, dl2 := deltaRoundRaw(t, e.sim, tok, dl)
	if len(items) != 2 {
		t.Fatalf("delta after two creates: %v", items)
	}
	for _, it := range items {
		if it["id"] == c1["id"] && it["jobTitle"] != "Buyer" {
			t.Errorf("delta item = %v", it)
		}
	}
	resp, b = rawDo(t, e.sim, http.MethodDelete, base+"/contacts/"+c2["id"].(string), tok, nil)
	if resp.StatusCode != 204 || len(b) != 0 {
		t.Fatalf("DELETE: %d %s", resp.StatusCode, b)
	}
	items, _, _ = deltaRoundRaw(t, e.sim, tok, dl2)
	if len(items) != 1 || items[0]["id"] != c2["id"] || items[0]["@removed"] == nil {
		t.Errorf("delta after delete: %v", items)
	}
	// Errors: a bad extended property id, a read-only property, Contacts.Read only.
	if resp, res := cwPost(t, e.sim, base+"/contacts", tok, map[string]any{"singleValueExtendedProperties": []any{map[string]any{"id": "Color", "value": "x"}}}); resp.StatusCode != 400 {
		t.Errorf("bad extended property id: %d %v", resp.StatusCode, res)
	}
	if resp, res := cwPost(t, e.sim, base+"/contacts", tok, map[string]any{"changeKey": "x"}); resp.StatusCode != 400 || cwErrCode(res) != "ErrorInvalidPropertySet" {
		t.Errorf("read-only property: %d %v", resp.StatusCode, res)
	}
	if err := e.sim.SetGrantedRoles(e.creds.TenantID, e.creds.ClientID, []string{"Contacts.Read"}); err != nil {
		t.Fatal(err)
	}
	ro := rawToken(t, e.sim, e.creds.TenantID, e.creds.ClientID, e.creds.ClientSecret)
	if resp, res := cwPost(t, e.sim, base+"/contacts", ro, map[string]any{"givenName": "X"}); resp.StatusCode != 403 || cwErrCode(res) != "ErrorAccessDenied" {
		t.Errorf("POST with Contacts.Read: %d %v", resp.StatusCode, res)
	}
	if resp, _ := cwPatch(t, e.sim, base+"/contacts/"+c1["id"].(string), ro, map[string]any{"givenName": "X"}); resp.StatusCode != 403 {
		t.Errorf("PATCH with Contacts.Read: %d", resp.StatusCode)
	}
	_, b = rawDo(t, e.sim, http.MethodGet, base+"/contacts", ro, nil)
	if l := valueOf(t, b); len(l) != 1 || l[0]["givenName"] != "Pavel" {
		t.Errorf("contacts after refused writes: %s", b)
	}
}

// Creating in a contact folder puts the contact there.
func TestContacts_CreateInFolder(t *testing.T) {
	t.Parallel()
	e, tok, ids := collabSim(t, []string{"Contacts.ReadWrite"})
	fid, err := e.sim.CreateContactFolder(e.creds.TenantID, ids["ann"], "Suppliers")
	if err != nil {
		t.Fatal(err)
	}
	resp, c := cwPost(t, e.sim, "/v1.0/users/"+ids["ann"]+"/contactFolders/"+fid+"/contacts", tok, map[string]any{"givenName": "Ada"})
	if resp.StatusCode != 201 || c["parentFolderId"] != fid || !strings.Contains(c["@odata.context"].(string), "contactFolders('"+fid+"')/contacts/$entity") {
		t.Fatalf("POST into a folder: %d %v", resp.StatusCode, c)
	}
	_, b := rawDo(t, e.sim, http.MethodGet, "/v1.0/users/"+ids["ann"]+"/contacts", tok, nil)
	if len(valueOf(t, b)) != 0 {
		t.Errorf("the folder's contact shows in the default folder: %s", b)
	}
}
