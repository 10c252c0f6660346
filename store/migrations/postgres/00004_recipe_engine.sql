-- What the recipe engine keeps beside the synced data.
--
-- trigger_outbox holds the changes of pages the sync applied with Outbox
-- set, written in the page's transaction, so a crash after the commit never
-- loses a trigger; the engine deletes them once matched (AckChanges).
-- An identity column: a sequence number is never reused after the rows
-- are acknowledged. prev_flag is a message's flag status before the change
-- ('' for a new message and for events); initial_round marks a mailbox's
-- first-ever round.
--
-- recipe_runs, recipe_step_outputs, recipe_decisions, recipe_switches and
-- reply_waits are the engine's runs, their steps' outputs, its
-- trigger-matching decisions, operators' on/off overrides and the runs
-- waiting for a reply. trigger_json, output and detail are opaque JSON
-- bytes (NULL when empty). Reasons are one line and never mail content.

-- +goose Up
CREATE TABLE trigger_outbox (
    seq           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant        TEXT NOT NULL REFERENCES tenants (tenant) ON DELETE CASCADE,
    mailbox       TEXT NOT NULL,
    kind          TEXT NOT NULL,
    item_id       TEXT NOT NULL CHECK (item_id <> ''),
    change_type   TEXT NOT NULL,
    prev_flag     TEXT NOT NULL,
    initial_round BOOLEAN NOT NULL,
    applied_at    TIMESTAMPTZ NOT NULL
);
CREATE INDEX trigger_outbox_mailbox ON trigger_outbox (tenant, mailbox, seq);

CREATE TABLE recipe_runs (
    run_id       TEXT PRIMARY KEY CHECK (run_id <> ''),
    tenant       TEXT NOT NULL CHECK (tenant <> ''),
    recipe       TEXT NOT NULL CHECK (recipe <> ''),
    mailbox      TEXT NOT NULL,
    item_id      TEXT NOT NULL,
    change_key   TEXT NOT NULL,
    trigger_json BYTEA,
    status       TEXT NOT NULL,
    step         TEXT NOT NULL,
    reason       TEXT NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    updated_at   TIMESTAMPTZ NOT NULL
);
-- Runs are listed newest first, per tenant and per recipe.
CREATE INDEX recipe_runs_tenant ON recipe_runs (tenant, created_at);
CREATE INDEX recipe_runs_recipe ON recipe_runs (tenant, recipe, created_at);

CREATE TABLE recipe_step_outputs (
    run_id     TEXT NOT NULL REFERENCES recipe_runs (run_id) ON DELETE CASCADE,
    step_id    TEXT NOT NULL CHECK (step_id <> ''),
    output     BYTEA,
    updated_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (run_id, step_id)
);

-- One decision per recipe and version of an item; change_key may be ''.
CREATE TABLE recipe_decisions (
    tenant     TEXT NOT NULL CHECK (tenant <> ''),
    recipe     TEXT NOT NULL CHECK (recipe <> ''),
    item_id    TEXT NOT NULL CHECK (item_id <> ''),
    change_key TEXT NOT NULL,
    run_id     TEXT NOT NULL,
    mailbox    TEXT NOT NULL,
    fired      BOOLEAN NOT NULL,
    reason     TEXT NOT NULL,
    detail     BYTEA,
    decided_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (tenant, recipe, item_id, change_key)
);
-- "Why did (or didn't) anything fire for this item", across recipes.
CREATE INDEX recipe_decisions_item ON recipe_decisions (tenant, item_id);

CREATE TABLE recipe_switches (
    tenant     TEXT NOT NULL CHECK (tenant <> ''),
    recipe     TEXT NOT NULL CHECK (recipe <> ''),
    enabled    BOOLEAN NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (tenant, recipe)
);

CREATE TABLE reply_waits (
    run_id          TEXT PRIMARY KEY CHECK (run_id <> ''),
    tenant          TEXT NOT NULL CHECK (tenant <> ''),
    mailbox         TEXT NOT NULL CHECK (mailbox <> ''),
    conversation_id TEXT NOT NULL CHECK (conversation_id <> ''),
    since           TIMESTAMPTZ NOT NULL
);
CREATE INDEX reply_waits_conversation ON reply_waits (tenant, conversation_id);

-- +goose Down
DROP TABLE reply_waits;
DROP TABLE recipe_switches;
DROP TABLE recipe_decisions;
DROP TABLE recipe_step_outputs;
DROP TABLE recipe_runs;
DROP TABLE trigger_outbox;
