-- Re-applied after every migration run, as lms_owner; idempotent.
--
-- cohorts, cohort_members, cohort_courses: the current tenant's rows
-- (tenant_isolation), and on top of it, for lms_app, only enrollment
-- managers read or write them (cohorts_managed, RESTRICTIVE), except that a
-- user reads their own memberships. lms_platform reads them (exports) and
-- writes nothing.

ALTER TABLE cohorts ENABLE ROW LEVEL SECURITY;
ALTER TABLE cohorts FORCE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant_isolation ON cohorts;
CREATE POLICY tenant_isolation ON cohorts AS PERMISSIVE FOR ALL TO lms_app, lms_platform
    USING (organization_id = (SELECT app.current_org_id()))
    WITH CHECK (organization_id = (SELECT app.current_org_id()));
DROP POLICY IF EXISTS cohorts_managed ON cohorts;
CREATE POLICY cohorts_managed ON cohorts AS RESTRICTIVE FOR ALL TO lms_app
    USING ((SELECT app.actor_has('enrollment:manage')))
    WITH CHECK ((SELECT app.actor_has('enrollment:manage')));
REVOKE ALL ON cohorts FROM PUBLIC;
REVOKE ALL ON cohorts FROM lms_platform;
GRANT SELECT, INSERT, UPDATE, DELETE ON cohorts TO lms_app;
GRANT SELECT ON cohorts TO lms_platform;

ALTER TABLE cohort_members ENABLE ROW LEVEL SECURITY;
ALTER TABLE cohort_members FORCE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant_isolation ON cohort_members;
CREATE POLICY tenant_isolation ON cohort_members AS PERMISSIVE FOR ALL TO lms_app, lms_platform
    USING (organization_id = (SELECT app.current_org_id()))
    WITH CHECK (organization_id = (SELECT app.current_org_id()));
DROP POLICY IF EXISTS cohorts_managed ON cohort_members;
CREATE POLICY cohorts_managed ON cohort_members AS RESTRICTIVE FOR ALL TO lms_app
    USING (user_id = (SELECT app.current_user_id()) OR (SELECT app.actor_has('enrollment:manage')))
    WITH CHECK ((SELECT app.actor_has('enrollment:manage')));
-- Reading one's membership is not changing it.
DROP POLICY IF EXISTS cohorts_managed_written ON cohort_members;
CREATE POLICY cohorts_managed_written ON cohort_members AS RESTRICTIVE FOR DELETE TO lms_app
    USING ((SELECT app.actor_has('enrollment:manage')));
REVOKE ALL ON cohort_members FROM PUBLIC;
REVOKE ALL ON cohort_members FROM lms_platform;
GRANT SELECT, INSERT, DELETE ON cohort_members TO lms_app;
GRANT SELECT ON cohort_members TO lms_platform;

ALTER TABLE cohort_courses ENABLE ROW LEVEL SECURITY;
ALTER TABLE cohort_courses FORCE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant_isolation ON cohort_courses;
CREATE POLICY tenant_isolation ON cohort_courses AS PERMISSIVE FOR ALL TO lms_app, lms_platform
    USING (organization_id = (SELECT app.current_org_id()))
    WITH CHECK (organization_id = (SELECT app.current_org_id()));
DROP POLICY IF EXISTS cohorts_managed ON cohort_courses;
CREATE POLICY cohorts_managed ON cohort_courses AS RESTRICTIVE FOR ALL TO lms_app
    USING ((SELECT app.actor_has('enrollment:manage')))
    WITH CHECK ((SELECT app.actor_has('enrollment:manage')));
REVOKE ALL ON cohort_courses FROM PUBLIC;
REVOKE ALL ON cohort_courses FROM lms_platform;
GRANT SELECT, INSERT, DELETE ON cohort_courses TO lms_app;
GRANT SELECT ON cohort_courses TO lms_platform;
