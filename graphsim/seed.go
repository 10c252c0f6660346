package graphsim

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
)

// TenantSeed describes one tenant's whole state. SeedTenant replaces the
// tenant wholesale, so a test can start from a known world.
type TenantSeed struct {
	TenantID    string      `json:"tenantId"` // GUID
	DisplayName string      `json:"displayName"`
	Domain      string      `json:"domain"` // e.g. "contoso.example"
	Apps        []AppSeed   `json:"apps"`
	Users       []UserSeed  `json:"users"`
	Groups      []GroupSeed `json:"groups"`
	Events      []EventSeed `json:"events"` // created in each organizer's calendar, copied to tenant attendees
}

// AppSeed is an app registration with its service principal in the tenant.
type AppSeed struct {
	ClientID     string       `json:"clientId"`
	DisplayName  string       `json:"displayName"`
	Secrets      []SecretSeed `json:"secrets"`
	GrantedRoles []string     `json:"grantedRoles"` // application permissions with admin consent, e.g. "User.Read.All"
	// Certificates are certificate credentials (public parts, PEM), for
	// token requests with a client assertion (client_assertion.go).
	Certificates []CertificateSeed `json:"certificates,omitempty"`
	// Delegated flows (identity_delegated.go): the redirect URIs an
	// authorization request may name (http loopback URIs match any port),
	// and "Allow public client flows" (device code, and redeeming codes
	// without a secret).
	RedirectURIs      []string `json:"redirectUris,omitempty"`
	AllowPublicClient bool     `json:"allowPublicClient,omitempty"`
}

// SecretSeed is a client secret; a zero ExpiresAt never expires.
type SecretSeed struct {
	Value     string    `json:"value"`
	ExpiresAt time.Time `json:"expiresAt"`
}

// UserSeed is a directory user with a mailbox.
type UserSeed struct {
	ID                string        `json:"id"`
	DisplayName       string        `json:"displayName"`
	GivenName         string        `json:"givenName"`
	Surname           string        `json:"surname"`
	Mail              string        `json:"mail"` // empty: the user has no mailbox
	UserPrincipalName string        `json:"userPrincipalName"`
	JobTitle          string        `json:"jobTitle"`
	Department        string        `json:"department"`
	ManagerID         string        `json:"managerId"`
	Folders           []FolderSeed  `json:"folders"`  // custom mail folders, created in order
	Messages          []MessageSeed `json:"messages"` // seeded into the inbox unless Folder says otherwise
	// MailboxSettings: nil gives Exchange's defaults (UTC, en-US, 08:00-17:00
	// Monday-Friday, automatic replies disabled).
	MailboxSettings *MailboxSettings `json:"mailboxSettings,omitempty"`
	ContactFolders  []string         `json:"contactFolders,omitempty"` // custom contact folders (display names) under the default Contacts folder
	Contacts        []ContactSeed    `json:"contacts,omitempty"`
}

// FolderSeed is a custom mail folder. Parent is a well-known name, a folder
// ID or the display name of an earlier custom folder; empty means top level
// (a child of msgfolderroot). ID is derived deterministically when empty.
type FolderSeed struct {
	ID          string `json:"id"`
	DisplayName string `json:"displayName"`
	Parent      string `json:"parent"`
	Hidden      bool   `json:"hidden"`
}

// MessageSeed is a message already in a mailbox when the tenant is seeded.
type MessageSeed struct {
	ID         string    `json:"id"` // optional; derived deterministically when empty
	Subject    string    `json:"subject"`
	BodyText   string    `json:"bodyText"`
	From       string    `json:"from"` // address
	To         []string  `json:"to"`
	ReceivedAt time.Time `json:"receivedAt"`
	IsRead     bool      `json:"isRead"`
	Importance string    `json:"importance"` // low|normal|high, default normal
	Folder     string    `json:"folder"`     // well-known name, folder ID or custom folder display name; default "inbox"
	Categories []string  `json:"categories"`
	Flagged    bool      `json:"flagged"`
	// ConversationID puts the message in an existing conversation (a
	// reply); "" starts a conversation of its own.
	ConversationID string `json:"conversationId,omitempty"`
	// Mentions are the addresses the message @-mentions (Graph beta's
	// message mentions). Beta's mentionsPreview.isMentioned is true for
	// the mailbox whose owner is among them.
	Mentions []string `json:"mentions,omitempty"`
}

// DemoCredentials are the client-credentials inputs for the demo tenant's app.
type DemoCredentials struct {
	TenantID     string `json:"tenantId"`
	ClientID     string `json:"clientId"`
	ClientSecret string `json:"clientSecret"`
}

// tenantIDPattern is what azidentity accepts as a tenant ID
// (validTenantID): letters, digits, '.' and '-'.
var tenantIDPattern = regexp.MustCompile(`^[A-Za-z0-9.-]+$`)

// buildTenant validates a seed and turns it into simulator state. It is
// deterministic: the same seed yields the same IDs.
func buildTenant(ts TenantSeed) (*tenant, error) {
	if !tenantIDPattern.MatchString(ts.TenantID) {
		return nil, fmt.Errorf("graphsim: tenant ID %q must be non-empty and use only letters, digits, '.' and '-'", ts.TenantID)
	}
	t := &tenant{
		id:          ts.TenantID,
		displayName: ts.DisplayName,
		domain:      strings.ToLower(ts.Domain),
		apps:        map[string]*app{},
	}
	if t.displayName == "" {
		t.displayName = ts.TenantID
	}
	for _, as := range ts.Apps {
		if as.ClientID == "" {
			return nil, errors.New("graphsim: app seed without ClientID")
		}
		key := strings.ToLower(as.ClientID)
		if _, dup := t.apps[key]; dup {
			return nil, fmt.Errorf("graphsim: duplicate app %q", as.ClientID)
		}
		a := &app{
			clientID:    as.ClientID,
			displayName: as.DisplayName,
			spID:        deterministicGUID("sp", ts.TenantID, key),
			roles:       append([]string(nil), as.GrantedRoles...),
			deleg:       newAppDelegation(as.RedirectURIs, as.AllowPublicClient),
		}
		if a.displayName == "" {
			a.displayName = as.ClientID
		}
		for _, s := range as.Secrets {
			if s.Value == "" {
				return nil, fmt.Errorf("graphsim: app %q has an empty secret", as.ClientID)
			}
			a.secrets = append(a.secrets, &secret{value: s.Value, expiresAt: s.ExpiresAt})
		}
		if err := a.addCertificates(as.Certificates); err != nil {
			return nil, err
		}
		t.apps[key] = a
	}
	seen := map[string]bool{}
	for _, us := range ts.Users {
		if us.ID == "" {
			return nil, errors.New("graphsim: user seed without ID")
		}
		if strings.Contains(us.ID, "/") {
			return nil, fmt.Errorf("graphsim: user ID %q must not contain '/'", us.ID)
		}
		for _, k := range []string{us.ID, us.UserPrincipalName} {
			if k == "" {
				continue
			}
			if seen[strings.ToLower(k)] {
				return nil, fmt.Errorf("graphsim: duplicate user id or userPrincipalName %q", k)
			}
			seen[strings.ToLower(k)] = true
		}
		t.users = append(t.users, newUserFromSeed(ts.TenantID, us))
	}
	t.reindex()
	for _, u := range t.users {
		if u.managerID != "" && t.lookupUser(u.managerID) == nil {
			return nil, fmt.Errorf("graphsim: user %q has unknown manager %q", u.id, u.managerID)
		}
	}
	t.reindexGroups()
	if err := t.seedGroups(ts.Groups); err != nil {
		return nil, err
	}
	for i, es := range ts.Events {
		if _, err := t.addEvent(es, 0); err != nil {
			return nil, fmt.Errorf("graphsim: event %d: %w", i, err)
		}
	}
	// Messages are added after all users exist so senders resolve to names.
	for _, us := range ts.Users {
		u := t.lookupUser(us.ID)
		for _, fs := range us.Folders {
			if _, err := t.addSeedFolder(u, fs); err != nil {
				return nil, fmt.Errorf("graphsim: user %q: %w", us.ID, err)
			}
		}
		for i, ms := range us.Messages {
			if _, err := t.addSeedMessage(u, i, ms); err != nil {
				return nil, fmt.Errorf("graphsim: user %q message %d: %w", us.ID, i, err)
			}
		}
		if us.MailboxSettings != nil {
			ms, err := us.MailboxSettings.normalized()
			if err != nil {
				return nil, fmt.Errorf("graphsim: user %q: %w", us.ID, err)
			}
			u.settings = &ms
		}
		for _, name := range us.ContactFolders {
			if _, err := t.addContactFolder(u, name, 0); err != nil {
				return nil, fmt.Errorf("graphsim: user %q: %w", us.ID, err)
			}
		}
		for i, cs := range us.Contacts {
			if _, err := t.addContact(u, cs, fmt.Sprint(i), 0); err != nil {
				return nil, fmt.Errorf("graphsim: user %q contact %d: %w", us.ID, i, err)
			}
		}
	}
	return t, nil
}

// newUserFromSeed builds a user and its well-known folders (no messages).
func newUserFromSeed(tenantID string, us UserSeed) *user {
	u := &user{
		id: us.ID, displayName: us.DisplayName, givenName: us.GivenName, surname: us.Surname,
		mail: us.Mail, upn: us.UserPrincipalName, jobTitle: us.JobTitle, department: us.Department,
		managerID: us.ManagerID,
	}
	u.rootID = outlookID("folder", tenantID, us.ID, "msgfolderroot")
	for _, wk := range wellKnownFolders {
		u.folders = append(u.folders, &folder{id: outlookID("folder", tenantID, us.ID, wk.name), wellKnown: wk.name, display: wk.display, parentID: u.rootID})
	}
	u.msgByID = map[string]*message{}
	u.contactFolderID = outlookID("contactfolder", tenantID, us.ID, "contacts")
	return u
}

// folderBySeedKey resolves a seed's folder reference: a well-known name,
// a folder ID, or a custom folder's display name (case-insensitive).
func (u *user) folderBySeedKey(key string) *folder {
	if f := u.folderByKey(key); f != nil {
		return f
	}
	for _, f := range u.folders {
		if f.wellKnown == "" && strings.EqualFold(f.display, key) {
			return f
		}
	}
	return nil
}

// addSeedFolder creates a custom folder from a seed.
func (t *tenant) addSeedFolder(u *user, fs FolderSeed) (*folder, error) {
	if strings.TrimSpace(fs.DisplayName) == "" {
		return nil, errors.New("folder without displayName")
	}
	parentID := u.rootID
	if fs.Parent != "" {
		p := u.folderBySeedKey(fs.Parent)
		if p == nil {
			return nil, fmt.Errorf("folder %q: unknown parent %q", fs.DisplayName, fs.Parent)
		}
		parentID = p.id
	}
	for _, o := range u.folders {
		if o.parentID == parentID && strings.EqualFold(o.display, fs.DisplayName) {
			return nil, fmt.Errorf("folder %q already exists under that parent", fs.DisplayName)
		}
	}
	id := fs.ID
	if id == "" {
		id = outlookID("folder", t.id, u.id, "custom", parentID, strings.ToLower(fs.DisplayName))
	}
	if u.folderByID(id) != nil {
		return nil, fmt.Errorf("duplicate folder id %q", id)
	}
	f := &folder{id: id, display: fs.DisplayName, parentID: parentID, hidden: fs.Hidden}
	u.folders = append(u.folders, f)
	return f, nil
}

// addSeedMessage puts a seeded message into u's mailbox. i numbers the
// user's seeded messages and derives the message's IDs when ms.ID is empty,
// so the same seed always yields the same IDs.
func (t *tenant) addSeedMessage(u *user, i int, ms MessageSeed) (*message, error) {
	fname := ms.Folder
	if fname == "" {
		fname = "inbox"
	}
	f := u.folderBySeedKey(fname)
	if f == nil {
		return nil, fmt.Errorf("unknown folder %q", ms.Folder)
	}
	id := ms.ID
	if id == "" {
		id = outlookID("message", t.id, u.id, fmt.Sprint(i))
	}
	imp := strings.ToLower(ms.Importance)
	if imp == "" {
		imp = "normal"
	}
	received := ms.ReceivedAt.UTC().Truncate(time.Second)
	t.seq++
	m := &message{
		id:             id,
		seq:            t.seq,
		folder:         f,
		subject:        ms.Subject,
		bodyType:       "text",
		bodyContent:    ms.BodyText,
		from:           t.recipientFor(ms.From),
		receivedAt:     received,
		sentAt:         received.Add(-2 * time.Second),
		createdAt:      received,
		modifiedAt:     received,
		isRead:         ms.IsRead,
		importance:     imp,
		conversationID: outlookID("conversation", t.id, u.id, fmt.Sprint(i)),
		internetMsgID:  fmt.Sprintf("<%s@%s>", deterministicGUID("imid", t.id, u.id, fmt.Sprint(i)), hostOf(ms.From, t.domain)),
		inferenceClass: "focused",
		flagStatus:     "notFlagged",
		categories:     append([]string(nil), ms.Categories...),
	}
	if ms.ConversationID != "" {
		m.conversationID = ms.ConversationID
	}
	if ms.Flagged {
		m.flagStatus = "flagged"
	}
	for _, to := range ms.To {
		m.to = append(m.to, t.recipientFor(to))
	}
	for _, a := range ms.Mentions {
		m.mentions = append(m.mentions, t.recipientFor(a))
	}
	u.addMessage(m)
	return m, nil
}

// recipientFor names an address the way Exchange does: the directory display
// name for tenant users, otherwise the address itself.
func (t *tenant) recipientFor(addr string) recipient {
	if u := t.userByAddress(addr); u != nil {
		return recipient{Name: u.displayName, Address: addr}
	}
	return recipient{Name: addr, Address: addr}
}

func hostOf(addr, fallback string) string {
	if i := strings.LastIndex(addr, "@"); i >= 0 && i < len(addr)-1 {
		return strings.ToLower(addr[i+1:])
	}
	if fallback != "" {
		return fallback
	}
	return "graphsim.example"
}

// DemoTenant returns the deterministic demo tenant: 36 users in a four-level
// management chain, 3-8 inbox messages each, and one app holding
// User.Read.All, Mail.ReadBasic.All and Mail.Send. Every ID, name, date and
// the client secret are derived from fixed inputs, so two calls (or two
// processes) agree exactly.
func DemoTenant() (TenantSeed, DemoCredentials) {
	const domain = "contoso.example"
	tenantID := deterministicGUID("demo", "tenant")
	clientID := deterministicGUID("demo", "app", "outlookflow")
	creds := DemoCredentials{TenantID: tenantID, ClientID: clientID, ClientSecret: demoSecret()}

	type person struct{ given, sur, title, dept string }
	// 1 CEO, 5 VPs, 10 managers (two per VP), 20 individual contributors
	// (two per manager): 36 people.
	ceo := person{"Megan", "Bowen", "Chief Executive Officer", "Executive"}
	vps := []person{
		{"Adele", "Vance", "VP Sales", "Sales"},
		{"Alex", "Wilber", "VP Engineering", "Engineering"},
		{"Diego", "Siciliani", "VP Finance", "Finance"},
		{"Grady", "Archie", "VP Operations", "Operations"},
		{"Isaiah", "Langer", "VP Marketing", "Marketing"},
	}
	managers := []person{
		{"Johanna", "Lorenz", "Sales Manager", "Sales"},
		{"Joni", "Sherman", "Account Manager", "Sales"},
		{"Lee", "Gu", "Engineering Manager", "Engineering"},
		{"Lidia", "Holloway", "Engineering Manager", "Engineering"},
		{"Lynne", "Robbins", "Controller", "Finance"},
		{"Miriam", "Graham", "Treasury Manager", "Finance"},
		{"Nestor", "Wilke", "Operations Manager", "Operations"},
		{"Patti", "Fernandez", "Facilities Manager", "Operations"},
		{"Pradeep", "Gupta", "Marketing Manager", "Marketing"},
		{"Henrietta", "Mueller", "Brand Manager", "Marketing"},
	}
	icGiven := []string{"Allan", "Bianca", "Cameron", "Debra", "Enrico", "Fatima", "Gabriel", "Hana", "Ivan", "Jasmine",
		"Kenji", "Laura", "Mateo", "Nadia", "Oscar", "Priya", "Quentin", "Rosa", "Samir", "Tanya"}
	icSur := []string{"Deyoung", "Pagano", "Ortiz", "Berger", "Rossi", "Haddad", "Moreau", "Sato", "Petrov", "Khan",
		"Tanaka", "Meyer", "Silva", "Novak", "Lindqvist", "Raman", "Dubois", "Alvarez", "Nasser", "Kowalski"}
	icTitles := map[string]string{"Sales": "Sales Representative", "Engineering": "Software Engineer", "Finance": "Financial Analyst",
		"Operations": "Operations Specialist", "Marketing": "Marketing Specialist"}

	var people []UserSeed
	add := func(p person, manager string) string {
		nick := strings.ToLower(p.given + "." + p.sur)
		id := deterministicGUID("demo", "user", nick)
		people = append(people, UserSeed{
			ID: id, DisplayName: p.given + " " + p.sur, GivenName: p.given, Surname: p.sur,
			Mail: nick + "@" + domain, UserPrincipalName: nick + "@" + domain,
			JobTitle: p.title, Department: p.dept, ManagerID: manager,
		})
		return id
	}
	ceoID := add(ceo, "")
	var managerIDs []string
	for i, vp := range vps {
		vpID := add(vp, ceoID)
		for j := 0; j < 2; j++ {
			managerIDs = append(managerIDs, add(managers[2*i+j], vpID))
		}
	}
	for i := 0; i < 20; i++ {
		mgr := managers[i/2]
		add(person{icGiven[i], icSur[i], icTitles[mgr.dept], mgr.dept}, managerIDs[i/2])
	}

	subjects := []string{
		"Quarterly planning: draft agenda", "Re: Customer escalation follow-up", "Expense report approved",
		"Lunch on Thursday?", "Action required: review the Q3 forecast", "Team offsite logistics",
		"FW: Contract renewal terms", "Build pipeline is green again", "Welcome our new team member",
		"Reminder: security training due Friday", "Notes from today's standup", "Invoice 4471 from Fabrikam",
		"Re: Design review feedback", "Holiday schedule", "Please sign: updated NDA", "Weekly metrics digest",
	}
	base := time.Date(2025, 6, 2, 8, 0, 0, 0, time.UTC)
	for i := range people {
		// Every mailbox has a child folder of the inbox with a nested one.
		people[i].Folders = []FolderSeed{{DisplayName: "Projects", Parent: "inbox"}, {DisplayName: "Launch", Parent: "Projects"}}
		n := 3 + i%6 // 3..8 messages
		for k := 0; k < n; k++ {
			sender := people[(i*7+k*5+1)%len(people)]
			if sender.ID == people[i].ID {
				sender = people[(i+1)%len(people)]
			}
			subj := subjects[(i*3+k)%len(subjects)]
			imp := "normal"
			if (i+k)%7 == 0 {
				imp = "high"
			}
			folderName := "inbox"
			switch {
			case k == 1 && n > 4:
				folderName = "Projects"
			case k == 2 && n > 5:
				folderName = "Launch"
			case k == 3 && n > 6:
				folderName = "sentitems"
			}
			people[i].Messages = append(people[i].Messages, MessageSeed{
				Folder:     folderName,
				Subject:    subj,
				BodyText:   fmt.Sprintf("Hi %s,\n\n%s - details inside.\n\nThanks,\n%s", people[i].GivenName, subj, sender.GivenName),
				From:       sender.Mail,
				To:         []string{people[i].Mail},
				ReceivedAt: base.Add(time.Duration(i*53+k*197) * time.Minute),
				IsRead:     k%3 == 0,
				Importance: imp,
			})
		}
	}
	demoSettingsAndContacts(people)
	var all, leaders, sales, engineering []string
	for i, p := range people {
		all = append(all, p.ID)
		if i <= len(vps) {
			leaders = append(leaders, p.ID)
		}
		switch p.Department {
		case "Sales":
			sales = append(sales, p.ID)
		case "Engineering":
			engineering = append(engineering, p.ID)
		}
	}
	leadership := deterministicGUID("group", tenantID, "leadership")
	groups := []GroupSeed{
		{DisplayName: "All Company", Description: "Everyone at Contoso", Kind: "unified", MailNickname: "allcompany", Members: all},
		{DisplayName: "Sales Team", Description: "Sales mailing list", Kind: "distribution", MailNickname: "sales", Members: sales},
		{DisplayName: "Engineering", Description: "Engineering security group", Kind: "security", MailNickname: "engineering", Members: engineering},
		{ID: leadership, DisplayName: "Leadership", Kind: "mailsecurity", MailNickname: "leadership", Members: leaders},
		{DisplayName: "People Managers", Description: "Leadership and managers", Kind: "distribution", MailNickname: "managers",
			Members: append([]string{leadership}, managerIDs...)},
	}
	seed := TenantSeed{
		Events:      demoEvents(people),
		Groups:      groups,
		TenantID:    tenantID,
		DisplayName: "Contoso (simulated)",
		Domain:      domain,
		Apps: []AppSeed{{
			ClientID:          clientID,
			DisplayName:       "outlookflow demo",
			Secrets:           []SecretSeed{{Value: creds.ClientSecret}},
			GrantedRoles:      []string{"User.Read.All", "Mail.ReadBasic.All", "Mail.Send", "GroupMember.Read.All", "Calendars.Read", "Contacts.Read", "MailboxSettings.Read"},
			RedirectURIs:      DemoRedirectURIs(),
			AllowPublicClient: true,
		}},
		Users: people,
	}
	return seed, creds
}

// demoSecret derives the demo app's client secret. It is computed rather than
// written out, so no string that looks like a real credential is committed;
// the "~" mimics the shape of Entra-generated secrets.
func demoSecret() string {
	sum := sha256.Sum256([]byte("outlookflow graphsim demo tenant client secret v1"))
	return "sim" + "~" + base64.RawURLEncoding.EncodeToString(sum[:24])
}

// demoEvents gives every manager a weekly 1:1 series with each direct
// report and a Teams team meeting, and everyone a focus-time block. They are
// anchored to the Monday of the current UTC week, so a sync window around
// "now" always sees them; within a week the demo stays deterministic.
func demoEvents(people []UserSeed) []EventSeed {
	now := time.Now().UTC()
	monday := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC).AddDate(0, 0, -((int(now.Weekday()) + 6) % 7))
	byID := map[string]UserSeed{}
	for _, p := range people {
		byID[p.ID] = p
	}
	var out []EventSeed
	for i, p := range people {
		at := monday.Add(time.Duration(9+i%8) * time.Hour)
		out = append(out, EventSeed{Organizer: p.Mail, Subject: "Focus time", Start: at.AddDate(0, 0, 1), End: at.AddDate(0, 0, 1).Add(time.Hour),
			TimeZone: "Pacific Standard Time", ShowAs: "busy"})
		if p.ManagerID == "" {
			continue
		}
		mgr := byID[p.ManagerID]
		out = append(out, EventSeed{
			Organizer: mgr.Mail, Subject: "1:1 " + mgr.GivenName + " / " + p.GivenName, BodyText: "Weekly check-in.",
			Start: at.AddDate(0, 0, -14), End: at.AddDate(0, 0, -14).Add(30 * time.Minute), TimeZone: "Pacific Standard Time",
			IsOnlineMeeting: true, Attendees: []EventAttendeeSeed{{Address: p.Mail, Response: "accepted"}},
			Recurrence: &RecurrenceSeed{Pattern: "weekly", Interval: 1, Count: 12},
		})
	}
	for _, m := range people {
		var reports []EventAttendeeSeed
		for _, p := range people {
			if p.ManagerID == m.ID {
				reports = append(reports, EventAttendeeSeed{Address: p.Mail, Response: "none"})
			}
		}
		if len(reports) == 0 {
			continue
		}
		start := monday.AddDate(0, 0, 3).Add(15 * time.Hour)
		out = append(out, EventSeed{Organizer: m.Mail, Subject: m.Department + " team meeting", Start: start, End: start.Add(time.Hour),
			Location: "Conference Room " + m.Surname, IsOnlineMeeting: true, Attendees: reports, TimeZone: "UTC"})
	}
	return out
}

// demoSettingsAndContacts gives the demo mailboxes varied time zones,
// working hours and languages, automatic replies on for a few (always on,
// or scheduled), and three to five personal contacts each (some in a
// "Suppliers" contact folder).
func demoSettingsAndContacts(people []UserSeed) {
	zones := []string{"Pacific Standard Time", "Eastern Standard Time", "GMT Standard Time", "W. Europe Standard Time", "India Standard Time", "Tokyo Standard Time", "UTC"}
	langs := []string{"en-US", "en-US", "en-GB", "de-DE", "en-IN", "ja-JP", "en-US"}
	companies := []string{"Fabrikam", "Northwind Traders", "Tailspin Toys", "Wide World Importers", "Litware", "Adventure Works"}
	first := []string{"Ada", "Ben", "Chloe", "Dev", "Elena", "Farid", "Greta", "Hugo"}
	last := []string{"Ng", "Okafor", "Park", "Quinn", "Reyes", "Stone", "Ueda", "Voss"}
	outStart := time.Date(2025, 6, 16, 0, 0, 0, 0, time.UTC)
	for i := range people {
		ms := &MailboxSettings{TimeZone: zones[i%len(zones)], Language: langs[i%len(langs)],
			WorkingHours: WorkingHours{StartTime: fmt.Sprintf("%02d:00", 7+i%3), EndTime: fmt.Sprintf("%02d:00", 16+i%3)}}
		if langs[i%len(langs)] == "de-DE" {
			ms.DateFormat, ms.TimeFormat = "dd.MM.yyyy", "HH:mm"
		}
		switch i % 9 {
		case 4:
			ms.AutomaticReplies = AutoReplies{Status: "alwaysEnabled", ExternalAudience: "contactsOnly",
				InternalReplyMessage: "<html><body><p>I am out of the office with limited access to email.</p></body></html>",
				ExternalReplyMessage: "<html><body><p>Thank you for your message. I am out of the office.</p></body></html>"}
		case 7:
			ms.AutomaticReplies = AutoReplies{Status: "scheduled", ExternalAudience: "all",
				ScheduledStart: outStart.AddDate(0, 0, i), ScheduledEnd: outStart.AddDate(0, 0, i+7),
				InternalReplyMessage: "<html><body><p>I am on vacation and will reply when I return.</p></body></html>",
				ExternalReplyMessage: "<html><body><p>I am on vacation and will reply when I return.</p></body></html>"}
		}
		people[i].MailboxSettings = ms
		n := 3 + i%3
		if i%4 == 0 {
			people[i].ContactFolders = []string{"Suppliers"}
		}
		for k := 0; k < n; k++ {
			g, l := first[(i+k)%len(first)], last[(i*3+k)%len(last)]
			co := companies[(i+k)%len(companies)]
			cs := ContactSeed{GivenName: g, Surname: l, CompanyName: co, JobTitle: "Account Executive",
				Emails:         []string{strings.ToLower(g+"."+l) + "@" + strings.ToLower(strings.ReplaceAll(co, " ", "")) + ".example"},
				BusinessPhones: []string{fmt.Sprintf("+1 425 555 %04d", 100+i*10+k)}}
			if k == n-1 && len(people[i].ContactFolders) > 0 {
				cs.Folder = "Suppliers"
			}
			people[i].Contacts = append(people[i].Contacts, cs)
		}
	}
}
