package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/pressly/goose/v3"
	_ "modernc.org/sqlite" // registers the pure-Go "sqlite" driver: no cgo, so the worker image stays simple
)

// sqlitePragmas apply to every connection:
//   - WAL lets readers run while the one writer commits;
//   - busy_timeout makes a second process (the starter CLI beside the
//     worker) wait for the write lock instead of failing at once;
//   - foreign_keys is off by default in SQLite, and the schema relies on it
//     (a deleted folder takes its messages, an event its attendees);
//   - synchronous=NORMAL is safe with WAL: a power cut may lose the last
//     commits, but whole (rows and cursor together), so a cursor still never
//     runs ahead of its rows; the next round refetches from the older
//     cursor.
const sqlitePragmas = "_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)"

// sqliteReaders bounds the read pool; WAL readers do not block each other
// or the writer.
const sqliteReaders = 4

func openSQLite(ctx context.Context, path string) (Store, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("store: sqlite path %q: %w", path, err)
	}
	if err := createPrivateFile(abs); err != nil {
		return nil, err
	}
	base := "file:" + (&url.URL{Path: abs}).EscapedPath() + "?" + sqlitePragmas
	// The writer is one connection taking the write lock when a
	// transaction begins (BEGIN IMMEDIATE): writers queue in the pool rather
	// than deadlocking on a read lock that must be upgraded.
	write, err := sql.Open("sqlite", base+"&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("store: opening sqlite %s: %w", abs, err)
	}
	write.SetMaxOpenConns(1)
	write.SetConnMaxIdleTime(0)
	read, err := sql.Open("sqlite", base+"&_pragma=query_only(1)")
	if err != nil {
		_ = write.Close()
		return nil, fmt.Errorf("store: opening sqlite %s: %w", abs, err)
	}
	read.SetMaxOpenConns(sqliteReaders)
	s := &sqlStore{write: write, read: read, now: time.Now, dialect: dialect{
		name:    DriverSQLite,
		timeArg: func(t time.Time) any { return t.UTC().Format(sqliteTimeLayout) },
		idList: func(n int) (string, string) {
			return fmt.Sprintf("json_each($%d) AS k", n), "k.value"
		},
		idListArg: func(ids []string) (any, error) { return jsonText(ids) },
		// A plain ?, numbered by its position: SQLite takes $NNN for a
		// named parameter and finds each name by a linear search, when
		// parsing and when binding, so a statement of thousands of $NNN
		// takes seconds.
		appendParam: func(b []byte, _ int) []byte { return append(b, '?') },
	}}
	if err := migrateSQLite(ctx, base, abs); err != nil {
		_ = s.Close()
		return nil, err
	}
	if err := s.write.PingContext(ctx); err != nil {
		_ = s.Close()
		return nil, fmt.Errorf("store: opening sqlite %s: %w", abs, err)
	}
	return s, nil
}

// createPrivateFile creates the database file with mode 0600 (and its folder
// with 0700) before SQLite opens it: the file holds a tenant's directory and
// mail metadata, and SQLite would otherwise create it with the umask's
// default, usually world-readable. An existing file readable by others is
// narrowed to 0600 too. SQLite gives its -wal and -shm files the database
// file's mode.
func createPrivateFile(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("store: creating the folder for sqlite file %s: %w", path, err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("store: creating sqlite file %s: %w (check the folder exists and is writable, or set store.sqlite.path elsewhere)", path, err)
	}
	info, err := f.Stat()
	if err == nil && info.Mode().Perm()&0o077 != 0 {
		err = f.Chmod(0o600)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("store: making sqlite file %s private (0600): %w", path, err)
	}
	return nil
}

// migrateSQLite applies migrations on a connection of its own. goose cannot
// lock an SQLite database for a whole run, so two processes opening a new
// file at once may both try the same migration: the loser's transaction
// fails ("table already exists") and rolls back, nothing is half-applied,
// and a retry finds the migration recorded and does nothing.
func migrateSQLite(ctx context.Context, base, path string) error {
	db, err := sql.Open("sqlite", base+"&_txlock=immediate")
	if err != nil {
		return fmt.Errorf("store: opening sqlite %s for migrations: %w", path, err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	const attempts = 5
	for attempt := 1; ; attempt++ {
		err = migrate(ctx, db, goose.DialectSQLite3, "sqlite")
		if err == nil || attempt == attempts || ctx.Err() != nil || errors.Is(err, fs.ErrNotExist) {
			if err != nil {
				return fmt.Errorf("%w (sqlite file %s)", err, path)
			}
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Duration(attempt) * 100 * time.Millisecond):
		}
	}
}
