package graphsim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// Content types. Graph answers entity and collection reads with the OData
// minimal-metadata type; errors and the identity platform use plain JSON.
const (
	contentTypeJSON  = "application/json; charset=utf-8"
	contentTypeOData = "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8"
)

// kv and object give JSON objects a fixed key order, so responses read like
// Microsoft's documented examples (encoding/json sorts map keys).
type kv struct {
	k string
	v any
}

type object []kv

func (o object) MarshalJSON() ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteByte('{')
	for i, p := range o {
		if i > 0 {
			buf.WriteByte(',')
		}
		kb, err := marshalNoEscape(p.k)
		if err != nil {
			return nil, err
		}
		buf.Write(kb)
		buf.WriteByte(':')
		vb, err := marshalNoEscape(p.v)
		if err != nil {
			return nil, err
		}
		buf.Write(vb)
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

func (o object) get(k string) (any, bool) {
	for _, p := range o {
		if p.k == k {
			return p.v, true
		}
	}
	return nil, false
}

// marshalNoEscape encodes without HTML escaping: message bodies carry HTML
// and Graph sends it verbatim.
func marshalNoEscape(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

func writeJSON(w http.ResponseWriter, status int, contentType string, body any) {
	b, err := marshalNoEscape(body)
	if err != nil {
		http.Error(w, "graphsim: encode response: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	w.Write(b)
}

// graphDate is the innerError.date format: kiota's GetTimeValue accepts a
// 19-character zone-less time or RFC3339, nothing else (graph-behavior §2).
const graphDate = "2006-01-02T15:04:05"

// setGraphHeaders adds the headers every Graph response carries (S9):
// request-id, client-request-id (echoed, or equal to request-id) and
// x-ms-ags-diagnostic. Date is added by net/http.
func setGraphHeaders(w http.ResponseWriter, r *http.Request) (requestID, clientRequestID string) {
	h := w.Header()
	if requestID = h.Get("request-id"); requestID == "" {
		requestID = randomGUID()
		h.Set("request-id", requestID)
	}
	if clientRequestID = h.Get("client-request-id"); clientRequestID == "" {
		clientRequestID = r.Header.Get("client-request-id")
		if clientRequestID == "" {
			clientRequestID = requestID
		}
		h.Set("client-request-id", clientRequestID)
	}
	if h.Get("x-ms-ags-diagnostic") == "" {
		h.Set("x-ms-ags-diagnostic", `{"ServerInfo":{"DataCenter":"Graph Simulator","Slice":"E","Ring":"5","ScaleUnit":"000","RoleInstance":"GRAPHSIM01"}}`)
		h.Set("Strict-Transport-Security", "max-age=31536000")
	}
	return requestID, clientRequestID
}

// writeGraphError writes Graph's error envelope (S10):
// {"error":{"code","message","innerError":{"date","request-id","client-request-id"}}}.
func writeGraphError(w http.ResponseWriter, r *http.Request, status int, code, message string, innerExtra ...kv) {
	requestID, clientRequestID := setGraphHeaders(w, r)
	inner := object{{"date", time.Now().UTC().Format(graphDate)}}
	inner = append(inner, innerExtra...)
	inner = append(inner, kv{"request-id", requestID}, kv{"client-request-id", clientRequestID})
	w.Header().Del("Preference-Applied")
	writeJSON(w, status, contentTypeJSON, object{{"error", object{
		{"code", code},
		{"message", message},
		{"innerError", inner},
	}}})
}

// Frequently used Graph errors.

func errNotFoundDirectory(w http.ResponseWriter, r *http.Request, key string) {
	writeGraphError(w, r, http.StatusNotFound, "Request_ResourceNotFound",
		fmt.Sprintf("Resource '%s' does not exist or one of its queried reference-property objects are not present.", key))
}

func errDirectoryDenied(w http.ResponseWriter, r *http.Request) {
	writeGraphError(w, r, http.StatusForbidden, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.")
}

func errMailDenied(w http.ResponseWriter, r *http.Request) {
	writeGraphError(w, r, http.StatusForbidden, "ErrorAccessDenied", "Access is denied. Check credentials and try again.")
}

func errBadRequest(w http.ResponseWriter, r *http.Request, code, message string) {
	writeGraphError(w, r, http.StatusBadRequest, code, message)
}

// errNotSimulated refuses query features the simulator does not implement,
// rather than silently ignoring them and returning wrong data.
func errNotSimulated(w http.ResponseWriter, r *http.Request, what string) {
	writeGraphError(w, r, http.StatusNotImplemented, "NotImplemented",
		fmt.Sprintf("%s is not supported by the Graph simulator.", what))
}

// identityError is the Microsoft identity platform's error body (S5):
// error, error_description "AADSTSnnnn: ...\r\nTrace ID: ...\r\nCorrelation ID: ...\r\nTimestamp: ...",
// error_codes, timestamp, trace_id, correlation_id, error_uri.
func writeIdentityError(w http.ResponseWriter, r *http.Request, status int, errCode string, aadsts int, text string, extra ...kv) {
	now := time.Now().UTC()
	traceID := randomGUID()
	correlationID := r.Header.Get("client-request-id")
	if !isGUID(correlationID) {
		correlationID = randomGUID()
	}
	ts := now.Format("2006-01-02 15:04:05Z")
	desc := fmt.Sprintf("AADSTS%d: %s\r\nTrace ID: %s\r\nCorrelation ID: %s\r\nTimestamp: %s", aadsts, text, traceID, correlationID, ts)
	body := object{
		{"error", errCode},
		{"error_description", desc},
		{"error_codes", []int{aadsts}},
		{"timestamp", ts},
		{"trace_id", traceID},
		{"correlation_id", correlationID},
		{"error_uri", fmt.Sprintf("https://%s/error?code=%d", r.Host, aadsts)},
	}
	body = append(body, extra...)
	setIdentityHeaders(w, traceID, correlationID)
	w.Header().Set("Cache-Control", "no-store, no-cache")
	w.Header().Set("Pragma", "no-cache")
	writeJSON(w, status, contentTypeJSON, body)
}

func setIdentityHeaders(w http.ResponseWriter, requestID, correlationID string) {
	h := w.Header()
	h.Set("x-ms-request-id", requestID)
	h.Set("client-request-id", correlationID)
	h.Set("x-ms-ests-server", "2.1.0 - graphsim")
	h.Set("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
	h.Set("X-Content-Type-Options", "nosniff")
}

func isGUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i, c := range s {
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
				return false
			}
		}
	}
	return true
}
