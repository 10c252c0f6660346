package store

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/outlookflow/outlookflow/domain"
)

var (
	usersTable = table{
		name: "users", scopeCols: []string{"tenant"}, idCol: "id", kind: domain.KindUser,
		cols: []string{"user_principal_name", "mail", "display_name", "job_title", "department",
			"manager_id", "account_enabled", "has_mailbox"},
	}
	groupsTable = table{
		name: "groups", scopeCols: []string{"tenant"}, idCol: "id", kind: domain.KindGroup,
		cols: []string{"display_name", "mail", "mail_enabled", "security_enabled", "group_types"},
	}
	foldersTable = table{
		name: "mail_folders", scopeCols: []string{"tenant", "mailbox"}, idCol: "id", kind: domain.KindMailFolder,
		cols: []string{"parent_folder_id", "display_name", "well_known_name", "total_item_count", "unread_item_count"},
	}
	messagesTable = table{
		name: "messages", scopeCols: []string{"tenant", "mailbox"}, idCol: "id", kind: domain.KindMessage,
		cols: []string{"folder_id", "conversation_id", "internet_message_id", "from_name", "from_address",
			"sender_name", "sender_address", "to_recipients", "cc_recipients", "bcc_recipients", "subject",
			"received_at", "sent_at", "importance", "is_read", "is_draft", "flag_status", "flag_due_at",
			"flag_completed_at", "categories", "has_attachments", "body_content_type", "body"},
	}
	eventsTable = table{
		name: "events", scopeCols: []string{"tenant", "mailbox"}, idCol: "id", kind: domain.KindEvent,
		cols: []string{"subject", "start_at", "start_time_zone", "end_at", "end_time_zone", "is_all_day",
			"organizer_name", "organizer_address", "location", "is_online_meeting", "online_meeting_url",
			"event_type", "series_master_id", "is_cancelled", "last_modified_at"},
	}
	contactsTable = table{
		name: "contacts", scopeCols: []string{"tenant", "mailbox"}, idCol: "id", kind: domain.KindContact,
		cols: []string{"display_name", "email_addresses", "company_name", "job_title", "phones"},
	}
	// mailbox_settings has one row per mailbox: its "ID" is the mailbox.
	settingsTable = table{
		name: "mailbox_settings", scopeCols: []string{"tenant"}, idCol: "mailbox", kind: domain.KindMailboxSettings,
		cols: []string{"time_zone", "working_days", "working_start_time", "working_end_time", "working_time_zone",
			"auto_replies_status", "auto_replies_audience", "auto_replies_start_at", "auto_replies_end_at"},
	}
)

func (s *sqlStore) ApplyUsers(ctx context.Context, page UsersPage) (Counts, error) {
	what := fmt.Sprintf("applying users page for tenant %q", page.Tenant)
	ids := make([]string, len(page.Upserts))
	for i, u := range page.Upserts {
		ids[i] = u.ID
	}
	if err := checkPage(what, page.Next, map[string]string{"Tenant": page.Tenant}, ids, page.Removed); err != nil {
		return Counts{}, err
	}
	rows := make([]row, len(page.Upserts))
	for i, u := range page.Upserts {
		r, err := s.userRow(u)
		if err != nil {
			return Counts{}, err
		}
		rows[i] = r
	}
	scope := []any{page.Tenant}
	var counts Counts
	err := s.inTx(ctx, what, func(tx *sql.Tx) error {
		counts = Counts{}
		if err := s.ensureTenant(ctx, tx, page.Tenant); err != nil {
			return err
		}
		c, err := s.upsertRows(ctx, tx, usersTable, scope, "", rows, nil)
		if err != nil {
			return err
		}
		counts.Add(c)
		if c, err = s.deleteRows(ctx, tx, usersTable, scope, "", page.Removed, ""); err != nil {
			return err
		}
		counts.Add(c)
		return s.saveCursor(ctx, tx, domain.CursorKey{Tenant: page.Tenant, Kind: domain.CursorUsers}, page.Next)
	})
	return counts, err
}

func (s *sqlStore) userRow(u domain.User) (row, error) {
	fp, err := fingerprint(u)
	if err != nil {
		return row{}, err
	}
	return row{id: u.ID, fingerprint: fp, values: []any{
		u.UserPrincipalName, u.Mail, u.DisplayName, u.JobTitle, u.Department, u.ManagerID, u.AccountEnabled, u.HasMailbox,
	}}, nil
}

func (s *sqlStore) ApplyGroups(ctx context.Context, page GroupsPage) (Counts, error) {
	what := fmt.Sprintf("applying groups page for tenant %q", page.Tenant)
	ids := make([]string, len(page.Upserts))
	for i, g := range page.Upserts {
		ids[i] = g.ID
	}
	if err := checkPage(what, page.Next, map[string]string{"Tenant": page.Tenant}, ids, page.Removed); err != nil {
		return Counts{}, err
	}
	for _, list := range [][]domain.GroupMember{page.MembersAdded, page.MembersRemoved} {
		for i, m := range list {
			if m.GroupID == "" || m.MemberID == "" {
				return Counts{}, fmt.Errorf("store: %s: %w: membership %d of %d needs both GroupID and MemberID", what, ErrInvalidPage, i+1, len(list))
			}
		}
	}
	rows := make([]row, len(page.Upserts))
	for i, g := range page.Upserts {
		g.GroupTypes = emptyToNil(g.GroupTypes)
		fp, err := fingerprint(g)
		if err != nil {
			return Counts{}, err
		}
		types, err := jsonText(g.GroupTypes)
		if err != nil {
			return Counts{}, err
		}
		rows[i] = row{id: g.ID, fingerprint: fp, values: []any{g.DisplayName, g.Mail, g.MailEnabled, g.SecurityEnabled, types}}
	}
	scope := []any{page.Tenant}
	var counts Counts
	err := s.inTx(ctx, what, func(tx *sql.Tx) error {
		counts = Counts{}
		if err := s.ensureTenant(ctx, tx, page.Tenant); err != nil {
			return err
		}
		c, err := s.upsertRows(ctx, tx, groupsTable, scope, "", rows, nil)
		if err != nil {
			return err
		}
		counts.Add(c)
		touched, err := s.applyMemberships(ctx, tx, page)
		if err != nil {
			return err
		}
		// A membership change is a change of its group, unless the group
		// was already reported in this page.
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
		// Members go with their group (ON DELETE CASCADE).
		if c, err = s.deleteRows(ctx, tx, groupsTable, scope, "", page.Removed, ""); err != nil {
			return err
		}
		counts.Add(c)
		return s.saveCursor(ctx, tx, domain.CursorKey{Tenant: page.Tenant, Kind: domain.CursorGroups}, page.Next)
	})
	return counts, err
}

// applyMemberships adds and removes memberships and returns the groups whose
// membership actually changed, in the order first touched.
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

func (s *sqlStore) ApplyFolders(ctx context.Context, page FoldersPage) (Counts, error) {
	what := fmt.Sprintf("applying mail folders page for tenant %q mailbox %q", page.Tenant, page.Mailbox)
	ids := make([]string, len(page.Upserts))
	for i, f := range page.Upserts {
		ids[i] = f.ID
	}
	if err := checkPage(what, page.Next, map[string]string{"Tenant": page.Tenant, "Mailbox": page.Mailbox}, ids, page.Removed); err != nil {
		return Counts{}, err
	}
	rows := make([]row, len(page.Upserts))
	for i, f := range page.Upserts {
		if err := sameOrEmpty(what, "Mailbox", f.Mailbox, page.Mailbox, i); err != nil {
			return Counts{}, err
		}
		f.Mailbox = page.Mailbox
		fp, err := fingerprint(f)
		if err != nil {
			return Counts{}, err
		}
		rows[i] = row{id: f.ID, fingerprint: fp, values: []any{f.ParentFolderID, f.DisplayName, f.WellKnownName, f.TotalItemCount, f.UnreadItemCount}}
	}
	scope := []any{page.Tenant, page.Mailbox}
	var counts Counts
	err := s.inTx(ctx, what, func(tx *sql.Tx) error {
		counts = Counts{}
		if err := s.ensureTenant(ctx, tx, page.Tenant); err != nil {
			return err
		}
		c, err := s.upsertRows(ctx, tx, foldersTable, scope, page.Mailbox, rows, nil)
		if err != nil {
			return err
		}
		counts.Add(c)
		for _, id := range page.Removed {
			c, err := s.deleteFolderTree(ctx, tx, page.Tenant, page.Mailbox, id)
			if err != nil {
				return err
			}
			counts.Add(c)
		}
		return s.saveCursor(ctx, tx, domain.CursorKey{Tenant: page.Tenant, Mailbox: page.Mailbox, Kind: domain.CursorFolders}, page.Next)
	})
	return counts, err
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

func (s *sqlStore) ApplyMessages(ctx context.Context, page MessagesPage) (Counts, error) {
	what := fmt.Sprintf("applying messages page for tenant %q mailbox %q folder %q", page.Tenant, page.Mailbox, page.FolderID)
	ids := make([]string, len(page.Upserts))
	for i, m := range page.Upserts {
		ids[i] = m.ID
	}
	if err := checkPage(what, page.Next, map[string]string{"Tenant": page.Tenant, "Mailbox": page.Mailbox, "FolderID": page.FolderID}, ids, page.Removed); err != nil {
		return Counts{}, err
	}
	rows := make([]row, len(page.Upserts))
	for i, m := range page.Upserts {
		if err := sameOrEmpty(what, "Mailbox", m.Mailbox, page.Mailbox, i); err != nil {
			return Counts{}, err
		}
		if err := sameOrEmpty(what, "FolderID", m.FolderID, page.FolderID, i); err != nil {
			return Counts{}, err
		}
		m.Mailbox, m.FolderID = page.Mailbox, page.FolderID
		r, err := s.messageRow(m)
		if err != nil {
			return Counts{}, fmt.Errorf("store: %s: message %q: %w", what, m.ID, err)
		}
		rows[i] = r
	}
	scope := []any{page.Tenant, page.Mailbox}
	var counts Counts
	err := s.inTx(ctx, what, func(tx *sql.Tx) error {
		counts = Counts{}
		if err := s.ensureTenant(ctx, tx, page.Tenant); err != nil {
			return err
		}
		var known int
		if err := tx.QueryRowContext(ctx,
			`SELECT COUNT(*) FROM mail_folders WHERE tenant = $1 AND mailbox = $2 AND id = $3`,
			page.Tenant, page.Mailbox, page.FolderID).Scan(&known); err != nil {
			return err
		}
		if known == 0 {
			return fmt.Errorf("folder %q is not stored; apply its mail-folder page first (or drop this cursor if the folder was deleted)", page.FolderID)
		}
		c, err := s.upsertRows(ctx, tx, messagesTable, scope, page.Mailbox, rows, nil)
		if err != nil {
			return err
		}
		counts.Add(c)
		// Only from this folder: a message moved elsewhere and already
		// saved there must survive its old folder's @removed.
		if c, err = s.deleteRows(ctx, tx, messagesTable, scope, page.Mailbox, page.Removed, "folder_id = $4", page.FolderID); err != nil {
			return err
		}
		counts.Add(c)
		return s.saveCursor(ctx, tx, domain.CursorKey{Tenant: page.Tenant, Mailbox: page.Mailbox, Kind: domain.CursorMessages, Scope: page.FolderID}, page.Next)
	})
	return counts, err
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

func (s *sqlStore) messageRow(m domain.Message) (row, error) {
	m = normMessage(m)
	fp, err := fingerprint(m)
	if err != nil {
		return row{}, err
	}
	var lists [4]string
	for i, v := range []any{m.To, m.Cc, m.Bcc, m.Categories} {
		if lists[i], err = jsonText(v); err != nil {
			return row{}, err
		}
	}
	var bodyType, body string
	if m.Body != nil {
		bodyType, body = m.Body.ContentType, m.Body.Content
	}
	return row{id: m.ID, fingerprint: fp, values: []any{
		m.FolderID, m.ConversationID, m.InternetMessageID, m.From.Name, m.From.Address,
		m.Sender.Name, m.Sender.Address, lists[0], lists[1], lists[2], m.Subject,
		s.t(m.ReceivedAt), s.t(m.SentAt), string(m.Importance), m.IsRead, m.IsDraft, string(m.Flag.Status),
		s.t(m.Flag.DueAt), s.t(m.Flag.CompletedAt), lists[3], m.HasAttachments,
		nullString(bodyType, m.Body != nil), nullString(body, m.Body != nil),
	}}, nil
}

func (s *sqlStore) ApplyEvents(ctx context.Context, page EventsPage) (Counts, error) {
	what := fmt.Sprintf("applying events page for tenant %q mailbox %q window %q", page.Tenant, page.Mailbox, page.Window)
	ids := make([]string, len(page.Upserts))
	for i, e := range page.Upserts {
		ids[i] = e.ID
	}
	if err := checkPage(what, page.Next, map[string]string{"Tenant": page.Tenant, "Mailbox": page.Mailbox}, ids, page.Removed); err != nil {
		return Counts{}, err
	}
	rows := make([]row, len(page.Upserts))
	attendees := make(map[string][]domain.Attendee, len(page.Upserts))
	for i, e := range page.Upserts {
		if err := sameOrEmpty(what, "Mailbox", e.Mailbox, page.Mailbox, i); err != nil {
			return Counts{}, err
		}
		e.Mailbox = page.Mailbox
		e = normEvent(e)
		fp, err := fingerprint(e)
		if err != nil {
			return Counts{}, err
		}
		attendees[e.ID] = e.Attendees
		rows[i] = row{id: e.ID, fingerprint: fp, values: []any{
			e.Subject, s.t(e.Start), e.StartTimeZone, s.t(e.End), e.EndTimeZone, e.IsAllDay,
			e.Organizer.Name, e.Organizer.Address, e.Location, e.IsOnlineMeeting, e.OnlineMeetingJoinURL,
			string(e.Type), e.SeriesMasterID, e.IsCancelled, s.t(e.LastModifiedAt),
		}}
	}
	scope := []any{page.Tenant, page.Mailbox}
	var counts Counts
	err := s.inTx(ctx, what, func(tx *sql.Tx) error {
		counts = Counts{}
		if err := s.ensureTenant(ctx, tx, page.Tenant); err != nil {
			return err
		}
		c, err := s.upsertRows(ctx, tx, eventsTable, scope, page.Mailbox, rows, func(r row) error {
			return s.replaceAttendees(ctx, tx, page.Tenant, page.Mailbox, r.id, attendees[r.id])
		})
		if err != nil {
			return err
		}
		counts.Add(c)
		// Attendees go with their event (ON DELETE CASCADE).
		if c, err = s.deleteRows(ctx, tx, eventsTable, scope, page.Mailbox, page.Removed, ""); err != nil {
			return err
		}
		counts.Add(c)
		return s.saveCursor(ctx, tx, domain.CursorKey{Tenant: page.Tenant, Mailbox: page.Mailbox, Kind: domain.CursorEvents, Scope: page.Window}, page.Next)
	})
	return counts, err
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

// replaceAttendees swaps an event's attendee list for the one Graph sent:
// Graph always sends the whole list, so merging would keep people who were
// removed from the invitation.
func (s *sqlStore) replaceAttendees(ctx context.Context, tx *sql.Tx, tenant, mailbox, eventID string, attendees []domain.Attendee) error {
	if _, err := tx.ExecContext(ctx,
		`DELETE FROM event_attendees WHERE tenant = $1 AND mailbox = $2 AND event_id = $3`, tenant, mailbox, eventID); err != nil {
		return fmt.Errorf("clearing attendees: %w", err)
	}
	for i, a := range attendees {
		if _, err := tx.ExecContext(ctx, `
			INSERT INTO event_attendees (tenant, mailbox, event_id, position, name, address, attendee_type, response, responded_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
			tenant, mailbox, eventID, i, a.Name, a.Address, string(a.Type), string(a.Response), s.t(a.RespondedAt)); err != nil {
			return fmt.Errorf("saving attendee %d of %d: %w", i+1, len(attendees), err)
		}
	}
	return nil
}

func (s *sqlStore) ApplyContacts(ctx context.Context, page ContactsPage) (Counts, error) {
	what := fmt.Sprintf("applying contacts page for tenant %q mailbox %q", page.Tenant, page.Mailbox)
	ids := make([]string, len(page.Upserts))
	for i, c := range page.Upserts {
		ids[i] = c.ID
	}
	if err := checkPage(what, page.Next, map[string]string{"Tenant": page.Tenant, "Mailbox": page.Mailbox}, ids, page.Removed); err != nil {
		return Counts{}, err
	}
	rows := make([]row, len(page.Upserts))
	for i, c := range page.Upserts {
		if err := sameOrEmpty(what, "Mailbox", c.Mailbox, page.Mailbox, i); err != nil {
			return Counts{}, err
		}
		c.Mailbox = page.Mailbox
		c.EmailAddresses, c.Phones = emptyToNil(c.EmailAddresses), emptyToNil(c.Phones)
		fp, err := fingerprint(c)
		if err != nil {
			return Counts{}, err
		}
		emails, err := jsonText(c.EmailAddresses)
		if err != nil {
			return Counts{}, err
		}
		phones, err := jsonText(c.Phones)
		if err != nil {
			return Counts{}, err
		}
		rows[i] = row{id: c.ID, fingerprint: fp, values: []any{c.DisplayName, emails, c.CompanyName, c.JobTitle, phones}}
	}
	scope := []any{page.Tenant, page.Mailbox}
	var counts Counts
	err := s.inTx(ctx, what, func(tx *sql.Tx) error {
		counts = Counts{}
		if err := s.ensureTenant(ctx, tx, page.Tenant); err != nil {
			return err
		}
		c, err := s.upsertRows(ctx, tx, contactsTable, scope, page.Mailbox, rows, nil)
		if err != nil {
			return err
		}
		counts.Add(c)
		if c, err = s.deleteRows(ctx, tx, contactsTable, scope, page.Mailbox, page.Removed, ""); err != nil {
			return err
		}
		counts.Add(c)
		return s.saveCursor(ctx, tx, domain.CursorKey{Tenant: page.Tenant, Mailbox: page.Mailbox, Kind: domain.CursorContacts, Scope: page.Scope}, page.Next)
	})
	return counts, err
}

func (s *sqlStore) ApplyMailboxSettings(ctx context.Context, tenant string, ms domain.MailboxSettings) (Counts, error) {
	what := fmt.Sprintf("applying mailbox settings for tenant %q mailbox %q", tenant, ms.Mailbox)
	if tenant == "" || ms.Mailbox == "" {
		return Counts{}, fmt.Errorf("store: %s: %w: tenant and settings.Mailbox are required", what, ErrInvalidPage)
	}
	ms = normSettings(ms)
	fp, err := fingerprint(ms)
	if err != nil {
		return Counts{}, err
	}
	days, err := jsonText(ms.WorkingHours.Days)
	if err != nil {
		return Counts{}, err
	}
	r := row{id: ms.Mailbox, fingerprint: fp, values: []any{
		ms.TimeZone, days, ms.WorkingHours.StartTime, ms.WorkingHours.EndTime, ms.WorkingHours.TimeZone,
		string(ms.AutomaticReplies.Status), ms.AutomaticReplies.ExternalAudience,
		s.t(ms.AutomaticReplies.ScheduledStart), s.t(ms.AutomaticReplies.ScheduledEnd),
	}}
	var counts Counts
	err = s.inTx(ctx, what, func(tx *sql.Tx) error {
		if err := s.ensureTenant(ctx, tx, tenant); err != nil {
			return err
		}
		var err error
		counts, err = s.upsertRows(ctx, tx, settingsTable, []any{tenant}, ms.Mailbox, []row{r}, nil)
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
			INSERT INTO sync_cursors (tenant, mailbox, kind, scope, token, complete, resyncs, updated_at)
			VALUES ($1, $2, $3, $4, '', $5, 1, $6)
			ON CONFLICT (tenant, mailbox, kind, scope) DO UPDATE SET
				token = '', complete = excluded.complete, resyncs = sync_cursors.resyncs + 1, updated_at = excluded.updated_at`,
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
