package graphsim

import (
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"
	"time"
)

// The simulator's world: tenants hold app registrations (with secrets,
// granted application roles and an admin-consent switch) and users, each with
// a mailbox of well-known folders. Everything is guarded by Server.mu.

type tenant struct {
	id          string // as seeded (GUID)
	displayName string
	domain      string
	apps        map[string]*app // key: lower-case client ID
	users       []*user         // sorted by id: the stable order of GET /users
	byKey       map[string]*user
	byAddr      map[string]*user // lower-case mail and UPN
	seq         int              // per-tenant counter for generated message IDs

	groups     []*group // sorted by id
	groupByID  map[string]*group
	groupTombs []tombstone

	// Change tracking for delta queries. changeSeq counts every change to
	// the tenant's users and mailboxes; a delta token remembers the value
	// it was issued at. Seeded state is at 0.
	changeSeq      int
	userTombstones []tombstone // deleted users, oldest first

	// Teams and online meetings (teams.go, onlinemeetings.go).
	teams          map[string]*team           // lower-case team (group) id
	onlineMeetings []*onlineMeeting           // every user's, in creation order
	meetingPolicy  map[string]map[string]bool // lower-case app id -> lower-case user id ("*": tenant-wide)
}

// tombstone remembers a removed item for delta: its id, when it was removed
// and when it had appeared, so a delta round only reports removals of items
// the client could have seen.
type tombstone struct {
	id       string
	folderID string // messages: the folder the item left
	seq      int    // changeSeq of the removal
	addedSeq int    // changeSeq at which the item had appeared there
}

// nextChange advances and returns the tenant's change sequence.
func (t *tenant) nextChange() int {
	t.changeSeq++
	return t.changeSeq
}

type app struct {
	clientID    string
	displayName string
	spID        string // service principal object ID: the token's oid
	secrets     []*secret
	certs       []*appCertificate // certificate credentials (client_assertion.go)
	roles       []string
	// consentRevoked is the admin-consent switch; consentGen counts
	// revocations so tokens issued before the latest one can be refused with
	// a CAE challenge even after consent is restored.
	consentRevoked bool
	consentGen     int
	revokedAt      time.Time
	// deleg: redirect URIs, public client flows and users' delegated
	// consent (identity_delegated.go).
	deleg appDelegation
}

type secret struct {
	value     string
	expiresAt time.Time // zero: never
}

type user struct {
	id, displayName, givenName, surname, mail, upn, jobTitle, department, managerID string
	prevManagerID                                                                   string // the manager before the last change, for manager@delta removals

	rootID   string // msgfolderroot: parentFolderId of top-level folders
	folders  []*folder
	messages []*message
	msgByID  map[string]*message

	msgTombstones    []tombstone // messages deleted or moved out of a folder, oldest first
	folderTombstones []tombstone // folders deleted, oldest first

	events     []*event
	eventTombs []tombstone // events deleted (id: the instance id reported), oldest first

	settings *MailboxSettings // nil: Exchange's defaults

	contactFolderID string           // the default Contacts folder
	contactFolders  []*contactFolder // custom folders (children of the default one)
	contacts        []*contact       // every contact, in creation order
	contactTombs    []tombstone      // contacts deleted, oldest first

	createdSeq int            // changeSeq when the user was added (0: seeded)
	propSeq    map[string]int // Graph property name -> changeSeq of its last change
}

type folder struct {
	id        string
	wellKnown string // lower-case well-known name; "" for custom folders
	display   string
	parentID  string // the parent folder's id; the root's id for top-level folders
	hidden    bool
	// Change tracking for mailFolders/delta: when the folder appeared and
	// when it last changed (renamed, moved, or its item counts changed).
	createdSeq int
	changedSeq int
}

type recipient struct {
	Name    string
	Address string
}

type message struct {
	id              string
	seq             int // creation order within the tenant; breaks receivedDateTime ties
	folder          *folder
	subject         string
	bodyType        string // "text" or "html"
	bodyContent     string
	from            recipient
	to, cc, bcc     []recipient
	receivedAt      time.Time
	sentAt          time.Time
	createdAt       time.Time
	modifiedAt      time.Time
	isRead          bool
	isDraft         bool
	importance      string
	conversationID  string
	internetMsgID   string
	hasAttachments  bool
	changeVersion   int
	categories      []string
	inferenceClass  string
	flagStatus      string
	flagStart       time.Time
	flagDue         time.Time
	flagCompleted   time.Time
	readReceipt     bool
	replyTo         []recipient
	deliveryReceipt bool
	folderSeq       int // changeSeq when it entered its folder (0: seeded)
	changedSeq      int // changeSeq of its last update in place (0: none)
	// Written through Graph (graph_mail_write.go, message_query.go).
	extProps []msgExtProp // single-value extended properties
	headers  [][2]string  // custom x- internetMessageHeaders given on create
	// mentions are the @-mentioned people (beta's message mentions; only
	// beta serves them, as mentionsPreview: graph_beta.go).
	mentions []recipient
}

// Message is a mailbox item as Mailbox returns it for test assertions.
type Message struct {
	ID         string
	Subject    string
	From       string // address
	To         []string
	Cc         []string
	ReceivedAt time.Time
	IsRead     bool
	BodyText   string
	Folder     string // well-known folder name, e.g. "inbox"
	FolderID   string
	Importance string
	Categories []string
	FlagStatus string // notFlagged | flagged | complete
}

// wellKnownFolders are the folders every simulated mailbox has, in the order
// GET mailFolders lists them.
var wellKnownFolders = []struct{ name, display string }{
	{"inbox", "Inbox"},
	{"drafts", "Drafts"},
	{"sentitems", "Sent Items"},
	{"deleteditems", "Deleted Items"},
	{"junkemail", "Junk Email"},
	{"archive", "Archive"},
	{"outbox", "Outbox"},
}

func (u *user) folderByKey(key string) *folder {
	for _, f := range u.folders {
		if (f.wellKnown != "" && strings.EqualFold(f.wellKnown, key)) || f.id == key {
			return f
		}
	}
	return nil
}

// folderByID finds a folder by id only.
func (u *user) folderByID(id string) *folder {
	for _, f := range u.folders {
		if f.id == id {
			return f
		}
	}
	return nil
}

// addMessage appends a message to the mailbox and its index.
func (u *user) addMessage(m *message) {
	u.messages = append(u.messages, m)
	if u.msgByID == nil {
		u.msgByID = map[string]*message{}
	}
	u.msgByID[m.id] = m
}

// removeMessage drops a message from the mailbox and its index.
func (u *user) removeMessage(m *message) {
	out := u.messages[:0]
	for _, x := range u.messages {
		if x != m {
			out = append(out, x)
		}
	}
	for i := len(out); i < len(u.messages); i++ {
		u.messages[i] = nil
	}
	u.messages = out
	delete(u.msgByID, m.id)
}

// renameMessage changes a message's id (Graph's move gives a new id).
func (u *user) renameMessage(m *message, id string) {
	delete(u.msgByID, m.id)
	m.id = id
	u.msgByID[id] = m
}

// touchFolder records a change of f (its counts or properties) for
// mailFolders/delta.
func touchFolder(f *folder, seq int) {
	if f != nil {
		f.changedSeq = seq
	}
}

func (t *tenant) lookupUser(key string) *user {
	return t.byKey[strings.ToLower(key)]
}

// userByAddress resolves an SMTP address to a simulated mailbox owner.
func (t *tenant) userByAddress(addr string) *user {
	addr = strings.ToLower(strings.TrimSpace(addr))
	if addr == "" {
		return nil
	}
	return t.byAddr[addr]
}

func (t *tenant) reindex() {
	sort.Slice(t.users, func(i, j int) bool { return t.users[i].id < t.users[j].id })
	t.byKey = make(map[string]*user, 2*len(t.users))
	t.byAddr = make(map[string]*user, 2*len(t.users))
	for _, u := range t.users {
		t.byKey[strings.ToLower(u.id)] = u
		if u.upn != "" {
			t.byKey[strings.ToLower(u.upn)] = u
			t.byAddr[strings.ToLower(u.upn)] = u
		}
	}
	// Mail addresses win over UPNs, as for SMTP delivery.
	for _, u := range t.users {
		if u.mail != "" {
			t.byAddr[strings.ToLower(u.mail)] = u
		}
	}
}

// secretExpired reports whether a client secret is refused as expired
// (AADSTS7000222): the secret presented is one of the app's and past its
// end, or it is none of them and every secret the app has is expired —
// Entra says "expired" then too. found is whether the secret is the app's.
func (a *app) secretExpired(value string, now time.Time) (found, expired bool) {
	sec, found := a.hasSecret(value)
	if found {
		return true, !sec.expiresAt.IsZero() && !sec.expiresAt.After(now)
	}
	allExpired := len(a.secrets) > 0
	for _, x := range a.secrets {
		if x.expiresAt.IsZero() || x.expiresAt.After(now) {
			allExpired = false
		}
	}
	return false, allExpired
}

// expiredSecretText is the identity platform's AADSTS7000222 message.
func (a *app) expiredSecretText() string {
	return fmt.Sprintf("The provided client secret keys for app '%s' are expired. Visit the Azure portal to create new keys for your app: https://aka.ms/NewClientSecret, or consider using certificate credentials for added security: https://aka.ms/certCreds.", a.clientID)
}

func (a *app) hasSecret(value string) (*secret, bool) {
	for _, s := range a.secrets {
		if s.value == value {
			return s, true
		}
	}
	return nil, false
}

// sortedMessages returns a folder's (or, with f nil, the mailbox's) messages
// newest first, the order Outlook lists them in.
func (u *user) sortedMessages(f *folder) []*message {
	out := make([]*message, 0, len(u.messages))
	for _, m := range u.messages {
		if f == nil || m.folder == f {
			out = append(out, m)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if !out[i].receivedAt.Equal(out[j].receivedAt) {
			return out[i].receivedAt.After(out[j].receivedAt)
		}
		return out[i].seq > out[j].seq
	})
	return out
}

func (m *message) toPublic() Message {
	pm := Message{
		ID:         m.id,
		Subject:    m.subject,
		From:       m.from.Address,
		ReceivedAt: m.receivedAt,
		IsRead:     m.isRead,
		BodyText:   m.textBody(),
		Importance: m.importance,
		Categories: append([]string(nil), m.categories...),
		FlagStatus: m.flagStatus,
	}
	if m.folder != nil {
		pm.Folder, pm.FolderID = m.folder.wellKnown, m.folder.id
	}
	for _, r := range m.to {
		pm.To = append(pm.To, r.Address)
	}
	for _, r := range m.cc {
		pm.Cc = append(pm.Cc, r.Address)
	}
	return pm
}

// changeKey is Outlook's per-version item key; @odata.etag is derived from it.
func (m *message) changeKey() string {
	sum := sha256.Sum256([]byte(fmt.Sprintf("%s/%d", m.id, m.changeVersion)))
	return "CQAAABYAAAD" + base64.StdEncoding.EncodeToString(sum[:12])
}

// deterministicGUID derives a GUID-formatted ID from a name, so seeded
// tenants get the same IDs on every run (UUIDv5-style, SHA-1 based).
func deterministicGUID(parts ...string) string {
	h := sha1.Sum([]byte("graphsim\x00" + strings.Join(parts, "\x00")))
	b := h[:16]
	b[6] = (b[6] & 0x0f) | 0x50
	b[8] = (b[8] & 0x3f) | 0x80
	x := hex.EncodeToString(b)
	return x[0:8] + "-" + x[8:12] + "-" + x[12:16] + "-" + x[16:20] + "-" + x[20:32]
}

func randomGUID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return deterministicGUID(time.Now().String())
	}
	b[6] = (b[6] & 0x0f) | 0x40
	b[8] = (b[8] & 0x3f) | 0x80
	x := hex.EncodeToString(b[:])
	return x[0:8] + "-" + x[8:12] + "-" + x[12:16] + "-" + x[16:20] + "-" + x[20:32]
}

// outlookID builds an ID shaped like Exchange's (base64 that starts with
// "AAMkA"), using the URL-safe alphabet so it can sit in a path segment.
func outlookID(kind string, parts ...string) string {
	sum := sha256.Sum256([]byte(kind + "\x00" + strings.Join(parts, "\x00")))
	body := base64.URLEncoding.EncodeToString(append(sum[:], sum[:9]...))
	return "AAMkA" + body[:len(body)-1] + "="
}

func looksLikeOutlookID(s string) bool {
	return strings.HasPrefix(s, "AAMkA") && len(s) > 20
}
