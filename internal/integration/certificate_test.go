package integration

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"software.sslmate.com/src/go-pkcs12"

	"github.com/outlookflow/outlookflow/config"
	"github.com/outlookflow/outlookflow/workflows/tenant"
)

// appCert is a self-signed RSA certificate as an app registration holds it.
type appCert struct {
	cert *x509.Certificate
	key  *rsa.PrivateKey
}

func newAppCert(t *testing.T) appCert {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: "outlookflow integration"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(365 * 24 * time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return appCert{cert: cert, key: key}
}

// publicPEM is what is uploaded to the app registration.
func (c appCert) publicPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.cert.Raw})
}

// keyPEM is the private key alone, PKCS #8.
func (c appCert) keyPEM(t *testing.T) string {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(c.key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
}

// pemFile is what the worker reads: the certificate and its key.
func (c appCert) pemFile(t *testing.T) string {
	return string(c.publicPEM()) + c.keyPEM(t)
}

func (c appCert) pfx(t *testing.T, enc *pkcs12.Encoder, password string) string {
	t.Helper()
	b, err := enc.Encode(c.key, c.cert, nil, password)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// newCertificateHarness is a harness whose tenant authenticates with a
// certificate file (contents file, password by file reference) instead of
// its seeded secret, with registered uploaded to the simulated app.
func newCertificateHarness(t *testing.T, registered appCert, file, password string) *harness {
	t.Helper()
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	h := newWorld(t, allRoles, []string{"directory", "mail"}, time.Hour, key)
	if _, err := h.sim.AddCertificate(h.tenant.TenantID, h.clientID(), registered.publicPEM()); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile := filepath.Join(dir, "app-cert")
	writeFile(t, certFile, file)
	tc := &h.cfg.Tenants[0]
	tc.Secret = config.SecretRef{}
	tc.Certificate = config.Certificate{File: certFile}
	if password != "" {
		pwFile := filepath.Join(dir, "app-cert-password")
		writeFile(t, pwFile, password)
		tc.Certificate.Password = config.SecretRef{File: pwFile}
	}
	// The harness's config is not fully defaulted; only the credential
	// settings must validate.
	var ve *config.ValidationError
	if err := h.cfg.Validate(); errors.As(err, &ve) {
		for _, p := range ve.Problems {
			if strings.HasPrefix(p.Key, "tenants[0].certificate") || strings.HasPrefix(p.Key, "tenants[0].secret") {
				t.Fatalf("the certificate configuration does not validate: %v", p)
			}
		}
	}
	h.startWorker()
	return h
}

func TestCertificateTenantConnectsThroughAzidentity(t *testing.T) {
	c := newAppCert(t)
	for _, tt := range []struct {
		name, file, password string
	}{
		{"PEM with certificate and key", c.pemFile(t), ""},
		// SHA-1/3DES: what azidentity.ParseCertificates opens itself.
		{"legacy password-protected PFX", c.pfx(t, pkcs12.LegacyDES, "pfx-pass"), "pfx-pass"},
		// AES/SHA-256 (OpenSSL 3's default): the worker's fallback reader.
		{"modern password-protected PFX", c.pfx(t, pkcs12.Modern, "pfx-pass"), "pfx-pass"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := newCertificateHarness(t, c, tt.file, tt.password)
			h.connect()
			v := h.waitFor("first verification", time.Minute, func(v tenant.StatusView) bool { return v.Verifications > 0 })
			if v.Status != tenant.StatusConnected {
				t.Fatalf("status %s (code %q, detail %q), want Connected with the certificate", v.Status, v.Code, v.Detail)
			}
			if !slices.Equal(v.Granted, allRoles) {
				t.Errorf("granted %v, want %v", v.Granted, allRoles)
			}
			var assertions int
			for _, r := range h.sim.Requests() {
				if r.Method == "POST" && strings.HasSuffix(r.Path, "/oauth2/v2.0/token") && r.Status == 200 {
					assertions++
				}
			}
			if assertions == 0 {
				t.Fatal("the simulator answered no token request")
			}
		})
	}
}

// A certificate the app registration does not hold (another key) is
// InvalidCredentials with the identity platform's code; replacing the file
// and rotating (`starter rotate` without --secret-stdin) reconnects. The
// key never reaches history, decoded or not, nor the log.
func TestCertificateWrongKeyIsInvalidCredentialsThenRotationReconnects(t *testing.T) {
	registered, other := newAppCert(t), newAppCert(t)
	h := newCertificateHarness(t, registered, other.pemFile(t), "")
	run := h.connect()
	v := h.waitFor("first verification", time.Minute, func(v tenant.StatusView) bool { return v.Verifications > 0 })
	if v.Status != tenant.StatusInvalidCredentials || v.Code != "AADSTS700027" {
		t.Fatalf("status %s code %q detail %q, want InvalidCredentials AADSTS700027", v.Status, v.Code, v.Detail)
	}

	writeFile(t, h.cfg.Tenants[0].Certificate.File, registered.pemFile(t))
	v = h.update(tenant.UpdateRotateCredentials, tenant.RotateCredentialsRequest{})
	if v.Status != tenant.StatusConnected {
		t.Fatalf("after replacing the certificate file and rotating: status %s code %q detail %q, want Connected", v.Status, v.Code, v.Detail)
	}
	if v := h.update(tenant.UpdatePause, tenant.PauseRequest{Reason: "checking history"}); v.Status != tenant.StatusPaused {
		t.Fatalf("pause: %s", v.Status)
	}

	scan := scanHistory(t, h.client, run.GetID(), h.codecEndpoint())
	for name, c := range map[string]appCert{"registered": registered, "wrong": other} {
		// A line of the key's base64 body is as good as the whole key.
		line := strings.Split(c.keyPEM(t), "\n")[2]
		if scan.rawContains(line) || scan.decodedContains(line) {
			t.Errorf("history contains the %s certificate's private key", name)
		}
		if strings.Contains(h.logs.String(), line) || strings.Contains(h.logs.String(), "PRIVATE KEY") {
			t.Errorf("the worker's log contains the %s certificate's private key", name)
		}
	}
}
