package store_test

import (
	"context"
	"database/sql"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/outlookflow/outlookflow/internal/pgtest"
	"github.com/outlookflow/outlookflow/store"
	"github.com/outlookflow/outlookflow/store/storetest"
)

// One PostgreSQL server for the package, started by the first test that
// needs it, so `go test -run SQLite` works on a machine without PostgreSQL.
// Where the binaries are missing the PostgreSQL tests fail with the install
// command; they are never skipped.
var postgres struct {
	once sync.Once
	srv  *pgtest.Server
	err  error
}

func postgresServer(t testing.TB) *pgtest.Server {
	t.Helper()
	postgres.once.Do(func() {
		postgres.srv, postgres.err = pgtest.Start(context.Background(), nil)
	})
	if postgres.err != nil {
		t.Fatalf("these tests need a PostgreSQL server: %v", postgres.err)
	}
	return postgres.srv
}

func TestMain(m *testing.M) {
	code := m.Run()
	if postgres.srv != nil {
		if err := postgres.srv.Stop(); err != nil {
			os.Stderr.WriteString("stopping the test PostgreSQL server: " + err.Error() + "\n")
		}
	}
	os.Exit(code)
}

func postgresConfig(t testing.TB) store.Config {
	return store.Config{Driver: store.DriverPostgres, PostgresDSN: postgresServer(t).Database(t)}
}

func TestPostgresConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Config { return postgresConfig(t) })
}

// goose locks only when given a locker: check that Open really waits for the
// advisory lock, so two workers starting on an empty database migrate one
// after the other instead of racing.
func TestPostgresOpenWaitsForTheMigrationLock(t *testing.T) {
	cfg := postgresConfig(t)
	ctx := context.Background()
	holder, err := sql.Open("pgx", cfg.PostgresDSN)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close()
	conn, err := holder.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock($1)", store.MigrationLockID); err != nil {
		t.Fatal(err)
	}
	type result struct {
		s   store.Store
		err error
	}
	done := make(chan result, 1)
	go func() {
		s, err := store.Open(ctx, cfg)
		done <- result{s, err}
	}()
	select {
	case r := <-done:
		if r.s != nil {
			r.s.Close()
		}
		t.Fatalf("Open finished (err %v) while another session held the migration lock; it must wait", r.err)
	case <-time.After(1500 * time.Millisecond):
	}
	var tables int
	if err := conn.QueryRowContext(ctx, "SELECT count(*) FROM information_schema.tables WHERE table_name = 'messages'").Scan(&tables); err != nil {
		t.Fatal(err)
	}
	if tables != 0 {
		t.Fatal("migrations ran while another session held the migration lock")
	}
	if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_unlock($1)", store.MigrationLockID); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-done:
		if r.err != nil {
			t.Fatalf("Open after the lock was released: %v", r.err)
		}
		r.s.Close()
	case <-time.After(30 * time.Second):
		t.Fatal("Open did not finish within 30s of the migration lock being released")
	}
}

func TestPostgresUnreachableServerErrorNamesTheServer(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// Port 1 on loopback refuses connections.
	_, err := store.Open(ctx, store.Config{Driver: store.DriverPostgres, PostgresDSN: "postgres://outlookflow:secret@127.0.0.1:1/outlookflow?connect_timeout=2"})
	if err == nil {
		t.Fatal("Open of an unreachable server succeeded")
	}
	for _, want := range []string{"127.0.0.1:1", "outlookflow"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the error %q does not name %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "secret") {
		t.Errorf("the error repeats the password: %v", err)
	}
}
