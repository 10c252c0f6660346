package graphsim

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"
)

// Control operations: the Go API tests use, and the same operations as a
// JSON API under /_sim/v1/ for other processes (the demo, scripts).

// ErrNotFound is returned (wrapped) when a tenant, app, user, secret or
// folder named in a control call does not exist.
var ErrNotFound = errors.New("graphsim: not found")

// SeedTenant replaces the tenant's state wholesale. The same seed always
// produces the same state (IDs included).
func (s *Server) SeedTenant(ts TenantSeed) error {
	t, err := buildTenant(ts)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, old := range s.tenants {
		if strings.EqualFold(old.id, t.id) {
			delete(s.tenants, k)
		}
	}
	s.tenants[strings.ToLower(t.id)] = t
	if t.domain != "" {
		s.tenants[t.domain] = t
	}
	return nil
}

// SeedDemo seeds DemoTenant and returns its credentials.
func (s *Server) SeedDemo() (DemoCredentials, error) {
	seed, creds := DemoTenant()
	return creds, s.SeedTenant(seed)
}

// withApp runs fn on an app under the state lock.
func (s *Server) withApp(tenantID, clientID string, fn func(*app) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tenants[strings.ToLower(tenantID)]
	if t == nil {
		return fmt.Errorf("%w: tenant %q", ErrNotFound, tenantID)
	}
	a := t.apps[strings.ToLower(clientID)]
	if a == nil {
		return fmt.Errorf("%w: app %q in tenant %q", ErrNotFound, clientID, tenantID)
	}
	return fn(a)
}

// SetGrantedRoles replaces the app's admin-consented application
// permissions. Tokens issued from now on carry them; earlier tokens keep
// the roles they were issued with, as with Entra.
func (s *Server) SetGrantedRoles(tenantID, clientID string, roles []string) error {
	return s.withApp(tenantID, clientID, func(a *app) error {
		a.roles = append([]string(nil), roles...)
		return nil
	})
}

// RevokeConsent removes the app's admin consent: token requests fail with
// AADSTS65001 and Graph answers tokens issued earlier with a CAE challenge.
func (s *Server) RevokeConsent(tenantID, clientID string) error {
	return s.withApp(tenantID, clientID, func(a *app) error {
		if !a.consentRevoked {
			a.consentRevoked = true
			a.consentGen++
			a.revokedAt = time.Now()
		}
		return nil
	})
}

// RestoreConsent grants admin consent again. Tokens issued before the
// revocation stay invalid; new tokens work.
func (s *Server) RestoreConsent(tenantID, clientID string) error {
	return s.withApp(tenantID, clientID, func(a *app) error {
		a.consentRevoked = false
		return nil
	})
}

// AddSecret adds a client secret; a zero expiresAt never expires.
func (s *Server) AddSecret(tenantID, clientID, value string, expiresAt time.Time) error {
	if value == "" {
		return errors.New("graphsim: empty secret")
	}
	return s.withApp(tenantID, clientID, func(a *app) error {
		if sec, ok := a.hasSecret(value); ok {
			sec.expiresAt = expiresAt
			return nil
		}
		a.secrets = append(a.secrets, &secret{value: value, expiresAt: expiresAt})
		return nil
	})
}

// RemoveSecret deletes a client secret.
func (s *Server) RemoveSecret(tenantID, clientID, value string) error {
	return s.withApp(tenantID, clientID, func(a *app) error {
		for i, sec := range a.secrets {
			if sec.value == value {
				a.secrets = append(a.secrets[:i], a.secrets[i+1:]...)
				return nil
			}
		}
		return fmt.Errorf("%w: secret of app %q", ErrNotFound, clientID)
	})
}

// ExpireSecret sets the secret's expiry in the past; token requests with it
// then fail with AADSTS7000222.
func (s *Server) ExpireSecret(tenantID, clientID, value string) error {
	return s.withApp(tenantID, clientID, func(a *app) error {
		sec, ok := a.hasSecret(value)
		if !ok {
			return fmt.Errorf("%w: secret of app %q", ErrNotFound, clientID)
		}
		sec.expiresAt = time.Now().Add(-time.Minute)
		return nil
	})
}

// Mailbox returns a user's messages in a folder (id or well-known name;
// "" = every folder), newest first, for test assertions.
func (s *Server) Mailbox(tenantID, userIDOrUPN, folderKey string) ([]Message, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, u, err := s.tenantUser(tenantID, userIDOrUPN)
	if err != nil {
		return nil, err
	}
	var f *folder
	if folderKey != "" {
		if f = u.folderByKey(folderKey); f == nil {
			return nil, fmt.Errorf("%w: folder %q", ErrNotFound, folderKey)
		}
	}
	msgs := u.sortedMessages(f)
	out := make([]Message, 0, len(msgs))
	for _, m := range msgs {
		out = append(out, m.toPublic())
	}
	return out, nil
}

// HTTP control API.

// faultJSON is Fault on the control API, with Latency as a Go duration
// string ("250ms").
type faultJSON struct {
	Method     string `json:"method,omitempty"`
	Path       string `json:"path,omitempty"`
	Status     int    `json:"status,omitempty"`
	RetryAfter int    `json:"retryAfter,omitempty"`
	Count      int    `json:"count,omitempty"`
	Latency    string `json:"latency,omitempty"`
	Reset      bool   `json:"reset,omitempty"`
	// Probability and Body as in Fault.
	Probability float64 `json:"probability,omitempty"`
	Body        string  `json:"body,omitempty"`
	// DropResponse as in Fault: handle the request, then drop the
	// connection without answering.
	DropResponse bool `json:"dropResponse,omitempty"`
}

type requestJSON struct {
	Time            time.Time `json:"time"`
	Method          string    `json:"method"`
	Path            string    `json:"path"`
	RawQuery        string    `json:"rawQuery,omitempty"`
	Status          int       `json:"status"`
	ClientRequestID string    `json:"clientRequestId,omitempty"`
	RetryAttempt    string    `json:"retryAttempt,omitempty"`
	TenantID        string    `json:"tenantId,omitempty"`
	ContentEncoding string    `json:"contentEncoding,omitempty"`
	FaultID         string    `json:"faultId,omitempty"`
	BatchItem       bool      `json:"batchItem,omitempty"`
}

type messageJSONOut struct {
	ID         string    `json:"id"`
	Subject    string    `json:"subject"`
	From       string    `json:"from"`
	To         []string  `json:"to"`
	Cc         []string  `json:"cc,omitempty"`
	ReceivedAt time.Time `json:"receivedAt"`
	IsRead     bool      `json:"isRead"`
	BodyText   string    `json:"bodyText"`
	Folder     string    `json:"folder"`
	FolderID   string    `json:"folderId"`
	Importance string    `json:"importance"`
	Categories []string  `json:"categories,omitempty"`
	FlagStatus string    `json:"flagStatus,omitempty"`
}

func controlError(w http.ResponseWriter, err error) {
	status := http.StatusBadRequest
	if errors.Is(err, ErrNotFound) {
		status = http.StatusNotFound
	}
	writeJSON(w, status, contentTypeJSON, object{{"error", err.Error()}})
}

func decodeControl(r *http.Request, v any) error {
	dec := json.NewDecoder(io.LimitReader(r.Body, 64<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("graphsim: invalid JSON body: %w", err)
	}
	return nil
}

// serveControl routes /_sim/v1/... It answers loopback clients only: it can
// reveal and change credentials.
func (s *Server) serveControl(w http.ResponseWriter, r *http.Request) {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
		writeJSON(w, http.StatusForbidden, contentTypeJSON, object{{"error", "the control API answers loopback clients only"}})
		return
	}
	path := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/_sim/v1"), "/")
	parts := strings.Split(strings.TrimPrefix(path, "/"), "/")
	route := r.Method + " " + path
	ok := func(v any) { writeJSON(w, http.StatusOK, contentTypeJSON, v) }
	done := func(err error) {
		if err != nil {
			controlError(w, err)
			return
		}
		ok(object{{"ok", true}})
	}

	switch {
	case route == "GET /health":
		ok(object{
			{"status", "ok"}, {"url", s.URL()}, {"authorityHost", s.AuthorityHost()},
			{"graphBaseURL", s.GraphBaseURL()}, {"hostname", s.Hostname()}, {"caFile", s.CAFile()},
		})
	case route == "POST /seed/demo":
		creds, err := s.SeedDemo()
		if err != nil {
			controlError(w, err)
			return
		}
		ok(creds)
	case route == "POST /seed/large":
		var ls LargeSeed
		if err := decodeControl(r, &ls); err != nil {
			controlError(w, err)
			return
		}
		creds, err := s.SeedLarge(ls)
		if err != nil {
			controlError(w, err)
			return
		}
		ok(creds)
	case route == "POST /seed":
		var ts TenantSeed
		if err := decodeControl(r, &ts); err != nil {
			controlError(w, err)
			return
		}
		done(s.SeedTenant(ts))
	case r.Method == http.MethodPost && len(parts) >= 5 && parts[0] == "tenants" && parts[2] == "apps":
		s.controlApp(w, r, parts[1], parts[3], strings.Join(parts[4:], "/"), done)
	case r.Method == http.MethodPost && len(parts) == 3 && parts[0] == "tenants" && parts[2] == "users":
		var us UserSeed
		if err := decodeControl(r, &us); err != nil {
			controlError(w, err)
			return
		}
		id, err := s.upsertUser(parts[1], us)
		if err != nil {
			controlError(w, err)
			return
		}
		ok(object{{"ok", true}, {"id", id}})
	case r.Method == http.MethodDelete && len(parts) == 4 && parts[0] == "tenants" && parts[2] == "users":
		done(s.DeleteUser(parts[1], parts[3]))
	case r.Method == http.MethodPost && len(parts) == 5 && parts[0] == "tenants" && parts[2] == "users" && parts[4] == "messages":
		var ms MessageSeed
		if err := decodeControl(r, &ms); err != nil {
			controlError(w, err)
			return
		}
		id, err := s.DeliverMessage(parts[1], parts[3], ms)
		if err != nil {
			controlError(w, err)
			return
		}
		ok(object{{"ok", true}, {"id", id}})
	case r.Method == http.MethodDelete && len(parts) == 6 && parts[0] == "tenants" && parts[2] == "users" && parts[4] == "messages":
		done(s.DeleteMessage(parts[1], parts[3], parts[5]))
	case r.Method == http.MethodPost && len(parts) == 7 && parts[0] == "tenants" && parts[2] == "users" && parts[4] == "messages" && parts[6] == "move":
		var body struct {
			Folder string `json:"folder"`
		}
		if err := decodeControl(r, &body); err != nil {
			controlError(w, err)
			return
		}
		id, err := s.MoveMessage(parts[1], parts[3], parts[5], body.Folder)
		if err != nil {
			controlError(w, err)
			return
		}
		ok(object{{"ok", true}, {"id", id}})
	case r.Method == http.MethodPost && len(parts) == 4 && parts[0] == "tenants" && parts[2] == "delta" && parts[3] == "expire":
		done(s.ExpireDeltaTokens(parts[1]))
	case route == "POST /delta/sync-state-status":
		var body struct {
			Status int `json:"status"`
		}
		if err := decodeControl(r, &body); err != nil {
			controlError(w, err)
			return
		}
		done(s.SetSyncStateNotFoundStatus(body.Status))
	case r.Method == http.MethodGet && len(parts) == 5 && parts[0] == "tenants" && parts[2] == "users" && parts[4] == "mailbox":
		msgs, err := s.Mailbox(parts[1], parts[3], r.URL.Query().Get("folder"))
		if err != nil {
			controlError(w, err)
			return
		}
		out := make([]messageJSONOut, 0, len(msgs))
		for _, m := range msgs {
			out = append(out, messageJSONOut(m))
		}
		ok(object{{"value", out}})
	case route == "POST /faults":
		var fj faultJSON
		if err := decodeControl(r, &fj); err != nil {
			controlError(w, err)
			return
		}
		f := Fault{Method: fj.Method, Path: fj.Path, Status: fj.Status, RetryAfter: fj.RetryAfter, Count: fj.Count, Reset: fj.Reset, Probability: fj.Probability, Body: fj.Body, DropResponse: fj.DropResponse}
		if fj.Latency != "" {
			d, err := time.ParseDuration(fj.Latency)
			if err != nil {
				controlError(w, fmt.Errorf("graphsim: latency %q: %w", fj.Latency, err))
				return
			}
			f.Latency = d
		}
		ok(object{{"id", s.InjectFault(f)}})
	case route == "GET /faults":
		var out []object
		for _, fs := range s.Faults() {
			fj := faultJSON{Method: fs.Fault.Method, Path: fs.Fault.Path, Status: fs.Fault.Status, RetryAfter: fs.Fault.RetryAfter, Count: fs.Fault.Count, Reset: fs.Fault.Reset, Probability: fs.Fault.Probability, Body: fs.Fault.Body, DropResponse: fs.Fault.DropResponse}
			if fs.Fault.Latency > 0 {
				fj.Latency = fs.Fault.Latency.String()
			}
			out = append(out, object{{"id", fs.ID}, {"fault", fj}, {"remaining", fs.Remaining}, {"applied", fs.Applied}})
		}
		ok(object{{"value", out}})
	case route == "DELETE /faults":
		s.ClearFaults()
		ok(object{{"ok", true}})
	case r.Method == http.MethodDelete && len(parts) == 2 && parts[0] == "faults":
		if !s.RemoveFault(parts[1]) {
			controlError(w, fmt.Errorf("%w: fault %q", ErrNotFound, parts[1]))
			return
		}
		ok(object{{"ok", true}})
	case route == "GET /requests":
		recs := s.Requests()
		out := make([]requestJSON, 0, len(recs))
		for _, rec := range recs {
			out = append(out, requestJSON(rec))
		}
		ok(object{{"value", out}})
	case route == "DELETE /requests":
		s.ClearRequests()
		ok(object{{"ok", true}})
	case route == "POST /limits":
		var body struct {
			Concurrency int    `json:"concurrency"`
			Requests    int    `json:"requests"`
			Window      string `json:"window"`
		}
		if err := decodeControl(r, &body); err != nil {
			controlError(w, err)
			return
		}
		l := MailboxLimits{Concurrency: body.Concurrency, Requests: body.Requests}
		if body.Window != "" {
			d, err := time.ParseDuration(body.Window)
			if err != nil {
				controlError(w, fmt.Errorf("graphsim: window %q: %w", body.Window, err))
				return
			}
			l.Window = d
		}
		s.SetMailboxLimits(l)
		ok(object{{"ok", true}})
	case route == "POST /latency":
		var body struct {
			Fixed    string `json:"fixed"`
			PerItem  string `json:"perItem"`
			Identity bool   `json:"identity"`
		}
		if err := decodeControl(r, &body); err != nil {
			controlError(w, err)
			return
		}
		lat := Latency{Identity: body.Identity}
		for _, p := range []struct {
			v   string
			dst *time.Duration
		}{{body.Fixed, &lat.Fixed}, {body.PerItem, &lat.PerItem}} {
			if p.v == "" {
				continue
			}
			d, err := time.ParseDuration(p.v)
			if err != nil {
				controlError(w, fmt.Errorf("graphsim: latency %q: %w", p.v, err))
				return
			}
			*p.dst = d
		}
		s.SetLatency(lat)
		ok(object{{"ok", true}})
	case r.Method == http.MethodGet && len(parts) == 5 && parts[0] == "tenants" && parts[2] == "users" && parts[4] == "max-in-flight":
		ok(object{{"maxInFlight", s.MaxInFlight(parts[1], parts[3])}})
	case r.Method == http.MethodGet && len(parts) == 3 && parts[0] == "tenants" && parts[2] == "max-in-flight":
		ok(object{{"maxInFlight", s.MaxInFlightAll(parts[1])}})
	case r.Method == http.MethodDelete && len(parts) == 3 && parts[0] == "tenants" && parts[2] == "max-in-flight":
		s.ResetMaxInFlight(parts[1])
		ok(object{{"ok", true}})
	case s.serveControlWorld(w, r, parts):
	case s.serveControlCollab(w, r, parts):
	case s.serveControlSignIn(w, r, parts): // control_signin.go
	default:
		writeJSON(w, http.StatusNotFound, contentTypeJSON, object{{"error", fmt.Sprintf("no control route %s %s", r.Method, r.URL.Path)}})
	}
}

// controlApp handles POST /_sim/v1/tenants/{tid}/apps/{cid}/{action}.
func (s *Server) controlApp(w http.ResponseWriter, r *http.Request, tenantID, clientID, action string, done func(error)) {
	switch action {
	case "roles":
		var body struct {
			Roles []string `json:"roles"`
		}
		if err := decodeControl(r, &body); err != nil {
			done(err)
			return
		}
		done(s.SetGrantedRoles(tenantID, clientID, body.Roles))
	case "revoke-consent":
		done(s.RevokeConsent(tenantID, clientID))
	case "restore-consent":
		done(s.RestoreConsent(tenantID, clientID))
	case "online-meeting-policy", "online-meeting-policy/revoke":
		done(s.controlMeetingPolicy(r, tenantID, clientID, action == "online-meeting-policy"))
	case "secrets", "secrets/remove", "secrets/expire":
		var body struct {
			Value     string    `json:"value"`
			ExpiresAt time.Time `json:"expiresAt"`
		}
		if err := decodeControl(r, &body); err != nil {
			done(err)
			return
		}
		switch action {
		case "secrets":
			done(s.AddSecret(tenantID, clientID, body.Value, body.ExpiresAt))
		case "secrets/remove":
			done(s.RemoveSecret(tenantID, clientID, body.Value))
		default:
			done(s.ExpireSecret(tenantID, clientID, body.Value))
		}
	default:
		if s.controlAppSignIn(r, tenantID, clientID, action, done) { // control_signin.go
			return
		}
		if s.controlCertificates(w, r, tenantID, clientID, action, done) { // client_assertion.go
			return
		}
		writeJSON(w, http.StatusNotFound, contentTypeJSON, object{{"error", fmt.Sprintf("no control action %q", action)}})
	}
}
