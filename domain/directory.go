package domain

// User is a directory user as the sync stores it: enough to address their
// mailbox, to walk the manager chain (visibility follows it) and to tell a
// person from a shared or disabled account.
type User struct {
	// ID is the Entra object ID; it never changes, unlike the UPN.
	ID                string
	UserPrincipalName string
	Mail              string
	DisplayName       string
	JobTitle          string
	Department        string
	// ManagerID is the manager's object ID, "" for the top of the chain. It
	// is a plain ID, not a reference the store enforces: a delta page may
	// name a manager that arrives on a later page.
	ManagerID      string
	AccountEnabled bool
	// HasMailbox says whether the user has an Exchange Online mailbox; only
	// those get mail, calendar, settings and contact syncs.
	HasMailbox bool
}

// Group is a directory group. Mail-enabled groups are how a mailing list is
// told from a person when a message is addressed to one.
type Group struct {
	ID              string
	DisplayName     string
	Mail            string
	MailEnabled     bool
	SecurityEnabled bool
	// GroupTypes is Graph's groupTypes, e.g. ["Unified"] for a Microsoft 365
	// group or ["DynamicMembership"]; empty for a classic distribution or
	// security group.
	GroupTypes []string
}

// IsMicrosoft365 reports whether g is a Microsoft 365 ("Unified") group.
func (g Group) IsMicrosoft365() bool {
	for _, t := range g.GroupTypes {
		if t == "Unified" {
			return true
		}
	}
	return false
}

// MemberType says what kind of directory object a group member is, as
// Graph's @odata.type names it without the "#microsoft.graph." prefix.
type MemberType string

const (
	MemberUser    MemberType = "user"
	MemberGroup   MemberType = "group"
	MemberContact MemberType = "orgContact"
	MemberDevice  MemberType = "device"
	// MemberServicePrincipal is an application identity in a group.
	MemberServicePrincipal MemberType = "servicePrincipal"
)

// GroupMember is one direct membership. Nested groups appear as members of
// type MemberGroup; expanding them is the reader's job, so a change to an
// inner group touches one row.
type GroupMember struct {
	GroupID    string
	MemberID   string
	MemberType MemberType
}
