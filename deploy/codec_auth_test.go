package deploy

import (
	"fmt"
	"strings"
	"testing"

	"github.com/outlookflow/outlookflow/config"
)

// TestComposeCodecVerifiesTheUIsAccessToken checks the production setting:
// the UI signs operators in with OIDC and passes its access token to the
// codec, and the worker, listening beyond loopback, verifies that token
// against the same issuer.
func TestComposeCodecVerifiesTheUIsAccessToken(t *testing.T) {
	p := mustLoadCompose(t)
	ui, worker := service(t, p, "temporal-ui"), service(t, p, "worker")
	want := secretsEnv()

	for name, value := range map[string]string{
		"TEMPORAL_AUTH_ENABLED":            "true",
		"TEMPORAL_AUTH_TYPE":               "oidc",
		"TEMPORAL_AUTH_PROVIDER_URL":       want["OUTLOOKFLOW_OIDC_ISSUER"],
		"TEMPORAL_AUTH_ISSUER_URL":         want["OUTLOOKFLOW_OIDC_ISSUER"],
		"TEMPORAL_AUTH_CLIENT_ID":          want["OUTLOOKFLOW_UI_CLIENT_ID"],
		"TEMPORAL_AUTH_CLIENT_SECRET":      want["OUTLOOKFLOW_UI_CLIENT_SECRET"],
		"TEMPORAL_AUTH_CALLBACK_URL":       "http://localhost:8233/auth/sso/callback",
		"TEMPORAL_CODEC_PASS_ACCESS_TOKEN": "true",
	} {
		if got := env(t, ui, name); got != value {
			t.Errorf("temporal-ui %s = %q, want %q", name, got, value)
		}
	}
	if scopes := strings.Split(env(t, ui, "TEMPORAL_AUTH_SCOPES"), ","); !contains(scopes, "openid") || !contains(scopes, want["OUTLOOKFLOW_CODEC_SCOPE"]) {
		t.Errorf("temporal-ui TEMPORAL_AUTH_SCOPES = %q, want openid and the codec API's scope %q", scopes, want["OUTLOOKFLOW_CODEC_SCOPE"])
	}

	var environ []string
	for k, v := range worker.Environment {
		if v != nil {
			environ = append(environ, fmt.Sprintf("%s=%s", k, *v))
		}
	}
	cfg, err := config.Load("config.yaml", environ)
	if err != nil {
		t.Fatalf("the worker would not start: %v", err)
	}
	if config.ListenIsLoopback(cfg.HTTP.Listen) {
		t.Errorf("worker listens on loopback %q; the published port needs 0.0.0.0", cfg.HTTP.Listen)
	}
	if got := cfg.HTTP.CodecAuth; got.Issuer != env(t, ui, "TEMPORAL_AUTH_ISSUER_URL") || got.Audience != want["OUTLOOKFLOW_CODEC_AUDIENCE"] {
		t.Errorf("worker http.codecAuth = %+v, want issuer %q (the UI's) and audience %q", got, env(t, ui, "TEMPORAL_AUTH_ISSUER_URL"), want["OUTLOOKFLOW_CODEC_AUDIENCE"])
	}
	if err := cfg.HTTP.CheckCodecExposure(); err != nil {
		t.Errorf("the worker would refuse to serve the codec: %v", err)
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if strings.TrimSpace(v) == s {
			return true
		}
	}
	return false
}
