package graphsim

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Fault is an injected failure. Faults apply before normal handling to the
// requests they match; the first matching fault (in injection order) wins.
type Fault struct {
	Method     string        // "" = any
	Path       string        // case-insensitive path prefix, e.g. "/v1.0/users" or "/{tenant}/oauth2/v2.0/token" with the tenant ID written out; "" = any
	Status     int           // 0 = no status fault (latency only); e.g. 429, 503, 504
	RetryAfter int           // seconds, sent as an integer Retry-After header when > 0
	Count      int           // how many matching requests it applies to; 0 = until cleared
	Latency    time.Duration // added before answering
	Reset      bool          // abort the connection (or HTTP/2 stream) instead of answering
	// Probability, when between 0 and 1, applies the fault to that share of
	// matching requests (decided per request, from a seeded source, so a
	// run is repeatable); 0 applies it to every matching request. Requests
	// it skips do not use up Count.
	Probability float64
	// Body, when set, is sent instead of Graph's answer, with Status (200
	// when 0) and Content-Type application/json: a malformed page (bad
	// JSON, a truncated page, an item without id) for a client to cope with.
	Body string
	// DropResponse commits the write, then drops the response: the request
	// is handled in full (its changes take effect, on any Graph or
	// identity route and for $batch items), then the connection is closed
	// without a single response byte (HTTP/1.1: the connection is hijacked
	// and closed; HTTP/2: the stream is reset). The client sees a transport
	// error and cannot tell whether the write happened: the case that
	// makes retried writes duplicate. Latency still applies before
	// handling; Status and Body are ignored; Reset wins over it. A dropped
	// $batch item drops the whole batch's response (after its items ran).
	DropResponse bool
}

// FaultStatus is an active fault as Faults reports it.
type FaultStatus struct {
	ID        string `json:"id"`
	Fault     Fault  `json:"fault"`
	Remaining int    `json:"remaining"` // 0 with Fault.Count 0: until cleared
	Applied   int    `json:"applied"`
}

type faultEntry struct {
	id        string
	f         Fault
	remaining int
	applied   int
}

// InjectFault adds a fault and returns its id.
func (s *Server) InjectFault(f Fault) string {
	s.faultMu.Lock()
	defer s.faultMu.Unlock()
	s.faultID++
	id := "fault-" + strconv.Itoa(s.faultID)
	s.faults = append(s.faults, &faultEntry{id: id, f: f, remaining: f.Count})
	return id
}

// RemoveFault removes one fault; it reports whether the fault was active.
func (s *Server) RemoveFault(id string) bool {
	s.faultMu.Lock()
	defer s.faultMu.Unlock()
	for i, e := range s.faults {
		if e.id == id {
			s.faults = append(s.faults[:i], s.faults[i+1:]...)
			return true
		}
	}
	return false
}

// ClearFaults removes every injected fault.
func (s *Server) ClearFaults() {
	s.faultMu.Lock()
	s.faults = nil
	s.faultMu.Unlock()
}

// Faults lists the active faults.
func (s *Server) Faults() []FaultStatus {
	s.faultMu.Lock()
	defer s.faultMu.Unlock()
	out := make([]FaultStatus, 0, len(s.faults))
	for _, e := range s.faults {
		out = append(out, FaultStatus{ID: e.id, Fault: e.f, Remaining: e.remaining, Applied: e.applied})
	}
	return out
}

// takeFault finds the first fault matching r and consumes one use of it.
func (s *Server) takeFault(r *http.Request) (string, Fault, bool) {
	s.faultMu.Lock()
	defer s.faultMu.Unlock()
	for i, e := range s.faults {
		if e.f.Method != "" && !strings.EqualFold(e.f.Method, r.Method) {
			continue
		}
		if e.f.Path != "" && !hasPrefixFold(r.URL.Path, e.f.Path) {
			continue
		}
		if e.f.Probability > 0 && e.f.Probability < 1 && s.faultRand.Float64() >= e.f.Probability {
			continue
		}
		e.applied++
		if e.f.Count > 0 {
			e.remaining--
			if e.remaining <= 0 {
				s.faults = append(s.faults[:i], s.faults[i+1:]...)
			}
		}
		return e.id, e.f, true
	}
	return "", Fault{}, false
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

// applyFault runs the matching fault, if any. It reports whether the fault
// answered the request (a latency-only fault lets handling continue).
func (s *Server) applyFault(w http.ResponseWriter, r *http.Request, identity bool, info *requestInfo) bool {
	id, f, ok := s.takeFault(r)
	if !ok {
		return false
	}
	info.faultID = id
	if f.Latency > 0 {
		timer := time.NewTimer(f.Latency)
		select {
		case <-timer.C:
		case <-r.Context().Done():
			timer.Stop()
			panic(http.ErrAbortHandler) // the client gave up; recorded as status 0
		}
	}
	if f.Reset {
		// ErrAbortHandler makes net/http drop the connection (HTTP/1.1)
		// or reset the stream (HTTP/2) without logging a stack.
		panic(http.ErrAbortHandler)
	}
	if f.DropResponse {
		// The caller handles the request with a discarding writer, then
		// calls dropResponse.
		info.dropResponse = true
		return false
	}
	if f.Body != "" {
		status := f.Status
		if status == 0 {
			status = http.StatusOK
		}
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(status)
		_, _ = w.Write([]byte(f.Body))
		return true
	}
	if f.Status == 0 {
		return false
	}
	if f.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(f.RetryAfter))
	}
	if identity {
		writeIdentityFault(w, r, f.Status)
	} else {
		writeGraphFault(w, r, f.Status)
	}
	return true
}

// writeGraphFault answers with Graph's body for the status, e.g. the
// documented throttling response for 429 (concepts/throttling.md).
func writeGraphFault(w http.ResponseWriter, r *http.Request, status int) {
	switch status {
	case http.StatusTooManyRequests:
		writeGraphError(w, r, status, "TooManyRequests", "Please retry again later.",
			kv{"code", "429"}, kv{"message", "Please retry after"}, kv{"status", "429"})
	case http.StatusServiceUnavailable:
		writeGraphError(w, r, status, "serviceNotAvailable", "The service is temporarily unavailable. Retry the request after a delay.")
	case http.StatusGatewayTimeout:
		writeGraphError(w, r, status, "GatewayTimeout", "The gateway did not receive a timely response from the upstream service.")
	case http.StatusInternalServerError:
		writeGraphError(w, r, status, "generalException", "An unspecified error has occurred.")
	case http.StatusGone:
		writeGraphError(w, r, status, "SyncStateNotFound", "The sync state generation is not found.")
	default:
		code := strings.ReplaceAll(http.StatusText(status), " ", "")
		if code == "" {
			code = "UnknownError"
		}
		writeGraphError(w, r, status, code, fmt.Sprintf("Injected fault: HTTP %d.", status))
	}
}

// writeIdentityFault answers identity-platform requests in that platform's
// error shape.
func writeIdentityFault(w http.ResponseWriter, r *http.Request, status int) {
	if status >= 500 || status == http.StatusTooManyRequests {
		writeIdentityError(w, r, status, "temporarily_unavailable", 90033, "A transient error has occurred. Please try again.")
		return
	}
	writeIdentityError(w, r, status, "invalid_request", 90000, fmt.Sprintf("Injected fault: HTTP %d.", status))
}

// discardWriter swallows a handler's response for a DropResponse fault:
// nothing of it may reach the client.
type discardWriter struct{ h http.Header }

func newDiscardWriter() *discardWriter { return &discardWriter{h: http.Header{}} }

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (d *discardWriter) WriteHeader(int)             {}
func (d *discardWriter) Flush()                      {}

// dropResponse ends a request whose DropResponse fault let it run: an
// HTTP/1.1 connection is hijacked and closed, so the client reads EOF
// where the status line should be; anything else (HTTP/2, a $batch item)
// panics with http.ErrAbortHandler, which resets the stream or, for a
// batch item, the whole batch's connection. Nothing has been written to w.
func dropResponse(w http.ResponseWriter) {
	if hj, ok := w.(http.Hijacker); ok {
		if conn, _, err := hj.Hijack(); err == nil {
			conn.Close()
			return
		}
	}
	panic(http.ErrAbortHandler)
}
