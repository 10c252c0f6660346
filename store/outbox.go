package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/outlookflow/outlookflow/domain"
)

// PendingChange is one change a page applied with Outbox set left in the
// trigger outbox, waiting for the recipe engine to match it and acknowledge
// it (AckChanges). Being written in the page's transaction, it exists if and
// only if the change was saved: a crash between the commit and the trigger
// matching loses nothing, and a replayed page (all unchanged) adds nothing.
type PendingChange struct {
	// Seq is the outbox's sequence number, increasing per store in the
	// order changes were written. On PostgreSQL two pages committing at
	// once may become visible out of Seq order, so a reader acknowledges
	// the Seqs it handled rather than everything below one.
	Seq    int64
	Tenant string
	// Change is the change as Counts.Changes listed it (Kind message or
	// event, Mailbox, ItemID, Type).
	Change domain.Change
	// PrevFlag is a message's flag status as stored before this change: ""
	// for a new message and for events.
	PrevFlag domain.FlagStatus
	// Initial is the page's OutboxInitial.
	Initial bool
	// At is when the page was applied, by the store's clock.
	At time.Time
	// DeletedEvent is, for a deleted event, the event as the store held
	// it just before the deletion (Graph's delta gives only the ID), so
	// filters and templates still see its subject, organizer and times;
	// nil for every other change and for an event the store never held.
	DeletedEvent *domain.Event
}

// outboxInsert writes a page's changes to the trigger outbox: the page's
// tenant, OutboxInitial and time are shared by every row.
var outboxInsert = newInsertSpec("trigger_outbox",
	[]string{"tenant", "initial_round", "applied_at"},
	[]string{"mailbox", "kind", "item_id", "change_type", "prev_flag", "snapshot"}, "")

// writeOutbox adds a page's changes to the trigger outbox inside its
// transaction; prevs[i] is the PrevFlag of changes[i]; snapshots holds,
// by item ID, what a deleted item's row carries (PendingChange.DeletedEvent).
func (s *sqlStore) writeOutbox(ctx context.Context, tx *sql.Tx, tenant string, initial bool, changes []domain.Change, prevs []string, snapshots map[string][]byte) error {
	if len(changes) == 0 {
		return nil
	}
	rows := make([][]any, len(changes))
	for i, c := range changes {
		var snap []byte
		if c.Type == domain.ChangeDeleted {
			snap = snapshots[c.ItemID]
		}
		rows[i] = []any{c.Mailbox, string(c.Kind), c.ItemID, string(c.Type), prevs[i], snap}
	}
	if err := s.insertRows(ctx, tx, outboxInsert, []any{tenant, initial, s.t(s.now())}, rows); err != nil {
		return fmt.Errorf("writing the trigger outbox: %w", err)
	}
	return nil
}

func (s *sqlStore) PendingChanges(ctx context.Context, tenant, mailbox string, limit int) ([]PendingChange, error) {
	what := fmt.Sprintf("listing pending changes of tenant %q mailbox %q", tenant, mailbox)
	if err := requireTenant(what, tenant); err != nil {
		return nil, err
	}
	cond, args := where(tenant, [2]string{"mailbox", mailbox})
	q := `SELECT seq, mailbox, kind, item_id, change_type, prev_flag, initial_round, applied_at, snapshot FROM trigger_outbox WHERE ` + cond + ` ORDER BY seq`
	if limit > 0 {
		args = append(args, limit)
		q += fmt.Sprintf(" LIMIT $%d", len(args))
	}
	var out []PendingChange
	err := s.query(ctx, what, q, args, func(rows *sql.Rows) error {
		pc := PendingChange{Tenant: tenant}
		var kind, typ, prev string
		var snap []byte
		if err := rows.Scan(&pc.Seq, &pc.Change.Mailbox, &kind, &pc.Change.ItemID, &typ, &prev, &pc.Initial, timeScanner{&pc.At}, &snap); err != nil {
			return err
		}
		pc.Change.Kind, pc.Change.Type, pc.PrevFlag = domain.ItemKind(kind), domain.ChangeType(typ), domain.FlagStatus(prev)
		if len(snap) > 0 && pc.Change.Kind == domain.KindEvent {
			var ev domain.Event
			if err := json.Unmarshal(snap, &ev); err != nil {
				return fmt.Errorf("the snapshot of deleted event %q (outbox seq %d): %w", pc.Change.ItemID, pc.Seq, err)
			}
			pc.DeletedEvent = &ev
		}
		out = append(out, pc)
		return nil
	})
	return out, err
}

func (s *sqlStore) AckChanges(ctx context.Context, tenant string, seqs []int64) error {
	what := fmt.Sprintf("acknowledging %d changes of tenant %q", len(seqs), tenant)
	if tenant == "" {
		return fmt.Errorf("store: %s: %w: a tenant is required", what, ErrInvalidRecord)
	}
	if len(seqs) == 0 {
		return nil
	}
	// The numbers travel as the ID list the dialects already pass (text),
	// cast back to integers in the query.
	ids := make([]string, len(seqs))
	for i, seq := range seqs {
		ids[i] = strconv.FormatInt(seq, 10)
	}
	from, idExpr := s.dialect.idList(2)
	arg, err := s.dialect.idListArg(ids)
	if err != nil {
		return fmt.Errorf("store: %s: %w", what, err)
	}
	if _, err := s.write.ExecContext(ctx, fmt.Sprintf(
		`DELETE FROM trigger_outbox WHERE tenant = $1 AND seq IN (SELECT CAST(%s AS BIGINT) FROM %s)`, idExpr, from),
		tenant, arg); err != nil {
		return fmt.Errorf("store: %s: %w", what, err)
	}
	return nil
}
