package graphsim

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	abstractions "github.com/microsoft/kiota-abstractions-go"
	msgraphcore "github.com/microsoftgraph/msgraph-sdk-go-core"
	"github.com/microsoftgraph/msgraph-sdk-go/models"
	"github.com/microsoftgraph/msgraph-sdk-go/users"
)

// startMailDeltaSim is startMailSim with Mail.ReadWrite added to the app, and
// an app-only token for raw calls.
func startMailDeltaSim(t *testing.T, n int, opts Options) (*simEnv, string) {
	t.Helper()
	sim, err := Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Close() })
	seed, creds := mailSeed(n)
	seed.Apps[0].GrantedRoles = append(seed.Apps[0].GrantedRoles, "Mail.ReadWrite")
	if err := sim.SeedTenant(seed); err != nil {
		t.Fatal(err)
	}
	return &simEnv{sim: sim, seed: seed, creds: creds}, rawToken(t, sim, creds.TenantID, creds.ClientID, creds.ClientSecret)
}

func preferMaxPageSize(n int) *abstractions.RequestHeaders {
	h := abstractions.NewRequestHeaders()
	h.Add("Prefer", fmt.Sprintf("odata.maxpagesize=%d", n))
	return h
}

func removedReason(m models.Messageable) string {
	rm, _ := m.GetAdditionalData()["@removed"].(map[string]any)
	if rm == nil {
		return ""
	}
	r, _ := rm["reason"].(*string)
	return deref(r)
}

// (S19, S20, S21, S27) The SDK's delta() round through the PageIterator with
// Prefer: odata.maxpagesize, then new mail, a read-state change, a delete
// and a move on the deltaLink.
func TestMessagesDelta_SDKMaxPageSizeRoundThenChangesOnDeltaLink(t *testing.T) {
	e, _ := startMailDeltaSim(t, 25, Options{})
	client, _ := e.demoClient(t)
	ctx := ctxT(t)
	big := e.seed.Users[0]
	inbox := client.Users().ByUserId(big.ID).MailFolders().ByMailFolderId("inbox").Messages()
	first, err := inbox.Delta().GetAsDeltaGetResponse(ctx, &users.ItemMailFoldersItemMessagesDeltaRequestBuilderGetRequestConfiguration{
		Headers:         preferMaxPageSize(10),
		QueryParameters: &users.ItemMailFoldersItemMessagesDeltaRequestBuilderGetQueryParameters{Select: []string{"subject", "isRead"}},
	})
	if err != nil {
		t.Fatalf("messages delta(): %v", err)
	}
	if n := len(first.GetValue()); n != 10 || first.GetOdataNextLink() == nil {
		t.Fatalf("first page: %d messages, nextLink %v; want 10 and a nextLink", n, first.GetOdataNextLink())
	}
	it, err := msgraphcore.NewPageIterator[models.Messageable](first, client.GetAdapter(), users.CreateItemMailFoldersItemMessagesDeltaGetResponseFromDiscriminatorValue)
	if err != nil {
		t.Fatal(err)
	}
	it.SetHeaders(preferMaxPageSize(10))
	seen := map[string]bool{}
	if err := it.Iterate(ctx, func(m models.Messageable) bool {
		if m.GetSubject() == nil || m.GetIsRead() == nil || m.GetBody() != nil || m.GetReceivedDateTime() != nil {
			t.Errorf("message %s: want only subject and isRead (plus id)", deref(m.GetId()))
		}
		seen[deref(m.GetId())] = true
		return true
	}); err != nil {
		t.Fatalf("Iterate: %v", err)
	}
	if len(seen) != 25 {
		t.Errorf("initial round listed %d messages, want 25", len(seen))
	}
	deltaLink := deref(it.GetOdataDeltaLink())
	if !strings.Contains(deltaLink, "/messages/delta?$deltatoken=") {
		t.Fatalf("deltaLink = %q", deltaLink)
	}
	pages := requestsTo(e.sim, http.MethodGet, "/v1.0/users/"+big.ID+"/mailFolders")
	if len(pages) != 3 {
		t.Errorf("%d page requests, want 3 (10+10+5)", len(pages))
	}
	for _, p := range pages[1:] {
		if strings.Contains(p.RawQuery, "select") || !strings.Contains(p.RawQuery, "skiptoken") {
			t.Errorf("follow-up page query %q: want only the $skiptoken ($select rides in it)", p.RawQuery)
		}
	}

	// Changes: a PATCH of isRead, new mail by control API and by sendMail,
	// a delete and a move out of the inbox.
	tid := e.creds.TenantID
	mb, _ := e.sim.Mailbox(tid, big.ID, "inbox")
	readID, deletedID, movedID := mb[3].ID, mb[4].ID, mb[5].ID
	patch := models.NewMessage()
	isRead := true
	patch.SetIsRead(&isRead)
	if _, err := client.Users().ByUserId(big.ID).Messages().ByMessageId(readID).Patch(ctx, patch, nil); err != nil {
		t.Fatalf("PATCH isRead: %v", err)
	}
	deliveredID, err := e.sim.DeliverMessage(tid, big.UserPrincipalName, MessageSeed{Subject: "delivered", From: "x@external.example", To: []string{big.Mail}})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.sim.DeleteMessage(tid, big.ID, deletedID); err != nil {
		t.Fatal(err)
	}
	newID, err := e.sim.MoveMessage(tid, big.ID, movedID, "archive")
	if err != nil || newID == movedID {
		t.Fatalf("MoveMessage: %q, %v; want a new id", newID, err)
	}
	send := users.NewItemSendMailPostRequestBody()
	send.SetMessage(newMessage("sent to big", big.Mail))
	if err := client.Users().ByUserId(e.seed.Users[1].ID).SendMail().Post(ctx, send, nil); err != nil {
		t.Fatalf("sendMail: %v", err)
	}

	changes, err := inbox.Delta().WithUrl(deltaLink).GetAsDeltaGetResponse(ctx, &users.ItemMailFoldersItemMessagesDeltaRequestBuilderGetRequestConfiguration{Headers: preferMaxPageSize(50)})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]models.Messageable{}
	for _, m := range changes.GetValue() {
		got[deref(m.GetId())] = m
	}
	if len(got) != 5 {
		t.Errorf("deltaLink returned %d items, want 5 (read, delivered, sent, deleted, moved)", len(got))
	}
	if m := got[readID]; m == nil || !deref(m.GetIsRead()) || m.GetSubject() == nil || m.GetBody() != nil {
		t.Errorf("read-state change not reported as id+isRead (with the first call's $select)")
	}
	if m := got[deliveredID]; m == nil || deref(m.GetSubject()) != "delivered" {
		t.Errorf("delivered message not reported")
	}
	sent := false
	for _, m := range got {
		sent = sent || deref(m.GetSubject()) == "sent to big"
	}
	if !sent {
		t.Errorf("message delivered by sendMail not reported")
	}
	for what, id := range map[string]string{"deleted": deletedID, "moved out": movedID} {
		if m := got[id]; m == nil || removedReason(m) != "deleted" {
			t.Errorf("%s message not reported with @removed reason deleted", what)
		}
	}
	if changes.GetOdataDeltaLink() == nil {
		t.Errorf("change page has no deltaLink")
	}

	// The archive's own round lists the moved message under its new id.
	arch, err := client.Users().ByUserId(big.ID).MailFolders().ByMailFolderId("archive").Messages().Delta().GetAsDeltaGetResponse(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if v := arch.GetValue(); len(v) != 1 || deref(v[0].GetId()) != newID {
		t.Errorf("archive delta = %d items, want the moved message %s", len(v), newID)
	}
}

// (S19, S20, S14, S15) Raw link shapes: nextLinks with $skiptoken and a final
// deltaLink with $deltatoken, absolute on the request's host under /v1.0;
// $select and changeType from the first call hold on every later link.
func TestMessagesDelta_LinkShapesAndFirstCallOptionsRideInTokens(t *testing.T) {
	t.Parallel()
	e, token := startMailDeltaSim(t, 5, Options{})
	big := e.seed.Users[0]
	path := "/v1.0/users/" + big.UserPrincipalName + "/mailFolders/inbox/messages/delta"
	items, pages, dl := deltaRoundRaw(t, e.sim, token, path+"?$select=subject&changeType=created", "Prefer: odata.maxpagesize=2")
	if len(pages) != 3 || len(items) != 5 {
		t.Fatalf("%d pages, %d items; want 3 pages (2,2,1) and 5 items", len(pages), len(items))
	}
	linkBase := e.sim.GraphBaseURL() + "/users/" + big.UserPrincipalName + "/mailFolders('inbox')/messages/delta?"
	for i, p := range pages {
		if p["@odata.context"] != e.sim.URL()+"/v1.0/$metadata#Collection(message)" {
			t.Errorf("page %d @odata.context = %v", i, p["@odata.context"])
		}
		if next, ok := p["@odata.nextLink"].(string); ok && !strings.HasPrefix(next, linkBase+"$skiptoken=") {
			t.Errorf("page %d nextLink = %q, want %s$skiptoken=...", i, next, linkBase)
		}
	}
	if !strings.HasPrefix(dl, linkBase+"$deltatoken=") {
		t.Errorf("deltaLink = %q, want %s$deltatoken=...", dl, linkBase)
	}
	for _, it := range items {
		sameKeys(t, "delta item", it, "@odata.type", "@odata.etag", "id", "subject")
		if it["@odata.type"] != "#microsoft.graph.message" {
			t.Errorf("@odata.type = %v", it["@odata.type"])
		}
	}
	resp, _ := rawDo(t, e.sim, http.MethodGet, path, token, nil, "Prefer: odata.maxpagesize=2")
	if got := resp.Header.Get("Preference-Applied"); got != "odata.maxpagesize=2" {
		t.Errorf("Preference-Applied = %q, want odata.maxpagesize=2", got)
	}
	// delta and delta() are the same function.
	_, a := rawDo(t, e.sim, http.MethodGet, path+"?$select=subject", token, nil)
	_, b := rawDo(t, e.sim, http.MethodGet, path+"()?%24select=subject", token, nil)
	if fmt.Sprint(jsonObject(t, a)["value"]) != fmt.Sprint(jsonObject(t, b)["value"]) {
		t.Errorf("delta and delta() differ:\n%s\n%s", a, b)
	}

	// One deltaLink per changeType, all taken before the changes.
	links := map[string]string{"created": dl}
	for _, ct := range []string{"", "updated", "deleted"} {
		q := ""
		if ct != "" {
			q = "?changeType=" + ct
		}
		_, _, links[ct] = deltaRoundRaw(t, e.sim, token, path+q)
	}
	tid := e.creds.TenantID
	mb, _ := e.sim.Mailbox(tid, big.ID, "inbox")
	newID, err := e.sim.DeliverMessage(tid, big.ID, MessageSeed{Subject: "new one", From: "x@external.example"})
	if err != nil {
		t.Fatal(err)
	}
	resp, pb := rawDo(t, e.sim, http.MethodPatch, "/v1.0/users/"+big.ID+"/mailFolders/inbox/messages/"+mb[0].ID, token,
		strings.NewReader(`{"isRead":true}`), "Content-Type: application/json")
	if resp.StatusCode != http.StatusOK || jsonObject(t, pb)["isRead"] != true {
		t.Fatalf("PATCH isRead: %d %s", resp.StatusCode, pb)
	}
	if err := e.sim.DeleteMessage(tid, big.ID, mb[1].ID); err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{
		"":        {newID, mb[0].ID, mb[1].ID},
		"created": {newID},
		"updated": {mb[0].ID},
		"deleted": {mb[1].ID},
	}
	for ct, ids := range want {
		items, _, _ := deltaRoundRaw(t, e.sim, token, links[ct])
		if got := itemIDs(items); fmt.Sprint(got) != fmt.Sprint(ids) {
			t.Errorf("changeType %q: deltaLink returned %v, want %v", ct, got, ids)
		}
		for _, it := range items {
			switch {
			case it["id"] == mb[1].ID:
				sameKeys(t, "removed item", it, "@odata.type", "id", "@removed")
				if it["@odata.type"] != "#microsoft.graph.message" || fmt.Sprint(it["@removed"]) != "map[reason:deleted]" {
					t.Errorf("removed item = %v", it)
				}
			case ct == "created":
				// $select=subject from the very first call still holds.
				sameKeys(t, "created item", it, "@odata.type", "@odata.etag", "id", "subject")
			case it["id"] == mb[0].ID:
				if it["isRead"] != true {
					t.Errorf("updated item isRead = %v", it["isRead"])
				}
			}
		}
	}
}

// (S22) Unknown and expired tokens, stale skiptokens and forced expiry give
// SyncStateNotFound: 410 by default, 400 when configured.
func TestMessagesDelta_SyncStateNotFoundFor410Or400AndOnDemand(t *testing.T) {
	t.Parallel()
	e, token := startMailDeltaSim(t, 3, Options{})
	big := e.seed.Users[0]
	path := "/v1.0/users/" + big.ID + "/mailFolders/inbox/messages/delta()"
	_, pages, dl := deltaRoundRaw(t, e.sim, token, path, "Prefer: odata.maxpagesize=1")
	staleSkip := pages[0]["@odata.nextLink"].(string)
	check := func(what, link string, status int) {
		t.Helper()
		resp, b := rawDo(t, e.sim, http.MethodGet, link, token, nil)
		er, _ := jsonObject(t, b)["error"].(map[string]any)
		if resp.StatusCode != status || er["code"] != "SyncStateNotFound" || !strings.HasPrefix(fmt.Sprint(er["message"]), "The sync state generation is not found") {
			t.Errorf("%s: %d %s; want %d SyncStateNotFound", what, resp.StatusCode, b, status)
		}
	}
	check("unknown deltatoken", path+"?$deltatoken=bm90LWEtdG9rZW4", 410)
	check("skiptoken of a completed round", staleSkip, 410)
	sentItems := strings.Replace(dl, "mailFolders('inbox')", "mailFolders('sentitems')", 1)
	check("inbox deltatoken on sentitems", sentItems, 410)
	check("another user's deltatoken", strings.Replace(dl, "/users/"+big.ID+"/", "/users/"+e.seed.Users[1].ID+"/", 1), 410)
	if resp, b := rawDo(t, e.sim, http.MethodGet, dl, token, nil); resp.StatusCode != 200 {
		t.Fatalf("valid deltaLink: %d %s", resp.StatusCode, b)
	}

	// Forced expiry, by Go API and by control API; then 400 on demand.
	if err := e.sim.ExpireDeltaTokens(e.creds.TenantID); err != nil {
		t.Fatal(err)
	}
	check("deltaLink after ExpireDeltaTokens", dl, 410)
	_, _, dl = deltaRoundRaw(t, e.sim, token, path)
	controlCall(t, e.sim, http.MethodPost, "/tenants/"+e.creds.TenantID+"/delta/expire", nil, 200)
	controlCall(t, e.sim, http.MethodPost, "/delta/sync-state-status", map[string]any{"status": 400}, 200)
	check("deltaLink after control expire, status 400", dl, 400)
	controlCall(t, e.sim, http.MethodPost, "/delta/sync-state-status", map[string]any{"status": 500}, 400)
	if err := e.sim.SetSyncStateNotFoundStatus(410); err != nil {
		t.Fatal(err)
	}
	check("back to 410", dl, 410)

	if _, err := Start(Options{SyncStateNotFoundStatus: 500}); err == nil {
		t.Errorf("Start accepted SyncStateNotFoundStatus 500")
	}
	e400, token400 := startMailDeltaSim(t, 0, Options{SyncStateNotFoundStatus: 400})
	resp, b := rawDo(t, e400.sim, http.MethodGet, "/v1.0/users/"+big.ID+"/mailFolders/inbox/messages/delta?$skiptoken=nope", token400, nil)
	if resp.StatusCode != 400 || !strings.Contains(string(b), `"SyncStateNotFound"`) {
		t.Errorf("Options 400: %d %s", resp.StatusCode, b)
	}
}

// (S30) Mail.ReadBasic.All callers never get bodies from delta, even when
// they select them.
func TestMessagesDelta_ReadBasicNeverSeesBodies(t *testing.T) {
	t.Parallel()
	e := startDemoSim(t) // the demo app holds Mail.ReadBasic.All
	token := rawToken(t, e.sim, e.creds.TenantID, e.creds.ClientID, e.creds.ClientSecret)
	u := e.seed.Users[4]
	for _, q := range []string{"", "?$select=subject,body,bodyPreview,uniqueBody"} {
		items, _, _ := deltaRoundRaw(t, e.sim, token, "/v1.0/users/"+u.ID+"/mailFolders/inbox/messages/delta"+q)
		if len(items) != seedCount(u, "inbox") {
			t.Errorf("%q: %d items, want %d", q, len(items), seedCount(u, "inbox"))
		}
		for _, it := range items {
			for _, p := range []string{"body", "bodyPreview", "uniqueBody"} {
				if _, ok := it[p]; ok {
					t.Errorf("%q: Mail.ReadBasic.All caller got %s", q, p)
				}
			}
			if it["subject"] == nil {
				t.Errorf("%q: no subject in %v", q, it)
			}
		}
	}
	// PATCH needs Mail.ReadWrite.
	resp, _ := rawDo(t, e.sim, http.MethodPatch, "/v1.0/users/"+u.ID+"/messages/"+url.PathEscape("AAMkAnything-long-enough"), token,
		strings.NewReader(`{"isRead":true}`), "Content-Type: application/json")
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("PATCH without Mail.ReadWrite: %d, want 403", resp.StatusCode)
	}
}

// Mailbox changes through the control API.
func TestControlAPI_DeliverDeleteAndMoveMessages(t *testing.T) {
	t.Parallel()
	e, _ := startMailDeltaSim(t, 2, Options{})
	tid, big := e.creds.TenantID, e.seed.Users[0]
	base := "/tenants/" + tid + "/users/" + big.UserPrincipalName + "/messages"
	out := controlCall(t, e.sim, http.MethodPost, base, MessageSeed{Subject: "by control", From: "a@external.example", ReceivedAt: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}, 200)
	id, _ := out["id"].(string)
	if mb, _ := e.sim.Mailbox(tid, big.ID, "inbox"); len(mb) != 3 || mb[0].ID != id || mb[0].Subject != "by control" {
		t.Fatalf("inbox after control delivery: %+v", mb)
	}
	moved := controlCall(t, e.sim, http.MethodPost, base+"/"+id+"/move", map[string]any{"folder": "junkemail"}, 200)
	newID, _ := moved["id"].(string)
	if junk, _ := e.sim.Mailbox(tid, big.ID, "junkemail"); len(junk) != 1 || junk[0].ID != newID || newID == id {
		t.Errorf("junk after move: %+v (new id %q)", junk, newID)
	}
	controlCall(t, e.sim, http.MethodDelete, base+"/"+newID, nil, 200)
	controlCall(t, e.sim, http.MethodDelete, base+"/"+newID, nil, 404)
	controlCall(t, e.sim, http.MethodPost, base, MessageSeed{Subject: "x", Folder: "nowhere"}, 400)
	controlCall(t, e.sim, http.MethodPost, "/tenants/"+tid+"/delta/expire", nil, 200)
	controlCall(t, e.sim, http.MethodPost, "/tenants/nope/delta/expire", nil, 404)
	if mb, _ := e.sim.Mailbox(tid, big.ID, ""); len(mb) != 2 {
		t.Errorf("mailbox has %d messages, want the 2 seeded", len(mb))
	}
}
