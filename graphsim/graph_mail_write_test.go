package graphsim

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/microsoftgraph/msgraph-sdk-go/models"
	"github.com/microsoftgraph/msgraph-sdk-go/models/odataerrors"
	"github.com/microsoftgraph/msgraph-sdk-go/users"
)

// Mail writes: drafts, send, reply/replyAll/forward and their drafts, move,
// copy, delete, folder creation (S24-S29) and the DropResponse fault.

const (
	mwPropID  = "String {66f5a359-4659-4830-9070-00047ec6ac6e} Name OutlookflowRunId"
	mwPropIDu = "string {66F5A359-4659-4830-9070-00047EC6AC6E} name OutlookflowRunId" // type, GUID and keyword in other cases
)

// startWriteSim is the mail test tenant (big with n inbox messages, ann,
// bob) whose app holds roles (default Mail.ReadWrite, Mail.Send,
// User.Read.All), and a raw token for it.
func startWriteSim(t *testing.T, n int, roles ...string) (*simEnv, string) {
	t.Helper()
	e := startMailSim(t, n)
	if len(roles) == 0 {
		roles = []string{"Mail.ReadWrite", "Mail.Send", "User.Read.All"}
	}
	if err := e.sim.SetGrantedRoles(e.creds.TenantID, e.creds.ClientID, roles); err != nil {
		t.Fatal(err)
	}
	return e, rawToken(t, e.sim, e.creds.TenantID, e.creds.ClientID, e.creds.ClientSecret)
}

func mwJSON(t *testing.T, e *simEnv, method, path, tok, body string) (*http.Response, []byte) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	return rawDo(t, e.sim, method, path, tok, rd, "Content-Type: application/json")
}

func mwErrCode(t *testing.T, body []byte) string {
	t.Helper()
	ev, _ := jsonObject(t, body)["error"].(map[string]any)
	code, _ := ev["code"].(string)
	return code
}

func mwMailbox(t *testing.T, e *simEnv, user, folder string) []Message {
	t.Helper()
	msgs, err := e.sim.Mailbox(e.creds.TenantID, user, folder)
	if err != nil {
		t.Fatal(err)
	}
	return msgs
}

func mwExtProp(id, value string) models.SingleValueLegacyExtendedPropertyable {
	p := models.NewSingleValueLegacyExtendedProperty()
	p.SetId(&id)
	p.SetValue(&value)
	return p
}

// mwDeltaRound follows a delta link through its pages and returns the items
// and the next deltaLink.
func mwDeltaRound(t *testing.T, e *simEnv, tok, link string) ([]map[string]any, string) {
	t.Helper()
	var items []map[string]any
	for link != "" {
		resp, body := rawDo(t, e.sim, http.MethodGet, link, tok, nil)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("delta %s: %d %s", link, resp.StatusCode, body)
		}
		m := jsonObject(t, body)
		for _, v := range m["value"].([]any) {
			items = append(items, v.(map[string]any))
		}
		if next, ok := m["@odata.nextLink"].(string); ok {
			link = next
			continue
		}
		dl, _ := m["@odata.deltaLink"].(string)
		return items, dl
	}
	return items, ""
}

// mwDeltaIDs splits a delta round's items into present and removed ids.
func mwDeltaIDs(items []map[string]any) (present, removed map[string]bool) {
	present, removed = map[string]bool{}, map[string]bool{}
	for _, it := range items {
		id, _ := it["id"].(string)
		if _, gone := it["@removed"]; gone {
			removed[id] = true
		} else {
			present[id] = true
		}
	}
	return present, removed
}

// (S28, S30 for extended properties) A draft created through the SDK with
// an extended property, found by $filter and $expand, then sent: it leaves
// Drafts, Sent Items holds a copy with a new id that keeps the property,
// the recipient's inbox gets it, and the old id answers 404.
func TestDrafts_SDKCreateWithExtendedPropertyFilterExpandThenSend(t *testing.T) {
	e, _ := startWriteSim(t, 0)
	ann, bob := e.seed.Users[1], e.seed.Users[2]
	client, _ := e.demoClient(t)
	ctx := ctxT(t)

	msg := newMessage("Quarterly draft", bob.Mail)
	msg.SetSingleValueExtendedProperties([]models.SingleValueLegacyExtendedPropertyable{mwExtProp(mwPropID, "RUN-42")})
	created, err := client.Users().ByUserId(ann.ID).Messages().Post(ctx, msg, nil)
	if err != nil {
		t.Fatalf("create draft: %v", err)
	}
	draftID := deref(created.GetId())
	drafts := mwMailbox(t, e, ann.ID, "drafts")
	if draftID == "" || !deref(created.GetIsDraft()) || len(drafts) != 1 || drafts[0].ID != draftID ||
		deref(created.GetParentFolderId()) != drafts[0].FolderID {
		t.Fatalf("created draft %q isDraft=%v parent=%q; drafts folder = %+v", draftID, deref(created.GetIsDraft()), deref(created.GetParentFolderId()), drafts)
	}
	if len(created.GetSingleValueExtendedProperties()) != 0 {
		t.Errorf("the create response carried extended properties; the docs say it does not")
	}
	if got := created.GetToRecipients(); len(got) != 1 || deref(got[0].GetEmailAddress().GetName()) != bob.DisplayName {
		t.Errorf("toRecipients not resolved to the directory name: %v", got)
	}
	imid := deref(created.GetInternetMessageId())

	// $expand on the draft (id in other cases for type and GUID).
	one, err := client.Users().ByUserId(ann.ID).Messages().ByMessageId(draftID).Get(ctx, &users.ItemMessagesMessageItemRequestBuilderGetRequestConfiguration{
		QueryParameters: &users.ItemMessagesMessageItemRequestBuilderGetQueryParameters{Expand: []string{"singleValueExtendedProperties($filter=id eq '" + mwPropIDu + "')"}},
	})
	if err != nil {
		t.Fatalf("get with $expand: %v", err)
	}
	if eps := one.GetSingleValueExtendedProperties(); len(eps) != 1 || deref(eps[0].GetValue()) != "RUN-42" || deref(eps[0].GetId()) != mwPropID {
		t.Errorf("expanded properties = %v, want the one set", eps)
	}
	// The documented $filter form finds it; the list does not carry the property.
	filter := "singleValueExtendedProperties/Any(ep: ep/id eq '" + mwPropIDu + "' and ep/value eq 'run-42')"
	page, err := client.Users().ByUserId(ann.ID).Messages().Get(ctx, &users.ItemMessagesRequestBuilderGetRequestConfiguration{
		QueryParameters: &users.ItemMessagesRequestBuilderGetQueryParameters{Filter: &filter},
	})
	if err != nil {
		t.Fatalf("list with extended-property $filter: %v", err)
	}
	if v := page.GetValue(); len(v) != 1 || deref(v[0].GetId()) != draftID || len(v[0].GetSingleValueExtendedProperties()) != 0 {
		t.Fatalf("filtered list = %d messages, want the draft without its property", len(v))
	}

	if err := client.Users().ByUserId(ann.ID).Messages().ByMessageId(draftID).Send().Post(ctx, nil); err != nil {
		t.Fatalf("send draft: %v", err)
	}
	if d := mwMailbox(t, e, ann.ID, "drafts"); len(d) != 0 {
		t.Errorf("drafts after send = %+v, want empty", d)
	}
	_, err = client.Users().ByUserId(ann.ID).Messages().ByMessageId(draftID).Get(ctx, nil)
	if status, code, _, _ := odataError(t, err); status != http.StatusNotFound || code != "ErrorItemNotFound" {
		t.Errorf("GET the sent draft's old id: %d %s, want 404 ErrorItemNotFound", status, code)
	}
	sent := mwMailbox(t, e, ann.ID, "sentitems")
	if len(sent) != 1 || sent[0].ID == draftID || sent[0].Subject != "Quarterly draft" {
		t.Fatalf("sent items = %+v, want one copy with a new id", sent)
	}
	got, err := client.Users().ByUserId(ann.ID).Messages().ByMessageId(sent[0].ID).Get(ctx, &users.ItemMessagesMessageItemRequestBuilderGetRequestConfiguration{
		QueryParameters: &users.ItemMessagesMessageItemRequestBuilderGetQueryParameters{Expand: []string{"singleValueExtendedProperties($filter=id eq '" + mwPropID + "')"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if deref(got.GetIsDraft()) || got.GetSentDateTime() == nil || deref(got.GetInternetMessageId()) != imid ||
		deref(got.GetFrom().GetEmailAddress().GetAddress()) != ann.Mail {
		t.Errorf("sent copy isDraft=%v sent=%v imid=%q from=%v", deref(got.GetIsDraft()), got.GetSentDateTime(), deref(got.GetInternetMessageId()), got.GetFrom())
	}
	if eps := got.GetSingleValueExtendedProperties(); len(eps) != 1 || deref(eps[0].GetValue()) != "RUN-42" {
		t.Errorf("sent copy lost its extended property: %v", eps)
	}
	// The filter now finds the sent copy, in the mailbox and in sentitems.
	inSent, err := client.Users().ByUserId(ann.ID).MailFolders().ByMailFolderId("sentitems").Messages().Get(ctx, &users.ItemMailFoldersItemMessagesRequestBuilderGetRequestConfiguration{
		QueryParameters: &users.ItemMailFoldersItemMessagesRequestBuilderGetQueryParameters{Filter: &filter},
	})
	if err != nil || len(inSent.GetValue()) != 1 || deref(inSent.GetValue()[0].GetId()) != sent[0].ID {
		t.Errorf("filter in sentitems: %v, %d results", err, len(inSent.GetValue()))
	}
	byIMID := "internetMessageId eq '" + imid + "'"
	found, err := client.Users().ByUserId(ann.ID).Messages().Get(ctx, &users.ItemMessagesRequestBuilderGetRequestConfiguration{
		QueryParameters: &users.ItemMessagesRequestBuilderGetQueryParameters{Filter: &byIMID},
	})
	if err != nil || len(found.GetValue()) != 1 || deref(found.GetValue()[0].GetId()) != sent[0].ID {
		t.Errorf("internetMessageId filter: %v, %d results", err, len(found.GetValue()))
	}
	inbox := mwMailbox(t, e, bob.ID, "inbox")
	if len(inbox) != 1 || inbox[0].Subject != "Quarterly draft" || inbox[0].From != ann.Mail || inbox[0].IsRead {
		t.Errorf("recipient inbox = %+v", inbox)
	}
	// Sending the old id again: it is gone.
	err = client.Users().ByUserId(ann.ID).Messages().ByMessageId(draftID).Send().Post(ctx, nil)
	if status, code, _, _ := odataError(t, err); status != http.StatusNotFound || code != "ErrorItemNotFound" {
		t.Errorf("re-send: %d %s, want 404 ErrorItemNotFound", status, code)
	}
}

// (S28) The documented create example, a draft in a given folder, and the
// errors: non-draft send, no recipients, bad headers, bad property ids.
func TestDrafts_RawCreateShapeFolderTargetAndSendErrors(t *testing.T) {
	t.Parallel()
	e, tok := startWriteSim(t, 2)
	big, ann, bob := e.seed.Users[0], e.seed.Users[1], e.seed.Users[2]
	base := "/v1.0/users/" + ann.ID

	doc := `{"subject":"Did you see last night's game?","importance":"Low","body":{"contentType":"HTML","content":"They were <b>awesome</b>!"},
		"toRecipients":[{"emailAddress":{"address":"` + bob.Mail + `"}}],
		"internetMessageHeaders":[{"name":"x-custom-header-group-name","value":"Washington"}]}`
	resp, body := mwJSON(t, e, http.MethodPost, base+"/messages", tok, doc)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("create: %d %s", resp.StatusCode, body)
	}
	m := jsonObject(t, body)
	if want := e.sim.GraphBaseURL() + "/$metadata#users('" + ann.ID + "')/messages/$entity"; m["@odata.context"] != want {
		t.Errorf("@odata.context = %v, want %s", m["@odata.context"], want)
	}
	to := m["toRecipients"].([]any)[0].(map[string]any)["emailAddress"].(map[string]any)
	if m["isDraft"] != true || m["isRead"] != true || m["importance"] != "low" || m["subject"] != "Did you see last night's game?" ||
		to["name"] != bob.DisplayName || m["bodyPreview"] != "They were awesome!" || m["id"] == "" {
		t.Errorf("created draft = %s", body)
	}
	if _, ok := m["singleValueExtendedProperties"]; ok {
		t.Errorf("create response has singleValueExtendedProperties")
	}
	draftID := m["id"].(string)
	_, body = rawDo(t, e.sim, http.MethodGet, base+"/messages/"+url.PathEscape(draftID)+"?$select=internetMessageHeaders", tok, nil)
	if !strings.Contains(string(body), `"x-custom-header-group-name"`) {
		t.Errorf("custom header not kept: %s", body)
	}

	// In a given folder.
	resp, body = mwJSON(t, e, http.MethodPost, base+"/mailFolders/archive/messages", tok, `{"subject":"filed"}`)
	archive := mwMailbox(t, e, ann.ID, "archive")
	if resp.StatusCode != http.StatusCreated || len(archive) != 1 || jsonObject(t, body)["parentFolderId"] != archive[0].FolderID {
		t.Errorf("create in archive: %d %s; archive = %+v", resp.StatusCode, body, archive)
	}

	// A draft without recipients is not sent.
	resp, body = mwJSON(t, e, http.MethodPost, base+"/messages/"+url.PathEscape(archive[0].ID)+"/send", tok, "")
	if resp.StatusCode != http.StatusBadRequest || mwErrCode(t, body) != "ErrorInvalidRecipients" || len(mwMailbox(t, e, ann.ID, "archive")) != 1 {
		t.Errorf("send without recipients: %d %s", resp.StatusCode, body)
	}
	// Sending a message that is not a draft.
	inbox := mwMailbox(t, e, big.ID, "inbox")
	resp, body = mwJSON(t, e, http.MethodPost, "/v1.0/users/"+big.ID+"/messages/"+url.PathEscape(inbox[0].ID)+"/send", tok, "")
	if resp.StatusCode != http.StatusNotFound || mwErrCode(t, body) != "ErrorItemNotFound" {
		t.Errorf("send a received message: %d %s, want 404 ErrorItemNotFound", resp.StatusCode, body)
	}
	if after := mwMailbox(t, e, big.ID, ""); len(after) != len(inbox) {
		t.Errorf("refused send changed the mailbox: %d messages, want %d", len(after), len(inbox))
	}
	// The draft is sent: 202, empty body.
	resp, body = mwJSON(t, e, http.MethodPost, base+"/messages/"+url.PathEscape(draftID)+"/send", tok, "")
	if resp.StatusCode != http.StatusAccepted || len(body) != 0 || resp.Header.Get("request-id") == "" {
		t.Errorf("send: %d %q", resp.StatusCode, body)
	}
	if got := mwMailbox(t, e, bob.ID, "inbox"); len(got) != 1 || !strings.Contains(got[0].BodyText, "awesome") {
		t.Errorf("bob's inbox = %+v", got)
	}

	for _, bad := range []struct{ body, code string }{
		{`{"internetMessageHeaders":[{"name":"Subject","value":"x"}]}`, "InvalidInternetMessageHeader"},
		{`{"singleValueExtendedProperties":[{"id":"Strung {66f5a359-4659-4830-9070-00047ec6ac6e} Name X","value":"v"}]}`, "ErrorInvalidExtendedProperty"},
		{`{"singleValueExtendedProperties":[{"id":"Integer {66f5a359-4659-4830-9070-00047ec6ac6e} Name X","value":"twelve"}]}`, "ErrorInvalidExtendedPropertyValue"},
		{`{"nonsense":true}`, "RequestBodyRead"},
	} {
		before := len(mwMailbox(t, e, ann.ID, "drafts"))
		resp, body := mwJSON(t, e, http.MethodPost, base+"/messages", tok, bad.body)
		if resp.StatusCode != http.StatusBadRequest || mwErrCode(t, body) != bad.code || len(mwMailbox(t, e, ann.ID, "drafts")) != before {
			t.Errorf("create %s: %d %s, want 400 %s and no draft", bad.body, resp.StatusCode, body, bad.code)
		}
	}
}

// (S25) createReply through the SDK, edited and sent; reply goes to replyTo
// when set; replyAll reaches everyone but the replier; forward's rules.
func TestReplies_SDKCreateReplyThenSendAndReplyReplyAllForwardRules(t *testing.T) {
	e, tok := startWriteSim(t, 0)
	big, ann, bob := e.seed.Users[0], e.seed.Users[1], e.seed.Users[2]
	client, _ := e.demoClient(t)
	ctx := ctxT(t)

	// Bob writes to Ann, cc Big, with a replyTo of Big.
	raw := `{"subject":"Budget","body":{"contentType":"text","content":"Numbers attached."},
		"toRecipients":[{"emailAddress":{"address":"` + ann.Mail + `"}}],"ccRecipients":[{"emailAddress":{"address":"` + big.Mail + `"}}]}`
	resp, body := mwJSON(t, e, http.MethodPost, "/v1.0/users/"+bob.ID+"/messages", tok, raw)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("bob's draft: %d %s", resp.StatusCode, body)
	}
	bobDraft := jsonObject(t, body)["id"].(string)
	if err := client.Users().ByUserId(bob.ID).Messages().ByMessageId(bobDraft).Send().Post(ctx, nil); err != nil {
		t.Fatal(err)
	}
	annInbox := mwMailbox(t, e, ann.ID, "inbox")
	if len(annInbox) != 1 {
		t.Fatalf("ann's inbox = %+v", annInbox)
	}
	orig := annInbox[0]
	origMsg, err := client.Users().ByUserId(ann.ID).Messages().ByMessageId(orig.ID).Get(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	conv := deref(origMsg.GetConversationId())

	// createReply with a comment and an extended property.
	crb := users.NewItemMessagesItemCreateReplyPostRequestBody()
	comment := "Thanks, looks good."
	crb.SetComment(&comment)
	edit := models.NewMessage()
	edit.SetSingleValueExtendedProperties([]models.SingleValueLegacyExtendedPropertyable{mwExtProp(mwPropID, "REPLY-1")})
	crb.SetMessage(edit)
	draft, err := client.Users().ByUserId(ann.ID).Messages().ByMessageId(orig.ID).CreateReply().Post(ctx, crb, nil)
	if err != nil {
		t.Fatalf("createReply: %v", err)
	}
	if !deref(draft.GetIsDraft()) || deref(draft.GetSubject()) != "RE: Budget" || deref(draft.GetConversationId()) != conv ||
		len(draft.GetToRecipients()) != 1 || deref(draft.GetToRecipients()[0].GetEmailAddress().GetAddress()) != bob.Mail ||
		!strings.Contains(deref(draft.GetBody().GetContent()), comment) || !strings.Contains(deref(draft.GetBody().GetContent()), "Numbers attached.") {
		t.Fatalf("reply draft: isDraft=%v subject=%q conv=%v to=%v body=%q", deref(draft.GetIsDraft()), deref(draft.GetSubject()),
			deref(draft.GetConversationId()) == conv, draft.GetToRecipients(), deref(draft.GetBody().GetContent()))
	}
	if d := mwMailbox(t, e, ann.ID, "drafts"); len(d) != 1 || d[0].ID != deref(draft.GetId()) {
		t.Errorf("ann's drafts = %+v", d)
	}
	if err := client.Users().ByUserId(ann.ID).Messages().ByMessageId(deref(draft.GetId())).Send().Post(ctx, nil); err != nil {
		t.Fatalf("send reply draft: %v", err)
	}
	bobInbox := mwMailbox(t, e, bob.ID, "inbox")
	if len(bobInbox) != 1 || bobInbox[0].Subject != "RE: Budget" || bobInbox[0].From != ann.Mail {
		t.Fatalf("bob's inbox = %+v", bobInbox)
	}
	bobCopy, _ := client.Users().ByUserId(bob.ID).Messages().ByMessageId(bobInbox[0].ID).Get(ctx, nil)
	if deref(bobCopy.GetConversationId()) != conv {
		t.Errorf("reply left the conversation")
	}
	filter := "singleValueExtendedProperties/any(ep: ep/id eq '" + mwPropID + "' and startswith(ep/value, 'REPLY'))"
	_, body = rawDo(t, e.sim, http.MethodGet, "/v1.0/users/"+ann.ID+"/mailFolders/sentitems/messages?$filter="+url.QueryEscape(filter), tok, nil)
	if v := valueOf(t, body); len(v) != 1 || v[0]["subject"] != "RE: Budget" {
		t.Errorf("sent reply by extended property: %s", body)
	}

	// reply: 202 with an empty body; comment and message.body together: 400.
	replyPath := "/v1.0/users/" + ann.ID + "/messages/" + url.PathEscape(orig.ID)
	resp, body = mwJSON(t, e, http.MethodPost, replyPath+"/reply", tok, `{"comment":"a","message":{"body":{"contentType":"text","content":"b"}}}`)
	if resp.StatusCode != http.StatusBadRequest || len(mwMailbox(t, e, bob.ID, "inbox")) != 1 {
		t.Errorf("reply with comment and body: %d %s, want 400 and nothing sent", resp.StatusCode, body)
	}
	resp, body = mwJSON(t, e, http.MethodPost, replyPath+"/reply", tok, `{"comment":"Once more."}`)
	if resp.StatusCode != http.StatusAccepted || len(body) != 0 || len(mwMailbox(t, e, bob.ID, "inbox")) != 2 {
		t.Errorf("reply: %d %q, bob has %d messages", resp.StatusCode, body, len(mwMailbox(t, e, bob.ID, "inbox")))
	}
	if sent := mwMailbox(t, e, ann.ID, "sentitems"); len(sent) != 2 {
		t.Errorf("ann's sent items = %d, want 2", len(sent))
	}

	// replyTo wins over from.
	resp, _ = mwJSON(t, e, http.MethodPost, "/v1.0/users/"+bob.ID+"/messages", tok,
		`{"subject":"Routing","toRecipients":[{"emailAddress":{"address":"`+ann.Mail+`"}}],"replyTo":[{"emailAddress":{"address":"`+big.Mail+`"}}]}`)
	if resp.StatusCode != http.StatusCreated {
		t.Fatal(resp.Status)
	}
	d := mwMailbox(t, e, bob.ID, "drafts")
	if r, _ := mwJSON(t, e, http.MethodPost, "/v1.0/users/"+bob.ID+"/messages/"+url.PathEscape(d[0].ID)+"/send", tok, ""); r.StatusCode != http.StatusAccepted {
		t.Fatal(r.Status)
	}
	routing := mwMailbox(t, e, ann.ID, "inbox")[0]
	bigBefore, bobBefore := len(mwMailbox(t, e, big.ID, "inbox")), len(mwMailbox(t, e, bob.ID, "inbox"))
	resp, body = mwJSON(t, e, http.MethodPost, "/v1.0/users/"+ann.ID+"/messages/"+url.PathEscape(routing.ID)+"/reply", tok, `{"comment":"ok"}`)
	if resp.StatusCode != http.StatusAccepted || len(mwMailbox(t, e, big.ID, "inbox")) != bigBefore+1 || len(mwMailbox(t, e, bob.ID, "inbox")) != bobBefore {
		t.Errorf("reply to a message with replyTo: %d %s; big %d->%d, bob %d->%d", resp.StatusCode, body,
			bigBefore, len(mwMailbox(t, e, big.ID, "inbox")), bobBefore, len(mwMailbox(t, e, bob.ID, "inbox")))
	}

	// replyAll: bob (from) and big (cc), not ann herself.
	bigBefore, bobBefore = len(mwMailbox(t, e, big.ID, "inbox")), len(mwMailbox(t, e, bob.ID, "inbox"))
	annBefore := len(mwMailbox(t, e, ann.ID, "inbox"))
	resp, body = mwJSON(t, e, http.MethodPost, replyPath+"/replyAll", tok, `{"comment":"all"}`)
	if resp.StatusCode != http.StatusAccepted || len(mwMailbox(t, e, big.ID, "inbox")) != bigBefore+1 ||
		len(mwMailbox(t, e, bob.ID, "inbox")) != bobBefore+1 || len(mwMailbox(t, e, ann.ID, "inbox")) != annBefore {
		t.Errorf("replyAll: %d %s", resp.StatusCode, body)
	}

	// forward: toRecipients in both places or neither is 400.
	for _, bad := range []string{
		`{"comment":"fyi"}`,
		`{"comment":"fyi","toRecipients":[{"emailAddress":{"address":"x@external.example"}}],"message":{"toRecipients":[{"emailAddress":{"address":"y@external.example"}}]}}`,
	} {
		resp, body := mwJSON(t, e, http.MethodPost, replyPath+"/forward", tok, bad)
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("forward %s: %d %s, want 400", bad, resp.StatusCode, body)
		}
	}
	fb := users.NewItemMessagesItemForwardPostRequestBody()
	fyi := "FYI"
	fb.SetComment(&fyi)
	rc := models.NewRecipient()
	ea := models.NewEmailAddress()
	ea.SetAddress(&big.Mail)
	rc.SetEmailAddress(ea)
	fb.SetToRecipients([]models.Recipientable{rc})
	bigBefore = len(mwMailbox(t, e, big.ID, "inbox"))
	if err := client.Users().ByUserId(ann.ID).Messages().ByMessageId(orig.ID).Forward().Post(ctx, fb, nil); err != nil {
		t.Fatalf("SDK forward: %v", err)
	}
	bigInbox := mwMailbox(t, e, big.ID, "inbox")
	if len(bigInbox) != bigBefore+1 || bigInbox[0].Subject != "FW: Budget" || !strings.Contains(bigInbox[0].BodyText, "FYI") {
		t.Errorf("forwarded message = %+v", bigInbox)
	}
	// createForward with the recipients in message: a draft.
	resp, body = mwJSON(t, e, http.MethodPost, replyPath+"/createForward", tok, `{"message":{"toRecipients":[{"emailAddress":{"address":"`+bob.Mail+`"}}]}}`)
	if m := jsonObject(t, body); resp.StatusCode != http.StatusCreated || m["isDraft"] != true || m["subject"] != "FW: Budget" {
		t.Errorf("createForward: %d %s", resp.StatusCode, body)
	}
	// createReplyAll without a body: a draft to bob, cc big.
	resp, body = mwJSON(t, e, http.MethodPost, replyPath+"/createReplyAll", tok, "")
	m := jsonObject(t, body)
	if resp.StatusCode != http.StatusCreated || len(m["toRecipients"].([]any)) != 1 || len(m["ccRecipients"].([]any)) != 1 {
		t.Errorf("createReplyAll: %d %s", resp.StatusCode, body)
	}
}

// (S26) move through the SDK gives a new id and the old one 404s; copy keeps
// the original; a display name as destination is malformed.
func TestMoveCopy_SDKMoveNewIDOldID404CopyAndBadDestinations(t *testing.T) {
	e, tok := startWriteSim(t, 3)
	big := e.seed.Users[0]
	client, _ := e.demoClient(t)
	ctx := ctxT(t)
	inbox := mwMailbox(t, e, big.ID, "inbox")

	mb := users.NewItemMessagesItemMovePostRequestBody()
	dest := "archive"
	mb.SetDestinationId(&dest)
	moved, err := client.Users().ByUserId(big.ID).Messages().ByMessageId(inbox[0].ID).Move().Post(ctx, mb, nil)
	if err != nil {
		t.Fatalf("move: %v", err)
	}
	archive := mwMailbox(t, e, big.ID, "archive")
	if id := deref(moved.GetId()); id == "" || id == inbox[0].ID || len(archive) != 1 || archive[0].ID != id ||
		deref(moved.GetParentFolderId()) != archive[0].FolderID || deref(moved.GetSubject()) != inbox[0].Subject {
		t.Fatalf("moved = %q in %q; archive = %+v", id, deref(moved.GetParentFolderId()), archive)
	}
	_, err = client.Users().ByUserId(big.ID).Messages().ByMessageId(inbox[0].ID).Get(ctx, nil)
	if status, code, _, _ := odataError(t, err); status != http.StatusNotFound || code != "ErrorItemNotFound" {
		t.Errorf("old id after move: %d %s, want 404 ErrorItemNotFound", status, code)
	}
	if n := len(mwMailbox(t, e, big.ID, "inbox")); n != 2 {
		t.Errorf("inbox holds %d after the move, want 2", n)
	}

	// copy: 201, a new id, the original stays.
	resp, body := mwJSON(t, e, http.MethodPost, "/v1.0/users/"+big.ID+"/mailFolders/inbox/messages/"+url.PathEscape(inbox[1].ID)+"/copy", tok, `{"DestinationId":"deleteditems"}`)
	c := jsonObject(t, body)
	del := mwMailbox(t, e, big.ID, "deleteditems")
	if resp.StatusCode != http.StatusCreated || c["id"] == inbox[1].ID || len(del) != 1 || del[0].ID != c["id"] || c["subject"] != inbox[1].Subject {
		t.Errorf("copy: %d %s; deleted items %+v", resp.StatusCode, body, del)
	}
	if n := len(mwMailbox(t, e, big.ID, "inbox")); n != 2 {
		t.Errorf("copy removed the original: inbox %d", n)
	}

	// A custom folder by id works; by display name it is malformed.
	resp, body = mwJSON(t, e, http.MethodPost, "/v1.0/users/"+big.ID+"/mailFolders", tok, `{"displayName":"Receipts"}`)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("create folder: %d %s", resp.StatusCode, body)
	}
	receipts := jsonObject(t, body)["id"].(string)
	path := "/v1.0/users/" + big.ID + "/messages/" + url.PathEscape(inbox[1].ID) + "/move"
	resp, body = mwJSON(t, e, http.MethodPost, path, tok, `{"destinationId":"Receipts"}`)
	if resp.StatusCode != http.StatusBadRequest || mwErrCode(t, body) != "ErrorInvalidIdMalformed" {
		t.Errorf("move to a display name: %d %s, want 400 ErrorInvalidIdMalformed", resp.StatusCode, body)
	}
	resp, body = mwJSON(t, e, http.MethodPost, path, tok, `{"destinationId":"AAMkAGVmMDEzMTM4LTZmYWUtNDdkNC1hMDZiLTU1OGY5OTZhYmY4OAAuAAAAAAAiQ8W967B7TKBjgx9rVEURAQAiIsqMbYjsT5e-T7KzowPTAAAAAAEMAAA="}`)
	if resp.StatusCode != http.StatusNotFound || mwErrCode(t, body) != "ErrorItemNotFound" {
		t.Errorf("move to an unknown folder id: %d %s, want 404 ErrorItemNotFound", resp.StatusCode, body)
	}
	resp, body = mwJSON(t, e, http.MethodPost, path, tok, `{"destinationId":"`+receipts+`"}`)
	if got := mwMailbox(t, e, big.ID, receipts); resp.StatusCode != http.StatusCreated || len(got) != 1 || got[0].ID != jsonObject(t, body)["id"] {
		t.Errorf("move to a custom folder id: %d %s", resp.StatusCode, body)
	}
}

// DELETE answers 204 and the message is gone, not in Deleted Items (Graph
// soft-deletes into Recoverable Items); the folder's delta reports it.
func TestDeleteMessage_204GoneNotInDeletedItemsAndRemovedOnDelta(t *testing.T) {
	t.Parallel()
	e, tok := startWriteSim(t, 3)
	big := e.seed.Users[0]
	_, link := mwDeltaRound(t, e, tok, "/v1.0/users/"+big.ID+"/mailFolders/inbox/messages/delta")
	inbox := mwMailbox(t, e, big.ID, "inbox")
	path := "/v1.0/users/" + big.ID + "/messages/" + url.PathEscape(inbox[0].ID)
	resp, body := rawDo(t, e.sim, http.MethodDelete, path, tok, nil)
	if resp.StatusCode != http.StatusNoContent || len(body) != 0 {
		t.Fatalf("DELETE: %d %q, want 204", resp.StatusCode, body)
	}
	if resp, body := rawDo(t, e.sim, http.MethodGet, path, tok, nil); resp.StatusCode != http.StatusNotFound || mwErrCode(t, body) != "ErrorItemNotFound" {
		t.Errorf("GET after DELETE: %d %s", resp.StatusCode, body)
	}
	if d := mwMailbox(t, e, big.ID, "deleteditems"); len(d) != 0 || len(mwMailbox(t, e, big.ID, "inbox")) != 2 {
		t.Errorf("deleted items = %+v", d)
	}
	items, _ := mwDeltaRound(t, e, tok, link)
	if _, removed := mwDeltaIDs(items); len(items) != 1 || !removed[inbox[0].ID] {
		t.Errorf("delta after DELETE = %v, want the id @removed", items)
	}
	if resp, _ := rawDo(t, e.sim, http.MethodDelete, path, tok, nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("second DELETE: %d, want 404", resp.StatusCode)
	}
}

// (S29) Create top-level and child folders (SDK and raw), 409 for a taken
// name under the same parent, and the new folders on mailFolders/delta.
func TestMailFolders_CreateTopLevelAndChild409ForTakenNameAndOnDelta(t *testing.T) {
	e, tok := startWriteSim(t, 0)
	big := e.seed.Users[0]
	client, _ := e.demoClient(t)
	ctx := ctxT(t)
	_, link := mwDeltaRound(t, e, tok, "/v1.0/users/"+big.ID+"/mailFolders/delta")

	resp, body := mwJSON(t, e, http.MethodPost, "/v1.0/users/"+big.ID+"/mailFolders", tok, `{"displayName":"Clutter","isHidden":true}`)
	f := jsonObject(t, body)
	_, ib := rawDo(t, e.sim, http.MethodGet, "/v1.0/users/"+big.ID+"/mailFolders/inbox", tok, nil)
	inbox := jsonObject(t, ib)
	if resp.StatusCode != http.StatusCreated || f["displayName"] != "Clutter" || f["isHidden"] != true || f["parentFolderId"] != inbox["parentFolderId"] ||
		f["totalItemCount"] != float64(0) || f["childFolderCount"] != float64(0) || f["id"] == "" ||
		f["@odata.context"] != e.sim.GraphBaseURL()+"/$metadata#users('"+big.ID+"')/mailFolders/$entity" {
		t.Fatalf("create: %d %s", resp.StatusCode, body)
	}
	resp, body = mwJSON(t, e, http.MethodPost, "/v1.0/users/"+big.ID+"/mailFolders", tok, `{"displayName":"clutter"}`)
	if resp.StatusCode != http.StatusConflict || mwErrCode(t, body) != "ErrorFolderExists" {
		t.Errorf("duplicate: %d %s, want 409 ErrorFolderExists", resp.StatusCode, body)
	}
	if resp, body := mwJSON(t, e, http.MethodPost, "/v1.0/users/"+big.ID+"/mailFolders", tok, `{"displayName":"Inbox"}`); resp.StatusCode != http.StatusConflict {
		t.Errorf("a top-level folder named like Inbox: %d %s, want 409", resp.StatusCode, body)
	}

	name := "Receipts"
	nf := models.NewMailFolder()
	nf.SetDisplayName(&name)
	child, err := client.Users().ByUserId(big.ID).MailFolders().ByMailFolderId("inbox").ChildFolders().Post(ctx, nf, nil)
	if err != nil || deref(child.GetParentFolderId()) != inbox["id"] || deref(child.GetDisplayName()) != "Receipts" {
		t.Fatalf("SDK child folder: %v %v", err, child)
	}
	if _, err := client.Users().ByUserId(big.ID).MailFolders().ByMailFolderId("archive").ChildFolders().Post(ctx, nf, nil); err != nil {
		t.Errorf("same name under another parent: %v", err)
	}
	_, err = client.Users().ByUserId(big.ID).MailFolders().ByMailFolderId("inbox").ChildFolders().Post(ctx, nf, nil)
	if status, code, _, _ := odataError(t, err); status != http.StatusConflict || code != "ErrorFolderExists" {
		t.Errorf("same name under inbox again: %d %s, want 409 ErrorFolderExists", status, code)
	}
	_, body = rawDo(t, e.sim, http.MethodGet, "/v1.0/users/"+big.ID+"/mailFolders/inbox", tok, nil)
	if jsonObject(t, body)["childFolderCount"] != float64(1) {
		t.Errorf("inbox childFolderCount: %s", body)
	}
	// Hidden folders stay out of the plain list.
	_, body = rawDo(t, e.sim, http.MethodGet, "/v1.0/users/"+big.ID+"/mailFolders?$top=50", tok, nil)
	if strings.Contains(string(body), "Clutter") {
		t.Errorf("hidden folder listed without includeHiddenFolders")
	}
	items, _ := mwDeltaRound(t, e, tok, link)
	present, _ := mwDeltaIDs(items)
	if !present[deref(child.GetId())] || !present[inbox["id"].(string)] {
		t.Errorf("mailFolders delta after creating = %v, want the new child and its parent", items)
	}
	if resp, body := mwJSON(t, e, http.MethodPost, "/v1.0/users/"+big.ID+"/mailFolders", tok, `{"displayName":""}`); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("empty displayName: %d %s", resp.StatusCode, body)
	}
}

// Every write shows up in the affected folders' next message delta round
// (S27 for PATCH, and draft creation, send, move, copy).
func TestMailWrites_ShowInTheNextDeltaRoundOfEachFolder(t *testing.T) {
	t.Parallel()
	e, tok := startWriteSim(t, 3)
	big, bob := e.seed.Users[0], e.seed.Users[2]
	u := "/v1.0/users/" + big.ID
	links := map[string]string{}
	for _, f := range []string{"inbox", "drafts", "sentitems", "archive"} {
		_, links[f] = mwDeltaRound(t, e, tok, u+"/mailFolders/"+f+"/messages/delta")
	}
	_, bobLink := mwDeltaRound(t, e, tok, "/v1.0/users/"+bob.ID+"/mailFolders/inbox/messages/delta")
	inbox := mwMailbox(t, e, big.ID, "inbox")

	resp, body := mwJSON(t, e, http.MethodPost, u+"/messages", tok, `{"subject":"d1","toRecipients":[{"emailAddress":{"address":"`+bob.Mail+`"}}]}`)
	d1 := jsonObject(t, body)["id"].(string)
	resp2, body2 := mwJSON(t, e, http.MethodPost, u+"/messages", tok, `{"subject":"d2","toRecipients":[{"emailAddress":{"address":"`+bob.Mail+`"}}]}`)
	d2 := jsonObject(t, body2)["id"].(string)
	if resp.StatusCode != 201 || resp2.StatusCode != 201 {
		t.Fatal(resp.Status, resp2.Status)
	}
	items, l := mwDeltaRound(t, e, tok, links["drafts"])
	if p, _ := mwDeltaIDs(items); !p[d1] || !p[d2] {
		t.Errorf("drafts delta after creating two = %v", items)
	}
	links["drafts"] = l

	if r, _ := mwJSON(t, e, http.MethodPost, u+"/messages/"+url.PathEscape(d1)+"/send", tok, ""); r.StatusCode != 202 {
		t.Fatal(r.Status)
	}
	mv, mb := mwJSON(t, e, http.MethodPost, u+"/messages/"+url.PathEscape(inbox[0].ID)+"/move", tok, `{"destinationId":"archive"}`)
	cp, cb := mwJSON(t, e, http.MethodPost, u+"/messages/"+url.PathEscape(inbox[1].ID)+"/copy", tok, `{"destinationId":"archive"}`)
	pr, pb := mwJSON(t, e, http.MethodPatch, u+"/messages/"+url.PathEscape(inbox[2].ID), tok, `{"isRead":true,"flag":{"flagStatus":"flagged"}}`)
	if mv.StatusCode != 201 || cp.StatusCode != 201 || pr.StatusCode != 200 {
		t.Fatalf("move %d %s, copy %d %s, patch %d %s", mv.StatusCode, mb, cp.StatusCode, cb, pr.StatusCode, pb)
	}
	movedID, copyID := jsonObject(t, mb)["id"].(string), jsonObject(t, cb)["id"].(string)

	items, _ = mwDeltaRound(t, e, tok, links["drafts"])
	if p, rm := mwDeltaIDs(items); !rm[d1] || p[d2] || len(items) != 1 {
		t.Errorf("drafts delta after send = %v, want d1 removed only", items)
	}
	items, _ = mwDeltaRound(t, e, tok, links["sentitems"])
	sent := mwMailbox(t, e, big.ID, "sentitems")
	if p, _ := mwDeltaIDs(items); len(sent) != 1 || !p[sent[0].ID] || len(items) != 1 {
		t.Errorf("sentitems delta after send = %v", items)
	}
	items, _ = mwDeltaRound(t, e, tok, bobLink)
	if p, _ := mwDeltaIDs(items); len(p) != 1 {
		t.Errorf("recipient inbox delta after send = %v", items)
	}
	items, _ = mwDeltaRound(t, e, tok, links["archive"])
	if p, _ := mwDeltaIDs(items); !p[movedID] || !p[copyID] || len(items) != 2 {
		t.Errorf("archive delta after move and copy = %v", items)
	}
	items, _ = mwDeltaRound(t, e, tok, links["inbox"])
	p, rm := mwDeltaIDs(items)
	if !rm[inbox[0].ID] || !p[inbox[2].ID] || p[inbox[1].ID] || len(items) != 2 {
		t.Errorf("inbox delta after move (removed), copy (nothing) and PATCH (updated) = %v", items)
	}
	for _, it := range items {
		if it["id"] == inbox[2].ID && (it["isRead"] != true || it["flag"].(map[string]any)["flagStatus"] != "flagged") {
			t.Errorf("patched item on delta = %v", it)
		}
	}
}

// (S11, §8) Writes without their permission give 403 ErrorAccessDenied in
// the standard envelope and change nothing; (S30) Mail.ReadBasic callers
// never see extended properties.
func TestMailWrites_MissingPermissionGives403AndReadBasicSeesNoExtendedProperties(t *testing.T) {
	t.Parallel()
	e, rw := startWriteSim(t, 2)
	big, bob := e.seed.Users[0], e.seed.Users[2]
	u := "/v1.0/users/" + big.ID
	inbox := mwMailbox(t, e, big.ID, "inbox")
	msg := u + "/messages/" + url.PathEscape(inbox[0].ID)
	resp, body := mwJSON(t, e, http.MethodPatch, msg, rw, `{"singleValueExtendedProperties":[{"id":"`+mwPropID+`","value":"secret"}]}`)
	if resp.StatusCode != http.StatusOK || strings.Contains(string(body), "secret") {
		t.Fatalf("PATCH extended property: %d %s", resp.StatusCode, body)
	}
	resp, body = mwJSON(t, e, http.MethodPost, u+"/messages", rw, `{"subject":"draft","toRecipients":[{"emailAddress":{"address":"`+bob.Mail+`"}}]}`)
	if resp.StatusCode != 201 {
		t.Fatal(resp.Status)
	}
	draft := u + "/messages/" + url.PathEscape(jsonObject(t, body)["id"].(string))

	check := func(tok, method, path, body string, want int) {
		t.Helper()
		before := len(mwMailbox(t, e, big.ID, ""))
		resp, b := mwJSON(t, e, method, path, tok, body)
		if resp.StatusCode != want {
			t.Errorf("%s %s: %d %s, want %d", method, path, resp.StatusCode, b, want)
			return
		}
		if want != http.StatusForbidden {
			return
		}
		ev := jsonObject(t, b)["error"].(map[string]any)
		ie, _ := ev["innerError"].(map[string]any)
		if ev["code"] != "ErrorAccessDenied" || ev["message"] != "Access is denied. Check credentials and try again." || ie["request-id"] == nil || ie["date"] == nil {
			t.Errorf("%s %s: error %v", method, path, ev)
		}
		if after := len(mwMailbox(t, e, big.ID, "")); after != before {
			t.Errorf("%s %s refused but the mailbox went from %d to %d messages", method, path, before, after)
		}
	}
	if err := e.sim.SetGrantedRoles(e.creds.TenantID, e.creds.ClientID, []string{"Mail.Read", "Mail.Send"}); err != nil {
		t.Fatal(err)
	}
	readSend := rawToken(t, e.sim, e.creds.TenantID, e.creds.ClientID, e.creds.ClientSecret)
	for _, c := range []struct{ method, path, body string }{
		{http.MethodPost, u + "/messages", `{"subject":"x"}`},
		{http.MethodPatch, msg, `{"isRead":true}`},
		{http.MethodDelete, msg, ""},
		{http.MethodPost, msg + "/move", `{"destinationId":"archive"}`},
		{http.MethodPost, msg + "/copy", `{"destinationId":"archive"}`},
		{http.MethodPost, msg + "/createReply", ""},
		{http.MethodPost, msg + "/createForward", `{"toRecipients":[{"emailAddress":{"address":"a@b.example"}}]}`},
		{http.MethodPost, u + "/mailFolders", `{"displayName":"New"}`},
		{http.MethodPost, u + "/mailFolders/inbox/childFolders", `{"displayName":"New"}`},
	} {
		check(readSend, c.method, c.path, c.body, http.StatusForbidden)
	}
	check(readSend, http.MethodPost, msg+"/reply", `{"comment":"Mail.Send is enough"}`, http.StatusAccepted)

	if err := e.sim.SetGrantedRoles(e.creds.TenantID, e.creds.ClientID, []string{"Mail.ReadWrite"}); err != nil {
		t.Fatal(err)
	}
	readWrite := rawToken(t, e.sim, e.creds.TenantID, e.creds.ClientID, e.creds.ClientSecret)
	for _, c := range []struct{ method, path, body string }{
		{http.MethodPost, draft + "/send", ""},
		{http.MethodPost, msg + "/reply", `{"comment":"x"}`},
		{http.MethodPost, msg + "/replyAll", `{"comment":"x"}`},
		{http.MethodPost, msg + "/forward", `{"toRecipients":[{"emailAddress":{"address":"a@b.example"}}]}`},
		{http.MethodPost, u + "/sendMail", `{"message":{"subject":"x","toRecipients":[{"emailAddress":{"address":"a@b.example"}}]}}`},
	} {
		check(readWrite, c.method, c.path, c.body, http.StatusForbidden)
	}
	check(readWrite, http.MethodPost, msg+"/createReply", "", http.StatusCreated)

	// Mail.ReadBasic.All: no extended properties, by $expand or $filter.
	if err := e.sim.SetGrantedRoles(e.creds.TenantID, e.creds.ClientID, []string{"Mail.ReadBasic.All"}); err != nil {
		t.Fatal(err)
	}
	basic := rawToken(t, e.sim, e.creds.TenantID, e.creds.ClientID, e.creds.ClientSecret)
	exp := "?$expand=" + url.QueryEscape("singleValueExtendedProperties($filter=id eq '"+mwPropID+"')")
	for _, p := range []string{msg + exp, u + "/messages" + exp} {
		resp, body := rawDo(t, e.sim, http.MethodGet, p, basic, nil)
		if resp.StatusCode != http.StatusOK || strings.Contains(string(body), "singleValueExtendedProperties") || strings.Contains(string(body), "secret") {
			t.Errorf("Mail.ReadBasic.All %s: %d %s", p, resp.StatusCode, body)
		}
	}
	f := "?$filter=" + url.QueryEscape("singleValueExtendedProperties/any(ep: ep/id eq '"+mwPropID+"' and ep/value eq 'secret')")
	if resp, body := rawDo(t, e.sim, http.MethodGet, u+"/messages"+f, basic, nil); resp.StatusCode != http.StatusForbidden || mwErrCode(t, body) != "ErrorAccessDenied" {
		t.Errorf("Mail.ReadBasic.All extended-property filter: %d %s, want 403", resp.StatusCode, body)
	}
	// The same with Mail.ReadWrite sees it.
	for _, p := range []string{msg + exp, u + "/messages" + f} {
		resp, body := rawDo(t, e.sim, http.MethodGet, p, readWrite, nil)
		if resp.StatusCode != http.StatusOK || !bytes.Contains(body, []byte(inbox[0].ID)) {
			t.Errorf("Mail.ReadWrite %s: %d %s", p, resp.StatusCode, body)
		}
	}
	if _, body := rawDo(t, e.sim, http.MethodGet, msg+exp, readWrite, nil); !strings.Contains(string(body), `"value":"secret"`) {
		t.Errorf("Mail.ReadWrite $expand: %s", body)
	}
}

// Extended properties: PATCH creates and replaces by id; the name matches
// case-sensitively, type and GUID not; the value case-insensitively with
// eq, ne, contains and startswith; $filter with $orderby is refused.
func TestMessages_ExtendedPropertyPatchAndFilterForms(t *testing.T) {
	t.Parallel()
	e, tok := startWriteSim(t, 3)
	big := e.seed.Users[0]
	u := "/v1.0/users/" + big.ID
	inbox := mwMailbox(t, e, big.ID, "inbox")
	set := func(id, v string) {
		t.Helper()
		resp, body := mwJSON(t, e, http.MethodPatch, u+"/messages/"+url.PathEscape(id), tok, `{"singleValueExtendedProperties":[{"id":"`+mwPropID+`","value":"`+v+`"}]}`)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("PATCH: %d %s", resp.StatusCode, body)
		}
	}
	set(inbox[0].ID, "Alpha-1")
	set(inbox[1].ID, "Beta-2")
	set(inbox[1].ID, "Alpha-2") // replaces Beta-2
	ids := func(filter string) string {
		t.Helper()
		resp, body := rawDo(t, e.sim, http.MethodGet, u+"/messages?$select=id&$filter="+url.QueryEscape(filter), tok, nil)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: %d %s", filter, resp.StatusCode, body)
		}
		var out []string
		for _, it := range valueOf(t, body) {
			for i, m := range inbox {
				if it["id"] == m.ID {
					out = append(out, fmt.Sprint(i))
				}
			}
		}
		return strings.Join(out, ",")
	}
	for filter, want := range map[string]string{
		"singleValueExtendedProperties/any(ep: ep/id eq '" + mwPropIDu + "' and ep/value eq 'ALPHA-1')":                                  "0",
		"singleValueExtendedProperties/Any(x:x/Id eq '" + mwPropID + "' and contains(x/Value, 'pha'))":                                   "0,1",
		"singleValueExtendedProperties/any(ep: ep/id eq '" + mwPropID + "' and startswith(ep/value, 'alpha-2'))":                         "1",
		"singleValueExtendedProperties/any(ep: ep/id eq '" + mwPropID + "' and ep/value ne 'alpha-1')":                                   "1",
		"singleValueExtendedProperties/any(ep: ep/id eq '" + mwPropID + "' and ep/value eq 'Beta-2')":                                    "",
		"singleValueExtendedProperties/any(ep: ep/id eq '" + strings.Replace(mwPropID, "OutlookflowRunId", "outlookflowrunid", 1) + "')": "",
		"singleValueExtendedProperties/any(ep: ep/id eq '" + mwPropID + "')":                                                             "0,1",
		"conversationId eq 'nope'": "",
	} {
		// The inbox lists newest first: inbox[0] before inbox[1].
		if got := ids(filter); got != want {
			t.Errorf("%s: messages %q, want %q", filter, got, want)
		}
	}
	resp, body := rawDo(t, e.sim, http.MethodGet, u+"/messages?$orderby=receivedDateTime%20desc&$filter="+url.QueryEscape("internetMessageId eq 'x'"), tok, nil)
	if resp.StatusCode != http.StatusBadRequest || mwErrCode(t, body) != "InefficientFilter" {
		t.Errorf("$filter with $orderby: %d %s, want 400 InefficientFilter", resp.StatusCode, body)
	}
	if resp, _ := rawDo(t, e.sim, http.MethodGet, u+"/messages?$filter="+url.QueryEscape("subject eq 'x'"), tok, nil); resp.StatusCode != http.StatusNotImplemented {
		t.Errorf("unsupported $filter: %d, want 501", resp.StatusCode)
	}
	if resp, _ := rawDo(t, e.sim, http.MethodGet, u+"/messages?$expand=attachments", tok, nil); resp.StatusCode != http.StatusNotImplemented {
		t.Errorf("$expand=attachments: %d, want 501", resp.StatusCode)
	}
	// Two ids in one $expand, one not set on the message.
	other := "String {00020329-0000-0000-C000-000000000046} Name Other"
	exp := "singleValueExtendedProperties($filter=id eq '" + mwPropID + "' or id eq '" + other + "')"
	_, body = rawDo(t, e.sim, http.MethodGet, u+"/messages/"+url.PathEscape(inbox[1].ID)+"?$expand="+url.QueryEscape(exp), tok, nil)
	eps, _ := jsonObject(t, body)["singleValueExtendedProperties"].([]any)
	if len(eps) != 1 || eps[0].(map[string]any)["value"] != "Alpha-2" {
		t.Errorf("$expand with two ids = %s", body)
	}
}

// DropResponse: the write commits, then the connection closes without a
// response. Through the SDK (HTTP/1.1: hijacked connection), raw HTTP/2
// (stream reset) and a $batch item.
func TestFaults_DropResponseCommitsTheWriteAndTheClientSeesATransportError(t *testing.T) {
	e, tok := startWriteSim(t, 0)
	ann, bob := e.seed.Users[1], e.seed.Users[2]
	client, _ := e.demoClient(t)
	ctx := ctxT(t)
	if _, err := client.Users().ByUserId(ann.ID).Messages().Get(ctx, nil); err != nil { // warm token and connection
		t.Fatal(err)
	}
	path := "/v1.0/users/" + ann.ID + "/messages"
	id := e.sim.InjectFault(Fault{Method: http.MethodPost, Path: path, DropResponse: true, Count: 1})
	_, err := client.Users().ByUserId(ann.ID).Messages().Post(ctx, newMessage("committed", bob.Mail), nil)
	var oe *odataerrors.ODataError
	if err == nil || errors.As(err, &oe) {
		t.Fatalf("create under DropResponse: err %v, want a transport error", err)
	}
	if d := mwMailbox(t, e, ann.ID, "drafts"); len(d) != 1 || d[0].Subject != "committed" {
		t.Errorf("drafts = %+v, want the committed draft", d)
	}
	recs := requestsTo(e.sim, http.MethodPost, path)
	if len(recs) != 1 || recs[0].Status != 0 || recs[0].FaultID != id {
		t.Errorf("records = %+v, want one with status 0 and the fault id", recs)
	}
	if fs := e.sim.Faults(); len(fs) != 0 {
		t.Errorf("the Count:1 fault is still active: %+v", fs)
	}
	// Next request answers normally.
	if _, err := client.Users().ByUserId(ann.ID).Messages().Post(ctx, newMessage("second", bob.Mail), nil); err != nil {
		t.Errorf("after the fault: %v", err)
	}

	// HTTP/2: the stream is reset; the send still happened.
	h2 := &http.Client{Transport: &http.Transport{TLSClientConfig: e.sim.TLSClientConfig(), ForceAttemptHTTP2: true}}
	req, _ := http.NewRequest(http.MethodGet, e.sim.GraphBaseURL()+"/users/"+ann.ID+"/mailFolders/inbox", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := h2.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.ProtoMajor != 2 {
		t.Fatalf("proto %s, want HTTP/2", resp.Proto)
	}
	send := "/v1.0/users/" + ann.ID + "/sendMail"
	e.sim.InjectFault(Fault{Method: http.MethodPost, Path: send, DropResponse: true, Count: 1})
	req, _ = http.NewRequest(http.MethodPost, e.sim.URL()+send, strings.NewReader(`{"message":{"subject":"over h2","toRecipients":[{"emailAddress":{"address":"`+bob.Mail+`"}}]}}`))
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	if resp, err := h2.Do(req); err == nil {
		resp.Body.Close()
		t.Errorf("HTTP/2 sendMail under DropResponse answered %d", resp.StatusCode)
	}
	if got := mwMailbox(t, e, bob.ID, "inbox"); len(got) != 1 || got[0].Subject != "over h2" {
		t.Errorf("bob's inbox = %+v, want the message sent despite the dropped response", got)
	}

	// A $batch item: it runs, the batch's response is dropped.
	e.sim.InjectFault(Fault{Path: "/v1.0/users/" + ann.ID + "/mailFolders", DropResponse: true, Count: 1})
	batch := `{"requests":[{"id":"1","method":"POST","url":"/users/` + ann.ID + `/mailFolders","headers":{"Content-Type":"application/json"},"body":{"displayName":"From batch"}}]}`
	req, _ = http.NewRequest(http.MethodPost, e.sim.GraphBaseURL()+"/$batch", strings.NewReader(batch))
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	if resp, err := tlsClient(e.sim).Do(req); err == nil {
		resp.Body.Close()
		t.Errorf("$batch with a dropped item answered %d", resp.StatusCode)
	}
	_, body := rawDo(t, e.sim, http.MethodGet, "/v1.0/users/"+ann.ID+"/mailFolders?$filter="+url.QueryEscape("displayName eq 'From batch'"), tok, nil)
	if len(valueOf(t, body)) != 1 {
		t.Errorf("the batch item's folder was not created: %s", body)
	}
}

// The control API takes dropResponse and lists it.
func TestControlAPI_DropResponseFault(t *testing.T) {
	t.Parallel()
	e, tok := startWriteSim(t, 0)
	ann := e.seed.Users[1]
	resp, body := rawDo(t, e.sim, http.MethodPost, "/_sim/v1/faults", "",
		strings.NewReader(`{"method":"POST","path":"/v1.0/users/`+ann.ID+`/mailFolders","dropResponse":true,"count":1}`))
	if resp.StatusCode != 200 {
		t.Fatalf("inject: %d %s", resp.StatusCode, body)
	}
	_, list := rawDo(t, e.sim, http.MethodGet, "/_sim/v1/faults", "", nil)
	if !strings.Contains(string(list), `"dropResponse":true`) {
		t.Errorf("faults list = %s", list)
	}
	req, _ := http.NewRequest(http.MethodPost, e.sim.GraphBaseURL()+"/users/"+ann.ID+"/mailFolders", strings.NewReader(`{"displayName":"Dropped"}`))
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	if resp, err := tlsClient(e.sim).Do(req); err == nil {
		resp.Body.Close()
		t.Fatalf("answered %d despite dropResponse", resp.StatusCode)
	}
	resp, body = mwJSON(t, e, http.MethodPost, "/v1.0/users/"+ann.ID+"/mailFolders", tok, `{"displayName":"Dropped"}`)
	if resp.StatusCode != http.StatusConflict {
		t.Errorf("re-create after a dropped create: %d %s, want 409 (the first one committed)", resp.StatusCode, body)
	}
}
