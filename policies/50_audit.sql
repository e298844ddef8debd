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

-- audit_logs: the current tenant's trail. Append-only: the runtime roles
-- may read and add entries (SELECT, INSERT), never change or remove them
-- (no UPDATE or DELETE grant). Entries are written by app.audit_trigger()
-- as the acting role (not SECURITY DEFINER), so they pass WITH CHECK only
-- for the row's own tenant. They leave only with their organization.
-- tenant_isolation (lms_app, lms_platform): organization_id is the
-- transaction's tenant, for reading (USING) and writing (WITH CHECK).
ALTER TABLE audit_logs ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_logs FORCE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant_isolation ON audit_logs;
CREATE POLICY tenant_isolation ON audit_logs AS PERMISSIVE FOR ALL TO lms_app, lms_platform
    USING (organization_id = (SELECT app.current_org_id()))
    WITH CHECK (organization_id = (SELECT app.current_org_id()));
REVOKE ALL ON audit_logs FROM PUBLIC;
GRANT SELECT, INSERT ON audit_logs TO lms_app, lms_platform;
