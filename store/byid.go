package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/outlookflow/outlookflow/domain"
)

// Reads of single items, for the recipe engine: the items a batch of
// changes names, a folder, a conversation.

// requireMailbox refuses a read of mailbox items without the tenant and
// mailbox that scope their IDs.
func requireMailbox(what, tenant, mailbox string) error {
	if tenant == "" || mailbox == "" {
		return fmt.Errorf("store: %s: %w: a tenant and a mailbox are required", what, ErrInvalidRecord)
	}
	return nil
}

// byIDs is the query of the rows of table t (alias t, columns cols) in a
// mailbox whose idCol is among the IDs passed as $3; as in
// storedFingerprints, the IDs are one parameter joined against the key.
func (s *sqlStore) byIDs(cols, table, idCol string, tenant, mailbox string, ids []string) (string, []any, error) {
	from, idExpr := s.dialect.idList(3)
	arg, err := s.dialect.idListArg(ids)
	if err != nil {
		return "", nil, err
	}
	q := fmt.Sprintf(`SELECT %s FROM %s CROSS JOIN %s t WHERE t.tenant = $1 AND t.mailbox = $2 AND t.%s = %s`, cols, from, table, idCol, idExpr)
	return q, []any{tenant, mailbox, arg}, nil
}

func (s *sqlStore) MessagesByID(ctx context.Context, tenant, mailbox string, ids []string) (map[string]domain.Message, error) {
	what := fmt.Sprintf("reading %d messages of tenant %q mailbox %q", len(ids), tenant, mailbox)
	if err := requireMailbox(what, tenant, mailbox); err != nil {
		return nil, err
	}
	ids = uniqueIDs(ids)
	out := make(map[string]domain.Message, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	q, args, err := s.byIDs(messageCols("t."), "messages", "id", tenant, mailbox, ids)
	if err != nil {
		return nil, fmt.Errorf("store: %s: %w", what, err)
	}
	err = s.query(ctx, what, q, args, func(rows *sql.Rows) error {
		m, err := scanMessage(rows)
		if err != nil {
			return err
		}
		out[m.ID] = m
		return nil
	})
	return out, err
}

func (s *sqlStore) EventsByID(ctx context.Context, tenant, mailbox string, ids []string) (map[string]domain.Event, error) {
	what := fmt.Sprintf("reading %d events of tenant %q mailbox %q", len(ids), tenant, mailbox)
	if err := requireMailbox(what, tenant, mailbox); err != nil {
		return nil, err
	}
	ids = uniqueIDs(ids)
	out := make(map[string]domain.Event, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	q, args, err := s.byIDs(eventCols("t."), "events", "id", tenant, mailbox, ids)
	if err != nil {
		return nil, fmt.Errorf("store: %s: %w", what, err)
	}
	err = s.query(ctx, what, q, args, func(rows *sql.Rows) error {
		e, err := scanEvent(rows)
		if err != nil {
			return err
		}
		out[e.ID] = e
		return nil
	})
	if err != nil || len(out) == 0 {
		return out, err
	}
	q, args, err = s.byIDs(attendeeReadCols("t."), "event_attendees", "event_id", tenant, mailbox, ids)
	if err != nil {
		return nil, fmt.Errorf("store: %s: %w", what, err)
	}
	err = s.query(ctx, what+": attendees", q+` ORDER BY t.event_id, t.position`, args, func(rows *sql.Rows) error {
		_, eventID, a, err := scanAttendee(rows)
		if err != nil {
			return err
		}
		e, ok := out[eventID]
		if !ok {
			// Saved between the two queries: the event is not part of
			// this read.
			return nil
		}
		e.Attendees = append(e.Attendees, a)
		out[eventID] = e
		return nil
	})
	return out, err
}

func (s *sqlStore) Folder(ctx context.Context, tenant, mailbox, id string) (domain.MailFolder, bool, error) {
	what := fmt.Sprintf("reading folder %q of tenant %q mailbox %q", id, tenant, mailbox)
	if err := requireMailbox(what, tenant, mailbox); err != nil {
		return domain.MailFolder{}, false, err
	}
	f := domain.MailFolder{Mailbox: mailbox, ID: id}
	err := s.read.QueryRowContext(ctx, `
		SELECT parent_folder_id, display_name, well_known_name, total_item_count, unread_item_count
		FROM mail_folders WHERE tenant = $1 AND mailbox = $2 AND id = $3`, tenant, mailbox, id,
	).Scan(&f.ParentFolderID, &f.DisplayName, &f.WellKnownName, &f.TotalItemCount, &f.UnreadItemCount)
	if err == sql.ErrNoRows {
		return domain.MailFolder{}, false, nil
	}
	if err != nil {
		return domain.MailFolder{}, false, fmt.Errorf("store: %s: %w", what, err)
	}
	return f, true, nil
}

func (s *sqlStore) ConversationMessages(ctx context.Context, tenant, mailbox, conversationID string, after time.Time) ([]domain.Message, error) {
	what := fmt.Sprintf("listing messages of conversation %q in tenant %q mailbox %q", conversationID, tenant, mailbox)
	if err := requireMailbox(what, tenant, mailbox); err != nil {
		return nil, err
	}
	if conversationID == "" {
		return nil, fmt.Errorf("store: %s: %w: a conversation ID is required", what, ErrInvalidRecord)
	}
	args := []any{tenant, mailbox, conversationID}
	if !after.IsZero() {
		args = append(args, s.t(after))
	}
	return s.queryMessages(ctx, what, conversationQuery(!after.IsZero()), args)
}

// queryMessages runs a query over messageCols and returns its rows in order.
func (s *sqlStore) queryMessages(ctx context.Context, what, q string, args []any) ([]domain.Message, error) {
	var out []domain.Message
	err := s.query(ctx, what, q, args, func(rows *sql.Rows) error {
		m, err := scanMessage(rows)
		if err != nil {
			return err
		}
		out = append(out, m)
		return nil
	})
	return out, err
}

// conversationQuery lists a conversation's messages ($1 tenant, $2
// mailbox, $3 conversation), if after, only those after $4. The stored
// times are UTC microseconds (text of one width in SQLite, so text order is
// time order) and $4 is truncated the same way, which keeps "strictly
// after" exact. The time expression is written as in the index
// messages_time (migration 00005), so both databases use it.
func conversationQuery(after bool) string {
	const at = "COALESCE(received_at, sent_at)"
	q := `SELECT ` + messageCols("") + ` FROM messages
		WHERE tenant = $1 AND mailbox = $2 AND conversation_id = $3 AND ` + at + ` IS NOT NULL`
	if after {
		q += ` AND ` + at + ` > $4`
	}
	return q + ` ORDER BY ` + at + `, id`
}

func (s *sqlStore) MessagesSince(ctx context.Context, tenant, mailbox string, after time.Time, limit int) ([]domain.Message, error) {
	what := fmt.Sprintf("listing messages of tenant %q mailbox %q since %s", tenant, mailbox, after.UTC().Format(time.RFC3339))
	if err := requireMailbox(what, tenant, mailbox); err != nil {
		return nil, err
	}
	args := []any{tenant, mailbox}
	if !after.IsZero() {
		args = append(args, s.t(after))
	}
	return s.queryMessages(ctx, what, sinceQuery(!after.IsZero(), limit), args)
}

// sinceQuery lists a mailbox's messages ($1 tenant, $2 mailbox), if after,
// only those after $3, newest first, at most limit when limit > 0. As in
// conversationQuery, the time expression is the index messages_time's.
func sinceQuery(after bool, limit int) string {
	const at = "COALESCE(received_at, sent_at)"
	q := `SELECT ` + messageCols("") + ` FROM messages
		WHERE tenant = $1 AND mailbox = $2 AND ` + at + ` IS NOT NULL`
	if after {
		q += ` AND ` + at + ` > $3`
	}
	q += ` ORDER BY ` + at + ` DESC, id`
	if limit > 0 {
		q += fmt.Sprintf(` LIMIT %d`, limit)
	}
	return q
}

// uniqueIDs drops empty and repeated IDs, keeping the first occurrences'
// order.
func uniqueIDs(ids []string) []string {
	seen := make(map[string]bool, len(ids))
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		if id != "" && !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}
