package main

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/outlookflow/outlookflow/config"
)

func TestCredentialExpiryWarnsWithinTheWindowNamingTheDateAndTheFix(t *testing.T) {
	now := time.Date(2027, 2, 19, 12, 0, 0, 0, time.UTC)
	secret := func(date string, window time.Duration) config.Tenant {
		return config.Tenant{Key: "contoso", Secret: config.SecretRef{Env: "S"}, SecretExpiresAt: date, CredentialExpiryWarning: window}
	}
	tests := []struct {
		name   string
		tenant config.Tenant
		want   []string // "" means no warning
	}{
		{"far away", secret("2027-06-01", 0), nil},
		{"within the default 30 days", secret("2027-03-01", 0),
			[]string{"tenant contoso", "the client secret expires on 2027-03-01 (in 9 days)", "starter rotate --tenant contoso --secret-stdin"}},
		{"expired", secret("2027-02-01", 0),
			[]string{"tenant contoso", "expired on 2027-02-01 (18 days ago)", "cannot authenticate", "create a new client secret"}},
		{"outside a shorter configured window", secret("2027-03-01", 7*24*time.Hour), nil},
		{"inside a longer configured window", secret("2027-04-01", 60*24*time.Hour), []string{"expires on 2027-04-01 (in 40 days)"}},
		{"no date known", secret("", 0), nil},
		{"certificate file missing", config.Tenant{Key: "contoso", Certificate: config.Certificate{File: filepath.Join(t.TempDir(), "gone.pem")}},
			[]string{"tenant contoso", "the certificate's expiry cannot be read", "gone.pem"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tenantCredentialExpiry(tt.tenant, now, config.EnvLookup(nil))
			if tt.want == nil {
				if got.Warning != "" {
					t.Fatalf("warning %q, want none", got.Warning)
				}
				return
			}
			for _, w := range tt.want {
				if !strings.Contains(got.Warning, w) {
					t.Errorf("warning %q does not say %q", got.Warning, w)
				}
			}
		})
	}
}

func TestCredentialExpiryReadsTheCertificatesNotAfter(t *testing.T) {
	notAfter := time.Now().Add(5 * 24 * time.Hour).UTC().Truncate(time.Second)
	file := writeTestCertificate(t, notAfter)
	got := tenantCredentialExpiry(config.Tenant{Key: "fabrikam", Certificate: config.Certificate{File: file}}, time.Now(), config.EnvLookup(nil))
	if got.ExpiresAt == nil || !got.ExpiresAt.Equal(notAfter) {
		t.Fatalf("expires at %v, want the certificate's NotAfter %s", got.ExpiresAt, notAfter)
	}
	for _, w := range []string{"tenant fabrikam", "the certificate (thumbprint ", "expires on " + notAfter.Format(time.DateOnly), "upload a new certificate", "starter rotate --tenant fabrikam"} {
		if !strings.Contains(got.Warning, w) {
			t.Errorf("warning %q does not say %q", got.Warning, w)
		}
	}
}

// writeTestCertificate writes a PEM file with a self-signed certificate and
// its key.
func writeTestCertificate(t *testing.T, notAfter time.Time) string {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "t"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: notAfter}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "app.pem")
	mustWrite(t, file, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))+string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder})))
	return file
}

func TestStatusWarnsAboutAnExpiringSecretInTheTableAndTheJSON(t *testing.T) {
	cfg := world(t)
	soon := time.Now().Add(10 * 24 * time.Hour).UTC().Format(time.DateOnly)
	rewrite(t, cfg, "    verifyInterval: 1h\n", "    verifyInterval: 1h\n    secretExpiresAt: "+soon+"\n")
	if r := runStarter(t, cfg, "", "connect", "--tenant", "demo"); r.code != exitOK {
		t.Fatalf("connect: %d %s", r.code, r.stderr)
	}
	r := runStarter(t, cfg, "", "status", "--tenant", "demo")
	if !strings.Contains(r.stdout, "WARNING: tenant demo: the client secret expires on "+soon) || !strings.Contains(r.stdout, "starter rotate --tenant demo") {
		t.Fatalf("status table does not warn about the secret expiring %s:\n%s", soon, r.stdout)
	}
	r = runStarter(t, cfg, "", "status", "--tenant", "demo", "--json")
	var rows []map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &rows); err != nil || len(rows) != 1 {
		t.Fatalf("status --json: %v\n%s", err, r.stdout)
	}
	if w, _ := rows[0]["CredentialWarning"].(string); !strings.Contains(w, "expires on "+soon) {
		t.Errorf("CredentialWarning = %q, want the expiry date %s", w, soon)
	}
	if at, _ := rows[0]["CredentialExpiresAt"].(string); !strings.HasPrefix(at, soon) {
		t.Errorf("CredentialExpiresAt = %q, want %s", at, soon)
	}
	if rows[0]["TenantKey"] != "demo" {
		t.Errorf("the status fields are no longer at the top level: %v", rows[0])
	}
}
