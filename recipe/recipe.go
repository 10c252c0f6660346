package recipe

import (
	"reflect"
	"time"

	"github.com/outlookflow/outlookflow/domain"
)

// Recipe is one validated recipe file.
type Recipe struct {
	// File is the path the recipe was read from; Pos values carry it too.
	File        string
	Name        string
	Tenant      string
	Description string
	Enabled     bool
	Mailboxes   Mailboxes
	Trigger     Trigger
	// Condition is nil when the recipe has none (every matching item fires).
	Condition *Expr
	Steps     []*Step

	// Digest identifies the file's content: a run started from one version
	// of a recipe can tell when the file changed under it.
	Digest string

	// NamePos and TenantPos point at the values, for messages about them.
	NamePos   Pos
	TenantPos Pos

	// stepsType is the struct type of the `steps` variable: one field per
	// step that has outputs, in document order.
	stepsType reflect.Type
}

// Mailboxes says whose mail and calendars the trigger watches. Exactly one
// of Users, Group and All is set; for sharedMailboxNewMail, schedule and
// manual triggers none may be (Scope is ScopeNone).
type Mailboxes struct {
	Scope MailboxScope
	// Users are UPNs (or object IDs) for ScopeUsers.
	Users []string
	// Group is a group's mail address or object ID for ScopeGroup.
	Group string
	Pos   Pos
}

// MailboxScope is how a recipe names its mailboxes.
type MailboxScope string

const (
	ScopeNone  MailboxScope = ""
	ScopeUsers MailboxScope = "users"
	ScopeGroup MailboxScope = "group"
	ScopeAll   MailboxScope = "all"
)

// TriggerKind is the kind of event that starts a recipe.
type TriggerKind string

const (
	TriggerNewMail              TriggerKind = "newMail"
	TriggerMailFlagged          TriggerKind = "mailFlagged"
	TriggerMailMentionsMe       TriggerKind = "mailMentionsMe"
	TriggerSharedMailboxNewMail TriggerKind = "sharedMailboxNewMail"
	TriggerEventChanged         TriggerKind = "eventChanged"
	TriggerUpcomingEvent        TriggerKind = "upcomingEvent"
	TriggerSchedule             TriggerKind = "schedule"
	TriggerManual               TriggerKind = "manual"
)

// IsMail reports whether the trigger fires on a message (so `mail` is in
// scope and mail actions default to the triggering message).
func (k TriggerKind) IsMail() bool {
	switch k {
	case TriggerNewMail, TriggerMailFlagged, TriggerMailMentionsMe, TriggerSharedMailboxNewMail:
		return true
	}
	return false
}

// IsEvent reports whether the trigger fires on a calendar event.
func (k TriggerKind) IsEvent() bool {
	return k == TriggerEventChanged || k == TriggerUpcomingEvent
}

// Trigger is a recipe's trigger with its filters. Filters that are unset
// (nil, empty) do not narrow. Address filters compare addresses
// case-insensitively; SubjectContains matches when the subject contains any
// of the strings, case-insensitively; Categories matches when the message
// has at least one of them.
type Trigger struct {
	Kind TriggerKind
	Pos  Pos

	// Folder is a well-known folder name ("inbox", "archive"…), a folder's
	// display name or its ID; "*" is any folder. newMail and
	// sharedMailboxNewMail default to "inbox", the others to any folder.
	Folder          string
	From            []string
	To              []string
	Cc              []string
	ToOrCc          []string
	SubjectContains []string
	Importance      domain.Importance
	HasAttachments  *bool
	Categories      []string

	// Mailbox is the shared mailbox (UPN) of sharedMailboxNewMail.
	Mailbox string

	// ChangeTypes of eventChanged; all three when unset.
	ChangeTypes     []domain.ChangeType
	Organizer       []string
	IsOnlineMeeting *bool

	// LeadTime of upcomingEvent: how long before the start it fires.
	LeadTime time.Duration

	// Every or Cron (exactly one) of schedule; TimeZone is the IANA zone
	// Cron is read in (UTC when unset).
	Every    time.Duration
	Cron     string
	TimeZone string

	// FieldPos is the position of each filter's value, by field name.
	FieldPos map[string]Pos
}

// Step is one step of a recipe: an action, a wait or an if.
type Step struct {
	ID  string
	Pos Pos
	// Action is the action's name ("send", "createEvent"…), or "wait" or
	// "if".
	Action    string
	ActionPos Pos
	// Params are the action's parameters by name; only those set in the
	// file are present.
	Params map[string]*Param

	// Wait is set for a wait step.
	Wait *Wait

	// If, Then and Else are set for an if step.
	If   *Expr
	Then []*Step
	Else []*Step
}

// Param returns the named parameter, or nil when the file does not set it.
func (s *Step) Param(name string) *Param { return s.Params[name] }

// Wait is a durable wait: for a fixed time, until a reply arrives in the
// triggering message's conversation, or whichever comes first when both
// are set.
type Wait struct {
	For                      time.Duration
	UntilReplyInConversation bool
}

// Param is one parameter of an action, decoded by its kind. Exactly one of
// the value fields is meaningful for a given parameter (see the action's
// documentation in the package comment).
type Param struct {
	Name string
	Pos  Pos
	// Text is a template (subject, body, comment, ids, times…).
	Text *Template
	// List is a list of templates (recipients, attendees).
	List []*Template
	// Str is a plain string or enum value.
	Str string
	// Strs is a list of plain strings (categories).
	Strs []string
	Bool bool
	Dur  time.Duration
	Int  int
	// Perms are the permissions a graphRequest step declares.
	Perms *DeclaredPermissions
}

// DeclaredPermissions are the Graph permissions the author of a
// graphRequest step says it needs, since they cannot be inferred.
type DeclaredPermissions struct {
	Application []string
	Delegated   []string
}
