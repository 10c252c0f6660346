package graphsim

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
)

type testAppCert struct {
	cert *x509.Certificate
	key  *rsa.PrivateKey
	pem  string // public part only
}

func newTestAppCert(t *testing.T, notAfter time.Time) testAppCert {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(42), Subject: pkix.Name{CommonName: "outlookflow"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: notAfter}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return testAppCert{cert: cert, key: key, pem: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))}
}

// startCertSim seeds the demo tenant with a certificate registered on its app.
func startCertSim(t *testing.T, certs ...testAppCert) *simEnv {
	t.Helper()
	sim, err := Start(Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Close() })
	seed, creds := DemoTenant()
	for _, c := range certs {
		seed.Apps[0].Certificates = append(seed.Apps[0].Certificates, CertificateSeed{PEM: c.pem})
	}
	if err := sim.SeedTenant(seed); err != nil {
		t.Fatal(err)
	}
	return &simEnv{sim: sim, seed: seed, creds: creds}
}

func newCertCredential(t *testing.T, e *simEnv, c testAppCert) *azidentity.ClientCertificateCredential {
	t.Helper()
	cred, err := azidentity.NewClientCertificateCredential(e.creds.TenantID, e.creds.ClientID, []*x509.Certificate{c.cert}, c.key, &azidentity.ClientCertificateCredentialOptions{
		ClientOptions: azcore.ClientOptions{
			Cloud:     cloud.Configuration{ActiveDirectoryAuthorityHost: e.sim.AuthorityHost()},
			Transport: tlsClient(e.sim),
			Retry:     policy.RetryOptions{MaxRetries: 1, RetryDelay: 50 * time.Millisecond, MaxRetryDelay: 2 * time.Second},
		},
		DisableInstanceDiscovery: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	return cred
}

// signAssertion builds a client assertion by hand: RS256 with x5t, as
// ADFS-style clients send it, with claims overridable per test.
func signAssertion(t *testing.T, c testAppCert, signer *rsa.PrivateKey, claims map[string]any) string {
	t.Helper()
	sum := sha1.Sum(c.cert.Raw)
	h, _ := json.Marshal(map[string]any{"alg": "RS256", "typ": "JWT", "x5t": base64.RawURLEncoding.EncodeToString(sum[:])})
	p, _ := json.Marshal(claims)
	signed := base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(p)
	digest := sha256.Sum256([]byte(signed))
	sig, err := rsa.SignPKCS1v15(rand.Reader, signer, crypto.SHA256, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	return signed + "." + base64.RawURLEncoding.EncodeToString(sig)
}

func assertionClaims(e *simEnv) map[string]any {
	now := time.Now().Unix()
	return map[string]any{
		"aud": e.sim.URL() + "/" + e.creds.TenantID + "/oauth2/v2.0/token",
		"iss": e.creds.ClientID, "sub": e.creds.ClientID, "jti": randomGUID(),
		"nbf": now, "exp": now + 600,
	}
}

func postAssertion(t *testing.T, e *simEnv, assertion string) (int, string) {
	t.Helper()
	return postTokenForm(t, e.sim, e.creds.TenantID, url.Values{
		"grant_type":            {"client_credentials"},
		"client_id":             {e.creds.ClientID},
		"client_assertion_type": {ClientAssertionType},
		"client_assertion":      {assertion},
		"scope":                 {graphScope + " openid offline_access profile"},
	})
}

func TestClientAssertion_CertificateCredentialGetsATokenWithTheAppsRoles(t *testing.T) {
	t.Parallel()
	c := newTestAppCert(t, time.Now().Add(24*time.Hour))
	e := startCertSim(t, c)
	tok, err := newCertCredential(t, e, c).GetToken(ctxT(t), tokenOptions())
	if err != nil {
		t.Fatalf("GetToken with the registered certificate (PS256, x5t#S256): %v", err)
	}
	claims := jwtClaims(t, tok.Token)
	roles, _ := claims["roles"].([]any)
	if claims["appid"] != e.creds.ClientID || !slices.Contains(roles, any("Mail.ReadBasic.All")) {
		t.Errorf("token claims appid %v roles %v; want the app's", claims["appid"], roles)
	}
	// RS256 with the SHA-1 x5t is accepted too.
	if status, body := postAssertion(t, e, signAssertion(t, c, c.key, assertionClaims(e))); status != http.StatusOK {
		t.Errorf("RS256 assertion: status %d body %s", status, body)
	}
}

func TestClientAssertion_UnregisteredCertificateGivesInvalidClient700027(t *testing.T) {
	t.Parallel()
	registered := newTestAppCert(t, time.Now().Add(24*time.Hour))
	other := newTestAppCert(t, time.Now().Add(24*time.Hour))
	e := startCertSim(t, registered)
	_, err := newCertCredential(t, e, other).GetToken(ctxT(t), tokenOptions())
	status, body := authFailure(t, err)
	checkIdentityError(t, status, body, http.StatusUnauthorized, "invalid_client", 700027)

	// The registered certificate's thumbprint with another key's signature.
	status, body = postAssertion(t, e, signAssertion(t, registered, other.key, assertionClaims(e)))
	checkIdentityError(t, status, body, http.StatusUnauthorized, "invalid_client", 700027)
}

func TestClientAssertion_ClaimsAreChecked(t *testing.T) {
	t.Parallel()
	c := newTestAppCert(t, time.Now().Add(24*time.Hour))
	e := startCertSim(t, c)
	tests := []struct {
		name   string
		mutate func(m map[string]any)
		code   int
	}{
		{"expired", func(m map[string]any) {
			m["nbf"], m["exp"] = time.Now().Add(-2*time.Hour).Unix(), time.Now().Add(-time.Hour).Unix()
		}, 700024},
		{"not yet valid", func(m map[string]any) {
			m["nbf"], m["exp"] = time.Now().Add(time.Hour).Unix(), time.Now().Add(2*time.Hour).Unix()
		}, 700024},
		{"wrong audience", func(m map[string]any) {
			m["aud"] = "https://login.microsoftonline.com/" + e.creds.TenantID + "/oauth2/v2.0/token"
		}, 700023},
		{"issuer is not the client", func(m map[string]any) { m["iss"] = "11111111-2222-3333-4444-555555555555" }, 700021},
	}
	for _, tt := range tests {
		claims := assertionClaims(e)
		tt.mutate(claims)
		status, body := postAssertion(t, e, signAssertion(t, c, c.key, claims))
		t.Run(tt.name, func(t *testing.T) {
			checkIdentityError(t, status, body, http.StatusUnauthorized, "invalid_client", tt.code)
		})
	}
	// The audience may name the tenant by its domain, as an authority may.
	claims := assertionClaims(e)
	claims["aud"] = e.sim.URL() + "/" + e.seed.Domain + "/oauth2/v2.0/token"
	if status, body := postAssertion(t, e, signAssertion(t, c, c.key, claims)); status != http.StatusOK {
		t.Errorf("audience with the tenant's domain: status %d body %s", status, body)
	}
}

func TestClientAssertion_ExpiredRegisteredCertificateGives700027(t *testing.T) {
	t.Parallel()
	c := newTestAppCert(t, time.Now().Add(-time.Minute))
	e := startCertSim(t, c)
	status, body := postAssertion(t, e, signAssertion(t, c, c.key, assertionClaims(e)))
	m := checkIdentityError(t, status, body, http.StatusUnauthorized, "invalid_client", 700027)
	if desc, _ := m["error_description"].(string); !strings.Contains(desc, "The key used is expired") {
		t.Errorf("description %q does not say the key expired", desc)
	}
}

func TestClientAssertion_ControlAPIRegistersAndRemovesCertificates(t *testing.T) {
	t.Parallel()
	c := newTestAppCert(t, time.Now().Add(24*time.Hour))
	e := startCertSim(t)
	path := "/tenants/" + e.creds.TenantID + "/apps/" + e.creds.ClientID + "/certificates"
	out := controlCall(t, e.sim, http.MethodPost, path, map[string]string{"pem": c.pem}, http.StatusOK)
	want, err := CertificateThumbprint([]byte(c.pem))
	if err != nil || out["thumbprint"] != want {
		t.Fatalf("thumbprint answered %v, want %s (%v)", out["thumbprint"], want, err)
	}
	if _, err := newCertCredential(t, e, c).GetToken(ctxT(t), tokenOptions()); err != nil {
		t.Fatalf("GetToken after registering over HTTP: %v", err)
	}
	controlCall(t, e.sim, http.MethodPost, path+"/remove", map[string]string{"thumbprint": want}, http.StatusOK)
	_, err = newCertCredential(t, e, c).GetToken(ctxT(t), tokenOptions())
	status, body := authFailure(t, err)
	checkIdentityError(t, status, body, http.StatusUnauthorized, "invalid_client", 700027)
	controlCall(t, e.sim, http.MethodPost, path, map[string]string{"pem": "not a certificate"}, http.StatusBadRequest)
}
