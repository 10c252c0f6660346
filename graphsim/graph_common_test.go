package graphsim

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	abstractions "github.com/microsoft/kiota-abstractions-go"
	khttp "github.com/microsoft/kiota-http-go"
	"github.com/microsoftgraph/msgraph-sdk-go/models"
	"github.com/microsoftgraph/msgraph-sdk-go/users"
)

// (S9)
func TestGraph_ResponsesCarryRequestIDAndEchoClientRequestID(t *testing.T) {
	e := startDemoSim(t)
	client, _ := e.demoClient(t)

	inspect := khttp.NewHeadersInspectionOptions()
	inspect.InspectResponseHeaders = true
	if _, err := client.Users().Get(ctxT(t), &users.UsersRequestBuilderGetRequestConfiguration{
		Options: []abstractions.RequestOption{inspect},
	}); err != nil {
		t.Fatalf("list users: %v", err)
	}
	h := inspect.GetResponseHeaders()
	recs := requestsTo(e.sim, http.MethodGet, "/v1.0/users")
	if len(recs) != 1 || recs[0].ClientRequestID == "" {
		t.Fatalf("requests = %+v, want one carrying the SDK's client-request-id", recs)
	}
	if got := h.Get("client-request-id"); len(got) != 1 || got[0] != recs[0].ClientRequestID {
		t.Errorf("client-request-id = %v, want the request's %q echoed", got, recs[0].ClientRequestID)
	}
	for _, k := range []string{"request-id", "x-ms-ags-diagnostic", "date"} {
		if v := h.Get(k); len(v) == 0 || v[0] == "" {
			t.Errorf("response header %s missing", k)
		}
	}
	if ct := h.Get("content-type"); len(ct) == 0 || !strings.HasPrefix(ct[0], "application/json") {
		t.Errorf("Content-Type = %v, want application/json...", ct)
	}

	// Without a client-request-id, Graph sets it equal to request-id; errors
	// carry the same headers.
	token := rawToken(t, e.sim, e.creds.TenantID, e.creds.ClientID, e.creds.ClientSecret)
	for _, path := range []string{"/v1.0/users", "/v1.0/users/nobody@contoso.example"} {
		resp, _ := rawDo(t, e.sim, http.MethodGet, path, token, nil)
		rid, crid := resp.Header.Get("request-id"), resp.Header.Get("client-request-id")
		if rid == "" || crid != rid {
			t.Errorf("%s: request-id %q, client-request-id %q: want both set and equal", path, rid, crid)
		}
		if resp.Header.Get("Date") == "" || resp.Header.Get("x-ms-ags-diagnostic") == "" {
			t.Errorf("%s: Date or x-ms-ags-diagnostic missing", path)
		}
		if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") || !strings.Contains(ct, "charset=utf-8") {
			t.Errorf("%s: Content-Type %q, want application/json with charset=utf-8", path, ct)
		}
	}
	resp, _ := rawDo(t, e.sim, http.MethodGet, "/v1.0/users", token, nil, "client-request-id: 7a3f8a3e-1111-4c4c-8888-0123456789ab")
	if got := resp.Header.Get("client-request-id"); got != "7a3f8a3e-1111-4c4c-8888-0123456789ab" {
		t.Errorf("client-request-id = %q, want the request's value echoed", got)
	}
}

var innerErrorDate = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$`)

// (S10)
func TestGraph_ErrorBodyIsODataEnvelopeWithInnerErrorDateAndIDs(t *testing.T) {
	e := startDemoSim(t)
	client, _ := e.demoClient(t)
	_, err := client.Users().ByUserId("nobody@contoso.example").Get(ctxT(t), nil)
	status, code, msg, oe := odataError(t, err)
	if status != http.StatusNotFound || code != "Request_ResourceNotFound" {
		t.Errorf("status %d code %q, want 404 Request_ResourceNotFound", status, code)
	}
	if want := "Resource 'nobody@contoso.example' does not exist or one of its queried reference-property objects are not present."; msg != want {
		t.Errorf("message = %q, want %q", msg, want)
	}
	inner := oe.GetErrorEscaped().GetInnerError()
	if inner == nil || inner.GetDate() == nil || deref(inner.GetRequestId()) == "" || deref(inner.GetClientRequestId()) == "" {
		t.Fatalf("innerError = %+v, want date (parsed by kiota), request-id and client-request-id", inner)
	}

	token := rawToken(t, e.sim, e.creds.TenantID, e.creds.ClientID, e.creds.ClientSecret)
	resp, body := rawDo(t, e.sim, http.MethodGet, "/v1.0/users/nobody", token, nil, "client-request-id: 0d9f4f0e-2222-4c4c-8888-0123456789ab")
	m := jsonObject(t, body)
	sameKeys(t, "error body", m, "error")
	ev := m["error"].(map[string]any)
	sameKeys(t, "error", ev, "code", "message", "innerError")
	ie := ev["innerError"].(map[string]any)
	sameKeys(t, "innerError", ie, "date", "request-id", "client-request-id")
	if d, _ := ie["date"].(string); !innerErrorDate.MatchString(d) {
		t.Errorf("innerError.date = %q, want YYYY-MM-DDTHH:MM:SS", d)
	}
	if ie["request-id"] != resp.Header.Get("request-id") || ie["client-request-id"] != "0d9f4f0e-2222-4c4c-8888-0123456789ab" {
		t.Errorf("innerError ids %v/%v do not match headers (request-id %q)", ie["request-id"], ie["client-request-id"], resp.Header.Get("request-id"))
	}
}

// (S11) The SDK silently omits the token for hosts not on its allowed list;
// the simulator answers like Graph.
func TestGraph_MissingBearerGives401InvalidAuthenticationToken(t *testing.T) {
	e := startDemoSim(t)
	cred := newCredential(t, e.sim, e.creds.TenantID, e.creds.ClientID, e.creds.ClientSecret)
	client := newGraphClient(t, e.sim, cred, []string{"graph.microsoft.com"})
	_, err := client.Users().Get(ctxT(t), nil)
	status, code, msg, _ := odataError(t, err)
	if status != http.StatusUnauthorized || code != "InvalidAuthenticationToken" || msg != "Access token is empty." {
		t.Errorf("got %d %s %q, want 401 InvalidAuthenticationToken \"Access token is empty.\"", status, code, msg)
	}
	if n := len(requestsTo(e.sim, http.MethodPost, "/"+e.creds.TenantID+"/oauth2")); n != 0 {
		t.Errorf("%d token requests for a host outside the allowed list, want 0", n)
	}

	// Invalid tokens.
	good := rawToken(t, e.sim, e.creds.TenantID, e.creds.ClientID, e.creds.ClientSecret)
	otherAud, err := e.sim.issueAccessToken(tokenSpec{tenantID: e.creds.TenantID, clientID: e.creds.ClientID, oid: "x", resource: "https://management.azure.com"})
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(good, ".")
	tampered := parts[0] + "." + parts[1] + "." + base64.RawURLEncoding.EncodeToString(make([]byte, 64))
	for _, tc := range []struct{ token, want string }{
		{"not-a-jwt", "IDX14100"},
		{tampered, "Access token validation failure"},
		{otherAud, "Access token validation failure. Invalid audience."},
	} {
		resp, body := rawDo(t, e.sim, http.MethodGet, "/v1.0/users", tc.token, nil)
		if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(string(body), `"InvalidAuthenticationToken"`) || !strings.Contains(string(body), tc.want) {
			t.Errorf("token %.20q: %d %s, want 401 InvalidAuthenticationToken mentioning %q", tc.token, resp.StatusCode, body, tc.want)
		}
	}
}

// (S11, §8)
func TestGraph_TokenWithoutMailRoleGives403ErrorAccessDenied(t *testing.T) {
	e := startDemoSim(t)
	if err := e.sim.SetGrantedRoles(e.creds.TenantID, e.creds.ClientID, []string{"User.Read.All"}); err != nil {
		t.Fatal(err)
	}
	client, _ := e.demoClient(t)
	uid := e.seed.Users[3].ID
	_, err := client.Users().ByUserId(uid).Messages().Get(ctxT(t), nil)
	status, code, msg, _ := odataError(t, err)
	if status != http.StatusForbidden || code != "ErrorAccessDenied" || msg != "Access is denied. Check credentials and try again." {
		t.Errorf("list messages without a mail role: %d %s %q, want 403 ErrorAccessDenied", status, code, msg)
	}
	body := users.NewItemSendMailPostRequestBody()
	body.SetMessage(newMessage("hi", e.seed.Users[4].Mail))
	err = client.Users().ByUserId(uid).SendMail().Post(ctxT(t), body, nil)
	if status, code, _, _ := odataError(t, err); status != http.StatusForbidden || code != "ErrorAccessDenied" {
		t.Errorf("sendMail without Mail.Send: %d %s, want 403 ErrorAccessDenied", status, code)
	}
}

// (S11, §8)
func TestGraph_TokenWithoutDirectoryRoleGives403AuthorizationRequestDenied(t *testing.T) {
	e := startDemoSim(t)
	if err := e.sim.SetGrantedRoles(e.creds.TenantID, e.creds.ClientID, []string{"Mail.ReadBasic.All"}); err != nil {
		t.Fatal(err)
	}
	client, _ := e.demoClient(t)
	_, err := client.Users().Get(ctxT(t), nil)
	status, code, msg, _ := odataError(t, err)
	if status != http.StatusForbidden || code != "Authorization_RequestDenied" || msg != "Insufficient privileges to complete the operation." {
		t.Errorf("list users without a directory role: %d %s %q, want 403 Authorization_RequestDenied", status, code, msg)
	}
	// The mail role still works.
	if _, err := client.Users().ByUserId(e.seed.Users[0].ID).Messages().Get(ctxT(t), nil); err != nil {
		t.Errorf("list messages with Mail.ReadBasic.All: %v", err)
	}
}

// (S11) Consent revoked after a token was issued: Graph sends a CAE claims
// challenge, kiota asks azidentity for a fresh token once, and that request
// fails with AADSTS65001 while consent stays revoked.
func TestGraph_RevokedConsentGivesCAEChallengeThenConsentError(t *testing.T) {
	e := startDemoSim(t)
	client, _ := e.demoClient(t)
	if _, err := client.Users().Get(ctxT(t), nil); err != nil {
		t.Fatalf("before revocation: %v", err)
	}
	if err := e.sim.RevokeConsent(e.creds.TenantID, e.creds.ClientID); err != nil {
		t.Fatal(err)
	}
	e.sim.ClearRequests()
	_, err := client.Users().Get(ctxT(t), nil)
	var afe *azidentity.AuthenticationFailedError
	if !errors.As(err, &afe) {
		t.Fatalf("after revocation: %T %v, want the credential's AuthenticationFailedError", err, err)
	}
	status, body := authFailure(t, err)
	checkIdentityError(t, status, body, http.StatusBadRequest, "invalid_grant", 65001)

	var seq []string
	for _, r := range e.sim.Requests() {
		seq = append(seq, fmt.Sprintf("%s %s %d", r.Method, r.Path, r.Status))
	}
	want := []string{
		"GET /v1.0/users 401",
		"POST /" + e.creds.TenantID + "/oauth2/v2.0/token 400",
	}
	if strings.Join(seq, "\n") != strings.Join(want, "\n") {
		t.Errorf("request sequence:\n%s\nwant:\n%s", strings.Join(seq, "\n"), strings.Join(want, "\n"))
	}

	// The challenge itself, raw.
	old := rawTokenIssuedBefore(t, e)
	resp, rb := rawDo(t, e.sim, http.MethodGet, "/v1.0/users", old, nil)
	wa := resp.Header.Get("WWW-Authenticate")
	m := regexp.MustCompile(`claims="([^"]+)"`).FindStringSubmatch(wa)
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(wa, `error="insufficient_claims"`) || m == nil {
		t.Fatalf("status %d WWW-Authenticate %q body %s: want 401 with an insufficient_claims challenge", resp.StatusCode, wa, rb)
	}
	claims, err := base64.StdEncoding.DecodeString(m[1])
	if err != nil || !regexp.MustCompile(`^\{"access_token":\{"nbf":\{"essential":true,"value":"\d+"\}\}\}$`).Match(claims) {
		t.Errorf("challenge claims = %q (%v), want base64 of {\"access_token\":{\"nbf\":{\"essential\":true,\"value\":\"<unix>\"}}}", claims, err)
	}

	// Consent restored: the same client recovers (CAE retry gets a new token).
	if err := e.sim.RestoreConsent(e.creds.TenantID, e.creds.ClientID); err != nil {
		t.Fatal(err)
	}
	if _, err := client.Users().Get(ctxT(t), nil); err != nil {
		t.Errorf("after RestoreConsent: %v", err)
	}
}

// rawTokenIssuedBefore returns a CAE-capable token issued under the
// previous consent generation.
func rawTokenIssuedBefore(t *testing.T, e *simEnv) string {
	t.Helper()
	tok, err := e.sim.issueAccessToken(tokenSpec{
		tenantID: e.creds.TenantID, clientID: e.creds.ClientID, oid: "x",
		resource: "https://graph.microsoft.com", roles: []string{"User.Read.All"}, cp1: true, consentGen: 0,
	})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// (S12)
func TestGraph_GzipRequestBodyIsDecompressed(t *testing.T) {
	e := startDemoSim(t)
	client, _ := e.demoClient(t)
	from, to := e.seed.Users[1], e.seed.Users[2]
	body := users.NewItemSendMailPostRequestBody()
	body.SetMessage(newMessage("gzip check", to.Mail))
	if err := client.Users().ByUserId(from.ID).SendMail().Post(ctxT(t), body, nil); err != nil {
		t.Fatalf("sendMail: %v", err)
	}
	recs := requestsTo(e.sim, http.MethodPost, "/v1.0/users/"+from.ID+"/sendMail")
	if len(recs) != 1 || recs[0].ContentEncoding != "gzip" || recs[0].Status != http.StatusAccepted {
		t.Fatalf("sendMail requests = %+v, want one gzip-encoded request answered 202", recs)
	}
	if inbox, _ := e.sim.Mailbox(e.creds.TenantID, to.ID, "inbox"); len(inbox) == 0 || inbox[0].Subject != "gzip check" {
		t.Errorf("gzip-encoded message not delivered; inbox head = %+v", inbox[:min(1, len(inbox))])
	}

	token := rawToken(t, e.sim, e.creds.TenantID, e.creds.ClientID, e.creds.ClientSecret)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	fmt.Fprintf(zw, `{"message":{"subject":"raw gzip","toRecipients":[{"emailAddress":{"address":%q}}]}}`, to.Mail)
	zw.Close()
	resp, rb := rawDo(t, e.sim, http.MethodPost, "/v1.0/users/"+from.ID+"/sendMail", token, &gz, "Content-Type: application/json", "Content-Encoding: gzip")
	if resp.StatusCode != http.StatusAccepted {
		t.Errorf("raw gzip sendMail: %d %s, want 202", resp.StatusCode, rb)
	}
	resp, _ = rawDo(t, e.sim, http.MethodPost, "/v1.0/users/"+from.ID+"/sendMail", token, strings.NewReader("x"), "Content-Type: application/json", "Content-Encoding: br")
	if resp.StatusCode != http.StatusUnsupportedMediaType {
		t.Errorf("unsupported Content-Encoding: status %d, want 415 (kiota then re-sends uncompressed)", resp.StatusCode)
	}
}

// (S13) The SDK serialises sendMail's parameters as "Message" and
// "SaveToSentItems".
func TestGraph_JSONPropertyNamesMatchCaseInsensitively(t *testing.T) {
	e := startDemoSim(t)
	client, _ := e.demoClient(t)
	from, to := e.seed.Users[5], e.seed.Users[6]
	sentBefore, _ := e.sim.Mailbox(e.creds.TenantID, from.ID, "sentitems")

	body := users.NewItemSendMailPostRequestBody()
	body.SetMessage(newMessage("PascalCase parameters", to.Mail))
	no := false
	body.SetSaveToSentItems(&no)
	if err := client.Users().ByUserId(from.ID).SendMail().Post(ctxT(t), body, nil); err != nil {
		t.Fatalf("sendMail: %v", err)
	}
	if inbox, _ := e.sim.Mailbox(e.creds.TenantID, to.ID, "inbox"); len(inbox) == 0 || inbox[0].Subject != "PascalCase parameters" {
		t.Errorf("\"Message\" was not read: recipient inbox head %+v", inbox[:min(1, len(inbox))])
	}
	if sent, _ := e.sim.Mailbox(e.creds.TenantID, from.ID, "sentitems"); len(sent) != len(sentBefore) {
		t.Errorf("\"SaveToSentItems\": false was ignored: sent items %d -> %d", len(sentBefore), len(sent))
	}

	token := rawToken(t, e.sim, e.creds.TenantID, e.creds.ClientID, e.creds.ClientSecret)
	raw := fmt.Sprintf(`{"MESSAGE":{"Subject":"odd casing","Body":{"ContentType":"Text","Content":"x"},"ToRecipients":[{"EmailAddress":{"Address":%q}}]},"savetosentitems":"false"}`, to.Mail)
	resp, rb := rawDo(t, e.sim, http.MethodPost, "/v1.0/users/"+from.ID+"/sendMail", token, strings.NewReader(raw), "Content-Type: application/json")
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("raw sendMail: %d %s", resp.StatusCode, rb)
	}
	if inbox, _ := e.sim.Mailbox(e.creds.TenantID, to.ID, "inbox"); inbox[0].Subject != "odd casing" || inbox[0].BodyText != "x" {
		t.Errorf("odd-cased body not understood: %+v", inbox[0])
	}
}

// (S14)
func TestGraph_PercentEncodedAndLiteralDollarQueryOptionsAreTheSame(t *testing.T) {
	e := startDemoSim(t)
	token := rawToken(t, e.sim, e.creds.TenantID, e.creds.ClientID, e.creds.ClientSecret)
	_, a := rawDo(t, e.sim, http.MethodGet, "/v1.0/users?$select=displayName,mail&$top=3", token, nil)
	_, b := rawDo(t, e.sim, http.MethodGet, "/v1.0/users?%24select=displayName,mail&%24top=3", token, nil)
	va, vb := jsonObject(t, a)["value"], jsonObject(t, b)["value"]
	if fmt.Sprint(va) != fmt.Sprint(vb) || len(va.([]any)) != 3 {
		t.Errorf("$select/$top and %%24select/%%24top differ:\n%s\n%s", a, b)
	}
	sameKeys(t, "selected user", va.([]any)[0].(map[string]any), "displayName", "mail")

	// Through the SDK, which percent-encodes and then decodes "$" again.
	client, _ := e.demoClient(t)
	top := int32(2)
	page, err := client.Users().Get(ctxT(t), &users.UsersRequestBuilderGetRequestConfiguration{
		QueryParameters: &users.UsersRequestBuilderGetQueryParameters{Select: []string{"displayName", "id"}, Top: &top},
	})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(page.GetValue()); n != 2 || page.GetValue()[0].GetMail() != nil || page.GetValue()[0].GetDisplayName() == nil {
		t.Errorf("SDK $select/$top: %d users, mail %v: want 2 users with displayName only", n, page.GetValue()[0].GetMail())
	}
}

// (S14) /me is the delegated token's user; app-only tokens are refused.
func TestGraph_MeResolvesToDelegatedTokenOid(t *testing.T) {
	e := startDemoSim(t)
	me := e.seed.Users[7]
	tok := mintDelegatedToken(t, e.sim, e.creds.TenantID, me.ID, "User.Read Mail.Read")
	client := newStaticTokenClient(t, e.sim, tok)
	u, err := client.Me().Get(ctxT(t), nil)
	if err != nil {
		t.Fatalf("GET /me: %v", err)
	}
	if deref(u.GetId()) != me.ID || deref(u.GetUserPrincipalName()) != me.UserPrincipalName {
		t.Errorf("/me = %s %s, want %s %s", deref(u.GetId()), deref(u.GetUserPrincipalName()), me.ID, me.UserPrincipalName)
	}
	msgs, err := client.Me().Messages().Get(ctxT(t), nil)
	if err != nil {
		t.Fatalf("GET /me/messages: %v", err)
	}
	if len(msgs.GetValue()) != len(me.Messages) {
		t.Errorf("/me/messages returned %d messages, want %d (the token user's inbox)", len(msgs.GetValue()), len(me.Messages))
	}
	if recs := requestsTo(e.sim, http.MethodGet, "/v1.0/me"); len(recs) != 2 {
		t.Errorf("requests to /v1.0/me = %d, want 2 (the SDK sends /me)", len(recs))
	}
	// A delegated caller cannot read someone else's mailbox.
	_, err = client.Users().ByUserId(e.seed.Users[8].ID).Messages().Get(ctxT(t), nil)
	if status, code, _, _ := odataError(t, err); status != http.StatusForbidden || code != "ErrorAccessDenied" {
		t.Errorf("delegated read of another mailbox: %d %s, want 403 ErrorAccessDenied", status, code)
	}

	app, _ := e.demoClient(t)
	_, err = app.Me().Get(ctxT(t), nil)
	status, code, msg, _ := odataError(t, err)
	if status != http.StatusBadRequest || code != "BadRequest" || msg != "/me request is only valid with delegated authentication flow." {
		t.Errorf("app-only /me: %d %s %q, want 400 BadRequest", status, code, msg)
	}
}

// (S15)
func TestGraph_NextLinkIsAbsoluteOnRequestHostAndPortUnderV1(t *testing.T) {
	e := startDemoSim(t)
	client, _ := e.demoClient(t)
	top := int32(5)
	page, err := client.Users().Get(ctxT(t), &users.UsersRequestBuilderGetRequestConfiguration{
		QueryParameters: &users.UsersRequestBuilderGetQueryParameters{Top: &top},
	})
	if err != nil {
		t.Fatal(err)
	}
	if next := deref(page.GetOdataNextLink()); !strings.HasPrefix(next, e.sim.GraphBaseURL()+"/users?") || !strings.Contains(next, "$skiptoken=") {
		t.Errorf("@odata.nextLink = %q, want %s/users?...$skiptoken=...", next, e.sim.GraphBaseURL())
	}

	token := rawToken(t, e.sim, e.creds.TenantID, e.creds.ClientID, e.creds.ClientSecret)
	ipBase := "https://127.0.0.1:" + strconv.Itoa(e.sim.Port()) + "/v1.0"
	for _, path := range []string{"/users?$top=4", "/users/" + e.seed.Users[35].ID + "/messages?$top=2"} {
		_, body := rawDo(t, e.sim, http.MethodGet, ipBase+path, token, nil)
		next, _ := jsonObject(t, body)["@odata.nextLink"].(string)
		wantPrefix := ipBase + strings.SplitN(path, "?", 2)[0] + "?"
		if !strings.HasPrefix(next, wantPrefix) {
			t.Errorf("GET %s: nextLink %q, want prefix %q (the request's own host and port)", path, next, wantPrefix)
		}
	}
}

// newMessage builds an SDK message to one recipient.
func newMessage(subject, to string) models.Messageable {
	m := models.NewMessage()
	m.SetSubject(&subject)
	b := models.NewItemBody()
	ct := models.TEXT_BODYTYPE
	b.SetContentType(&ct)
	content := "Body of " + subject
	b.SetContent(&content)
	m.SetBody(b)
	if to != "" {
		r := models.NewRecipient()
		ea := models.NewEmailAddress()
		ea.SetAddress(&to)
		r.SetEmailAddress(ea)
		m.SetToRecipients([]models.Recipientable{r})
	}
	return m
}
