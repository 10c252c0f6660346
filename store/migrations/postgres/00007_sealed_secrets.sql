-- Secrets the worker keeps at rest — a user's serialized MSAL token cache
-- (it holds the refresh token), a pending sign-in's PKCE verifier — sealed
-- above the store (internal/credentials: AES-256-GCM under the payload keys,
-- bound to the row's kind, tenant and subject). The store keeps bytes only.
-- key_id repeats the id of the key that sealed the row (it is also inside
-- sealed) so rotation finds what is not yet under the active key without
-- reading every row; updated_at lets short-lived kinds (PKCE) be swept, and
-- re-encrypting a row leaves it as it was.

-- +goose Up
CREATE TABLE sealed_secrets (
    kind       TEXT NOT NULL CHECK (kind <> ''),
    tenant     TEXT NOT NULL CHECK (tenant <> ''),
    subject    TEXT NOT NULL CHECK (subject <> ''),
    key_id     TEXT NOT NULL CHECK (key_id <> ''),
    sealed     BYTEA NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (kind, tenant, subject)
);

CREATE INDEX sealed_secrets_by_key ON sealed_secrets (key_id);
CREATE INDEX sealed_secrets_by_age ON sealed_secrets (kind, updated_at);

-- +goose Down
DROP TABLE sealed_secrets;
