package app

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"go.uber.org/zap"

	"github.com/outlookflow/outlookflow/config"
)

// tokenVerifier checks the bearer token a codec request carries.
type tokenVerifier interface {
	verifyToken(ctx context.Context, raw string) error
}

// errIssuerUnavailable marks a token that could not be checked because the
// issuer's discovery document could not be fetched (the request gets 503,
// not 401: the caller did nothing wrong).
var errIssuerUnavailable = errors.New("OIDC issuer unavailable")

// issuerRetryInterval bounds how often a failed discovery is retried, so a
// down issuer is not hammered by every codec request.
const issuerRetryInterval = 10 * time.Second

// issuerTimeout bounds each request to the issuer (discovery, JWKS).
const issuerTimeout = 10 * time.Second

// signingAlgs are the algorithms accepted on access tokens: asymmetric only,
// so a token cannot be "signed" with a public key as an HMAC secret or with
// "none". The issuer's JWKS decides which keys exist.
var signingAlgs = []string{
	oidc.RS256, oidc.RS384, oidc.RS512,
	oidc.PS256, oidc.PS384, oidc.PS512,
	oidc.ES256, oidc.ES384, oidc.ES512,
	oidc.EdDSA,
}

// oidcTokenVerifier verifies access tokens from the issuer in http.codecAuth:
// signature against the issuer's JWKS (go-oidc caches the keys and refetches
// them when a token names an unknown kid), iss, aud and exp (and nbf). The
// issuer is discovered on first use and, after a failure, again at most every
// issuerRetryInterval, so the worker starts while the issuer is down.
type oidcTokenVerifier struct {
	cfg    config.CodecAuth
	client *http.Client

	mu      sync.Mutex
	v       *oidc.IDTokenVerifier
	lastErr error
	lastTry time.Time
}

var _ tokenVerifier = (*oidcTokenVerifier)(nil)

func newOIDCTokenVerifier(cfg config.CodecAuth) (*oidcTokenVerifier, error) {
	if strings.TrimSpace(cfg.Issuer) == "" {
		return nil, errors.New("http.codecAuth.issuer is empty; set it to the OIDC issuer of the Web UI's sign-in")
	}
	if strings.TrimSpace(cfg.Audience) == "" {
		return nil, errors.New("http.codecAuth.audience is empty; set it to the audience of the access token the Web UI sends")
	}
	client, err := issuerHTTPClient(cfg.CAFile)
	if err != nil {
		return nil, err
	}
	return &oidcTokenVerifier{cfg: cfg, client: client}, nil
}

// issuerHTTPClient trusts the system roots plus the PEM bundle in caFile.
func issuerHTTPClient(caFile string) (*http.Client, error) {
	tlsCfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("http.codecAuth.caFile: %w; set it to a readable PEM CA bundle, or remove it", err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("http.codecAuth.caFile %s holds no PEM certificate; set it to the CA that signed the issuer's certificate", caFile)
		}
		tlsCfg.RootCAs = pool
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = tlsCfg
	return &http.Client{Transport: tr, Timeout: issuerTimeout}, nil
}

// verifier returns the token verifier, discovering the issuer if needed.
func (o *oidcTokenVerifier) verifier() (*oidc.IDTokenVerifier, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.v != nil {
		return o.v, nil
	}
	if o.lastErr != nil && time.Since(o.lastTry) < issuerRetryInterval {
		return nil, o.lastErr
	}
	o.lastTry = time.Now()
	// Not the request's context: one cancelled request must not fail the
	// discovery every later request would reuse.
	ctx, cancel := context.WithTimeout(context.Background(), issuerTimeout)
	defer cancel()
	ctx = oidc.ClientContext(ctx, o.client)
	var p *oidc.Provider
	if o.cfg.JWKSURL != "" {
		p = (&oidc.ProviderConfig{IssuerURL: o.cfg.Issuer, JWKSURL: o.cfg.JWKSURL}).NewProvider(ctx)
	} else {
		var err error
		p, err = oidc.NewProvider(ctx, o.cfg.Issuer)
		if err != nil {
			o.lastErr = fmt.Errorf("%w: http.codecAuth.issuer %s: discovery at %s/.well-known/openid-configuration failed: %v; check that the issuer is exactly the tokens' iss and that the worker reaches it (http.codecAuth.caFile for a private CA, http.codecAuth.jwksURL to skip discovery)",
				errIssuerUnavailable, o.cfg.Issuer, strings.TrimSuffix(o.cfg.Issuer, "/"), err)
			return nil, o.lastErr
		}
	}
	o.v = p.Verifier(&oidc.Config{ClientID: o.cfg.Audience, SupportedSigningAlgs: signingAlgs})
	o.lastErr = nil
	return o.v, nil
}

func (o *oidcTokenVerifier) verifyToken(ctx context.Context, raw string) error {
	v, err := o.verifier()
	if err != nil {
		return err
	}
	_, err = v.Verify(oidc.ClientContext(ctx, o.client), raw)
	return err
}

const codecRealm = `Bearer realm="outlookflow-codec"`

// requireAccessToken lets a request through only with a valid
// "Authorization: Bearer <JWT>" header, as the Temporal Web UI sends it when
// its codec passAccessToken setting is on (and the CLI with --codec-auth).
func requireAccessToken(next http.Handler, tv tokenVerifier, log *zap.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, ok := bearerToken(r.Header.Get("Authorization"))
		if !ok {
			w.Header().Set("WWW-Authenticate", codecRealm)
			http.Error(w, "the codec endpoint needs an access token (Authorization: Bearer <token>); turn on the Web UI's codec passAccessToken", http.StatusUnauthorized)
			return
		}
		err := tv.verifyToken(r.Context(), raw)
		switch {
		case err == nil:
			next.ServeHTTP(w, r)
		case errors.Is(err, errIssuerUnavailable):
			log.Warn("codec request not served: the OIDC issuer is unavailable", zap.Error(err))
			http.Error(w, "the codec endpoint cannot reach its OIDC issuer; try again later", http.StatusServiceUnavailable)
		default:
			// go-oidc's message names the mismatched iss, aud or expiry,
			// never the token itself.
			log.Info("codec request refused: invalid access token", zap.String("reason", err.Error()))
			w.Header().Set("WWW-Authenticate", codecRealm+`, error="invalid_token"`)
			http.Error(w, "invalid access token", http.StatusUnauthorized)
		}
	})
}

// bearerToken extracts the token from an Authorization header value.
func bearerToken(h string) (string, bool) {
	scheme, token, ok := strings.Cut(strings.TrimSpace(h), " ")
	token = strings.TrimSpace(token)
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" || strings.ContainsAny(token, " \t") {
		return "", false
	}
	return token, true
}
