// Package graphsim is a Microsoft Graph v1.0 (plus beta's @-mention reads,
// graph_beta.go) and Microsoft identity platform simulator served over HTTPS
// on loopback. The unmodified azidentity and msgraph-sdk-go clients talk to
// it with only the authority host, Graph base URL, CA and allowed Graph hosts
// changed, exactly the settings a national-cloud user changes. It exists for
// tests, benchmarks and the demo; production code must never import it.
//
// The wire behaviour it reproduces is specified, with sources, in
// shared/graph-behavior.md; comments here cite its numbered "Simulator must"
// statements as (S1), (S2), ...
package graphsim

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log"
	mathrand "math/rand/v2"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"
)

// Options configures Start. The zero value is usable.
type Options struct {
	Addr          string        // listen address; default "127.0.0.1:0"
	StateDir      string        // where ca.pem is written; default: a new temp dir (removed on Close)
	Hostname      string        // host name in URLs; default "localhost". Cert SANs: localhost, 127.0.0.1, ::1 and Hostname
	Logger        *zap.Logger   // optional; nil = no logging. Secrets and tokens are never logged.
	TokenLifetime time.Duration // default 3599s; must stay > 300s (MSAL refreshes 5 minutes early)
	// SyncStateNotFoundStatus is the HTTP status for unknown or expired
	// delta tokens (code SyncStateNotFound): 0 or 410 = 410 Gone, as
	// observed; 400 is the other status Exchange is reported to use.
	SyncStateNotFoundStatus int

	// Per-(app, mailbox) limits (S47): zero values leave enforcement off
	// (GraphMailboxLimits holds Graph's 4 concurrent and 10,000 per 10
	// minutes). In-flight requests are counted either way (MaxInFlight).
	MailboxConcurrencyLimit int
	MailboxRequestLimit     int
	MailboxRequestWindow    time.Duration // default 10 minutes

	// Latency model: LatencyFixed before each Graph request is handled,
	// LatencyPerItem per item of a returned collection page; identity
	// requests get LatencyFixed too only with LatencyIdentity.
	LatencyFixed    time.Duration
	LatencyPerItem  time.Duration
	LatencyIdentity bool
}

// Server is a running simulator. All methods are safe for concurrent use.
type Server struct {
	log       *zap.Logger
	hostname  string
	port      int
	ln        net.Listener
	http      *http.Server
	ca        *certAuthority
	caFile    string
	stateDir  string
	ownsDir   bool
	lifetime  time.Duration
	signKey   *ecdsa.PrivateKey
	keyID     string
	served    chan struct{}
	closeOnce sync.Once
	closeErr  error

	mu      sync.Mutex
	tenants map[string]*tenant // key: lower-case tenant ID and lower-case domain
	tokens  map[string]issuedToken
	// Delta state tokens ($skiptoken, $deltatoken) by value, and their
	// issue order for eviction (see delta.go).
	syncStates map[string]*syncState
	syncOrder  []string
	syncStatus int // SyncStateNotFound status: 410 or 400
	// maxSyncStates bounds the token table (0: the maxSyncStates default);
	// SetMaxSyncStates changes it.
	maxSyncStates int

	faultMu   sync.Mutex
	faults    []*faultEntry
	faultID   int
	faultRand *mathrand.Rand // decides probabilistic faults; seeded, so runs repeat

	recMu   sync.Mutex
	records []RequestRecord

	lim *limiter

	// signin: authorization codes, refresh tokens, device codes and
	// sign-in decisions of the delegated flows (identity_delegated.go).
	// Guarded by mu.
	signin signInState
}

// issuedToken remembers what the simulator knew when it issued a token, so
// a later consent revocation can invalidate it (CAE) by generation.
type issuedToken struct {
	consentGen int
	exp        int64 // unix seconds; expired entries are pruned
}

// maxTrackedTokens bounds the issued-token table; beyond it, expired
// entries are dropped when a new token is issued.
const maxTrackedTokens = 10000

// RequestRecord is one request the simulator served (control API calls
// excluded). It never holds bodies, tokens or secrets.
type RequestRecord struct {
	Time            time.Time
	Method          string
	Path            string
	RawQuery        string
	Status          int // 0 when the connection was reset by an injected fault
	ClientRequestID string
	RetryAttempt    string // the Retry-Attempt header kiota's retry handler sets
	TenantID        string // from the identity path, or the Graph token's tid
	ContentEncoding string // request Content-Encoding, e.g. "gzip"
	FaultID         string // the injected fault that answered, if any
	// BatchItem marks a request that came inside a $batch: it counts
	// against Graph's limits like any other, but was no HTTP request of
	// its own (the POST /v1.0/$batch that carried it is recorded too).
	BatchItem bool
}

// Start generates a CA and leaf certificate, writes ca.pem, and serves TLS.
// It returns once the listener is accepting connections.
func Start(opts Options) (*Server, error) {
	if opts.Addr == "" {
		opts.Addr = "127.0.0.1:0"
	}
	if opts.Hostname == "" {
		opts.Hostname = "localhost"
	}
	if opts.TokenLifetime == 0 {
		opts.TokenLifetime = 3599 * time.Second
	}
	// (S4) MSAL treats a token as expired 5 minutes early; a shorter lifetime
	// would make every Graph call fetch a new token.
	if opts.TokenLifetime <= 300*time.Second {
		return nil, fmt.Errorf("graphsim: TokenLifetime %s must be longer than 300s, or MSAL requests a token for every call", opts.TokenLifetime)
	}
	switch opts.SyncStateNotFoundStatus {
	case 0:
		opts.SyncStateNotFoundStatus = http.StatusGone
	case http.StatusGone, http.StatusBadRequest:
	default:
		return nil, fmt.Errorf("graphsim: SyncStateNotFoundStatus %d must be 410 or 400", opts.SyncStateNotFoundStatus)
	}
	logger := opts.Logger
	if logger == nil {
		logger = zap.NewNop()
	}
	s := &Server{
		log:        logger.Named("graphsim"),
		hostname:   opts.Hostname,
		lifetime:   opts.TokenLifetime,
		tenants:    map[string]*tenant{},
		tokens:     map[string]issuedToken{},
		syncStates: map[string]*syncState{},
		syncStatus: opts.SyncStateNotFoundStatus,
		faultRand:  mathrand.New(mathrand.NewPCG(1, 2)),
		served:     make(chan struct{}),
		lim: newLimiter(MailboxLimits{Concurrency: opts.MailboxConcurrencyLimit, Requests: opts.MailboxRequestLimit, Window: opts.MailboxRequestWindow},
			Latency{Fixed: opts.LatencyFixed, PerItem: opts.LatencyPerItem, Identity: opts.LatencyIdentity}),
	}
	var err error
	if s.ca, err = newCertAuthority(opts.Hostname); err != nil {
		return nil, err
	}
	if s.signKey, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		return nil, fmt.Errorf("graphsim: generate token signing key: %w", err)
	}
	s.keyID = randomGUID()[:8]

	s.stateDir = opts.StateDir
	if s.stateDir == "" {
		if s.stateDir, err = os.MkdirTemp("", "graphsim-"); err != nil {
			return nil, fmt.Errorf("graphsim: create temp state dir: %w", err)
		}
		s.ownsDir = true
	}
	if s.caFile, err = writeCAFile(s.stateDir, s.ca.caPEM); err != nil {
		s.cleanupDir()
		return nil, err
	}

	s.ln, err = net.Listen("tcp", opts.Addr)
	if err != nil {
		s.cleanupDir()
		return nil, fmt.Errorf("graphsim: listen on %s: %w", opts.Addr, err)
	}
	s.port = s.ln.Addr().(*net.TCPAddr).Port
	s.http = &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 10 * time.Second,
		TLSConfig: &tls.Config{
			Certificates: []tls.Certificate{s.ca.leaf},
			MinVersion:   tls.VersionTLS12,
		},
		// Handshake failures from clients that do not trust the CA are
		// expected noise; keep them at debug level.
		ErrorLog: stdLogAtDebug(s.log),
	}
	go func() {
		defer close(s.served)
		if err := s.http.ServeTLS(s.ln, "", ""); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("serve", zap.Error(err))
		}
	}()
	s.log.Info("graph simulator listening",
		zap.String("url", s.URL()), zap.String("caFile", s.caFile))
	return s, nil
}

// Close stops serving and removes the state directory if Start created it.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.http.Shutdown(ctx); err != nil {
			s.closeErr = s.http.Close()
		}
		<-s.served
		s.cleanupDir()
	})
	return s.closeErr
}

func (s *Server) cleanupDir() {
	if s.ownsDir {
		os.RemoveAll(s.stateDir)
	}
}

// URL is the simulator's origin, e.g. "https://localhost:PORT".
func (s *Server) URL() string {
	return "https://" + net.JoinHostPort(s.hostname, strconv.Itoa(s.port))
}

// AuthorityHost is the identity platform host for
// azcore's cloud.Configuration.ActiveDirectoryAuthorityHost.
func (s *Server) AuthorityHost() string { return s.URL() + "/" }

// GraphBaseURL is the Graph base URL for adapter.SetBaseUrl.
func (s *Server) GraphBaseURL() string { return s.URL() + "/v1.0" }

// Hostname is the host name (no port) clients list as an allowed Graph host.
func (s *Server) Hostname() string { return s.hostname }

// Port is the TCP port the simulator listens on.
func (s *Server) Port() int { return s.port }

// CAFile is the path of the PEM file holding the simulator's CA certificate.
func (s *Server) CAFile() string { return s.caFile }

// CAPool returns a pool holding only the simulator's CA.
func (s *Server) CAPool() *x509.CertPool { return s.ca.caPool.Clone() }

// TLSClientConfig returns a TLS config that trusts only the simulator's CA.
func (s *Server) TLSClientConfig() *tls.Config {
	return &tls.Config{RootCAs: s.CAPool(), MinVersion: tls.VersionTLS12}
}

// ServeHTTP records the request, applies injected faults, then routes to the
// identity platform, Graph or the control API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if isControlPath(r.URL.Path) {
		s.serveControl(w, r)
		return
	}
	start := time.Now()
	rec := RequestRecord{
		Time:            start,
		Method:          r.Method,
		Path:            r.URL.Path,
		RawQuery:        r.URL.RawQuery,
		ClientRequestID: r.Header.Get("client-request-id"),
		RetryAttempt:    r.Header.Get("Retry-Attempt"),
		ContentEncoding: r.Header.Get("Content-Encoding"),
	}
	info := &requestInfo{}
	r = r.WithContext(context.WithValue(r.Context(), requestInfoKey{}, info))
	// The record is appended when the status line is written, before any
	// byte reaches the client, so a caller that has its response can rely
	// on Requests() already showing it.
	recorded := false
	finish := func(status int) {
		if recorded {
			return
		}
		recorded = true
		rec.Status = status
		rec.TenantID = info.tenantID
		rec.FaultID = info.faultID
		s.appendRecord(rec)
		s.log.Debug("request",
			zap.String("method", rec.Method), zap.String("path", rec.Path),
			zap.Int("status", rec.Status), zap.Duration("took", time.Since(start)),
			zap.String("clientRequestId", rec.ClientRequestID), zap.String("fault", rec.FaultID))
	}
	rw := &recordingWriter{ResponseWriter: w, onHeader: finish}
	defer func() {
		if p := recover(); p != nil {
			finish(0) // connection reset by a fault (http.ErrAbortHandler) or a bug
			panic(p)
		}
		finish(http.StatusOK) // the handler wrote nothing: net/http sends 200
	}()

	identity := isIdentityPath(r.URL.Path)
	if identity {
		info.tenantID = identityTenantSegment(r.URL.Path)
	}
	if s.applyFault(rw, r, identity, info) {
		return
	}
	var hw http.ResponseWriter = rw
	if info.dropResponse {
		hw = newDiscardWriter() // DropResponse: handle in full, answer nothing
	}
	switch {
	case identity:
		if lat := s.currentLatency(); lat.Identity {
			sleepCtx(r, lat.Fixed)
		}
		s.serveIdentity(hw, r)
	case isGraphPath(r.URL.Path):
		s.serveGraph(hw, r)
	default:
		writeGraphError(hw, r, http.StatusNotFound, "UnknownError", "")
	}
	if info.dropResponse {
		finish(0)
		dropResponse(w)
	}
}

type requestInfoKey struct{}

// requestInfo carries facts learned while handling a request back to the
// request record.
type requestInfo struct {
	tenantID string
	faultID  string
	perItem  time.Duration // the latency model's per-item delay for this Graph response
	// dropResponse: a DropResponse fault matched; the request is handled
	// with a discarding writer and then its connection dropped.
	dropResponse bool
}

func infoFrom(r *http.Request) *requestInfo {
	if v, ok := r.Context().Value(requestInfoKey{}).(*requestInfo); ok {
		return v
	}
	return &requestInfo{}
}

func (s *Server) appendRecord(rec RequestRecord) {
	s.recMu.Lock()
	s.records = append(s.records, rec)
	s.recMu.Unlock()
}

// Requests returns every request served so far, in arrival order (control
// API calls excluded).
func (s *Server) Requests() []RequestRecord {
	s.recMu.Lock()
	defer s.recMu.Unlock()
	return append([]RequestRecord(nil), s.records...)
}

// ClearRequests empties the request log.
func (s *Server) ClearRequests() {
	s.recMu.Lock()
	s.records = nil
	s.recMu.Unlock()
}

// recordingWriter reports the status code once, when it is written.
type recordingWriter struct {
	http.ResponseWriter
	status   int
	onHeader func(status int)
}

func (w *recordingWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
		w.onHeader(code)
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *recordingWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

func (w *recordingWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Path classification. Identity paths are /{tenant}/v2.0/..., /{tenant}/oauth2/...,
// /{tenant}/discovery/... and /common/discovery/instance; Graph lives under
// /v1.0, and the few beta endpoints simulated (graph_beta.go) under /beta.
func isGraphPath(p string) bool {
	return p == "/v1.0" || strings.HasPrefix(p, "/v1.0/") || isBetaPath(p)
}

// isBetaPath: a request to Graph's beta endpoint.
func isBetaPath(p string) bool {
	return p == "/beta" || strings.HasPrefix(p, "/beta/")
}

func isControlPath(p string) bool {
	return strings.HasPrefix(p, "/_sim/")
}

func isIdentityPath(p string) bool {
	if isGraphPath(p) || isControlPath(p) {
		return false
	}
	parts := strings.Split(strings.TrimPrefix(p, "/"), "/")
	if len(parts) < 2 || parts[0] == "" {
		return false
	}
	switch strings.ToLower(parts[1]) {
	case "v2.0", "oauth2", "discovery":
		return true
	}
	return false
}

func identityTenantSegment(p string) string {
	seg, _, _ := strings.Cut(strings.TrimPrefix(p, "/"), "/")
	return seg
}

func stdLogAtDebug(l *zap.Logger) *log.Logger {
	std, err := zap.NewStdLogAt(l, zap.DebugLevel)
	if err != nil {
		return log.New(io.Discard, "", 0)
	}
	return std
}
