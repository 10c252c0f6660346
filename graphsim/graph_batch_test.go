package graphsim

// JSON batching (concepts/json-batching.md, graph-behavior §7 "$batch", S48).

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	abstractions "github.com/microsoft/kiota-abstractions-go"
	msgraphcore "github.com/microsoftgraph/msgraph-sdk-go-core"
	"github.com/microsoftgraph/msgraph-sdk-go/models"
	"github.com/microsoftgraph/msgraph-sdk-go/users"
)

// batchResp is one entry of a $batch answer.
type batchResp struct {
	ID      string            `json:"id"`
	Status  int               `json:"status"`
	Headers map[string]string `json:"headers"`
	Body    json.RawMessage   `json:"body"`
}

// postBatch sends body to /v1.0/$batch with Content-Type application/json
// (unless headers override it).
func postBatch(t *testing.T, sim *Server, tok, body string, headers ...string) (*http.Response, []byte) {
	t.Helper()
	return rawDo(t, sim, http.MethodPost, "/v1.0/$batch", tok, strings.NewReader(body),
		append([]string{"Content-Type: application/json"}, headers...)...)
}

// batchOK posts a batch that must succeed and returns its responses in order.
func batchOK(t *testing.T, sim *Server, tok, body string) []batchResp {
	t.Helper()
	resp, b := postBatch(t, sim, tok, body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("$batch status %d, want 200: %s", resp.StatusCode, b)
	}
	var env struct {
		Responses []batchResp `json:"responses"`
	}
	if err := json.Unmarshal(b, &env); err != nil {
		t.Fatalf("$batch body: %v\n%s", err, b)
	}
	return env.Responses
}

func byID(rs []batchResp) map[string]batchResp {
	m := map[string]batchResp{}
	for _, r := range rs {
		m[r.ID] = r
	}
	return m
}

func errCode(t *testing.T, r batchResp) string {
	t.Helper()
	var e struct {
		Error struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	if err := json.Unmarshal(r.Body, &e); err != nil {
		t.Fatalf("item %s body is not an error object: %v\n%s", r.ID, err, r.Body)
	}
	return e.Error.Code
}

func batchJSON(t *testing.T, reqs ...map[string]any) string {
	t.Helper()
	b, err := json.Marshal(map[string]any{"requests": reqs})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func get(id, url string) map[string]any {
	return map[string]any{"id": id, "method": "GET", "url": url}
}

// The typical use: well-known folder ids of one mailbox in one round trip,
// with a mix of 200 and 404 items, in the documented response shape.
func TestBatch_WellKnownFoldersMixed200And404InDocumentedShape(t *testing.T) {
	t.Parallel()
	e := startMailSim(t, 2)
	tok := rawToken(t, e.sim, e.creds.TenantID, e.creds.ClientID, e.creds.ClientSecret)
	uid := e.seed.Users[0].ID
	_, direct := rawDo(t, e.sim, http.MethodGet, "/v1.0/users/"+uid+"/mailFolders/inbox?$select=id", tok, nil)
	inboxID := jsonObject(t, direct)["id"]

	wellKnown := []string{"inbox", "sentitems", "drafts", "deleteditems", "junkemail", "archive", "outbox"}
	var reqs []map[string]any
	for i, n := range wellKnown {
		u := "/users/" + uid + "/mailFolders/" + n + "?$select=id"
		if i%2 == 1 {
			u = strings.TrimPrefix(u, "/") // url may omit the leading slash
		}
		reqs = append(reqs, get(fmt.Sprint(i), u))
	}
	reqs = append(reqs,
		get("missing", "/users/"+uid+"/mailFolders/AAMkAGVmMDEzMTM4LTZmYWUtNDdkNC1hMDZiLTU1OGY5OTZhYmY4OAAuAAAAAAAiQ8W967B7TKBjgx9rVEURAQAiIsqMbYjsT5e-T7KzowPTAAAAAAEMAAA="),
		get("nouser", "/users/nobody@fabrikam.example/mailFolders/inbox"),
		get("conv", "/users/"+uid+"/mailFolders/conversationhistory?$select=id"),
	)
	e.sim.ClearRequests()
	rs := batchOK(t, e.sim, tok, batchJSON(t, reqs...))

	if len(rs) != len(reqs) {
		t.Fatalf("%d responses for %d requests", len(rs), len(reqs))
	}
	for i, r := range rs { // request order (Graph may reorder; clients match by id)
		if r.ID != reqs[i]["id"] {
			t.Errorf("response %d has id %q, want %q", i, r.ID, reqs[i]["id"])
		}
	}
	for i := range wellKnown {
		r := rs[i]
		if r.Status != 200 {
			t.Errorf("%s: status %d, body %s", wellKnown[i], r.Status, r.Body)
			continue
		}
		// The documented item headers: Cache-Control, OData-Version and the
		// minimal-metadata content type; no per-HTTP-response headers.
		if r.Headers["Cache-Control"] != "no-cache" || r.Headers["OData-Version"] != "4.0" || r.Headers["Content-Type"] != contentTypeOData {
			t.Errorf("%s: headers %v", wellKnown[i], r.Headers)
		}
		for _, h := range []string{"request-id", "client-request-id", "Content-Length", "Date"} {
			if _, ok := r.Headers[h]; ok {
				t.Errorf("%s: item header %s should stay on the batch response", wellKnown[i], h)
			}
		}
		body := jsonObject(t, r.Body) // an object, not a string
		sameKeys(t, wellKnown[i], body, "@odata.context", "id")
		if !strings.HasSuffix(body["@odata.context"].(string), "/v1.0/$metadata#users('"+uid+"')/mailFolders(id)/$entity") {
			t.Errorf("%s: @odata.context %v", wellKnown[i], body["@odata.context"])
		}
	}
	if got := jsonObject(t, rs[0].Body)["id"]; got != inboxID {
		t.Errorf("inbox id in batch %v, direct %v", got, inboxID)
	}
	m := byID(rs)
	if r := m["missing"]; r.Status != 404 || errCode(t, r) != "ErrorItemNotFound" || r.Headers["Content-Type"] != contentTypeJSON {
		t.Errorf("unknown folder id: %d %v %s", r.Status, r.Headers, r.Body)
	}
	if r := m["nouser"]; r.Status != 404 {
		t.Errorf("unknown mailbox: %d %s", r.Status, r.Body)
	}
	// Simulated mailboxes have no Conversation History folder; whatever
	// GET mailFolders/conversationhistory answers alone, it answers inside
	// a batch too.
	_, alone := rawDo(t, e.sim, http.MethodGet, "/v1.0/users/"+uid+"/mailFolders/conversationhistory?$select=id", tok, nil)
	if r := m["conv"]; r.Status < 400 || !jsonEqual(t, r.Body, alone, "error.code") {
		t.Errorf("conversationhistory in batch: %d %s; alone: %s", r.Status, r.Body, alone)
	}

	// The request log records the one $batch on the wire and each of its
	// items, marked as such, with what it answered.
	var envelopes, items, directs int
	for _, r := range e.sim.Requests() {
		switch {
		case r.Path == "/v1.0/$batch":
			envelopes++
			if r.Method != http.MethodPost || r.Status != 200 || r.TenantID != e.creds.TenantID || r.BatchItem {
				t.Errorf("batch record %+v", r)
			}
		case r.BatchItem:
			items++
			if r.TenantID != e.creds.TenantID || r.Status == 0 || !strings.HasPrefix(r.Path, "/v1.0/") {
				t.Errorf("item record %+v", r)
			}
		case strings.HasPrefix(r.Path, "/v1.0/users"):
			directs++ // the direct conversationhistory GET
		}
	}
	if envelopes != 1 || items != len(m) || directs != 1 {
		t.Errorf("request log: %d batches, %d items (want %d), %d direct requests; want 1, %d, 1", envelopes, items, len(m), directs, len(m))
	}
}

// jsonEqual compares one dotted path of two JSON documents.
func jsonEqual(t *testing.T, a, b []byte, path string) bool {
	t.Helper()
	pick := func(doc []byte) any {
		var v any = jsonObject(t, doc)
		for _, k := range strings.Split(path, ".") {
			m, _ := v.(map[string]any)
			v = m[k]
		}
		return v
	}
	x, y := pick(a), pick(b)
	return x != nil && x == y
}

// A delegated token's /me works inside a batch; an app-only one gets the
// /me error per item.
func TestBatch_MeWithDelegatedAndAppOnlyTokens(t *testing.T) {
	t.Parallel()
	e := startMailSim(t, 1)
	uid := e.seed.Users[0].ID
	del := mintDelegatedToken(t, e.sim, e.creds.TenantID, uid, "Mail.Read User.Read")
	rs := batchOK(t, e.sim, del, batchJSON(t, get("1", "/me/mailFolders/inbox?$select=id,displayName"), get("2", "me?$select=id")))
	if rs[0].Status != 200 || jsonObject(t, rs[0].Body)["displayName"] != "Inbox" {
		t.Errorf("/me inbox: %d %s", rs[0].Status, rs[0].Body)
	}
	if rs[1].Status != 200 || jsonObject(t, rs[1].Body)["id"] != uid || rs[1].Headers["x-ms-resource-unit"] != "1" {
		t.Errorf("/me: %d %v %s", rs[1].Status, rs[1].Headers, rs[1].Body)
	}
	app := rawToken(t, e.sim, e.creds.TenantID, e.creds.ClientID, e.creds.ClientSecret)
	rs = batchOK(t, e.sim, app, batchJSON(t, get("1", "/me")))
	if rs[0].Status != 400 || errCode(t, rs[0]) != "BadRequest" {
		t.Errorf("/me app-only: %d %s", rs[0].Status, rs[0].Body)
	}
}

// A POST item (sendMail) runs with its body and Content-Type header, and
// answers 202 without a body; a write item without Content-Type fails the
// whole batch with Graph's observed text. The outer body may be gzipped
// (kiota's compression handler).
func TestBatch_PostSendMailItemAndWriteWithoutContentType(t *testing.T) {
	t.Parallel()
	e := startMailSim(t, 0)
	tok := rawToken(t, e.sim, e.creds.TenantID, e.creds.ClientID, e.creds.ClientSecret)
	big, ann := e.seed.Users[0], e.seed.Users[1]
	send := map[string]any{
		"id": "send", "method": "POST", "url": "/users/" + big.ID + "/sendMail",
		"headers": map[string]any{"Content-Type": "application/json"},
		"body": map[string]any{"message": map[string]any{
			"subject":      "Batched hello",
			"body":         map[string]any{"contentType": "Text", "content": "hi"},
			"toRecipients": []any{map[string]any{"emailAddress": map[string]any{"address": ann.Mail}}},
		}},
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte(batchJSON(t, send, get("after", "/users/"+ann.ID+"/mailFolders/inbox?$select=totalItemCount"))))
	zw.Close()
	resp, b := rawDo(t, e.sim, http.MethodPost, "/v1.0/$batch", tok, &gz, "Content-Type: application/json", "Content-Encoding: gzip")
	if resp.StatusCode != 200 {
		t.Fatalf("status %d %s", resp.StatusCode, b)
	}
	var env struct{ Responses []batchResp }
	json.Unmarshal(b, &env)
	rs := byID(env.Responses)
	if r := rs["send"]; r.Status != http.StatusAccepted || r.Body != nil {
		t.Errorf("sendMail item: %d headers %v body %s, want 202 without body", r.Status, r.Headers, r.Body)
	}
	msgs, err := e.sim.Mailbox(e.creds.TenantID, ann.Mail, "inbox")
	if err != nil || len(msgs) != 1 || msgs[0].Subject != "Batched hello" {
		t.Errorf("ann's inbox after the batch: %+v, %v", msgs, err)
	}

	noCT := map[string]any{"id": "1", "method": "POST", "url": "/users/" + big.ID + "/sendMail", "body": send["body"]}
	resp, b = postBatch(t, e.sim, tok, batchJSON(t, noCT))
	if resp.StatusCode != 400 || !strings.Contains(string(b), "Write request id : 1 does not contain Content-Type header or body.") {
		t.Errorf("write item without Content-Type: %d %s", resp.StatusCode, b)
	}
	if msgs, _ := e.sim.Mailbox(e.creds.TenantID, ann.Mail, "inbox"); len(msgs) != 1 {
		t.Errorf("a refused batch ran its items: %d messages", len(msgs))
	}
}

// dependsOn: a sequential batch runs in order; an item whose prerequisite
// failed answers 424, and so do items depending on it.
func TestBatch_DependsOnChainFailedDependencyGives424(t *testing.T) {
	t.Parallel()
	e := startMailSim(t, 1)
	tok := rawToken(t, e.sim, e.creds.TenantID, e.creds.ClientID, e.creds.ClientSecret)
	uid := e.seed.Users[0].ID
	dep := func(m map[string]any, on ...string) map[string]any { m["dependsOn"] = on; return m }
	rs := batchOK(t, e.sim, tok, batchJSON(t,
		get("1", "/users/"+uid+"/mailFolders/inbox"),
		dep(get("2", "/users/"+uid+"/mailFolders/AAMkAGVmMDEzMTM4LTZmYWUtNDdkNC1hMDZiLTU1OGY5OTZhYmY4OAAuAAAAAA="), "1"),
		dep(get("4", "/users/"+uid+"/mailFolders/drafts"), "2"),
		dep(get("3", "/users/"+uid+"/mailFolders/outbox"), "4"),
	))
	want := []string{"1:200", "2:404", "4:424", "3:424"}
	var got []string
	for _, r := range rs {
		got = append(got, fmt.Sprintf("%s:%d", r.ID, r.Status))
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("statuses %v, want %v", got, want)
	}
	if c := errCode(t, rs[2]); c != "FailedDependency" || rs[2].Headers["Content-Type"] != contentTypeJSON {
		t.Errorf("424 item: %v %s", rs[2].Headers, rs[2].Body)
	}

	// All succeed in order when the chain is healthy.
	rs = batchOK(t, e.sim, tok, batchJSON(t,
		get("a", "/users/"+uid+"/mailFolders/inbox"),
		dep(get("b", "/users/"+uid+"/mailFolders/drafts"), "A"), // ids compare case-insensitively
	))
	if rs[0].Status != 200 || rs[1].Status != 200 {
		t.Errorf("healthy chain: %d %d", rs[0].Status, rs[1].Status)
	}

	// Mixed and forward dependencies are refused as a whole.
	for name, body := range map[string]string{
		"mixed":   batchJSON(t, get("1", "/users/"+uid), get("3", "/users/"+uid), dep(get("2", "/users/"+uid), "1", "3"), dep(get("4", "/users/"+uid), "2")),
		"forward": batchJSON(t, dep(get("1", "/users/"+uid), "2"), get("2", "/users/"+uid)),
		"unknown": batchJSON(t, get("1", "/users/"+uid), dep(get("2", "/users/"+uid), "9")),
		"self":    batchJSON(t, get("1", "/users/"+uid), dep(get("2", "/users/"+uid), "2")),
	} {
		resp, b := postBatch(t, e.sim, tok, body)
		if resp.StatusCode != 400 || !strings.Contains(string(b), `"BadRequest"`) {
			t.Errorf("%s dependencies: %d %s", name, resp.StatusCode, b)
		}
	}
}

// Malformed batches answer 400 (json-batching.md), an unauthenticated one
// 401, a non-JSON one 415.
func TestBatch_RefusedBatches(t *testing.T) {
	t.Parallel()
	e := startMailSim(t, 0)
	tok := rawToken(t, e.sim, e.creds.TenantID, e.creds.ClientID, e.creds.ClientSecret)
	uid := e.seed.Users[0].ID
	var twentyOne, twenty []map[string]any
	for i := 0; i < 21; i++ {
		twentyOne = append(twentyOne, get(fmt.Sprint(i), "/users/"+uid))
	}
	twenty = twentyOne[:20]

	cases := []struct {
		name, body, want string
	}{
		{"21 requests", batchJSON(t, twentyOne...), "Limit of 20 requests per batch exceeded."},
		{"not JSON", `{"requests":[`, "Invalid batch payload format."},
		{"no requests", `{"value":[]}`, "Invalid batch payload format."},
		{"empty requests", `{"requests":[]}`, "Invalid batch payload format."},
		{"requests not an array", `{"requests":{"id":"1"}}`, "Invalid batch payload format."},
		{"missing method", `{"requests":[{"id":"1","url":"/users"}]}`, "Invalid batch payload format."},
		{"missing id", `{"requests":[{"method":"GET","url":"/users"}]}`, "Invalid batch payload format."},
		{"absolute url", `{"requests":[{"id":"1","method":"GET","url":"https://graph.microsoft.com/v1.0/users"}]}`, "Invalid batch payload format."},
		{"duplicate id", batchJSON(t, get("a", "/users"), get("A", "/users")), "Request Id A has to be unique in a batch."},
	}
	for _, c := range cases {
		resp, b := postBatch(t, e.sim, tok, c.body)
		if resp.StatusCode != 400 {
			t.Errorf("%s: status %d, want 400: %s", c.name, resp.StatusCode, b)
			continue
		}
		ev := jsonObject(t, b)["error"].(map[string]any)
		if ev["code"] != "BadRequest" || ev["message"] != c.want {
			t.Errorf("%s: error %v, want BadRequest %q", c.name, ev, c.want)
		}
	}
	if rs := batchOK(t, e.sim, tok, batchJSON(t, twenty...)); len(rs) != 20 {
		t.Errorf("20 requests: %d responses", len(rs))
	}

	resp, b := postBatch(t, e.sim, "", batchJSON(t, get("1", "/users")))
	if resp.StatusCode != 401 || !strings.Contains(string(b), `"InvalidAuthenticationToken"`) || resp.Header.Get("WWW-Authenticate") == "" {
		t.Errorf("no token: %d %s", resp.StatusCode, b)
	}
	resp, b = postBatch(t, e.sim, "not-a-jwt", batchJSON(t, get("1", "/users")))
	if resp.StatusCode != 401 {
		t.Errorf("bad token: %d %s", resp.StatusCode, b)
	}
	resp, b = postBatch(t, e.sim, tok, batchJSON(t, get("1", "/users")), "Content-Type: text/plain")
	if resp.StatusCode != http.StatusUnsupportedMediaType {
		t.Errorf("text/plain batch: %d %s", resp.StatusCode, b)
	}
	resp, b = rawDo(t, e.sim, http.MethodGet, "/v1.0/$batch", tok, nil)
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET $batch: %d %s", resp.StatusCode, b)
	}
	// A nested batch is refused per item.
	rs := batchOK(t, e.sim, tok, `{"requests":[{"id":"1","method":"POST","url":"/$batch","headers":{"Content-Type":"application/json"},"body":{"requests":[]}}]}`)
	if rs[0].Status != 400 {
		t.Errorf("nested batch item: %d %s", rs[0].Status, rs[0].Body)
	}
}

// Items are throttled one by one: an injected 429 on an item's path gives
// that item status 429 with Retry-After in its own headers, the batch 200.
// Faults on the $batch path itself answer the whole batch.
func TestBatch_InnerFault429WithRetryAfterInItemHeaders(t *testing.T) {
	t.Parallel()
	e := startMailSim(t, 0)
	tok := rawToken(t, e.sim, e.creds.TenantID, e.creds.ClientID, e.creds.ClientSecret)
	uid := e.seed.Users[0].ID
	fid := e.sim.InjectFault(Fault{Method: "GET", Path: "/v1.0/users/" + uid + "/mailFolders/inbox", Status: 429, RetryAfter: 7, Count: 1})
	e.sim.InjectFault(Fault{Path: "/v1.0/users/" + uid + "/mailFolders/archive", Status: 503, Count: 1})
	rs := byID(batchOK(t, e.sim, tok, batchJSON(t,
		get("inbox", "/users/"+uid+"/mailFolders/inbox?$select=id"),
		get("drafts", "/users/"+uid+"/mailFolders/drafts?$select=id"),
		get("archive", "/users/"+uid+"/mailFolders/archive?$select=id"),
	)))
	if r := rs["inbox"]; r.Status != 429 || r.Headers["Retry-After"] != "7" || errCode(t, r) != "TooManyRequests" {
		t.Errorf("throttled item: %d %v %s", r.Status, r.Headers, r.Body)
	}
	if r := rs["archive"]; r.Status != 503 || errCode(t, r) != "serviceNotAvailable" {
		t.Errorf("503 item: %d %s", r.Status, r.Body)
	}
	if rs["drafts"].Status != 200 {
		t.Errorf("drafts: %d", rs["drafts"].Status)
	}
	for _, f := range e.sim.Faults() {
		if f.ID == fid {
			t.Errorf("the Count:1 fault was not consumed by the batch item")
		}
	}

	// A fault on /v1.0/$batch answers the batch itself.
	e.sim.InjectFault(Fault{Path: "/v1.0/$batch", Status: 429, RetryAfter: 3, Count: 1})
	resp, b := postBatch(t, e.sim, tok, batchJSON(t, get("1", "/users/"+uid)))
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "3" {
		t.Errorf("faulted batch: %d %s", resp.StatusCode, b)
	}

	// A connection-reset fault on an item resets the batch's connection.
	e.sim.InjectFault(Fault{Path: "/v1.0/users/" + uid + "/mailFolders/drafts", Reset: true, Count: 1})
	req, _ := http.NewRequest(http.MethodPost, e.sim.URL()+"/v1.0/$batch", strings.NewReader(batchJSON(t, get("1", "/users/"+uid+"/mailFolders/drafts"))))
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	if resp, err := tlsClient(e.sim).Do(req); err == nil {
		resp.Body.Close()
		t.Errorf("item reset fault: got status %d, want a transport error", resp.StatusCode)
	}
}

// Items count against the per-(app, mailbox) limits one by one, and
// unordered items run at most 4 at a time (§7), so a batch alone never
// exceeds the concurrency limit; the rate limit throttles the excess items.
func TestBatch_ItemsCountAgainstMailboxLimits(t *testing.T) {
	t.Parallel()
	e := startMailSim(t, 0)
	tok := rawToken(t, e.sim, e.creds.TenantID, e.creds.ClientID, e.creds.ClientSecret)
	uid := e.seed.Users[0].ID
	e.sim.SetLatency(Latency{Fixed: 30 * time.Millisecond})
	e.sim.SetMailboxLimits(GraphMailboxLimits)
	var reqs []map[string]any
	for i := 0; i < 12; i++ {
		reqs = append(reqs, get(fmt.Sprint(i), "/users/"+uid+"/mailFolders/inbox?$select=id"))
	}
	rs := batchOK(t, e.sim, tok, batchJSON(t, reqs...))
	for _, r := range rs {
		if r.Status != 200 {
			t.Errorf("item %s: %d %s", r.ID, r.Status, r.Body)
		}
	}
	if n := e.sim.MaxInFlight(e.creds.TenantID, uid); n != batchParallelism {
		t.Errorf("MaxInFlight = %d, want %d (unordered items run 4 at a time)", n, batchParallelism)
	}

	// Another mailbox, whose window holds no requests yet.
	e.sim.SetLatency(Latency{})
	e.sim.SetMailboxLimits(MailboxLimits{Requests: 3, Window: time.Minute})
	ann := e.seed.Users[1].ID
	rs = batchOK(t, e.sim, tok, batchJSON(t,
		get("0", "/users/"+ann+"/mailFolders/inbox"), get("1", "/users/"+ann+"/mailFolders/drafts"),
		get("2", "/users/"+ann+"/mailFolders/outbox"), get("3", "/users/"+ann+"/mailFolders/archive"),
		get("4", "/users/"+ann+"/mailFolders/sentitems"), get("dir", "/users/"+ann+"/manager")))
	n200, n429 := 0, 0
	for _, r := range rs {
		switch r.Status {
		case 200:
			n200++
		case 404: // manager: a directory request, not counted against the mailbox
		case 429:
			n429++
			if r.Headers["Retry-After"] == "" {
				t.Errorf("throttled item %s without Retry-After: %v", r.ID, r.Headers)
			}
		}
	}
	if n200 != 3 || n429 != 2 {
		t.Errorf("with 3 requests a minute: %d × 200, %d × 429, want 3 and 2", n200, n429)
	}
}

// Item headers (Prefer, ConsistencyLevel, ...) reach the item's handler.
func TestBatch_ItemHeadersAreHonoured(t *testing.T) {
	t.Parallel()
	e := startMailSim(t, 5)
	tok := rawToken(t, e.sim, e.creds.TenantID, e.creds.ClientID, e.creds.ClientSecret)
	uid := e.seed.Users[0].ID
	rs := batchOK(t, e.sim, tok, batchJSON(t,
		map[string]any{"id": "paged", "method": "GET", "url": "/users/" + uid + "/mailFolders/inbox/messages?$select=id",
			"headers": map[string]any{"Prefer": "odata.maxpagesize=2"}},
		get("plain", "/users/"+uid+"/mailFolders/inbox/messages?$select=id"),
	))
	paged := jsonObject(t, rs[0].Body)
	if n := len(paged["value"].([]any)); n != 2 || rs[0].Headers["Preference-Applied"] != "odata.maxpagesize=2" {
		t.Errorf("Prefer odata.maxpagesize=2: %d items, headers %v", n, rs[0].Headers)
	}
	if link, _ := paged["@odata.nextLink"].(string); !strings.HasPrefix(link, e.sim.GraphBaseURL()+"/users/") {
		t.Errorf("nextLink %q should point at the simulator's /v1.0 item URL", link)
	}
	if n := len(jsonObject(t, rs[1].Body)["value"].([]any)); n != 5 {
		t.Errorf("without Prefer: %d items", n)
	}
}

// The unmodified SDK's batch support (msgraph-sdk-go-core BatchRequest)
// works against the endpoint: items built from request builders, the
// response parsed by id into models.
func TestBatch_SDKBatchRequest(t *testing.T) {
	e := startMailSim(t, 0)
	cred := newCredential(t, e.sim, e.creds.TenantID, e.creds.ClientID, e.creds.ClientSecret)
	client := newGraphClient(t, e.sim, cred, nil)
	ctx := ctxT(t)
	uid := e.seed.Users[0].ID
	adapter := client.GetAdapter()

	batch := msgraphcore.NewBatchRequest(adapter)
	ids := map[string]string{}
	for _, name := range []string{"inbox", "sentitems", "drafts", "deleteditems", "junkemail", "archive", "outbox"} {
		ri, err := client.Users().ByUserId(uid).MailFolders().ByMailFolderId(name).ToGetRequestInformation(ctx,
			&users.ItemMailFoldersMailFolderItemRequestBuilderGetRequestConfiguration{
				QueryParameters: &users.ItemMailFoldersMailFolderItemRequestBuilderGetQueryParameters{Select: []string{"id", "displayName"}},
			})
		if err != nil {
			t.Fatal(err)
		}
		item, err := batch.AddBatchRequestStep(*ri)
		if err != nil {
			t.Fatal(err)
		}
		ids[name] = *item.GetId()
	}
	missing, err := client.Users().ByUserId(uid).MailFolders().ByMailFolderId("AAMkAGVmMDEzMTM4LTZmYWUtNDdkNC1hMDZiLTU1OGY5OTZhYmY4OAAuAAAAAA=").ToGetRequestInformation(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	missingItem, err := batch.AddBatchRequestStep(*missing)
	if err != nil {
		t.Fatal(err)
	}
	e.sim.ClearRequests()
	resp, err := batch.Send(ctx, adapter)
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	for name, id := range ids {
		f, err := msgraphcore.GetBatchResponseById[models.MailFolderable](resp, id, models.CreateMailFolderFromDiscriminatorValue)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if f.GetId() == nil || *f.GetId() == "" || f.GetDisplayName() == nil {
			t.Errorf("%s: folder %v", name, f)
		}
	}
	if got := resp.GetFailedResponses(); len(got) != 1 || got[*missingItem.GetId()] != 404 {
		t.Errorf("failed responses %v, want only the unknown folder with 404", got)
	}
	recs := requestsTo(e.sim, http.MethodPost, "/v1.0/$batch")
	if len(recs) != 1 || recs[0].Status != 200 || recs[0].ContentEncoding != "gzip" {
		t.Errorf("batch records %+v, want one gzipped POST answered 200", recs)
	}

	// A 21st item is refused by the SDK before anything is sent.
	full := msgraphcore.NewBatchRequest(adapter)
	for i := 0; i < 21; i++ {
		ri := abstractions.NewRequestInformation()
		ri.Method = abstractions.GET
		ri.UrlTemplate = "{+baseurl}/users"
		if _, err := full.AddBatchRequestStep(*ri); err != nil {
			if i != 20 {
				t.Errorf("item %d refused: %v", i+1, err)
			}
			break
		}
		if i == 20 {
			t.Errorf("the SDK accepted a 21st item")
		}
	}
}
