-- The first schema of outlookflow's store (SQLite). Every row is scoped
-- by tenant; primary keys are the Graph IDs within that scope, so applying a
-- page twice upserts the same rows. Graph mail, calendar and contact IDs are
-- unique per mailbox only as far as we rely on, hence (tenant, mailbox, id).
-- Times are TEXT in one fixed-width UTC form (2006-01-02T15:04:05.000000Z)
-- so they sort as text; booleans are 0/1. Tables are STRICT so a value of
-- the wrong type fails the insert instead of being stored.
-- fingerprint is a hash of the stored fields: an upsert that would not change
-- a row is skipped and reported as unchanged, so replayed pages fire no
-- triggers.

-- +goose Up
CREATE TABLE tenants (
    tenant     TEXT PRIMARY KEY CHECK (tenant <> ''),
    created_at TEXT NOT NULL
) STRICT;

CREATE TABLE users (
    tenant              TEXT NOT NULL REFERENCES tenants (tenant) ON DELETE CASCADE,
    id                  TEXT NOT NULL CHECK (id <> ''),
    user_principal_name TEXT NOT NULL,
    mail                TEXT NOT NULL,
    display_name        TEXT NOT NULL,
    job_title           TEXT NOT NULL,
    department          TEXT NOT NULL,
    -- No foreign key: a delta page may name a manager that arrives later.
    manager_id          TEXT NOT NULL,
    account_enabled     INTEGER NOT NULL,
    has_mailbox         INTEGER NOT NULL,
    fingerprint         TEXT NOT NULL,
    changed_at          TEXT NOT NULL,
    PRIMARY KEY (tenant, id)
) STRICT;
-- Visibility walks the manager chain downwards.
CREATE INDEX users_manager ON users (tenant, manager_id);
CREATE INDEX users_upn ON users (tenant, lower(user_principal_name));

CREATE TABLE groups (
    tenant           TEXT NOT NULL REFERENCES tenants (tenant) ON DELETE CASCADE,
    id               TEXT NOT NULL CHECK (id <> ''),
    display_name     TEXT NOT NULL,
    mail             TEXT NOT NULL,
    mail_enabled     INTEGER NOT NULL,
    security_enabled INTEGER NOT NULL,
    group_types      TEXT NOT NULL,
    fingerprint      TEXT NOT NULL,
    changed_at       TEXT NOT NULL,
    PRIMARY KEY (tenant, id)
) STRICT;
CREATE INDEX groups_mail ON groups (tenant, lower(mail));

CREATE TABLE group_members (
    tenant      TEXT NOT NULL,
    group_id    TEXT NOT NULL,
    member_id   TEXT NOT NULL CHECK (member_id <> ''),
    member_type TEXT NOT NULL,
    PRIMARY KEY (tenant, group_id, member_id),
    FOREIGN KEY (tenant, group_id) REFERENCES groups (tenant, id) ON DELETE CASCADE
) STRICT;
CREATE INDEX group_members_member ON group_members (tenant, member_id);

CREATE TABLE mail_folders (
    tenant            TEXT NOT NULL REFERENCES tenants (tenant) ON DELETE CASCADE,
    mailbox           TEXT NOT NULL CHECK (mailbox <> ''),
    id                TEXT NOT NULL CHECK (id <> ''),
    -- No foreign key: the top folders' parent (msgfolderroot) is not synced,
    -- and a child may arrive on a page before its parent.
    parent_folder_id  TEXT NOT NULL,
    display_name      TEXT NOT NULL,
    well_known_name   TEXT NOT NULL,
    total_item_count  INTEGER NOT NULL,
    unread_item_count INTEGER NOT NULL,
    fingerprint       TEXT NOT NULL,
    changed_at        TEXT NOT NULL,
    PRIMARY KEY (tenant, mailbox, id)
) STRICT;
CREATE INDEX mail_folders_parent ON mail_folders (tenant, mailbox, parent_folder_id);

CREATE TABLE messages (
    tenant              TEXT NOT NULL,
    mailbox             TEXT NOT NULL,
    id                  TEXT NOT NULL CHECK (id <> ''),
    folder_id           TEXT NOT NULL,
    conversation_id     TEXT NOT NULL,
    internet_message_id TEXT NOT NULL,
    from_name           TEXT NOT NULL,
    from_address        TEXT NOT NULL,
    sender_name         TEXT NOT NULL,
    sender_address      TEXT NOT NULL,
    to_recipients       TEXT NOT NULL,
    cc_recipients       TEXT NOT NULL,
    bcc_recipients      TEXT NOT NULL,
    subject             TEXT NOT NULL,
    received_at         TEXT,
    sent_at             TEXT,
    importance          TEXT NOT NULL,
    is_read             INTEGER NOT NULL,
    is_draft            INTEGER NOT NULL,
    flag_status         TEXT NOT NULL,
    flag_due_at         TEXT,
    flag_completed_at   TEXT,
    categories          TEXT NOT NULL,
    has_attachments     INTEGER NOT NULL,
    -- NULL unless bodies are configured (metadata-only is the default).
    body_content_type   TEXT,
    body                TEXT,
    fingerprint         TEXT NOT NULL,
    changed_at          TEXT NOT NULL,
    PRIMARY KEY (tenant, mailbox, id),
    -- A folder deleted in Graph takes its messages with it.
    FOREIGN KEY (tenant, mailbox, folder_id) REFERENCES mail_folders (tenant, mailbox, id) ON DELETE CASCADE
) STRICT;
CREATE INDEX messages_folder ON messages (tenant, mailbox, folder_id);
CREATE INDEX messages_received ON messages (tenant, mailbox, received_at);
CREATE INDEX messages_internet_id ON messages (tenant, internet_message_id);

CREATE TABLE events (
    tenant               TEXT NOT NULL REFERENCES tenants (tenant) ON DELETE CASCADE,
    mailbox              TEXT NOT NULL CHECK (mailbox <> ''),
    id                   TEXT NOT NULL CHECK (id <> ''),
    subject              TEXT NOT NULL,
    start_at             TEXT,
    start_time_zone      TEXT NOT NULL,
    end_at               TEXT,
    end_time_zone        TEXT NOT NULL,
    is_all_day           INTEGER NOT NULL,
    organizer_name       TEXT NOT NULL,
    organizer_address    TEXT NOT NULL,
    location             TEXT NOT NULL,
    is_online_meeting    INTEGER NOT NULL,
    online_meeting_url   TEXT NOT NULL,
    event_type           TEXT NOT NULL,
    series_master_id     TEXT NOT NULL,
    is_cancelled         INTEGER NOT NULL,
    last_modified_at     TEXT,
    fingerprint          TEXT NOT NULL,
    changed_at           TEXT NOT NULL,
    PRIMARY KEY (tenant, mailbox, id)
) STRICT;
CREATE INDEX events_start ON events (tenant, mailbox, start_at);
CREATE INDEX events_series ON events (tenant, mailbox, series_master_id);

-- Attendees are replaced as a whole whenever their event changes; position
-- keeps Graph's order and lets the same address appear twice.
CREATE TABLE event_attendees (
    tenant          TEXT NOT NULL,
    mailbox         TEXT NOT NULL,
    event_id        TEXT NOT NULL,
    position        INTEGER NOT NULL,
    name            TEXT NOT NULL,
    address         TEXT NOT NULL,
    attendee_type   TEXT NOT NULL,
    response        TEXT NOT NULL,
    responded_at    TEXT,
    PRIMARY KEY (tenant, mailbox, event_id, position),
    FOREIGN KEY (tenant, mailbox, event_id) REFERENCES events (tenant, mailbox, id) ON DELETE CASCADE
) STRICT;
CREATE INDEX event_attendees_address ON event_attendees (tenant, lower(address));

CREATE TABLE mailbox_settings (
    tenant                   TEXT NOT NULL REFERENCES tenants (tenant) ON DELETE CASCADE,
    mailbox                  TEXT NOT NULL CHECK (mailbox <> ''),
    time_zone                TEXT NOT NULL,
    working_days             TEXT NOT NULL,
    working_start_time       TEXT NOT NULL,
    working_end_time         TEXT NOT NULL,
    working_time_zone        TEXT NOT NULL,
    -- State only: automatic-reply texts are content and are not stored.
    auto_replies_status      TEXT NOT NULL,
    auto_replies_audience    TEXT NOT NULL,
    auto_replies_start_at    TEXT,
    auto_replies_end_at      TEXT,
    fingerprint              TEXT NOT NULL,
    changed_at               TEXT NOT NULL,
    PRIMARY KEY (tenant, mailbox)
) STRICT;

CREATE TABLE contacts (
    tenant          TEXT NOT NULL REFERENCES tenants (tenant) ON DELETE CASCADE,
    mailbox         TEXT NOT NULL CHECK (mailbox <> ''),
    id              TEXT NOT NULL CHECK (id <> ''),
    display_name    TEXT NOT NULL,
    email_addresses TEXT NOT NULL,
    company_name    TEXT NOT NULL,
    job_title       TEXT NOT NULL,
    phones          TEXT NOT NULL,
    fingerprint     TEXT NOT NULL,
    changed_at      TEXT NOT NULL,
    PRIMARY KEY (tenant, mailbox, id)
) STRICT;

-- One row per cursor; mailbox '' for tenant-wide cursors, scope '' where
-- one cursor covers the mailbox. A reset keeps the row so resyncs counts.
CREATE TABLE sync_cursors (
    tenant     TEXT NOT NULL REFERENCES tenants (tenant) ON DELETE CASCADE,
    mailbox    TEXT NOT NULL,
    kind       TEXT NOT NULL CHECK (kind <> ''),
    scope      TEXT NOT NULL,
    token      TEXT NOT NULL,
    complete   INTEGER NOT NULL,
    resyncs    INTEGER NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (tenant, mailbox, kind, scope)
) STRICT;

-- +goose Down
DROP TABLE sync_cursors;
DROP TABLE contacts;
DROP TABLE mailbox_settings;
DROP TABLE event_attendees;
DROP TABLE events;
DROP TABLE messages;
DROP TABLE mail_folders;
DROP TABLE group_members;
DROP TABLE groups;
DROP TABLE users;
DROP TABLE tenants;
