package store

import (
	"context"
	"fmt"
	"time"
)

func (s *sqlStore) LeaseMailbox(ctx context.Context, tenant, mailbox, holder string, ttl time.Duration) (bool, error) {
	what := fmt.Sprintf("leasing mailbox %q of tenant %q", mailbox, tenant)
	if err := requireMailbox(what, tenant, mailbox); err != nil {
		return false, err
	}
	if holder == "" || ttl <= 0 {
		return false, fmt.Errorf("store: %s: %w: a holder and a positive ttl are required", what, ErrInvalidRecord)
	}
	now := s.now()
	// Taken when free, expired, or already ours (a renewal, or the same
	// activity's retry); the WHERE leaves another holder's live lease be,
	// and then no row is written.
	res, err := s.write.ExecContext(ctx, `
		INSERT INTO mailbox_leases (tenant, mailbox, holder, expires_at) VALUES ($1, $2, $3, $4)
		ON CONFLICT (tenant, mailbox) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
		WHERE mailbox_leases.holder = excluded.holder OR mailbox_leases.expires_at <= $5`,
		tenant, mailbox, holder, s.t(now.Add(ttl)), s.t(now))
	if err != nil {
		return false, fmt.Errorf("store: %s: %w", what, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("store: %s: %w", what, err)
	}
	return n > 0, nil
}

func (s *sqlStore) ReleaseMailbox(ctx context.Context, tenant, mailbox, holder string) error {
	if _, err := s.write.ExecContext(ctx, `DELETE FROM mailbox_leases WHERE tenant = $1 AND mailbox = $2 AND holder = $3`, tenant, mailbox, holder); err != nil {
		return fmt.Errorf("store: releasing the lease on mailbox %q of tenant %q: %w", mailbox, tenant, err)
	}
	return nil
}
