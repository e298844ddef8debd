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

-- users: people of the current tenant only. The same e-mail in another
-- tenant is another row this tenant never sees.
-- tenant_isolation (lms_app, lms_platform): organization_id is the
-- transaction's tenant, for reading (USING) and writing (WITH CHECK).
ALTER TABLE users ENABLE ROW LEVEL SECURITY;
ALTER TABLE users FORCE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant_isolation ON users;
CREATE POLICY tenant_isolation ON users AS PERMISSIVE FOR ALL TO lms_app, lms_platform
    USING (organization_id = (SELECT app.current_org_id()))
    WITH CHECK (organization_id = (SELECT app.current_org_id()));
REVOKE ALL ON users FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE, DELETE ON users TO lms_app;
GRANT SELECT ON users TO lms_platform;

-- roles: the current tenant's roles (system and custom).
-- tenant_isolation (lms_app, lms_platform): organization_id is the
-- transaction's tenant, for reading (USING) and writing (WITH CHECK).
ALTER TABLE roles ENABLE ROW LEVEL SECURITY;
ALTER TABLE roles FORCE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant_isolation ON roles;
CREATE POLICY tenant_isolation ON roles AS PERMISSIVE FOR ALL TO lms_app, lms_platform
    USING (organization_id = (SELECT app.current_org_id()))
    WITH CHECK (organization_id = (SELECT app.current_org_id()));
-- roles_managed (lms_app, INSERT/UPDATE/DELETE, RESTRICTIVE): only holders
-- of 'role:manage' create, change or remove roles. (Organizations get their
-- default roles from the platform role, which this does not narrow.)
DROP POLICY IF EXISTS roles_created ON roles;
CREATE POLICY roles_created ON roles AS RESTRICTIVE FOR INSERT TO lms_app
    WITH CHECK ((SELECT app.actor_has('role:manage')));
DROP POLICY IF EXISTS roles_changed ON roles;
CREATE POLICY roles_changed ON roles AS RESTRICTIVE FOR UPDATE TO lms_app
    USING ((SELECT app.actor_has('role:manage')));
DROP POLICY IF EXISTS roles_removed ON roles;
CREATE POLICY roles_removed ON roles AS RESTRICTIVE FOR DELETE TO lms_app
    USING ((SELECT app.actor_has('role:manage')));
REVOKE ALL ON roles FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE, DELETE ON roles TO lms_app;
GRANT SELECT ON roles TO lms_platform;

-- user_roles: role assignments inside the current tenant; the composite
-- keys stop an assignment from naming another tenant's user or role.
-- tenant_isolation (lms_app, lms_platform): organization_id is the
-- transaction's tenant, for reading (USING) and writing (WITH CHECK).
ALTER TABLE user_roles ENABLE ROW LEVEL SECURITY;
ALTER TABLE user_roles FORCE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant_isolation ON user_roles;
CREATE POLICY tenant_isolation ON user_roles AS PERMISSIVE FOR ALL TO lms_app, lms_platform
    USING (organization_id = (SELECT app.current_org_id()))
    WITH CHECK (organization_id = (SELECT app.current_org_id()));
-- assignments_managed (lms_app, RESTRICTIVE): holders of 'role:manage'
-- give and take any role; otherwise only the organization's system
-- `learner` role is given, by a holder of 'user:manage' (inviting a
-- learner) or with no acting user (self sign-up). Nobody gives themselves
-- anything else, whatever the application does.
DROP POLICY IF EXISTS assignments_given ON user_roles;
CREATE POLICY assignments_given ON user_roles AS RESTRICTIVE FOR INSERT TO lms_app
    WITH CHECK ((SELECT app.actor_has('role:manage'))
                OR (EXISTS (SELECT 1 FROM roles r
                             WHERE r.organization_id = user_roles.organization_id
                               AND r.id = user_roles.role_id AND r.is_system AND r.name = 'learner')
                    AND ((SELECT app.current_user_id()) IS NULL
                         OR (SELECT app.actor_has('user:manage')))));
DROP POLICY IF EXISTS assignments_changed ON user_roles;
CREATE POLICY assignments_changed ON user_roles AS RESTRICTIVE FOR UPDATE TO lms_app
    USING ((SELECT app.actor_has('role:manage')));
DROP POLICY IF EXISTS assignments_taken ON user_roles;
CREATE POLICY assignments_taken ON user_roles AS RESTRICTIVE FOR DELETE TO lms_app
    USING ((SELECT app.actor_has('role:manage')));
REVOKE ALL ON user_roles FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE, DELETE ON user_roles TO lms_app;
GRANT SELECT ON user_roles TO lms_platform;

-- user_profiles: profiles of the current tenant's users.
-- tenant_isolation (lms_app, lms_platform): organization_id is the
-- transaction's tenant, for reading (USING) and writing (WITH CHECK).
ALTER TABLE user_profiles ENABLE ROW LEVEL SECURITY;
ALTER TABLE user_profiles FORCE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant_isolation ON user_profiles;
CREATE POLICY tenant_isolation ON user_profiles AS PERMISSIVE FOR ALL TO lms_app, lms_platform
    USING (organization_id = (SELECT app.current_org_id()))
    WITH CHECK (organization_id = (SELECT app.current_org_id()));
REVOKE ALL ON user_profiles FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE, DELETE ON user_profiles TO lms_app;
GRANT SELECT ON user_profiles TO lms_platform;

-- auth_sessions: logins of the current tenant's users. No DELETE: the
-- runtime only revokes (revoked_at); rows go with their user.
-- tenant_isolation (lms_app): organization_id is the transaction's
-- tenant, for reading (USING) and writing (WITH CHECK). The platform role
-- has no use for them (they are not exported) and no grant.
ALTER TABLE auth_sessions ENABLE ROW LEVEL SECURITY;
ALTER TABLE auth_sessions FORCE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant_isolation ON auth_sessions;
CREATE POLICY tenant_isolation ON auth_sessions AS PERMISSIVE FOR ALL TO lms_app
    USING (organization_id = (SELECT app.current_org_id()))
    WITH CHECK (organization_id = (SELECT app.current_org_id()));
REVOKE ALL ON auth_sessions FROM PUBLIC, lms_platform;
GRANT SELECT, INSERT, UPDATE ON auth_sessions TO lms_app;

-- refresh_tokens: digests of the current tenant's refresh tokens. No
-- DELETE: spent tokens are marked (used_at), so a replay is recognised.
-- tenant_isolation (lms_app): organization_id is the transaction's
-- tenant, for reading (USING) and writing (WITH CHECK). The platform role
-- has no use for them (they are not exported) and no grant.
ALTER TABLE refresh_tokens ENABLE ROW LEVEL SECURITY;
ALTER TABLE refresh_tokens FORCE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant_isolation ON refresh_tokens;
CREATE POLICY tenant_isolation ON refresh_tokens AS PERMISSIVE FOR ALL TO lms_app
    USING (organization_id = (SELECT app.current_org_id()))
    WITH CHECK (organization_id = (SELECT app.current_org_id()));
REVOKE ALL ON refresh_tokens FROM PUBLIC, lms_platform;
GRANT SELECT, INSERT, UPDATE ON refresh_tokens TO lms_app;

-- Platform sessions and refresh tokens: the platform role only; lms_app has
-- no grant.
ALTER TABLE platform_sessions ENABLE ROW LEVEL SECURITY;
ALTER TABLE platform_sessions FORCE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS platform_only ON platform_sessions;
CREATE POLICY platform_only ON platform_sessions AS PERMISSIVE FOR ALL TO lms_platform
    USING (true) WITH CHECK (true);
REVOKE ALL ON platform_sessions FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE ON platform_sessions TO lms_platform;

ALTER TABLE platform_refresh_tokens ENABLE ROW LEVEL SECURITY;
ALTER TABLE platform_refresh_tokens FORCE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS platform_only ON platform_refresh_tokens;
CREATE POLICY platform_only ON platform_refresh_tokens AS PERMISSIVE FOR ALL TO lms_platform
    USING (true) WITH CHECK (true);
REVOKE ALL ON platform_refresh_tokens FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE ON platform_refresh_tokens TO lms_platform;
