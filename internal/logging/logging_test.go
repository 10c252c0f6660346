package logging

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"go.temporal.io/sdk/log"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

const secretValue = "s3cr3t-Bearer-eyJhbGci"

func decodeJSONLines(t *testing.T, b []byte) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range bytes.Split(bytes.TrimSpace(b), []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal(line, &m); err != nil {
			t.Fatalf("log line is not JSON: %q: %v", line, err)
		}
		out = append(out, m)
	}
	return out
}

func TestNewWritesJSONAtTheConfiguredLevel(t *testing.T) {
	var buf bytes.Buffer
	z, err := New("info", "json", &buf)
	if err != nil {
		t.Fatal(err)
	}
	z.Debug("hidden")
	z.Info("sync page stored", zap.String("tenant", "contoso"), zap.Int("items", 3))
	lines := decodeJSONLines(t, buf.Bytes())
	if len(lines) != 1 {
		t.Fatalf("got %d lines, want 1 (debug must be filtered at info): %s", len(lines), buf.String())
	}
	l := lines[0]
	if l["msg"] != "sync page stored" || l["level"] != "info" || l["tenant"] != "contoso" || l["items"] != float64(3) {
		t.Errorf("unexpected JSON entry: %v", l)
	}
	for _, k := range []string{"time", "caller"} {
		if _, ok := l[k]; !ok {
			t.Errorf("JSON entry has no %q: %v", k, l)
		}
	}
}

func TestNewWritesConsoleFormat(t *testing.T) {
	var buf bytes.Buffer
	z, err := New("debug", "console", &buf)
	if err != nil {
		t.Fatal(err)
	}
	z.Debug("hello", zap.String("tenant", "contoso"))
	out := buf.String()
	if !strings.Contains(out, "DEBUG") || !strings.Contains(out, "hello") || !strings.Contains(out, `"tenant": "contoso"`) {
		t.Errorf("console output = %q", out)
	}
}

func TestNewRejectsUnknownLevelAndFormat(t *testing.T) {
	tests := []struct{ level, format, want string }{
		{"loud", "json", `unknown level "loud"`},
		{"", "json", `unknown level ""`},
		{"info", "xml", `unknown format "xml"; use json or console`},
	}
	for _, tt := range tests {
		if _, err := New(tt.level, tt.format, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("New(%q, %q) error = %v, want %q", tt.level, tt.format, err, tt.want)
		}
	}
}

func TestSecretFieldAlwaysLogsRedacted(t *testing.T) {
	var buf bytes.Buffer
	z, _ := New("info", "json", &buf)
	z.Info("connected", Secret("clientCredential", secretValue), Secret("anything", []byte(secretValue)))
	if strings.Contains(buf.String(), secretValue) {
		t.Fatalf("secret leaked: %s", buf.String())
	}
	l := decodeJSONLines(t, buf.Bytes())[0]
	if l["clientCredential"] != Redacted || l["anything"] != Redacted {
		t.Errorf("secret fields = %v, %v; want %q", l["clientCredential"], l["anything"], Redacted)
	}
	if Redact(secretValue) != Redacted {
		t.Errorf("Redact returned %q", Redact(secretValue))
	}
}

func TestNewRedactsFieldsWithSecretLookingKeys(t *testing.T) {
	var buf bytes.Buffer
	z, _ := New("info", "json", &buf)
	z = z.With(zap.String("clientSecret", secretValue), zap.String("tenant", "contoso"))
	z.Info("token acquired",
		zap.String("access_token", secretValue),
		zap.String("Authorization", "Bearer "+secretValue),
		zap.ByteString("PASSWORD", []byte(secretValue)),
		zap.String("mailbox", "m-1"),
	)
	if strings.Contains(buf.String(), secretValue) {
		t.Fatalf("secret leaked: %s", buf.String())
	}
	l := decodeJSONLines(t, buf.Bytes())[0]
	for _, k := range []string{"clientSecret", "access_token", "Authorization", "PASSWORD"} {
		if l[k] != Redacted {
			t.Errorf("%s = %v, want %q", k, l[k], Redacted)
		}
	}
	if l["tenant"] != "contoso" || l["mailbox"] != "m-1" {
		t.Errorf("ordinary fields were changed: %v", l)
	}
}

func TestIsSecretKey(t *testing.T) {
	for key, want := range map[string]bool{
		"secret": true, "ClientSecret": true, "password": true, "db_PASSWORD": true,
		"token": true, "refreshToken": true, "Authorization": true, "proxy-authorization": true,
		"WorkflowID": false, "RunID": false, "tenant": false, "mailbox": false, "Attempt": false,
	} {
		if got := IsSecretKey(key); got != want {
			t.Errorf("IsSecretKey(%q) = %v, want %v", key, got, want)
		}
	}
}

func observed(level zapcore.Level) (*zap.Logger, *observer.ObservedLogs) {
	core, logs := observer.New(level)
	return zap.New(core), logs
}

func TestTemporalLoggerMapsKeyvalsToFields(t *testing.T) {
	z, logs := observed(zapcore.DebugLevel)
	l := NewTemporalLogger(z)
	l.Debug("d", "Attempt", 2)
	l.Info("i", "WorkflowType", "TenantWorkflow", "Err", errors.New("boom"))
	l.Warn("w", 42, "non-string key")
	l.Error("e", "dangling")

	entries := logs.All()
	if len(entries) != 4 {
		t.Fatalf("got %d entries, want 4", len(entries))
	}
	wantLevels := []zapcore.Level{zapcore.DebugLevel, zapcore.InfoLevel, zapcore.WarnLevel, zapcore.ErrorLevel}
	for i, e := range entries {
		if e.Level != wantLevels[i] {
			t.Errorf("entry %d level = %v, want %v", i, e.Level, wantLevels[i])
		}
	}
	if got := entries[0].ContextMap()["Attempt"]; got != int64(2) {
		t.Errorf("Attempt = %v (%T), want 2", got, got)
	}
	m := entries[1].ContextMap()
	if m["WorkflowType"] != "TenantWorkflow" || m["Err"] != "boom" {
		t.Errorf("fields = %v", m)
	}
	if got := entries[2].ContextMap()["42"]; got != "non-string key" {
		t.Errorf("non-string key field = %v, want it keyed by its text", got)
	}
	if got := entries[3].ContextMap()[badKey]; got != "dangling" {
		t.Errorf("dangling value = %v, want it under %s", got, badKey)
	}
}

func TestTemporalLoggerWithCarriesWorkflowContext(t *testing.T) {
	z, logs := observed(zapcore.InfoLevel)
	base := NewTemporalLogger(z)
	if _, ok := base.(log.WithLogger); !ok {
		t.Fatal("the Temporal logger must implement log.WithLogger")
	}
	wl := log.With(base, "WorkflowID", "tenant/contoso", "RunID", "run-1")
	wl.Info("started", "ActivityID", "7")
	base.Info("unrelated")

	e := logs.All()
	m := e[0].ContextMap()
	if m["WorkflowID"] != "tenant/contoso" || m["RunID"] != "run-1" || m["ActivityID"] != "7" {
		t.Errorf("With fields missing: %v", m)
	}
	if _, ok := e[1].ContextMap()["WorkflowID"]; ok {
		t.Error("With mutated the parent logger")
	}
	if _, ok := log.Skip(base, 1).(*temporalLogger); !ok {
		t.Error("the Temporal logger must implement log.WithSkipCallers")
	}
}

func TestTemporalLoggerRedactsSecretLookingKeys(t *testing.T) {
	z, logs := observed(zapcore.InfoLevel)
	l := NewTemporalLogger(z)
	l = l.(log.WithLogger).With("client_secret", secretValue)
	l.Info("calling Graph", "Authorization", "Bearer "+secretValue, "accessToken", secretValue, "Password", secretValue, "mailbox", "m-1")

	e := logs.All()[0]
	m := e.ContextMap()
	for _, k := range []string{"client_secret", "Authorization", "accessToken", "Password"} {
		if m[k] != Redacted {
			t.Errorf("%s = %v, want %q", k, m[k], Redacted)
		}
	}
	if m["mailbox"] != "m-1" {
		t.Errorf("mailbox = %v, want m-1", m["mailbox"])
	}
	for _, f := range e.Context {
		if strings.Contains(f.String, secretValue) || strings.Contains(f.Key, secretValue) {
			t.Errorf("secret leaked in field %+v", f)
		}
	}
}

func TestTemporalLoggerReportsTheCallerNotTheBridge(t *testing.T) {
	var buf bytes.Buffer
	z, _ := New("info", "json", &buf)
	NewTemporalLogger(z).Info("where")
	l := decodeJSONLines(t, buf.Bytes())[0]
	if c, _ := l["caller"].(string); !strings.Contains(c, "logging_test.go") {
		t.Errorf("caller = %q, want this test file", c)
	}
}
