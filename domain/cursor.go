package domain

import (
	"fmt"
	"time"
)

// CursorKind names what a cursor walks.
type CursorKind string

const (
	CursorUsers    CursorKind = "users"
	CursorGroups   CursorKind = "groups"
	CursorFolders  CursorKind = "folders"
	CursorMessages CursorKind = "messages"
	CursorEvents   CursorKind = "events"
	CursorContacts CursorKind = "contacts"
)

// CursorKey identifies one cursor. Tenant-wide cursors (users, groups) have
// Mailbox "". Scope narrows a per-mailbox cursor: the folder ID for
// messages, the window key for events, "" where one cursor covers the
// mailbox.
type CursorKey struct {
	Tenant  string
	Mailbox string
	Kind    CursorKind
	Scope   string
}

func (k CursorKey) String() string {
	s := fmt.Sprintf("%s/%s", k.Tenant, k.Kind)
	if k.Mailbox != "" {
		s += " mailbox " + k.Mailbox
	}
	if k.Scope != "" {
		s += " scope " + k.Scope
	}
	return s
}

// Cursor is where a sync stopped. It is saved in the same transaction as the
// page of rows it follows, so it never runs ahead of the data.
type Cursor struct {
	CursorKey
	// Token is the Graph link that continues the sync: a nextLink while a
	// round is under way (Complete false), the deltaLink once it finished
	// (Complete true). "" means start from scratch.
	Token    string
	Complete bool
	// FromScratch is set while a round that started from scratch is under
	// way (Token a nextLink). That round ends with a sweep that needs all
	// its pages, so a sync that finds it interrupted starts it over rather
	// than resuming from Token.
	FromScratch bool
	// Resyncs counts how often this cursor was reset (an expired token, a
	// SyncStateNotFound, an operator's resync), for status and alerts.
	Resyncs   int
	UpdatedAt time.Time
}
