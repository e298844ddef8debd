-- Re-applied after every migration run (`lms migrate`), in its own
-- transaction, as lms_owner. Idempotent: policies are dropped and created
-- again, grants are repeated. Edit here, not in a migration.
--
-- Every tenant table: row-level security ENABLED and FORCED (so not even the
-- owner is exempt) and one policy, for the runtime roles, that compares
-- organization_id with the transaction's tenant both for the rows a
-- statement can see (USING) and for the rows it can write (WITH CHECK).
-- With no tenant set, app.current_org_id() is NULL: nothing is visible and
-- every write fails its check.

-- audit_logs: the current tenant's trail. The runtime roles only read it
-- (SELECT); entries are written by app.audit_trigger() as its owner
-- (SECURITY DEFINER, migrations/0016_audit_trail.sql), so no statement of
-- lms_app or lms_platform adds, changes or removes one. They leave only
-- with their organization.
-- tenant_isolation (lms_app, lms_platform): organization_id is the
-- transaction's tenant, for reading (USING) and writing (WITH CHECK).
ALTER TABLE audit_logs ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_logs FORCE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant_isolation ON audit_logs;
CREATE POLICY tenant_isolation ON audit_logs AS PERMISSIVE FOR ALL TO lms_app, lms_platform
    USING (organization_id = (SELECT app.current_org_id()))
    WITH CHECK (organization_id = (SELECT app.current_org_id()));
-- audit_read (lms_app, SELECT, RESTRICTIVE): only holders of 'audit:read'
-- read the trail (it names users and their changes).
DROP POLICY IF EXISTS audit_read ON audit_logs;
CREATE POLICY audit_read ON audit_logs AS RESTRICTIVE FOR SELECT TO lms_app
    USING ((SELECT app.actor_has('audit:read')));
-- written_by_the_trigger (lms_owner, INSERT): the trigger function, running
-- as the owner, appends entries; the owner neither reads nor changes them
-- at run time.
DROP POLICY IF EXISTS written_by_the_trigger ON audit_logs;
CREATE POLICY written_by_the_trigger ON audit_logs AS PERMISSIVE FOR INSERT TO lms_owner
    WITH CHECK (organization_id IS NOT NULL);
REVOKE ALL ON audit_logs FROM PUBLIC;
REVOKE ALL ON audit_logs FROM lms_app, lms_platform;
GRANT SELECT ON audit_logs TO lms_app, lms_platform;
