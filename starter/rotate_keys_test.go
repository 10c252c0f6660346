package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/outlookflow/outlookflow/internal/codec"
	"github.com/outlookflow/outlookflow/internal/credentials"
	"github.com/outlookflow/outlookflow/store"
)

// keyWorld is a configuration folder with three keys (a, b, c) in files, a
// store and a vault; config(active, keys...) writes a config file using
// some of them.
type keyWorld struct {
	t     *testing.T
	dir   string
	keys  map[string][]byte
	db    string
	vault string
}

func newKeyWorld(t *testing.T) *keyWorld {
	w := &keyWorld{t: t, dir: t.TempDir(), keys: map[string][]byte{}}
	for _, id := range []string{"a", "b", "c"} {
		k := make([]byte, 32)
		_, _ = rand.Read(k)
		w.keys[id] = k
		mustWrite(t, filepath.Join(w.dir, "key-"+id), base64.StdEncoding.EncodeToString(k))
	}
	mustWrite(t, filepath.Join(w.dir, "secret"), "client-secret")
	w.db = filepath.Join(w.dir, "outlookflow.db")
	w.vault = filepath.Join(w.dir, "credentials")
	return w
}

func (w *keyWorld) ring(active string, ids ...string) codec.Keyring {
	r := codec.Keyring{ActiveID: active, Keys: map[string][]byte{}}
	for _, id := range ids {
		r.Keys[id] = w.keys[id]
	}
	return r
}

func (w *keyWorld) config(active string, ids ...string) string {
	var keys strings.Builder
	for _, id := range ids {
		fmt.Fprintf(&keys, "    - id: %s\n      secret: {file: %s}\n", id, filepath.Join(w.dir, "key-"+id))
	}
	path := filepath.Join(w.dir, "config-"+active+"-"+strings.Join(ids, "")+".yaml")
	mustWrite(w.t, path, fmt.Sprintf(`tenants:
  - key: demo
    tenantID: 11111111-2222-3333-4444-555555555555
    clientID: 66666666-7777-8888-9999-000000000000
    secret: {file: %s}
encryption:
  activeKeyID: %s
  keys:
%scredentials:
  dir: %s
store:
  path: %s
`, filepath.Join(w.dir, "secret"), active, keys.String(), w.vault, w.db))
	return path
}

func (w *keyWorld) store() store.Store {
	w.t.Helper()
	st, err := store.Open(context.Background(), store.Config{Driver: store.DriverSQLite, SQLitePath: w.db})
	if err != nil {
		w.t.Fatal(err)
	}
	w.t.Cleanup(func() { _ = st.Close() })
	return st
}

func (w *keyWorld) secrets(st store.Store, ring codec.Keyring) *credentials.SecretStore {
	w.t.Helper()
	s, err := credentials.NewSealer(ring)
	if err != nil {
		w.t.Fatal(err)
	}
	return credentials.NewSecretStore(st, s)
}

func (w *keyWorld) openVault(ring codec.Keyring) *credentials.Vault {
	w.t.Helper()
	v, err := credentials.Open(w.vault, ring)
	if err != nil {
		w.t.Fatal(err)
	}
	return v
}

func TestRotateKeysReencryptsTheStoreAndTheVaultUnderTheNewActiveKey(t *testing.T) {
	ctx := context.Background()
	w := newKeyWorld(t)
	st := w.store()
	underA := w.secrets(st, w.ring("a", "a"))
	users := []string{"oid-1", "oid-2", "oid-3"}
	for _, u := range users {
		if err := underA.Put(ctx, credentials.KindMSALCache, "demo", u, []byte("token-cache-of-"+u)); err != nil {
			t.Fatal(err)
		}
	}
	if err := underA.Put(ctx, credentials.KindPKCE, "demo", "state-1", []byte("verifier")); err != nil {
		t.Fatal(err)
	}
	v1, err := w.openVault(w.ring("a", "a")).Put("demo", "first-secret")
	if err != nil {
		t.Fatal(err)
	}
	v2, err := w.openVault(w.ring("a", "a")).Put("demo", "second-secret")
	if err != nil {
		t.Fatal(err)
	}
	vaultFile := filepath.Join(w.vault, "demo.json")

	// b active and a still configured: everything moves to b.
	res := runStarter(t, w.config("b", "a", "b"), "", "rotate-keys")
	if res.code != exitOK {
		t.Fatalf("rotate-keys exited %d\nstdout: %s\nstderr: %s", res.code, res.stdout, res.stderr)
	}
	rows := map[string]string{}
	for _, line := range strings.Split(res.stdout, "\n") {
		if f := strings.Fields(line); len(f) > 0 {
			rows[f[0]] = strings.Join(f, " ")
		}
	}
	for what, want := range map[string]string{"store": "store 4 0 -", "vault": "vault 2 0 1 of 1 files rewritten"} {
		if !strings.HasPrefix(rows[what], want) {
			t.Errorf("the %s row is %q, want it to start %q:\n%s", what, rows[what], want, res.stdout)
		}
	}
	for _, want := range []string{`sealed with key "b"`, `no longer need "a"`, "retention"} {
		if !strings.Contains(res.stdout, want) {
			t.Errorf("the report does not say %q:\n%s", want, res.stdout)
		}
	}
	if ids, err := st.SealedSecretKeyIDs(ctx); err != nil || len(ids) != 1 || ids["b"] != 4 {
		t.Errorf("store rows by key after rotate-keys: %v (%v), want all 4 under b", ids, err)
	}
	raw, _ := os.ReadFile(vaultFile)
	if strings.Contains(string(raw), `"keyID": "a"`) || strings.Count(string(raw), `"keyID": "b"`) != 2 {
		t.Errorf("the vault file after rotate-keys still has versions under a, or not both under b:\n%s", raw)
	}

	// With a removed, everything still opens.
	onlyB := w.secrets(st, w.ring("b", "b"))
	for _, u := range users {
		if got, _, err := onlyB.Secret(ctx, credentials.KindMSALCache, "demo", u); err != nil || string(got) != "token-cache-of-"+u {
			t.Errorf("%s under b alone: %q, %v", u, got, err)
		}
	}
	vb := w.openVault(w.ring("b", "b"))
	for version, want := range map[string]string{v1: "first-secret", v2: "second-secret"} {
		if got, err := vb.Secret("demo", version); err != nil || got != want {
			t.Errorf("vault version %s under b alone: %q, %v", version, got, err)
		}
	}

	// Idempotent: a second run re-encrypts nothing.
	res = runStarter(t, w.config("b", "b"), "", "rotate-keys", "--json")
	if res.code != exitOK {
		t.Fatalf("a second rotate-keys exited %d: %s", res.code, res.stderr)
	}
	var report rotateKeysReport
	if err := json.Unmarshal([]byte(res.stdout), &report); err != nil {
		t.Fatalf("--json printed %q: %v", res.stdout, err)
	}
	if report.Store.Reencrypted != 0 || report.Store.Current != 4 || report.Vault.Reencrypted != 0 || report.Vault.Current != 2 || report.Vault.Rewritten != 0 {
		t.Errorf("a second run reported %+v, want nothing re-encrypted, 4 store secrets and 2 vault versions current", report)
	}
}

func TestRotateKeysRefusesAKeyNoLongerConfiguredAndChangesNothing(t *testing.T) {
	ctx := context.Background()
	w := newKeyWorld(t)
	st := w.store()
	if err := w.secrets(st, w.ring("b", "b")).Put(ctx, credentials.KindMSALCache, "demo", "oid-1", []byte("cache")); err != nil {
		t.Fatal(err)
	}
	if _, err := w.openVault(w.ring("a", "a")).Put("demo", "secret"); err != nil {
		t.Fatal(err)
	}
	vaultBefore, _ := os.ReadFile(filepath.Join(w.vault, "demo.json"))

	// c active, b configured, a (the vault's key) removed too early.
	res := runStarter(t, w.config("c", "b", "c"), "", "rotate-keys")
	if res.code == exitOK {
		t.Fatalf("rotate-keys succeeded with key a missing:\n%s", res.stdout)
	}
	for _, want := range []string{`"a"`, "encryption.keys", "nothing was re-encrypted"} {
		if !strings.Contains(res.stderr, want) {
			t.Errorf("the refusal does not mention %s:\n%s", want, res.stderr)
		}
	}
	if ids, _ := st.SealedSecretKeyIDs(ctx); len(ids) != 1 || ids["b"] != 1 {
		t.Errorf("a refused rotate-keys changed the store: %v", ids)
	}
	if after, _ := os.ReadFile(filepath.Join(w.vault, "demo.json")); string(after) != string(vaultBefore) {
		t.Error("a refused rotate-keys rewrote the vault file")
	}
}
