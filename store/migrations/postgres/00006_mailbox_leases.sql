-- A mailbox is synced by one sync run at a time. Two runs at once (a
-- manual `starter sync` while the scheduled one is going) would walk the
-- same delta cursors side by side: pages read twice, a cursor saved by one
-- run behind the other's, and — for recipes — a folder's first round
-- continued outside the mailbox's first sync, its mail taken for new. The
-- run holding the lease renews it after every batch; another waits for it.
-- A lease of a run that died expires (expires_at), and the same activity's
-- retry takes its own lease back at once (same holder).

-- +goose Up
CREATE TABLE mailbox_leases (
    tenant     TEXT NOT NULL CHECK (tenant <> ''),
    mailbox    TEXT NOT NULL CHECK (mailbox <> ''),
    holder     TEXT NOT NULL CHECK (holder <> ''),
    expires_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (tenant, mailbox)
);

-- +goose Down
DROP TABLE mailbox_leases;
