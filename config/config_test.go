package config

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// minimalYAML is the smallest valid file: encryption has no default.
const minimalYAML = `
encryption:
  activeKeyID: k1
  keys:
    - id: k1
      secret: {env: TEST_KEY_K1}
`

func writeFile(t testing.TB, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func writeConfig(t testing.TB, content string) string {
	t.Helper()
	return writeFile(t, t.TempDir(), "config.yaml", content)
}

// selfSignedPEM returns a PEM-encoded self-signed CA certificate.
func selfSignedPEM(t testing.TB) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "outlookflow test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

func assertContainsAll(t *testing.T, err error, wants ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want one containing %q", wants)
	}
	for _, w := range wants {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error does not mention %q:\n%v", w, err)
		}
	}
}

func TestLoadWithoutFileAppliesDefaultsAndRequiresEncryptionKeys(t *testing.T) {
	_, err := Load("", nil)
	assertContainsAll(t, err, "encryption.keys", "openssl rand -base64 32")
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("error is %T, want it to wrap *ValidationError", err)
	}
	if len(ve.Problems) != 1 {
		t.Errorf("defaults alone should only lack encryption keys, got %d problems: %v", len(ve.Problems), err)
	}
}

func TestLoadAppliesDefaults(t *testing.T) {
	cfg, err := Load(writeConfig(t, minimalYAML+`
tenants:
  - key: contoso
    tenantID: contoso.onmicrosoft.com
    clientID: 11111111-2222-3333-4444-555555555555
    secret: {env: CONTOSO_SECRET}
`), nil)
	if err != nil {
		t.Fatal(err)
	}
	want := Temporal{Address: "127.0.0.1:7233", Namespace: "default", TaskQueue: "outlookflow"}
	if cfg.Temporal != want {
		t.Errorf("temporal = %+v, want %+v", cfg.Temporal, want)
	}
	if cfg.Logging != (Logging{Level: "info", Format: "console"}) {
		t.Errorf("logging = %+v, want info/console", cfg.Logging)
	}
	if cfg.Cloud.Name != CloudGlobal || cfg.Cloud.GraphBaseURL != "https://graph.microsoft.com/v1.0" {
		t.Errorf("cloud = %+v, want global defaults", cfg.Cloud)
	}
	if cfg.HTTP.Listen != "127.0.0.1:8081" || !reflect.DeepEqual(cfg.HTTP.CodecCORSOrigins, []string{"http://localhost:8233", "http://127.0.0.1:8233"}) {
		t.Errorf("http = %+v, want loopback 8081 and the local Web UI origins", cfg.HTTP)
	}
	if cfg.Store != (Store{Driver: "sqlite", Path: "outlookflow.db"}) {
		t.Errorf("store = %+v, want sqlite outlookflow.db", cfg.Store)
	}
	ten := cfg.Tenants[0]
	if ten.AuthMode != AuthAppOnly {
		t.Errorf("authMode = %q, want app-only", ten.AuthMode)
	}
	if !reflect.DeepEqual(ten.Features, []string{"directory", "mail"}) {
		t.Errorf("features = %v, want [directory mail]", ten.Features)
	}
	if ten.VerifyInterval != 6*time.Hour {
		t.Errorf("verifyInterval = %v, want 6h", ten.VerifyInterval)
	}
	if ten.CalendarPastDays != 30 || ten.CalendarFutureDays != 180 {
		t.Errorf("calendar window = %d days back, %d ahead; want 30 and 180", ten.CalendarPastDays, ten.CalendarFutureDays)
	}
}

func TestLoadKeepsDefaultsForKeysLeftEmpty(t *testing.T) {
	cfg, err := Load(writeConfig(t, minimalYAML+`
temporal:
  # address: temporal:7233
cloud:
logging:
  level:
`), nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Temporal.Address != "127.0.0.1:7233" || cfg.Cloud.Name != CloudGlobal || cfg.Logging.Level != "info" {
		t.Errorf("empty keys erased defaults: temporal %q, cloud %q, level %q", cfg.Temporal.Address, cfg.Cloud.Name, cfg.Logging.Level)
	}
}

func TestLoadFillsCloudDefaultsPerCloud(t *testing.T) {
	tests := []struct {
		name  string
		cloud string
		want  Cloud
	}{
		{"global", "cloud: {name: global}", Cloud{
			Name: CloudGlobal, AuthorityHost: "https://login.microsoftonline.com/",
			GraphBaseURL: "https://graph.microsoft.com/v1.0", GraphScope: "https://graph.microsoft.com/.default",
			AllowedGraphHosts: []string{"graph.microsoft.com"},
		}},
		{"usgov", "cloud: {name: usgov}", Cloud{
			Name: CloudUSGov, AuthorityHost: "https://login.microsoftonline.us/",
			GraphBaseURL: "https://graph.microsoft.us/v1.0", GraphScope: "https://graph.microsoft.us/.default",
			AllowedGraphHosts: []string{"graph.microsoft.us"},
		}},
		{"china", "cloud: {name: china}", Cloud{
			Name: CloudChina, AuthorityHost: "https://login.chinacloudapi.cn/",
			GraphBaseURL: "https://microsoftgraph.chinacloudapi.cn/v1.0", GraphScope: "https://microsoftgraph.chinacloudapi.cn/.default",
			AllowedGraphHosts: []string{"microsoftgraph.chinacloudapi.cn"},
		}},
		{"custom takes endpoints as given and defaults the scope", `cloud:
  name: custom
  authorityHost: https://127.0.0.1:8443/
  graphBaseURL: https://127.0.0.1:8443/v1.0
  allowedGraphHosts: [127.0.0.1]`, Cloud{
			Name: CloudCustom, AuthorityHost: "https://127.0.0.1:8443/",
			GraphBaseURL: "https://127.0.0.1:8443/v1.0", GraphScope: "https://graph.microsoft.com/.default",
			AllowedGraphHosts: []string{"127.0.0.1"},
		}},
		{"explicit values override a known cloud's defaults", `cloud:
  name: global
  graphBaseURL: https://graph.microsoft.com/beta
  graphScope: https://graph.microsoft.com/.default`, Cloud{
			Name: CloudGlobal, AuthorityHost: "https://login.microsoftonline.com/",
			GraphBaseURL: "https://graph.microsoft.com/beta", GraphScope: "https://graph.microsoft.com/.default",
			AllowedGraphHosts: []string{"graph.microsoft.com"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Load(writeConfig(t, minimalYAML+tt.cloud+"\n"), nil)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(cfg.Cloud, tt.want) {
				t.Errorf("cloud =\n %+v\nwant\n %+v", cfg.Cloud, tt.want)
			}
		})
	}
}

func TestIsPublicMicrosoftCloud(t *testing.T) {
	for name, want := range map[CloudName]bool{CloudGlobal: true, CloudUSGov: true, CloudChina: true, CloudCustom: false, "mars": false} {
		if got := (Cloud{Name: name}).IsPublicMicrosoftCloud(); got != want {
			t.Errorf("Cloud{Name: %q}.IsPublicMicrosoftCloud() = %v, want %v", name, got, want)
		}
	}
}

func TestLoadAppliesEnvironmentOverrides(t *testing.T) {
	path := writeConfig(t, minimalYAML+`
temporal:
  address: file-host:7233
  taskQueue: from-file
logging:
  level: debug
`)
	environ := []string{
		"OUTLOOKFLOW_TEMPORAL_ADDRESS=temporal:7233",
		"OUTLOOKFLOW_TEMPORAL_NAMESPACE=prod",
		"outlookflow_temporal_taskqueue=from-env", // names match ignoring case
		"OUTLOOKFLOW_TEMPORAL_TLS_ENABLED=true",
		"OUTLOOKFLOW_TEMPORAL_TLS_SERVERNAME=temporal.internal",
		"OUTLOOKFLOW_CLOUD_NAME=custom",
		"OUTLOOKFLOW_CLOUD_AUTHORITYHOST=https://login.sim.test/",
		"OUTLOOKFLOW_CLOUD_GRAPHBASEURL=https://graph.sim.test/v1.0",
		"OUTLOOKFLOW_CLOUD_ALLOWEDGRAPHHOSTS=graph.sim.test, files.sim.test",
		"OUTLOOKFLOW_LOGGING_LEVEL=", // empty is ignored: the file's debug stays
		"OUTLOOKFLOW_LOGGING_FORMAT=json",
		"OUTLOOKFLOW_CONFIG=/etc/outlookflow/config.yaml", // not a key; ignored
		"OUTLOOKFLOW_ENCRYPTION_KEY_K1=not-a-key-name",    // not in a strict section; ignored
		"OUTLOOKFLOW_HTTP_LISTEN=0.0.0.0:8081",
		"OUTLOOKFLOW_HTTP_CODECCORSORIGINS=https://temporal-ui.example.com",
		"OUTLOOKFLOW_HTTP_CODECAUTH_ISSUER=https://idp.example.com/", // required beyond loopback
		"OUTLOOKFLOW_HTTP_CODECAUTH_AUDIENCE=outlookflow-codec",
		"OUTLOOKFLOW_STORE_DRIVER=postgres",
		"OUTLOOKFLOW_STORE_DSN_ENV=STORE_DATABASE_URL",
		"HOME=/root",
	}
	cfg, err := Load(path, environ)
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct{ key, got, want string }{
		{"temporal.address", cfg.Temporal.Address, "temporal:7233"},
		{"temporal.namespace", cfg.Temporal.Namespace, "prod"},
		{"temporal.taskQueue", cfg.Temporal.TaskQueue, "from-env"},
		{"temporal.tls.serverName", cfg.Temporal.TLS.ServerName, "temporal.internal"},
		{"cloud.name", string(cfg.Cloud.Name), "custom"},
		{"cloud.authorityHost", cfg.Cloud.AuthorityHost, "https://login.sim.test/"},
		{"cloud.graphBaseURL", cfg.Cloud.GraphBaseURL, "https://graph.sim.test/v1.0"},
		{"logging.level", cfg.Logging.Level, "debug"},
		{"logging.format", cfg.Logging.Format, "json"},
		{"http.listen", cfg.HTTP.Listen, "0.0.0.0:8081"},
		{"store.driver", cfg.Store.Driver, "postgres"},
		{"store.dsn.env", cfg.Store.DSN.Env, "STORE_DATABASE_URL"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.key, c.got, c.want)
		}
	}
	if !cfg.Temporal.TLS.Enabled {
		t.Error("temporal.tls.enabled = false, want true from OUTLOOKFLOW_TEMPORAL_TLS_ENABLED")
	}
	if want := []string{"https://temporal-ui.example.com"}; !reflect.DeepEqual(cfg.HTTP.CodecCORSOrigins, want) {
		t.Errorf("http.codecCORSOrigins = %q, want %q", cfg.HTTP.CodecCORSOrigins, want)
	}
	if want := []string{"graph.sim.test", "files.sim.test"}; !reflect.DeepEqual(cfg.Cloud.AllowedGraphHosts, want) {
		t.Errorf("cloud.allowedGraphHosts = %q, want %q", cfg.Cloud.AllowedGraphHosts, want)
	}
}

func TestEnvVarNamesFollowTheNamingRule(t *testing.T) {
	names := EnvVarNames()
	for env, key := range map[string]string{
		"OUTLOOKFLOW_TEMPORAL_ADDRESS":        "temporal.address",
		"OUTLOOKFLOW_TEMPORAL_TASKQUEUE":      "temporal.taskQueue",
		"OUTLOOKFLOW_TEMPORAL_TLS_CAFILE":     "temporal.tls.caFile",
		"OUTLOOKFLOW_CLOUD_ALLOWEDGRAPHHOSTS": "cloud.allowedGraphHosts",
		"OUTLOOKFLOW_CLOUD_CAFILE":            "cloud.caFile",
		"OUTLOOKFLOW_LOGGING_LEVEL":           "logging.level",
		"OUTLOOKFLOW_ENCRYPTION_ACTIVEKEYID":  "encryption.activeKeyID",
		"OUTLOOKFLOW_HTTP_CODECCORSORIGINS":   "http.codecCORSOrigins",
		"OUTLOOKFLOW_STORE_DSN_FILE":          "store.dsn.file",
	} {
		if names[env] != key {
			t.Errorf("EnvVarNames()[%s] = %q, want %q", env, names[env], key)
		}
	}
	for env := range names {
		if strings.Contains(env, "TENANTS") || strings.Contains(env, "ENCRYPTION_KEYS") {
			t.Errorf("list-of-struct keys must not have variables, found %s", env)
		}
	}
}

func TestLoadRejectsBadEnvironmentOverrides(t *testing.T) {
	tests := []struct {
		name  string
		env   string
		wants []string
	}{
		{"typo in a known section", "OUTLOOKFLOW_TEMPORAL_ADRESS=x:1", []string{"OUTLOOKFLOW_TEMPORAL_ADRESS", "did you mean OUTLOOKFLOW_TEMPORAL_ADDRESS?"}},
		{"a value for a secret reference", "OUTLOOKFLOW_STORE_DSN=postgres://u:p@h/db", []string{"OUTLOOKFLOW_STORE_DSN names a group of keys", "did you mean OUTLOOKFLOW_STORE_DSN_ENV or OUTLOOKFLOW_STORE_DSN_FILE?"}},
		{"not a boolean", "OUTLOOKFLOW_TEMPORAL_TLS_ENABLED=yes please", []string{"OUTLOOKFLOW_TEMPORAL_TLS_ENABLED", "temporal.tls.enabled", "use true or false"}},
		{"invalid value reaches validation", "OUTLOOKFLOW_LOGGING_LEVEL=loud", []string{"logging.level", "\"loud\"", "debug, info, warn, error"}},
	}
	path := writeConfig(t, minimalYAML)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(path, []string{tt.env})
			assertContainsAll(t, err, tt.wants...)
		})
	}
}

func TestLoadRejectsUnknownKeys(t *testing.T) {
	tests := []struct {
		name  string
		yaml  string
		wants []string
	}{
		{"typo in a nested key", "temporal:\n  adress: x:1\n", []string{
			`config file `, `: unknown key "temporal.adress" (did you mean "temporal.address"?)`}},
		{"wrong case", "temporal:\n  taskqueue: q\n", []string{`unknown key "temporal.taskqueue" (did you mean "temporal.taskQueue"?)`}},
		{"top-level typo", "loging:\n  level: info\n", []string{`unknown key "loging" (did you mean "logging"?)`}},
		{"key in a list entry", "tenants:\n  - key: a\n    featurs: [mail]\n", []string{`unknown key "tenants[0].featurs" (did you mean "tenants[0].features"?)`}},
		{"unrelated key lists the known ones", "temporal:\n  zzzzzzzzzz: 1\n", []string{`unknown key "temporal.zzzzzzzzzz"`, "address, namespace, taskQueue, tls"}},
		{"dotted key", "temporal.address: x:1\n", []string{`unknown key "temporal.address"`, "nest them"}},
		{"scalar where a mapping belongs", "temporal: localhost:7233\n", []string{`"temporal" is a mapping`}},
		{"mapping where a list belongs", "tenants:\n  key: a\n", []string{`"tenants" is a list`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeConfig(t, minimalYAML+tt.yaml)
			_, err := Load(path, nil)
			assertContainsAll(t, err, append(tt.wants, path)...)
		})
	}
}

func TestLoadRejectsUnknownKeysWithLineNumbers(t *testing.T) {
	path := writeConfig(t, "temporal:\n  namespace: default\n  adress: x:1\n")
	_, err := Load(path, nil)
	assertContainsAll(t, err, "config file "+path+", line 3: unknown key \"temporal.adress\" (did you mean \"temporal.address\"?)")
}

func TestLoadReportsYAMLSyntaxErrorsWithFileAndLine(t *testing.T) {
	tests := []struct {
		name, yaml, line string
	}{
		{"bad indentation", "temporal:\n  address: a:1\n namespace: x\n", "line 2"},
		{"unclosed flow sequence", "logging:\n  level: info\ntenants: [\n", "line 3"},
		{"tab indentation", "logging:\n\tlevel: info\n", "line 2"},
		{"not a mapping at the top", "- just\n- a list\n", "line 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeConfig(t, tt.yaml)
			_, err := Load(path, nil)
			assertContainsAll(t, err, "config file "+path+", "+tt.line, "invalid YAML")
		})
	}
}

func TestLoadReportsMissingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "missing.yaml")
	_, err := Load(path, nil)
	assertContainsAll(t, err, "config file "+path, "no such file")
}

func TestLoadReportsWrongValueTypesWithTheKey(t *testing.T) {
	_, err := Load(writeConfig(t, minimalYAML+`
tenants:
  - key: contoso
    tenantID: contoso.onmicrosoft.com
    clientID: 11111111-2222-3333-4444-555555555555
    secret: {env: X}
    verifyInterval: soon
`), nil)
	assertContainsAll(t, err, "tenants[0].verifyInterval", "invalid duration", "durations look like")
}

func TestLoadRejectsInlineSecrets(t *testing.T) {
	const secretValue = "Zq8~s3cr3t-VALUE-do-not-print"
	tenant := `
tenants:
  - key: contoso
    tenantID: contoso.onmicrosoft.com
    clientID: 11111111-2222-3333-4444-555555555555
`
	tests := []struct {
		name, yaml, key string
	}{
		{"tenant secret as a string", tenant + "    secret: " + secretValue + "\n", "tenants[0].secret"},
		{"tenant secret as {value: ...}", tenant + "    secret: {value: " + secretValue + "}\n", "tenants[0].secret"},
		{"tenant secret with an extra key", tenant + "    secret: {env: X, inline: " + secretValue + "}\n", "tenants[0].secret"},
		{"encryption key inline", "encryption:\n  activeKeyID: k1\n  keys:\n    - id: k1\n      secret: " + secretValue + "\n", "encryption.keys[0].secret"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			y := tt.yaml
			if !strings.HasPrefix(y, "encryption") {
				y = minimalYAML + y
			}
			_, err := Load(writeConfig(t, y), nil)
			assertContainsAll(t, err, tt.key, "inline secrets are not allowed",
				"set "+tt.key+".env to the name of an environment variable, or .file to a file path; secrets are never written inline")
			if err != nil && strings.Contains(err.Error(), secretValue) {
				t.Errorf("error repeats the secret: %v", err)
			}
		})
	}
}

// validConfig is a complete, valid configuration with defaults applied.
func validConfig() *Config {
	c := &Config{
		Temporal: Temporal{Address: "127.0.0.1:7233", Namespace: "default", TaskQueue: "outlookflow"},
		Cloud:    Cloud{Name: CloudGlobal},
		Tenants: []Tenant{
			{Key: "contoso", TenantID: "contoso.onmicrosoft.com", ClientID: "11111111-2222-3333-4444-555555555555", Secret: SecretRef{Env: "CONTOSO_SECRET"}},
			{Key: "fabrikam", TenantID: "72f988bf-86f1-41af-91ab-2d7cd011db47", ClientID: "66666666-7777-8888-9999-000000000000", Secret: SecretRef{File: "/run/secrets/fabrikam"}, AuthMode: AuthDelegated},
		},
		Logging:    Logging{Level: "info", Format: "console"},
		Encryption: Encryption{ActiveKeyID: "k1", Keys: []EncryptionKey{{ID: "k1", Secret: SecretRef{Env: "KEY_K1"}}}},
		HTTP:       HTTP{Listen: "127.0.0.1:8081"},
		Store:      Store{Driver: StoreSQLite},
	}
	c.applyDefaults()
	return c
}

func TestValidateAcceptsAValidConfig(t *testing.T) {
	if err := validConfig().Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestValidateNamesTheKeyAndTheFix(t *testing.T) {
	dir := t.TempDir()
	caFile := writeFile(t, dir, "ca.pem", string(selfSignedPEM(t)))
	notPEM := writeFile(t, dir, "not.pem", "hello\n")
	missing := filepath.Join(dir, "missing.pem")

	tests := []struct {
		name   string
		mutate func(c *Config)
		key    string
		hint   string
	}{
		// temporal
		{"address without port", func(c *Config) { c.Temporal.Address = "localhost" }, "temporal.address", "host:port, e.g. 127.0.0.1:7233"},
		{"address with bad port", func(c *Config) { c.Temporal.Address = "localhost:http" }, "temporal.address", "valid port"},
		{"empty namespace", func(c *Config) { c.Temporal.Namespace = "" }, "temporal.namespace", "set it to the Temporal namespace"},
		{"empty task queue", func(c *Config) { c.Temporal.TaskQueue = " " }, "temporal.taskQueue", "set it to the task queue"},
		{"missing TLS CA file", func(c *Config) { c.Temporal.TLS.CAFile = missing }, "temporal.tls.caFile", "set it to a readable file"},
		{"TLS cert without key", func(c *Config) { c.Temporal.TLS.CertFile = caFile }, "temporal.tls.keyFile", "mTLS needs both"},
		{"TLS key without cert", func(c *Config) { c.Temporal.TLS.KeyFile = caFile }, "temporal.tls.certFile", "mTLS needs both"},
		// cloud
		{"unknown cloud", func(c *Config) { c.Cloud = Cloud{Name: "mars"} }, "cloud.name", "global, usgov, china, custom"},
		{"custom without authority", func(c *Config) {
			c.Cloud = Cloud{Name: CloudCustom, GraphBaseURL: "https://g.test/v1.0", AllowedGraphHosts: []string{"g.test"}}
			c.Cloud.applyDefaults()
		}, "cloud.authorityHost", "is required when cloud.name is custom"},
		{"custom without graph URL", func(c *Config) {
			c.Cloud = Cloud{Name: CloudCustom, AuthorityHost: "https://l.test/", AllowedGraphHosts: []string{"g.test"}}
			c.Cloud.applyDefaults()
		}, "cloud.graphBaseURL", "is required when cloud.name is custom"},
		{"custom without allowed hosts", func(c *Config) {
			c.Cloud = Cloud{Name: CloudCustom, AuthorityHost: "https://l.test/", GraphBaseURL: "https://g.test/v1.0"}
			c.Cloud.applyDefaults()
		}, "cloud.allowedGraphHosts", "is required when cloud.name is custom"},
		{"http authority", func(c *Config) { c.Cloud.AuthorityHost = "http://login.microsoftonline.com/" }, "cloud.authorityHost", "absolute https URL"},
		{"relative graph URL", func(c *Config) { c.Cloud.GraphBaseURL = "graph.microsoft.com/v1.0" }, "cloud.graphBaseURL", "absolute https URL"},
		{"graph URL without version", func(c *Config) { c.Cloud.GraphBaseURL = "https://graph.microsoft.com/" }, "cloud.graphBaseURL", "must end in /v1.0 or /beta"},
		{"scope without .default", func(c *Config) { c.Cloud.GraphScope = "https://graph.microsoft.com/Mail.Read" }, "cloud.graphScope", "ending in /.default"},
		{"allowed host with scheme", func(c *Config) {
			c.Cloud.AllowedGraphHosts = []string{"graph.microsoft.com", "https://graph.microsoft.com"}
		}, "cloud.allowedGraphHosts[1]", "bare host name without scheme, port or path"},
		{"allowed host with port", func(c *Config) { c.Cloud.AllowedGraphHosts = []string{"graph.microsoft.com:443"} }, "cloud.allowedGraphHosts[0]", "bare host name"},
		{"allowed hosts miss the graph host", func(c *Config) { c.Cloud.AllowedGraphHosts = []string{"example.com"} }, "cloud.allowedGraphHosts", `does not include "graph.microsoft.com"`},
		{"CA file missing", func(c *Config) { c.Cloud.CAFile = missing }, "cloud.caFile", "set it to a readable file"},
		{"CA file without certificate", func(c *Config) { c.Cloud.CAFile = notPEM }, "cloud.caFile", "holds no PEM certificate"},
		{"CA file is a directory", func(c *Config) { c.Cloud.CAFile = dir }, "cloud.caFile", "not a regular file"},
		// tenants
		{"missing tenant key", func(c *Config) { c.Tenants[1].Key = "" }, "tenants[1].key", "short slug"},
		{"tenant key with personal data shape", func(c *Config) { c.Tenants[0].Key = "Jane.Doe@contoso.com" }, "tenants[0].key", "no personal data"},
		{"duplicate tenant key", func(c *Config) { c.Tenants[1].Key = "contoso" }, "tenants[1].key", "already used by tenants[0]"},
		{"bad tenant ID", func(c *Config) { c.Tenants[0].TenantID = "contoso onmicrosoft" }, "tenants[0].tenantID", "neither a GUID nor a domain"},
		{"missing tenant ID", func(c *Config) { c.Tenants[0].TenantID = "" }, "tenants[0].tenantID", "Directory (tenant) ID"},
		{"client ID not a GUID", func(c *Config) { c.Tenants[1].ClientID = "my-app" }, "tenants[1].clientID", "Application (client) ID"},
		{"missing client ID", func(c *Config) { c.Tenants[1].ClientID = "" }, "tenants[1].clientID", "is required"},
		{"unknown auth mode", func(c *Config) { c.Tenants[0].AuthMode = "password" }, "tenants[0].authMode", "app-only (client credentials) or delegated"},
		{"no secret", func(c *Config) { c.Tenants[0].Secret = SecretRef{} }, "tenants[0].secret",
			"set tenants[0].secret.env to the name of an environment variable, or .file to a file path; secrets are never written inline"},
		{"both secret sources", func(c *Config) { c.Tenants[0].Secret.File = "/x" }, "tenants[0].secret", "keep exactly one"},
		{"secret env that is not a name", func(c *Config) { c.Tenants[0].Secret.Env = "abc=def!" }, "tenants[0].secret.env", "never to the secret itself"},
		{"unknown feature", func(c *Config) { c.Tenants[0].Features = []string{"mail", "calender"} }, "tenants[0].features[1]", `did you mean "calendar"?`},
		{"duplicate feature", func(c *Config) { c.Tenants[0].Features = []string{"mail", "mail"} }, "tenants[0].features[1]", "remove the duplicate"},
		{"verify interval too short", func(c *Config) { c.Tenants[0].VerifyInterval = 30 * time.Second }, "tenants[0].verifyInterval", "at least 1m0s"},
		{"calendar window in the past too wide", func(c *Config) { c.Tenants[0].CalendarPastDays = 4000 }, "tenants[0].calendarPastDays", "from 1 to 1825"},
		{"calendar window ahead negative", func(c *Config) { c.Tenants[0].CalendarFutureDays = -1 }, "tenants[0].calendarFutureDays", "remove it for the default"},
		// logging
		{"unknown level", func(c *Config) { c.Logging.Level = "verbose" }, "logging.level", "debug, info, warn, error"},
		{"unknown format", func(c *Config) { c.Logging.Format = "xml" }, "logging.format", "json or console"},
		// encryption
		{"no keys", func(c *Config) { c.Encryption = Encryption{} }, "encryption.keys", "add at least one"},
		{"empty key id", func(c *Config) { c.Encryption.Keys[0].ID = "" }, "encryption.keys[0].id", "is required"},
		{"duplicate key id", func(c *Config) {
			c.Encryption.Keys = append(c.Encryption.Keys, EncryptionKey{ID: "k1", Secret: SecretRef{Env: "K"}})
		}, "encryption.keys[1].id", "must be unique"},
		{"active key unknown", func(c *Config) { c.Encryption.ActiveKeyID = "k2" }, "encryption.activeKeyID", "set it to one of k1"},
		{"active key empty", func(c *Config) { c.Encryption.ActiveKeyID = "" }, "encryption.activeKeyID", "the key that encrypts new payloads"},
		{"key without secret", func(c *Config) { c.Encryption.Keys[0].Secret = SecretRef{} }, "encryption.keys[0].secret", "set encryption.keys[0].secret.env to the name of an environment variable"},
		{"key with both secrets", func(c *Config) { c.Encryption.Keys[0].Secret.File = "/k" }, "encryption.keys[0].secret", "keep exactly one"},
		// http
		{"listen without port", func(c *Config) { c.HTTP.Listen = "localhost" }, "http.listen", "e.g. 127.0.0.1:8081"},
		{"wildcard CORS origin", func(c *Config) { c.HTTP.CodecCORSOrigins = []string{"*"} }, "http.codecCORSOrigins[0]", "list the Web UI's origins"},
		{"CORS origin with a path", func(c *Config) { c.HTTP.CodecCORSOrigins = []string{"http://localhost:8233/namespaces"} }, "http.codecCORSOrigins[0]", "scheme://host[:port]"},
		{"CORS origin without scheme", func(c *Config) { c.HTTP.CodecCORSOrigins = []string{"localhost:8233"} }, "http.codecCORSOrigins[0]", "is not an origin"},
		// store
		{"unknown store driver", func(c *Config) { c.Store.Driver = "mysql" }, "store.driver", "sqlite (embedded) or postgres"},
		{"postgres without dsn", func(c *Config) { c.Store = Store{Driver: StorePostgres} }, "store.dsn", "set store.dsn.env to the name of an environment variable"},
		{"sqlite without path", func(c *Config) { c.Store.Path = "" }, "store.path", "SQLite database file"},
		{"sqlite with a dsn", func(c *Config) { c.Store.DSN = SecretRef{Env: "DB"} }, "store.dsn", "only used when store.driver is postgres"},
		// credentials
		{"credentials dir blank", func(c *Config) { c.Credentials.Dir = "  " }, "credentials.dir", "a directory the worker and the starter share"},
		{"credentials dir is a file", func(c *Config) { c.Credentials.Dir = "config_test.go" }, "credentials.dir", "is a file, not a directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { expectProblem(t, tt.mutate, tt.key, tt.hint) })
	}
}

func TestValidateAcceptsGoodEdgeValues(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(c *Config)
	}{
		{"tenant key of 63 chars", func(c *Config) { c.Tenants[0].Key = strings.Repeat("a", 63) }},
		{"IPv4 allowed host for the simulator", func(c *Config) {
			c.Cloud = Cloud{Name: CloudCustom, AuthorityHost: "https://127.0.0.1:9443/", GraphBaseURL: "https://127.0.0.1:9443/v1.0", AllowedGraphHosts: []string{"127.0.0.1"}}
			c.Cloud.applyDefaults()
		}},
		{"beta endpoint", func(c *Config) { c.Cloud.GraphBaseURL = "https://graph.microsoft.com/beta" }},
		{"all features", func(c *Config) { c.Tenants[0].Features = append([]string(nil), KnownFeatures...) }},
		{"no tenants", func(c *Config) { c.Tenants = nil }},
		{"minimum verify interval", func(c *Config) { c.Tenants[0].VerifyInterval = time.Minute }},
		{"listen on a free port on all interfaces", func(c *Config) {
			c.HTTP.Listen = ":0"
			c.HTTP.CodecAuth = CodecAuth{Issuer: "https://idp.example.com/", Audience: "outlookflow-codec"}
		}},
		{"postgres store by file", func(c *Config) { c.Store = Store{Driver: StorePostgres, DSN: SecretRef{File: "/run/secrets/dsn"}} }},
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

func TestValidateReportsEveryProblemAtOnce(t *testing.T) {
	c := validConfig()
	c.Temporal.Address = "nope"
	c.Tenants[0].ClientID = "x"
	c.Tenants[1].Secret = SecretRef{}
	c.Logging.Format = "xml"
	err := c.Validate()
	var ve *ValidationError
	if !errors.As(err, &ve) || len(ve.Problems) != 4 {
		t.Fatalf("want 4 problems, got %v", err)
	}
	assertContainsAll(t, err, "4 problems", "temporal.address", "tenants[0].clientID", "tenants[1].secret", "logging.format")
}

func TestExampleFileLoadsValidatesAndResolvesKeys(t *testing.T) {
	cfg, err := Load("example.yaml", nil)
	if err != nil {
		t.Fatalf("example.yaml must load and validate: %v", err)
	}
	if len(cfg.Tenants) == 0 || cfg.Tenants[0].Secret.Env == "" {
		t.Fatalf("example.yaml should show a tenant with an env secret, got %+v", cfg.Tenants)
	}
	key := base64.StdEncoding.EncodeToString(make([]byte, 32))
	keys, err := cfg.Encryption.ResolveKeys(EnvLookup([]string{cfg.Encryption.Keys[0].Secret.Env + "=" + key}))
	if err != nil {
		t.Fatal(err)
	}
	if len(keys[cfg.Encryption.ActiveKeyID]) != 32 {
		t.Errorf("active key has %d bytes, want 32", len(keys[cfg.Encryption.ActiveKeyID]))
	}
}

func TestExampleFileMentionsEveryKey(t *testing.T) {
	b, err := os.ReadFile("example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var walk func(t2 reflect.Type, prefix string)
	walk = func(t2 reflect.Type, prefix string) {
		for tag, f := range koanfFields(t2) {
			if !strings.Contains(string(b), tag+":") {
				t.Errorf("example.yaml does not document %s%s", prefix, tag)
			}
			ft := f.Type
			if ft.Kind() == reflect.Slice {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				walk(ft, prefix+tag+".")
			}
		}
	}
	walk(reflect.TypeFor[Config](), "")
}

func TestResolveSecret(t *testing.T) {
	const secret = "p@ss-WORD-123"
	dir := t.TempDir()
	withNewline := writeFile(t, dir, "s1", secret+"\n")
	withCRLF := writeFile(t, dir, "s2", secret+"\r\n")
	empty := writeFile(t, dir, "empty", "\n")
	lookup := EnvLookup([]string{"GOOD=" + secret, "EMPTY="})

	tests := []struct {
		name  string
		ref   SecretRef
		want  string
		wants []string // error substrings; nil means success
	}{
		{"env", SecretRef{Env: "GOOD"}, secret, nil},
		{"file with trailing newline", SecretRef{File: withNewline}, secret, nil},
		{"file with CRLF", SecretRef{File: withCRLF}, secret, nil},
		{"env not set", SecretRef{Env: "MISSING"}, "", []string{"environment variable MISSING is not set", "export it"}},
		{"env empty", SecretRef{Env: "EMPTY"}, "", []string{"environment variable EMPTY is empty"}},
		{"file missing", SecretRef{File: filepath.Join(dir, "nope")}, "", []string{"secret file " + filepath.Join(dir, "nope"), "no such file", "create it"}},
		{"file empty", SecretRef{File: empty}, "", []string{"secret file " + empty + " is empty"}},
		{"neither", SecretRef{}, "", []string{"secret.env", "secret.file"}},
		{"both", SecretRef{Env: "GOOD", File: withNewline}, "", []string{"keep exactly one"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ResolveSecret(tt.ref, lookup)
			if tt.wants == nil {
				if err != nil || got != tt.want {
					t.Fatalf("ResolveSecret = %q, %v; want %q", got, err, tt.want)
				}
				return
			}
			assertContainsAll(t, err, tt.wants...)
			if err != nil && strings.Contains(err.Error(), secret) {
				t.Errorf("error repeats the secret: %v", err)
			}
		})
	}
}

func TestResolveSecretDefaultsToProcessEnvironment(t *testing.T) {
	t.Setenv("OUTLOOKFLOW_TEST_SECRET", "v")
	if got, err := ResolveSecret(SecretRef{Env: "OUTLOOKFLOW_TEST_SECRET"}, nil); err != nil || got != "v" {
		t.Fatalf("ResolveSecret = %q, %v; want v", got, err)
	}
}

func TestResolveKeys(t *testing.T) {
	good := make([]byte, 32)
	for i := range good {
		good[i] = byte(i)
	}
	enc := Encryption{ActiveKeyID: "new", Keys: []EncryptionKey{
		{ID: "old", Secret: SecretRef{Env: "K_OLD"}},
		{ID: "new", Secret: SecretRef{Env: "K_NEW"}},
	}}
	tests := []struct {
		name  string
		env   []string
		wants []string
	}{
		{"standard and raw URL base64", []string{"K_OLD=" + base64.StdEncoding.EncodeToString(good), "K_NEW=" + base64.RawURLEncoding.EncodeToString(good) + "\n"}, nil},
		{"short key", []string{"K_OLD=" + base64.StdEncoding.EncodeToString(good[:16]), "K_NEW=" + base64.StdEncoding.EncodeToString(good)}, []string{`id "old"`, "16 bytes", "needs 32", "openssl rand -base64 32"}},
		{"not base64", []string{"K_OLD=" + base64.StdEncoding.EncodeToString(good), "K_NEW=%%%not-base64%%%"}, []string{`id "new"`, "not base64"}},
		{"missing variable", []string{"K_OLD=" + base64.StdEncoding.EncodeToString(good)}, []string{`id "new"`, "K_NEW is not set"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			keys, err := enc.ResolveKeys(EnvLookup(tt.env))
			if tt.wants == nil {
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(keys["old"], good) || !reflect.DeepEqual(keys["new"], good) {
					t.Errorf("keys = %v, want both equal to the input", keys)
				}
				return
			}
			assertContainsAll(t, err, tt.wants...)
			if err != nil && strings.Contains(err.Error(), "not-base64") {
				t.Errorf("error repeats the secret: %v", err)
			}
		})
	}
}

func FuzzLoad(f *testing.F) {
	if b, err := os.ReadFile("example.yaml"); err == nil {
		f.Add(string(b))
	}
	for _, s := range []string{
		minimalYAML,
		"",
		"temporal: {adress: x}",
		"tenants: [{secret: abc}]",
		"tenants:\n  - key: a\n    secret: {value: v}\n",
		"a: &a [*a]",
		"cloud: {name: custom, allowedGraphHosts: 1}",
		"tenants: [[1, 2], {features: {a: b}}]",
		"temporal: {tls: {enabled: maybe}}",
		"? [a, b]\n: c\n",
		"encryption: {keys: [{id: 1, secret: {env: 2}}], activeKeyID: 1}",
		"tenants: [{verifyInterval: 99999999999999999999h}]",
		"<<: {temporal: {address: a:1}}",
	} {
		f.Add(s)
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data string) {
		path := filepath.Join(dir, "fuzz.yaml")
		if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
		cfg, err := Load(path, nil)
		if err == nil && cfg == nil {
			t.Fatal("Load returned neither a config nor an error")
		}
		if err == nil {
			if verr := cfg.Validate(); verr != nil {
				t.Fatalf("Load accepted a config that Validate rejects: %v", verr)
			}
		}
	})
}

// expectProblem checks that mutating a valid configuration makes Validate
// report a problem under key whose message contains hint.
func expectProblem(t *testing.T, mutate func(*Config), key, hint string) {
	t.Helper()
	c := validConfig()
	mutate(c)
	err := c.Validate()
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("Validate() = %v, want a *ValidationError", err)
	}
	for _, p := range ve.Problems {
		if p.Key == key && strings.Contains(p.Message, hint) {
			return
		}
	}
	t.Errorf("no problem for key %q with hint %q; got:\n%v", key, hint, err)
}
