package integration

import (
	"crypto/rand"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"software.sslmate.com/src/go-pkcs12"

	"github.com/outlookflow/outlookflow/config"
	"github.com/outlookflow/outlookflow/internal/testcert"
	"github.com/outlookflow/outlookflow/workflows/tenant"
)

// newCertificateHarness is a harness whose tenant authenticates with a
// certificate file (contents file, password by file reference) instead of
// its seeded secret, with registered uploaded to the simulated app.
func newCertificateHarness(t *testing.T, registered testcert.AppCert, file, password string) *harness {
	t.Helper()
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	h := newWorld(t, allRoles, []string{"directory", "mail"}, time.Hour, key)
	if _, err := h.sim.AddCertificate(h.tenant.TenantID, h.clientID(), registered.PublicPEM()); err != nil {
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
	c := testcert.NewAppCert(t)
	for _, tt := range []struct {
		name, file, password string
	}{
		{"PEM with certificate and key", c.PEMFile(t), ""},
		// SHA-1/3DES: what azidentity.ParseCertificates opens itself.
		{"legacy password-protected PFX", string(c.PFX(t, pkcs12.LegacyDES, "pfx-pass")), "pfx-pass"},
		// AES/SHA-256 (OpenSSL 3's default): the worker's fallback reader.
		{"modern password-protected PFX", string(c.PFX(t, pkcs12.Modern, "pfx-pass")), "pfx-pass"},
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
	registered, other := testcert.NewAppCert(t), testcert.NewAppCert(t)
	h := newCertificateHarness(t, registered, other.PEMFile(t), "")
	run := h.connect()
	v := h.waitFor("first verification", time.Minute, func(v tenant.StatusView) bool { return v.Verifications > 0 })
	if v.Status != tenant.StatusInvalidCredentials || v.Code != "AADSTS700027" {
		t.Fatalf("status %s code %q detail %q, want InvalidCredentials AADSTS700027", v.Status, v.Code, v.Detail)
	}

	writeFile(t, h.cfg.Tenants[0].Certificate.File, registered.PEMFile(t))
	v = h.update(tenant.UpdateRotateCredentials, tenant.RotateCredentialsRequest{})
	if v.Status != tenant.StatusConnected {
		t.Fatalf("after replacing the certificate file and rotating: status %s code %q detail %q, want Connected", v.Status, v.Code, v.Detail)
	}
	if v := h.update(tenant.UpdatePause, tenant.PauseRequest{Reason: "checking history"}); v.Status != tenant.StatusPaused {
		t.Fatalf("pause: %s", v.Status)
	}

	scan := scanHistory(t, h.client, run.GetID(), h.codecEndpoint())
	for name, c := range map[string]testcert.AppCert{"registered": registered, "wrong": other} {
		// A line of the key's base64 body is as good as the whole key.
		line := strings.Split(c.KeyPEM(t), "\n")[2]
		if scan.rawContains(line) || scan.decodedContains(line) {
			t.Errorf("history contains the %s certificate's private key", name)
		}
		if strings.Contains(h.logs.String(), line) || strings.Contains(h.logs.String(), "PRIVATE KEY") {
			t.Errorf("the worker's log contains the %s certificate's private key", name)
		}
	}
}
