package graphsim

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	abstractions "github.com/microsoft/kiota-abstractions-go"
	khttp "github.com/microsoft/kiota-http-go"
	msgraphcore "github.com/microsoftgraph/msgraph-sdk-go-core"
	"github.com/microsoftgraph/msgraph-sdk-go/models"
	"github.com/microsoftgraph/msgraph-sdk-go/users"
)

// (S16)
func TestMessages_DefaultPageIs10AndTopAccepts1To1000(t *testing.T) {
	e := startMailSim(t, 1005)
	big := e.seed.Users[0]
	client, _ := e.demoClient(t)

	page, err := client.Users().ByUserId(big.ID).Messages().Get(ctxT(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(page.GetValue()); n != 10 || page.GetOdataNextLink() == nil {
		t.Errorf("default page: %d messages, nextLink %v: want 10 and a nextLink", n, page.GetOdataNextLink())
	}
	if s := deref(page.GetValue()[0].GetSubject()); s != "message 1004" {
		t.Errorf("first message %q, want the newest (message 1004)", s)
	}
	for _, top := range []int32{1, 1000} {
		top := top
		page, err := client.Users().ByUserId(big.ID).Messages().Get(ctxT(t), &users.ItemMessagesRequestBuilderGetRequestConfiguration{
			QueryParameters: &users.ItemMessagesRequestBuilderGetQueryParameters{Top: &top, Select: []string{"subject"}},
		})
		if err != nil {
			t.Fatalf("$top=%d: %v", top, err)
		}
		if n := len(page.GetValue()); n != int(top) {
			t.Errorf("$top=%d returned %d messages", top, n)
		}
	}
	for _, top := range []int32{1001, 0} {
		top := top
		_, err := client.Users().ByUserId(big.ID).Messages().Get(ctxT(t), &users.ItemMessagesRequestBuilderGetRequestConfiguration{
			QueryParameters: &users.ItemMessagesRequestBuilderGetQueryParameters{Top: &top},
		})
		if status, _, _, _ := odataError(t, err); status != http.StatusBadRequest {
			t.Errorf("$top=%d: status %d, want 400", top, status)
		}
	}
}

// (S17, S15) Paging through a whole folder with the SDK's PageIterator.
func TestMessages_PageIteratorWalksFolderNewestFirst(t *testing.T) {
	e := startMailSim(t, 137)
	big := e.seed.Users[0]
	client, _ := e.demoClient(t)
	top := int32(25)
	first, err := client.Users().ByUserId(big.ID).MailFolders().ByMailFolderId("inbox").Messages().Get(ctxT(t),
		&users.ItemMailFoldersItemMessagesRequestBuilderGetRequestConfiguration{
			QueryParameters: &users.ItemMailFoldersItemMessagesRequestBuilderGetQueryParameters{Top: &top, Select: []string{"subject", "receivedDateTime"}},
		})
	if err != nil {
		t.Fatal(err)
	}
	it, err := msgraphcore.NewPageIterator[models.Messageable](first, client.GetAdapter(), models.CreateMessageCollectionResponseFromDiscriminatorValue)
	if err != nil {
		t.Fatal(err)
	}
	var subjects []string
	if err := it.Iterate(ctxT(t), func(m models.Messageable) bool {
		subjects = append(subjects, deref(m.GetSubject()))
		return true
	}); err != nil {
		t.Fatal(err)
	}
	if len(subjects) != 137 {
		t.Fatalf("iterated %d messages, want 137", len(subjects))
	}
	for i, s := range subjects {
		if want := fmt.Sprintf("message %04d", 136-i); s != want {
			t.Fatalf("message %d = %q, want %q (newest first)", i, s, want)
		}
	}
	if n := len(requestsTo(e.sim, http.MethodGet, "/v1.0/users/"+big.ID+"/mailFolders/inbox/messages")); n != 6 {
		t.Errorf("%d page requests, want 6", n)
	}
}

// (S17, S30) $select limits properties (id and @odata.etag always come
// back); Mail.ReadBasic.All callers never receive bodies.
func TestMessages_SelectLimitsPropertiesAndReadBasicNeverSeesBodies(t *testing.T) {
	e := startDemoSim(t) // the demo app holds Mail.ReadBasic.All
	uid := e.seed.Users[2].ID
	token := rawToken(t, e.sim, e.creds.TenantID, e.creds.ClientID, e.creds.ClientSecret)

	_, body := rawDo(t, e.sim, http.MethodGet, "/v1.0/users/"+uid+"/messages?$select=sender,subject", token, nil)
	m := jsonObject(t, body)
	if want := e.sim.GraphBaseURL() + "/$metadata#users('" + uid + "')/messages(sender,subject)"; m["@odata.context"] != want {
		t.Errorf("@odata.context = %v, want %s", m["@odata.context"], want)
	}
	first := m["value"].([]any)[0].(map[string]any)
	sameKeys(t, "selected message", first, "@odata.etag", "id", "subject", "sender")
	if etag, _ := first["@odata.etag"].(string); !strings.HasPrefix(etag, `W/"`) {
		t.Errorf("@odata.etag = %q, want a weak etag", etag)
	}

	for _, q := range []string{"", "?$select=subject,body,bodyPreview,uniqueBody"} {
		_, body = rawDo(t, e.sim, http.MethodGet, "/v1.0/users/"+uid+"/messages"+q, token, nil)
		for _, v := range jsonObject(t, body)["value"].([]any) {
			for _, k := range []string{"body", "bodyPreview", "uniqueBody"} {
				if _, ok := v.(map[string]any)[k]; ok {
					t.Errorf("Mail.ReadBasic.All caller received %s (query %q)", k, q)
				}
			}
		}
	}
	client, _ := e.demoClient(t)
	page, err := client.Users().ByUserId(uid).Messages().Get(ctxT(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	if page.GetValue()[0].GetBody() != nil || page.GetValue()[0].GetBodyPreview() != nil {
		t.Errorf("SDK saw a body with Mail.ReadBasic.All")
	}

	// With Mail.Read the body is there, as HTML unless text is preferred.
	if err := e.sim.SetGrantedRoles(e.creds.TenantID, e.creds.ClientID, []string{"Mail.Read"}); err != nil {
		t.Fatal(err)
	}
	token = rawToken(t, e.sim, e.creds.TenantID, e.creds.ClientID, e.creds.ClientSecret)
	_, body = rawDo(t, e.sim, http.MethodGet, "/v1.0/users/"+uid+"/messages?$top=1", token, nil)
	b := jsonObject(t, body)["value"].([]any)[0].(map[string]any)["body"].(map[string]any)
	if b["contentType"] != "html" || !strings.Contains(b["content"].(string), "<html>") {
		t.Errorf("body = %v, want HTML by default", b)
	}
	resp, body := rawDo(t, e.sim, http.MethodGet, "/v1.0/users/"+uid+"/messages?$top=1", token, nil, `Prefer: outlook.body-content-type="text"`)
	b = jsonObject(t, body)["value"].([]any)[0].(map[string]any)["body"].(map[string]any)
	if b["contentType"] != "text" || resp.Header.Get("Preference-Applied") != `outlook.body-content-type="text"` {
		t.Errorf("Prefer text: body %v, Preference-Applied %q", b, resp.Header.Get("Preference-Applied"))
	}
}

// (S23) Well-known folder names and folder ids address the same folder.
func TestMailFolders_WellKnownNamesAndIDsAreEquivalent(t *testing.T) {
	t.Parallel()
	e := startDemoSim(t)
	uid := e.seed.Users[4].ID
	token := rawToken(t, e.sim, e.creds.TenantID, e.creds.ClientID, e.creds.ClientSecret)
	_, body := rawDo(t, e.sim, http.MethodGet, "/v1.0/users/"+uid+"/mailFolders/Inbox", token, nil)
	f := jsonObject(t, body)
	id, _ := f["id"].(string)
	inInbox := 0
	for _, m := range e.seed.Users[4].Messages {
		if m.Folder == "inbox" {
			inInbox++
		}
	}
	if id == "" || f["displayName"] != "Inbox" || f["totalItemCount"] != float64(inInbox) {
		t.Fatalf("inbox folder = %s", body)
	}
	_, byName := rawDo(t, e.sim, http.MethodGet, "/v1.0/users/"+uid+"/mailFolders/inbox/messages", token, nil)
	_, byID := rawDo(t, e.sim, http.MethodGet, "/v1.0/users/"+uid+"/mailFolders/"+id+"/messages", token, nil)
	if fmt.Sprint(jsonObject(t, byName)["value"]) != fmt.Sprint(jsonObject(t, byID)["value"]) {
		t.Errorf("inbox by name and by id differ")
	}
	resp, body := rawDo(t, e.sim, http.MethodGet, "/v1.0/users/"+uid+"/mailFolders/My Stuff/messages", token, nil)
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "ErrorInvalidIdMalformed") {
		t.Errorf("folder by display name: %d %s, want 400 ErrorInvalidIdMalformed", resp.StatusCode, body)
	}
}

// (S24)
func TestSendMail_Returns202EmptyBodyAndDeliversToInboxAndSentItems(t *testing.T) {
	e := startMailSim(t, 0)
	ann, bob := e.seed.Users[1], e.seed.Users[2]
	client, _ := e.demoClient(t)

	inspect := khttp.NewHeadersInspectionOptions()
	inspect.InspectResponseHeaders = true
	body := users.NewItemSendMailPostRequestBody()
	msg := newMessage("Quarterly numbers", bob.Mail)
	cc := models.NewRecipient()
	ea := models.NewEmailAddress()
	ext := "partner@external.example"
	ea.SetAddress(&ext)
	cc.SetEmailAddress(ea)
	msg.SetCcRecipients([]models.Recipientable{cc})
	body.SetMessage(msg)
	if err := client.Users().ByUserId(ann.UserPrincipalName).SendMail().Post(ctxT(t), body, &users.ItemSendMailRequestBuilderPostRequestConfiguration{
		Options: []abstractions.RequestOption{inspect},
	}); err != nil {
		t.Fatalf("sendMail: %v", err)
	}
	if rid := inspect.GetResponseHeaders().Get("request-id"); len(rid) == 0 {
		t.Errorf("202 response without request-id")
	}

	inbox, err := e.sim.Mailbox(e.creds.TenantID, bob.ID, "inbox")
	if err != nil || len(inbox) != 1 {
		t.Fatalf("recipient inbox = %+v (%v), want the one message", inbox, err)
	}
	got := inbox[0]
	if got.Subject != "Quarterly numbers" || got.From != ann.Mail || got.IsRead || got.Folder != "inbox" ||
		strings.Join(got.To, ",") != bob.Mail || strings.Join(got.Cc, ",") != ext || got.BodyText != "Body of Quarterly numbers" {
		t.Errorf("delivered message = %+v", got)
	}
	sent, _ := e.sim.Mailbox(e.creds.TenantID, ann.ID, "sentitems")
	if len(sent) != 1 || sent[0].Subject != "Quarterly numbers" || !sent[0].IsRead {
		t.Errorf("sender's sent items = %+v, want the message, read", sent)
	}

	// Retrievable through Graph from the recipient's inbox.
	page, err := client.Users().ByUserId(bob.ID).MailFolders().ByMailFolderId("inbox").Messages().Get(ctxT(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(page.GetValue()) != 1 || deref(page.GetValue()[0].GetId()) != got.ID ||
		deref(page.GetValue()[0].GetFrom().GetEmailAddress().GetAddress()) != ann.Mail {
		t.Errorf("Graph view of the recipient inbox does not show the delivered message")
	}
	one, err := client.Users().ByUserId(bob.ID).Messages().ByMessageId(got.ID).Get(ctxT(t), nil)
	if err != nil || deref(one.GetSubject()) != "Quarterly numbers" {
		t.Errorf("GET message by id: %v %v", err, one)
	}

	// Raw: exactly 202 with an empty body, as documented.
	token := rawToken(t, e.sim, e.creds.TenantID, e.creds.ClientID, e.creds.ClientSecret)
	raw := fmt.Sprintf(`{"message":{"subject":"Meet for lunch?","body":{"contentType":"Text","content":"The new cafeteria is open."},"toRecipients":[{"emailAddress":{"address":%q}}]},"saveToSentItems":"false"}`, bob.Mail)
	resp, rb := rawDo(t, e.sim, http.MethodPost, "/v1.0/users/"+ann.ID+"/sendMail", token, strings.NewReader(raw), "Content-Type: application/json")
	if resp.StatusCode != http.StatusAccepted || len(rb) != 0 || resp.Header.Get("request-id") == "" {
		t.Errorf("raw sendMail: %d, body %q, request-id %q: want 202, empty body, request-id", resp.StatusCode, rb, resp.Header.Get("request-id"))
	}
	if sent, _ := e.sim.Mailbox(e.creds.TenantID, ann.ID, "sentitems"); len(sent) != 1 {
		t.Errorf("saveToSentItems \"false\" still saved a copy: %d sent items", len(sent))
	}
}

// (S24)
func TestSendMail_NoRecipientsGives400ErrorInvalidRecipients(t *testing.T) {
	e := startMailSim(t, 0)
	client, _ := e.demoClient(t)
	body := users.NewItemSendMailPostRequestBody()
	body.SetMessage(newMessage("to nobody", ""))
	err := client.Users().ByUserId(e.seed.Users[1].ID).SendMail().Post(ctxT(t), body, nil)
	status, code, msg, _ := odataError(t, err)
	if status != http.StatusBadRequest || code != "ErrorInvalidRecipients" || msg != "At least one recipient is required, but none were found." {
		t.Errorf("got %d %s %q, want 400 ErrorInvalidRecipients", status, code, msg)
	}
	if sent, _ := e.sim.Mailbox(e.creds.TenantID, e.seed.Users[1].ID, ""); len(sent) != 0 {
		t.Errorf("a refused send left %d messages behind", len(sent))
	}
	err = client.Users().ByUserId("ghost@fabrikam.example").SendMail().Post(ctxT(t), body, nil)
	if status, code, _, _ := odataError(t, err); status != http.StatusNotFound || code != "ErrorInvalidUser" {
		t.Errorf("sendMail as an unknown user: %d %s, want 404 ErrorInvalidUser", status, code)
	}
}
