-- Re-applied after every migration run (`lms migrate`), in its own
-- transaction, as lms_owner. Idempotent.
--
-- lms_steward: owns the functions of schema `steward`
-- (migrations/0030_steward.sql) through which the platform role writes
-- inside a tenant, and nothing else. Its reach is what those functions
-- need: one policy per table, steward_isolation, bound to the tenant the
-- function has set (the same test as tenant_isolation), and grants for
-- exactly the commands they run. Nobody logs in as it or inherits it.
GRANT USAGE ON SCHEMA app TO lms_steward;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA app TO lms_steward;
REVOKE EXECUTE ON FUNCTION app.content_needed(uuid, uuid, uuid, boolean) FROM lms_steward;

-- organizations: its own tenant's row (settings: retention, language).
DROP POLICY IF EXISTS steward_reads_its_org ON organizations;
CREATE POLICY steward_reads_its_org ON organizations AS PERMISSIVE FOR SELECT TO lms_steward
    USING (id = (SELECT app.current_org_id()));
REVOKE ALL ON organizations FROM lms_steward;
GRANT SELECT ON organizations TO lms_steward;

DO $$
DECLARE
    g record;
BEGIN
    FOR g IN SELECT * FROM (VALUES
        -- seed_organization
        ('roles',             'SELECT, INSERT'),
        ('users',             'SELECT, INSERT'),
        ('user_roles',        'SELECT, INSERT'),
        -- sweep_tenant
        ('learning_sessions', 'SELECT, UPDATE'),
        ('enrollments',       'SELECT, UPDATE'),
        ('outbox_events',     'INSERT'),
        ('categories',        'SELECT, DELETE'),
        ('lessons',           'SELECT, DELETE'),
        ('sections',          'SELECT, DELETE'),
        -- sweep_tenant (DELETE) and apply_search_language (UPDATE)
        ('courses',           'SELECT, UPDATE, DELETE')) AS t(tbl, privileges)
    LOOP
        EXECUTE format('REVOKE ALL ON public.%I FROM lms_steward', g.tbl);
        EXECUTE format('GRANT %s ON public.%I TO lms_steward', g.privileges, g.tbl);
        EXECUTE format('DROP POLICY IF EXISTS steward_isolation ON public.%I', g.tbl);
        EXECUTE format(
            'CREATE POLICY steward_isolation ON public.%I AS PERMISSIVE FOR ALL TO lms_steward '
            'USING (organization_id = (SELECT app.current_org_id())) '
            'WITH CHECK (organization_id = (SELECT app.current_org_id()))', g.tbl);
    END LOOP;
END
$$;

-- The steward writes events in nobody's name, like any service action.
DROP POLICY IF EXISTS steward_events_have_no_actor ON outbox_events;
CREATE POLICY steward_events_have_no_actor ON outbox_events AS RESTRICTIVE FOR INSERT TO lms_steward
    WITH CHECK (actor_id IS NULL);
