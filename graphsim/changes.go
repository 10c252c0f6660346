package graphsim

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// timeNow is the simulator's clock for changes, truncated to seconds as
// Graph's timestamps are.
func timeNow() time.Time { return time.Now().UTC().Truncate(time.Second) }

// Control operations that change the simulated world after seeding, so
// tests and the demo can produce changes for delta queries to report.

// UpsertUser adds a user to the tenant or, when a user with u.ID (or, with
// u.ID empty, u.UserPrincipalName) exists, replaces that user's directory
// properties with u's (empty fields clear them). A new user gets a mailbox
// with the well-known folders and u.Messages; an existing user's mailbox is
// left alone, and u.Messages must then be empty. With u.ID empty a new
// user's ID is derived from the tenant and userPrincipalName. The change
// shows up on users delta links issued before it.
func (s *Server) UpsertUser(tenantID string, u UserSeed) error {
	_, err := s.upsertUser(tenantID, u)
	return err
}

// userPropChanges lists the Graph properties that change when old takes
// us's values, for change tracking.
func userPropChanges(old *user, us UserSeed) []string {
	var props []string
	diff := func(a, b string, p ...string) {
		if a != b {
			props = append(props, p...)
		}
	}
	diff(old.displayName, us.DisplayName, "displayName")
	diff(old.givenName, us.GivenName, "givenName")
	diff(old.surname, us.Surname, "surname")
	diff(old.mail, us.Mail, "mail", "proxyAddresses", "imAddresses")
	diff(old.upn, us.UserPrincipalName, "userPrincipalName", "mailNickname", "identities")
	diff(old.jobTitle, us.JobTitle, "jobTitle")
	diff(old.department, us.Department, "department")
	diff(old.managerID, us.ManagerID, "manager")
	return props
}

func (s *Server) upsertUser(tenantID string, us UserSeed) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tenants[strings.ToLower(tenantID)]
	if t == nil {
		return "", fmt.Errorf("%w: tenant %q", ErrNotFound, tenantID)
	}
	if us.ID == "" {
		switch {
		case us.UserPrincipalName == "":
			return "", errors.New("graphsim: user needs an ID or a userPrincipalName")
		case t.lookupUser(us.UserPrincipalName) != nil:
			us.ID = t.lookupUser(us.UserPrincipalName).id
		default:
			us.ID = deterministicGUID("user", t.id, strings.ToLower(us.UserPrincipalName))
		}
	}
	if strings.Contains(us.ID, "/") {
		return "", fmt.Errorf("graphsim: user ID %q must not contain '/'", us.ID)
	}
	existing := t.lookupUser(us.ID)
	if existing != nil && !strings.EqualFold(existing.id, us.ID) {
		return "", fmt.Errorf("graphsim: user ID %q is another user's userPrincipalName", us.ID)
	}
	if us.UserPrincipalName != "" {
		if other := t.lookupUser(us.UserPrincipalName); other != nil && other != existing {
			return "", fmt.Errorf("graphsim: duplicate user id or userPrincipalName %q", us.UserPrincipalName)
		}
	}
	if us.ManagerID != "" {
		m := t.lookupUser(us.ManagerID)
		if m == nil || strings.EqualFold(m.id, us.ID) {
			return "", fmt.Errorf("graphsim: user %q has unknown manager %q", us.ID, us.ManagerID)
		}
		us.ManagerID = m.id
	}

	if existing == nil {
		u := newUserFromSeed(t.id, us)
		u.createdSeq = t.nextChange()
		t.users = append(t.users, u)
		t.reindex()
		for _, fs := range us.Folders {
			f, err := t.addSeedFolder(u, fs)
			if err != nil {
				t.users = removeUser(t.users, u)
				t.reindex()
				return "", fmt.Errorf("graphsim: user %q: %w", us.ID, err)
			}
			f.createdSeq = u.createdSeq
		}
		for i, ms := range us.Messages {
			if _, err := t.addSeedMessage(u, i, ms); err != nil {
				t.users = removeUser(t.users, u)
				t.reindex()
				return "", fmt.Errorf("graphsim: user %q message %d: %w", us.ID, i, err)
			}
		}
		return u.id, nil
	}
	if len(us.Messages) > 0 || len(us.Folders) > 0 {
		return "", fmt.Errorf("graphsim: user %q exists: folders and messages can only come with a new user", us.ID)
	}
	if props := userPropChanges(existing, us); len(props) > 0 {
		seq := t.nextChange()
		if existing.propSeq == nil {
			existing.propSeq = map[string]int{}
		}
		for _, p := range props {
			existing.propSeq[p] = seq
		}
	}
	existing.displayName, existing.givenName, existing.surname = us.DisplayName, us.GivenName, us.Surname
	existing.mail, existing.upn, existing.jobTitle, existing.department = us.Mail, us.UserPrincipalName, us.JobTitle, us.Department
	if existing.managerID != us.ManagerID {
		existing.prevManagerID = existing.managerID
	}
	existing.managerID = us.ManagerID
	t.reindex()
	return existing.id, nil
}

// DeleteUser removes a user (by ID or userPrincipalName) and their mailbox.
// Users delta links issued before it report the user as
// {"id","@removed":{"reason":"deleted"}}; users who had them as manager
// are left without one.
func (s *Server) DeleteUser(tenantID, userIDOrUPN string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tenants[strings.ToLower(tenantID)]
	if t == nil {
		return fmt.Errorf("%w: tenant %q", ErrNotFound, tenantID)
	}
	u := t.lookupUser(userIDOrUPN)
	if u == nil {
		return fmt.Errorf("%w: user %q", ErrNotFound, userIDOrUPN)
	}
	t.users = removeUser(t.users, u)
	t.reindex()
	t.userTombstones = append(t.userTombstones, tombstone{id: u.id, seq: t.nextChange(), addedSeq: u.createdSeq})
	seq := t.changeSeq
	for _, g := range t.groups {
		if g.hasMember(u.id) {
			var ms []memberRef
			for _, m := range g.members {
				if m.id != u.id {
					ms = append(ms, m)
				}
			}
			setMembers(g, ms, seq)
		}
	}
	for _, o := range t.users {
		if o.managerID == u.id {
			o.prevManagerID, o.managerID = o.managerID, ""
			if o.propSeq == nil {
				o.propSeq = map[string]int{}
			}
			o.propSeq["manager"] = seq
		}
	}
	return nil
}

func removeUser(users []*user, u *user) []*user {
	out := users[:0]
	for _, x := range users {
		if x != u {
			out = append(out, x)
		}
	}
	return out
}

// DeliverMessage puts a new message into a user's mailbox (m.Folder, default
// the inbox), as if it had just arrived, and returns its ID. A zero
// ReceivedAt means now. Delta links of that folder report it as created.
func (s *Server) DeliverMessage(tenantID, userIDOrUPN string, m MessageSeed) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, u, err := s.tenantUser(tenantID, userIDOrUPN)
	if err != nil {
		return "", err
	}
	if m.ID != "" && u.messageIn(nil, m.ID) != nil {
		return "", fmt.Errorf("graphsim: user %q already has message %q", u.id, m.ID)
	}
	if m.ReceivedAt.IsZero() {
		m.ReceivedAt = timeNow()
	}
	if m.ID == "" {
		m.ID = outlookID("message", t.id, u.id, "delivered", fmt.Sprint(t.seq+1), randomGUID())
	}
	msg, err := t.addSeedMessage(u, len(u.messages), m)
	if err != nil {
		return "", fmt.Errorf("graphsim: deliver to %q: %w", userIDOrUPN, err)
	}
	// The seed derives the Internet message ID and the conversation from
	// the message's position, which a deleted message frees: a delivered
	// message gets its own, as every real message has, so it is never
	// taken for an earlier one (a recipe's moved-message check, a reply
	// wait's conversation).
	msg.internetMsgID = fmt.Sprintf("<%s@%s>", randomGUID(), hostOf(m.From, t.domain))
	if m.ConversationID == "" {
		msg.conversationID = outlookID("conversation", t.id, u.id, "delivered", msg.id)
	}
	msg.folderSeq = t.nextChange()
	touchFolder(msg.folder, msg.folderSeq)
	return msg.id, nil
}

// DeleteMessage removes a message from a user's mailbox for good. Delta
// links of its folder report it as {"id","@removed":{"reason":"deleted"}}.
func (s *Server) DeleteMessage(tenantID, userIDOrUPN, messageID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, u, m, err := s.tenantUserMessage(tenantID, userIDOrUPN, messageID)
	if err != nil {
		return err
	}
	u.removeMessage(m)
	seq := t.nextChange()
	u.msgTombstones = append(u.msgTombstones, tombstone{id: m.id, folderID: m.folder.id, seq: seq, addedSeq: m.folderSeq})
	touchFolder(m.folder, seq)
	return nil
}

// MoveMessage moves a message to another folder (id or well-known name)
// and returns its new ID: as with Graph's move, the message gets a new id.
// Delta links of the old folder report the old id as removed, those of the
// new folder the new id as created.
func (s *Server) MoveMessage(tenantID, userIDOrUPN, messageID, folderKey string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, u, m, err := s.tenantUserMessage(tenantID, userIDOrUPN, messageID)
	if err != nil {
		return "", err
	}
	f := u.folderByKey(folderKey)
	if f == nil {
		return "", fmt.Errorf("%w: folder %q", ErrNotFound, folderKey)
	}
	if f == m.folder {
		return m.id, nil
	}
	seq := t.nextChange()
	u.msgTombstones = append(u.msgTombstones, tombstone{id: m.id, folderID: m.folder.id, seq: seq, addedSeq: m.folderSeq})
	touchFolder(m.folder, seq)
	touchFolder(f, seq)
	u.renameMessage(m, outlookID("message", t.id, u.id, "moved", m.id, fmt.Sprint(seq)))
	m.folder = f
	m.folderSeq = seq
	m.changeVersion++
	return m.id, nil
}

// ExpireDeltaTokens forgets every delta and skip token issued for the
// tenant, as when Exchange drops sync state from its cache: the next call
// with any of them answers SyncStateNotFound, and clients must start a new
// initial round.
func (s *Server) ExpireDeltaTokens(tenantID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tenants[strings.ToLower(tenantID)] == nil {
		return fmt.Errorf("%w: tenant %q", ErrNotFound, tenantID)
	}
	s.dropSyncStates(tenantID)
	return nil
}

// SetSyncStateNotFoundStatus sets the HTTP status of SyncStateNotFound
// errors: 410 (the default) or 400.
func (s *Server) SetSyncStateNotFoundStatus(status int) error {
	if status != http.StatusGone && status != http.StatusBadRequest {
		return fmt.Errorf("graphsim: SyncStateNotFound status %d must be 410 or 400", status)
	}
	s.mu.Lock()
	s.syncStatus = status
	s.mu.Unlock()
	return nil
}

// tenantUser resolves a tenant and user for a control call. Callers hold s.mu.
func (s *Server) tenantUser(tenantID, userIDOrUPN string) (*tenant, *user, error) {
	t := s.tenants[strings.ToLower(tenantID)]
	if t == nil {
		return nil, nil, fmt.Errorf("%w: tenant %q", ErrNotFound, tenantID)
	}
	u := t.lookupUser(userIDOrUPN)
	if u == nil {
		return nil, nil, fmt.Errorf("%w: user %q", ErrNotFound, userIDOrUPN)
	}
	return t, u, nil
}

// tenantUserMessage is tenantUser plus the message messageID names, in any
// folder, for the control calls that change one message. Callers hold s.mu.
func (s *Server) tenantUserMessage(tenantID, userIDOrUPN, messageID string) (*tenant, *user, *message, error) {
	t, u, err := s.tenantUser(tenantID, userIDOrUPN)
	if err != nil {
		return nil, nil, nil, err
	}
	m := u.messageIn(nil, messageID)
	if m == nil {
		return nil, nil, nil, fmt.Errorf("%w: message %q of user %q", ErrNotFound, messageID, userIDOrUPN)
	}
	return t, u, m, nil
}

// tenantUserFolder is tenantUser plus the mail folder folderKey names (a
// well-known name, folder ID or custom folder's display name, as
// folderBySeedKey resolves it), for the control calls that change one
// folder. Callers hold s.mu.
func (s *Server) tenantUserFolder(tenantID, userIDOrUPN, folderKey string) (*tenant, *user, *folder, error) {
	t, u, err := s.tenantUser(tenantID, userIDOrUPN)
	if err != nil {
		return nil, nil, nil, err
	}
	f := u.folderBySeedKey(folderKey)
	if f == nil {
		return nil, nil, nil, fmt.Errorf("%w: folder %q", ErrNotFound, folderKey)
	}
	return t, u, f, nil
}
