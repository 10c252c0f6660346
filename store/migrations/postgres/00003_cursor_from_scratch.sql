-- from_scratch marks a cursor whose round under way started from scratch
-- (a first sync, or after Graph forgot the token). Such a round ends with a
-- sweep of what it did not list, which needs every page of the round; a
-- worker that dies in the middle cannot resume it from its nextLink and
-- still sweep, so the sync restarts it from the beginning instead.

-- +goose Up
ALTER TABLE sync_cursors ADD COLUMN from_scratch BOOLEAN NOT NULL DEFAULT false;

-- +goose Down
ALTER TABLE sync_cursors DROP COLUMN from_scratch;
