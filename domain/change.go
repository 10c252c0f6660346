package domain

// ChangeType is what happened to an item in one applied page.
type ChangeType string

const (
	ChangeCreated ChangeType = "created"
	ChangeUpdated ChangeType = "updated"
	ChangeDeleted ChangeType = "deleted"
)

// ItemKind names the kind of item a change is about.
type ItemKind string

const (
	KindUser            ItemKind = "user"
	KindGroup           ItemKind = "group"
	KindMailFolder      ItemKind = "mailFolder"
	KindMessage         ItemKind = "message"
	KindEvent           ItemKind = "event"
	KindContact         ItemKind = "contact"
	KindMailboxSettings ItemKind = "mailboxSettings"
)

// Change is one item the store created, updated or deleted while applying a
// page. It carries keys only, never content, so the sync can hand changes to
// trigger matching in a workflow payload. An upsert that left the row as it
// was is not a change: replaying a page fires nothing.
type Change struct {
	Kind ItemKind
	// Mailbox is "" for tenant-wide items (users, groups).
	Mailbox string
	ItemID  string
	Type    ChangeType
}
