package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestRunRejectsBadConfigNamingTheKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(path, []byte("temporal:\n  taskQueue: \"\"\ncloud:\n  name: mars\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	err := run(context.Background(), []string{"--config", path})
	if err == nil {
		t.Fatal("a config with an unknown cloud must not start a worker")
	}
	if !strings.Contains(err.Error(), "cloud.name") {
		t.Fatalf("error %q does not name cloud.name", err)
	}
}

func TestRunRejectsUnknownFlags(t *testing.T) {
	if err := run(context.Background(), []string{"--bogus"}); err == nil || !strings.Contains(err.Error(), "bogus") {
		t.Fatalf("unknown flag: %v", err)
	}
}

func TestRunReportsUnreachableTemporal(t *testing.T) {
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "key")
	if err := os.WriteFile(keyFile, []byte("MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="), 0o600); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "config.yaml")
	cfg := "temporal:\n  address: 127.0.0.1:1\nencryption:\n  activeKeyID: k\n  keys:\n    - id: k\n      secret: {file: " + keyFile + "}\n"
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err := run(ctx, []string{"--config", path})
	if err == nil || !strings.Contains(err.Error(), "127.0.0.1:1") {
		t.Fatalf("unreachable Temporal: %v, want an error naming the address", err)
	}
}
