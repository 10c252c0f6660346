package credentials

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/outlookflow/outlookflow/store"
)

// sqliteStore opens a store in a temp SQLite file and returns it with the
// file's path.
func sqliteStore(t *testing.T) (store.Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "outlookflow.db")
	st, err := store.Open(context.Background(), store.Config{Driver: store.DriverSQLite, SQLitePath: path})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st, path
}

func TestSecretStoreRoundTripsAndAMissingSecretIsNotFound(t *testing.T) {
	ctx := context.Background()
	st, _ := sqliteStore(t)
	secrets := NewSecretStore(st, sealer(t, "k1", map[string][]byte{"k1": key(t)}))
	cache := []byte(`{"RefreshToken":{"x":{"secret":"0.AAAA-refresh"}}}`)
	if err := secrets.Put(ctx, KindMSALCache, "contoso", "oid-1", cache); err != nil {
		t.Fatal(err)
	}
	got, at, err := secrets.Secret(ctx, KindMSALCache, "contoso", "oid-1")
	if err != nil || !bytes.Equal(got, cache) {
		t.Fatalf("Secret = %q, %v; want the cache", got, err)
	}
	if time.Since(at) > time.Minute || at.IsZero() {
		t.Errorf("updatedAt %v, want about now", at)
	}
	if _, _, err := secrets.Secret(ctx, KindMSALCache, "contoso", "oid-2"); !errors.Is(err, ErrNotFound) {
		t.Errorf("a missing secret: err %v, want ErrNotFound", err)
	}
	if err := secrets.Delete(ctx, KindMSALCache, "contoso", "oid-1"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := secrets.Secret(ctx, KindMSALCache, "contoso", "oid-1"); !errors.Is(err, ErrNotFound) {
		t.Errorf("a deleted secret: err %v, want ErrNotFound", err)
	}
	if err := secrets.Put(ctx, KindMSALCache, "contoso", "oid-1", nil); !errors.Is(err, store.ErrInvalidRecord) {
		t.Errorf("an empty secret: err %v, want ErrInvalidRecord", err)
	}
}

func TestASecretRowCopiedToAnotherUserDoesNotOpen(t *testing.T) {
	ctx := context.Background()
	st, _ := sqliteStore(t)
	secrets := NewSecretStore(st, sealer(t, "k1", map[string][]byte{"k1": key(t)}))
	if err := secrets.Put(ctx, KindMSALCache, "contoso", "victim", []byte("victim's refresh token")); err != nil {
		t.Fatal(err)
	}
	row, found, err := st.SealedSecret(ctx, store.SecretKey{Kind: KindMSALCache, Tenant: "contoso", Subject: "victim"})
	if err != nil || !found {
		t.Fatal(found, err)
	}
	for _, to := range []store.SecretKey{
		{Kind: KindMSALCache, Tenant: "contoso", Subject: "attacker"},
		{Kind: KindMSALCache, Tenant: "fabrikam", Subject: "victim"},
		{Kind: KindPKCE, Tenant: "contoso", Subject: "victim"},
	} {
		moved := row
		moved.SecretKey = to
		if err := st.PutSealedSecret(ctx, moved); err != nil {
			t.Fatal(err)
		}
		if got, _, err := secrets.Secret(ctx, to.Kind, to.Tenant, to.Subject); err == nil {
			t.Errorf("the victim's row copied to %s opened to %q", to, got)
		}
	}
}

func TestPKCEVerifiersAreSweptByAge(t *testing.T) {
	ctx := context.Background()
	st, _ := sqliteStore(t)
	secrets := NewSecretStore(st, sealer(t, "k1", map[string][]byte{"k1": key(t)}))
	if err := secrets.Put(ctx, KindPKCE, "contoso", "state-1", []byte("verifier")); err != nil {
		t.Fatal(err)
	}
	if err := secrets.Put(ctx, KindMSALCache, "contoso", "oid-1", []byte("cache")); err != nil {
		t.Fatal(err)
	}
	if n, err := secrets.DeleteOlderThan(ctx, KindPKCE, time.Now().Add(-10*time.Minute)); err != nil || n != 0 {
		t.Fatalf("sweeping verifiers older than 10 minutes took %d (%v), want 0", n, err)
	}
	if n, err := secrets.DeleteOlderThan(ctx, KindPKCE, time.Now().Add(time.Second)); err != nil || n != 1 {
		t.Fatalf("sweeping every verifier took %d (%v), want 1", n, err)
	}
	if _, _, err := secrets.Secret(ctx, KindMSALCache, "contoso", "oid-1"); err != nil {
		t.Errorf("sweeping pkce took the msal cache: %v", err)
	}
}

// rawDatabase is the SQLite file and its write-ahead log, as bytes.
func rawDatabase(t *testing.T, path string) []byte {
	t.Helper()
	var all []byte
	for _, p := range []string{path, path + "-wal"} {
		b, err := os.ReadFile(p)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
		all = append(all, b...)
	}
	return all
}

func TestTheDatabaseFilesNeverHoldTheSecretInPlaintext(t *testing.T) {
	ctx := context.Background()
	st, path := sqliteStore(t)
	secrets := NewSecretStore(st, sealer(t, "k1", map[string][]byte{"k1": key(t)}))
	refresh := []byte("0.AXwA-plaintext-refresh-token-4b1d7e3c9a")
	if err := secrets.Put(ctx, KindMSALCache, "contoso", "oid-1", append([]byte(`{"RefreshToken":"`), append(refresh, '"', '}')...)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := secrets.Secret(ctx, KindMSALCache, "contoso", "oid-1"); err != nil {
		t.Fatal(err)
	}
	if raw := rawDatabase(t, path); bytes.Contains(raw, refresh) {
		t.Fatal("the SQLite file or its WAL holds the refresh token in plaintext")
	}
	// The control: the same bytes stored unsealed are found, so the search
	// above looks where the rows are.
	if err := st.PutSealedSecret(ctx, store.SealedSecret{SecretKey: store.SecretKey{Kind: "control", Tenant: "contoso", Subject: "oid-1"}, KeyID: "none", Sealed: refresh}); err != nil {
		t.Fatal(err)
	}
	if raw := rawDatabase(t, path); !bytes.Contains(raw, refresh) {
		t.Fatal("an unsealed row's bytes are not found in the SQLite file or its WAL; the plaintext check above proves nothing")
	}
}

func TestReencryptMovesEveryStoreSecretToTheActiveKeyOnce(t *testing.T) {
	ctx := context.Background()
	st, _ := sqliteStore(t)
	a, b := key(t), key(t)
	underA := NewSecretStore(st, sealer(t, "a", map[string][]byte{"a": a}))
	for _, subject := range []string{"u1", "u2", "u3"} {
		if err := underA.Put(ctx, KindMSALCache, "contoso", subject, []byte("cache-"+subject)); err != nil {
			t.Fatal(err)
		}
	}
	if err := underA.Put(ctx, KindPKCE, "contoso", "state", []byte("verifier")); err != nil {
		t.Fatal(err)
	}
	before, _, _ := st.SealedSecret(ctx, store.SecretKey{Kind: KindPKCE, Tenant: "contoso", Subject: "state"})
	underB := NewSecretStore(st, sealer(t, "b", map[string][]byte{"a": a, "b": b}))
	if err := underB.Put(ctx, KindMSALCache, "fabrikam", "u9", []byte("already-b")); err != nil {
		t.Fatal(err)
	}

	r, err := underB.Reencrypt(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := (StoreRotation{Reencrypted: 4, Current: 1}); r != want {
		t.Errorf("Reencrypt = %+v, want %+v", r, want)
	}
	ids, _ := st.SealedSecretKeyIDs(ctx)
	if len(ids) != 1 || ids["b"] != 5 {
		t.Errorf("rows by key after re-encryption: %v, want all 5 under b", ids)
	}
	after, _, _ := st.SealedSecret(ctx, store.SecretKey{Kind: KindPKCE, Tenant: "contoso", Subject: "state"})
	if !after.UpdatedAt.Equal(before.UpdatedAt) {
		t.Errorf("re-encryption moved the verifier's updatedAt from %v to %v; it must not extend its life", before.UpdatedAt, after.UpdatedAt)
	}
	onlyB := NewSecretStore(st, sealer(t, "b", map[string][]byte{"b": b}))
	for _, subject := range []string{"u1", "u2", "u3"} {
		if got, _, err := onlyB.Secret(ctx, KindMSALCache, "contoso", subject); err != nil || string(got) != "cache-"+subject {
			t.Errorf("%s under b alone: %q, %v", subject, got, err)
		}
	}
	again, err := onlyB.Reencrypt(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := (StoreRotation{Current: 5}); again != want {
		t.Errorf("a second Reencrypt = %+v, want %+v (nothing to do)", again, want)
	}
}

func TestReencryptRefusesSecretsUnderAnUnconfiguredKey(t *testing.T) {
	ctx := context.Background()
	st, _ := sqliteStore(t)
	a, b, c := key(t), key(t), key(t)
	if err := NewSecretStore(st, sealer(t, "a", map[string][]byte{"a": a})).Put(ctx, KindMSALCache, "contoso", "u1", []byte("x")); err != nil {
		t.Fatal(err)
	}
	if err := NewSecretStore(st, sealer(t, "b", map[string][]byte{"b": b})).Put(ctx, KindMSALCache, "contoso", "u2", []byte("y")); err != nil {
		t.Fatal(err)
	}
	// c is active and b is configured, a is not: nothing may change.
	_, err := NewSecretStore(st, sealer(t, "c", map[string][]byte{"b": b, "c": c})).Reencrypt(ctx)
	var unknown *UnknownKeyError
	if !errors.As(err, &unknown) || unknown.KeyID != "a" || !strings.Contains(err.Error(), "encryption.keys") {
		t.Fatalf("err %v, want an *UnknownKeyError naming key a and encryption.keys", err)
	}
	if ids, _ := st.SealedSecretKeyIDs(ctx); ids["a"] != 1 || ids["b"] != 1 || len(ids) != 2 {
		t.Errorf("a refused Reencrypt changed rows: %v", ids)
	}
	if _, _, err := NewSecretStore(st, sealer(t, "c", map[string][]byte{"c": c})).Secret(ctx, KindMSALCache, "contoso", "u1"); !errors.As(err, &unknown) || unknown.KeyID != "a" {
		t.Errorf("opening a secret under a removed key: %v, want an *UnknownKeyError naming a", err)
	}
}
