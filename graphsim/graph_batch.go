package graphsim

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// JSON batching: POST /v1.0/$batch (graph-behavior §7 "$batch", S48;
// concepts/json-batching.md).
//
// The batch is validated as a whole first; anything wrong with it answers
// 400 and runs nothing. Each item then goes through the simulator's own
// Graph pipeline (serveGraphAs) as an internal request carrying the
// batch's bearer token: the same routing, permission checks, injected
// faults (matched on the item's full path, e.g. /v1.0/users/...), per-
// (app, mailbox) limits and latency as a request of its own. Items
// therefore count against the mailbox limits and MaxInFlight one by one,
// and a throttled item answers status 429 with Retry-After in its own
// headers while the batch stays 200.
//
// Execution: without dependsOn, items run at most batchParallelism (4) at
// a time, which is how Graph feeds unordered batch items to Outlook (§7
// "Outlook limits"). With dependsOn, the batch must be fully sequential
// (every item after the first depends on earlier items) and items run one
// at a time in request order; an item whose prerequisite failed (status
// >= 400, including 424) is not run and answers 424.
//
// Responses come back in request order; real Graph may reorder them, so
// clients must match them by id.
//
// The request log (Requests) is a log of HTTP requests on the wire: it
// holds the one POST /v1.0/$batch, not its items.

const (
	maxBatchRequests = 20 // json-batching.md "Batch size limitations"
	batchParallelism = 4  // §7: Graph sends Outlook at most 4 unordered items at a time
)

// batchItem is one validated entry of "requests".
type batchItem struct {
	id        string
	method    string
	url       string
	headers   [][2]string // in request order
	body      []byte      // nil: no body
	dependsOn []string
}

// batchResult is one entry of "responses".
type batchResult struct {
	status  int
	headers object
	body    any // json.RawMessage, a base64 string, or nil (no body)
}

// errBatchPayload is Graph's answer to a batch it cannot parse, as
// observed (msgraph-sdk-javascript#1451).
func errBatchPayload(w http.ResponseWriter, r *http.Request) {
	errBadRequest(w, r, "BadRequest", "Invalid batch payload format.")
}

func (s *Server) serveBatch(g *graphRequest) {
	w, r := g.w, g.r
	if len(g.segs) != 1 {
		errBadRequest(w, r, "BadRequest", fmt.Sprintf("Resource not found for the segment '%s'.", g.segs[1]))
		return
	}
	if r.Method != http.MethodPost {
		// [unv] the status and text for a non-POST $batch; this is the
		// 405 text of the json-batching.md example.
		writeGraphError(w, r, http.StatusMethodNotAllowed, "BadRequest", "Specified HTTP method is not allowed for the request target.")
		return
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || !strings.EqualFold(mt, "application/json") {
		// [unv] the code and text; the documented request carries
		// Content-Type: application/json, and so does the SDK.
		writeGraphError(w, r, http.StatusUnsupportedMediaType, "UnsupportedMediaType",
			"The batch request must have Content-Type application/json.")
		return
	}
	raw, ok := readBody(w, r)
	if !ok {
		return
	}
	items, ok := parseBatch(w, r, raw)
	if !ok {
		return
	}
	results := make([]batchResult, len(items))
	var (
		abortMu sync.Mutex
		abort   any // a panic from an item (a Reset fault, or the client going away)
	)
	run := func(i int) {
		defer func() {
			if p := recover(); p != nil {
				abortMu.Lock()
				if abort == nil {
					abort = p
				}
				abortMu.Unlock()
				results[i] = batchResult{status: http.StatusServiceUnavailable}
			}
		}()
		results[i] = s.runBatchItem(r, g.p, items[i])
	}
	if sequential(items) {
		index := map[string]int{}
		for i, it := range items {
			index[strings.ToLower(it.id)] = i
			failed := ""
			for _, d := range it.dependsOn {
				if results[index[strings.ToLower(d)]].status >= 400 {
					failed = d
					break
				}
			}
			if failed != "" {
				results[i] = failedDependency(r, failed)
				continue
			}
			run(i)
			if abort != nil {
				break
			}
		}
	} else {
		sem := make(chan struct{}, batchParallelism)
		var wg sync.WaitGroup
		for i := range items {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer func() { <-sem; wg.Done() }()
				run(i)
			}()
		}
		wg.Wait()
	}
	if abort != nil {
		panic(abort) // ServeHTTP records status 0; net/http drops the connection
	}
	out := make([]object, len(items))
	for i, it := range items {
		o := object{{"id", it.id}, {"status", results[i].status}, {"headers", results[i].headers}}
		if results[i].body != nil {
			o = append(o, kv{"body", results[i].body})
		}
		out[i] = o
	}
	writeGraphJSON(w, r, http.StatusOK, object{{"responses", out}})
}

// parseBatch validates the whole batch; on false a 400 has been written.
// Texts marked [obs] are Graph's as reported; the others are [unv].
func parseBatch(w http.ResponseWriter, r *http.Request, raw []byte) ([]batchItem, bool) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var env map[string]any
	if err := dec.Decode(&env); err != nil || env == nil || dec.More() {
		errBatchPayload(w, r)
		return nil, false
	}
	reqs, ok := ciGet(env, "requests")
	list, isList := reqs.([]any)
	if !ok || !isList || len(list) == 0 {
		errBatchPayload(w, r)
		return nil, false
	}
	if len(list) > maxBatchRequests {
		errBadRequest(w, r, "BadRequest", fmt.Sprintf("Limit of %d requests per batch exceeded.", maxBatchRequests)) // [unv] text
		return nil, false
	}
	items := make([]batchItem, 0, len(list))
	seen := map[string]int{}
	for _, e := range list {
		m, ok := e.(map[string]any)
		if !ok {
			errBatchPayload(w, r)
			return nil, false
		}
		it := batchItem{id: ciString(m, "id"), method: strings.ToUpper(strings.TrimSpace(ciString(m, "method"))), url: strings.TrimSpace(ciString(m, "url"))}
		if it.id == "" || it.method == "" || it.url == "" || strings.Contains(it.url, "://") {
			// Absolute URLs are refused as observed (msgraph-sdk-javascript#1451).
			errBatchPayload(w, r)
			return nil, false
		}
		if _, dup := seen[strings.ToLower(it.id)]; dup {
			// [obs] msgraph-sdk-java#559; ids compare case-insensitively (json-batching.md).
			errBadRequest(w, r, "BadRequest", fmt.Sprintf("Request Id %s has to be unique in a batch.", it.id))
			return nil, false
		}
		seen[strings.ToLower(it.id)] = len(items)
		if hv, ok := ciGet(m, "headers"); ok && hv != nil {
			hm, ok := hv.(map[string]any)
			if !ok {
				errBatchPayload(w, r)
				return nil, false
			}
			for k, v := range hm {
				switch x := v.(type) {
				case string:
					it.headers = append(it.headers, [2]string{k, x})
				case json.Number, bool:
					it.headers = append(it.headers, [2]string{k, fmt.Sprint(x)})
				default:
					errBatchPayload(w, r)
					return nil, false
				}
			}
		}
		if bv, ok := ciGet(m, "body"); ok && bv != nil {
			switch x := bv.(type) {
			case string:
				// A non-JSON body travels base64-encoded (json-batching.md).
				b, err := decodeBase64Any(x)
				if err != nil {
					errBatchPayload(w, r)
					return nil, false
				}
				it.body = b
			default:
				b, err := json.Marshal(x)
				if err != nil {
					errBatchPayload(w, r)
					return nil, false
				}
				it.body = b
			}
		}
		switch it.method {
		case http.MethodPost, http.MethodPatch, http.MethodPut:
			if it.body == nil || it.header("Content-Type") == "" {
				// [obs] pnp/pnpcore: "Write request id : 1 does not contain Content-Type header or body."
				errBadRequest(w, r, "BadRequest", fmt.Sprintf("Write request id : %s does not contain Content-Type header or body.", it.id))
				return nil, false
			}
		}
		if dv, ok := ciGet(m, "dependsOn"); ok && dv != nil {
			dl, ok := dv.([]any)
			if !ok {
				errBatchPayload(w, r)
				return nil, false
			}
			for _, d := range dl {
				ds, ok := d.(string)
				j, known := seen[strings.ToLower(ds)]
				if !ok || !known || j == len(items) {
					// A prerequisite must come earlier in the batch: Graph
					// answers "Invalid dependency for request Id ..." [obs
					// msgraph-sdk-dotnet-core#891; the rest of the text unv].
					errBadRequest(w, r, "BadRequest", fmt.Sprintf("Invalid dependency for request Id %s.", it.id))
					return nil, false
				}
				it.dependsOn = append(it.dependsOn, ds)
			}
		}
		items = append(items, it)
	}
	// "Batch should be either fully sequential or fully parallel." [obs
	// microsoft-graph-docs#16280]: with any dependsOn, every item after
	// the first must depend on an earlier one.
	if sequential(items) {
		for _, it := range items[1:] {
			if len(it.dependsOn) == 0 {
				errBadRequest(w, r, "BadRequest", "Batch should be either fully sequential or fully parallel.")
				return nil, false
			}
		}
	}
	return items, true
}

// sequential reports whether the batch uses dependsOn at all.
func sequential(items []batchItem) bool {
	for _, it := range items {
		if len(it.dependsOn) > 0 {
			return true
		}
	}
	return false
}

func (it batchItem) header(name string) string {
	for _, h := range it.headers {
		if strings.EqualFold(h[0], name) {
			return h[1]
		}
	}
	return ""
}

func decodeBase64Any(s string) ([]byte, error) {
	var last error
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
		b, err := enc.DecodeString(s)
		if err == nil {
			return b, nil
		}
		last = err
	}
	return nil, last
}

// Item request headers the batch itself decides: the batch's token
// authorizes every item, and the framing headers describe the item body.
var batchDroppedRequestHeaders = map[string]bool{
	"Authorization": true, "Content-Length": true, "Content-Encoding": true,
	"Transfer-Encoding": true, "Connection": true, "Host": true,
}

// runBatchItem executes one item as an internal request and captures its
// answer.
func (s *Server) runBatchItem(outer *http.Request, p *principal, it batchItem) batchResult {
	info := &requestInfo{tenantID: p.tenantID}
	rec := RequestRecord{Time: time.Now(), Method: it.method, BatchItem: true, TenantID: p.tenantID}
	if u, err := url.Parse("/v1.0/" + strings.TrimLeft(it.url, "/")); err == nil {
		rec.Path, rec.RawQuery = u.Path, u.RawQuery
	}
	for _, h := range it.headers {
		switch http.CanonicalHeaderKey(h[0]) {
		case "Client-Request-Id":
			rec.ClientRequestID = h[1]
		case "Retry-Attempt":
			rec.RetryAttempt = h[1]
		}
	}
	res := s.serveBatchItem(outer, p, info, it)
	rec.Status, rec.FaultID = res.status, info.faultID
	s.appendRecord(rec)
	return res
}

// serveBatchItem runs one item through the simulator's own routing.
func (s *Server) serveBatchItem(outer *http.Request, p *principal, info *requestInfo, it batchItem) batchResult {
	ctx := context.WithValue(outer.Context(), requestInfoKey{}, info)
	rec := newBatchRecorder()
	u, err := url.Parse("/v1.0/" + strings.TrimLeft(it.url, "/"))
	if err != nil {
		req := outer.WithContext(ctx)
		errBadRequest(rec, req, "BadRequest", "Invalid request.")
		return batchResultFrom(rec)
	}
	var body io.Reader = http.NoBody
	if it.body != nil {
		body = bytes.NewReader(it.body)
	}
	req, err := http.NewRequestWithContext(ctx, it.method, u.String(), body)
	if err != nil {
		// An invalid method token.
		errBadRequest(rec, outer.WithContext(ctx), "BadRequest", "Invalid request.")
		return batchResultFrom(rec)
	}
	req.Host = outer.Host
	req.RemoteAddr = outer.RemoteAddr
	req.TLS = outer.TLS
	req.Proto, req.ProtoMajor, req.ProtoMinor = outer.Proto, outer.ProtoMajor, outer.ProtoMinor
	for _, h := range it.headers {
		if k := http.CanonicalHeaderKey(h[0]); !batchDroppedRequestHeaders[k] {
			req.Header.Set(k, h[1])
		}
	}
	req.Header.Set("Authorization", outer.Header.Get("Authorization"))
	if req.Header.Get("client-request-id") == "" {
		if id := outer.Header.Get("client-request-id"); id != "" {
			req.Header.Set("client-request-id", id)
		}
	}
	if !s.applyFault(rec, req, false, info) {
		if segs := splitGraphPath(req.URL.Path); len(segs) > 0 && strings.EqualFold(segs[0], "$batch") {
			errBadRequest(rec, req, "BadRequest", "A batch request cannot contain another batch request.") // [unv]
		} else {
			setGraphHeaders(rec, req)
			s.serveGraphAs(rec, req, p)
		}
	}
	if info.dropResponse {
		// A DropResponse fault on an item: it ran; the batch's response is
		// dropped (serveBatch re-panics once the items are done).
		panic(http.ErrAbortHandler)
	}
	return batchResultFrom(rec)
}

// failedDependency is the item answer for a request whose prerequisite
// failed (json-batching.md: "fails with status code 424 (Failed
// Dependency)"); the error code and text are [unv].
func failedDependency(outer *http.Request, failedID string) batchResult {
	rec := newBatchRecorder()
	writeGraphError(rec, outer, http.StatusFailedDependency, "FailedDependency",
		fmt.Sprintf("The request depends on request '%s', which failed.", failedID))
	return batchResultFrom(rec)
}

// batchItemHeaders are the response headers a batch item reports, in
// Graph's spelling and the documented example's order; per-HTTP-response
// headers (request-id, client-request-id, x-ms-ags-diagnostic, Date,
// Content-Length, Vary, Strict-Transport-Security) stay on the batch.
var batchItemHeaders = []string{
	"Cache-Control", "x-ms-resource-unit", "Retry-After", "Location", "ETag", "Preference-Applied",
	"Content-Location", "WWW-Authenticate", "OData-Version", "Content-Type",
}

func batchResultFrom(rec *batchRecorder) batchResult {
	status, h := rec.result()
	out := batchResult{status: status, headers: object{}}
	if h.Get("Cache-Control") == "" {
		// Every item of the documented example carries it, errors too.
		h.Set("Cache-Control", "no-cache")
	}
	for _, name := range batchItemHeaders {
		if v := h.Values(name); len(v) > 0 {
			out.headers = append(out.headers, kv{name, strings.Join(v, ", ")})
		}
	}
	b := rec.body.Bytes()
	if len(bytes.TrimSpace(b)) == 0 {
		return out
	}
	mt, _, _ := mime.ParseMediaType(h.Get("Content-Type"))
	if (mt == "application/json" || strings.HasSuffix(mt, "+json")) && json.Valid(b) {
		out.body = json.RawMessage(b) // the inner JSON as a value, not a string
		return out
	}
	// Anything else (binary content, or a fault's malformed JSON) travels
	// base64-encoded, as json-batching.md describes for binary bodies.
	out.body = base64.StdEncoding.EncodeToString(b)
	return out
}

// batchRecorder captures an item's answer: the status, the headers as they
// were when the status was written, and the body.
type batchRecorder struct {
	header  http.Header
	status  int
	written http.Header
	body    bytes.Buffer
}

func newBatchRecorder() *batchRecorder { return &batchRecorder{header: http.Header{}} }

func (rw *batchRecorder) Header() http.Header { return rw.header }

func (rw *batchRecorder) WriteHeader(code int) {
	if rw.status == 0 {
		rw.status = code
		rw.written = rw.header.Clone()
	}
}

func (rw *batchRecorder) Write(b []byte) (int, error) {
	rw.WriteHeader(http.StatusOK)
	return rw.body.Write(b)
}

// result is what net/http would have sent: 200 when nothing was written.
func (rw *batchRecorder) result() (int, http.Header) {
	if rw.status == 0 {
		return http.StatusOK, rw.header.Clone()
	}
	return rw.status, rw.written
}
