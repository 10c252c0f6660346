package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/outlookflow/outlookflow/graphsim"
)

func TestRun_ServesWritesCAAndCredentialsAndStopsOnCancel(t *testing.T) {
	dir := t.TempDir()
	credsPath := filepath.Join(dir, "out", "demo-creds.json")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"--addr", "127.0.0.1:0", "--state-dir", filepath.Join(dir, "state"), "--credentials-out", credsPath}, pw)
		pw.Close()
	}()

	// Read the banner up to the credentials line.
	lines := map[string]string{}
	sc := bufio.NewScanner(pr)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok {
			lines[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
		if strings.Contains(sc.Text(), "credentials:") {
			break
		}
	}
	go io.Copy(io.Discard, pr)
	base := lines["graph base URL"]
	if !strings.HasPrefix(base, "https://localhost:") || !strings.HasSuffix(base, "/v1.0") {
		t.Fatalf("banner graph base URL = %q (banner %v)", base, lines)
	}

	caFile := filepath.Join(dir, "state", "ca.pem")
	pem, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatalf("ca.pem not written to the state dir: %v", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatal("ca.pem holds no certificate")
	}

	_, want := graphsim.DemoTenant()
	st, err := os.Stat(credsPath)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("credentials file: %v, mode %v; want mode 0600", err, st.Mode().Perm())
	}
	var cf credentialsFile
	b, _ := os.ReadFile(credsPath)
	if err := json.Unmarshal(b, &cf); err != nil {
		t.Fatal(err)
	}
	if cf.TenantID != want.TenantID || cf.ClientID != want.ClientID || cf.ClientSecret != want.ClientSecret || cf.CAFile == "" {
		t.Errorf("credentials file = %s", b)
	}
	sec, err := os.ReadFile(cf.ClientSecretFile)
	sst, _ := os.Stat(cf.ClientSecretFile)
	if err != nil || string(sec) != want.ClientSecret || sst.Mode().Perm() != 0o600 {
		t.Errorf("secret file %s: %v, mode %v; want the demo secret with mode 0600", cf.ClientSecretFile, err, sst.Mode().Perm())
	}

	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := client.Get(strings.TrimSuffix(base, "/v1.0") + "/_sim/v1/health")
	if err != nil {
		t.Fatalf("health over HTTPS with the written CA: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("health: %d", resp.StatusCode)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("run returned %v after cancel, want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("run did not return after cancel")
	}
}

func TestRun_RejectsBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"--seed", "lots"},
		{"--seed", "none", "--credentials-out", "x.json"},
		{"--seed", "large:x:1"},
		{"--seed", "large:0:1"},
		{"--seed", "large:5"},
		{"--latency-fixed", "soon"},
		{"extra"},
	} {
		if err := run(context.Background(), args, io.Discard); err == nil {
			t.Errorf("run(%v) succeeded, want an error", args)
		}
	}
}

func TestParseLargeSeed(t *testing.T) {
	ls, ok, err := parseLargeSeed("large:200:2000:50")
	if err != nil || !ok || ls.Mailboxes != 200 || ls.MessagesPerMailbox != 2000 || ls.EventsPerMailbox != 50 || ls.Folders != 3 {
		t.Errorf("large:200:2000:50 = %+v %v %v", ls, ok, err)
	}
	if _, ok, err := parseLargeSeed("demo"); ok || err != nil {
		t.Errorf("demo parsed as large: %v %v", ok, err)
	}
}

func TestRun_LargeSeedWithLimitsAndLatency(t *testing.T) {
	dir := t.TempDir()
	credsPath := filepath.Join(dir, "creds.json")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"--addr", "127.0.0.1:0", "--state-dir", dir, "--seed", "large:20:10:2", "--mailbox-limits",
			"--latency-fixed", "5ms", "--latency-per-item", "100us", "--credentials-out", credsPath}, pw)
		pw.Close()
	}()
	sc := bufio.NewScanner(pr)
	sawLarge := false
	for sc.Scan() {
		sawLarge = sawLarge || strings.Contains(sc.Text(), "20 mailboxes x 10 messages")
		if strings.Contains(sc.Text(), "credentials:") {
			break
		}
	}
	go io.Copy(io.Discard, pr)
	if !sawLarge {
		t.Error("banner does not describe the large tenant")
	}
	b, err := os.ReadFile(credsPath)
	if err != nil || !strings.Contains(string(b), `"tenantId"`) {
		t.Errorf("credentials file: %v %s", err, b)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("run: %v", err)
	}
}
