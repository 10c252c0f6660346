package store

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/outlookflow/outlookflow/domain"
)

func (s *sqlStore) DropOtherScopes(ctx context.Context, key domain.CursorKey) (int, error) {
	what := fmt.Sprintf("dropping cursors beside %s", key)
	if key.Tenant == "" || key.Kind == "" {
		return 0, fmt.Errorf("store: %s: the key needs a tenant and a kind", what)
	}
	var n int64
	err := s.inTx(ctx, what, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM sync_cursors WHERE tenant = $1 AND mailbox = $2 AND kind = $3 AND scope <> $4`,
			key.Tenant, key.Mailbox, string(key.Kind), key.Scope)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return int(n), err
}
