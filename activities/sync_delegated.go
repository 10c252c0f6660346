package activities

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"go.uber.org/zap"

	"github.com/outlookflow/outlookflow/domain"
	"github.com/outlookflow/outlookflow/store"
)

// DelegatedUsers is what a delegated tenant's sync asks about its users.
// internal/app implements it over the user connections (their status) and
// the tokens sealed in the store.
type DelegatedUsers interface {
	// Connected lists the object IDs of the tenant's users whose
	// connection is Connected, or MissingScopes (they act with what they
	// consented to; Graph refuses only what needs more). Users not listed
	// are left alone: their stored data and cursors stay until they
	// reconnect.
	Connected(ctx context.Context, tenantKey string) ([]string, error)
	// Credential is the user's token credential (their refresh token);
	// ErrUserNotSignedIn when they never signed in.
	Credential(ctx context.Context, tenantKey, objectID string) (azcore.TokenCredential, error)
	// Held is why work acting as the user must wait ("" when their
	// connection is Connected or MissingScopes): their status, or that they
	// never signed in.
	Held(ctx context.Context, tenantKey, objectID string) (string, error)
}

// ErrUserNotSignedIn is a delegated user with no stored tokens.
var ErrUserNotSignedIn = errors.New("the user has not signed in (starter connect-user)")

// delegatedCredentials are the credentials that act as one signed-in user.
func (a *Sync) delegatedCredentials(ctx context.Context, tenantKey string, settings TenantSettings, objectID string) (Credentials, error) {
	if a.Users == nil {
		return Credentials{}, errors.New("this worker has no delegated user directory")
	}
	tok, err := a.Users.Credential(ctx, tenantKey, objectID)
	if err != nil {
		return Credentials{}, err
	}
	return Credentials{TenantID: settings.TenantID, ClientID: settings.ClientID, AuthMode: AuthDelegated, User: objectID, Token: tok}, nil
}

// syncDelegatedDirectory is a delegated tenant's directory: each connected
// user's own profile through /me (no organisation-wide directory read is
// consented). Users who are not connected keep their stored rows.
func (a *Sync) syncDelegatedDirectory(ctx context.Context, in SyncDirectoryInput, settings TenantSettings) (SyncDirectoryResult, error) {
	var res SyncDirectoryResult
	if a.Users == nil {
		return res, errors.New("this worker has no delegated user directory")
	}
	ids, err := a.Users.Connected(ctx, in.TenantKey)
	if err != nil {
		return res, retryable("listing the tenant's connected users", err)
	}
	var users []domain.User
	for _, id := range ids {
		creds, err := a.delegatedCredentials(ctx, in.TenantKey, settings, id)
		if err == nil {
			var u domain.User
			u, err = a.Graph.Me(ctx, creds)
			if err == nil {
				users = append(users, u)
				continue
			}
		}
		// One user's refused token must not stop the others: their
		// connection's next check shows why.
		a.Log.Warn("a delegated user's profile could not be read; their sync waits", zap.String("tenant", in.TenantKey), zap.String("user", id), zap.Error(err))
	}
	res.Pages = 1
	if len(users) > 0 {
		counts, err := a.Store.ApplyUsers(ctx, store.UsersPage{Tenant: in.TenantKey, Upserts: users,
			// No delta round here: the cursor records the read itself.
			Next: store.Next{Token: "me", Complete: true}})
		if err != nil {
			return res, retryable("saving users", err)
		}
		res.Changed = counts.Inserted + counts.Updated + counts.Deleted
	}
	n, err := a.mailboxCount(ctx, in.TenantKey)
	if err != nil {
		return res, err
	}
	res.Mailboxes = n
	return res, nil
}

// connectedMailboxes narrows a delegated tenant's batch to its connected
// users: a mailbox whose user is not connected is skipped with the reason,
// its cursors untouched, so nothing is lost and it resumes on reconnect.
func (a *Sync) connectedMailboxes(ctx context.Context, tenantKey string, mailboxes []string, res *SyncMailboxesResult) ([]string, error) {
	ids, err := a.Users.Connected(ctx, tenantKey)
	if err != nil {
		return nil, retryable("listing the tenant's connected users", err)
	}
	var out []string
	for _, m := range mailboxes {
		if slices.Contains(ids, m) {
			out = append(out, m)
			continue
		}
		res.Failures = append(res.Failures, FolderFailure{Mailbox: m, Folder: "*", Reason: fmt.Sprintf("user %s is not connected; their sync waits until they sign in again", m)})
	}
	return out, nil
}
