package graphsim

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// mentionSim is mailSeed(0) with four messages in big's inbox: one
// mentioning big (by UPN, in a different case), one mentioning Ann only,
// one mentioning nobody, and an older one mentioning big and Bob.
func mentionSim(t *testing.T) (*simEnv, string, map[string]string) {
	t.Helper()
	seed, creds := mailSeed(0)
	big := &seed.Users[0]
	base := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, m := range []MessageSeed{
		{Subject: "old mention", Mentions: []string{"bob@fabrikam.example", big.Mail}, ReceivedAt: base.Add(-2 * time.Hour)},
		{Subject: "no mentions", ReceivedAt: base.Add(1 * time.Minute)},
		{Subject: "mentions ann", Mentions: []string{"ann@fabrikam.example"}, ReceivedAt: base.Add(2 * time.Minute)},
		{Subject: "mentions big", Mentions: []string{strings.ToUpper(big.UserPrincipalName)}, ReceivedAt: base.Add(3 * time.Minute)},
	} {
		m.From, m.To, m.BodyText = "ann@fabrikam.example", []string{big.Mail}, "see @Big"
		big.Messages = append(big.Messages, m)
	}
	sim, err := Start(Options{})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { sim.Close() })
	if err := sim.SeedTenant(seed); err != nil {
		t.Fatal(err)
	}
	e := &simEnv{sim: sim, seed: seed, creds: creds}
	ids := map[string]string{}
	for _, m := range mwMailbox(t, e, big.ID, "inbox") {
		ids[m.Subject] = m.ID
	}
	return e, rawToken(t, sim, creds.TenantID, creds.ClientID, creds.ClientSecret), ids
}

// subjectsOf lists the subjects of a message page, in order.
func subjectsOf(t *testing.T, body []byte) string {
	t.Helper()
	var out []string
	for _, it := range valueOf(t, body) {
		out = append(out, it["subject"].(string))
	}
	return strings.Join(out, ",")
}

// Request 2 of api-reference/beta/api/user-list-messages.md: the messages
// mentioning the mailbox owner, with $select, in the documented shape.
func TestBetaMessages_FilterMentionsPreviewIsMentionedReturnsTheOwnersMentions(t *testing.T) {
	e, tok, ids := mentionSim(t)
	big := e.seed.Users[0]
	q := "?$filter=" + url.QueryEscape("MentionsPreview/IsMentioned eq true") + "&$select=Subject,Sender,ReceivedDateTime,MentionsPreview"
	resp, body := rawDo(t, e.sim, http.MethodGet, "/beta/users/"+big.ID+"/messages"+q, tok, nil, "client-request-id: 4c7a0a7e-0000-4000-8000-000000000001")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	if resp.Header.Get("request-id") == "" || resp.Header.Get("client-request-id") != "4c7a0a7e-0000-4000-8000-000000000001" ||
		!strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		t.Errorf("headers: request-id %q, client-request-id %q, Content-Type %q", resp.Header.Get("request-id"),
			resp.Header.Get("client-request-id"), resp.Header.Get("Content-Type"))
	}
	m := jsonObject(t, body)
	if want := e.sim.URL() + "/beta/$metadata#users('" + big.ID + "')/messages(subject,sender,receivedDateTime,mentionsPreview)"; m["@odata.context"] != want {
		t.Errorf("@odata.context = %v, want %s", m["@odata.context"], want)
	}
	items := valueOf(t, body)
	if got := subjectsOf(t, body); got != "mentions big,old mention" {
		t.Fatalf("messages mentioning big = %q, want newest first: mentions big,old mention", got)
	}
	for _, it := range items {
		sameKeys(t, "message", it, "@odata.etag", "id", "subject", "sender", "receivedDateTime", "mentionsPreview")
		if mp, _ := it["mentionsPreview"].(map[string]any); mp == nil || mp["isMentioned"] != true || len(mp) != 1 {
			t.Errorf("%v: mentionsPreview = %v, want {\"isMentioned\":true}", it["subject"], it["mentionsPreview"])
		}
	}
	if items[0]["id"] != ids["mentions big"] {
		t.Errorf("first id %v, want the message's id %s", items[0]["id"], ids["mentions big"])
	}

	// "eq false": messages with mentions, none of them big's. Without
	// mentions mentionsPreview is null: null eq false is false, null ne
	// true (or false) is true.
	for filter, want := range map[string]string{
		"mentionsPreview/isMentioned eq false": "mentions ann",
		"mentionsPreview/isMentioned ne true":  "mentions ann,no mentions",
		"mentionsPreview/isMentioned ne false": "mentions big,no mentions,old mention",
	} {
		_, body := rawDo(t, e.sim, http.MethodGet, "/beta/users/"+big.ID+"/messages?$select=subject&$filter="+url.QueryEscape(filter), tok, nil)
		if got := subjectsOf(t, body); got != want {
			t.Errorf("%s: %q, want %q", filter, got, want)
		}
	}
}

// mentionsPreview is in beta's default properties: null without mentions,
// else whether the mailbox owner is mentioned (resources/message.md).
func TestBetaMessages_MentionsPreviewIsNullWithoutMentionsAndByDefault(t *testing.T) {
	e, tok, ids := mentionSim(t)
	big := e.seed.Users[0]
	_, body := rawDo(t, e.sim, http.MethodGet, "/beta/users/"+big.UserPrincipalName+"/mailFolders/inbox/messages", tok, nil)
	want := map[string]string{"mentions big": "true", "mentions ann": "false", "no mentions": "null", "old mention": "true"}
	items := valueOf(t, body)
	if len(items) != 4 {
		t.Fatalf("%d messages, want 4: %s", len(items), body)
	}
	for _, it := range items {
		mp, present := it["mentionsPreview"]
		got := "null"
		if o, ok := mp.(map[string]any); ok {
			got = strings.ToLower(strings.TrimSpace(jsonString(o["isMentioned"])))
		}
		if !present || got != want[it["subject"].(string)] {
			t.Errorf("%v: mentionsPreview present=%v value %v, want isMentioned %s", it["subject"], present, mp, want[it["subject"].(string)])
		}
		if _, ok := it["body"]; !ok {
			t.Errorf("%v: no body for a Mail.Read caller (default properties are v1.0's plus mentionsPreview)", it["subject"])
		}
	}
	// One message, as Graph's GET /messages/{id} on beta serves it.
	_, body = rawDo(t, e.sim, http.MethodGet, "/beta/users/"+big.ID+"/messages/"+url.PathEscape(ids["mentions ann"])+"?$select=mentionsPreview", tok, nil)
	one := jsonObject(t, body)
	sameKeys(t, "message", one, "@odata.context", "@odata.etag", "id", "mentionsPreview")
	if mp, _ := one["mentionsPreview"].(map[string]any); mp == nil || mp["isMentioned"] != false {
		t.Errorf("mentions ann, seen from big's mailbox: %s", body)
	}
}

func jsonString(v any) string {
	switch x := v.(type) {
	case bool:
		if x {
			return "true"
		}
		return "false"
	case nil:
		return "null"
	}
	return "?"
}

// The filter combines with receivedDateTime comparisons, pages with $top
// and absolute nextLinks under /beta (S15), and refuses a quoted date.
func TestBetaMessages_MentionsFilterWithReceivedSinceAndPaging(t *testing.T) {
	e, tok, _ := mentionSim(t)
	big := e.seed.Users[0]
	since := "2025-03-01T11:59:00Z"
	filter := "mentionsPreview/isMentioned eq true and receivedDateTime ge " + since
	_, body := rawDo(t, e.sim, http.MethodGet, "/beta/users/"+big.ID+"/messages?$select=subject&$filter="+url.QueryEscape(filter), tok, nil)
	if got := subjectsOf(t, body); got != "mentions big" {
		t.Errorf("mentioned since %s: %q, want mentions big", since, got)
	}
	filter = "receivedDateTime lt 2025-03-01T12:03:00Z and mentionsPreview/isMentioned eq false"
	_, body = rawDo(t, e.sim, http.MethodGet, "/beta/users/"+big.ID+"/messages?$select=subject&$filter="+url.QueryEscape(filter), tok, nil)
	if got := subjectsOf(t, body); got != "mentions ann" {
		t.Errorf("%s: %q, want mentions ann", filter, got)
	}
	// $orderby must lead the filter (S18).
	resp, body := rawDo(t, e.sim, http.MethodGet, "/beta/users/"+big.ID+"/messages?$orderby=receivedDateTime%20desc&$filter="+url.QueryEscape("mentionsPreview/isMentioned eq true"), tok, nil)
	if resp.StatusCode != http.StatusBadRequest || mwErrCode(t, body) != "InefficientFilter" {
		t.Errorf("$orderby not leading the filter: %d %s, want 400 InefficientFilter", resp.StatusCode, body)
	}
	resp, body = rawDo(t, e.sim, http.MethodGet, "/beta/users/"+big.ID+"/messages?$select=subject&$orderby=receivedDateTime%20desc&$filter="+url.QueryEscape("receivedDateTime ge 2025-01-01T00:00:00Z and mentionsPreview/isMentioned eq true"), tok, nil)
	if resp.StatusCode != http.StatusOK || subjectsOf(t, body) != "mentions big,old mention" {
		t.Errorf("$orderby leading the filter: %d %s", resp.StatusCode, body)
	}
	resp, body = rawDo(t, e.sim, http.MethodGet, "/beta/users/"+big.ID+"/messages?$filter="+url.QueryEscape("mentionsPreview/isMentioned eq true and receivedDateTime ge '"+since+"'"), tok, nil)
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "Edm.DateTimeOffset") {
		t.Errorf("quoted date: %d %s, want 400", resp.StatusCode, body)
	}

	// Paging: one message a page, the nextLink on /beta with the options.
	link := "/beta/users/" + big.ID + "/messages?$top=1&$select=subject,mentionsPreview&$filter=" + url.QueryEscape("mentionsPreview/isMentioned eq true")
	var seen []string
	for pages := 0; link != ""; pages++ {
		if pages > 3 {
			t.Fatalf("more pages than messages: %v", seen)
		}
		resp, body := rawDo(t, e.sim, http.MethodGet, link, tok, nil)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: %d %s", link, resp.StatusCode, body)
		}
		seen = append(seen, subjectsOf(t, body))
		next, _ := jsonObject(t, body)["@odata.nextLink"].(string)
		if next != "" && (!strings.HasPrefix(next, e.sim.URL()+"/beta/users/") || !strings.Contains(next, "$filter=") || !strings.Contains(next, "$skip=")) {
			t.Fatalf("nextLink %s: want an absolute /beta link keeping $filter, with $skip", next)
		}
		link = next
	}
	if strings.Join(seen, "|") != "mentions big|old mention" {
		t.Errorf("pages = %v, want [mentions big, old mention] and no nextLink on the last", seen)
	}
}

// Permissions are v1.0's list permissions (Mail.ReadBasic(.All), Mail.Read,
// Mail.ReadWrite): without them 403 ErrorAccessDenied, without a token 401.
// mentionsPreview is not a body property: Mail.ReadBasic.All sees it.
func TestBetaMessages_PermissionsAreTheMessageListsAndReadBasicSeesMentionsPreview(t *testing.T) {
	e, _, _ := mentionSim(t)
	big := e.seed.Users[0]
	path := "/beta/users/" + big.ID + "/messages?$filter=" + url.QueryEscape("mentionsPreview/isMentioned eq true")
	if resp, body := rawDo(t, e.sim, http.MethodGet, path, "", nil); resp.StatusCode != http.StatusUnauthorized || mwErrCode(t, body) != "InvalidAuthenticationToken" {
		t.Errorf("no token: %d %s", resp.StatusCode, body)
	}
	for _, tc := range []struct {
		roles []string
		want  int
	}{
		{[]string{"User.Read.All", "Mail.Send"}, http.StatusForbidden},
		{[]string{"Mail.ReadBasic.All"}, http.StatusOK},
		{[]string{"Mail.ReadWrite"}, http.StatusOK},
	} {
		if err := e.sim.SetGrantedRoles(e.creds.TenantID, e.creds.ClientID, tc.roles); err != nil {
			t.Fatal(err)
		}
		tok := rawToken(t, e.sim, e.creds.TenantID, e.creds.ClientID, e.creds.ClientSecret)
		resp, body := rawDo(t, e.sim, http.MethodGet, path, tok, nil)
		if resp.StatusCode != tc.want {
			t.Errorf("roles %v: %d %s, want %d", tc.roles, resp.StatusCode, body, tc.want)
			continue
		}
		if tc.want == http.StatusForbidden {
			if mwErrCode(t, body) != "ErrorAccessDenied" {
				t.Errorf("roles %v: %s, want ErrorAccessDenied", tc.roles, body)
			}
			continue
		}
		items := valueOf(t, body)
		if len(items) != 2 || items[0]["mentionsPreview"] == nil {
			t.Errorf("roles %v: %s", tc.roles, body)
		}
		for _, it := range items {
			if _, ok := it["body"]; ok && tc.roles[0] == "Mail.ReadBasic.All" {
				t.Errorf("Mail.ReadBasic.All caller received a body")
			}
		}
	}
}

// v1.0 has no mentionsPreview or mentions: $select and $filter naming them
// give 400 as for any property the message type lacks, v1.0's default
// properties do not include it, and a sendMail message with mentions is
// refused. Beta routes the simulator does not serve answer 501.
func TestV1Messages_RefuseMentionsAndUnservedBetaRoutesAre501(t *testing.T) {
	e, tok, _ := mentionSim(t)
	big := e.seed.Users[0]
	u := "/v1.0/users/" + big.ID + "/messages"
	for q, bad := range map[string]string{
		"?$select=subject,mentionsPreview":                                                                                "mentionsPreview",
		"?$filter=" + url.QueryEscape("mentionsPreview/isMentioned eq true"):                                              "mentionsPreview",
		"?$filter=" + url.QueryEscape("receivedDateTime ge 2025-01-01T00:00:00Z and MentionsPreview/IsMentioned eq true"): "MentionsPreview",
		"?$filter=" + url.QueryEscape("isJunk ne true"):                                                                   "isJunk",
	} {
		resp, body := rawDo(t, e.sim, http.MethodGet, u+q, tok, nil)
		want := "Could not find a property named '" + bad + "' on type 'microsoft.graph.message'."
		if resp.StatusCode != http.StatusBadRequest || mwErrCode(t, body) != "RequestBroker--ParseUri" || !strings.Contains(string(body), want) {
			t.Errorf("v1.0 %s: %d %s, want 400 RequestBroker--ParseUri %q", q, resp.StatusCode, body, want)
		}
	}
	_, body := rawDo(t, e.sim, http.MethodGet, u, tok, nil)
	for _, it := range valueOf(t, body) {
		if _, ok := it["mentionsPreview"]; ok {
			t.Fatalf("v1.0 message carries mentionsPreview: %v", it)
		}
	}
	// receivedDateTime comparisons are v1.0 filters too.
	_, body = rawDo(t, e.sim, http.MethodGet, u+"?$select=subject&$filter="+url.QueryEscape("receivedDateTime gt 2025-03-01T12:02:00Z"), tok, nil)
	if got := subjectsOf(t, body); got != "mentions big" {
		t.Errorf("v1.0 receivedDateTime gt: %q", got)
	}
	send := `{"message":{"subject":"hi","toRecipients":[{"emailAddress":{"address":"ann@fabrikam.example"}}],"mentions":[{"mentioned":{"address":"ann@fabrikam.example"}}]}}`
	resp, body := mwJSON(t, e, http.MethodPost, "/v1.0/users/"+big.ID+"/sendMail", tok, send)
	if resp.StatusCode != http.StatusBadRequest || mwErrCode(t, body) != "RequestBodyRead" {
		t.Errorf("v1.0 sendMail with mentions: %d %s, want 400 RequestBodyRead", resp.StatusCode, body)
	}
	for _, p := range []string{"/beta/users", "/beta/users/" + big.ID, "/beta/users/" + big.ID + "/mailFolders", "/beta/users/" + big.ID + "/messages/delta", "/beta/$batch"} {
		if resp, body := rawDo(t, e.sim, http.MethodGet, p, tok, nil); resp.StatusCode != http.StatusNotImplemented {
			t.Errorf("GET %s: %d %s, want 501", p, resp.StatusCode, body)
		}
	}
}

// api/user-sendmail.md Example 2 (beta): the message's mentions travel with
// it; each recipient's copy tells its owner whether they are mentioned.
func TestBetaSendMail_MentionsReachRecipientsCopies(t *testing.T) {
	e, tok, _ := mentionSim(t)
	big, ann, bob := e.seed.Users[0], e.seed.Users[1], e.seed.Users[2]
	send := `{"Message":{"subject":"Project kickoff","toRecipients":[{"emailAddress":{"name":"Ann Lee","address":"ann@fabrikam.example"}},{"emailAddress":{"address":"bob@fabrikam.example"}}],` +
		`"mentions":[{"mentioned":{"name":"Ann Lee","address":"ann@fabrikam.example"}}]}}`
	resp, body := mwJSON(t, e, http.MethodPost, "/beta/users/"+big.ID+"/sendMail", tok, send)
	if resp.StatusCode != http.StatusAccepted || len(body) != 0 {
		t.Fatalf("beta sendMail: %d %s, want 202 with an empty body", resp.StatusCode, body)
	}
	mentioned := func(user string) string {
		t.Helper()
		_, body := rawDo(t, e.sim, http.MethodGet, "/beta/users/"+user+"/messages?$select=subject&$filter="+url.QueryEscape("mentionsPreview/isMentioned eq true"), tok, nil)
		return subjectsOf(t, body)
	}
	if got := mentioned(ann.ID); got != "Project kickoff" {
		t.Errorf("Ann's mentions: %q, want Project kickoff", got)
	}
	if got := mentioned(bob.ID); got != "" {
		t.Errorf("Bob's mentions: %q, want none (he is not mentioned)", got)
	}
	resp, body = mwJSON(t, e, http.MethodPost, "/beta/users/"+big.ID+"/sendMail", tok, `{"message":{"subject":"x","toRecipients":[{"emailAddress":{"address":"ann@fabrikam.example"}}],"mentions":[{}]}}`)
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("a mention without mentioned: %d %s, want 400", resp.StatusCode, body)
	}
}
