package config

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"software.sslmate.com/src/go-pkcs12"
)

// testCert makes a self-signed RSA certificate valid until notAfter.
func testCert(t testing.TB, notAfter time.Time) (*x509.Certificate, *rsa.PrivateKey) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(7),
		Subject:      pkix.Name{CommonName: "outlookflow test app"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     notAfter,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert, key
}

func certPEM(t testing.TB, cert *x509.Certificate, key *rsa.PrivateKey) string {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})) +
		string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
}

func TestValidateCredentialsNameTheKeyAndTheFix(t *testing.T) {
	dir := t.TempDir()
	cert, key := testCert(t, time.Now().Add(90*24*time.Hour))
	goodPEM := writeFile(t, dir, "app.pem", certPEM(t, cert, key))
	certOnly := writeFile(t, dir, "cert-only.pem", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})))
	encrypted := writeFile(t, dir, "encrypted.pem", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}))+
		"-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n")

	tests := []struct {
		name   string
		mutate func(c *Config)
		key    string
		hint   string
	}{
		{"secret and certificate", func(c *Config) { c.Tenants[0].Certificate = Certificate{File: goodPEM} },
			"tenants[0].certificate", "remove tenants[0].secret to use the certificate, or remove tenants[0].certificate"},
		{"app-only without any credential", func(c *Config) { c.Tenants[0].Secret = SecretRef{} },
			"tenants[0].secret", "or authenticate with a certificate instead: set tenants[0].certificate.file"},
		{"certificate without file", func(c *Config) {
			c.Tenants[0].Secret = SecretRef{}
			c.Tenants[0].Certificate = Certificate{Password: SecretRef{Env: "PFX_PASSWORD"}}
		}, "tenants[0].certificate.file", "is required; set it to the file holding the certificate and its private key"},
		{"certificate file missing", func(c *Config) {
			c.Tenants[0].Secret = SecretRef{}
			c.Tenants[0].Certificate = Certificate{File: filepath.Join(dir, "missing.pfx")}
		}, "tenants[0].certificate.file", "set it to a readable PEM or PKCS#12 (.pfx) file"},
		{"PEM certificate without key", func(c *Config) {
			c.Tenants[0].Secret = SecretRef{}
			c.Tenants[0].Certificate = Certificate{File: certOnly}
		}, "tenants[0].certificate.file", "holds no private key"},
		{"PEM with an encrypted key", func(c *Config) {
			c.Tenants[0].Secret = SecretRef{}
			c.Tenants[0].Certificate = Certificate{File: encrypted}
		}, "tenants[0].certificate.file", "export the certificate and key as a password-protected .pfx"},
		{"password on a plain PEM", func(c *Config) {
			c.Tenants[0].Secret = SecretRef{}
			c.Tenants[0].Certificate = Certificate{File: goodPEM, Password: SecretRef{Env: "PFX_PASSWORD"}}
		}, "tenants[0].certificate.password", "remove the password"},
		{"password that is not a reference", func(c *Config) {
			c.Tenants[0].Secret = SecretRef{}
			c.Tenants[0].Certificate = Certificate{File: goodPEM, Password: SecretRef{Env: "hunter2!"}}
		}, "tenants[0].certificate.password.env", "never to the secret itself"},
		{"secret expiry not a date", func(c *Config) { c.Tenants[0].SecretExpiresAt = "March 2027" },
			"tenants[0].secretExpiresAt", "YYYY-MM-DD, e.g. 2027-03-01"},
		{"secret expiry on a certificate tenant", func(c *Config) {
			c.Tenants[0].Secret = SecretRef{}
			c.Tenants[0].Certificate = Certificate{File: goodPEM}
			c.Tenants[0].SecretExpiresAt = "2027-03-01"
		}, "tenants[0].secretExpiresAt", "read from the certificate itself; remove it"},
		{"negative expiry warning", func(c *Config) { c.Tenants[0].CredentialExpiryWarning = -time.Hour },
			"tenants[0].credentialExpiryWarning", "remove it for the 720h default"},
		// account types and clouds
		{"app-only against common", func(c *Config) { c.Tenants[0].TenantID = "common" },
			"tenants[0].tenantID", "app-only (client credentials) needs the tenant's ID or domain"},
		{"app-only against organizations", func(c *Config) { c.Tenants[0].TenantID = "organizations" },
			"tenants[0].tenantID", "Microsoft refuses client credentials against common, organizations and consumers"},
		{"app-only against consumers", func(c *Config) { c.Tenants[0].TenantID = "Consumers" },
			"tenants[0].tenantID", "set tenants[0].authMode: delegated"},
		{"consumers in US Gov", func(c *Config) {
			c.Cloud = Cloud{Name: CloudUSGov}
			c.Cloud.applyDefaults()
			c.Tenants[1].TenantID = "consumers"
		}, "tenants[1].tenantID", "exists only in the global cloud, not in cloud.name usgov"},
		{"consumers in China", func(c *Config) {
			c.Cloud = Cloud{Name: CloudChina}
			c.Cloud.applyDefaults()
			c.Tenants[1].TenantID = "consumers"
		}, "tenants[1].tenantID", "exists only in the global cloud, not in cloud.name china"},
		// delegated
		{"delegated with neither credential nor device code", func(c *Config) { c.Tenants[1].Secret = SecretRef{} },
			"tenants[1].delegated.deviceCode", "set tenants[1].delegated.deviceCode: true (and allow public client flows"},
		{"delegated settings on an app-only tenant", func(c *Config) { c.Tenants[0].Delegated.DeviceCode = true },
			"tenants[0].delegated", "only used with authMode delegated"},
		{"redirect URL over http to another machine", func(c *Config) {
			c.Tenants[1].Delegated.RedirectURL = "http://outlookflow.contoso.com/auth/callback"
		}, "tenants[1].delegated.redirectURL", "accepts http only for localhost: use https"},
		{"redirect URL not absolute", func(c *Config) { c.Tenants[1].Delegated.RedirectURL = "/auth/callback" },
			"tenants[1].delegated.redirectURL", "is not an absolute URL"},
		{"redirect URL with a fragment", func(c *Config) {
			c.Tenants[1].Delegated.RedirectURL = "https://outlookflow.contoso.com/auth/callback#x"
		}, "tenants[1].delegated.redirectURL", "must not carry user info, a query or a fragment"},
		{"redirect URL needed when the listener is not loopback", func(c *Config) {
			c.HTTP.Listen = "127.0.0.1:0"
			c.Tenants[1].Delegated.RedirectURL = ""
		}, "tenants[1].delegated.redirectURL", "is required: http.listen (\"127.0.0.1:0\") is not a loopback address with a fixed port"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { expectProblem(t, tt.mutate, tt.key, tt.hint) })
	}
}

func TestValidateAcceptsGoodCredentialSettings(t *testing.T) {
	dir := t.TempDir()
	cert, key := testCert(t, time.Now().Add(90*24*time.Hour))
	goodPEM := writeFile(t, dir, "app.pem", certPEM(t, cert, key))
	pfx, err := pkcs12.Modern.Encode(key, cert, nil, "pfx-pass")
	if err != nil {
		t.Fatal(err)
	}
	pfxFile := writeFile(t, dir, "app.pfx", string(pfx))
	tests := []struct {
		name   string
		mutate func(c *Config)
	}{
		{"app-only with a PEM certificate", func(c *Config) {
			c.Tenants[0].Secret = SecretRef{}
			c.Tenants[0].Certificate = Certificate{File: goodPEM, SendCertificateChain: true}
		}},
		{"app-only with a password-protected PFX", func(c *Config) {
			c.Tenants[0].Secret = SecretRef{}
			c.Tenants[0].Certificate = Certificate{File: pfxFile, Password: SecretRef{Env: "PFX_PASSWORD"}}
		}},
		{"secret with its expiry date", func(c *Config) { c.Tenants[0].SecretExpiresAt = "2027-03-01" }},
		{"no expiry warning", func(c *Config) { c.Tenants[0].CredentialExpiryWarning = 0 }},
		{"delegated against organizations", func(c *Config) { c.Tenants[1].TenantID = "organizations" }},
		{"delegated against common", func(c *Config) { c.Tenants[1].TenantID = "common" }},
		{"delegated personal accounts in the global cloud", func(c *Config) { c.Tenants[1].TenantID = "consumers" }},
		{"delegated with a certificate", func(c *Config) {
			c.Tenants[1].Secret = SecretRef{}
			c.Tenants[1].Certificate = Certificate{File: goodPEM}
		}},
		{"delegated with device code only", func(c *Config) {
			c.Tenants[1].Secret = SecretRef{}
			c.Tenants[1].Delegated.DeviceCode = true
		}},
		{"delegated device code only on a listener with a free port", func(c *Config) {
			c.HTTP.Listen = "127.0.0.1:0"
			c.Tenants[1].Secret = SecretRef{}
			c.Tenants[1].Delegated = Delegated{DeviceCode: true}
		}},
		{"https redirect URL", func(c *Config) {
			c.Tenants[1].Delegated.RedirectURL = "https://outlookflow.contoso.com/auth/callback"
		}},
		{"consumers with the simulator", func(c *Config) {
			c.Cloud = Cloud{Name: CloudCustom, AuthorityHost: "https://127.0.0.1:9443/", GraphBaseURL: "https://127.0.0.1:9443/v1.0", AllowedGraphHosts: []string{"127.0.0.1"}}
			c.Cloud.applyDefaults()
			c.Tenants[1].TenantID = "consumers"
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := validConfig()
			tt.mutate(c)
			if err := c.Validate(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestLoadDefaultsDelegatedRedirectURLAndExpiryWarning(t *testing.T) {
	y := minimalYAML + `
http: {listen: "127.0.0.1:9090"}
tenants:
  - key: contoso
    tenantID: contoso.onmicrosoft.com
    clientID: 11111111-2222-3333-4444-555555555555
    secret: {env: CONTOSO_SECRET}
    secretExpiresAt: 2027-03-01
  - key: fabrikam
    tenantID: organizations
    clientID: 66666666-7777-8888-9999-000000000000
    authMode: delegated
    delegated: {deviceCode: true}
`
	cfg, err := Load(writeConfig(t, y), nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Tenants[0].SecretExpiresAt; got != "2027-03-01" {
		t.Errorf("secretExpiresAt written as a YAML date = %q, want 2027-03-01", got)
	}
	if got := cfg.Tenants[0].CredentialExpiryWarning; got != 720*time.Hour {
		t.Errorf("credentialExpiryWarning default = %s, want 720h", got)
	}
	if got := cfg.Tenants[0].Delegated.RedirectURL; got != "" {
		t.Errorf("app-only tenant got a redirect URL %q", got)
	}
	if got, want := cfg.Tenants[1].Delegated.RedirectURL, "http://localhost:9090/auth/callback"; got != want {
		t.Errorf("delegated redirect URL default = %q, want %q (from http.listen)", got, want)
	}
}

// Each cloud's defaults give the authority the identity client builds
// (host + tenant) and the Graph endpoint it calls.
func TestCloudDefaultsGiveEachCloudsAuthorityAndGraph(t *testing.T) {
	for _, tt := range []struct {
		cloud               CloudName
		authority, graphURL string
	}{
		{CloudGlobal, "https://login.microsoftonline.com/contoso.onmicrosoft.com", "https://graph.microsoft.com/v1.0"},
		{CloudUSGov, "https://login.microsoftonline.us/contoso.onmicrosoft.com", "https://graph.microsoft.us/v1.0"},
		{CloudChina, "https://login.chinacloudapi.cn/contoso.onmicrosoft.com", "https://microsoftgraph.chinacloudapi.cn/v1.0"},
	} {
		t.Run(string(tt.cloud), func(t *testing.T) {
			c := validConfig()
			c.Cloud = Cloud{Name: tt.cloud}
			c.Cloud.applyDefaults()
			if err := c.Validate(); err != nil {
				t.Fatal(err)
			}
			authority, err := url.JoinPath(c.Cloud.AuthorityHost, c.Tenants[0].TenantID)
			if err != nil || authority != tt.authority {
				t.Errorf("authority = %q (%v), want %q", authority, err, tt.authority)
			}
			if c.Cloud.GraphBaseURL != tt.graphURL {
				t.Errorf("graph URL = %q, want %q", c.Cloud.GraphBaseURL, tt.graphURL)
			}
			u, _ := url.Parse(c.Cloud.GraphBaseURL)
			if len(c.Cloud.AllowedGraphHosts) != 1 || c.Cloud.AllowedGraphHosts[0] != u.Hostname() {
				t.Errorf("allowed Graph hosts = %v, want [%s]", c.Cloud.AllowedGraphHosts, u.Hostname())
			}
			if !c.Cloud.IsPublicMicrosoftCloud() {
				t.Errorf("%s is not treated as a Microsoft cloud (instance discovery would be off)", tt.cloud)
			}
		})
	}
}

func TestCredentialExpiryReadsTheCertificateOrTheSecretDate(t *testing.T) {
	dir := t.TempDir()
	notAfter := time.Now().Add(10 * 24 * time.Hour).UTC().Truncate(time.Second)
	cert, key := testCert(t, notAfter)
	pemFile := writeFile(t, dir, "app.pem", certPEM(t, cert, key))
	pfx, err := pkcs12.Legacy.Encode(key, cert, nil, "pfx-pass")
	if err != nil {
		t.Fatal(err)
	}
	pfxFile := writeFile(t, dir, "app.pfx", string(pfx))
	env := EnvLookup([]string{"PFX_PASSWORD=pfx-pass"})

	for _, tt := range []struct {
		name string
		t    Tenant
	}{
		{"PEM", Tenant{Certificate: Certificate{File: pemFile}}},
		{"PFX", Tenant{Certificate: Certificate{File: pfxFile, Password: SecretRef{Env: "PFX_PASSWORD"}}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e, err := tt.t.CredentialExpiry(env)
			if err != nil {
				t.Fatal(err)
			}
			if e.Kind != "certificate" || !e.ExpiresAt.Equal(notAfter) || len(e.Thumbprint) != 40 {
				t.Errorf("expiry = %+v, want certificate expiring %s with a SHA-1 thumbprint", e, notAfter)
			}
		})
	}

	e, err := Tenant{Secret: SecretRef{Env: "S"}, SecretExpiresAt: "2027-03-01"}.CredentialExpiry(env)
	if err != nil || e.Kind != "client secret" || !e.ExpiresAt.Equal(time.Date(2027, 3, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("secret expiry = %+v, %v; want client secret expiring 2027-03-01", e, err)
	}
	if e, err := (Tenant{Secret: SecretRef{Env: "S"}}).CredentialExpiry(env); err != nil || !e.ExpiresAt.IsZero() {
		t.Errorf("secret without a date = %+v, %v; want an unknown expiry", e, err)
	}
	_, err = Tenant{Certificate: Certificate{File: pfxFile, Password: SecretRef{Env: "PFX_PASSWORD"}}}.CredentialExpiry(EnvLookup([]string{"PFX_PASSWORD=wrong"}))
	assertContainsAll(t, err, pfxFile, "password is wrong")
	if strings.Contains(err.Error(), "wrong\"") {
		t.Errorf("error repeats the password: %v", err)
	}
}
