package config

import (
	"path/filepath"
	"strings"
	"testing"
)

func withCodecAuth(c *Config) {
	c.HTTP.Listen = "0.0.0.0:8081"
	c.HTTP.CodecAuth = CodecAuth{Issuer: "https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/v2.0", Audience: "api://outlookflow-codec"}
}

func TestValidateCodecAuthNamesTheKeyAndTheFix(t *testing.T) {
	dir := t.TempDir()
	notPEM := writeFile(t, dir, "not.pem", "hello")
	tests := []struct {
		name   string
		mutate func(c *Config)
		key    string
		hint   string
	}{
		{"all interfaces without codecAuth", func(c *Config) { c.HTTP.Listen = "0.0.0.0:8081" }, "http.codecAuth", "is not a loopback address"},
		{"empty host without codecAuth", func(c *Config) { c.HTTP.Listen = ":8081" }, "http.codecAuth", "set http.codecAuth.issuer and http.codecAuth.audience"},
		{"IPv6 any without codecAuth", func(c *Config) { c.HTTP.Listen = "[::]:8081" }, "http.codecAuth", "TEMPORAL_CODEC_PASS_ACCESS_TOKEN=true"},
		{"private address without codecAuth", func(c *Config) { c.HTTP.Listen = "10.0.0.5:8081" }, "http.codecAuth", "or listen on 127.0.0.1"},
		{"host name without codecAuth", func(c *Config) { c.HTTP.Listen = "worker:8081" }, "http.codecAuth", "OUTLOOKFLOW_HTTP_CODECAUTH_ISSUER"},
		{"issuer missing", func(c *Config) { withCodecAuth(c); c.HTTP.CodecAuth.Issuer = "" }, "http.codecAuth.issuer", "is empty"},
		{"issuer plain http to another machine", func(c *Config) { withCodecAuth(c); c.HTTP.CodecAuth.Issuer = "http://login.example.com/" }, "http.codecAuth.issuer", "plain http to another machine"},
		{"issuer without scheme", func(c *Config) { withCodecAuth(c); c.HTTP.CodecAuth.Issuer = "login.example.com" }, "http.codecAuth.issuer", "not an absolute URL"},
		{"issuer with another scheme", func(c *Config) { withCodecAuth(c); c.HTTP.CodecAuth.Issuer = "ftp://login.example.com" }, "http.codecAuth.issuer", "not an https URL"},
		{"issuer with a query", func(c *Config) {
			withCodecAuth(c)
			c.HTTP.CodecAuth.Issuer = "https://login.example.com/?tenant=x"
		}, "http.codecAuth.issuer", "must not carry user info, query or fragment"},
		{"issuer with user info", func(c *Config) { withCodecAuth(c); c.HTTP.CodecAuth.Issuer = "https://u:p@login.example.com/" }, "http.codecAuth.issuer", "must not carry"},
		{"audience missing", func(c *Config) { withCodecAuth(c); c.HTTP.CodecAuth.Audience = " " }, "http.codecAuth.audience", "is empty"},
		{"two audiences", func(c *Config) { withCodecAuth(c); c.HTTP.CodecAuth.Audience = "a,b" }, "http.codecAuth.audience", "exactly one audience"},
		{"audience without issuer", func(c *Config) { c.HTTP.CodecAuth.Audience = "api://x" }, "http.codecAuth.issuer", "is empty"},
		{"JWKS URL plain http", func(c *Config) { withCodecAuth(c); c.HTTP.CodecAuth.JWKSURL = "http://login.example.com/keys" }, "http.codecAuth.jwksURL", "plain http"},
		{"CA file missing", func(c *Config) {
			withCodecAuth(c)
			c.HTTP.CodecAuth.CAFile = filepath.Join(dir, "missing.pem")
		}, "http.codecAuth.caFile", "set it to a readable file"},
		{"CA file without certificate", func(c *Config) { withCodecAuth(c); c.HTTP.CodecAuth.CAFile = notPEM }, "http.codecAuth.caFile", "holds no PEM certificate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { expectProblem(t, tt.mutate, tt.key, tt.hint) })
	}
}

func TestValidateCodecAuthAcceptsGoodSettings(t *testing.T) {
	dir := t.TempDir()
	caFile := writeFile(t, dir, "ca.pem", string(selfSignedPEM(t)))
	tests := []struct {
		name   string
		mutate func(c *Config)
	}{
		{"loopback IPv4 without codecAuth", func(c *Config) { c.HTTP.Listen = "127.0.0.1:8081" }},
		{"other 127/8 address without codecAuth", func(c *Config) { c.HTTP.Listen = "127.0.0.2:0" }},
		{"loopback IPv6 without codecAuth", func(c *Config) { c.HTTP.Listen = "[::1]:8081" }},
		{"localhost without codecAuth", func(c *Config) { c.HTTP.Listen = "localhost:8081" }},
		{"all interfaces with codecAuth", withCodecAuth},
		{"http issuer on loopback (a local IdP)", func(c *Config) {
			withCodecAuth(c)
			c.HTTP.CodecAuth.Issuer = "http://127.0.0.1:5556/dex"
		}},
		{"JWKS override and CA file", func(c *Config) {
			withCodecAuth(c)
			c.HTTP.CodecAuth.JWKSURL = "https://login.example.com/discovery/v2.0/keys"
			c.HTTP.CodecAuth.CAFile = caFile
		}},
		{"codecAuth on loopback too", func(c *Config) {
			withCodecAuth(c)
			c.HTTP.Listen = "127.0.0.1:8081"
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := validConfig()
			tt.mutate(c)
			if err := c.Validate(); err != nil {
				t.Errorf("Validate() = %v, want nil", err)
			}
		})
	}
}

func TestListenIsLoopback(t *testing.T) {
	for listen, want := range map[string]bool{
		"127.0.0.1:8081":  true,
		"127.1.2.3:8081":  true,
		"[::1]:8081":      true,
		"localhost:8081":  true,
		"LOCALHOST:0":     true,
		"0.0.0.0:8081":    false,
		":8081":           false,
		"[::]:8081":       false,
		"10.0.0.5:8081":   false,
		"worker:8081":     false,
		"localhost":       false, // not host:port
		"localhost.:8081": false, // a name that need not resolve to loopback
	} {
		if got := ListenIsLoopback(listen); got != want {
			t.Errorf("ListenIsLoopback(%q) = %v, want %v", listen, got, want)
		}
	}
}

func TestCheckCodecExposure(t *testing.T) {
	if err := (HTTP{Listen: "0.0.0.0:8081"}).CheckCodecExposure(); err == nil || !strings.HasPrefix(err.Error(), "http.codecAuth: ") {
		t.Errorf("CheckCodecExposure on 0.0.0.0 without codecAuth = %v, want an error naming http.codecAuth", err)
	}
	if err := (HTTP{Listen: "127.0.0.1:8081"}).CheckCodecExposure(); err != nil {
		t.Errorf("CheckCodecExposure on loopback = %v, want nil", err)
	}
	if err := (HTTP{Listen: "0.0.0.0:8081", CodecAuth: CodecAuth{Issuer: "https://idp.example.com", Audience: "a"}}).CheckCodecExposure(); err != nil {
		t.Errorf("CheckCodecExposure with codecAuth = %v, want nil", err)
	}
}

func TestLoadReadsCodecAuthFromTheEnvironment(t *testing.T) {
	path := writeConfig(t, minimalYAML)
	cfg, err := Load(path, []string{
		"OUTLOOKFLOW_HTTP_LISTEN=0.0.0.0:8081",
		"OUTLOOKFLOW_HTTP_CODECAUTH_ISSUER=https://idp.example.com/realms/ops",
		"OUTLOOKFLOW_HTTP_CODECAUTH_AUDIENCE=outlookflow-codec",
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := (CodecAuth{Issuer: "https://idp.example.com/realms/ops", Audience: "outlookflow-codec"}); cfg.HTTP.CodecAuth != want {
		t.Errorf("http.codecAuth = %+v, want %+v", cfg.HTTP.CodecAuth, want)
	}
	_, err = Load(path, []string{"OUTLOOKFLOW_HTTP_LISTEN=0.0.0.0:8081"})
	if err == nil || !strings.Contains(err.Error(), "http.codecAuth") {
		t.Errorf("Load with listen 0.0.0.0 and no codecAuth = %v, want an error naming http.codecAuth", err)
	}
}
