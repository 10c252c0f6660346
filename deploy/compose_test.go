package deploy

import (
	"context"
	"encoding/base64"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"

	"github.com/outlookflow/outlookflow/config"
)

const composeFile = "../docker-compose.yml"

// requiredSecrets are the variables docker-compose.yml refuses to start
// without, with a phrase of the message that tells the operator what to set.
var requiredSecrets = map[string]string{
	"TEMPORAL_DB_PASSWORD":       "set TEMPORAL_DB_PASSWORD to the password for Temporal's PostgreSQL user",
	"STORE_DB_PASSWORD":          "set STORE_DB_PASSWORD to the password for the store's PostgreSQL user",
	"OUTLOOKFLOW_ENCRYPTION_KEY": "set OUTLOOKFLOW_ENCRYPTION_KEY to a base64-encoded 32-byte payload encryption key",
	// Sign-in to the Web UI and the codec server's access-token check.
	"OUTLOOKFLOW_OIDC_ISSUER":      "set OUTLOOKFLOW_OIDC_ISSUER to the OIDC issuer operators sign in with",
	"OUTLOOKFLOW_UI_CLIENT_ID":     "set OUTLOOKFLOW_UI_CLIENT_ID to the Web UI's OIDC client ID",
	"OUTLOOKFLOW_UI_CLIENT_SECRET": "set OUTLOOKFLOW_UI_CLIENT_SECRET to the Web UI's OIDC client secret",
	"OUTLOOKFLOW_CODEC_SCOPE":      "set OUTLOOKFLOW_CODEC_SCOPE to the codec API's scope",
	"OUTLOOKFLOW_CODEC_AUDIENCE":   "set OUTLOOKFLOW_CODEC_AUDIENCE to the audience (aud) of the access tokens",
	"OUTLOOKFLOW_CODEC_ENDPOINT":   "set OUTLOOKFLOW_CODEC_ENDPOINT to the https URL",
}

var testKey = base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))

func secretsEnv() map[string]string {
	return map[string]string{
		"TEMPORAL_DB_PASSWORD":         "temporal-pw",
		"STORE_DB_PASSWORD":            "store-pw",
		"OUTLOOKFLOW_ENCRYPTION_KEY":   testKey,
		"OUTLOOKFLOW_OIDC_ISSUER":      "https://login.example.test/tenant-1/v2.0",
		"OUTLOOKFLOW_UI_CLIENT_ID":     "ui-client-id",
		"OUTLOOKFLOW_UI_CLIENT_SECRET": "ui-client-secret",
		"OUTLOOKFLOW_CODEC_SCOPE":      "api://codec-test/decode",
		"OUTLOOKFLOW_CODEC_AUDIENCE":   "api://codec-test",
		"OUTLOOKFLOW_CODEC_ENDPOINT":   "https://codec.example.test/codec",
	}
}

// loadCompose parses docker-compose.yml with env as the only environment (the
// test's own process environment is not consulted).
func loadCompose(t *testing.T, env map[string]string) (*types.Project, error) {
	t.Helper()
	var list []string
	for k, v := range env {
		list = append(list, k+"="+v)
	}
	opts, err := cli.NewProjectOptions([]string{composeFile}, cli.WithEnv(list))
	if err != nil {
		t.Fatal(err)
	}
	return opts.LoadProject(context.Background())
}

func mustLoadCompose(t *testing.T) *types.Project {
	t.Helper()
	p, err := loadCompose(t, secretsEnv())
	if err != nil {
		t.Fatalf("docker-compose.yml does not load: %v", err)
	}
	return p
}

func service(t *testing.T, p *types.Project, name string) types.ServiceConfig {
	t.Helper()
	s, ok := p.Services[name]
	if !ok {
		t.Fatalf("docker-compose.yml has no %q service", name)
	}
	return s
}

func env(t *testing.T, s types.ServiceConfig, name string) string {
	t.Helper()
	v, ok := s.Environment[name]
	if !ok || v == nil {
		t.Fatalf("service %q does not set %s", s.Name, name)
	}
	return *v
}

func TestComposeDefinesTheFiveServices(t *testing.T) {
	p := mustLoadCompose(t)
	want := []string{"postgresql", "store-postgresql", "temporal", "temporal-ui", "worker"}
	got := p.ServiceNames()
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("services = %v, want %v", got, want)
	}
}

var versionTag = regexp.MustCompile(`^v?[0-9]+(\.[0-9]+)+([.-][0-9A-Za-z.-]+)?$`)

// imageTag returns the tag of an image reference ("" when it has none).
func imageTag(ref string) string {
	ref, _, _ = strings.Cut(ref, "@")
	name := ref[strings.LastIndex(ref, "/")+1:]
	_, tag, _ := strings.Cut(name, ":")
	return tag
}

func TestComposePullsOnlyImagesPinnedToAVersion(t *testing.T) {
	p := mustLoadCompose(t)
	for _, name := range p.ServiceNames() {
		s := p.Services[name]
		if s.Build != nil {
			continue // built locally; its image name only tags the build
		}
		tag := imageTag(s.Image)
		switch {
		case s.Image == "":
			t.Errorf("service %q has neither image nor build", name)
		case tag == "" || tag == "latest":
			t.Errorf("service %q uses %q; pin it to an exact version tag", name, s.Image)
		case !versionTag.MatchString(tag):
			t.Errorf("service %q uses tag %q, which is not an exact version (like 1.29.1)", name, tag)
		}
	}
}

func TestImageTag(t *testing.T) {
	for ref, want := range map[string]string{
		"postgres:16.6":                       "16.6",
		"temporalio/ui:2.43.3":                "2.43.3",
		"registry:5000/temporalio/ui":         "",
		"registry:5000/temporalio/ui:2.43.3":  "2.43.3",
		"postgres":                            "",
		"postgres:latest":                     "latest",
		"postgres:16.6@sha256:0123456789abcd": "16.6",
	} {
		if got := imageTag(ref); got != want {
			t.Errorf("imageTag(%q) = %q, want %q", ref, got, want)
		}
	}
}

func TestComposeHealthchecks(t *testing.T) {
	p := mustLoadCompose(t)
	tests := []struct {
		service string
		want    []string // substrings of the joined test command
	}{
		{"postgresql", []string{"pg_isready", "--username=temporal"}},
		{"store-postgresql", []string{"pg_isready", "--username=outlookflow"}},
		{"temporal", []string{"temporal operator cluster health", "--address temporal:7233"}},
		{"worker", []string{"curl", "http://127.0.0.1:8081/healthz"}},
	}
	for _, tt := range tests {
		t.Run(tt.service, func(t *testing.T) {
			hc := service(t, p, tt.service).HealthCheck
			if hc == nil || hc.Disable || len(hc.Test) == 0 {
				t.Fatalf("service %q has no healthcheck", tt.service)
			}
			cmd := strings.Join(hc.Test, " ")
			for _, w := range tt.want {
				if !strings.Contains(cmd, w) {
					t.Errorf("healthcheck %q does not contain %q", cmd, w)
				}
			}
			if hc.Interval == nil || hc.Retries == nil {
				t.Errorf("healthcheck of %q should set interval and retries", tt.service)
			}
		})
	}
}

func TestComposeStartsServicesOnlyWhenTheirDependenciesAreHealthy(t *testing.T) {
	p := mustLoadCompose(t)
	tests := []struct{ service, dependsOn string }{
		{"temporal", "postgresql"},
		{"temporal-ui", "temporal"},
		{"worker", "temporal"},
		{"worker", "store-postgresql"},
	}
	for _, tt := range tests {
		dep, ok := service(t, p, tt.service).DependsOn[tt.dependsOn]
		if !ok {
			t.Errorf("%s does not depend on %s", tt.service, tt.dependsOn)
			continue
		}
		if dep.Condition != types.ServiceConditionHealthy {
			t.Errorf("%s waits for %s to be %q, want %q", tt.service, tt.dependsOn, dep.Condition, types.ServiceConditionHealthy)
		}
	}
}

func TestComposePointsUIAndWorkerAtTemporalsFrontend(t *testing.T) {
	p := mustLoadCompose(t)
	temporal := service(t, p, "temporal")
	var frontend uint32
	for _, port := range temporal.Ports {
		if port.Target == 7233 {
			frontend = port.Target
		}
	}
	if frontend == 0 {
		t.Fatalf("temporal service does not publish its frontend port 7233: %+v", temporal.Ports)
	}
	want := net.JoinHostPort("temporal", strconv.Itoa(int(frontend)))
	if got := env(t, service(t, p, "temporal-ui"), "TEMPORAL_ADDRESS"); got != want {
		t.Errorf("temporal-ui TEMPORAL_ADDRESS = %q, want %q", got, want)
	}
	if got := env(t, service(t, p, "worker"), "OUTLOOKFLOW_TEMPORAL_ADDRESS"); got != want {
		t.Errorf("worker OUTLOOKFLOW_TEMPORAL_ADDRESS = %q, want %q", got, want)
	}
}

func TestComposeUICanReachTheWorkersCodecServerFromTheBrowser(t *testing.T) {
	p := mustLoadCompose(t)
	ui, worker := service(t, p, "temporal-ui"), service(t, p, "worker")

	endpoint, err := url.Parse(env(t, ui, "TEMPORAL_CODEC_ENDPOINT"))
	if err != nil {
		t.Fatal(err)
	}
	// The UI passes its access token only to https endpoints: a TLS proxy
	// on the host forwards to the worker's published port.
	if endpoint.Scheme != "https" || !strings.HasSuffix(endpoint.Path, "/codec") {
		t.Errorf("TEMPORAL_CODEC_ENDPOINT %s should be an https URL ending in /codec (the UI sends its token only to https)", endpoint)
	}
	published := false
	for _, port := range worker.Ports {
		if port.Target == 8081 && port.Published == "8081" && port.HostIP == "127.0.0.1" {
			published = true
		}
	}
	if !published {
		t.Errorf("the worker does not publish its codec port 8081 on 127.0.0.1 for the TLS proxy: %+v", worker.Ports)
	}

	var uiPort string
	for _, port := range ui.Ports {
		if port.Target == 8080 {
			uiPort = port.Published
		}
	}
	if uiPort != "8233" {
		t.Errorf("temporal-ui publishes port %q, want 8233", uiPort)
	}
	origins := strings.Split(env(t, worker, "OUTLOOKFLOW_HTTP_CODECCORSORIGINS"), ",")
	if !slices.Contains(origins, "http://localhost:"+uiPort) {
		t.Errorf("worker's codec CORS origins %q do not include the Web UI's origin http://localhost:%s", origins, uiPort)
	}
	if got := env(t, worker, "OUTLOOKFLOW_HTTP_LISTEN"); got != "0.0.0.0:8081" {
		t.Errorf("worker listens on %q, want 0.0.0.0:8081 so the published port and healthcheck reach it", got)
	}
}

func TestComposeWorkerBuildsFromWorkerDockerfile(t *testing.T) {
	p := mustLoadCompose(t)
	b := service(t, p, "worker").Build
	if b == nil {
		t.Fatal("worker has no build section")
	}
	dockerfile := b.Dockerfile
	if !filepath.IsAbs(dockerfile) {
		dockerfile = filepath.Join(b.Context, dockerfile)
	}
	repoRoot, _ := filepath.Abs("..")
	if want := filepath.Join(repoRoot, "worker", "Dockerfile"); filepath.Clean(dockerfile) != want {
		t.Errorf("worker dockerfile = %s, want %s", dockerfile, want)
	}
	content, err := os.ReadFile(dockerfile)
	if err != nil {
		t.Fatalf("worker's Dockerfile is not on disk: %v", err)
	}
	for _, want := range []string{
		"FROM ${GO_IMAGE} AS build",
		"golang:1.26-bookworm",
		"--mount=type=cache,target=/root/.cache/go-build",
		"go build -trimpath",
		"-o /out/outlookflow-worker ./worker",
		"USER 10001:10001",
	} {
		if !strings.Contains(string(content), want) {
			t.Errorf("worker/Dockerfile does not contain %q", want)
		}
	}
	if strings.Contains(string(content), ":latest") {
		t.Error("worker/Dockerfile uses a :latest image")
	}
}

func TestComposeRefusesToStartWithoutRequiredSecrets(t *testing.T) {
	for name, message := range requiredSecrets {
		t.Run(name, func(t *testing.T) {
			e := secretsEnv()
			delete(e, name)
			_, err := loadCompose(t, e)
			if err == nil {
				t.Fatalf("docker-compose.yml loads without %s", name)
			}
			if !strings.Contains(err.Error(), message) {
				t.Errorf("error without %s = %v; want it to say %q", name, err, message)
			}
		})
	}
	t.Run("empty counts as missing", func(t *testing.T) {
		e := secretsEnv()
		e["OUTLOOKFLOW_ENCRYPTION_KEY"] = ""
		if _, err := loadCompose(t, e); err == nil {
			t.Fatal("docker-compose.yml loads with an empty OUTLOOKFLOW_ENCRYPTION_KEY")
		}
	})
}

func TestComposeWritesNoSecretInline(t *testing.T) {
	b, err := os.ReadFile(composeFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range secretsEnv() {
		if strings.Contains(string(b), v) {
			t.Errorf("docker-compose.yml contains the test secret %q literally", v)
		}
	}
	p := mustLoadCompose(t)
	for _, name := range p.ServiceNames() {
		for k, v := range p.Services[name].Environment {
			if v == nil {
				continue
			}
			upper := strings.ToUpper(k)
			if !strings.Contains(upper, "PASSWORD") && !strings.Contains(upper, "PWD") && !strings.Contains(upper, "KEY") {
				continue
			}
			fromEnv := false
			for _, secret := range secretsEnv() {
				fromEnv = fromEnv || strings.Contains(*v, secret)
			}
			if !fromEnv {
				t.Errorf("%s sets %s=%q, which does not come from a required secret variable", name, k, *v)
			}
		}
	}
}

// TestComposeWorkerConfigLoads loads the worker's mounted configuration file
// with exactly the environment compose gives the worker, as the worker does.
func TestComposeWorkerConfigLoads(t *testing.T) {
	p := mustLoadCompose(t)
	w := service(t, p, "worker")
	configPath := env(t, w, config.EnvConfigPath)

	var hostPath string
	for _, v := range w.Volumes {
		if v.Target == configPath {
			hostPath = v.Source
			if !v.ReadOnly {
				t.Errorf("the worker's configuration is mounted read-write; mount it :ro")
			}
		}
	}
	if hostPath == "" {
		t.Fatalf("no volume mounts the worker's configuration at %s", configPath)
	}

	var environ []string
	for k, v := range w.Environment {
		if v != nil {
			environ = append(environ, fmt.Sprintf("%s=%s", k, *v))
		}
	}
	cfg, err := config.Load(hostPath, environ)
	if err != nil {
		t.Fatalf("the worker would not start: %v", err)
	}
	if cfg.Temporal.Address != "temporal:7233" || cfg.Store.Driver != config.StorePostgres || cfg.HTTP.Listen != "0.0.0.0:8081" {
		t.Errorf("compose overrides not applied: temporal %q, store %q, listen %q", cfg.Temporal.Address, cfg.Store.Driver, cfg.HTTP.Listen)
	}
	lookup := config.EnvLookup(environ)
	keys, err := cfg.Encryption.ResolveKeys(lookup)
	if err != nil {
		t.Fatalf("encryption keys do not resolve: %v", err)
	}
	if len(keys[cfg.Encryption.ActiveKeyID]) != 32 {
		t.Errorf("active key has %d bytes, want 32", len(keys[cfg.Encryption.ActiveKeyID]))
	}
	dsn, err := config.ResolveSecret(cfg.Store.DSN, lookup)
	if err != nil {
		t.Fatalf("store DSN does not resolve: %v", err)
	}
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatalf("store DSN is not a URL: %v", err)
	}
	if u.Hostname() != "store-postgresql" {
		t.Errorf("store DSN points at %q, want the store-postgresql service", u.Hostname())
	}
	if pw, _ := u.User.Password(); pw != secretsEnv()["STORE_DB_PASSWORD"] {
		t.Error("store DSN does not carry STORE_DB_PASSWORD")
	}
	if _, ok := p.Services[u.Hostname()]; !ok {
		t.Errorf("store DSN host %q is not a service", u.Hostname())
	}
}
