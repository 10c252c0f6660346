package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Sealed secrets are secrets the worker keeps at rest: a user's serialized
// MSAL token cache (with its refresh token), a pending sign-in's PKCE
// verifier. They are sealed above the store (internal/credentials.SecretStore
// seals them with the payload keys, bound to their key); the store keeps
// bytes only and never sees a plaintext.

// SecretKey names one sealed secret.
type SecretKey struct {
	// Kind says what the secret is, e.g. "msal-cache" or "pkce".
	Kind   string
	Tenant string
	// Subject says whose or which: a user's object ID, an OAuth state.
	Subject string
}

func (k SecretKey) String() string {
	return fmt.Sprintf("%s secret of %q in tenant %q", k.Kind, k.Subject, k.Tenant)
}

// SealedSecret is a secret as the store keeps it.
type SealedSecret struct {
	SecretKey
	// KeyID names the key that sealed it (the sealed bytes say so too);
	// rotation looks for rows whose KeyID is not the active key.
	KeyID string
	// Sealed is the sealed secret, opaque to the store.
	Sealed []byte
	// UpdatedAt is when it was last put, to the microsecond; re-sealing
	// under another key leaves it alone, so short-lived kinds can be swept
	// by it (DeleteSealedSecretsBefore).
	UpdatedAt time.Time
}

func requireSecretKey(what string, k SecretKey) error {
	if k.Kind == "" || k.Tenant == "" || k.Subject == "" {
		return fmt.Errorf("store: %s: %w: a kind, tenant and subject are required", what, ErrInvalidRecord)
	}
	return nil
}

func (s *sqlStore) PutSealedSecret(ctx context.Context, sec SealedSecret) error {
	what := "saving the " + sec.SecretKey.String()
	if err := requireSecretKey(what, sec.SecretKey); err != nil {
		return err
	}
	if sec.KeyID == "" || len(sec.Sealed) == 0 {
		return fmt.Errorf("store: %s: %w: a key id and sealed bytes are required", what, ErrInvalidRecord)
	}
	at := sec.UpdatedAt
	if at.IsZero() {
		at = s.now()
	}
	_, err := s.write.ExecContext(ctx, `
		INSERT INTO sealed_secrets (kind, tenant, subject, key_id, sealed, updated_at) VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (kind, tenant, subject) DO UPDATE SET key_id = excluded.key_id, sealed = excluded.sealed, updated_at = excluded.updated_at`,
		sec.Kind, sec.Tenant, sec.Subject, sec.KeyID, sec.Sealed, s.t(at))
	if err != nil {
		return fmt.Errorf("store: %s: %w", what, err)
	}
	return nil
}

func (s *sqlStore) SealedSecret(ctx context.Context, key SecretKey) (SealedSecret, bool, error) {
	what := "reading the " + key.String()
	if err := requireSecretKey(what, key); err != nil {
		return SealedSecret{}, false, err
	}
	sec := SealedSecret{SecretKey: key}
	err := s.read.QueryRowContext(ctx, `SELECT key_id, sealed, updated_at FROM sealed_secrets WHERE kind = $1 AND tenant = $2 AND subject = $3`,
		key.Kind, key.Tenant, key.Subject).Scan(&sec.KeyID, &sec.Sealed, timeScanner{&sec.UpdatedAt})
	if errors.Is(err, sql.ErrNoRows) {
		return SealedSecret{}, false, nil
	}
	if err != nil {
		return SealedSecret{}, false, fmt.Errorf("store: %s: %w", what, err)
	}
	return sec, true, nil
}

func (s *sqlStore) DeleteSealedSecret(ctx context.Context, key SecretKey) error {
	what := "deleting the " + key.String()
	if err := requireSecretKey(what, key); err != nil {
		return err
	}
	if _, err := s.write.ExecContext(ctx, `DELETE FROM sealed_secrets WHERE kind = $1 AND tenant = $2 AND subject = $3`,
		key.Kind, key.Tenant, key.Subject); err != nil {
		return fmt.Errorf("store: %s: %w", what, err)
	}
	return nil
}

func (s *sqlStore) DeleteSealedSecretsBefore(ctx context.Context, kind string, before time.Time) (int, error) {
	what := fmt.Sprintf("deleting %s secrets put before %s", kind, before.UTC().Format(time.RFC3339))
	if kind == "" {
		return 0, fmt.Errorf("store: %s: %w: a kind is required", what, ErrInvalidRecord)
	}
	if before.IsZero() {
		return 0, nil
	}
	res, err := s.write.ExecContext(ctx, `DELETE FROM sealed_secrets WHERE kind = $1 AND updated_at < $2`, kind, s.t(before))
	if err != nil {
		return 0, fmt.Errorf("store: %s: %w", what, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("store: %s: %w", what, err)
	}
	return int(n), nil
}

func (s *sqlStore) SealedSecretKeyIDs(ctx context.Context) (map[string]int, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT key_id, count(*) FROM sealed_secrets GROUP BY key_id`)
	if err != nil {
		return nil, fmt.Errorf("store: counting sealed secrets by key: %w", err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var id string
		var n int
		if err := rows.Scan(&id, &n); err != nil {
			return nil, fmt.Errorf("store: counting sealed secrets by key: %w", err)
		}
		out[id] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: counting sealed secrets by key: %w", err)
	}
	return out, nil
}

func (s *sqlStore) SealedSecretsNotUnder(ctx context.Context, keyID string, after SecretKey, limit int) ([]SealedSecret, error) {
	what := fmt.Sprintf("listing sealed secrets not under key %q", keyID)
	// Row values compare column by column, in the order of the primary
	// key, so the pages follow its index.
	q := `SELECT kind, tenant, subject, key_id, sealed, updated_at FROM sealed_secrets
		WHERE key_id <> $1 AND (kind, tenant, subject) > ($2, $3, $4)
		ORDER BY kind, tenant, subject`
	args := []any{keyID, after.Kind, after.Tenant, after.Subject}
	if limit > 0 {
		q += ` LIMIT $5`
		args = append(args, limit)
	}
	rows, err := s.read.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("store: %s: %w", what, err)
	}
	defer rows.Close()
	var out []SealedSecret
	for rows.Next() {
		var sec SealedSecret
		if err := rows.Scan(&sec.Kind, &sec.Tenant, &sec.Subject, &sec.KeyID, &sec.Sealed, timeScanner{&sec.UpdatedAt}); err != nil {
			return nil, fmt.Errorf("store: %s: %w", what, err)
		}
		out = append(out, sec)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: %s: %w", what, err)
	}
	return out, nil
}

func (s *sqlStore) ResealSecret(ctx context.Context, old SealedSecret, keyID string, sealed []byte) (bool, error) {
	what := "re-sealing the " + old.SecretKey.String()
	if err := requireSecretKey(what, old.SecretKey); err != nil {
		return false, err
	}
	if keyID == "" || len(sealed) == 0 || len(old.Sealed) == 0 {
		return false, fmt.Errorf("store: %s: %w: a key id and the old and new sealed bytes are required", what, ErrInvalidRecord)
	}
	res, err := s.write.ExecContext(ctx, `
		UPDATE sealed_secrets SET key_id = $4, sealed = $5
		WHERE kind = $1 AND tenant = $2 AND subject = $3 AND sealed = $6`,
		old.Kind, old.Tenant, old.Subject, keyID, sealed, old.Sealed)
	if err != nil {
		return false, fmt.Errorf("store: %s: %w", what, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("store: %s: %w", what, err)
	}
	return n > 0, nil
}
