package graphsim

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// LargeSeed describes a large generated tenant for benchmarks and scale
// tests: Mailboxes users (user00000@domain, ...; a ten-wide management
// tree), each with MessagesPerMailbox messages spread round-robin over
// Folders message folders (1: inbox; 2: + sentitems; 3: + a custom
// "Projects" folder under the inbox; more: further custom folders),
// EventsPerMailbox single events they organize (one external attendee,
// every fifth online) and ContactsPerMailbox contacts. Everything is
// derived from the inputs, so the same LargeSeed builds the same tenant.
type LargeSeed struct {
	TenantID           string    `json:"tenantId"` // default: derived from Mailboxes
	ClientID           string    `json:"clientId"` // default: derived
	Secret             string    `json:"secret"`   // default: derived
	Domain             string    `json:"domain"`   // default "large.example"
	Roles              []string  `json:"roles"`    // default: the demo app's roles
	Mailboxes          int       `json:"mailboxes"`
	Folders            int       `json:"folders"` // default 3
	MessagesPerMailbox int       `json:"messagesPerMailbox"`
	EventsPerMailbox   int       `json:"eventsPerMailbox"`
	ContactsPerMailbox int       `json:"contactsPerMailbox"`
	Base               time.Time `json:"base"` // newest message time; default 2025-06-02T08:00:00Z
}

var largeSubjects = []string{
	"Quarterly planning", "Re: Customer escalation", "Expense report approved", "Lunch on Thursday?",
	"Review the Q3 forecast", "Offsite logistics", "FW: Contract renewal", "Build pipeline is green",
	"Security training due", "Standup notes", "Invoice from Fabrikam", "Re: Design review",
}

var largeBodies = func() []string {
	out := make([]string, len(largeSubjects))
	for i, s := range largeSubjects {
		out[i] = "Hello,\n\n" + s + " - details inside.\n\nThanks"
	}
	return out
}()

// SeedLarge builds and installs a LargeSeed tenant (replacing one with the
// same ID) and returns its app's credentials. It builds state directly,
// without per-message seeds: 200 mailboxes x 2,000 messages take about a
// second or two.
func (s *Server) SeedLarge(ls LargeSeed) (DemoCredentials, error) {
	if ls.Mailboxes < 1 {
		return DemoCredentials{}, errors.New("graphsim: LargeSeed.Mailboxes must be at least 1")
	}
	if ls.MessagesPerMailbox < 0 || ls.EventsPerMailbox < 0 || ls.ContactsPerMailbox < 0 || ls.Folders < 0 {
		return DemoCredentials{}, errors.New("graphsim: LargeSeed counts must not be negative")
	}
	if ls.Folders == 0 {
		ls.Folders = 3
	}
	if ls.Domain == "" {
		ls.Domain = "large.example"
	}
	if ls.TenantID == "" {
		ls.TenantID = deterministicGUID("large", "tenant", fmt.Sprint(ls.Mailboxes))
	}
	if ls.ClientID == "" {
		ls.ClientID = deterministicGUID("large", "app", ls.TenantID)
	}
	if ls.Secret == "" {
		ls.Secret = "sim~large-" + deterministicGUID("large", "secret", ls.TenantID)[:18]
	}
	if ls.Roles == nil {
		ls.Roles = []string{"User.Read.All", "Mail.ReadBasic.All", "Mail.Send", "GroupMember.Read.All", "Calendars.Read", "Contacts.Read", "MailboxSettings.Read"}
	}
	if ls.Base.IsZero() {
		ls.Base = time.Date(2025, 6, 2, 8, 0, 0, 0, time.UTC)
	}
	t, err := buildTenant(TenantSeed{
		TenantID: ls.TenantID, DisplayName: "Large tenant (simulated)", Domain: ls.Domain,
		Apps: []AppSeed{{ClientID: ls.ClientID, DisplayName: "outlookflow large", Secrets: []SecretSeed{{Value: ls.Secret}}, GrantedRoles: ls.Roles}},
	})
	if err != nil {
		return DemoCredentials{}, err
	}
	t.users = make([]*user, 0, ls.Mailboxes)
	for i := 0; i < ls.Mailboxes; i++ {
		nick := fmt.Sprintf("user%05d", i)
		us := UserSeed{ID: deterministicGUID("large", ls.TenantID, nick), DisplayName: fmt.Sprintf("User %05d", i),
			GivenName: "User", Surname: fmt.Sprintf("%05d", i), Mail: nick + "@" + ls.Domain, UserPrincipalName: nick + "@" + ls.Domain,
			JobTitle: "Employee", Department: fmt.Sprintf("Department %d", i%20)}
		if i > 0 {
			us.ManagerID = deterministicGUID("large", ls.TenantID, fmt.Sprintf("user%05d", (i-1)/10))
		}
		t.users = append(t.users, newUserFromSeed(ls.TenantID, us))
	}
	ordered := append([]*user(nil), t.users...) // creation order, before reindex sorts by id
	t.reindex()

	for i, u := range ordered {
		folders := make([]*folder, 0, ls.Folders)
		folders = append(folders, u.folderByKey("inbox"))
		if ls.Folders > 1 {
			folders = append(folders, u.folderByKey("sentitems"))
		}
		for k := 2; k < ls.Folders; k++ {
			name := "Projects"
			if k > 2 {
				name = fmt.Sprintf("Projects %d", k-1)
			}
			f, err := t.addSeedFolder(u, FolderSeed{DisplayName: name, Parent: "inbox"})
			if err != nil {
				return DemoCredentials{}, err
			}
			folders = append(folders, f)
		}
		self := recipient{Name: u.displayName, Address: u.mail}
		toSelf := []recipient{self}
		toSelf = toSelf[:1:1] // appends reallocate: the slice is shared by every message
		u.messages = make([]*message, 0, ls.MessagesPerMailbox)
		u.msgByID = make(map[string]*message, ls.MessagesPerMailbox)
		block := make([]message, ls.MessagesPerMailbox) // one allocation per mailbox
		conv := ""
		for k := 0; k < ls.MessagesPerMailbox; k++ {
			if k%3 == 0 { // three messages a conversation
				conv = outlookID("conversation", t.id, u.id, fmt.Sprint(k/3))
			}
			other := ordered[(i+1+k%7)%len(ordered)]
			peer := recipient{Name: other.displayName, Address: other.mail}
			f := folders[k%len(folders)]
			received := ls.Base.Add(-time.Duration(k*37+i) * time.Minute)
			m := &block[k]
			t.seq++
			key := fmt.Sprint(k)
			*m = message{
				id: outlookID("message", t.id, u.id, key), seq: t.seq, folder: f,
				subject: largeSubjects[k%len(largeSubjects)], bodyType: "text", bodyContent: largeBodies[k%len(largeBodies)],
				from: peer, to: toSelf, receivedAt: received, sentAt: received.Add(-2 * time.Second),
				createdAt: received, modifiedAt: received, isRead: k%3 != 0, importance: "normal",
				conversationID: conv,
				internetMsgID:  "<" + deterministicGUID("imid", t.id, u.id, key) + "@" + ls.Domain + ">",
				inferenceClass: "focused", flagStatus: "notFlagged",
			}
			if f.wellKnown == "sentitems" {
				m.from, m.to = self, []recipient{peer}
			}
			if k%11 == 0 {
				m.importance = "high"
			}
			if k%13 == 0 {
				m.flagStatus = "flagged"
			}
			if k%17 == 0 {
				m.hasAttachments = true
			}
			u.messages = append(u.messages, m)
			u.msgByID[m.id] = m
		}
		for k := 0; k < ls.EventsPerMailbox; k++ {
			start := ls.Base.Truncate(24*time.Hour).AddDate(0, 0, k/4-ls.EventsPerMailbox/8).Add(time.Duration(9+2*(k%4)) * time.Hour)
			if _, err := t.addEvent(EventSeed{Organizer: u.id, Subject: fmt.Sprintf("Meeting %d", k), Start: start, End: start.Add(time.Hour),
				IsOnlineMeeting: k%5 == 0, Attendees: []EventAttendeeSeed{{Address: fmt.Sprintf("guest%d@partner.example", k%10), Response: "accepted"}}}, 0); err != nil {
				return DemoCredentials{}, err
			}
		}
		for k := 0; k < ls.ContactsPerMailbox; k++ {
			g := fmt.Sprintf("Contact%d", k)
			if _, err := t.addContact(u, ContactSeed{GivenName: g, Surname: "Partner", Emails: []string{strings.ToLower(g) + "@partner.example"}}, fmt.Sprint(k), 0); err != nil {
				return DemoCredentials{}, err
			}
		}
	}
	s.installTenant(t)
	return DemoCredentials{TenantID: ls.TenantID, ClientID: ls.ClientID, ClientSecret: ls.Secret}, nil
}

// installTenant replaces the tenant with t's ID (and domain).
func (s *Server) installTenant(t *tenant) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, old := range s.tenants {
		if strings.EqualFold(old.id, t.id) {
			delete(s.tenants, k)
		}
	}
	s.tenants[strings.ToLower(t.id)] = t
	if t.domain != "" {
		s.tenants[t.domain] = t
	}
}
