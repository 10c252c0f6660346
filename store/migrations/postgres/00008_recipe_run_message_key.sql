-- A message moved or copied to another folder gets a new ID in Graph, and
-- its new folder's delta lists it as created: to trigger matching, a new
-- message. A newMail recipe watching every folder would run again for mail
-- it already handled (a recipe that files mail would even run on its own
-- move), and a mailFlagged one again for a message flagged before the
-- move. What stays is the message's internetMessageId, so a run keeps
-- message_key, a hash of it (recipe.MessageKey: 32 hex digits of SHA-256,
-- no Message-ID in clear; '' for a run about no message or a message
-- without one), and the dispatcher asks which recipes already ran for the
-- keys of a batch's new messages in their mailbox (FiredMessageRuns)
-- before it fires.
--
-- The index is on (tenant, mailbox, message_key): that read names the
-- mailbox and the keys, across recipes. Runs saved before this migration
-- have '' and are never matched, so a message moved after the upgrade may
-- fire once more.

-- +goose Up
ALTER TABLE recipe_runs ADD COLUMN message_key TEXT NOT NULL DEFAULT '';
CREATE INDEX recipe_runs_message ON recipe_runs (tenant, mailbox, message_key);

-- +goose Down
DROP INDEX recipe_runs_message;
ALTER TABLE recipe_runs DROP COLUMN message_key;
