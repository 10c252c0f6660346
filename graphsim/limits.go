package graphsim

import (
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Per-mailbox limits and the latency model.
//
// Outlook throttles per (app ID, mailbox) (§7 "Outlook limits", from
// concepts/throttling-limits.md): 4 concurrent requests and 10,000 requests
// in 10 minutes. Beyond either, the simulator answers 429 TooManyRequests
// with an integer Retry-After (S47; kiota truncates fractional values), in
// the body of the documented throttling response. Enforcement is off
// unless Options or SetMailboxLimits switch it on; in-flight requests are
// always counted, so tests can assert a client's concurrency with
// MaxInFlight. The mailbox is the user addressed by /users/{id|upn}/... (or
// /me/...), resolved to its id; the directory navigations manager,
// directReports and memberOf are not Outlook requests and are not counted.
//
// Latency: every Graph response waits LatencyFixed before it is handled
// and, for a collection page, LatencyPerItem per item in "value" before it
// is written (identity requests only with LatencyIdentity; the control API
// never).

// MailboxLimits are the per-(app, mailbox) limits. Zero values disable a limit.
type MailboxLimits struct {
	Concurrency int           `json:"concurrency"` // requests in flight; Graph: 4
	Requests    int           `json:"requests"`    // requests per Window; Graph: 10,000
	Window      time.Duration `json:"-"`           // default 10 minutes
}

// GraphMailboxLimits are Outlook's documented limits.
var GraphMailboxLimits = MailboxLimits{Concurrency: 4, Requests: 10000, Window: 10 * time.Minute}

// Latency is the simulated response-time model.
type Latency struct {
	Fixed    time.Duration // per Graph request
	PerItem  time.Duration // per item of a returned collection page
	Identity bool          // also delay identity-platform requests by Fixed
}

type mailboxKey struct{ tenant, app, mailbox string }

type mailboxLoad struct {
	inFlight int
	recent   []int64 // admitted request times (unix nanos), oldest first, while a rate limit is set
}

type mailboxSeen struct{ inFlight, max int }

type limiter struct {
	mu      sync.Mutex
	limits  MailboxLimits
	latency Latency
	loads   map[mailboxKey]*mailboxLoad // per (tenant, app, mailbox): enforcement
	seen    map[mailboxKey]*mailboxSeen // per (tenant, "", mailbox): observation
}

func newLimiter(l MailboxLimits, lat Latency) *limiter {
	if l.Window <= 0 {
		l.Window = 10 * time.Minute
	}
	return &limiter{limits: l, latency: lat, loads: map[mailboxKey]*mailboxLoad{}, seen: map[mailboxKey]*mailboxSeen{}}
}

// SetMailboxLimits changes the per-mailbox limits at runtime (zero
// MailboxLimits switches enforcement off).
func (s *Server) SetMailboxLimits(l MailboxLimits) {
	if l.Window <= 0 {
		l.Window = 10 * time.Minute
	}
	s.lim.mu.Lock()
	s.lim.limits = l
	s.lim.mu.Unlock()
}

// SetLatency changes the latency model at runtime.
func (s *Server) SetLatency(l Latency) {
	s.lim.mu.Lock()
	s.lim.latency = l
	s.lim.mu.Unlock()
}

func (s *Server) currentLatency() Latency {
	s.lim.mu.Lock()
	defer s.lim.mu.Unlock()
	return s.lim.latency
}

// MaxInFlight is the highest number of requests ever in flight at once for
// a mailbox (user id or UPN) of a tenant, over every app, counting requests
// answered 429 by the limits too, since the last ResetMaxInFlight.
func (s *Server) MaxInFlight(tenantID, mailbox string) int {
	key := mailboxKey{tenant: strings.ToLower(tenantID), mailbox: s.mailboxID(tenantID, mailbox)}
	s.lim.mu.Lock()
	defer s.lim.mu.Unlock()
	if st := s.lim.seen[key]; st != nil {
		return st.max
	}
	return 0
}

// MaxInFlightAll is the highest MaxInFlight over every mailbox of a tenant.
func (s *Server) MaxInFlightAll(tenantID string) int {
	s.lim.mu.Lock()
	defer s.lim.mu.Unlock()
	n := 0
	for k, st := range s.lim.seen {
		if k.tenant == strings.ToLower(tenantID) {
			n = max(n, st.max)
		}
	}
	return n
}

// ResetMaxInFlight forgets the observed maxima of a tenant's mailboxes
// ("" = every tenant); requests still in flight stay counted.
func (s *Server) ResetMaxInFlight(tenantID string) {
	s.lim.mu.Lock()
	defer s.lim.mu.Unlock()
	for k, st := range s.lim.seen {
		if tenantID == "" || k.tenant == strings.ToLower(tenantID) {
			st.max = st.inFlight
		}
	}
}

// mailboxID resolves a user id or UPN to the user id (lower-case), or the
// lower-cased key itself for an unknown user.
func (s *Server) mailboxID(tenantID, key string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t := s.tenants[strings.ToLower(tenantID)]; t != nil {
		if u := t.lookupUser(key); u != nil {
			return strings.ToLower(u.id)
		}
	}
	return strings.ToLower(key)
}

// notMailboxSegments are /users/{id}/... navigations served by the
// directory, not Exchange.
var notMailboxSegments = map[string]bool{"manager": true, "directreports": true, "memberof": true}

// admitMailbox counts a request against its mailbox and enforces the
// limits. On false a 429 has been written. release must be called when the
// request is done.
func (s *Server) admitMailbox(g *graphRequest) (release func(), ok bool) {
	if len(g.segs) < 3 || !strings.EqualFold(g.segs[0], "users") || notMailboxSegments[strings.ToLower(g.segs[2])] {
		return func() {}, true
	}
	tid := strings.ToLower(g.p.tenantID)
	mbx := s.mailboxID(tid, g.segs[1])
	ek := mailboxKey{tid, strings.ToLower(g.p.clientID), mbx}
	sk := mailboxKey{tenant: tid, mailbox: mbx}
	l := s.lim
	l.mu.Lock()
	ld := l.loads[ek]
	if ld == nil {
		ld = &mailboxLoad{}
		l.loads[ek] = ld
	}
	st := l.seen[sk]
	if st == nil {
		st = &mailboxSeen{}
		l.seen[sk] = st
	}
	st.inFlight++
	st.max = max(st.max, st.inFlight)
	ld.inFlight++
	done := func() {
		l.mu.Lock()
		st.inFlight--
		ld.inFlight--
		l.mu.Unlock()
	}
	retryAfter := 0
	switch lim := l.limits; {
	case lim.Concurrency > 0 && ld.inFlight > lim.Concurrency:
		retryAfter = 1
	case lim.Requests > 0:
		now := time.Now().UnixNano()
		cut := now - int64(lim.Window)
		i := 0
		for i < len(ld.recent) && ld.recent[i] <= cut {
			i++
		}
		ld.recent = ld.recent[i:]
		if len(ld.recent) >= lim.Requests {
			wait := time.Duration(ld.recent[0] - cut)
			retryAfter = max(1, int((wait+time.Second-1)/time.Second))
		} else {
			ld.recent = append(ld.recent, now)
		}
	default:
		ld.recent = nil
	}
	l.mu.Unlock()
	if retryAfter > 0 {
		defer done()
		g.w.Header().Set("Retry-After", strconv.Itoa(retryAfter))
		writeGraphFault(g.w, g.r, http.StatusTooManyRequests)
		return nil, false
	}
	return done, true
}

// sleepCtx waits d unless the client goes away first.
func sleepCtx(r *http.Request, d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-r.Context().Done():
	}
}

// perItemDelay applies the per-item latency for a Graph body about to be
// written: LatencyPerItem times the items in its "value" array.
func perItemDelay(r *http.Request, body any) {
	info := infoFrom(r)
	if info.perItem <= 0 {
		return
	}
	o, ok := body.(object)
	if !ok {
		return
	}
	if v, ok := o.get("value"); ok {
		if items, ok := v.([]object); ok {
			sleepCtx(r, time.Duration(len(items))*info.perItem)
		}
	}
}
