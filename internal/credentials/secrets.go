package credentials

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/outlookflow/outlookflow/store"
)

// Kinds of secret the worker keeps in the store.
const (
	// KindMSALCache is a user's serialized MSAL token cache (it holds the
	// refresh token of a delegated connection); the subject is the user's
	// object ID.
	KindMSALCache = "msal-cache"
	// KindPKCE is a pending sign-in's PKCE code verifier; the subject is
	// the OAuth state. It lives minutes: sweep it with DeleteOlderThan.
	KindPKCE = "pkce"
)

// SecretRows is what SecretStore needs of the store; store.Store has it.
type SecretRows interface {
	PutSealedSecret(ctx context.Context, secret store.SealedSecret) error
	SealedSecret(ctx context.Context, key store.SecretKey) (store.SealedSecret, bool, error)
	DeleteSealedSecret(ctx context.Context, key store.SecretKey) error
	DeleteSealedSecretsBefore(ctx context.Context, kind string, before time.Time) (int, error)
	SealedSecretKeyIDs(ctx context.Context) (map[string]int, error)
	SealedSecretsNotUnder(ctx context.Context, keyID string, after store.SecretKey, limit int) ([]store.SealedSecret, error)
	ResealSecret(ctx context.Context, old store.SealedSecret, keyID string, sealed []byte) (bool, error)
}

var _ SecretRows = store.Store(nil)

// SecretStore keeps secrets in the store, sealed with the payload keys and
// bound to their kind, tenant and subject: the store's rows (and its files,
// backups and replicas) hold ciphertext only, and a row copied to another
// user does not open. Callers hand it plaintext and get plaintext back;
// neither ever belongs in a workflow payload or a log.
type SecretStore struct {
	rows   SecretRows
	sealer *Sealer
}

// NewSecretStore returns the secrets kept in rows, sealed by sealer.
func NewSecretStore(rows SecretRows, sealer *Sealer) *SecretStore {
	return &SecretStore{rows: rows, sealer: sealer}
}

// secretAAD binds a sealed secret to its row.
func secretAAD(k store.SecretKey) []byte {
	return boundTo("outlookflow-secret-v1", k.Kind, k.Tenant, k.Subject)
}

// Put seals plaintext under the active key and saves it as the (kind,
// tenant, subject) secret, replacing any before it.
func (s *SecretStore) Put(ctx context.Context, kind, tenant, subject string, plaintext []byte) error {
	key := store.SecretKey{Kind: kind, Tenant: tenant, Subject: subject}
	if len(plaintext) == 0 {
		return fmt.Errorf("credentials: saving the %s: %w: empty secret", key, store.ErrInvalidRecord)
	}
	sealed, err := s.sealer.Seal(plaintext, secretAAD(key))
	if err != nil {
		return err
	}
	b, err := sealed.MarshalBinary()
	if err != nil {
		return err
	}
	return s.rows.PutSealedSecret(ctx, store.SealedSecret{SecretKey: key, KeyID: sealed.KeyID, Sealed: b})
}

// Secret opens the (kind, tenant, subject) secret and says when it was last
// put (for kinds that expire: a PKCE verifier older than the sign-in window
// is refused by its caller). A missing secret is an error wrapping
// ErrNotFound; one sealed with a key no longer configured an
// *UnknownKeyError.
func (s *SecretStore) Secret(ctx context.Context, kind, tenant, subject string) (plaintext []byte, updatedAt time.Time, err error) {
	key := store.SecretKey{Kind: kind, Tenant: tenant, Subject: subject}
	row, found, err := s.rows.SealedSecret(ctx, key)
	if err != nil {
		return nil, time.Time{}, err
	}
	if !found {
		return nil, time.Time{}, fmt.Errorf("%w: no %s", ErrNotFound, key)
	}
	sealed, err := ParseSealed(row.Sealed)
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("the %s: %w", key, err)
	}
	plain, err := s.sealer.Open(sealed, secretAAD(key))
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("the %s: %w", key, err)
	}
	return plain, row.UpdatedAt, nil
}

// Delete removes the (kind, tenant, subject) secret; a missing one is fine.
func (s *SecretStore) Delete(ctx context.Context, kind, tenant, subject string) error {
	return s.rows.DeleteSealedSecret(ctx, store.SecretKey{Kind: kind, Tenant: tenant, Subject: subject})
}

// DeleteOlderThan removes the secrets of kind last put strictly before t
// and returns how many: the sweep of expired PKCE verifiers.
func (s *SecretStore) DeleteOlderThan(ctx context.Context, kind string, t time.Time) (int, error) {
	return s.rows.DeleteSealedSecretsBefore(ctx, kind, t)
}

// StoreRotation is what SecretStore.Reencrypt did.
type StoreRotation struct {
	// Reencrypted counts secrets moved to the active key; Current those
	// already under it.
	Reencrypted, Current int
	// Changed counts secrets that were put or deleted while being
	// re-encrypted: left as the newer write left them.
	Changed int
	// Remaining counts secrets still under another key when it finished:
	// written meanwhile by a process that still has the old active key.
	Remaining int
}

// reencryptPage is how many rows Reencrypt reads at a time.
const reencryptPage = 200

// Reencrypt re-seals every secret that is not under the active key, page by
// page; running it again changes nothing. It first checks that every key id
// the rows name is configured and refuses, changing nothing, if one is not
// (an *UnknownKeyError). A row put or deleted meanwhile is left to the newer
// write (Changed); UpdatedAt is kept, so re-encryption extends no expiry.
func (s *SecretStore) Reencrypt(ctx context.Context) (StoreRotation, error) {
	var r StoreRotation
	active := s.sealer.ActiveKeyID()
	ids, err := s.rows.SealedSecretKeyIDs(ctx)
	if err != nil {
		return r, err
	}
	if err := s.checkKeys(ids); err != nil {
		return r, err
	}
	r.Current = ids[active]
	var after store.SecretKey
	for {
		page, err := s.rows.SealedSecretsNotUnder(ctx, active, after, reencryptPage)
		if err != nil {
			return r, err
		}
		if len(page) == 0 {
			break
		}
		for _, row := range page {
			sealed, err := ParseSealed(row.Sealed)
			if err != nil {
				return r, fmt.Errorf("the %s: %w", row.SecretKey, err)
			}
			out, _, err := s.sealer.Reseal(sealed, secretAAD(row.SecretKey))
			if err != nil {
				return r, fmt.Errorf("the %s: %w", row.SecretKey, err)
			}
			b, err := out.MarshalBinary()
			if err != nil {
				return r, err
			}
			ok, err := s.rows.ResealSecret(ctx, row, out.KeyID, b)
			if err != nil {
				return r, err
			}
			if ok {
				r.Reencrypted++
			} else {
				r.Changed++
			}
		}
		after = page[len(page)-1].SecretKey
	}
	if ids, err = s.rows.SealedSecretKeyIDs(ctx); err != nil {
		return r, err
	}
	for id, n := range ids {
		if id != active {
			r.Remaining += n
		}
	}
	return r, nil
}

// checkKeys refuses key ids the sealer does not have, naming them all.
func (s *SecretStore) checkKeys(ids map[string]int) error {
	var missing []string
	for id := range ids {
		if !s.sealer.HasKey(id) {
			missing = append(missing, id)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	sort.Strings(missing)
	counts := make([]string, len(missing))
	for i, id := range missing {
		counts[i] = fmt.Sprintf("%q (%d secrets)", id, ids[id])
	}
	return fmt.Errorf("the store holds secrets sealed with %s: %w", strings.Join(counts, ", "),
		&UnknownKeyError{KeyID: missing[0], Known: s.sealer.knownIDs()})
}
