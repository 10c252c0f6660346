package app

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"go.temporal.io/sdk/client"

	"github.com/outlookflow/outlookflow/activities"
	"github.com/outlookflow/outlookflow/workflows/user"

	"github.com/outlookflow/outlookflow/activities/graphclient"
	"github.com/outlookflow/outlookflow/config"
	"github.com/outlookflow/outlookflow/internal/codec"
	"github.com/outlookflow/outlookflow/internal/credentials"
	"github.com/outlookflow/outlookflow/internal/delegated"
	"github.com/outlookflow/outlookflow/store"
)

// newBroker builds the delegated flows' broker: MSAL over the cloud's
// endpoints and TLS settings, users' tokens sealed in the store with the
// payload keys.
func newBroker(cfg *config.Config, graph *graphclient.Client, st store.Store, ring codec.Keyring) (*delegated.Broker, *delegatedApps, error) {
	secrets, err := OpenSecretStore(st, ring)
	if err != nil {
		return nil, nil, err
	}
	return &delegated.Broker{
		Secrets:           sealedSecrets{secrets},
		HTTP:              graph.IdentityHTTPClient(),
		InstanceDiscovery: cfg.Cloud.IsPublicMicrosoftCloud(),
	}, newDelegatedApps(cfg), nil
}

// OpenSecretStore is the store's sealed secrets under the payload keys.
func OpenSecretStore(st store.Store, ring codec.Keyring) (*credentials.SecretStore, error) {
	sealer, err := credentials.NewSealer(ring)
	if err != nil {
		return nil, fmt.Errorf("sealing secrets in the store: %w", err)
	}
	return credentials.NewSecretStore(st, sealer), nil
}

// sealedSecrets adapts credentials.SecretStore to delegated.Secrets.
type sealedSecrets struct{ s *credentials.SecretStore }

func (a sealedSecrets) PutSecret(ctx context.Context, kind, tenant, subject string, plaintext []byte) error {
	return a.s.Put(ctx, kind, tenant, subject, plaintext)
}

func (a sealedSecrets) Secret(ctx context.Context, kind, tenant, subject string) ([]byte, error) {
	b, _, err := a.s.Secret(ctx, kind, tenant, subject)
	if errors.Is(err, credentials.ErrNotFound) {
		return nil, fmt.Errorf("%w: %v", delegated.ErrNoSecret, err)
	}
	return b, err
}

func (a sealedSecrets) DeleteOlderThan(ctx context.Context, kind string, before time.Time) (int, error) {
	return a.s.DeleteOlderThan(ctx, kind, before)
}

func (a sealedSecrets) DeleteSecret(ctx context.Context, kind, tenant, subject string) error {
	return a.s.Delete(ctx, kind, tenant, subject)
}

// delegatedUsers implements activities.DelegatedUsers: who of a tenant's
// users is Connected (their connection workflows, through visibility) and
// their token credentials (one per user and sign-in, reused so Graph
// sessions are too).
type delegatedUsers struct {
	client client.Client
	broker *delegated.Broker
	apps   *delegatedApps

	mu    sync.Mutex
	creds map[string]azcore.TokenCredential
}

var _ activities.DelegatedUsers = (*delegatedUsers)(nil)

func (u *delegatedUsers) Connected(ctx context.Context, tenantKey string) ([]string, error) {
	// MissingScopes users still act with what they consented to: only a
	// step that needs more gets Graph's 403, which names it.
	wfIDs, err := runningUserConnections(ctx, u.client, tenantKey, user.StatusConnected, user.StatusMissingScopes)
	if err != nil {
		return nil, err
	}
	prefix := user.ConnectionID(tenantKey, "")
	var ids []string
	for _, id := range wfIDs {
		if objectID, ok := strings.CutPrefix(id, prefix); ok && objectID != "" {
			ids = append(ids, objectID)
		}
	}
	return ids, nil
}

func (u *delegatedUsers) Credential(ctx context.Context, tenantKey, objectID string) (azcore.TokenCredential, error) {
	acct, err := u.broker.StoredAccount(ctx, tenantKey, objectID)
	if errors.Is(err, delegated.ErrNoSecret) {
		return nil, activities.ErrUserNotSignedIn
	}
	if err != nil {
		return nil, err
	}
	// The app is resolved each time (its secret file read afresh): a
	// rotated client credential makes a new user credential.
	app, err := u.apps.DelegatedApp(tenantKey)
	if err != nil {
		return nil, err
	}
	key := strings.Join([]string{tenantKey, objectID, acct.HomeAccountID, string(acct.Flow), app.Fingerprint}, "\x00")
	u.mu.Lock()
	defer u.mu.Unlock()
	if c, ok := u.creds[key]; ok {
		return c, nil
	}
	c := u.broker.Credential(app, acct)
	if u.creds == nil {
		u.creds = map[string]azcore.TokenCredential{}
	}
	u.creds[key] = c
	return c, nil
}

// Held implements activities.DelegatedUsers: the user's connection status
// when it is not Connected (asked of the workflow itself, not visibility,
// so a reconnect shows at once).
func (u *delegatedUsers) Held(ctx context.Context, tenantKey, objectID string) (string, error) {
	v, err := u.client.QueryWorkflow(ctx, user.ConnectionID(tenantKey, objectID), "", user.QueryStatus)
	if activities.IsNotFound(err) {
		return "not connected (the user has not signed in: starter connect-user)", nil
	}
	if err != nil {
		return "", err
	}
	var view user.StatusView
	if err := v.Get(&view); err != nil {
		return "", err
	}
	if view.Status == user.StatusConnected || view.Status == user.StatusMissingScopes {
		// A user missing a scope acts with the others (see Connected).
		return "", nil
	}
	if view.Code != "" {
		return fmt.Sprintf("%s (%s)", view.Status, view.Code), nil
	}
	return string(view.Status), nil
}
