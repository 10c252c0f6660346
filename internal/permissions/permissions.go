// Package permissions knows which Microsoft Graph permissions each outlookflow
// feature needs, and which granted permissions satisfy them. It is pure data
// and pure functions, so workflows can use it deterministically.
package permissions

import "sort"

// Requirement is one Graph permission a feature needs, with the higher
// permissions that also satisfy it (Graph accepts any of them for the calls the
// feature makes; see graph-behavior.md §8).
type Requirement struct {
	Permission  string   // least-privileged permission, the one we ask admins to grant
	SatisfiedBy []string // higher permissions that cover it as well
}

// appOnly lists the application permissions (token "roles") per feature.
var appOnly = map[string][]Requirement{
	"directory":        {{Permission: "User.Read.All", SatisfiedBy: []string{"User.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"}}},
	"groups":           {{Permission: "GroupMember.Read.All", SatisfiedBy: []string{"Group.Read.All", "Group.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"}}},
	"mail":             {{Permission: "Mail.ReadBasic.All", SatisfiedBy: []string{"Mail.Read", "Mail.ReadWrite"}}},
	"mail-bodies":      {{Permission: "Mail.Read", SatisfiedBy: []string{"Mail.ReadWrite"}}},
	"mail-send":        {{Permission: "Mail.Send"}},
	"calendar":         {{Permission: "Calendars.Read", SatisfiedBy: []string{"Calendars.ReadWrite"}}},
	"mailbox-settings": {{Permission: "MailboxSettings.Read", SatisfiedBy: []string{"MailboxSettings.ReadWrite"}}},
	"contacts":         {{Permission: "Contacts.Read", SatisfiedBy: []string{"Contacts.ReadWrite"}}},
}

// delegated lists the delegated scopes (token "scp") per feature.
var delegated = map[string][]Requirement{
	"directory":        {{Permission: "User.ReadBasic.All", SatisfiedBy: []string{"User.Read.All", "User.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"}}},
	"groups":           {{Permission: "GroupMember.Read.All", SatisfiedBy: []string{"Group.Read.All", "Group.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"}}},
	"mail":             {{Permission: "Mail.ReadBasic", SatisfiedBy: []string{"Mail.Read", "Mail.ReadWrite"}}},
	"mail-bodies":      {{Permission: "Mail.Read", SatisfiedBy: []string{"Mail.ReadWrite"}}},
	"mail-send":        {{Permission: "Mail.Send"}},
	"calendar":         {{Permission: "Calendars.Read", SatisfiedBy: []string{"Calendars.ReadWrite"}}},
	"mailbox-settings": {{Permission: "MailboxSettings.Read", SatisfiedBy: []string{"MailboxSettings.ReadWrite"}}},
	"contacts":         {{Permission: "Contacts.Read", SatisfiedBy: []string{"Contacts.ReadWrite"}}},
}

// Feature names, in the order the documentation lists them.
const (
	FeatureDirectory = "directory"
	// FeatureGroups syncs groups and their members (mailing lists and
	// Microsoft 365 groups), so a message to a list is told from one to a
	// person.
	FeatureGroups = "groups"
	FeatureMail   = "mail"
	// FeatureMailBodies stores message bodies too (in the store, never in
	// Temporal payloads); without it the sync is metadata only.
	FeatureMailBodies      = "mail-bodies"
	FeatureMailSend        = "mail-send"
	FeatureCalendar        = "calendar"
	FeatureMailboxSettings = "mailbox-settings"
	FeatureContacts        = "contacts"
)

var featureOrder = []string{FeatureDirectory, FeatureGroups, FeatureMail, FeatureMailBodies, FeatureMailSend, FeatureCalendar, FeatureMailboxSettings, FeatureContacts}

// Features lists every feature a tenant may enable, in documentation order.
// It is the one list: configuration validation accepts exactly these.
func Features() []string {
	return append([]string(nil), featureOrder...)
}

// Required returns the requirements of the given features, deduplicated and
// sorted by permission. Unknown feature names are returned in unknown so the
// caller can report them; config validation normally rejects them first.
func Required(features []string, delegatedAuth bool) (reqs []Requirement, unknown []string) {
	table := appOnly
	if delegatedAuth {
		table = delegated
	}
	seen := map[string]bool{}
	for _, f := range features {
		rs, ok := table[f]
		if !ok {
			unknown = append(unknown, f)
			continue
		}
		for _, r := range rs {
			if !seen[r.Permission] {
				seen[r.Permission] = true
				reqs = append(reqs, r)
			}
		}
	}
	sort.Slice(reqs, func(i, j int) bool { return reqs[i].Permission < reqs[j].Permission })
	return reqs, unknown
}

// Missing returns the least-privileged permissions among reqs that no granted
// permission satisfies, sorted. Comparison is case-insensitive, as Entra treats
// permission values.
func Missing(reqs []Requirement, granted []string) []string {
	have := map[string]bool{}
	for _, g := range granted {
		have[fold(g)] = true
	}
	var missing []string
	for _, r := range reqs {
		if have[fold(r.Permission)] {
			continue
		}
		covered := false
		for _, alt := range r.SatisfiedBy {
			if have[fold(alt)] {
				covered = true
				break
			}
		}
		if !covered {
			missing = append(missing, r.Permission)
		}
	}
	sort.Strings(missing)
	return missing
}

// Names returns the least-privileged permission names of reqs.
func Names(reqs []Requirement) []string {
	out := make([]string, len(reqs))
	for i, r := range reqs {
		out[i] = r.Permission
	}
	return out
}

func fold(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}
