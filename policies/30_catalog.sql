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

-- courses: the current tenant's catalog, soft-deleted courses included (the
-- queries filter deleted_at; a restore must see them).
-- tenant_isolation (lms_app, lms_platform): organization_id is the
-- transaction's tenant, for reading (USING) and writing (WITH CHECK).
ALTER TABLE courses ENABLE ROW LEVEL SECURITY;
ALTER TABLE courses FORCE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant_isolation ON courses;
CREATE POLICY tenant_isolation ON courses AS PERMISSIVE FOR ALL TO lms_app, lms_platform
    USING (organization_id = (SELECT app.current_org_id()))
    WITH CHECK (organization_id = (SELECT app.current_org_id()));
REVOKE ALL ON courses FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE, DELETE ON courses TO lms_app, lms_platform;

-- lessons: lessons of the current tenant's courses.
-- tenant_isolation (lms_app, lms_platform): organization_id is the
-- transaction's tenant, for reading (USING) and writing (WITH CHECK).
ALTER TABLE lessons ENABLE ROW LEVEL SECURITY;
ALTER TABLE lessons FORCE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant_isolation ON lessons;
CREATE POLICY tenant_isolation ON lessons AS PERMISSIVE FOR ALL TO lms_app, lms_platform
    USING (organization_id = (SELECT app.current_org_id()))
    WITH CHECK (organization_id = (SELECT app.current_org_id()));
REVOKE ALL ON lessons FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE, DELETE ON lessons TO lms_app, lms_platform;

-- sections: sections of the current tenant's lessons.
-- tenant_isolation (lms_app, lms_platform): organization_id is the
-- transaction's tenant, for reading (USING) and writing (WITH CHECK).
ALTER TABLE sections ENABLE ROW LEVEL SECURITY;
ALTER TABLE sections FORCE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant_isolation ON sections;
CREATE POLICY tenant_isolation ON sections AS PERMISSIVE FOR ALL TO lms_app, lms_platform
    USING (organization_id = (SELECT app.current_org_id()))
    WITH CHECK (organization_id = (SELECT app.current_org_id()));
REVOKE ALL ON sections FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE, DELETE ON sections TO lms_app, lms_platform;

-- categories: the current tenant's category tree.
-- tenant_isolation (lms_app, lms_platform): organization_id is the
-- transaction's tenant, for reading (USING) and writing (WITH CHECK).
ALTER TABLE categories ENABLE ROW LEVEL SECURITY;
ALTER TABLE categories FORCE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant_isolation ON categories;
CREATE POLICY tenant_isolation ON categories AS PERMISSIVE FOR ALL TO lms_app, lms_platform
    USING (organization_id = (SELECT app.current_org_id()))
    WITH CHECK (organization_id = (SELECT app.current_org_id()));
REVOKE ALL ON categories FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE, DELETE ON categories TO lms_app, lms_platform;

-- tags: the current tenant's tags.
-- tenant_isolation (lms_app, lms_platform): organization_id is the
-- transaction's tenant, for reading (USING) and writing (WITH CHECK).
ALTER TABLE tags ENABLE ROW LEVEL SECURITY;
ALTER TABLE tags FORCE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant_isolation ON tags;
CREATE POLICY tenant_isolation ON tags AS PERMISSIVE FOR ALL TO lms_app, lms_platform
    USING (organization_id = (SELECT app.current_org_id()))
    WITH CHECK (organization_id = (SELECT app.current_org_id()));
REVOKE ALL ON tags FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE, DELETE ON tags TO lms_app, lms_platform;

-- course_categories: links between the current tenant's courses and
-- categories.
-- tenant_isolation (lms_app, lms_platform): organization_id is the
-- transaction's tenant, for reading (USING) and writing (WITH CHECK).
ALTER TABLE course_categories ENABLE ROW LEVEL SECURITY;
ALTER TABLE course_categories FORCE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant_isolation ON course_categories;
CREATE POLICY tenant_isolation ON course_categories AS PERMISSIVE FOR ALL TO lms_app, lms_platform
    USING (organization_id = (SELECT app.current_org_id()))
    WITH CHECK (organization_id = (SELECT app.current_org_id()));
REVOKE ALL ON course_categories FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE, DELETE ON course_categories TO lms_app, lms_platform;

-- course_tags: links between the current tenant's courses and tags.
-- tenant_isolation (lms_app, lms_platform): organization_id is the
-- transaction's tenant, for reading (USING) and writing (WITH CHECK).
ALTER TABLE course_tags ENABLE ROW LEVEL SECURITY;
ALTER TABLE course_tags FORCE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant_isolation ON course_tags;
CREATE POLICY tenant_isolation ON course_tags AS PERMISSIVE FOR ALL TO lms_app, lms_platform
    USING (organization_id = (SELECT app.current_org_id()))
    WITH CHECK (organization_id = (SELECT app.current_org_id()));
REVOKE ALL ON course_tags FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE, DELETE ON course_tags TO lms_app, lms_platform;

-- course_versions: published snapshots of the current tenant's courses.
-- tenant_isolation (lms_app, lms_platform): organization_id is the
-- transaction's tenant, for reading (USING) and writing (WITH CHECK).
ALTER TABLE course_versions ENABLE ROW LEVEL SECURITY;
ALTER TABLE course_versions FORCE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant_isolation ON course_versions;
CREATE POLICY tenant_isolation ON course_versions AS PERMISSIVE FOR ALL TO lms_app, lms_platform
    USING (organization_id = (SELECT app.current_org_id()))
    WITH CHECK (organization_id = (SELECT app.current_org_id()));
REVOKE ALL ON course_versions FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE, DELETE ON course_versions TO lms_app, lms_platform;
