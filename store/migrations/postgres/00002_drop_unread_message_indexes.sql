-- Every message written updated five b-trees; no query reads two of them.
-- messages_received (tenant, mailbox, received_at) and messages_internet_id
-- (tenant, internet_message_id) served no read: messages are listed by
-- tenant, mailbox and folder in ID order (the primary key and
-- messages_folder), removed by primary key, and deleted with their folder
-- (messages_folder, which the ON DELETE CASCADE needs too). Graph's message
-- IDs and Message-IDs arrive in no order, so messages_internet_id took a
-- random page of a tenant-wide index for every message: the largest share of
-- the pages a page of new mail dirtied. A feature that looks messages up by
-- time or by Message-ID adds the index it needs with its query.

-- +goose Up
DROP INDEX messages_received;
DROP INDEX messages_internet_id;

-- +goose Down
CREATE INDEX messages_received ON messages (tenant, mailbox, received_at);
CREATE INDEX messages_internet_id ON messages (tenant, internet_message_id);
