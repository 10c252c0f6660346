package graphsim

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// Snapshot: the simulator's whole state for one tenant, in the terms Graph
// serves it, so a sync test can compare a store with it field by field.

// TenantSnapshot is a tenant's state. Users and groups are sorted by id.
type TenantSnapshot struct {
	TenantID  string
	Users     []UserSnapshot
	Groups    []GroupSnapshot
	Mailboxes map[string]*MailboxSnapshot // by user id; users with a mailbox only
}

// UserSnapshot is a directory user.
type UserSnapshot struct {
	ID, UserPrincipalName, Mail, DisplayName, GivenName, Surname, JobTitle, Department string
	ManagerID                                                                          string // "" without a manager
	AccountEnabled                                                                     bool
}

// GroupSnapshot is a group with its direct members.
type GroupSnapshot struct {
	ID, DisplayName, Mail, MailNickname string
	GroupTypes                          []string
	MailEnabled, SecurityEnabled        bool
	Members                             []MemberSnapshot // direct members, in membership order
}

// MemberSnapshot is a direct member of a group.
type MemberSnapshot struct {
	ID      string
	IsGroup bool
}

// MailboxSnapshot is one mailbox's Outlook state.
type MailboxSnapshot struct {
	Folders         []FolderSnapshot  // every mail folder, hidden ones included
	Messages        []MessageSnapshot // every message, newest first
	Events          []EventSnapshot   // calendar instances (single, occurrences, exceptions) in the window asked for, earliest first
	Contacts        []ContactSnapshot
	ContactFolders  []FolderSnapshot // the default Contacts folder first
	MailboxSettings MailboxSettings
}

// FolderSnapshot is a mail or contact folder.
type FolderSnapshot struct {
	ID, ParentFolderID, DisplayName string
	WellKnownName                   string // "" for custom folders
	Hidden                          bool
}

// Address is a recipient as Graph's emailAddress carries it.
type Address struct{ Name, Address string }

// MessageSnapshot holds every metadata field Graph serves for a message.
type MessageSnapshot struct {
	ID, FolderID, ConversationID, InternetMessageID string
	From, Sender                                    Address
	To, Cc, Bcc                                     []Address
	Subject                                         string
	ReceivedDateTime, SentDateTime                  time.Time
	Importance                                      string
	IsRead, IsDraft, HasAttachments                 bool
	FlagStatus                                      string // notFlagged | flagged | complete
	Categories                                      []string
	BodyPreview                                     string
}

// AttendeeSnapshot is an event attendee with its response.
type AttendeeSnapshot struct {
	Address  Address
	Type     string // required | optional | resource
	Response string
}

// EventSnapshot is one calendar instance as calendarView serves it.
type EventSnapshot struct {
	ID, ICalUID, Subject       string
	Start, End                 time.Time // UTC
	Organizer                  Address
	Attendees                  []AttendeeSnapshot
	IsCancelled, IsOnline      bool
	IsAllDay                   bool
	Type                       string // singleInstance | occurrence | exception
	SeriesMasterID             string
	JoinURL, Location, ShowAs  string
	ResponseStatus, Importance string
}

// ContactSnapshot is a personal contact.
type ContactSnapshot struct {
	ID, FolderID, DisplayName, GivenName, Surname, CompanyName, JobTitle, MobilePhone string
	Emails                                                                            []Address
	BusinessPhones, Categories                                                        []string
}

func addresses(rs []recipient) []Address {
	out := make([]Address, 0, len(rs))
	for _, r := range rs {
		out = append(out, Address(r))
	}
	return out
}

// Snapshot returns a tenant's state. Events are the calendar instances
// overlapping [from, to) (zero values: every instance of every event, series
// expanded up to their numbered end).
func (s *Server) Snapshot(tenantID string, from, to time.Time) (*TenantSnapshot, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tenants[strings.ToLower(tenantID)]
	if t == nil {
		return nil, fmt.Errorf("%w: tenant %q", ErrNotFound, tenantID)
	}
	if to.IsZero() {
		to = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	snap := &TenantSnapshot{TenantID: t.id, Mailboxes: map[string]*MailboxSnapshot{}}
	for _, u := range t.users {
		snap.Users = append(snap.Users, UserSnapshot{ID: u.id, UserPrincipalName: u.upn, Mail: u.mail, DisplayName: u.displayName,
			GivenName: u.givenName, Surname: u.surname, JobTitle: u.jobTitle, Department: u.department, ManagerID: u.managerID, AccountEnabled: true})
		if u.mail == "" {
			continue
		}
		mb := &MailboxSnapshot{MailboxSettings: u.mailboxSettingsOf()}
		for _, f := range u.folders {
			mb.Folders = append(mb.Folders, FolderSnapshot{ID: f.id, ParentFolderID: f.parentID, DisplayName: f.display, WellKnownName: f.wellKnown, Hidden: f.hidden})
		}
		for _, m := range u.sortedMessages(nil) {
			ms := MessageSnapshot{ID: m.id, ConversationID: m.conversationID, InternetMessageID: m.internetMsgID,
				From: Address(m.from), Sender: Address(m.from), To: addresses(m.to), Cc: addresses(m.cc), Bcc: addresses(m.bcc),
				Subject: m.subject, ReceivedDateTime: m.receivedAt, SentDateTime: m.sentAt, Importance: m.importance,
				IsRead: m.isRead, IsDraft: m.isDraft, HasAttachments: m.hasAttachments, FlagStatus: m.flagStatus,
				Categories: append([]string{}, m.categories...), BodyPreview: preview(m.textBody())}
			if m.folder != nil {
				ms.FolderID = m.folder.id
			}
			mb.Messages = append(mb.Messages, ms)
		}
		for _, in := range u.allInstances() {
			if !overlaps(in, from, to) {
				continue
			}
			e := in.ev
			es := EventSnapshot{ID: in.id, ICalUID: e.iCalUID, Subject: e.subject, Start: in.start, End: in.end, Organizer: Address(e.organizer),
				IsCancelled: e.isCancelled, IsOnline: e.isOnline, IsAllDay: e.isAllDay, Type: in.kind, Location: e.location, ShowAs: e.showAs,
				ResponseStatus: e.responseStatus, Importance: e.importance}
			if e.isOnline {
				es.JoinURL = e.joinURL
			}
			switch in.kind {
			case "occurrence":
				es.SeriesMasterID = e.id
			case "exception":
				es.SeriesMasterID = e.seriesMasterID
			}
			for _, a := range e.attendees {
				es.Attendees = append(es.Attendees, AttendeeSnapshot{Address: Address(a.who), Type: a.typ, Response: a.response})
			}
			mb.Events = append(mb.Events, es)
		}
		mb.ContactFolders = append(mb.ContactFolders, FolderSnapshot{ID: u.contactFolderID, ParentFolderID: u.rootID, DisplayName: "Contacts", WellKnownName: "contacts"})
		for _, f := range u.contactFolders {
			mb.ContactFolders = append(mb.ContactFolders, FolderSnapshot{ID: f.id, ParentFolderID: f.parentID, DisplayName: f.display})
		}
		for _, c := range u.contacts {
			cs := ContactSnapshot{ID: c.id, FolderID: c.folderID, DisplayName: c.displayName, GivenName: c.givenName, Surname: c.surname,
				CompanyName: c.companyName, JobTitle: c.jobTitle, MobilePhone: c.mobilePhone, Emails: addresses(c.emails),
				BusinessPhones: append([]string{}, c.businessPhones...), Categories: append([]string{}, c.categories...)}
			mb.Contacts = append(mb.Contacts, cs)
		}
		snap.Mailboxes[u.id] = mb
	}
	for _, g := range t.groups {
		gs := GroupSnapshot{ID: g.id, DisplayName: g.displayName, Mail: g.mail, MailNickname: g.mailNickname,
			GroupTypes: append([]string{}, g.groupTypes...), MailEnabled: g.mailEnabled, SecurityEnabled: g.securityEnabled}
		for _, m := range g.members {
			gs.Members = append(gs.Members, MemberSnapshot{ID: m.id, IsGroup: m.isGroup})
		}
		snap.Groups = append(snap.Groups, gs)
	}
	sort.Slice(snap.Groups, func(i, j int) bool { return snap.Groups[i].ID < snap.Groups[j].ID })
	return snap, nil
}
