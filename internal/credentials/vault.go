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
// active key (through the Sealer the store's secrets use too) and bound to its
// tenant and version. Worker and starter must see the same directory (one
// host, or a shared volume). Reencrypt moves every version to the active key
// (`starter rotate-keys`).
//
// Secrets the worker itself acquires (a user's MSAL token cache, a pending
// sign-in's PKCE verifier) are kept in the store instead, sealed the same
// way: see SecretStore.
package credentials

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
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
	dir    string
	sealer *Sealer
	now    func() time.Time
}

// Open returns the vault in dir, sealing with ring's active key and opening
// with any of its keys. The directory is created (0700) on first Put.
func Open(dir string, ring codec.Keyring) (*Vault, error) {
	if dir == "" {
		return nil, errors.New("credentials: no directory configured; set credentials.dir")
	}
	sealer, err := NewSealer(ring)
	if err != nil {
		return nil, err
	}
	return &Vault{dir: dir, sealer: sealer, now: time.Now}, nil
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
	sealed, err := v.sealer.Seal([]byte(secret), additionalData(tenant, version))
	if err != nil {
		return "", err
	}
	entry := sealedSecret{
		Version:   version,
		CreatedAt: v.now().UTC(),
		KeyID:     sealed.KeyID,
		Nonce:     sealed.Nonce,
		Sealed:    sealed.Ciphertext,
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
		plain, err := v.sealer.Open(e.sealed(), additionalData(tenant, version))
		var unknown *UnknownKeyError
		if errors.As(err, &unknown) {
			return "", err
		}
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

func (e sealedSecret) sealed() Sealed {
	return Sealed{KeyID: e.KeyID, Nonce: e.Nonce, Ciphertext: e.Sealed}
}

// VaultRotation is what Vault.Reencrypt did.
type VaultRotation struct {
	// Files is how many tenant files the vault holds; Rewritten how many
	// of them it wrote.
	Files, Rewritten int
	// Reencrypted counts versions moved to the active key; Current those
	// that were under it already.
	Reencrypted, Current int
}

// Reencrypt seals every version of every tenant file under the active key,
// rewriting (atomically) the files that had older ones; running it again
// changes nothing. It first reads every file and refuses, changing nothing,
// when a version's key is not configured (an *UnknownKeyError) or a file
// cannot be read. A missing directory is an empty vault.
func (v *Vault) Reencrypt() (VaultRotation, error) {
	var r VaultRotation
	tenants, err := v.tenants()
	if err != nil {
		return r, err
	}
	r.Files = len(tenants)
	for _, tenant := range tenants {
		f, err := v.read(tenant)
		if err != nil {
			return r, err
		}
		for _, e := range f.Versions {
			if !v.sealer.HasKey(e.KeyID) {
				return r, fmt.Errorf("%s, version %s: %w", v.path(tenant), e.Version, &UnknownKeyError{KeyID: e.KeyID, Known: v.sealer.knownIDs()})
			}
		}
	}
	for _, tenant := range tenants {
		f, err := v.read(tenant)
		if err != nil {
			return r, err
		}
		changed := false
		for i, e := range f.Versions {
			out, resealed, err := v.sealer.Reseal(e.sealed(), additionalData(tenant, e.Version))
			if err != nil {
				return r, fmt.Errorf("%s, version %s: %w", v.path(tenant), e.Version, err)
			}
			if !resealed {
				r.Current++
				continue
			}
			f.Versions[i].KeyID, f.Versions[i].Nonce, f.Versions[i].Sealed = out.KeyID, out.Nonce, out.Ciphertext
			r.Reencrypted++
			changed = true
		}
		if !changed {
			continue
		}
		if err := v.write(tenant, f); err != nil {
			return r, err
		}
		r.Rewritten++
	}
	return r, nil
}

// KeyIDs counts the versions in the vault by the id of the key that sealed
// them (empty when the vault is).
func (v *Vault) KeyIDs() (map[string]int, error) {
	tenants, err := v.tenants()
	if err != nil {
		return nil, err
	}
	out := map[string]int{}
	for _, tenant := range tenants {
		f, err := v.read(tenant)
		if err != nil {
			return nil, err
		}
		for _, e := range f.Versions {
			out[e.KeyID]++
		}
	}
	return out, nil
}

// tenants lists the tenants that have a file in the vault, in order.
func (v *Vault) tenants() ([]string, error) {
	entries, err := os.ReadDir(v.dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("credentials: %w", err)
	}
	var out []string
	for _, e := range entries {
		tenant, ok := strings.CutSuffix(e.Name(), ".json")
		if ok && e.Type().IsRegular() && tenantKeyPattern.MatchString(tenant) {
			out = append(out, tenant)
		}
	}
	sort.Strings(out)
	return out, nil
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
