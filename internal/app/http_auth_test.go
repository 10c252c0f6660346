package app

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/coreos/go-oidc/v3/oidc/oidctest"
	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/outlookflow/outlookflow/config"
	"github.com/outlookflow/outlookflow/internal/codec"
)

const (
	testUIOrigin = "https://temporal-ui.example.com"
	testAudience = "api://outlookflow-codec"
)

// testIssuer is a local OIDC issuer: discovery and JWKS over TLS (its CA in
// caFile), RS256 keys it can sign with, and a count of JWKS fetches.
type testIssuer struct {
	url     string
	caFile  string
	key     *rsa.PrivateKey
	kid     string
	oidc    *oidctest.Server
	mu      sync.Mutex
	jwksHit atomic.Int32
}

func newRSAKey(t *testing.T) *rsa.PrivateKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func newTestIssuer(t *testing.T) *testIssuer {
	t.Helper()
	iss := &testIssuer{key: newRSAKey(t), kid: "key-1"}
	iss.oidc = &oidctest.Server{PublicKeys: []oidctest.PublicKey{{PublicKey: iss.key.Public(), KeyID: iss.kid, Algorithm: oidc.RS256}}}
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/keys" {
			iss.jwksHit.Add(1)
		}
		iss.mu.Lock()
		defer iss.mu.Unlock()
		iss.oidc.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	iss.url = srv.URL
	iss.oidc.SetIssuer(srv.URL)
	iss.caFile = filepath.Join(t.TempDir(), "issuer-ca.pem")
	caPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(iss.caFile, caPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	return iss
}

// publish adds a signing key to the issuer's JWKS (key rotation).
func (iss *testIssuer) publish(key *rsa.PrivateKey, kid string) {
	iss.mu.Lock()
	defer iss.mu.Unlock()
	iss.oidc.PublicKeys = append(iss.oidc.PublicKeys, oidctest.PublicKey{PublicKey: key.Public(), KeyID: kid, Algorithm: oidc.RS256})
}

// claims are valid access-token claims from iss; tests change one thing.
func (iss *testIssuer) claims() map[string]any {
	now := time.Now()
	return map[string]any{
		"iss": iss.url,
		"aud": testAudience,
		"sub": "operator-1",
		"iat": now.Unix(),
		"exp": now.Add(time.Hour).Unix(),
	}
}

func sign(t *testing.T, key *rsa.PrivateKey, kid string, claims map[string]any) string {
	t.Helper()
	b, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	return oidctest.SignIDToken(key, kid, oidc.RS256, string(b))
}

func (iss *testIssuer) codecAuth() config.CodecAuth {
	return config.CodecAuth{Issuer: iss.url, Audience: testAudience, CAFile: iss.caFile}
}

// authHandler is the worker's handler for a container-style listen address
// with http.codecAuth pointing at iss.
func authHandler(t *testing.T, ring codec.Keyring, auth config.CodecAuth) http.Handler {
	t.Helper()
	cfg := config.HTTP{Listen: "0.0.0.0:8081", CodecCORSOrigins: []string{testUIOrigin}, CodecAuth: auth}
	h, err := newWorkerHTTPHandler(cfg, ring, zap.NewNop())
	if err != nil {
		t.Fatalf("worker handler with http.codecAuth: %v", err)
	}
	return h
}

// decodeRequest is what the Web UI sends: a payload the worker encrypted,
// POSTed from the UI's origin, with the access token when token != "".
func decodeRequest(t *testing.T, ring codec.Keyring, path, authorization string) *http.Request {
	t.Helper()
	dc, err := codec.NewDataConverter(ring)
	if err != nil {
		t.Fatal(err)
	}
	enc, err := dc.ToPayload("Contoso Pharmaceuticals")
	if err != nil {
		t.Fatal(err)
	}
	body, err := protojson.Marshal(&commonpb.Payloads{Payloads: []*commonpb.Payload{enc}})
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
	req.Header.Set("Origin", testUIOrigin)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Namespace", "default")
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	return req
}

func assertDecoded(t *testing.T, rec *httptest.ResponseRecorder) {
	t.Helper()
	if rec.Code != http.StatusOK {
		t.Fatalf("decode = %d %s, want 200", rec.Code, rec.Body.String())
	}
	var out commonpb.Payloads
	if err := protojson.Unmarshal(rec.Body.Bytes(), &out); err != nil {
		t.Fatal(err)
	}
	var s string
	if err := converter.GetDefaultDataConverter().FromPayload(out.Payloads[0], &s); err != nil || s != "Contoso Pharmaceuticals" {
		t.Fatalf("decoded %q (%v), want the plaintext", s, err)
	}
}

func TestCodecWithValidAccessTokenDecodesWhatTheWorkerEncrypts(t *testing.T) {
	iss := newTestIssuer(t)
	ring := testRing(t)
	h := authHandler(t, ring, iss.codecAuth())
	token := sign(t, iss.key, iss.kid, iss.claims())

	for _, path := range []string{"/codec/decode", "/codec/default/decode"} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, decodeRequest(t, ring, path, "Bearer "+token))
		assertDecoded(t, rec)
		if got := rec.Header().Get("Access-Control-Allow-Origin"); got != testUIOrigin {
			t.Errorf("%s: Access-Control-Allow-Origin = %q, want %q", path, got, testUIOrigin)
		}
	}
	if n := iss.jwksHit.Load(); n != 1 {
		t.Errorf("the issuer's JWKS was fetched %d times for two requests, want 1 (keys are cached)", n)
	}
}

func TestCodecAcceptsATokenWhoseAudienceListIncludesTheConfiguredOne(t *testing.T) {
	iss := newTestIssuer(t)
	ring := testRing(t)
	h := authHandler(t, ring, iss.codecAuth())
	c := iss.claims()
	c["aud"] = []string{"some-other-api", testAudience}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, decodeRequest(t, ring, "/codec/decode", "bearer "+sign(t, iss.key, iss.kid, c)))
	assertDecoded(t, rec)
}

func TestCodecRefusesRequestsWithoutAValidAccessToken(t *testing.T) {
	iss := newTestIssuer(t)
	other := newTestIssuer(t) // a real issuer, but not the configured one
	ring := testRing(t)
	h := authHandler(t, ring, iss.codecAuth())

	with := func(change func(c map[string]any)) string {
		c := iss.claims()
		change(c)
		return "Bearer " + sign(t, iss.key, iss.kid, c)
	}
	rogue := newRSAKey(t)
	tests := []struct {
		name          string
		authorization string
	}{
		{"no token", ""},
		{"empty bearer", "Bearer "},
		{"basic scheme", "Basic b3BlcmF0b3I6aHVudGVyMg=="},
		{"token without scheme", sign(t, iss.key, iss.kid, iss.claims())},
		{"malformed token", "Bearer not.a.jwt"},
		{"garbage", "Bearer " + strings.Repeat("A", 64)},
		{"token from another issuer", "Bearer " + sign(t, other.key, other.kid, other.claims())},
		{"iss claim of another issuer, signed by ours", with(func(c map[string]any) { c["iss"] = other.url })},
		{"wrong audience", with(func(c map[string]any) { c["aud"] = "api://some-other-api" })},
		{"no audience", with(func(c map[string]any) { delete(c, "aud") })},
		{"expired", with(func(c map[string]any) { c["exp"] = time.Now().Add(-time.Minute).Unix() })},
		{"no expiry", with(func(c map[string]any) { delete(c, "exp") })},
		{"not yet valid", with(func(c map[string]any) { c["nbf"] = time.Now().Add(time.Hour).Unix() })},
		{"signed by an unknown key", "Bearer " + sign(t, rogue, "rogue-key", iss.claims())},
		{"signed by an unknown key under the issuer's kid", "Bearer " + sign(t, rogue, iss.kid, iss.claims())},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, decodeRequest(t, ring, "/codec/decode", tt.authorization))
			if rec.Code != http.StatusUnauthorized {
				t.Fatalf("decode = %d %s, want 401", rec.Code, rec.Body.String())
			}
			if !strings.HasPrefix(rec.Header().Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("401 without a Bearer WWW-Authenticate challenge: %q", rec.Header().Get("WWW-Authenticate"))
			}
			if strings.Contains(rec.Body.String(), "Contoso") {
				t.Error("a refused request got the plaintext")
			}
			// The browser must be able to read the 401 to show the error.
			if got := rec.Header().Get("Access-Control-Allow-Origin"); got != testUIOrigin {
				t.Errorf("401 Access-Control-Allow-Origin = %q, want %q", got, testUIOrigin)
			}
		})
	}
}

func TestCodecEncodeNeedsATokenToo(t *testing.T) {
	iss := newTestIssuer(t)
	h := authHandler(t, testRing(t), iss.codecAuth())
	req := httptest.NewRequest(http.MethodPost, "/codec/encode", strings.NewReader(`{"payloads":[]}`))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusUnauthorized {
		t.Fatalf("encode without a token = %d, want 401", rec.Code)
	}
}

func TestCodecAcceptsTokensFromARotatedKey(t *testing.T) {
	iss := newTestIssuer(t)
	ring := testRing(t)
	h := authHandler(t, ring, iss.codecAuth())
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, decodeRequest(t, ring, "/codec/decode", "Bearer "+sign(t, iss.key, iss.kid, iss.claims())))
	assertDecoded(t, rec)

	next := newRSAKey(t)
	iss.publish(next, "key-2")
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, decodeRequest(t, ring, "/codec/decode", "Bearer "+sign(t, next, "key-2", iss.claims())))
	assertDecoded(t, rec)
	if n := iss.jwksHit.Load(); n != 2 {
		t.Errorf("JWKS fetched %d times, want 2: once at first use, once for the new kid", n)
	}
}

func TestCodecAuthUsesTheJWKSURLOverrideWithoutDiscovery(t *testing.T) {
	iss := newTestIssuer(t)
	ring := testRing(t)
	auth := iss.codecAuth()
	auth.Issuer = "https://issuer.invalid/tenant/v2.0" // not reachable: discovery would fail
	auth.JWKSURL = iss.url + "/keys"
	h := authHandler(t, ring, auth)
	c := iss.claims()
	c["iss"] = auth.Issuer
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, decodeRequest(t, ring, "/codec/decode", "Bearer "+sign(t, iss.key, iss.kid, c)))
	assertDecoded(t, rec)
}

func TestCodecAnswers503WhileTheIssuerIsUnreachable(t *testing.T) {
	iss := newTestIssuer(t)
	down := httptest.NewTLSServer(http.NotFoundHandler())
	downURL := down.URL
	down.Close()
	ring := testRing(t)
	auth := iss.codecAuth()
	auth.Issuer = downURL
	// The worker still starts: Temporal work does not wait for the IdP.
	h := authHandler(t, ring, auth)
	c := iss.claims()
	c["iss"] = downURL
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, decodeRequest(t, ring, "/codec/decode", "Bearer "+sign(t, iss.key, iss.kid, c)))
	if rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("decode with the issuer down = %d %s, want 503", rec.Code, rec.Body.String())
	}
}

func TestCodecAuthDoesNotTrustTheIssuerWithoutItsCA(t *testing.T) {
	iss := newTestIssuer(t)
	ring := testRing(t)
	auth := iss.codecAuth()
	auth.CAFile = ""
	h := authHandler(t, ring, auth)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, decodeRequest(t, ring, "/codec/decode", "Bearer "+sign(t, iss.key, iss.kid, iss.claims())))
	if rec.Code == http.StatusOK {
		t.Fatal("decode succeeded although the issuer's certificate is not trusted")
	}
}

func TestHealthzStaysOpenWithCodecAuth(t *testing.T) {
	iss := newTestIssuer(t)
	h := authHandler(t, testRing(t), iss.codecAuth())
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/healthz", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("healthz = %d, want 200 without a token", rec.Code)
	}
}

func preflight(h http.Handler, origin string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodOptions, "/codec/decode", nil)
	req.Header.Set("Origin", origin)
	req.Header.Set("Access-Control-Request-Method", "POST")
	req.Header.Set("Access-Control-Request-Headers", "authorization,content-type,x-namespace")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestPreflightFromAForeignOriginGetsNoCORSGrant(t *testing.T) {
	iss := newTestIssuer(t)
	h := authHandler(t, testRing(t), iss.codecAuth())
	for _, origin := range []string{"https://evil.example", "https://temporal-ui.example.com.evil.example", "null"} {
		rec := preflight(h, origin)
		for _, header := range []string{"Access-Control-Allow-Origin", "Access-Control-Allow-Credentials", "Access-Control-Allow-Headers"} {
			if got := rec.Header().Get(header); got != "" {
				t.Errorf("preflight from %s: %s = %q, want none", origin, header, got)
			}
		}
		if rec.Code < 400 {
			t.Errorf("preflight from %s = %d, want a refusal", origin, rec.Code)
		}
	}
}

func TestPreflightFromTheUIOriginIsGrantedWithoutAToken(t *testing.T) {
	iss := newTestIssuer(t)
	h := authHandler(t, testRing(t), iss.codecAuth())
	rec := preflight(h, testUIOrigin)
	if rec.Code != http.StatusNoContent {
		t.Fatalf("preflight = %d %s, want 204", rec.Code, rec.Body.String())
	}
	if got := rec.Header().Get("Access-Control-Allow-Origin"); got != testUIOrigin {
		t.Errorf("Access-Control-Allow-Origin = %q, want the exact origin %q", got, testUIOrigin)
	}
	if got := rec.Header().Get("Access-Control-Allow-Credentials"); got != "true" {
		t.Errorf("Access-Control-Allow-Credentials = %q, want true", got)
	}
	allowed := strings.ToLower(rec.Header().Get("Access-Control-Allow-Headers"))
	for _, want := range []string{"content-type", "authorization", "x-namespace", "authorization-extras"} {
		if !strings.Contains(allowed, want) {
			t.Errorf("Access-Control-Allow-Headers %q lacks %s", allowed, want)
		}
	}
	if !strings.Contains(rec.Header().Get("Access-Control-Allow-Methods"), "POST") {
		t.Errorf("Access-Control-Allow-Methods = %q, want POST", rec.Header().Get("Access-Control-Allow-Methods"))
	}
	if got := rec.Header().Values("Vary"); !containsFold(got, "Origin") {
		t.Errorf("Vary = %q, want Origin", got)
	}
}

func containsFold(vs []string, want string) bool {
	for _, v := range vs {
		for _, p := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(p), want) {
				return true
			}
		}
	}
	return false
}

func TestCORSVariesOnOriginEvenWhenNotGranted(t *testing.T) {
	h, err := NewHTTPHandler(testRing(t), []string{testUIOrigin})
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodPost, "/codec/decode", strings.NewReader(`{"payloads":[]}`))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req) // the CLI: no Origin
	if rec.Header().Get("Access-Control-Allow-Origin") != "" {
		t.Error("a request without Origin got a CORS grant")
	}
	if !containsFold(rec.Header().Values("Vary"), "Origin") {
		t.Errorf("Vary = %q, want Origin so a cache does not reuse the answer across origins", rec.Header().Values("Vary"))
	}
}

func TestWorkerRefusesToStartACodecBeyondLoopbackWithoutCodecAuth(t *testing.T) {
	for _, listen := range []string{"0.0.0.0:0", ":0", "[::]:0"} {
		stop, err := serveHTTP(config.HTTP{Listen: listen, CodecCORSOrigins: []string{testUIOrigin}}, testRing(t), nil, zap.NewNop())
		if err == nil {
			stop()
			t.Fatalf("serveHTTP on %s without http.codecAuth started", listen)
		}
		if !strings.Contains(err.Error(), "http.codecAuth") || !strings.Contains(err.Error(), "127.0.0.1") {
			t.Errorf("serveHTTP on %s: error %q should name http.codecAuth and the loopback alternative", listen, err)
		}
	}
}

func TestWorkerServesAnOpenCodecOnLoopbackAndSaysSoOnce(t *testing.T) {
	core, logs := observer.New(zapcore.InfoLevel)
	stop, err := serveHTTP(config.HTTP{Listen: "127.0.0.1:0", CodecCORSOrigins: []string{testUIOrigin}}, testRing(t), nil, zap.New(core))
	if err != nil {
		t.Fatalf("serveHTTP on loopback without http.codecAuth: %v", err)
	}
	stop()
	if n := logs.FilterMessageSnippet("codec endpoint is open").Len(); n != 1 {
		t.Errorf("logged %d times that the codec endpoint is open, want once", n)
	}
}

func TestWorkerStartsBeyondLoopbackWithCodecAuth(t *testing.T) {
	iss := newTestIssuer(t)
	stop, err := serveHTTP(config.HTTP{Listen: "0.0.0.0:0", CodecCORSOrigins: []string{testUIOrigin}, CodecAuth: iss.codecAuth()}, testRing(t), nil, zap.NewNop())
	if err != nil {
		t.Fatalf("serveHTTP with http.codecAuth: %v", err)
	}
	stop()
}

func TestBearerToken(t *testing.T) {
	for in, want := range map[string]string{
		"Bearer abc":   "abc",
		"bearer abc":   "abc",
		"BEARER  abc ": "abc",
		"Bearer":       "",
		"Bearer a b":   "",
		"Token abc":    "",
		"abc":          "",
		"":             "",
	} {
		got, ok := bearerToken(in)
		if got != want || ok != (want != "") {
			t.Errorf("bearerToken(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
}
