package app

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/outlookflow/outlookflow/activities"
	"github.com/outlookflow/outlookflow/config"
	"github.com/outlookflow/outlookflow/internal/delegated"
	"github.com/outlookflow/outlookflow/internal/delegated/delegatedtest"
)

// A user's credential is reused while the app's client secret stays, and
// rebuilt when it is rotated (the secret file replaced): a credential
// built on the old secret would keep failing with it.
func TestUserCredentialIsReusedUntilTheAppSecretIsRotated(t *testing.T) {
	dir := t.TempDir()
	secretFile := filepath.Join(dir, "secret")
	if err := os.WriteFile(secretFile, []byte("first"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := &config.Config{
		Cloud: config.Cloud{AuthorityHost: "https://login.example/", GraphScope: "https://graph.microsoft.com/.default"},
		Tenants: []config.Tenant{{Key: "t", TenantID: "tid", ClientID: "cid", AuthMode: config.AuthDelegated,
			Secret: config.SecretRef{File: secretFile}}},
	}
	secrets := &delegatedtest.Secrets{}
	u := &delegatedUsers{broker: &delegated.Broker{Secrets: secrets}, apps: newDelegatedApps(cfg)}
	ctx := context.Background()

	if _, err := u.Credential(ctx, "t", "oid"); !errors.Is(err, activities.ErrUserNotSignedIn) {
		t.Fatalf("a user who never signed in: %v, want ErrUserNotSignedIn", err)
	}
	raw, _ := json.Marshal(delegated.Account{ObjectID: "oid", HomeAccountID: "oid.tid", Flow: delegated.FlowAuthCode})
	if err := secrets.PutSecret(ctx, delegated.KindAccount, "t", "oid", raw); err != nil {
		t.Fatal(err)
	}
	first, err := u.Credential(ctx, "t", "oid")
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := u.Credential(ctx, "t", "oid"); again != first {
		t.Fatalf("the same user and secret gave a new credential")
	}
	if err := os.WriteFile(secretFile, []byte("rotated"), 0o600); err != nil {
		t.Fatal(err)
	}
	if rotated, _ := u.Credential(ctx, "t", "oid"); rotated == first {
		t.Fatalf("the credential built on the old secret is still used after the rotation")
	}
}
