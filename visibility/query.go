package visibility

import (
	"context"
	"errors"
	"fmt"

	"github.com/outlookflow/outlookflow/domain"
	"github.com/outlookflow/outlookflow/store"
)

// ErrNotVisible wraps every refusal: an unknown viewer, an unknown mailbox,
// a mailbox the viewer may not see. Callers show the message and treat it
// as "not found", never as a partial answer.
var ErrNotVisible = errors.New("not visible")

// Request is one viewer's question to the store.
type Request struct {
	Tenant string
	// Viewer is a UPN, mail address or object ID.
	Viewer string
	// Admins are the configured UPNs or mail addresses that see everything.
	Admins []string
	// Mailbox, when set, narrows the answer to one mailbox the viewer may
	// see (UPN, mail address or object ID).
	Mailbox string
}

// View is a request resolved against the synced directory: the one path
// every reader of synced items goes through, so the rule cannot be
// forgotten by one of them.
type View struct {
	Scope
	tenant string
	// Users indexes the tenant's users by ID, for showing mailbox owners.
	Users map[string]domain.User
	// mailboxes to read; nil with All means every mailbox.
	mailboxes []string
	narrowed  bool // req.Mailbox named one mailbox
	st        store.Store
}

// Open resolves req: who the viewer is, what they may see, and which
// mailboxes the answer covers.
func Open(ctx context.Context, st store.Store, req Request) (*View, error) {
	users, err := st.Users(ctx, req.Tenant)
	if err != nil {
		return nil, err
	}
	scope, err := For(users, req.Viewer, req.Admins)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNotVisible, err)
	}
	v := &View{Scope: scope, tenant: req.Tenant, Users: make(map[string]domain.User, len(users)), st: st}
	for _, u := range users {
		v.Users[u.ID] = u
	}
	switch {
	case req.Mailbox != "":
		target, ok := Find(users, req.Mailbox)
		if !ok {
			return nil, fmt.Errorf("%w: mailbox %q is not a synced user of tenant %q", ErrNotVisible, req.Mailbox, req.Tenant)
		}
		if !scope.Allows(target.ID) {
			return nil, fmt.Errorf("%w: %s may not see the mailbox of %s: it is neither theirs nor a report's", ErrNotVisible, scope.Viewer.UserPrincipalName, target.UserPrincipalName)
		}
		v.mailboxes, v.narrowed = []string{target.ID}, true
	case !scope.All:
		v.mailboxes = scope.Mailboxes
	}
	return v, nil
}

// Messages returns the visible messages.
func (v *View) Messages(ctx context.Context) ([]domain.Message, error) {
	return read(v, func(mailbox string) ([]domain.Message, error) {
		return v.st.Messages(ctx, store.MessageQuery{Tenant: v.tenant, Mailbox: mailbox})
	})
}

// Events returns the visible events (with attendees).
func (v *View) Events(ctx context.Context) ([]domain.Event, error) {
	return read(v, func(mailbox string) ([]domain.Event, error) { return v.st.Events(ctx, v.tenant, mailbox) })
}

// read reads every mailbox at once for an admin's unnarrowed view (mailbox
// ""), else the visible mailboxes one by one.
func read[T any](v *View, of func(mailbox string) ([]T, error)) ([]T, error) {
	if v.mailboxes == nil {
		return of("")
	}
	var out []T
	for _, mb := range v.mailboxes {
		items, err := of(mb)
		if err != nil {
			return nil, err
		}
		out = append(out, items...)
	}
	return out, nil
}

// Who describes what the view covers, for a summary line.
func (v *View) Who() string {
	switch {
	case v.narrowed:
		return "the mailbox of " + v.Users[v.mailboxes[0]].UserPrincipalName
	case v.All:
		return "every mailbox (admin)"
	default:
		return fmt.Sprintf("%d mailbox(es): their own and their reports'", len(v.Scope.Mailboxes))
	}
}
