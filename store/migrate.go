package store

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"

	"github.com/pressly/goose/v3"
)

// migrations holds one folder of goose SQL files per dialect: the types
// differ (TIMESTAMPTZ/JSONB/BOOLEAN against SQLite's STRICT TEXT/INTEGER),
// the tables and keys do not.
//
//go:embed migrations
var migrations embed.FS

// migrate applies the dialect's pending migrations. goose records applied
// versions in goose_db_version, so a second run applies nothing.
func migrate(ctx context.Context, db *sql.DB, dialect goose.Dialect, folder string, opts ...goose.ProviderOption) error {
	fsys, err := fs.Sub(migrations, "migrations/"+folder)
	if err != nil {
		return err
	}
	// No global registry: only the embedded SQL files are migrations, never
	// Go migrations some other package might have registered with goose.
	opts = append(opts, goose.WithDisableGlobalRegistry(true))
	p, err := goose.NewProvider(dialect, db, fsys, opts...)
	if err != nil {
		return fmt.Errorf("store: loading %s migrations: %w", folder, err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("store: applying %s migrations: %w", folder, err)
	}
	return nil
}
