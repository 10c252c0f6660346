package graphsim

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/microsoftgraph/msgraph-sdk-go/users"
)

// folderSeedSim is a tenant whose user "big" has nested and hidden custom
// folders and messages spread over them.
func folderSeedSim(t *testing.T) (*simEnv, string) {
	t.Helper()
	seed, creds := mailSeed(0)
	big := &seed.Users[0]
	big.Folders = []FolderSeed{
		{DisplayName: "Projects", Parent: "inbox"},
		{DisplayName: "Alpha", Parent: "Projects"},
		{DisplayName: "Beta", Parent: "Projects"},
		{DisplayName: "Receipts"},
		{DisplayName: "Clutter", Hidden: true},
	}
	for i, f := range []string{"inbox", "inbox", "Projects", "Alpha", "Alpha", "sentitems", "Receipts", "Clutter"} {
		big.Messages = append(big.Messages, MessageSeed{Subject: fmt.Sprintf("m%d", i), From: "x@external.example", Folder: f, IsRead: i%2 == 0})
	}
	sim, err := Start(Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Close() })
	if err := sim.SeedTenant(seed); err != nil {
		t.Fatal(err)
	}
	e := &simEnv{sim: sim, seed: seed, creds: creds}
	return e, rawToken(t, sim, creds.TenantID, creds.ClientID, creds.ClientSecret)
}

func valueOf(t *testing.T, b []byte) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, v := range jsonObject(t, b)["value"].([]any) {
		out = append(out, v.(map[string]any))
	}
	return out
}

func names(items []map[string]any) []string {
	var out []string
	for _, it := range items {
		out = append(out, fmt.Sprint(it["displayName"]))
	}
	return out
}

// api/user-list-mailfolders.md example 1 and 2, api/mailfolder-list-childfolders.md.
func TestMailFolders_ListMatchesDocumentedShapeHiddenAndChildFolders(t *testing.T) {
	t.Parallel()
	e, tok := folderSeedSim(t)
	uid := e.seed.Users[0].ID
	resp, body := rawDo(t, e.sim, http.MethodGet, "/v1.0/users/"+uid+"/mailFolders", tok, nil)
	if resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	doc := jsonObject(t, body)
	if !strings.HasSuffix(doc["@odata.context"].(string), "/v1.0/$metadata#users('"+uid+"')/mailFolders") {
		t.Errorf("@odata.context = %v", doc["@odata.context"])
	}
	items := valueOf(t, body)
	// Top level, sorted by display name, hidden Clutter left out; 7 well-known + Receipts = 8.
	want := "Archive,Deleted Items,Drafts,Inbox,Junk Email,Outbox,Receipts,Sent Items"
	if got := strings.Join(names(items), ","); got != want {
		t.Errorf("top-level folders = %s, want %s", got, want)
	}
	var inbox map[string]any
	for _, it := range items {
		sameKeys(t, "folder", it, "id", "displayName", "parentFolderId", "childFolderCount", "unreadItemCount", "totalItemCount", "isHidden")
		if it["displayName"] == "Inbox" {
			inbox = it
		}
	}
	if inbox["childFolderCount"] != 1.0 || inbox["totalItemCount"] != 2.0 || inbox["unreadItemCount"] != 1.0 {
		t.Errorf("inbox = %v, want 1 child, 2 items, 1 unread", inbox)
	}
	// includeHiddenFolders=true adds the hidden folder, with isHidden true.
	_, body = rawDo(t, e.sim, http.MethodGet, "/v1.0/users/"+uid+"/mailFolders/?includeHiddenFolders=true", tok, nil)
	hidden := 0
	for _, it := range valueOf(t, body) {
		if it["isHidden"] == true {
			hidden++
			if it["displayName"] != "Clutter" {
				t.Errorf("hidden folder %v", it)
			}
		}
	}
	if hidden != 1 {
		t.Errorf("includeHiddenFolders=true: %d hidden folders, want 1", hidden)
	}
	// childFolders of inbox, then of Projects (nested), addressed by id.
	_, body = rawDo(t, e.sim, http.MethodGet, "/v1.0/users/"+uid+"/mailFolders/inbox/childFolders", tok, nil)
	kids := valueOf(t, body)
	if len(kids) != 1 || kids[0]["displayName"] != "Projects" || kids[0]["parentFolderId"] != inbox["id"] || kids[0]["childFolderCount"] != 2.0 {
		t.Fatalf("inbox childFolders = %v", kids)
	}
	pid := kids[0]["id"].(string)
	_, body = rawDo(t, e.sim, http.MethodGet, "/v1.0/users/"+uid+"/mailFolders/"+pid+"/childFolders?$select=displayName,totalItemCount", tok, nil)
	grand := valueOf(t, body)
	if strings.Join(names(grand), ",") != "Alpha,Beta" || grand[0]["totalItemCount"] != 2.0 {
		t.Errorf("Projects childFolders = %v", grand)
	}
	sameKeys(t, "selected folder", grand[0], "id", "displayName", "totalItemCount")
	// Nested path form, and messages of a nested folder.
	aid := grand[0]["id"].(string)
	resp, body = rawDo(t, e.sim, http.MethodGet, "/v1.0/users/"+uid+"/mailFolders/inbox/childFolders/"+pid+"/childFolders/"+aid+"/messages?$select=subject", tok, nil)
	if resp.StatusCode != 200 || len(valueOf(t, body)) != 2 {
		t.Errorf("nested folder messages: %d %s", resp.StatusCode, body)
	}
	// A child id under the wrong parent is not found.
	resp, _ = rawDo(t, e.sim, http.MethodGet, "/v1.0/users/"+uid+"/mailFolders/sentitems/childFolders/"+aid, tok, nil)
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("child under wrong parent: %d, want 404", resp.StatusCode)
	}
}

// The folder list and get answer $top/$skip paging, $select, $filter,
// $orderby and $expand correctly, and 501 for what they do not evaluate.
func TestMailFolders_QueryOptionsAreAnsweredCorrectlyOrRefused(t *testing.T) {
	t.Parallel()
	e, tok := folderSeedSim(t)
	uid := e.seed.Users[0].ID
	get := func(q string) (int, []byte) {
		resp, body := rawDo(t, e.sim, http.MethodGet, "/v1.0/users/"+uid+"/mailFolders"+strings.ReplaceAll(q, " ", "%20"), tok, nil)
		return resp.StatusCode, body
	}
	// $top pages with absolute nextLinks.
	_, body := get("?$top=3&$select=displayName")
	doc := jsonObject(t, body)
	var all []string
	for {
		all = append(all, names(valueOf(t, body))...)
		next, _ := doc["@odata.nextLink"].(string)
		if next == "" {
			break
		}
		_, body = rawDo(t, e.sim, http.MethodGet, next, tok, nil)
		doc = jsonObject(t, body)
	}
	if strings.Join(all, ",") != "Archive,Deleted Items,Drafts,Inbox,Junk Email,Outbox,Receipts,Sent Items" {
		t.Errorf("paged folders = %v", all)
	}
	if st, body := get("?$filter=displayName eq 'Inbox'"); st != 200 || strings.Join(names(valueOf(t, body)), ",") != "Inbox" {
		t.Errorf("$filter displayName eq: %d %s", st, body)
	}
	if st, body := get("?$filter=totalItemCount gt 0&$orderby=displayName desc"); st != 200 || strings.Join(names(valueOf(t, body)), ",") != "Sent Items,Receipts,Inbox" {
		t.Errorf("$filter totalItemCount gt 0, $orderby desc: %d %s", st, body)
	}
	if st, body := get("?$expand=childFolders($select=displayName)&$filter=displayName eq 'inbox'"); st != 200 {
		t.Errorf("$expand=childFolders: %d %s", st, body)
	} else if kids := valueOf(t, body)[0]["childFolders"].([]any); len(kids) != 1 || kids[0].(map[string]any)["displayName"] != "Projects" {
		t.Errorf("expanded childFolders = %v", kids)
	}
	if st, body := get("/inbox?$select=unreadItemCount"); st != 200 {
		t.Errorf("get with $select: %d %s", st, body)
	} else {
		sameKeys(t, "folder", jsonObject(t, body), "@odata.context", "id", "unreadItemCount")
	}
	for _, q := range []string{
		"?$filter=startswith(displayName,'In')", "?$orderby=displayName,totalItemCount", "?$expand=messages",
		"?$search=inbox", "?$count=true",
	} {
		if st, body := get(q); st != http.StatusNotImplemented || !strings.Contains(string(body), `"NotImplemented"`) {
			t.Errorf("%s: %d %s, want 501 NotImplemented", q, st, body)
		}
	}
	for _, q := range []string{"?$select=wellKnownName", "?$select=sizeInBytes", "?$top=0", "?$filter=nope eq 1", "?includeHiddenFolders=maybe"} {
		if st, body := get(q); st != http.StatusBadRequest {
			t.Errorf("%s: %d %s, want 400 (wellKnownName and sizeInBytes are beta-only)", q, st, body)
		}
	}
}

// api/mailfolder-delta.md: pages of odata.maxpagesize, deltaLink, then new,
// renamed, moved and deleted folders on the next round.
func TestMailFoldersDelta_RoundThenCreatedRenamedMovedDeleted(t *testing.T) {
	t.Parallel()
	e, tok := folderSeedSim(t)
	uid := e.seed.Users[0].ID
	items, pages, dl := deltaRoundRaw(t, e.sim, tok, "/v1.0/users/"+uid+"/mailFolders/delta()", "Prefer: odata.maxpagesize=2")
	if len(items) != 11 || len(pages) != 6 { // 7 well-known + Projects, Alpha, Beta, Receipts; Clutter hidden
		t.Fatalf("initial round: %d folders in %d pages, want 11 in 6", len(items), len(pages))
	}
	for _, it := range items {
		if it["@odata.type"] != "#microsoft.graph.mailFolder" {
			t.Errorf("item without @odata.type: %v", it)
		}
	}
	if !strings.Contains(dl, "/mailFolders/delta?$deltatoken=") {
		t.Errorf("deltaLink %s", dl)
	}
	tid := e.creds.TenantID
	newID, err := e.sim.CreateFolder(tid, uid, "Projects", "Gamma", false)
	if err != nil {
		t.Fatal(err)
	}
	var alpha, beta, receipts string
	for _, it := range items {
		switch it["displayName"] {
		case "Alpha":
			alpha = it["id"].(string)
		case "Beta":
			beta = it["id"].(string)
		case "Receipts":
			receipts = it["id"].(string)
		}
	}
	if err := e.sim.RenameFolder(tid, uid, alpha, "Alpha 2"); err != nil {
		t.Fatal(err)
	}
	if err := e.sim.MoveFolder(tid, uid, beta, "archive"); err != nil {
		t.Fatal(err)
	}
	if err := e.sim.DeleteFolder(tid, uid, receipts); err != nil {
		t.Fatal(err)
	}
	items, _, _ = deltaRoundRaw(t, e.sim, tok, dl)
	got := map[string]string{}
	for _, it := range items {
		id := it["id"].(string)
		switch {
		case it["@removed"] != nil:
			got[id] = "removed"
		default:
			got[id] = fmt.Sprint(it["displayName"], "@", it["parentFolderId"])
		}
	}
	if got[receipts] != "removed" || !strings.HasPrefix(got[newID], "Gamma@") || !strings.HasPrefix(got[alpha], "Alpha 2@") || got[beta] == "" {
		t.Errorf("changes = %v", got)
	}
	// Gamma's and Beta's old parent (Projects) and the archive changed child counts: listed too.
	if len(items) < 5 {
		t.Errorf("%d changes, want at least 5 (created, renamed, moved, deleted, parents)", len(items))
	}
}

// The fixes a check against real Graph asked for: $select=id and
// internetMessageHeaders on messages and message delta, a raw ';' in a nested
// $expand option, 501 for unimplemented methods, and Prefer:
// odata.maxpagesize on the plain message list.
func TestMessages_SelectIDHeadersAndMaxPageSizeAndMethods(t *testing.T) {
	t.Parallel()
	e, tok := folderSeedSim(t)
	uid := e.seed.Users[0].ID
	for _, p := range []string{"/messages", "/mailFolders/inbox/messages/delta"} {
		resp, body := rawDo(t, e.sim, http.MethodGet, "/v1.0/users/"+uid+p+"?$select=id,internetMessageHeaders", tok, nil)
		if resp.StatusCode != 200 {
			t.Fatalf("%s $select=id,internetMessageHeaders: %d %s", p, resp.StatusCode, body)
		}
		it := valueOf(t, body)[0]
		if _, ok := it["internetMessageHeaders"].([]any); !ok || it["id"] == nil {
			t.Errorf("%s: item %v", p, it)
		}
		if _, ok := it["subject"]; ok {
			t.Errorf("%s: subject returned though not selected", p)
		}
	}
	resp, body := rawDo(t, e.sim, http.MethodGet, "/v1.0/users/"+uid+"/messages?$select=subject", tok, nil, "Prefer: odata.maxpagesize=3")
	if n := len(valueOf(t, body)); n != 3 || resp.Header.Get("Preference-Applied") != "odata.maxpagesize=3" || jsonObject(t, body)["@odata.nextLink"] == nil {
		t.Errorf("maxpagesize=3: %d items, Preference-Applied %q", n, resp.Header.Get("Preference-Applied"))
	}
	// A raw ';' inside a nested option parses (here on /users, which expands manager).
	resp, body = rawDo(t, e.sim, http.MethodGet, "/v1.0/users/"+uid+"?$expand=manager($levels=max;$select=id,displayName)&$select=id", tok, nil)
	if resp.StatusCode == http.StatusBadRequest {
		t.Errorf("raw ';' in $expand: %d %s", resp.StatusCode, body)
	}
	// (POST creates a folder: graph_mail_write_test.go.)
	for _, m := range []string{http.MethodDelete, http.MethodPut} {
		resp, body := rawDo(t, e.sim, m, "/v1.0/users/"+uid+"/mailFolders", tok, strings.NewReader("{}"), "Content-Type: application/json")
		if resp.StatusCode != http.StatusNotImplemented || !strings.Contains(string(body), "NotImplemented") {
			t.Errorf("%s mailFolders: %d %s, want 501", m, resp.StatusCode, body)
		}
	}
}

// api/message-update.md: writable properties apply, draft-only ones are
// refused on sent mail, unknown ones give 400 and change nothing.
func TestMessages_PatchAppliesWritablePropertiesAndRejectsUnknown(t *testing.T) {
	e := startMailSim(t, 3)
	big := e.seed.Users[0]
	tid := e.creds.TenantID
	if err := e.sim.SetGrantedRoles(tid, e.creds.ClientID, []string{"Mail.ReadWrite", "User.Read.All"}); err != nil {
		t.Fatal(err)
	}
	tok := rawToken(t, e.sim, tid, e.creds.ClientID, e.creds.ClientSecret)
	msgs, _ := e.sim.Mailbox(tid, big.ID, "inbox")
	path := "/v1.0/users/" + big.ID + "/messages/" + url.PathEscape(msgs[0].ID)
	patch := `{"isRead":true,"Categories":["Red category"],"importance":"high","inferenceClassification":"other",
		"flag":{"flagStatus":"flagged","dueDateTime":{"dateTime":"2025-07-01T09:00:00.0000000","timeZone":"UTC"}}}`
	resp, body := rawDo(t, e.sim, http.MethodPatch, path, tok, strings.NewReader(patch), "Content-Type: application/json")
	if resp.StatusCode != 200 {
		t.Fatalf("PATCH: %d %s", resp.StatusCode, body)
	}
	m := jsonObject(t, body)
	fl := m["flag"].(map[string]any)
	if m["isRead"] != true || m["importance"] != "high" || m["inferenceClassification"] != "other" ||
		fmt.Sprint(m["categories"]) != "[Red category]" || fl["flagStatus"] != "flagged" || fl["dueDateTime"] == nil {
		t.Errorf("PATCH result = %s", body)
	}
	for _, bad := range []string{`{"nonsense":1}`, `{"isRead":false,"receivedDateTime":"2020-01-01T00:00:00Z"}`, `{"subject":"new"}`, `{"importance":"urgent"}`} {
		resp, body := rawDo(t, e.sim, http.MethodPatch, path, tok, strings.NewReader(bad), "Content-Type: application/json")
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("PATCH %s: %d %s, want 400", bad, resp.StatusCode, body)
		}
	}
	after, _ := e.sim.Mailbox(tid, big.ID, "inbox")
	if !after[0].IsRead || after[0].Subject != msgs[0].Subject {
		t.Errorf("a refused PATCH changed the message: %+v", after[0])
	}

	// Through the SDK: the typed client's PATCH round-trips.
	client, _ := e.demoClient(t)
	sel := users.ItemMessagesMessageItemRequestBuilderGetRequestConfiguration{QueryParameters: &users.ItemMessagesMessageItemRequestBuilderGetQueryParameters{Select: []string{"id", "isRead"}}}
	got, err := client.Users().ByUserId(big.ID).Messages().ByMessageId(msgs[0].ID).Get(ctxT(t), &sel)
	if err != nil || !deref(got.GetIsRead()) {
		t.Errorf("SDK get with $select=id,isRead: %v %v", err, got)
	}
}
