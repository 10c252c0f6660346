// Package credentials keeps client secrets that an operator hands over at
// runtime (`starter rotate --secret-stdin`) out of Temporal entirely: the
// starter seals the secret into a worker-side file with the configured
// payload keys and sends the tenant workflow only the version it was stored
// under; the verification activity opens that version when it needs the
// secret. Workflow history, search attributes and the codec endpoint never see
// the secret, encrypted or not.
//
// The vault is one file per tenant (<dir>/<tenant>.json, mode 0600, directory
// 0700) holding the last few versions, each sealed with AES-256-GCM under the
// active key and bound to its tenant and version. Worker and starter must see
// the same directory (one host, or a shared volume); the store of the sync
// issue will take this role for multi-host deployments behind the same two
// calls, Put and Secret.
package credentials

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"time"

	"github.com/outlookflow/outlookflow/internal/codec"
)

// keptVersions is how many versions a tenant's file keeps: the newest plus
// older ones, so a workflow that has not yet taken a new version (a rotation
// whose update never reached it, say) still verifies with the one it knows.
const keptVersions = 10

// ErrNotFound means the vault holds no such tenant or version.
var ErrNotFound = errors.New("credential not found")

// versionPattern is the shape of versions Put hands out, checked before a
// version from a payload is used in a lookup.
var versionPattern = regexp.MustCompile(`^[0-9a-f]{16}$`)

// ValidVersion reports whether v has the shape of a version Put returns.
func ValidVersion(v string) bool { return versionPattern.MatchString(v) }

// tenantKeyPattern mirrors config's tenant-key rule; it also keeps file names
// inside the vault directory.
var tenantKeyPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)

// Vault is a directory of sealed tenant secrets.
type Vault struct {
	dir  string
	ring codec.Keyring
	now  func() time.Time
}

// Open returns the vault in dir, sealing with ring's active key and opening
// with any of its keys. The directory is created (0700) on first Put.
func Open(dir string, ring codec.Keyring) (*Vault, error) {
	if dir == "" {
		return nil, errors.New("credentials: no directory configured; set credentials.dir")
	}
	if _, ok := ring.Keys[ring.ActiveID]; !ok {
		return nil, fmt.Errorf("credentials: the active key %q is not in the keyring; set encryption.activeKeyID to a configured key", ring.ActiveID)
	}
	return &Vault{dir: dir, ring: ring, now: time.Now}, nil
}

// Dir is the vault's directory, for messages.
func (v *Vault) Dir() string { return v.dir }

type file struct {
	Tenant   string         `json:"tenant"`
	Versions []sealedSecret `json:"versions"` // newest first
}

type sealedSecret struct {
	Version   string    `json:"version"`
	CreatedAt time.Time `json:"createdAt"`
	KeyID     string    `json:"keyID"`
	Nonce     []byte    `json:"nonce"`
	Sealed    []byte    `json:"sealed"`
}

// Put seals secret for tenant under a new random version and returns it.
// Versions are random rather than derived from the secret, so they reveal
// nothing about it even to someone holding the history.
func (v *Vault) Put(tenant, secret string) (string, error) {
	if !tenantKeyPattern.MatchString(tenant) {
		return "", fmt.Errorf("credentials: %q is not a tenant key", tenant)
	}
	if secret == "" {
		return "", errors.New("credentials: empty secret")
	}
	raw := make([]byte, 8)
	if _, err := rand.Read(raw); err != nil {
		return "", err
	}
	version := hex.EncodeToString(raw)
	aead, err := v.aead(v.ring.ActiveID)
	if err != nil {
		return "", err
	}
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", err
	}
	entry := sealedSecret{
		Version:   version,
		CreatedAt: v.now().UTC(),
		KeyID:     v.ring.ActiveID,
		Nonce:     nonce,
		Sealed:    aead.Seal(nil, nonce, []byte(secret), additionalData(tenant, version)),
	}
	f, err := v.read(tenant)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return "", err
	}
	f.Tenant = tenant
	f.Versions = append([]sealedSecret{entry}, f.Versions...)
	if len(f.Versions) > keptVersions {
		f.Versions = f.Versions[:keptVersions]
	}
	if err := v.write(tenant, f); err != nil {
		return "", err
	}
	return version, nil
}

// Secret opens the secret stored for tenant under version.
func (v *Vault) Secret(tenant, version string) (string, error) {
	if !tenantKeyPattern.MatchString(tenant) || !ValidVersion(version) {
		return "", fmt.Errorf("%w: tenant %q version %q is malformed", ErrNotFound, tenant, version)
	}
	f, err := v.read(tenant)
	if err != nil {
		return "", err
	}
	for _, e := range f.Versions {
		if e.Version != version {
			continue
		}
		aead, err := v.aead(e.KeyID)
		if err != nil {
			return "", err
		}
		plain, err := aead.Open(nil, e.Nonce, e.Sealed, additionalData(tenant, version))
		if err != nil {
			return "", fmt.Errorf("credentials: version %s of tenant %q does not decrypt with key %q (tampered, or sealed with another key of the same id)", version, tenant, e.KeyID)
		}
		return string(plain), nil
	}
	return "", fmt.Errorf("%w: tenant %q has no version %s in %s (kept: the last %d)", ErrNotFound, tenant, version, v.path(tenant), keptVersions)
}

// additionalData binds a sealed secret to its tenant and version, so a file
// copied to another tenant's name, or an entry relabelled, fails to open.
func additionalData(tenant, version string) []byte {
	return []byte("outlookflow-credential-v1\x00" + tenant + "\x00" + version)
}

func (v *Vault) aead(keyID string) (cipher.AEAD, error) {
	key, ok := v.ring.Keys[keyID]
	if !ok {
		return nil, fmt.Errorf("credentials: sealed with key %q, which is not in encryption.keys; add it back (keys decrypt until removed)", keyID)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("credentials: key %q: %w", keyID, err)
	}
	return cipher.NewGCM(block)
}

func (v *Vault) path(tenant string) string { return filepath.Join(v.dir, tenant+".json") }

func (v *Vault) read(tenant string) (file, error) {
	b, err := os.ReadFile(v.path(tenant))
	if errors.Is(err, os.ErrNotExist) {
		return file{}, fmt.Errorf("%w: no credentials stored for tenant %q in %s", ErrNotFound, tenant, v.dir)
	}
	if err != nil {
		return file{}, fmt.Errorf("credentials: %w", err)
	}
	var f file
	if err := json.Unmarshal(b, &f); err != nil {
		return file{}, fmt.Errorf("credentials: %s is not a credential file (%v); remove it and run `starter rotate --secret-stdin` again", v.path(tenant), err)
	}
	if f.Tenant != tenant {
		return file{}, fmt.Errorf("credentials: %s belongs to tenant %q, not %q", v.path(tenant), f.Tenant, tenant)
	}
	return f, nil
}

// write replaces the tenant's file atomically: a crash leaves the old file
// or the new one, never half of either.
func (v *Vault) write(tenant string, f file) error {
	if err := os.MkdirAll(v.dir, 0o700); err != nil {
		return fmt.Errorf("credentials: creating %s: %w", v.dir, err)
	}
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(v.dir, "."+tenant+"-*.tmp")
	if err != nil {
		return fmt.Errorf("credentials: %w", err)
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), v.path(tenant))
}
