package credentials

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/outlookflow/outlookflow/internal/codec"
)

func key(t *testing.T) []byte {
	t.Helper()
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	return k
}

func open(t *testing.T, dir string, ring codec.Keyring) *Vault {
	t.Helper()
	v, err := Open(dir, ring)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestPutThenSecretRoundTripsAndTheFileHoldsNoPlaintext(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "vault")
	v := open(t, dir, codec.Keyring{ActiveID: "k1", Keys: map[string][]byte{"k1": key(t)}})
	const secret = "sim~rotated-secret-value-0123456789"
	version, err := v.Put("contoso", secret)
	if err != nil {
		t.Fatal(err)
	}
	if !ValidVersion(version) {
		t.Fatalf("version %q does not have the documented shape", version)
	}
	got, err := v.Secret("contoso", version)
	if err != nil || got != secret {
		t.Fatalf("Secret = %q, %v; want the stored secret", got, err)
	}
	raw, err := os.ReadFile(filepath.Join(dir, "contoso.json"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw, []byte(secret)) || bytes.Contains(raw, []byte("rotated-secret")) {
		t.Fatal("the credential file holds the secret in plaintext")
	}
	for path, want := range map[string]os.FileMode{dir: 0o700, filepath.Join(dir, "contoso.json"): 0o600} {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != want {
			t.Errorf("%s has mode %v, want %v", path, fi.Mode().Perm(), want)
		}
	}
}

func TestOnlyTheLastVersionsAreKeptAndUnknownOnesAreNotFound(t *testing.T) {
	v := open(t, t.TempDir(), codec.Keyring{ActiveID: "k1", Keys: map[string][]byte{"k1": key(t)}})
	var versions []string
	for i := 0; i < keptVersions+1; i++ {
		ver, err := v.Put("contoso", "secret-"+string(rune('a'+i)))
		if err != nil {
			t.Fatal(err)
		}
		versions = append(versions, ver)
	}
	if _, err := v.Secret("contoso", versions[0]); !errors.Is(err, ErrNotFound) {
		t.Fatalf("oldest version beyond the kept %d: err %v, want ErrNotFound", keptVersions, err)
	}
	for i, ver := range versions[1:] {
		if got, err := v.Secret("contoso", ver); err != nil || got != "secret-"+string(rune('b'+i)) {
			t.Fatalf("version %d: %q, %v", i+1, got, err)
		}
	}
	if _, err := v.Secret("fabrikam", versions[1]); !errors.Is(err, ErrNotFound) {
		t.Fatalf("other tenant: err %v, want ErrNotFound", err)
	}
	if _, err := v.Secret("contoso", "../../etc/passwd"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("malformed version: err %v, want ErrNotFound", err)
	}
}

func TestAnEntryMovedToAnotherTenantDoesNotOpen(t *testing.T) {
	dir := t.TempDir()
	v := open(t, dir, codec.Keyring{ActiveID: "k1", Keys: map[string][]byte{"k1": key(t)}})
	version, err := v.Put("contoso", "contoso-secret")
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(filepath.Join(dir, "contoso.json"))
	var f file
	if err := json.Unmarshal(raw, &f); err != nil {
		t.Fatal(err)
	}
	f.Tenant = "fabrikam"
	moved, _ := json.Marshal(f)
	if err := os.WriteFile(filepath.Join(dir, "fabrikam.json"), moved, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Secret("fabrikam", version); err == nil || !strings.Contains(err.Error(), "does not decrypt") {
		t.Fatalf("relabelled entry opened (err %v); the tenant must be bound into the seal", err)
	}
}

func TestOldKeysStillOpenAfterKeyRotationAndMissingKeysAreNamed(t *testing.T) {
	dir := t.TempDir()
	k1, k2 := key(t), key(t)
	version, err := open(t, dir, codec.Keyring{ActiveID: "k1", Keys: map[string][]byte{"k1": k1}}).Put("contoso", "s1")
	if err != nil {
		t.Fatal(err)
	}
	rotated := open(t, dir, codec.Keyring{ActiveID: "k2", Keys: map[string][]byte{"k1": k1, "k2": k2}})
	if got, err := rotated.Secret("contoso", version); err != nil || got != "s1" {
		t.Fatalf("after making k2 active: %q, %v", got, err)
	}
	retired := open(t, dir, codec.Keyring{ActiveID: "k2", Keys: map[string][]byte{"k2": k2}})
	if _, err := retired.Secret("contoso", version); err == nil || !strings.Contains(err.Error(), `"k1"`) {
		t.Fatalf("k1 retired: err %v, want one naming key k1", err)
	}
}

func TestOpenRefusesAMissingDirectoryOrActiveKey(t *testing.T) {
	if _, err := Open("", codec.Keyring{ActiveID: "k", Keys: map[string][]byte{"k": key(t)}}); err == nil || !strings.Contains(err.Error(), "credentials.dir") {
		t.Fatalf("empty dir: %v", err)
	}
	if _, err := Open(t.TempDir(), codec.Keyring{ActiveID: "x", Keys: map[string][]byte{"k": key(t)}}); err == nil || !strings.Contains(err.Error(), "activeKeyID") {
		t.Fatalf("missing active key: %v", err)
	}
}

// legacyKey is the key testdata/legacy-vault was sealed with, by the vault
// as it was before it used the Sealer: bytes 0 to 31.
func legacyKey() []byte {
	k := make([]byte, 32)
	for i := range k {
		k[i] = byte(i)
	}
	return k
}

// copyLegacyVault copies testdata/legacy-vault to a temp folder.
func copyLegacyVault(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "vault")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join("testdata", "legacy-vault", "contoso.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "contoso.json"), raw, 0o600); err != nil {
		t.Fatal(err)
	}
	return dir
}

const (
	legacyVersion = "9e39a206c7af305b"
	legacySecret  = "legacy-client-secret-value"
)

func TestFilesSealedBeforeTheSealerStillOpen(t *testing.T) {
	dir := copyLegacyVault(t)
	v := open(t, dir, codec.Keyring{ActiveID: "legacy-k1", Keys: map[string][]byte{"legacy-k1": legacyKey()}})
	got, err := v.Secret("contoso", legacyVersion)
	if err != nil || got != legacySecret {
		t.Fatalf("the legacy file's secret: %q, %v; want %q", got, err, legacySecret)
	}
	// And a file written now is still the same JSON shape.
	version, err := v.Put("contoso", "new-secret")
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(filepath.Join(dir, "contoso.json"))
	var f file
	if err := json.Unmarshal(raw, &f); err != nil || len(f.Versions) != 2 || f.Versions[0].Version != version || f.Versions[0].KeyID != "legacy-k1" || len(f.Versions[0].Nonce) != 12 {
		t.Fatalf("the file after a Put: %s (err %v)", raw, err)
	}
}

func TestReencryptMovesEveryVersionToTheActiveKeyOnce(t *testing.T) {
	dir := copyLegacyVault(t)
	k2 := key(t)
	rotated := open(t, dir, codec.Keyring{ActiveID: "k2", Keys: map[string][]byte{"legacy-k1": legacyKey(), "k2": k2}})
	newer, err := rotated.Put("contoso", "under-k2")
	if err != nil {
		t.Fatal(err)
	}
	fabrikam, err := open(t, dir, codec.Keyring{ActiveID: "legacy-k1", Keys: map[string][]byte{"legacy-k1": legacyKey()}}).Put("fabrikam", "fab-secret")
	if err != nil {
		t.Fatal(err)
	}
	r, err := rotated.Reencrypt()
	if err != nil {
		t.Fatal(err)
	}
	if want := (VaultRotation{Files: 2, Rewritten: 2, Reencrypted: 2, Current: 1}); r != want {
		t.Errorf("Reencrypt = %+v, want %+v", r, want)
	}
	for _, name := range []string{"contoso.json", "fabrikam.json"} {
		raw, _ := os.ReadFile(filepath.Join(dir, name))
		if bytes.Contains(raw, []byte("legacy-k1")) {
			t.Errorf("%s still names legacy-k1 after re-encryption:\n%s", name, raw)
		}
	}
	// Only k2 now: everything opens.
	onlyK2 := open(t, dir, codec.Keyring{ActiveID: "k2", Keys: map[string][]byte{"k2": k2}})
	for _, c := range []struct{ tenant, version, want string }{
		{"contoso", legacyVersion, legacySecret}, {"contoso", newer, "under-k2"}, {"fabrikam", fabrikam, "fab-secret"},
	} {
		if got, err := onlyK2.Secret(c.tenant, c.version); err != nil || got != c.want {
			t.Errorf("%s %s under k2 alone: %q, %v", c.tenant, c.version, got, err)
		}
	}
	again, err := onlyK2.Reencrypt()
	if err != nil {
		t.Fatal(err)
	}
	if want := (VaultRotation{Files: 2, Current: 3}); again != want {
		t.Errorf("a second Reencrypt = %+v, want %+v (nothing to do)", again, want)
	}
}

func TestReencryptRefusesAnUnconfiguredKeyAndChangesNothing(t *testing.T) {
	dir := copyLegacyVault(t)
	k2 := key(t)
	// acme sorts before contoso, whose key is the missing one, and needs
	// re-encrypting: it must not be rewritten before the refusal.
	if _, err := open(t, dir, codec.Keyring{ActiveID: "k2", Keys: map[string][]byte{"k2": k2}}).Put("acme", "x"); err != nil {
		t.Fatal(err)
	}
	k3 := key(t)
	v := open(t, dir, codec.Keyring{ActiveID: "k3", Keys: map[string][]byte{"k2": k2, "k3": k3}})
	before, _ := os.ReadFile(filepath.Join(dir, "acme.json"))
	_, err := v.Reencrypt()
	var unknown *UnknownKeyError
	if !errors.As(err, &unknown) || unknown.KeyID != "legacy-k1" || !strings.Contains(err.Error(), "encryption.keys") {
		t.Fatalf("err %v, want an *UnknownKeyError naming legacy-k1 and encryption.keys", err)
	}
	after, _ := os.ReadFile(filepath.Join(dir, "acme.json"))
	if !bytes.Equal(before, after) {
		t.Error("a refused Reencrypt rewrote acme.json")
	}
	if r, err := open(t, filepath.Join(t.TempDir(), "none"), codec.Keyring{ActiveID: "k2", Keys: map[string][]byte{"k2": k2}}).Reencrypt(); err != nil || r != (VaultRotation{}) {
		t.Errorf("a vault that was never written: %+v, %v; want nothing, no error", r, err)
	}
}
