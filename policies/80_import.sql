-- Re-applied after every migration run (`lms migrate`), in its own
-- transaction, as lms_owner. Idempotent.
--
-- lms_importer: owns the functions of schema `import`
-- (migrations/0034_import.sql) that load an exported organization as a new
-- one, and nothing else. Its reach: the registry row of the organization
-- being imported, and the rows of that organization in every carried tenant
-- table (read and insert, bound to the tenant the functions set, the same
-- test as tenant_isolation). Never an update or a delete. Login sessions
-- and refresh tokens are not carried. Nobody logs in as it or inherits it.
GRANT USAGE ON SCHEMA app TO lms_importer;
GRANT EXECUTE ON FUNCTION app.current_org_id() TO lms_importer;

REVOKE ALL ON organizations FROM lms_importer;
GRANT SELECT, INSERT ON organizations TO lms_importer;
DROP POLICY IF EXISTS importer_registers ON organizations;
CREATE POLICY importer_registers ON organizations AS PERMISSIVE FOR ALL TO lms_importer
    USING (id = (SELECT app.current_org_id()))
    WITH CHECK (id = (SELECT app.current_org_id()));

DO $$
DECLARE
    t text;
BEGIN
    FOR t IN
        SELECT tt FROM app.tenant_tables() AS tt
    LOOP
        EXECUTE format('REVOKE ALL ON public.%I FROM lms_importer', t);
        EXECUTE format('DROP POLICY IF EXISTS importer_rows ON public.%I', t);
        CONTINUE WHEN t IN ('auth_sessions', 'refresh_tokens');
        EXECUTE format('GRANT SELECT, INSERT ON public.%I TO lms_importer', t);
        EXECUTE format(
            'CREATE POLICY importer_rows ON public.%I AS PERMISSIVE FOR ALL TO lms_importer '
            'USING (organization_id = (SELECT app.current_org_id())) '
            'WITH CHECK (organization_id = (SELECT app.current_org_id()))', t);
    END LOOP;
END
$$;

-- The imports under way: lms_importer's alone, by row-level security too
-- (a grant made by mistake to another role still shows it nothing).
ALTER TABLE import.pending ENABLE ROW LEVEL SECURITY;
ALTER TABLE import.pending FORCE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS importer_tracks_imports ON import.pending;
CREATE POLICY importer_tracks_imports ON import.pending AS PERMISSIVE FOR ALL TO lms_importer
    USING (true) WITH CHECK (true);
