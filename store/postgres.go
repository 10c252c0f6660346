package store

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

// PostgreSQL goes through pgx's database/sql adapter rather than pgxpool:
// goose needs a *sql.DB, and sharing database/sql with SQLite keeps one SQL
// implementation for both drivers. pgx still does the wire protocol and
// caches prepared statements per connection.

// postgresMaxConns bounds the pool; sync writes a page per transaction, so a
// worker needs few connections, and PostgreSQL's default limit is 100.
const postgresMaxConns = 16

// MigrationLockID is the PostgreSQL advisory lock goose holds while migrating, so two
// workers starting together on an empty database migrate one after the
// other. It differs from goose's default so outlookflow's migrations never
// wait on another goose user's lock in a shared database.
const MigrationLockID int64 = 0x6f75746c6f6f6b // "outlook"

func openPostgres(ctx context.Context, dsn string) (Store, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		// pgx's parse errors can quote the DSN, password included; say
		// what is wrong without repeating it.
		return nil, fmt.Errorf("store: store.postgres.dsn is not a valid PostgreSQL connection string (expected postgres://user:pass@host:5432/db or key=value pairs)")
	}
	db := stdlib.OpenDB(*cfg)
	db.SetMaxOpenConns(postgresMaxConns)
	db.SetMaxIdleConns(4)
	db.SetConnMaxIdleTime(5 * time.Minute)
	if err := db.PingContext(ctx); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("store: connecting to PostgreSQL at %s:%d database %q as %q: %w", cfg.Host, cfg.Port, cfg.Database, cfg.User, err)
	}
	// goose takes no lock unless asked: the session locker holds
	// pg_advisory_lock on one connection for the whole run. Polling every
	// second for up to 5 minutes covers a slow first migration elsewhere.
	locker, err := lock.NewPostgresSessionLocker(lock.WithLockID(MigrationLockID), lock.WithLockTimeout(1, 300))
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("store: %w", err)
	}
	if err := migrate(ctx, db, goose.DialectPostgres, "postgres", goose.WithSessionLocker(locker)); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("%w (PostgreSQL database %q on %s)", err, cfg.Database, cfg.Host)
	}
	return &sqlStore{write: db, read: db, now: time.Now, dialect: dialect{
		name:    DriverPostgres,
		timeArg: func(t time.Time) any { return t.UTC() },
		idList: func(n int) (string, string) {
			return fmt.Sprintf("unnest($%d::text[]) AS k(id)", n), "k.id"
		},
		idListArg: func(ids []string) (any, error) { return ids, nil },
		appendParam: func(b []byte, n int) []byte {
			return strconv.AppendInt(append(b, '$'), int64(n), 10)
		},
	}}, nil
}
