-- The recipe engine reads a conversation's messages in a mailbox since a
-- time (did anyone reply since a run started waiting?), in any folder:
-- ConversationMessages. This index finds the mailbox's messages after that
-- time, the conversation then filtering a few rows; without it the read
-- walks every message of the mailbox (about 25 ms for 20,000 messages in
-- BenchmarkApplyMessagesPage's thread-recent, against 0.5 ms with it).
--
-- It is on time rather than on (tenant, mailbox, conversation_id), which
-- would also serve a read of a whole conversation: conversation IDs arrive
-- in no order, so that index took a random page for every message written,
-- as the Message-ID index 00002 dropped did, and made a page of 1,000 new
-- messages about 40% dearer in CPU (and up to twice as slow) on SQLite.
-- Mail arrives in time order, and a first round lists a folder newest
-- first, so this one is written at the edges of a mailbox's range, at a
-- cost within the benchmark's noise. The expression is the one the query
-- uses: a message's time is received_at, else sent_at.

-- +goose Up
CREATE INDEX messages_time ON messages (tenant, mailbox, COALESCE(received_at, sent_at));

-- +goose Down
DROP INDEX messages_time;
