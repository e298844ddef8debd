-- The event outbox: what happened in a tenant, written in the same
-- transaction as the change itself.
--
-- The unit of work of the API (crates/lms-api/src/unit.rs) collects the
-- domain events of a write and inserts them just before COMMIT, so an event
-- exists exactly when its change committed: a write that fails, even after
-- it had decided which events to emit, leaves no row. Delivery (webhooks)
-- reads from here later; until then tenant admins read the table through
-- `GET /api/v1/events`.
--
-- Append-only for the runtime roles (policies/60_outbox.sql): nothing the
-- application does can change or remove an event. Events leave with their
-- organization.

CREATE TABLE outbox_events (
    organization_id uuid        NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    -- UUIDv7 made by the application: ids ascend in the order the events
    -- were emitted, which is the order the feed is read in (keyset).
    id              uuid        NOT NULL,
    -- `<aggregate>.<what happened>`, e.g. `course.published`.
    event_type      text        NOT NULL,
    -- The row the event is about (a course, a user, ...).
    subject_id      uuid        NOT NULL,
    -- The acting user (app.user_id); NULL for the system, a sign-up, or a
    -- platform operator. No foreign key: the history outlives the user.
    actor_id        uuid,
    -- The request that made the change, to find it in the logs.
    request_id      text,
    -- Ids and the few fields a consumer needs; never secrets (no password
    -- hashes, no token digests) and no personal data (no e-mail addresses,
    -- no names): the history cannot be edited, so it holds nothing that
    -- erasing a user would have to remove.
    payload         jsonb       NOT NULL DEFAULT '{}',
    occurred_at     timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT outbox_events_pkey PRIMARY KEY (organization_id, id),
    CONSTRAINT outbox_events_type_check CHECK (event_type ~ '^[a-z][a-z_]*(\.[a-z][a-z_]*)+$' AND length(event_type) <= 64),
    CONSTRAINT outbox_events_payload_check CHECK (jsonb_typeof(payload) = 'object'),
    CONSTRAINT outbox_events_request_id_check CHECK (request_id IS NULL OR length(request_id) <= 64)
);
-- The feed of one type ("every course.published"), newest first; the
-- primary key serves the unfiltered feed.
CREATE INDEX outbox_events_type_idx ON outbox_events (organization_id, event_type, id);
-- Everything about one subject.
CREATE INDEX outbox_events_subject_idx ON outbox_events (organization_id, subject_id, id);

-- The time of an event is the database's: whatever the writer says is
-- replaced by the transaction's time.
CREATE FUNCTION app.outbox_events_time() RETURNS trigger LANGUAGE plpgsql
    SET search_path = pg_catalog, public AS $$
BEGIN
    NEW.occurred_at := now();
    RETURN NEW;
END $$;
CREATE TRIGGER outbox_events_time BEFORE INSERT ON outbox_events
    FOR EACH ROW EXECUTE FUNCTION app.outbox_events_time();
