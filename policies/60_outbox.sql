-- Re-applied after every migration run (`lms migrate`), in its own
-- transaction, as lms_owner. Idempotent: policies are dropped and created
-- again, grants are repeated. Edit here, not in a migration.

-- outbox_events: the current tenant's domain events. Append-only: the
-- runtime roles may add events (INSERT) and read them (SELECT), never change
-- or remove one (no UPDATE or DELETE grant).
ALTER TABLE outbox_events ENABLE ROW LEVEL SECURITY;
ALTER TABLE outbox_events FORCE ROW LEVEL SECURITY;

-- tenant_isolation (lms_app, lms_platform): organization_id is the
-- transaction's tenant, for reading (USING) and writing (WITH CHECK).
DROP POLICY IF EXISTS tenant_isolation ON outbox_events;
CREATE POLICY tenant_isolation ON outbox_events AS PERMISSIVE FOR ALL TO lms_app, lms_platform
    USING (organization_id = (SELECT app.current_org_id()))
    WITH CHECK (organization_id = (SELECT app.current_org_id()));

-- events_are_the_actors_own (lms_app, lms_platform, INSERT, RESTRICTIVE): an
-- event names the acting user of its transaction as its actor, or nobody
-- when there is none (a sign-up, a login, an operator): neither role can
-- write an event in someone else's name.
DROP POLICY IF EXISTS events_are_the_actors_own ON outbox_events;
CREATE POLICY events_are_the_actors_own ON outbox_events AS RESTRICTIVE FOR INSERT TO lms_app, lms_platform
    WITH CHECK (actor_id IS NOT DISTINCT FROM (SELECT app.current_user_id()));

-- events_read_by_auditors (lms_app, SELECT, RESTRICTIVE): events tell who
-- did what to whom (ids, roles, titles; no e-mail addresses or other
-- personal data), so only holders of 'audit:read' read them, as the API says
-- (`GET /api/v1/events`). Writing an event needs no read.
DROP POLICY IF EXISTS events_read_by_auditors ON outbox_events;
CREATE POLICY events_read_by_auditors ON outbox_events AS RESTRICTIVE FOR SELECT TO lms_app
    USING ((SELECT app.actor_has('audit:read')));

REVOKE ALL ON outbox_events FROM PUBLIC;
GRANT SELECT, INSERT ON outbox_events TO lms_app, lms_platform;
