package graphsim

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha1" // #nosec G505 -- x5t is SHA-1 by definition (RFC 7515 §4.1.7)
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Certificate credentials: an app proves its identity with a JWT (the
// client assertion) signed by the private key of a certificate registered
// on the app, instead of a client secret. This is what azidentity's
// ClientCertificateCredential sends (MSAL Go accesstokens.Credential.JWT):
//
//	client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer
//	client_assertion=<header {alg: PS256, typ: JWT, x5t#S256} (RS256 and x5t
//	for ADFS), claims {aud: token endpoint, iss = sub = client_id, jti, nbf,
//	exp = now+10m}, signed with the certificate's key>
//
// Error codes (learn.microsoft.com/azure/developer/java/sdk/
// troubleshooting-authentication-service-principal, "Troubleshoot
// ClientCertificateCredential" and "ClientAssertionCredential"):
// AADSTS700027 the assertion's signature does not validate against a key
// registered on the app (unknown thumbprint included); AADSTS700021 the
// assertion's iss/sub is not the client_id; AADSTS700023 its audience is not
// this tenant's token endpoint. AADSTS700024 "Client assertion is not within
// its valid time range" is quoted from real responses [obs,
// Azure/azure-cli#28708]. AADSTS700212 belongs to federated identity
// credentials (no matching federated record for the audience), not to
// certificates, so it is not used here.

// ClientAssertionType is the only client_assertion_type Entra accepts.
const ClientAssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// assertionClockSkew is how far outside [nbf, exp] an assertion is still
// accepted [unv: Entra tolerates a few minutes of skew].
const assertionClockSkew = 5 * time.Minute

// appCertificate is a certificate's public part registered on an app
// (a keyCredential): the assertion's thumbprint selects it, its key checks
// the signature, and past NotAfter it no longer counts.
type appCertificate struct {
	cert           *x509.Certificate
	sha1, sha256   []byte
	thumbprintHex  string // SHA-1, upper-case hex, as the admin center shows it
	startAt, endAt time.Time
}

// CertificateSeed is a certificate registered on an app: its public part
// only, PEM-encoded (-----BEGIN CERTIFICATE-----), as uploaded under
// Certificates & secrets.
type CertificateSeed struct {
	PEM string `json:"pem"`
}

func newAppCertificate(certPEM []byte) (*appCertificate, error) {
	blk, _ := pem.Decode(certPEM)
	if blk == nil || blk.Type != "CERTIFICATE" {
		return nil, errors.New("graphsim: certificate is not PEM (-----BEGIN CERTIFICATE-----)")
	}
	c, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("graphsim: certificate does not parse: %w", err)
	}
	if _, ok := c.PublicKey.(*rsa.PublicKey); !ok {
		// Entra's keyCredentials for client assertions are RSA (AsymmetricX509Cert).
		return nil, errors.New("graphsim: certificate credentials must have an RSA key")
	}
	s1 := sha1.Sum(c.Raw) // #nosec G401 -- a thumbprint, not a signature
	s256 := sha256.Sum256(c.Raw)
	return &appCertificate{
		cert: c, sha1: s1[:], sha256: s256[:],
		thumbprintHex: strings.ToUpper(hex.EncodeToString(s1[:])),
		startAt:       c.NotBefore, endAt: c.NotAfter,
	}, nil
}

// CertificateThumbprint is the SHA-1 thumbprint (upper-case hex) the
// simulator names a registered certificate by.
func CertificateThumbprint(certPEM []byte) (string, error) {
	c, err := newAppCertificate(certPEM)
	if err != nil {
		return "", err
	}
	return c.thumbprintHex, nil
}

// addCertificates registers seeded certificates on a (new) app.
func (a *app) addCertificates(seeds []CertificateSeed) error {
	for _, cs := range seeds {
		c, err := newAppCertificate([]byte(cs.PEM))
		if err != nil {
			return fmt.Errorf("app %q: %w", a.clientID, err)
		}
		a.addCertificate(c)
	}
	return nil
}

func (a *app) addCertificate(c *appCertificate) {
	for i, old := range a.certs {
		if old.thumbprintHex == c.thumbprintHex {
			a.certs[i] = c
			return
		}
	}
	a.certs = append(a.certs, c)
}

// AddCertificate registers a certificate's public part (PEM) on the app, as
// uploading it under Certificates & secrets does, and returns its SHA-1
// thumbprint. Token requests may then authenticate with assertions signed
// by its key.
func (s *Server) AddCertificate(tenantID, clientID string, certPEM []byte) (string, error) {
	c, err := newAppCertificate(certPEM)
	if err != nil {
		return "", err
	}
	return c.thumbprintHex, s.withApp(tenantID, clientID, func(a *app) error {
		a.addCertificate(c)
		return nil
	})
}

// RemoveCertificate deletes the certificate with the SHA-1 thumbprint (hex,
// any case) from the app: assertions signed by its key then fail with
// AADSTS700027.
func (s *Server) RemoveCertificate(tenantID, clientID, thumbprint string) error {
	return s.withApp(tenantID, clientID, func(a *app) error {
		for i, c := range a.certs {
			if strings.EqualFold(c.thumbprintHex, thumbprint) {
				a.certs = append(a.certs[:i], a.certs[i+1:]...)
				return nil
			}
		}
		return fmt.Errorf("%w: certificate %s of app %q", ErrNotFound, thumbprint, clientID)
	})
}

// controlCertificates serves POST /_sim/v1/tenants/{tid}/apps/{cid}/certificates
// {"pem": "-----BEGIN CERTIFICATE-----..."} (answering the thumbprint) and
// .../certificates/remove {"thumbprint": "HEX"}. It reports whether the
// action was one of them.
func (s *Server) controlCertificates(w http.ResponseWriter, r *http.Request, tenantID, clientID, action string, done func(error)) bool {
	switch action {
	case "certificates":
		var body struct {
			PEM string `json:"pem"`
		}
		if err := decodeControl(r, &body); err != nil {
			done(err)
			return true
		}
		tp, err := s.AddCertificate(tenantID, clientID, []byte(body.PEM))
		if err != nil {
			done(err)
			return true
		}
		writeJSON(w, http.StatusOK, contentTypeJSON, object{{"ok", true}, {"thumbprint", tp}})
	case "certificates/remove":
		var body struct {
			Thumbprint string `json:"thumbprint"`
		}
		if err := decodeControl(r, &body); err != nil {
			done(err)
			return true
		}
		done(s.RemoveCertificate(tenantID, clientID, body.Thumbprint))
	default:
		return false
	}
	return true
}

// usesClientAssertion reports whether a token request authenticates the
// client with an assertion rather than a secret.
func usesClientAssertion(form url.Values) bool {
	return form.Get("client_assertion") != "" || form.Get("client_assertion_type") != ""
}

// identityFailure is one identity-platform error answer.
type identityFailure struct {
	status  int
	errCode string
	aadsts  int
	text    string
	extra   []kv
}

// checkClientAssertion authenticates the app by its client assertion, then
// checks admin consent like the secret path does. The caller holds s.mu.
// It returns nil when the app may have a token.
func (s *Server) checkClientAssertion(t *tenant, a *app, r *http.Request, tenantSeg string, form url.Values, now time.Time) *identityFailure {
	invalidClient := func(code int, format string, args ...any) *identityFailure {
		return &identityFailure{status: http.StatusUnauthorized, errCode: "invalid_client", aadsts: code, text: fmt.Sprintf(format, args...)}
	}
	if typ := form.Get("client_assertion_type"); typ != ClientAssertionType {
		if typ == "" {
			return &identityFailure{status: http.StatusBadRequest, errCode: "invalid_request", aadsts: 900144,
				text: "The request body must contain the following parameter: 'client_assertion_type'."}
		}
		return &identityFailure{status: http.StatusBadRequest, errCode: "invalid_request", aadsts: 90118,
			text: fmt.Sprintf("The client_assertion_type '%s' is not supported; use '%s'.", typ, ClientAssertionType)}
	}
	assertion := form.Get("client_assertion")
	if assertion == "" {
		return &identityFailure{status: http.StatusBadRequest, errCode: "invalid_request", aadsts: 900144,
			text: "The request body must contain the following parameter: 'client_assertion'."}
	}
	jwt, err := parseAssertion(assertion)
	if err != nil {
		return invalidClient(50027, "JWT token is invalid or malformed. (%v)", err)
	}

	// The thumbprint in the header selects the registered key.
	var cert *appCertificate
	presented := jwt.thumbprintHex()
	for _, c := range a.certs {
		if jwt.matches(c) {
			cert = c
			break
		}
	}
	if cert == nil {
		return invalidClient(700027, "Client assertion failed signature validation. (Reason - The key was not found., Thumbprint of key used by client: '%s', Please visit the Azure Portal, Graph Explorer or directly use MS Graph to see configured keys for app Id '%s'. Review the documentation at https://docs.microsoft.com/en-us/graph/deployments to determine the corresponding service endpoint and https://docs.microsoft.com/en-us/graph/api/application-get?view=graph-rest-1.0&tabs=http to build a query request URL, such as 'https://graph.microsoft.com/beta/applications/%s')",
			presented, a.clientID, a.clientID)
	}
	if err := jwt.verify(cert.cert.PublicKey.(*rsa.PublicKey)); err != nil {
		return invalidClient(700027, "Client assertion failed signature validation. (Reason - The provided signature value did not match the expected signature value., Thumbprint of key used by client: '%s', Found key 'Start=%s, End=%s')",
			presented, cert.startAt.UTC().Format("01/02/2006 15:04:05"), cert.endAt.UTC().Format("01/02/2006 15:04:05"))
	}
	if now.After(cert.endAt) {
		return invalidClient(700027, "Client assertion failed signature validation. (Reason - The key used is expired., Thumbprint of key used by client: '%s', Found key 'Start=%s, End=%s')",
			presented, cert.startAt.UTC().Format("01/02/2006 15:04:05"), cert.endAt.UTC().Format("01/02/2006 15:04:05"))
	}

	c := jwt.claims
	if !strings.EqualFold(c.Iss, a.clientID) || !strings.EqualFold(c.Sub, a.clientID) {
		return invalidClient(700021, "Client assertion application identifier doesn't match 'client_id' parameter. Review the documentation at https://docs.microsoft.com/en-us/azure/active-directory/develop/active-directory-certificate-credentials.")
	}
	if !audienceMatches(c.Aud, r.Host, t, tenantSeg) {
		return invalidClient(700023, "Client assertion audience claim does not match Realm issuer. Review the documentation at https://docs.microsoft.com/en-us/azure/active-directory/develop/active-directory-certificate-credentials.")
	}
	if c.Exp == 0 || c.Nbf == 0 || now.After(time.Unix(c.Exp, 0).Add(assertionClockSkew)) || now.Before(time.Unix(c.Nbf, 0).Add(-assertionClockSkew)) {
		return invalidClient(700024, "Client assertion is not within its valid time range. Current time: %s, assertion valid from %s, expiry time of assertion %s. Review the documentation at https://docs.microsoft.com/azure/active-directory/develop/active-directory-certificate-credentials .",
			now.UTC().Format("2006-01-02T15:04:05.0000000Z"), time.Unix(c.Nbf, 0).UTC().Format("2006-01-02T15:04:05.0000000Z"), time.Unix(c.Exp, 0).UTC().Format("2006-01-02T15:04:05.0000000Z"))
	}
	if a.consentRevoked {
		return &identityFailure{status: http.StatusBadRequest, errCode: "invalid_grant", aadsts: 65001,
			text:  fmt.Sprintf("The user or administrator has not consented to use the application with ID '%s' named '%s'. Send an interactive authorization request for this user and resource.", a.clientID, a.displayName),
			extra: []kv{{"suberror", "consent_required"}}}
	}
	return nil
}

// audienceMatches accepts the tenant's token endpoint (v2 or v1) under the
// tenant's ID, its domain or the segment the request used, on the host the
// request came to.
func audienceMatches(aud []string, host string, t *tenant, tenantSeg string) bool {
	for _, a := range aud {
		u, err := url.Parse(a)
		if err != nil || u.Scheme != "https" || !strings.EqualFold(u.Host, host) {
			continue
		}
		seg, path, _ := strings.Cut(strings.TrimPrefix(u.Path, "/"), "/")
		if !strings.EqualFold(seg, t.id) && !strings.EqualFold(seg, tenantSeg) && (t.domain == "" || !strings.EqualFold(seg, t.domain)) {
			continue
		}
		switch strings.ToLower(path) {
		case "oauth2/v2.0/token", "oauth2/token":
			return true
		}
	}
	return false
}

// assertionJWT is a parsed (not yet verified) client assertion.
type assertionJWT struct {
	header struct {
		Alg     string `json:"alg"`
		X5t     string `json:"x5t"`
		X5tS256 string `json:"x5t#S256"`
		Typ     string `json:"typ"`
	}
	x5t, x5tS256 []byte // the decoded thumbprints
	claims       struct {
		Aud audience `json:"aud"`
		Iss string   `json:"iss"`
		Sub string   `json:"sub"`
		Jti string   `json:"jti"`
		Exp int64    `json:"exp"`
		Nbf int64    `json:"nbf"`
	}
	signed    []byte // header.payload
	signature []byte
}

// audience is a JWT aud: one string or a list.
type audience []string

func (a *audience) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*a = audience{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return errors.New("aud is neither a string nor a list of strings")
	}
	*a = many
	return nil
}

func parseAssertion(s string) (*assertionJWT, error) {
	parts := strings.Split(s, ".")
	if len(parts) != 3 {
		return nil, errors.New("a JWT has three dot-separated parts")
	}
	j := &assertionJWT{signed: []byte(parts[0] + "." + parts[1])}
	hb, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil {
		return nil, errors.New("the header is not base64url")
	}
	if err := json.Unmarshal(hb, &j.header); err != nil {
		return nil, errors.New("the header is not JSON")
	}
	pb, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return nil, errors.New("the payload is not base64url")
	}
	if err := json.Unmarshal(pb, &j.claims); err != nil {
		return nil, fmt.Errorf("the payload is not valid JSON claims: %v", err)
	}
	if j.signature, err = base64.RawURLEncoding.DecodeString(parts[2]); err != nil {
		return nil, errors.New("the signature is not base64url")
	}
	// MSAL encodes thumbprints with the standard alphabet and padding;
	// RFC 7515 says base64url. Accept both.
	j.x5t = decodeThumbprint(j.header.X5t)
	j.x5tS256 = decodeThumbprint(j.header.X5tS256)
	if j.x5t == nil && j.x5tS256 == nil {
		return nil, errors.New("the header names no certificate (x5t or x5t#S256)")
	}
	return j, nil
}

func decodeThumbprint(s string) []byte {
	if s == "" {
		return nil
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			return b
		}
	}
	return nil
}

func (j *assertionJWT) matches(c *appCertificate) bool {
	if j.x5tS256 != nil {
		return string(j.x5tS256) == string(c.sha256)
	}
	return string(j.x5t) == string(c.sha1)
}

// thumbprintHex is the presented thumbprint, as Entra's message shows it.
func (j *assertionJWT) thumbprintHex() string {
	if j.x5tS256 != nil {
		return strings.ToUpper(hex.EncodeToString(j.x5tS256))
	}
	return strings.ToUpper(hex.EncodeToString(j.x5t))
}

// verify checks an RS256 (PKCS #1 v1.5) or PS256 (PSS) signature over
// SHA-256, the two algorithms MSAL signs assertions with.
func (j *assertionJWT) verify(pub *rsa.PublicKey) error {
	digest := sha256.Sum256(j.signed)
	switch j.header.Alg {
	case "RS256":
		return rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], j.signature)
	case "PS256":
		return rsa.VerifyPSS(pub, crypto.SHA256, digest[:], j.signature, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthAuto})
	default:
		return fmt.Errorf("unsupported alg %q", j.header.Alg)
	}
}
