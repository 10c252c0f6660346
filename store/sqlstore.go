package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/outlookflow/outlookflow/domain"
)

// sqlStore is the Store over database/sql that both drivers share. The SQL
// is written once, in the subset SQLite and PostgreSQL agree on ($n
// parameters, INSERT … ON CONFLICT … DO UPDATE, WITH RECURSIVE); what
// differs (how a time is passed, how connections are pooled) is in dialect.
type sqlStore struct {
	// write runs every transaction. For SQLite it is a single connection:
	// SQLite has one writer at a time, and queueing writers in the pool is
	// cheaper and clearer than retrying SQLITE_BUSY.
	write *sql.DB
	// read runs queries outside transactions; for SQLite a separate pool,
	// since WAL lets readers run beside the writer.
	read    *sql.DB
	dialect dialect
	now     func() time.Time
}

type dialect struct {
	name string
	// timeArg turns an instant into a query argument; the zero time is NULL.
	timeArg func(time.Time) any
	// idList is a table expression over the IDs passed as parameter $n, and
	// the expression naming one ID in it; idListArg encodes the IDs for it.
	idList    func(n int) (from, id string)
	idListArg func(ids []string) (any, error)
}

func (s *sqlStore) Close() error {
	err := s.write.Close()
	if s.read != s.write {
		err = errors.Join(err, s.read.Close())
	}
	return err
}

func (s *sqlStore) t(t time.Time) any {
	t = normTime(t)
	if t.IsZero() {
		return nil
	}
	return s.dialect.timeArg(t)
}

// inTx runs fn in one transaction and commits only if fn succeeded; a
// cancelled ctx rolls it back too.
func (s *sqlStore) inTx(ctx context.Context, what string, fn func(tx *sql.Tx) error) error {
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: %s: begin: %w", what, err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return fmt.Errorf("store: %s: %w (nothing was saved)", what, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: %s: commit: %w (nothing was saved)", what, err)
	}
	return nil
}

func (s *sqlStore) ensureTenant(ctx context.Context, tx *sql.Tx, tenant string) error {
	_, err := tx.ExecContext(ctx,
		`INSERT INTO tenants (tenant, created_at) VALUES ($1, $2) ON CONFLICT (tenant) DO NOTHING`,
		tenant, s.t(s.now()))
	if err != nil {
		return fmt.Errorf("registering tenant: %w", err)
	}
	return nil
}

func (s *sqlStore) saveCursor(ctx context.Context, tx *sql.Tx, key domain.CursorKey, next Next) error {
	_, err := tx.ExecContext(ctx, `
		INSERT INTO sync_cursors (tenant, mailbox, kind, scope, token, complete, resyncs, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, 0, $7)
		ON CONFLICT (tenant, mailbox, kind, scope) DO UPDATE SET
			token = excluded.token, complete = excluded.complete, updated_at = excluded.updated_at`,
		key.Tenant, key.Mailbox, string(key.Kind), key.Scope, next.Token, next.Complete, s.t(s.now()))
	if err != nil {
		return fmt.Errorf("saving cursor %s: %w", key, err)
	}
	return nil
}

// table describes how one kind of item is stored: its key is scope columns
// plus an ID column, its values the remaining columns in order.
type table struct {
	name      string
	scopeCols []string
	idCol     string
	cols      []string
	kind      domain.ItemKind
}

// row is one item of a page, ready to write.
type row struct {
	id          string
	fingerprint string
	values      []any
}

func (tb table) upsertSQL() string {
	all := append(append(append([]string{}, tb.scopeCols...), tb.idCol), tb.cols...)
	all = append(all, "fingerprint", "changed_at")
	params := make([]string, len(all))
	for i := range all {
		params[i] = fmt.Sprintf("$%d", i+1)
	}
	var set []string
	for _, c := range append(append([]string{}, tb.cols...), "fingerprint", "changed_at") {
		set = append(set, c+" = excluded."+c)
	}
	return fmt.Sprintf("INSERT INTO %s (%s) VALUES (%s) ON CONFLICT (%s) DO UPDATE SET %s",
		tb.name, strings.Join(all, ", "), strings.Join(params, ", "),
		strings.Join(append(append([]string{}, tb.scopeCols...), tb.idCol), ", "),
		strings.Join(set, ", "))
}

// scopeWhere is "tenant = $1 AND mailbox = $2" for the table's scope.
func (tb table) scopeWhere() string {
	parts := make([]string, len(tb.scopeCols))
	for i, c := range tb.scopeCols {
		parts[i] = fmt.Sprintf("%s = $%d", c, i+1)
	}
	return strings.Join(parts, " AND ")
}

// storedFingerprints returns the fingerprints of the rows among ids that
// exist, read inside tx so the decision to write sees the same state. The
// IDs travel as one array parameter joined against the primary key: an IN
// list of hundreds of parameters gets a generic plan in PostgreSQL that
// compares every row of the mailbox with every ID, which grows with the
// mailbox; the join stays one index lookup per ID.
func (s *sqlStore) storedFingerprints(ctx context.Context, tx *sql.Tx, tb table, scope []any, ids []string) (map[string]string, error) {
	from, idExpr := s.dialect.idList(len(scope) + 1)
	conds := make([]string, 0, len(tb.scopeCols)+1)
	for i, c := range tb.scopeCols {
		conds = append(conds, fmt.Sprintf("t.%s = $%d", c, i+1))
	}
	conds = append(conds, fmt.Sprintf("t.%s = %s", tb.idCol, idExpr))
	// CROSS JOIN makes SQLite loop over the IDs and probe the table (it
	// would otherwise scan the table and probe the unindexed ID list);
	// PostgreSQL plans it as the inner join it is.
	q := fmt.Sprintf("SELECT t.%s, t.fingerprint FROM %s CROSS JOIN %s t WHERE %s", tb.idCol, from, tb.name, strings.Join(conds, " AND "))
	arg, err := s.dialect.idListArg(ids)
	if err != nil {
		return nil, err
	}
	rows, err := tx.QueryContext(ctx, q, append(append([]any{}, scope...), arg)...)
	if err != nil {
		return nil, fmt.Errorf("reading stored %s: %w", tb.name, err)
	}
	defer rows.Close()
	out := make(map[string]string, len(ids))
	for rows.Next() {
		var id, fp string
		if err := rows.Scan(&id, &fp); err != nil {
			return nil, fmt.Errorf("reading stored %s: %w", tb.name, err)
		}
		out[id] = fp
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading stored %s: %w", tb.name, err)
	}
	return out, nil
}

// upsertRows writes the rows that are new or differ from what is stored and
// counts what it did. after runs once for every row written (e.g. to
// replace an event's attendees).
func (s *sqlStore) upsertRows(ctx context.Context, tx *sql.Tx, tb table, scope []any, mailbox string, rows []row, after func(row) error) (Counts, error) {
	var counts Counts
	if len(rows) == 0 {
		return counts, nil
	}
	ids := make([]string, len(rows))
	for i, r := range rows {
		ids[i] = r.id
	}
	stored, err := s.storedFingerprints(ctx, tx, tb, scope, ids)
	if err != nil {
		return counts, err
	}
	stmt, err := tx.PrepareContext(ctx, tb.upsertSQL())
	if err != nil {
		return counts, fmt.Errorf("preparing %s upsert: %w", tb.name, err)
	}
	defer stmt.Close()
	changedAt := s.t(s.now())
	changed := make(map[string]bool)
	for i, r := range rows {
		prev, existed := stored[r.id]
		if existed && prev == r.fingerprint {
			counts.Unchanged++
			continue
		}
		args := append(append(append([]any{}, scope...), r.id), r.values...)
		args = append(args, r.fingerprint, changedAt)
		if _, err := stmt.ExecContext(ctx, args...); err != nil {
			return counts, fmt.Errorf("writing %s %d of %d (id %q): %w", tb.kind, i+1, len(rows), r.id, err)
		}
		if after != nil {
			if err := after(r); err != nil {
				return counts, fmt.Errorf("writing %s %d of %d (id %q): %w", tb.kind, i+1, len(rows), r.id, err)
			}
		}
		stored[r.id] = r.fingerprint
		if changed[r.id] {
			continue // the same item twice in one page: one change
		}
		changed[r.id] = true
		change := domain.Change{Kind: tb.kind, Mailbox: mailbox, ItemID: r.id, Type: domain.ChangeUpdated}
		if existed {
			counts.Updated++
		} else {
			counts.Inserted++
			change.Type = domain.ChangeCreated
		}
		counts.Changes = append(counts.Changes, change)
	}
	return counts, nil
}

// deleteRows deletes the rows with the given IDs in scope, narrowed by an
// optional extra condition (its parameters numbered after scope and id).
func (s *sqlStore) deleteRows(ctx context.Context, tx *sql.Tx, tb table, scope []any, mailbox string, ids []string, extra string, extraArgs ...any) (Counts, error) {
	var counts Counts
	if len(ids) == 0 {
		return counts, nil
	}
	q := fmt.Sprintf("DELETE FROM %s WHERE %s AND %s = $%d", tb.name, tb.scopeWhere(), tb.idCol, len(scope)+1)
	if extra != "" {
		q += " AND " + extra
	}
	stmt, err := tx.PrepareContext(ctx, q)
	if err != nil {
		return counts, fmt.Errorf("preparing %s delete: %w", tb.name, err)
	}
	defer stmt.Close()
	for _, id := range ids {
		args := append(append(append([]any{}, scope...), id), extraArgs...)
		res, err := stmt.ExecContext(ctx, args...)
		if err != nil {
			return counts, fmt.Errorf("removing %s %q: %w", tb.kind, id, err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return counts, err
		}
		if n > 0 {
			counts.Deleted += int(n)
			counts.Changes = append(counts.Changes, domain.Change{Kind: tb.kind, Mailbox: mailbox, ItemID: id, Type: domain.ChangeDeleted})
		}
	}
	return counts, nil
}

// checkPage refuses, before any write, a page that could not be saved
// correctly; the errors name the field to fix.
func checkPage(what string, next Next, scope map[string]string, upsertIDs []string, removed []string) error {
	for name, v := range scope {
		if v == "" {
			return fmt.Errorf("store: %s: %w: %s is empty", what, ErrInvalidPage, name)
		}
	}
	if next.Token == "" {
		return fmt.Errorf("store: %s: %w: Next.Token is empty; pass the page's @odata.nextLink or @odata.deltaLink so the cursor advances with the rows", what, ErrInvalidPage)
	}
	for i, id := range upsertIDs {
		if id == "" {
			return fmt.Errorf("store: %s: %w: upsert %d of %d has no ID", what, ErrInvalidPage, i+1, len(upsertIDs))
		}
	}
	for i, id := range removed {
		if id == "" {
			return fmt.Errorf("store: %s: %w: removal %d of %d has no ID", what, ErrInvalidPage, i+1, len(removed))
		}
	}
	return nil
}

// sameOrEmpty checks an item's own copy of a page field.
func sameOrEmpty(what, field, item, page string, i int) error {
	if item != "" && item != page {
		return fmt.Errorf("store: %s: %w: upsert %d has %s %q but the page is for %q; a page holds one %s's items",
			what, ErrInvalidPage, i+1, field, item, page, field)
	}
	return nil
}
