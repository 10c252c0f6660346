// Package visibility decides who may see whose synced items, following the
// org hierarchy (Fostr's model): a viewer sees their own mailbox and those of
// everyone who reports to them, directly or through other managers;
// configured admins see every mailbox. It is pure code over the synced
// directory, the one rule every reader of the store (the CLI today, recipes
// and any API later) goes through.
package visibility

import (
	"fmt"
	"sort"
	"strings"

	"github.com/outlookflow/outlookflow/domain"
)

// Scope is what one viewer may see.
type Scope struct {
	Viewer domain.User
	// All is true for admins: every mailbox of the tenant.
	All bool
	// Mailboxes are the visible mailbox owners' IDs (the viewer first, then
	// their reports by ID) when All is false.
	Mailboxes []string
}

// Allows reports whether the scope includes the mailbox.
func (s Scope) Allows(mailbox string) bool {
	if s.All {
		return true
	}
	for _, m := range s.Mailboxes {
		if m == mailbox {
			return true
		}
	}
	return false
}

// For resolves viewer (UPN, mail address or object ID) among users and
// returns what they may see. admins lists UPNs or mail addresses that see
// everything. An unknown viewer is an error: nobody sees anything by mistake.
func For(users []domain.User, viewer string, admins []string) (Scope, error) {
	v, ok := Find(users, viewer)
	if !ok {
		return Scope{}, fmt.Errorf("%q is not a user of this tenant's synced directory; use their UPN (sync the directory first if they are new)", viewer)
	}
	for _, a := range admins {
		if matches(v, a) {
			return Scope{Viewer: v, All: true}, nil
		}
	}
	reports := map[string][]string{}
	for _, u := range users {
		if u.ManagerID != "" {
			reports[u.ManagerID] = append(reports[u.ManagerID], u.ID)
		}
	}
	seen := map[string]bool{v.ID: true}
	queue := []string{v.ID}
	var below []string
	for len(queue) > 0 {
		id := queue[0]
		queue = queue[1:]
		for _, r := range reports[id] {
			if !seen[r] { // a cycle in bad directory data must not loop
				seen[r] = true
				below = append(below, r)
				queue = append(queue, r)
			}
		}
	}
	sort.Strings(below)
	return Scope{Viewer: v, Mailboxes: append([]string{v.ID}, below...)}, nil
}

// Find looks a user up by object ID, UPN or mail address (any case).
func Find(users []domain.User, key string) (domain.User, bool) {
	for _, u := range users {
		if matches(u, key) {
			return u, true
		}
	}
	return domain.User{}, false
}

func matches(u domain.User, key string) bool {
	return key != "" && (u.ID == key || strings.EqualFold(u.UserPrincipalName, key) || (u.Mail != "" && strings.EqualFold(u.Mail, key)))
}
