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

-- The helpers every policy calls.
GRANT USAGE ON SCHEMA app TO lms_app, lms_platform;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA app FROM PUBLIC;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA app TO lms_app, lms_platform;

-- organizations: the registry. A tenant sees its own row only, read-only.
-- The platform role reads and writes all of them: resolving a Host to a
-- tenant happens before any tenant is known, and provisioning creates them.
ALTER TABLE organizations ENABLE ROW LEVEL SECURITY;
ALTER TABLE organizations FORCE ROW LEVEL SECURITY;
-- tenant_reads_itself (lms_app, SELECT): only the row of the transaction's
-- tenant; no tenant set, no row.
DROP POLICY IF EXISTS tenant_reads_itself ON organizations;
CREATE POLICY tenant_reads_itself ON organizations AS PERMISSIVE FOR SELECT TO lms_app
    USING (id = (SELECT app.current_org_id()));
-- platform_manages_registry (lms_platform, all commands): every row. Its
-- DELETE is an organization's confirmed deletion, which cascades to every
-- row of the tenant.
DROP POLICY IF EXISTS platform_manages_registry ON organizations;
CREATE POLICY platform_manages_registry ON organizations AS PERMISSIVE FOR ALL TO lms_platform
    USING (true) WITH CHECK (true);
-- tenant_updates_own_settings (lms_app, UPDATE): a tenant may change its
-- own settings (self sign-up, search language) and nothing else of its
-- registry row: the column grant below stops it from renaming its slug or
-- lifting its own suspension.
DROP POLICY IF EXISTS tenant_updates_own_settings ON organizations;
CREATE POLICY tenant_updates_own_settings ON organizations AS PERMISSIVE FOR UPDATE TO lms_app
    USING (id = (SELECT app.current_org_id()))
    WITH CHECK (id = (SELECT app.current_org_id()));
-- owner_reads_registry (lms_owner, SELECT): the owner reads the registry,
-- which is not tenant data. The audit trigger asks it whether a row's
-- organization still exists (migration 0008); a data migration run as the
-- owner must get the true answer, not an empty registry that would silence
-- the trail. Tenant tables stay closed to the owner.
DROP POLICY IF EXISTS owner_reads_registry ON organizations;
CREATE POLICY owner_reads_registry ON organizations AS PERMISSIVE FOR SELECT TO lms_owner
    USING (true);
REVOKE ALL ON organizations FROM PUBLIC;
GRANT SELECT ON organizations TO lms_app;
GRANT UPDATE (settings, updated_at) ON organizations TO lms_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON organizations TO lms_platform;

-- organization_domains: a tenant reads its own domains; the platform role
-- resolves and registers domains of every tenant.
-- tenant_isolation (lms_app): its own tenant's domains, read-only by grant.
-- platform_manages_domains (lms_platform): every row, since a Host is
-- resolved before any tenant is known; SELECT, INSERT, DELETE and the
-- verification columns by grant.
ALTER TABLE organization_domains ENABLE ROW LEVEL SECURITY;
ALTER TABLE organization_domains FORCE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant_isolation ON organization_domains;
CREATE POLICY tenant_isolation ON organization_domains AS PERMISSIVE FOR ALL TO lms_app
    USING (organization_id = (SELECT app.current_org_id()))
    WITH CHECK (organization_id = (SELECT app.current_org_id()));
DROP POLICY IF EXISTS platform_manages_domains ON organization_domains;
CREATE POLICY platform_manages_domains ON organization_domains AS PERMISSIVE FOR ALL TO lms_platform
    USING (true) WITH CHECK (true);
REVOKE ALL ON organization_domains FROM PUBLIC;
GRANT SELECT ON organization_domains TO lms_app;
GRANT SELECT, INSERT, DELETE ON organization_domains TO lms_platform;
GRANT UPDATE (verified_at, verified_by) ON organization_domains TO lms_platform;

-- platform_admins: the platform role only (platform_only: every row, for
-- lms_platform). lms_app has no grant at all, and no policy names it, so
-- it would see no row even with one.
ALTER TABLE platform_admins ENABLE ROW LEVEL SECURITY;
ALTER TABLE platform_admins FORCE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS platform_only ON platform_admins;
CREATE POLICY platform_only ON platform_admins AS PERMISSIVE FOR ALL TO lms_platform
    USING (true) WITH CHECK (true);
REVOKE ALL ON platform_admins FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE ON platform_admins TO lms_platform;

-- platform_audit_logs: what platform admins did. The platform role reads
-- and appends (platform_only); no role may change or remove an entry, and
-- lms_app has no grant.
ALTER TABLE platform_audit_logs ENABLE ROW LEVEL SECURITY;
ALTER TABLE platform_audit_logs FORCE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS platform_only ON platform_audit_logs;
CREATE POLICY platform_only ON platform_audit_logs AS PERMISSIVE FOR ALL TO lms_platform
    USING (true) WITH CHECK (true);
REVOKE ALL ON platform_audit_logs FROM PUBLIC;
GRANT SELECT, INSERT ON platform_audit_logs TO lms_platform;

-- organization_deletions: pending confirmations of an organization's
-- deletion, the platform role only.
ALTER TABLE organization_deletions ENABLE ROW LEVEL SECURITY;
ALTER TABLE organization_deletions FORCE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS platform_only ON organization_deletions;
CREATE POLICY platform_only ON organization_deletions AS PERMISSIVE FOR ALL TO lms_platform
    USING (true) WITH CHECK (true);
REVOKE ALL ON organization_deletions FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE, DELETE ON organization_deletions TO lms_platform;
