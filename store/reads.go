package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/outlookflow/outlookflow/domain"
)

// where builds "tenant = $1 [AND mailbox = $2 …]" from the non-empty
// filters, in order; tenant is always present.
func where(tenant string, filters ...[2]string) (string, []any) {
	conds := []string{"tenant = $1"}
	args := []any{tenant}
	for _, f := range filters {
		if f[1] == "" {
			continue
		}
		args = append(args, f[1])
		conds = append(conds, fmt.Sprintf("%s = $%d", f[0], len(args)))
	}
	return strings.Join(conds, " AND "), args
}

func (s *sqlStore) query(ctx context.Context, what, q string, args []any, scan func(*sql.Rows) error) error {
	rows, err := s.read.QueryContext(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("store: %s: %w", what, err)
	}
	defer rows.Close()
	for rows.Next() {
		if err := scan(rows); err != nil {
			return fmt.Errorf("store: %s: %w", what, err)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("store: %s: %w", what, err)
	}
	return nil
}

func requireTenant(what, tenant string) error {
	if tenant == "" {
		return fmt.Errorf("store: %s: a tenant is required", what)
	}
	return nil
}

func (s *sqlStore) Cursor(ctx context.Context, key domain.CursorKey) (domain.Cursor, bool, error) {
	c := domain.Cursor{CursorKey: key}
	err := s.read.QueryRowContext(ctx, `
		SELECT token, complete, from_scratch, resyncs, updated_at FROM sync_cursors
		WHERE tenant = $1 AND mailbox = $2 AND kind = $3 AND scope = $4`,
		key.Tenant, key.Mailbox, string(key.Kind), key.Scope,
	).Scan(&c.Token, &c.Complete, &c.FromScratch, &c.Resyncs, timeScanner{&c.UpdatedAt})
	if err == sql.ErrNoRows {
		return domain.Cursor{}, false, nil
	}
	if err != nil {
		return domain.Cursor{}, false, fmt.Errorf("store: reading cursor %s: %w", key, err)
	}
	return c, true, nil
}

func (s *sqlStore) Cursors(ctx context.Context, tenant string) ([]domain.Cursor, error) {
	what := fmt.Sprintf("listing cursors of tenant %q", tenant)
	if err := requireTenant(what, tenant); err != nil {
		return nil, err
	}
	var out []domain.Cursor
	err := s.query(ctx, what, `
		SELECT tenant, mailbox, kind, scope, token, complete, from_scratch, resyncs, updated_at FROM sync_cursors
		WHERE tenant = $1 ORDER BY mailbox, kind, scope`, []any{tenant},
		func(rows *sql.Rows) error {
			var c domain.Cursor
			var kind string
			if err := rows.Scan(&c.Tenant, &c.Mailbox, &kind, &c.Scope, &c.Token, &c.Complete, &c.FromScratch, &c.Resyncs, timeScanner{&c.UpdatedAt}); err != nil {
				return err
			}
			c.Kind = domain.CursorKind(kind)
			out = append(out, c)
			return nil
		})
	return out, err
}

func (s *sqlStore) Tenants(ctx context.Context) ([]string, error) {
	var out []string
	err := s.query(ctx, "listing tenants", `SELECT tenant FROM tenants ORDER BY tenant`, nil,
		func(rows *sql.Rows) error {
			var t string
			if err := rows.Scan(&t); err != nil {
				return err
			}
			out = append(out, t)
			return nil
		})
	return out, err
}

func (s *sqlStore) Users(ctx context.Context, tenant string) ([]domain.User, error) {
	what := fmt.Sprintf("listing users of tenant %q", tenant)
	if err := requireTenant(what, tenant); err != nil {
		return nil, err
	}
	var out []domain.User
	err := s.query(ctx, what, `
		SELECT id, user_principal_name, mail, display_name, job_title, department, manager_id, account_enabled, has_mailbox
		FROM users WHERE tenant = $1 ORDER BY id`, []any{tenant},
		func(rows *sql.Rows) error {
			var u domain.User
			if err := rows.Scan(&u.ID, &u.UserPrincipalName, &u.Mail, &u.DisplayName, &u.JobTitle, &u.Department,
				&u.ManagerID, &u.AccountEnabled, &u.HasMailbox); err != nil {
				return err
			}
			out = append(out, u)
			return nil
		})
	return out, err
}

func (s *sqlStore) Groups(ctx context.Context, tenant string) ([]domain.Group, error) {
	what := fmt.Sprintf("listing groups of tenant %q", tenant)
	if err := requireTenant(what, tenant); err != nil {
		return nil, err
	}
	var out []domain.Group
	err := s.query(ctx, what, `
		SELECT id, display_name, mail, mail_enabled, security_enabled, group_types
		FROM groups WHERE tenant = $1 ORDER BY id`, []any{tenant},
		func(rows *sql.Rows) error {
			var g domain.Group
			if err := rows.Scan(&g.ID, &g.DisplayName, &g.Mail, &g.MailEnabled, &g.SecurityEnabled, jsonScanner{&g.GroupTypes}); err != nil {
				return err
			}
			g.GroupTypes = emptyToNil(g.GroupTypes)
			out = append(out, g)
			return nil
		})
	return out, err
}

func (s *sqlStore) GroupMembers(ctx context.Context, tenant string) ([]domain.GroupMember, error) {
	what := fmt.Sprintf("listing group members of tenant %q", tenant)
	if err := requireTenant(what, tenant); err != nil {
		return nil, err
	}
	var out []domain.GroupMember
	err := s.query(ctx, what, `
		SELECT group_id, member_id, member_type FROM group_members
		WHERE tenant = $1 ORDER BY group_id, member_id`, []any{tenant},
		func(rows *sql.Rows) error {
			var m domain.GroupMember
			var typ string
			if err := rows.Scan(&m.GroupID, &m.MemberID, &typ); err != nil {
				return err
			}
			m.MemberType = domain.MemberType(typ)
			out = append(out, m)
			return nil
		})
	return out, err
}

func (s *sqlStore) Folders(ctx context.Context, tenant, mailbox string) ([]domain.MailFolder, error) {
	what := fmt.Sprintf("listing mail folders of tenant %q mailbox %q", tenant, mailbox)
	if err := requireTenant(what, tenant); err != nil {
		return nil, err
	}
	cond, args := where(tenant, [2]string{"mailbox", mailbox})
	var out []domain.MailFolder
	err := s.query(ctx, what, `
		SELECT mailbox, id, parent_folder_id, display_name, well_known_name, total_item_count, unread_item_count
		FROM mail_folders WHERE `+cond+` ORDER BY mailbox, id`, args,
		func(rows *sql.Rows) error {
			var f domain.MailFolder
			if err := rows.Scan(&f.Mailbox, &f.ID, &f.ParentFolderID, &f.DisplayName, &f.WellKnownName,
				&f.TotalItemCount, &f.UnreadItemCount); err != nil {
				return err
			}
			out = append(out, f)
			return nil
		})
	return out, err
}

// messageCols are what scanMessage reads, prefixed by a table alias.
func messageCols(alias string) string {
	cols := []string{"mailbox", "id", "folder_id", "conversation_id", "internet_message_id", "from_name", "from_address",
		"sender_name", "sender_address", "to_recipients", "cc_recipients", "bcc_recipients", "subject",
		"received_at", "sent_at", "importance", "is_read", "is_draft", "flag_status", "flag_due_at",
		"flag_completed_at", "categories", "has_attachments", "body_content_type", "body"}
	return alias + strings.Join(cols, ", "+alias)
}

// scanMessage reads the columns of messageCols.
func scanMessage(rows *sql.Rows) (domain.Message, error) {
	var m domain.Message
	var importance, flag string
	var bodyType, body sql.NullString
	if err := rows.Scan(&m.Mailbox, &m.ID, &m.FolderID, &m.ConversationID, &m.InternetMessageID,
		&m.From.Name, &m.From.Address, &m.Sender.Name, &m.Sender.Address,
		jsonScanner{&m.To}, jsonScanner{&m.Cc}, jsonScanner{&m.Bcc}, &m.Subject,
		timeScanner{&m.ReceivedAt}, timeScanner{&m.SentAt}, &importance, &m.IsRead, &m.IsDraft, &flag,
		timeScanner{&m.Flag.DueAt}, timeScanner{&m.Flag.CompletedAt}, jsonScanner{&m.Categories},
		&m.HasAttachments, &bodyType, &body); err != nil {
		return m, err
	}
	m.Importance, m.Flag.Status = domain.Importance(importance), domain.FlagStatus(flag)
	if body.Valid {
		m.Body = &domain.MessageBody{ContentType: bodyType.String, Content: body.String}
	}
	return normMessage(m), nil
}

func (s *sqlStore) Messages(ctx context.Context, q MessageQuery) ([]domain.Message, error) {
	what := fmt.Sprintf("listing messages of tenant %q mailbox %q folder %q", q.Tenant, q.Mailbox, q.FolderID)
	if err := requireTenant(what, q.Tenant); err != nil {
		return nil, err
	}
	cond, args := where(q.Tenant, [2]string{"mailbox", q.Mailbox}, [2]string{"folder_id", q.FolderID})
	return s.queryMessages(ctx, what, `SELECT `+messageCols("")+` FROM messages WHERE `+cond+` ORDER BY mailbox, id`, args)
}

// eventCols are what scanEvent reads, prefixed by a table alias.
func eventCols(alias string) string {
	cols := []string{"mailbox", "id", "subject", "start_at", "start_time_zone", "end_at", "end_time_zone", "is_all_day",
		"organizer_name", "organizer_address", "location", "is_online_meeting", "online_meeting_url",
		"event_type", "series_master_id", "is_cancelled", "last_modified_at"}
	return alias + strings.Join(cols, ", "+alias)
}

// scanEvent reads the columns of eventCols.
func scanEvent(rows *sql.Rows) (domain.Event, error) {
	var e domain.Event
	var typ string
	if err := rows.Scan(&e.Mailbox, &e.ID, &e.Subject, timeScanner{&e.Start}, &e.StartTimeZone,
		timeScanner{&e.End}, &e.EndTimeZone, &e.IsAllDay, &e.Organizer.Name, &e.Organizer.Address,
		&e.Location, &e.IsOnlineMeeting, &e.OnlineMeetingJoinURL, &typ, &e.SeriesMasterID,
		&e.IsCancelled, timeScanner{&e.LastModifiedAt}); err != nil {
		return e, err
	}
	e.Type = domain.EventType(typ)
	return e, nil
}

// attendeeReadCols are what scanAttendee reads, prefixed by a table alias.
func attendeeReadCols(alias string) string {
	cols := []string{"mailbox", "event_id", "name", "address", "attendee_type", "response", "responded_at"}
	return alias + strings.Join(cols, ", "+alias)
}

// scanAttendee reads the columns of attendeeReadCols: an attendee and the
// key of its event.
func scanAttendee(rows *sql.Rows) (mailbox, eventID string, a domain.Attendee, err error) {
	var typ, response string
	if err := rows.Scan(&mailbox, &eventID, &a.Name, &a.Address, &typ, &response, timeScanner{&a.RespondedAt}); err != nil {
		return "", "", a, err
	}
	a.Type, a.Response = domain.AttendeeType(typ), domain.ResponseStatus(response)
	return mailbox, eventID, a, nil
}

func (s *sqlStore) Events(ctx context.Context, tenant, mailbox string) ([]domain.Event, error) {
	what := fmt.Sprintf("listing events of tenant %q mailbox %q", tenant, mailbox)
	if err := requireTenant(what, tenant); err != nil {
		return nil, err
	}
	cond, args := where(tenant, [2]string{"mailbox", mailbox})
	var out []domain.Event
	index := make(map[[2]string]int)
	err := s.query(ctx, what, `SELECT `+eventCols("")+` FROM events WHERE `+cond+` ORDER BY mailbox, id`, args,
		func(rows *sql.Rows) error {
			e, err := scanEvent(rows)
			if err != nil {
				return err
			}
			index[[2]string{e.Mailbox, e.ID}] = len(out)
			out = append(out, e)
			return nil
		})
	if err != nil {
		return nil, err
	}
	err = s.query(ctx, what+": attendees", `SELECT `+attendeeReadCols("")+`
		FROM event_attendees WHERE `+cond+` ORDER BY mailbox, event_id, position`, args,
		func(rows *sql.Rows) error {
			mailbox, eventID, a, err := scanAttendee(rows)
			if err != nil {
				return err
			}
			i, ok := index[[2]string{mailbox, eventID}]
			if !ok {
				// The event was deleted between the two queries; its
				// attendees went with it.
				return nil
			}
			out[i].Attendees = append(out[i].Attendees, a)
			return nil
		})
	return out, err
}

func (s *sqlStore) Contacts(ctx context.Context, tenant, mailbox string) ([]domain.Contact, error) {
	what := fmt.Sprintf("listing contacts of tenant %q mailbox %q", tenant, mailbox)
	if err := requireTenant(what, tenant); err != nil {
		return nil, err
	}
	cond, args := where(tenant, [2]string{"mailbox", mailbox})
	var out []domain.Contact
	err := s.query(ctx, what, `
		SELECT mailbox, id, display_name, email_addresses, company_name, job_title, phones
		FROM contacts WHERE `+cond+` ORDER BY mailbox, id`, args,
		func(rows *sql.Rows) error {
			var c domain.Contact
			if err := rows.Scan(&c.Mailbox, &c.ID, &c.DisplayName, jsonScanner{&c.EmailAddresses},
				&c.CompanyName, &c.JobTitle, jsonScanner{&c.Phones}); err != nil {
				return err
			}
			c.EmailAddresses, c.Phones = emptyToNil(c.EmailAddresses), emptyToNil(c.Phones)
			out = append(out, c)
			return nil
		})
	return out, err
}

func (s *sqlStore) MailboxSettings(ctx context.Context, tenant, mailbox string) (domain.MailboxSettings, bool, error) {
	ms := domain.MailboxSettings{Mailbox: mailbox}
	var status string
	err := s.read.QueryRowContext(ctx, `
		SELECT time_zone, working_days, working_start_time, working_end_time, working_time_zone,
			auto_replies_status, auto_replies_audience, auto_replies_start_at, auto_replies_end_at
		FROM mailbox_settings WHERE tenant = $1 AND mailbox = $2`, tenant, mailbox,
	).Scan(&ms.TimeZone, jsonScanner{&ms.WorkingHours.Days}, &ms.WorkingHours.StartTime, &ms.WorkingHours.EndTime,
		&ms.WorkingHours.TimeZone, &status, &ms.AutomaticReplies.ExternalAudience,
		timeScanner{&ms.AutomaticReplies.ScheduledStart}, timeScanner{&ms.AutomaticReplies.ScheduledEnd})
	if err == sql.ErrNoRows {
		return domain.MailboxSettings{}, false, nil
	}
	if err != nil {
		return domain.MailboxSettings{}, false, fmt.Errorf("store: reading mailbox settings of tenant %q mailbox %q: %w", tenant, mailbox, err)
	}
	ms.AutomaticReplies.Status = domain.AutomaticRepliesStatus(status)
	return normSettings(ms), true, nil
}

// countTables maps an item kind to its table and whether rows belong to a
// mailbox.
var countTables = map[domain.ItemKind]struct {
	table      string
	perMailbox bool
}{
	domain.KindUser:            {"users", false},
	domain.KindGroup:           {"groups", false},
	domain.KindMailFolder:      {"mail_folders", true},
	domain.KindMessage:         {"messages", true},
	domain.KindEvent:           {"events", true},
	domain.KindContact:         {"contacts", true},
	domain.KindMailboxSettings: {"mailbox_settings", true},
}

func (s *sqlStore) Count(ctx context.Context, tenant, mailbox string, kind domain.ItemKind) (int, error) {
	what := fmt.Sprintf("counting %s of tenant %q mailbox %q", kind, tenant, mailbox)
	if err := requireTenant(what, tenant); err != nil {
		return 0, err
	}
	t, ok := countTables[kind]
	if !ok {
		return 0, fmt.Errorf("store: %s: unknown item kind %q", what, kind)
	}
	if mailbox != "" && !t.perMailbox {
		return 0, fmt.Errorf("store: %s: %s are tenant-wide; pass mailbox \"\"", what, kind)
	}
	cond, args := where(tenant, [2]string{"mailbox", mailbox})
	var n int
	if err := s.read.QueryRowContext(ctx, `SELECT COUNT(*) FROM `+t.table+` WHERE `+cond, args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("store: %s: %w", what, err)
	}
	return n, nil
}
