-- A deleted event is gone from the store in the same transaction that
-- writes its "deleted" change to the trigger outbox, so an eventChanged
-- recipe with filters (subjectContains, organizer, isOnlineMeeting) had
-- nothing to match a deletion against and never fired for one. Graph's
-- delta says no more than the ID of a removed event. The outbox row of a
-- deleted event now carries snapshot: the event as the store last held it
-- (JSON of domain.Event, attendees included), read just before the
-- deletion; NULL for every other change and for an event the store never
-- held. It lives only until the dispatcher acknowledges the change.

-- +goose Up
ALTER TABLE trigger_outbox ADD COLUMN snapshot BYTEA;

-- +goose Down
ALTER TABLE trigger_outbox DROP COLUMN snapshot;
