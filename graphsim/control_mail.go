package graphsim

import (
	"errors"
	"fmt"
	"strings"
)

// Control operations on mail folders and messages, for tests and the demo
// to change a mailbox while a sync runs. Each change shows up in the next
// mailFolders/delta and per-folder message delta round.

// MessageUpdate changes a message in place; nil fields are left alone.
type MessageUpdate struct {
	IsRead     *bool     `json:"isRead,omitempty"`
	Importance *string   `json:"importance,omitempty"` // low | normal | high
	Categories *[]string `json:"categories,omitempty"`
	FlagStatus *string   `json:"flagStatus,omitempty"` // notFlagged | flagged | complete
	Subject    *string   `json:"subject,omitempty"`
}

// UpdateMessage changes a message in place (as a PATCH would); its folder's
// delta links then report it as updated.
func (s *Server) UpdateMessage(tenantID, userIDOrUPN, messageID string, up MessageUpdate) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, _, m, err := s.tenantUserMessage(tenantID, userIDOrUPN, messageID)
	if err != nil {
		return err
	}
	if up.Importance != nil {
		switch imp := strings.ToLower(*up.Importance); imp {
		case "low", "normal", "high":
			m.importance = imp
		default:
			return fmt.Errorf("graphsim: importance %q must be low, normal or high", *up.Importance)
		}
	}
	if up.FlagStatus != nil {
		switch *up.FlagStatus {
		case "notFlagged", "flagged", "complete":
			m.flagStatus = *up.FlagStatus
		default:
			return fmt.Errorf("graphsim: flagStatus %q must be notFlagged, flagged or complete", *up.FlagStatus)
		}
	}
	if up.IsRead != nil {
		m.isRead = *up.IsRead
	}
	if up.Categories != nil {
		m.categories = append([]string{}, (*up.Categories)...)
	}
	if up.Subject != nil {
		m.subject = *up.Subject
	}
	m.changeVersion++
	m.modifiedAt = timeNow()
	m.changedSeq = t.nextChange()
	touchFolder(m.folder, m.changedSeq)
	return nil
}

// CreateFolder creates a custom mail folder under parentKey (a well-known
// name or folder ID; "" = top level) and returns its ID. mailFolders/delta
// links report it as new.
func (s *Server) CreateFolder(tenantID, userIDOrUPN, parentKey, displayName string, hidden bool) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, u, err := s.tenantUser(tenantID, userIDOrUPN)
	if err != nil {
		return "", err
	}
	if parentKey != "" && u.folderBySeedKey(parentKey) == nil {
		return "", fmt.Errorf("%w: folder %q", ErrNotFound, parentKey)
	}
	if parentKey != "" {
		parentKey = u.folderBySeedKey(parentKey).id
	}
	f, err := t.addSeedFolder(u, FolderSeed{DisplayName: displayName, Parent: parentKey, Hidden: hidden,
		ID: outlookID("folder", t.id, u.id, "created", fmt.Sprint(t.changeSeq+1), randomGUID())})
	if err != nil {
		return "", fmt.Errorf("graphsim: %w", err)
	}
	f.createdSeq = t.nextChange()
	if p := u.folderByID(f.parentID); p != nil {
		p.changedSeq = f.createdSeq // its childFolderCount changed
	}
	return f.id, nil
}

// RenameFolder changes a custom folder's display name.
func (s *Server) RenameFolder(tenantID, userIDOrUPN, folderKey, displayName string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, _, f, err := s.tenantUserFolder(tenantID, userIDOrUPN, folderKey)
	if err != nil {
		return err
	}
	if strings.TrimSpace(displayName) == "" {
		return errors.New("graphsim: empty displayName")
	}
	f.display = displayName
	f.changedSeq = t.nextChange()
	return nil
}

// MoveFolder moves a custom folder (and everything under it) under
// newParentKey ("" = top level). Folder IDs do not change.
func (s *Server) MoveFolder(tenantID, userIDOrUPN, folderKey, newParentKey string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, u, f, err := s.tenantUserFolder(tenantID, userIDOrUPN, folderKey)
	if err != nil {
		return err
	}
	if f.wellKnown != "" {
		return fmt.Errorf("graphsim: well-known folder %q cannot be moved", f.wellKnown)
	}
	parentID := u.rootID
	if newParentKey != "" {
		p := u.folderBySeedKey(newParentKey)
		if p == nil {
			return fmt.Errorf("%w: folder %q", ErrNotFound, newParentKey)
		}
		for x := p; x != nil; x = u.folderByID(x.parentID) {
			if x == f {
				return errors.New("graphsim: a folder cannot move under itself")
			}
		}
		parentID = p.id
	}
	seq := t.nextChange()
	touchFolder(u.folderByID(f.parentID), seq)
	touchFolder(u.folderByID(parentID), seq)
	f.parentID = parentID
	f.changedSeq = seq
	return nil
}

// DeleteFolder deletes a custom folder with its child folders and their
// messages. mailFolders/delta links report each folder as removed; message
// delta links of those folders then answer for a folder that is gone.
func (s *Server) DeleteFolder(tenantID, userIDOrUPN, folderKey string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, u, f, err := s.tenantUserFolder(tenantID, userIDOrUPN, folderKey)
	if err != nil {
		return err
	}
	if f.wellKnown != "" {
		return fmt.Errorf("graphsim: well-known folder %q cannot be deleted", f.wellKnown)
	}
	seq := t.nextChange()
	doomed := map[*folder]bool{f: true}
	for changed := true; changed; {
		changed = false
		for _, x := range u.folders {
			if p := u.folderByID(x.parentID); p != nil && doomed[p] && !doomed[x] {
				doomed[x], changed = true, true
			}
		}
	}
	for _, m := range append([]*message(nil), u.messages...) {
		if doomed[m.folder] {
			u.removeMessage(m)
			u.msgTombstones = append(u.msgTombstones, tombstone{id: m.id, folderID: m.folder.id, seq: seq, addedSeq: m.folderSeq})
		}
	}
	touchFolder(u.folderByID(f.parentID), seq)
	kept := u.folders[:0:0]
	for _, x := range u.folders {
		if doomed[x] {
			u.folderTombstones = append(u.folderTombstones, tombstone{id: x.id, seq: seq, addedSeq: x.createdSeq})
			continue
		}
		kept = append(kept, x)
	}
	u.folders = kept
	return nil
}
