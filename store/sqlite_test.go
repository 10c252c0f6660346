package store_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/outlookflow/outlookflow/domain"
	"github.com/outlookflow/outlookflow/store"
	"github.com/outlookflow/outlookflow/store/storetest"
)

func sqliteConfig(t testing.TB) store.Config {
	return store.Config{Driver: store.DriverSQLite, SQLitePath: filepath.Join(t.TempDir(), "data", "outlookflow.db")}
}

func TestSQLiteConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Config { return sqliteConfig(t) })
}

// The database holds a tenant's directory and mail metadata: nobody but the
// worker's user may read it, whatever the umask, and SQLite's WAL and
// shared-memory files follow the database file's mode.
func TestSQLiteFilesAreCreatedPrivate(t *testing.T) {
	cfg := sqliteConfig(t)
	s, err := store.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// A write makes SQLite create the -wal and -shm files.
	if _, err := s.ApplyUsers(context.Background(), store.UsersPage{Tenant: "t", Upserts: []domain.User{{ID: "u"}}, Next: store.Next{Token: "d"}}); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{cfg.SQLitePath, cfg.SQLitePath + "-wal", cfg.SQLitePath + "-shm"} {
		info, err := os.Stat(path)
		if err != nil {
			t.Errorf("%s: %v", filepath.Base(path), err)
			continue
		}
		if mode := info.Mode().Perm(); mode != 0o600 {
			t.Errorf("%s has mode %#o, want 0600", filepath.Base(path), mode)
		}
	}
	dir, err := os.Stat(filepath.Dir(cfg.SQLitePath))
	if err != nil {
		t.Fatal(err)
	}
	if mode := dir.Mode().Perm(); mode != 0o700 {
		t.Errorf("the folder Open created has mode %#o, want 0700", mode)
	}
}

func TestSQLiteNarrowsAnExistingWorldReadableFile(t *testing.T) {
	cfg := sqliteConfig(t)
	if err := os.MkdirAll(filepath.Dir(cfg.SQLitePath), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfg.SQLitePath, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(cfg.SQLitePath, 0o644); err != nil { // past the umask
		t.Fatal(err)
	}
	s, err := store.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	info, err := os.Stat(cfg.SQLitePath)
	if err != nil {
		t.Fatal(err)
	}
	if mode := info.Mode().Perm(); mode != 0o600 {
		t.Errorf("an existing 0644 database file was left at %#o, want 0600", mode)
	}
}

func TestOpenRefusesAnIncompleteConfig(t *testing.T) {
	for name, cfg := range map[string]store.Config{
		"sqlite without a path":    {Driver: store.DriverSQLite},
		"postgres without a DSN":   {Driver: store.DriverPostgres},
		"an unknown driver":        {Driver: "mysql"},
		"a malformed postgres DSN": {Driver: store.DriverPostgres, PostgresDSN: "postgres://u:secret@host:notaport/db"},
	} {
		s, err := store.Open(context.Background(), cfg)
		if err == nil {
			s.Close()
			t.Errorf("%s: Open succeeded", name)
			continue
		}
		if name == "a malformed postgres DSN" && strings.Contains(err.Error(), "secret") {
			t.Errorf("%s: the error repeats the password: %v", name, err)
		}
	}
}
