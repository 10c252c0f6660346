package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"

	"github.com/outlookflow/outlookflow/domain"
)

// Each kind of item declares its table, its key, what a read returns for
// it and its column values; applyPage and upsertRows do the rest the same
// way for every kind.

var userKind = kind[domain.User]{
	table: table{
		name: "users", scopeCols: []string{"tenant"}, idCol: "id", kind: domain.KindUser,
		cols: []string{"user_principal_name", "mail", "display_name", "job_title", "department",
			"manager_id", "account_enabled", "has_mailbox"},
	},
	id: func(u domain.User) string { return u.ID },
	values: func(_ *sqlStore, u domain.User) ([]any, error) {
		return []any{u.UserPrincipalName, u.Mail, u.DisplayName, u.JobTitle, u.Department, u.ManagerID, u.AccountEnabled, u.HasMailbox}, nil
	},
}

var groupKind = kind[domain.Group]{
	table: table{
		name: "groups", scopeCols: []string{"tenant"}, idCol: "id", kind: domain.KindGroup,
		cols: []string{"display_name", "mail", "mail_enabled", "security_enabled", "group_types"},
	},
	id: func(g domain.Group) string { return g.ID },
	norm: func(g domain.Group) domain.Group {
		g.GroupTypes = emptyToNil(g.GroupTypes)
		return g
	},
	values: func(_ *sqlStore, g domain.Group) ([]any, error) {
		types, err := jsonText(g.GroupTypes)
		return []any{g.DisplayName, g.Mail, g.MailEnabled, g.SecurityEnabled, types}, err
	},
}

var folderKind = kind[domain.MailFolder]{
	table: table{
		name: "mail_folders", scopeCols: []string{"tenant", "mailbox"}, idCol: "id", kind: domain.KindMailFolder,
		cols: []string{"parent_folder_id", "display_name", "well_known_name", "total_item_count", "unread_item_count"},
	},
	id:         func(f domain.MailFolder) string { return f.ID },
	pageFields: func(f *domain.MailFolder) []*string { return []*string{&f.Mailbox} },
	values: func(_ *sqlStore, f domain.MailFolder) ([]any, error) {
		return []any{f.ParentFolderID, f.DisplayName, f.WellKnownName, f.TotalItemCount, f.UnreadItemCount}, nil
	},
}

var messageKind = kind[domain.Message]{
	table: table{
		name: "messages", scopeCols: []string{"tenant", "mailbox"}, idCol: "id", kind: domain.KindMessage,
		cols: []string{"folder_id", "conversation_id", "internet_message_id", "from_name", "from_address",
			"sender_name", "sender_address", "to_recipients", "cc_recipients", "bcc_recipients", "subject",
			"received_at", "sent_at", "importance", "is_read", "is_draft", "flag_status", "flag_due_at",
			"flag_completed_at", "categories", "has_attachments", "body_content_type", "body"},
		prevCol: "flag_status",
	},
	id:         func(m domain.Message) string { return m.ID },
	pageFields: func(m *domain.Message) []*string { return []*string{&m.Mailbox, &m.FolderID} },
	norm:       normMessage,
	values: func(s *sqlStore, m domain.Message) ([]any, error) {
		var lists [4]string
		for i, v := range []any{m.To, m.Cc, m.Bcc, m.Categories} {
			var err error
			if lists[i], err = jsonText(v); err != nil {
				return nil, err
			}
		}
		var bodyType, body string
		if m.Body != nil {
			bodyType, body = m.Body.ContentType, m.Body.Content
		}
		return []any{
			m.FolderID, m.ConversationID, m.InternetMessageID, m.From.Name, m.From.Address,
			m.Sender.Name, m.Sender.Address, lists[0], lists[1], lists[2], m.Subject,
			s.t(m.ReceivedAt), s.t(m.SentAt), string(m.Importance), m.IsRead, m.IsDraft, string(m.Flag.Status),
			s.t(m.Flag.DueAt), s.t(m.Flag.CompletedAt), lists[3], m.HasAttachments,
			nullString(bodyType, m.Body != nil), nullString(body, m.Body != nil),
		}, nil
	},
}

var eventKind = kind[domain.Event]{
	table: table{
		name: "events", scopeCols: []string{"tenant", "mailbox"}, idCol: "id", kind: domain.KindEvent,
		cols: []string{"subject", "start_at", "start_time_zone", "end_at", "end_time_zone", "is_all_day",
			"organizer_name", "organizer_address", "location", "is_online_meeting", "online_meeting_url",
			"event_type", "series_master_id", "is_cancelled", "last_modified_at"},
	},
	id:         func(e domain.Event) string { return e.ID },
	pageFields: func(e *domain.Event) []*string { return []*string{&e.Mailbox} },
	norm:       normEvent,
	values: func(s *sqlStore, e domain.Event) ([]any, error) {
		return []any{
			e.Subject, s.t(e.Start), e.StartTimeZone, s.t(e.End), e.EndTimeZone, e.IsAllDay,
			e.Organizer.Name, e.Organizer.Address, e.Location, e.IsOnlineMeeting, e.OnlineMeetingJoinURL,
			string(e.Type), e.SeriesMasterID, e.IsCancelled, s.t(e.LastModifiedAt),
		}, nil
	},
}

var contactKind = kind[domain.Contact]{
	table: table{
		name: "contacts", scopeCols: []string{"tenant", "mailbox"}, idCol: "id", kind: domain.KindContact,
		cols: []string{"display_name", "email_addresses", "company_name", "job_title", "phones"},
	},
	id:         func(c domain.Contact) string { return c.ID },
	pageFields: func(c *domain.Contact) []*string { return []*string{&c.Mailbox} },
	norm: func(c domain.Contact) domain.Contact {
		c.EmailAddresses, c.Phones = emptyToNil(c.EmailAddresses), emptyToNil(c.Phones)
		return c
	},
	values: func(_ *sqlStore, c domain.Contact) ([]any, error) {
		emails, err := jsonText(c.EmailAddresses)
		if err != nil {
			return nil, err
		}
		phones, err := jsonText(c.Phones)
		return []any{c.DisplayName, emails, c.CompanyName, c.JobTitle, phones}, err
	},
}

// settingsKind has one row per mailbox: its "ID" is the mailbox.
var settingsKind = kind[domain.MailboxSettings]{
	table: table{
		name: "mailbox_settings", scopeCols: []string{"tenant"}, idCol: "mailbox", kind: domain.KindMailboxSettings,
		cols: []string{"time_zone", "working_days", "working_start_time", "working_end_time", "working_time_zone",
			"auto_replies_status", "auto_replies_audience", "auto_replies_start_at", "auto_replies_end_at"},
	},
	id:   func(ms domain.MailboxSettings) string { return ms.Mailbox },
	norm: normSettings,
	values: func(s *sqlStore, ms domain.MailboxSettings) ([]any, error) {
		days, err := jsonText(ms.WorkingHours.Days)
		return []any{
			ms.TimeZone, days, ms.WorkingHours.StartTime, ms.WorkingHours.EndTime, ms.WorkingHours.TimeZone,
			string(ms.AutomaticReplies.Status), ms.AutomaticReplies.ExternalAudience,
			s.t(ms.AutomaticReplies.ScheduledStart), s.t(ms.AutomaticReplies.ScheduledEnd),
		}, err
	},
}

func (s *sqlStore) ApplyUsers(ctx context.Context, p UsersPage) (Counts, error) {
	return applyPage(ctx, s, userKind, page[domain.User]{
		what:   fmt.Sprintf("applying users page for tenant %q", p.Tenant),
		tenant: p.Tenant, upserts: p.Upserts, removed: p.Removed, next: p.Next,
		cursor: domain.CursorKey{Tenant: p.Tenant, Kind: domain.CursorUsers},
	})
}

func (s *sqlStore) ApplyGroups(ctx context.Context, p GroupsPage) (Counts, error) {
	what := fmt.Sprintf("applying groups page for tenant %q", p.Tenant)
	for _, list := range [][]domain.GroupMember{p.MembersAdded, p.MembersRemoved} {
		for i, m := range list {
			if m.GroupID == "" || m.MemberID == "" {
				return Counts{}, fmt.Errorf("store: %s: %w: membership %d of %d needs both GroupID and MemberID", what, ErrInvalidPage, i+1, len(list))
			}
		}
	}
	return applyPage(ctx, s, groupKind, page[domain.Group]{
		what: what, tenant: p.Tenant, upserts: p.Upserts, removed: p.Removed, next: p.Next,
		cursor: domain.CursorKey{Tenant: p.Tenant, Kind: domain.CursorGroups},
		// Memberships change after the page's groups are saved and before
		// its removals, which take their groups' members with them (ON
		// DELETE CASCADE).
		afterUpserts: func(tx *sql.Tx, _ []domain.Group, counts *Counts) error {
			touched, err := s.applyMemberships(ctx, tx, p)
			if err != nil {
				return err
			}
			// A membership change is a change of its group, unless the
			// group was already reported in this page.
			reported := make(map[string]bool, len(counts.Changes))
			for _, ch := range counts.Changes {
				reported[ch.ItemID] = true
			}
			for _, groupID := range touched {
				if !reported[groupID] {
					reported[groupID] = true
					counts.Updated++
					counts.Changes = append(counts.Changes, domain.Change{Kind: domain.KindGroup, ItemID: groupID, Type: domain.ChangeUpdated})
				}
			}
			return nil
		},
	})
}

// applyMemberships adds and removes memberships and returns the groups whose
// membership actually changed, in the order first touched. It goes a row at
// a time so an error names the membership that failed.
func (s *sqlStore) applyMemberships(ctx context.Context, tx *sql.Tx, page GroupsPage) ([]string, error) {
	var touched []string
	seen := make(map[string]bool)
	note := func(groupID string, n int64) {
		if n > 0 && !seen[groupID] {
			seen[groupID] = true
			touched = append(touched, groupID)
		}
	}
	for i, m := range page.MembersAdded {
		res, err := tx.ExecContext(ctx, `
			INSERT INTO group_members (tenant, group_id, member_id, member_type) VALUES ($1, $2, $3, $4)
			ON CONFLICT (tenant, group_id, member_id) DO NOTHING`,
			page.Tenant, m.GroupID, m.MemberID, string(m.MemberType))
		if err != nil {
			return nil, fmt.Errorf("adding member %d of %d (%q to group %q; the group must be in this page or stored before): %w",
				i+1, len(page.MembersAdded), m.MemberID, m.GroupID, err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return nil, err
		}
		note(m.GroupID, n)
	}
	for _, m := range page.MembersRemoved {
		res, err := tx.ExecContext(ctx,
			`DELETE FROM group_members WHERE tenant = $1 AND group_id = $2 AND member_id = $3`,
			page.Tenant, m.GroupID, m.MemberID)
		if err != nil {
			return nil, fmt.Errorf("removing member %q from group %q: %w", m.MemberID, m.GroupID, err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return nil, err
		}
		note(m.GroupID, n)
	}
	return touched, nil
}

func (s *sqlStore) ApplyFolders(ctx context.Context, p FoldersPage) (Counts, error) {
	return applyPage(ctx, s, folderKind, page[domain.MailFolder]{
		what:   fmt.Sprintf("applying mail folders page for tenant %q mailbox %q", p.Tenant, p.Mailbox),
		tenant: p.Tenant, mailbox: p.Mailbox, fields: []field{{"Mailbox", p.Mailbox}},
		upserts: p.Upserts, removed: p.Removed, next: p.Next,
		cursor: domain.CursorKey{Tenant: p.Tenant, Mailbox: p.Mailbox, Kind: domain.CursorFolders},
		remove: func(tx *sql.Tx, _ bool) (Counts, []string, error) {
			var counts Counts
			for _, id := range p.Removed {
				c, err := s.deleteFolderTree(ctx, tx, p.Tenant, p.Mailbox, id)
				if err != nil {
					return counts, nil, err
				}
				counts.Add(c)
			}
			return counts, nil, nil
		},
	})
}

func (s *sqlStore) DeleteFolder(ctx context.Context, tenant, mailbox, folderID string) (Counts, error) {
	what := fmt.Sprintf("deleting folder %q of tenant %q mailbox %q", folderID, tenant, mailbox)
	if tenant == "" || mailbox == "" || folderID == "" {
		return Counts{}, fmt.Errorf("store: %s: tenant, mailbox and folder ID are all required", what)
	}
	var counts Counts
	err := s.inTx(ctx, what, func(tx *sql.Tx) error {
		var err error
		counts, err = s.deleteFolderTree(ctx, tx, tenant, mailbox, folderID)
		return err
	})
	return counts, err
}

// deleteFolderTree deletes a folder with its descendants, their messages and
// their message cursors, reporting every deleted folder and message.
func (s *sqlStore) deleteFolderTree(ctx context.Context, tx *sql.Tx, tenant, mailbox, folderID string) (Counts, error) {
	var counts Counts
	// UNION, not UNION ALL: a parent cycle (which Graph should never
	// produce) ends the walk instead of looping.
	rows, err := tx.QueryContext(ctx, `
		WITH RECURSIVE tree(id) AS (
			SELECT id FROM mail_folders WHERE tenant = $1 AND mailbox = $2 AND id = $3
			UNION
			SELECT f.id FROM mail_folders f JOIN tree ON f.parent_folder_id = tree.id
			WHERE f.tenant = $1 AND f.mailbox = $2
		) SELECT id FROM tree`, tenant, mailbox, folderID)
	if err != nil {
		return counts, fmt.Errorf("finding folder %q and its children: %w", folderID, err)
	}
	folders, err := scanStrings(rows)
	if err != nil {
		return counts, fmt.Errorf("finding folder %q and its children: %w", folderID, err)
	}
	for _, id := range folders {
		rows, err := tx.QueryContext(ctx,
			`SELECT id FROM messages WHERE tenant = $1 AND mailbox = $2 AND folder_id = $3 ORDER BY id`, tenant, mailbox, id)
		if err != nil {
			return counts, fmt.Errorf("listing messages of folder %q: %w", id, err)
		}
		messages, err := scanStrings(rows)
		if err != nil {
			return counts, fmt.Errorf("listing messages of folder %q: %w", id, err)
		}
		if _, err := tx.ExecContext(ctx,
			`DELETE FROM messages WHERE tenant = $1 AND mailbox = $2 AND folder_id = $3`, tenant, mailbox, id); err != nil {
			return counts, fmt.Errorf("deleting messages of folder %q: %w", id, err)
		}
		for _, m := range messages {
			counts.Deleted++
			counts.Changes = append(counts.Changes, domain.Change{Kind: domain.KindMessage, Mailbox: mailbox, ItemID: m, Type: domain.ChangeDeleted})
		}
		if _, err := tx.ExecContext(ctx,
			`DELETE FROM sync_cursors WHERE tenant = $1 AND mailbox = $2 AND kind = $3 AND scope = $4`,
			tenant, mailbox, string(domain.CursorMessages), id); err != nil {
			return counts, fmt.Errorf("deleting the message cursor of folder %q: %w", id, err)
		}
		if _, err := tx.ExecContext(ctx,
			`DELETE FROM mail_folders WHERE tenant = $1 AND mailbox = $2 AND id = $3`, tenant, mailbox, id); err != nil {
			return counts, fmt.Errorf("deleting folder %q: %w", id, err)
		}
		counts.Deleted++
		counts.Changes = append(counts.Changes, domain.Change{Kind: domain.KindMailFolder, Mailbox: mailbox, ItemID: id, Type: domain.ChangeDeleted})
	}
	return counts, nil
}

func (s *sqlStore) ApplyMessages(ctx context.Context, p MessagesPage) (Counts, error) {
	return applyPage(ctx, s, messageKind, page[domain.Message]{
		what:   fmt.Sprintf("applying messages page for tenant %q mailbox %q folder %q", p.Tenant, p.Mailbox, p.FolderID),
		tenant: p.Tenant, mailbox: p.Mailbox, fields: []field{{"Mailbox", p.Mailbox}, {"FolderID", p.FolderID}},
		upserts: p.Upserts, removed: p.Removed, next: p.Next,
		cursor: domain.CursorKey{Tenant: p.Tenant, Mailbox: p.Mailbox, Kind: domain.CursorMessages, Scope: p.FolderID},
		outbox: p.Outbox, outboxInitial: p.OutboxInitial,
		beforeWrites: func(tx *sql.Tx) error {
			var known int
			if err := tx.QueryRowContext(ctx,
				`SELECT COUNT(*) FROM mail_folders WHERE tenant = $1 AND mailbox = $2 AND id = $3`,
				p.Tenant, p.Mailbox, p.FolderID).Scan(&known); err != nil {
				return err
			}
			if known == 0 {
				return fmt.Errorf("folder %q is not stored; apply its mail-folder page first (or drop this cursor if the folder was deleted)", p.FolderID)
			}
			return nil
		},
		// Only from this folder: a message moved elsewhere and already
		// saved there must survive its old folder's @removed.
		remove: func(tx *sql.Tx, withPrev bool) (Counts, []string, error) {
			return s.deleteRows(ctx, tx, messageKind.table, []any{p.Tenant, p.Mailbox}, p.Mailbox, p.Removed, withPrev, "folder_id = $4", p.FolderID)
		},
	})
}

// normMessage is m as the store keeps it, so fingerprints match what a
// read returns.
func normMessage(m domain.Message) domain.Message {
	m.To, m.Cc, m.Bcc = emptyToNil(m.To), emptyToNil(m.Cc), emptyToNil(m.Bcc)
	m.Categories = emptyToNil(m.Categories)
	m.ReceivedAt, m.SentAt = normTime(m.ReceivedAt), normTime(m.SentAt)
	m.Flag.DueAt, m.Flag.CompletedAt = normTime(m.Flag.DueAt), normTime(m.Flag.CompletedAt)
	return m
}

func (s *sqlStore) ApplyEvents(ctx context.Context, p EventsPage) (Counts, error) {
	var snapshots map[string][]byte
	if p.Outbox && len(p.Removed) > 0 && p.Tenant != "" && p.Mailbox != "" {
		// The removed events as stored, for their outbox rows: read before
		// the page's transaction, which deletes them. One sync writes a
		// mailbox at a time (its lease), so nothing changes them between.
		held, err := s.EventsByID(ctx, p.Tenant, p.Mailbox, p.Removed)
		if err != nil {
			return Counts{}, fmt.Errorf("store: reading the events a page removes, for the trigger outbox: %w", err)
		}
		snapshots = make(map[string][]byte, len(held))
		for id, ev := range held {
			if snapshots[id], err = json.Marshal(ev); err != nil {
				return Counts{}, fmt.Errorf("store: snapshot of deleted event %q: %w", id, err)
			}
		}
	}
	return applyPage(ctx, s, eventKind, page[domain.Event]{
		snapshots: snapshots,
		what:      fmt.Sprintf("applying events page for tenant %q mailbox %q window %q", p.Tenant, p.Mailbox, p.Window),
		tenant:    p.Tenant, mailbox: p.Mailbox, fields: []field{{"Mailbox", p.Mailbox}},
		upserts: p.Upserts, removed: p.Removed, next: p.Next,
		cursor: domain.CursorKey{Tenant: p.Tenant, Mailbox: p.Mailbox, Kind: domain.CursorEvents, Scope: p.Window},
		outbox: p.Outbox, outboxInitial: p.OutboxInitial,
		// Every event written gets Graph's attendee list; a removed event's
		// attendees go with it (ON DELETE CASCADE).
		afterUpserts: func(tx *sql.Tx, written []domain.Event, _ *Counts) error {
			return s.replaceAttendees(ctx, tx, p.Tenant, p.Mailbox, written)
		},
	})
}

func normEvent(e domain.Event) domain.Event {
	e.Start, e.End, e.LastModifiedAt = normTime(e.Start), normTime(e.End), normTime(e.LastModifiedAt)
	if len(e.Attendees) == 0 {
		e.Attendees = nil
	} else {
		as := make([]domain.Attendee, len(e.Attendees))
		for i, a := range e.Attendees {
			a.RespondedAt = normTime(a.RespondedAt)
			as[i] = a
		}
		e.Attendees = as
	}
	return e
}

// attendeeCols are event_attendees' columns after tenant and mailbox.
var attendeeCols = []string{"event_id", "position", "name", "address", "attendee_type", "response", "responded_at"}

// replaceAttendees swaps the attendee lists of the events written for the
// ones Graph sent: Graph always sends the whole list, so merging would keep
// people who were removed from the invitation.
func (s *sqlStore) replaceAttendees(ctx context.Context, tx *sql.Tx, tenant, mailbox string, events []domain.Event) error {
	if len(events) == 0 {
		return nil
	}
	ids := make([]string, len(events))
	var rows [][]any
	for i, e := range events {
		ids[i] = e.ID
		for pos, a := range e.Attendees {
			rows = append(rows, []any{e.ID, pos, a.Name, a.Address, string(a.Type), string(a.Response), s.t(a.RespondedAt)})
		}
	}
	from, idExpr := s.dialect.idList(3)
	arg, err := s.dialect.idListArg(ids)
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, fmt.Sprintf(
		`DELETE FROM event_attendees WHERE tenant = $1 AND mailbox = $2 AND event_id IN (SELECT %s FROM %s)`, idExpr, from),
		tenant, mailbox, arg); err != nil {
		return fmt.Errorf("clearing attendees: %w", err)
	}
	if err := s.insertRows(ctx, tx, newInsertSpec("event_attendees", []string{"tenant", "mailbox"}, attendeeCols, ""), []any{tenant, mailbox}, rows); err != nil {
		return fmt.Errorf("saving attendees: %w", err)
	}
	return nil
}

func (s *sqlStore) ApplyContacts(ctx context.Context, p ContactsPage) (Counts, error) {
	return applyPage(ctx, s, contactKind, page[domain.Contact]{
		what:   fmt.Sprintf("applying contacts page for tenant %q mailbox %q", p.Tenant, p.Mailbox),
		tenant: p.Tenant, mailbox: p.Mailbox, fields: []field{{"Mailbox", p.Mailbox}},
		upserts: p.Upserts, removed: p.Removed, next: p.Next,
		cursor: domain.CursorKey{Tenant: p.Tenant, Mailbox: p.Mailbox, Kind: domain.CursorContacts, Scope: p.Scope},
	})
}

func (s *sqlStore) ApplyMailboxSettings(ctx context.Context, tenant string, ms domain.MailboxSettings) (Counts, error) {
	what := fmt.Sprintf("applying mailbox settings for tenant %q mailbox %q", tenant, ms.Mailbox)
	if tenant == "" || ms.Mailbox == "" {
		return Counts{}, fmt.Errorf("store: %s: %w: tenant and settings.Mailbox are required", what, ErrInvalidPage)
	}
	_, rows, err := settingsKind.rows(s, what, nil, []domain.MailboxSettings{ms})
	if err != nil {
		return Counts{}, err
	}
	var counts Counts
	err = s.inTx(ctx, what, func(tx *sql.Tx) error {
		if err := s.ensureTenant(ctx, tx, tenant); err != nil {
			return err
		}
		var err error
		counts, _, _, err = s.upsertRows(ctx, tx, settingsKind.table, []any{tenant}, ms.Mailbox, rows, false)
		return err
	})
	return counts, err
}

func normSettings(ms domain.MailboxSettings) domain.MailboxSettings {
	ms.WorkingHours.Days = emptyToNil(ms.WorkingHours.Days)
	ms.AutomaticReplies.ScheduledStart = normTime(ms.AutomaticReplies.ScheduledStart)
	ms.AutomaticReplies.ScheduledEnd = normTime(ms.AutomaticReplies.ScheduledEnd)
	return ms
}

func (s *sqlStore) ResetCursor(ctx context.Context, key domain.CursorKey) error {
	what := fmt.Sprintf("resetting cursor %s", key)
	if key.Tenant == "" || key.Kind == "" {
		return fmt.Errorf("store: %s: the key needs a tenant and a kind", what)
	}
	return s.inTx(ctx, what, func(tx *sql.Tx) error {
		if err := s.ensureTenant(ctx, tx, key.Tenant); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `
			INSERT INTO sync_cursors (tenant, mailbox, kind, scope, token, complete, from_scratch, resyncs, updated_at)
			VALUES ($1, $2, $3, $4, '', $5, $5, 1, $6)
			ON CONFLICT (tenant, mailbox, kind, scope) DO UPDATE SET
				token = '', complete = excluded.complete, from_scratch = excluded.from_scratch, resyncs = sync_cursors.resyncs + 1, updated_at = excluded.updated_at`,
			key.Tenant, key.Mailbox, string(key.Kind), key.Scope, false, s.t(s.now()))
		return err
	})
}

func scanStrings(rows *sql.Rows) ([]string, error) {
	defer rows.Close()
	var out []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}
