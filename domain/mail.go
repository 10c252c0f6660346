package domain

import "time"

// EmailAddress is a name and address pair as Graph's emailAddress carries
// it. The name is whatever the sender's client wrote, so match on Address.
type EmailAddress struct {
	Name    string `json:"name,omitempty"`
	Address string `json:"address"`
}

// Well-known mail folder names (Graph's wellKnownName values) the sync and
// recipes refer to; a custom folder has none.
const (
	FolderInbox        = "inbox"
	FolderSentItems    = "sentitems"
	FolderDrafts       = "drafts"
	FolderDeletedItems = "deleteditems"
	FolderArchive      = "archive"
	FolderJunkEmail    = "junkemail"
	FolderOutbox       = "outbox"
)

// MailFolder is one folder of a mailbox, child folders included. Folder IDs
// are only unique within a mailbox as far as the store is concerned.
type MailFolder struct {
	ID string
	// Mailbox is the owning user's object ID.
	Mailbox        string
	ParentFolderID string
	DisplayName    string
	// WellKnownName is "inbox", "sentitems"… for the default folders, "" for
	// folders people created.
	WellKnownName   string
	TotalItemCount  int
	UnreadItemCount int
}

// Importance is a message's importance: "low", "normal" or "high".
type Importance string

const (
	ImportanceLow    Importance = "low"
	ImportanceNormal Importance = "normal"
	ImportanceHigh   Importance = "high"
)

// FlagStatus is a message's follow-up flag: "notFlagged", "flagged" or
// "complete".
type FlagStatus string

const (
	FlagNotFlagged FlagStatus = "notFlagged"
	FlagFlagged    FlagStatus = "flagged"
	FlagComplete   FlagStatus = "complete"
)

// Flag is a message's follow-up flag with the dates Outlook shows next to it.
// Zero times mean "not set".
type Flag struct {
	Status      FlagStatus
	DueAt       time.Time
	CompletedAt time.Time
}

// Message is a message's metadata: what triggers, visibility rules and the
// operator's CLI need, and what Mail.ReadBasic.All allows. Body stays empty
// unless bodies are configured, so the default mode never holds content.
type Message struct {
	ID string
	// Mailbox is the owning user's object ID; message IDs are per mailbox.
	Mailbox  string
	FolderID string
	// ConversationID groups a thread; InternetMessageID is the RFC 5322
	// Message-ID, the same in every mailbox that holds a copy.
	ConversationID    string
	InternetMessageID string
	From              EmailAddress
	// Sender differs from From when someone sends on behalf of another
	// (a delegate or a shared mailbox).
	Sender         EmailAddress
	To             []EmailAddress
	Cc             []EmailAddress
	Bcc            []EmailAddress
	Subject        string
	ReceivedAt     time.Time
	SentAt         time.Time
	Importance     Importance
	IsRead         bool
	IsDraft        bool
	Flag           Flag
	Categories     []string
	HasAttachments bool
	// Body is filled only when bodies are configured (and the app holds
	// Mail.Read); it is stored, never put in Temporal payloads.
	Body *MessageBody
}

// MessageBody is a message's body as Graph returns it.
type MessageBody struct {
	// ContentType is "text" or "html".
	ContentType string
	Content     string
}
