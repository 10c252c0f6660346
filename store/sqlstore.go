package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/outlookflow/outlookflow/domain"
)

// sqlStore is the Store over database/sql that both drivers share. The SQL
// is written once, in the subset SQLite and PostgreSQL agree on ($n
// parameters, INSERT … ON CONFLICT … DO UPDATE, RETURNING, WITH RECURSIVE);
// what differs (how a time or a list of IDs is passed, how the parameters of
// a multi-row insert are written, how connections are pooled) is in dialect.
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
	// stmts are the multi-row statements prepared on write, kept for the
	// store's life: parsing a statement of thousands of parameters costs
	// SQLite more than running it.
	stmts stmtCache
}

// stmtCache holds prepared statements by shape. A page uses a handful of
// shapes per table (chunks of 2^k rows), so it stays small.
type stmtCache struct {
	mu     sync.Mutex
	m      map[stmtKey]*sql.Stmt
	closed bool
}

type stmtKey struct {
	head, tail string
	width, n   int
}

type dialect struct {
	name string
	// timeArg turns an instant into a query argument; the zero time is NULL.
	timeArg func(time.Time) any
	// idList is a table expression over the IDs passed as parameter $n, and
	// the expression naming one ID in it; idListArg encodes the IDs for it.
	idList    func(n int) (from, id string)
	idListArg func(ids []string) (any, error)
	// appendParam appends the n-th parameter of a statement that numbers
	// its parameters in order; multi-row statements with thousands of
	// parameters use it.
	appendParam func(b []byte, n int) []byte
}

func (s *sqlStore) Close() error {
	err := errors.Join(s.stmts.close(), s.write.Close())
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
		INSERT INTO sync_cursors (tenant, mailbox, kind, scope, token, complete, from_scratch, resyncs, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, 0, $8)
		ON CONFLICT (tenant, mailbox, kind, scope) DO UPDATE SET
			token = excluded.token, complete = excluded.complete, from_scratch = excluded.from_scratch, updated_at = excluded.updated_at`,
		key.Tenant, key.Mailbox, string(key.Kind), key.Scope, next.Token, next.Complete, next.FromScratch && !next.Complete, s.t(s.now()))
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
	// prevCol, if set, is the column whose stored value a change of the
	// trigger outbox carries as it was before the change (flag_status for
	// messages). It is read only for a page that writes the outbox.
	prevCol string
}

// onConflict ends the table's upsert: a row already stored takes the new
// values.
func (tb table) onConflict() string {
	set := make([]string, 0, len(tb.cols)+2)
	for _, c := range append(append([]string{}, tb.cols...), "fingerprint", "changed_at") {
		set = append(set, c+" = excluded."+c)
	}
	return fmt.Sprintf("ON CONFLICT (%s) DO UPDATE SET %s",
		strings.Join(append(append([]string{}, tb.scopeCols...), tb.idCol), ", "), strings.Join(set, ", "))
}

// upsert is the table's multi-row upsert: the scope and changed_at shared by
// the rows, then each row's ID, fingerprint and columns.
func (tb table) upsert() insertSpec {
	return newInsertSpec(tb.name, append(append([]string{}, tb.scopeCols...), "changed_at"),
		append([]string{tb.idCol, "fingerprint"}, tb.cols...), tb.onConflict())
}

// scopeWhere is "tenant = $1 AND mailbox = $2" for the table's scope.
func (tb table) scopeWhere() string {
	parts := make([]string, len(tb.scopeCols))
	for i, c := range tb.scopeCols {
		parts[i] = fmt.Sprintf("%s = $%d", c, i+1)
	}
	return strings.Join(parts, " AND ")
}

// row is one item of a page, ready to write. Its values are made only if
// it is written: most of a replayed page is not.
type row struct {
	id          string
	fingerprint string
	values      func() ([]any, error)
}

// kind is all that one kind of item declares: its table, and how an item
// becomes a row. applyPage and upsertRows do the rest.
type kind[T any] struct {
	table
	id func(T) string
	// pageFields points at the item's own copies of its page's fields, in
	// the order of page.fields (Mailbox, then FolderID); nil for a kind
	// that has none.
	pageFields func(*T) []*string
	// norm, if set, turns an item into what a read returns, so the
	// fingerprint of what sync wrote matches that of what a reader got.
	norm func(T) T
	// values are the item's columns, in table.cols order.
	values func(s *sqlStore, item T) ([]any, error)
}

// field is a page field that items may repeat, named as in the page type.
type field struct{ name, value string }

// rows checks each item's copies of the page's fields (empty or equal),
// fills them from the page, normalises the item and fingerprints it. It
// returns the items as stored with their rows.
func (k kind[T]) rows(s *sqlStore, what string, fields []field, items []T) ([]T, []row, error) {
	out := slices.Clone(items)
	rows := make([]row, len(items))
	for i := range out {
		if k.pageFields != nil {
			for j, own := range k.pageFields(&out[i]) {
				if err := sameOrEmpty(what, fields[j].name, *own, fields[j].value, i); err != nil {
					return nil, nil, err
				}
				*own = fields[j].value
			}
		}
		if k.norm != nil {
			out[i] = k.norm(out[i])
		}
		fp, err := fingerprint(out[i])
		if err != nil {
			return nil, nil, err
		}
		rows[i] = row{id: k.id(out[i]), fingerprint: fp, values: func() ([]any, error) { return k.values(s, out[i]) }}
	}
	return out, rows, nil
}

// page is a delta page of one kind, as every kind's page type becomes, and
// the steps a kind adds to upserting the items and deleting the removed IDs.
type page[T any] struct {
	what    string
	tenant  string
	mailbox string // "" for a tenant-wide kind
	// fields are the page's key fields beyond the tenant, which must not be
	// empty; they match kind.pageFields.
	fields  []field
	upserts []T
	removed []string
	next    Next
	cursor  domain.CursorKey

	// outbox asks for the page's changes to be written to the trigger
	// outbox with the rows (MessagesPage.Outbox); outboxInitial is copied
	// to each of its rows.
	outbox, outboxInitial bool
	// snapshots are what the outbox rows of deleted items carry, by ID
	// (see PendingChange.DeletedEvent).
	snapshots map[string][]byte

	// Optional steps, inside the page's transaction: beforeWrites runs
	// first; afterUpserts gets the items written (new or changed, each ID
	// once) and may add to the counts; remove replaces deleting the removed
	// IDs' rows, and returns, if withPrev, the stored prevCol value of each
	// change it lists (as deleteRows does).
	beforeWrites func(tx *sql.Tx) error
	afterUpserts func(tx *sql.Tx, written []T, counts *Counts) error
	remove       func(tx *sql.Tx, withPrev bool) (Counts, []string, error)
}

// applyPage saves a page and its cursor in one transaction, after refusing
// an invalid page before any write.
func applyPage[T any](ctx context.Context, s *sqlStore, k kind[T], p page[T]) (Counts, error) {
	ids := make([]string, len(p.upserts))
	for i, item := range p.upserts {
		ids[i] = k.id(item)
	}
	if err := checkPage(p.what, p.next, append([]field{{"Tenant", p.tenant}}, p.fields...), ids, p.removed); err != nil {
		return Counts{}, err
	}
	items, rows, err := k.rows(s, p.what, p.fields, p.upserts)
	if err != nil {
		return Counts{}, err
	}
	scope := []any{p.tenant, p.mailbox}[:len(k.scopeCols)]
	remove := p.remove
	if remove == nil {
		remove = func(tx *sql.Tx, withPrev bool) (Counts, []string, error) {
			return s.deleteRows(ctx, tx, k.table, scope, p.mailbox, p.removed, withPrev, "")
		}
	}
	if err := s.prepareInserts(ctx, k.upsert(), len(rows)); err != nil {
		return Counts{}, fmt.Errorf("store: %s: %w", p.what, err)
	}
	// withPrev reads, beside the fingerprints, what the outbox reports as
	// the value before each change; a page without the outbox reads
	// nothing more than it always did.
	withPrev := p.outbox && k.prevCol != ""
	if p.outbox {
		if err := s.prepareInserts(ctx, outboxInsert, len(rows)+len(p.removed)); err != nil {
			return Counts{}, fmt.Errorf("store: %s: %w", p.what, err)
		}
	}
	var counts Counts
	err = s.inTx(ctx, p.what, func(tx *sql.Tx) error {
		counts = Counts{}
		// prevs[i] is the outbox's PrevFlag of counts.Changes[i].
		var prevs []string
		if err := s.ensureTenant(ctx, tx, p.tenant); err != nil {
			return err
		}
		if p.beforeWrites != nil {
			if err := p.beforeWrites(tx); err != nil {
				return err
			}
		}
		c, written, prev, err := s.upsertRows(ctx, tx, k.table, scope, p.mailbox, rows, withPrev)
		if err != nil {
			return err
		}
		counts.Add(c)
		if p.outbox {
			prevs = alignPrevs(prevs, prev, len(counts.Changes))
		}
		if p.afterUpserts != nil {
			ws := make([]T, len(written))
			for i, j := range written {
				ws[i] = items[j]
			}
			if err := p.afterUpserts(tx, ws, &counts); err != nil {
				return err
			}
			if p.outbox {
				prevs = alignPrevs(prevs, nil, len(counts.Changes))
			}
		}
		if c, prev, err = remove(tx, withPrev); err != nil {
			return err
		}
		counts.Add(c)
		if p.outbox {
			prevs = alignPrevs(prevs, prev, len(counts.Changes))
			if err := s.writeOutbox(ctx, tx, p.tenant, p.outboxInitial, counts.Changes, prevs, p.snapshots); err != nil {
				return err
			}
		}
		return s.saveCursor(ctx, tx, p.cursor, p.next)
	})
	return counts, err
}

// alignPrevs appends a step's prevCol values to prevs and pads them with ""
// to n, the changes listed so far, so prevs stays parallel to the changes
// whatever a step reports.
func alignPrevs(prevs, step []string, n int) []string {
	prevs = append(prevs, step...)
	for len(prevs) < n {
		prevs = append(prevs, "")
	}
	return prevs
}

// storedFingerprints returns the fingerprints of the rows among ids that
// exist, read inside tx so the decision to write sees the same state, and,
// if withPrev, their tb.prevCol values in the same query. The
// IDs travel as one array parameter joined against the primary key: an IN
// list of hundreds of parameters gets a generic plan in PostgreSQL that
// compares every row of the mailbox with every ID, which grows with the
// mailbox; the join stays one index lookup per ID.
func (s *sqlStore) storedFingerprints(ctx context.Context, tx *sql.Tx, tb table, scope []any, ids []string, withPrev bool) (fps, prevs map[string]string, err error) {
	from, idExpr := s.dialect.idList(len(scope) + 1)
	conds := make([]string, 0, len(tb.scopeCols)+1)
	for i, c := range tb.scopeCols {
		conds = append(conds, fmt.Sprintf("t.%s = $%d", c, i+1))
	}
	conds = append(conds, fmt.Sprintf("t.%s = %s", tb.idCol, idExpr))
	// CROSS JOIN makes SQLite loop over the IDs and probe the table (it
	// would otherwise scan the table and probe the unindexed ID list);
	// PostgreSQL plans it as the inner join it is.
	cols := "t.fingerprint"
	withPrev = withPrev && tb.prevCol != ""
	if withPrev {
		cols += ", t." + tb.prevCol
	}
	q := fmt.Sprintf("SELECT t.%s, %s FROM %s CROSS JOIN %s t WHERE %s", tb.idCol, cols, from, tb.name, strings.Join(conds, " AND "))
	arg, err := s.dialect.idListArg(ids)
	if err != nil {
		return nil, nil, err
	}
	rows, err := tx.QueryContext(ctx, q, append(append([]any{}, scope...), arg)...)
	if err != nil {
		return nil, nil, fmt.Errorf("reading stored %s: %w", tb.name, err)
	}
	defer rows.Close()
	fps = make(map[string]string, len(ids))
	if withPrev {
		prevs = make(map[string]string, len(ids))
	}
	for rows.Next() {
		var id, fp, prev string
		var err error
		if withPrev {
			err = rows.Scan(&id, &fp, &prev)
		} else {
			err = rows.Scan(&id, &fp)
		}
		if err != nil {
			return nil, nil, fmt.Errorf("reading stored %s: %w", tb.name, err)
		}
		fps[id] = fp
		if withPrev {
			prevs[id] = prev
		}
	}
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("reading stored %s: %w", tb.name, err)
	}
	return fps, prevs, nil
}

// upsertRows writes the rows that are new or differ from what is stored, in
// multi-row statements, and counts what it did in page order. An ID that
// occurs more than once in rows is its last occurrence, the earlier ones
// dropped: the last one wins, and the ID is counted (and listed) once, where
// it last occurs. written are the indexes in rows of the rows written. If
// withPrev (and tb has a prevCol), prev[i] is the stored prevCol value of
// the row of counts.Changes[i] before the write, "" for a new row.
func (s *sqlStore) upsertRows(ctx context.Context, tx *sql.Tx, tb table, scope []any, mailbox string, rows []row, withPrev bool) (counts Counts, written []int, prev []string, err error) {
	if len(rows) == 0 {
		return counts, nil, nil, nil
	}
	last := make(map[string]int, len(rows))
	for i, r := range rows {
		last[r.id] = i
	}
	ids := make([]string, 0, len(last))
	for i, r := range rows {
		if last[r.id] == i {
			ids = append(ids, r.id)
		}
	}
	stored, storedPrev, err := s.storedFingerprints(ctx, tx, tb, scope, ids, withPrev)
	if err != nil {
		return counts, nil, nil, err
	}
	var values [][]any
	for i, r := range rows {
		if last[r.id] != i {
			continue
		}
		fp, existed := stored[r.id]
		if existed && fp == r.fingerprint {
			counts.Unchanged++
			continue
		}
		change := domain.Change{Kind: tb.kind, Mailbox: mailbox, ItemID: r.id, Type: domain.ChangeUpdated}
		if existed {
			counts.Updated++
		} else {
			counts.Inserted++
			change.Type = domain.ChangeCreated
		}
		counts.Changes = append(counts.Changes, change)
		if storedPrev != nil {
			prev = append(prev, storedPrev[r.id]) // "" when new
		}
		written = append(written, i)
		v, err := r.values()
		if err != nil {
			return counts, nil, nil, fmt.Errorf("%s %q: %w", tb.kind, r.id, err)
		}
		values = append(values, append([]any{r.id, r.fingerprint}, v...))
	}
	shared := append(append([]any{}, scope...), s.t(s.now()))
	if err := s.insertRows(ctx, tx, tb.upsert(), shared, values); err != nil {
		return counts, nil, nil, fmt.Errorf("writing %s: %w", tb.name, err)
	}
	return counts, written, prev, nil
}

// maxParams bounds one statement's parameters: SQLite's limit
// (SQLITE_MAX_VARIABLE_NUMBER, 32766 in modernc.org/sqlite) is below
// PostgreSQL's 65535.
const maxParams = 32766

// insertChunk is the most rows one INSERT takes. Statements are prepared
// once per store (see stmtCache), so a large chunk costs its parse once; it
// saves a statement's fixed costs per chunk (SQLite's statement journal
// copies each page a statement first touches; PostgreSQL's round trips).
const insertChunk = 512

// insertSpec is a multi-row INSERT into a table: each row is the shared
// values (of sharedCols) followed by its own (of cols); tail (ON CONFLICT …)
// ends every statement.
type insertSpec struct {
	table, head, tail string
	width             int
}

func newInsertSpec(table string, sharedCols, cols []string, tail string) insertSpec {
	return insertSpec{
		table: table,
		head:  fmt.Sprintf("INSERT INTO %s (%s) VALUES ", table, strings.Join(append(append([]string{}, sharedCols...), cols...), ", ")),
		tail:  tail, width: len(sharedCols) + len(cols),
	}
}

// chunk is the most rows one statement takes: insertChunk, or less where
// that many rows would pass maxParams.
func (sp insertSpec) chunk() int {
	most := insertChunk
	for most > 1 && most*sp.width > maxParams {
		most /= 2
	}
	return most
}

func (sp insertSpec) key(n int) stmtKey {
	return stmtKey{head: sp.head, tail: sp.tail, width: sp.width, n: n}
}

// prepareInserts prepares, outside any transaction, the statements that
// inserting up to rows rows may need, unless the store holds them already.
// It must run before the transaction: SQLite's one write connection is the
// transaction's until it ends, so a statement prepared for the store's life
// cannot be prepared inside one. No lock is held while preparing, for the
// same reason: a transaction looking up a statement must never wait for a
// prepare that waits for its connection.
func (s *sqlStore) prepareInserts(ctx context.Context, sp insertSpec, rows int) error {
	for n := 1; n <= sp.chunk() && n <= rows; n *= 2 {
		k := sp.key(n)
		if s.stmts.get(k) != nil {
			continue
		}
		stmt, err := s.write.PrepareContext(ctx, s.valuesSQL(k.head, k.width, k.n, k.tail))
		if err != nil {
			return fmt.Errorf("preparing the %s insert of %d rows: %w", sp.table, n, err)
		}
		if err := s.stmts.put(k, stmt); err != nil {
			return err
		}
	}
	return nil
}

func (c *stmtCache) get(k stmtKey) *sql.Stmt {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[k]
}

// put keeps stmt as shape k, or closes it if another caller prepared the
// shape meanwhile or the store is closed.
func (c *stmtCache) put(k stmtKey, stmt *sql.Stmt) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.m[k]; ok || c.closed {
		return stmt.Close()
	}
	if c.m == nil {
		c.m = make(map[stmtKey]*sql.Stmt)
	}
	c.m[k] = stmt
	return nil
}

// close closes every statement held; put closes any prepared later.
func (c *stmtCache) close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var err error
	for _, stmt := range c.m {
		err = errors.Join(err, stmt.Close())
	}
	c.m, c.closed = nil, true
	return err
}

// insertRows inserts rows with multi-row INSERT … VALUES, in chunks of 2^k
// rows, at most sp.chunk(): a table needs a few statement shapes rather than
// one per page size. A shape prepareInserts prepared runs as such (a
// transaction reuses what its connection has prepared); any other is sent
// as text.
func (s *sqlStore) insertRows(ctx context.Context, tx *sql.Tx, sp insertSpec, shared []any, rows [][]any) error {
	most := sp.chunk()
	args := make([]any, 0, min(most, len(rows))*sp.width)
	for done := 0; done < len(rows); {
		n := most
		for n > len(rows)-done {
			n /= 2
		}
		args = args[:0]
		for _, r := range rows[done : done+n] {
			args = append(append(args, shared...), r...)
		}
		var err error
		if stmt := s.stmts.get(sp.key(n)); stmt != nil {
			_, err = tx.StmtContext(ctx, stmt).ExecContext(ctx, args...)
		} else {
			_, err = tx.ExecContext(ctx, s.valuesSQL(sp.head, sp.width, n, sp.tail), args...)
		}
		if err != nil {
			return fmt.Errorf("rows %d to %d of %d: %w", done+1, done+n, len(rows), err)
		}
		done += n
	}
	return nil
}

// valuesSQL is head, then n tuples of width parameters numbered in order,
// then tail.
func (s *sqlStore) valuesSQL(head string, width, n int, tail string) string {
	b := make([]byte, 0, len(head)+len(tail)+n*width*8)
	b = append(b, head...)
	for i := range n {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = append(b, '(')
		for j := range width {
			if j > 0 {
				b = append(b, ", "...)
			}
			b = s.dialect.appendParam(b, i*width+j+1)
		}
		b = append(b, ')')
	}
	if tail != "" {
		b = append(b, ' ')
		b = append(b, tail...)
	}
	return string(b)
}

// deleteRows deletes the rows with the given IDs in scope in one statement,
// narrowed by an optional extra condition (its parameters numbered after
// scope and the ID list), and lists what it deleted in the order of ids.
// If withPrev (and tb has a prevCol), prev[i] is the deleted row's prevCol
// value for counts.Changes[i].
func (s *sqlStore) deleteRows(ctx context.Context, tx *sql.Tx, tb table, scope []any, mailbox string, ids []string, withPrev bool, extra string, extraArgs ...any) (counts Counts, prev []string, err error) {
	if len(ids) == 0 {
		return counts, nil, nil
	}
	withPrev = withPrev && tb.prevCol != ""
	from, idExpr := s.dialect.idList(len(scope) + 1)
	q := fmt.Sprintf("DELETE FROM %s WHERE %s AND %s IN (SELECT %s FROM %s)", tb.name, tb.scopeWhere(), tb.idCol, idExpr, from)
	if extra != "" {
		q += " AND " + extra
	}
	q += " RETURNING " + tb.idCol
	if withPrev {
		q += ", " + tb.prevCol
	}
	arg, err := s.dialect.idListArg(ids)
	if err != nil {
		return counts, nil, err
	}
	rows, err := tx.QueryContext(ctx, q, append(append(append([]any{}, scope...), arg), extraArgs...)...)
	if err != nil {
		return counts, nil, fmt.Errorf("removing %s: %w", tb.name, err)
	}
	// gone maps each deleted ID to its prevCol value ("" without withPrev).
	gone := make(map[string]string, len(ids))
	err = func() error {
		defer rows.Close()
		for rows.Next() {
			var id, p string
			var err error
			if withPrev {
				err = rows.Scan(&id, &p)
			} else {
				err = rows.Scan(&id)
			}
			if err != nil {
				return err
			}
			gone[id] = p
		}
		return rows.Err()
	}()
	if err != nil {
		return counts, nil, fmt.Errorf("removing %s: %w", tb.name, err)
	}
	for _, id := range ids {
		if p, ok := gone[id]; ok {
			delete(gone, id) // an ID removed twice is one deletion
			counts.Deleted++
			counts.Changes = append(counts.Changes, domain.Change{Kind: tb.kind, Mailbox: mailbox, ItemID: id, Type: domain.ChangeDeleted})
			if withPrev {
				prev = append(prev, p)
			}
		}
	}
	return counts, prev, nil
}

// checkPage refuses, before any write, a page that could not be saved
// correctly; the errors name the field to fix.
func checkPage(what string, next Next, keys []field, upsertIDs []string, removed []string) error {
	for _, k := range keys {
		if k.value == "" {
			return fmt.Errorf("store: %s: %w: %s is empty", what, ErrInvalidPage, k.name)
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
