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
GRANT SELECT, INSERT, UPDATE, DELETE ON courses TO lms_app;
GRANT SELECT ON courses TO lms_platform;

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
GRANT SELECT, INSERT, UPDATE, DELETE ON lessons TO lms_app;
GRANT SELECT ON lessons TO lms_platform;

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
GRANT SELECT, INSERT, UPDATE, DELETE ON sections TO lms_app;
GRANT SELECT ON sections TO lms_platform;

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
GRANT SELECT, INSERT, UPDATE, DELETE ON categories TO lms_app;
GRANT SELECT ON categories TO lms_platform;

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
GRANT SELECT, INSERT, UPDATE, DELETE ON tags TO lms_app;
GRANT SELECT ON tags TO lms_platform;

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
GRANT SELECT, INSERT, UPDATE, DELETE ON course_categories TO lms_app;
GRANT SELECT ON course_categories TO lms_platform;

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
GRANT SELECT, INSERT, UPDATE, DELETE ON course_tags TO lms_app;
GRANT SELECT ON course_tags TO lms_platform;

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
-- Snapshots are immutable for the tenant role: written once, on publish.
REVOKE ALL ON course_versions FROM lms_app;
GRANT SELECT, INSERT ON course_versions TO lms_app;
GRANT SELECT ON course_versions TO lms_platform;

-- course_staff: who teaches which course; every user of the tenant reads
-- it, its owners (and holders of 'course:write:any') change it.
ALTER TABLE course_staff ENABLE ROW LEVEL SECURITY;
ALTER TABLE course_staff FORCE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant_isolation ON course_staff;
CREATE POLICY tenant_isolation ON course_staff AS PERMISSIVE FOR ALL TO lms_app, lms_platform
    USING (organization_id = (SELECT app.current_org_id()))
    WITH CHECK (organization_id = (SELECT app.current_org_id()));
DROP POLICY IF EXISTS staffed_by_owners ON course_staff;
CREATE POLICY staffed_by_owners ON course_staff AS RESTRICTIVE FOR INSERT TO lms_app
    WITH CHECK (app.may_staff_course(course_id, user_id, role));
DROP POLICY IF EXISTS restaffed_by_owners ON course_staff;
CREATE POLICY restaffed_by_owners ON course_staff AS RESTRICTIVE FOR UPDATE TO lms_app
    USING (app.may_staff_course(course_id, user_id, role))
    WITH CHECK (app.may_staff_course(course_id, user_id, role));
DROP POLICY IF EXISTS unstaffed_by_owners ON course_staff;
CREATE POLICY unstaffed_by_owners ON course_staff AS RESTRICTIVE FOR DELETE TO lms_app
    USING (app.may_staff_course(course_id, user_id, role));
REVOKE ALL ON course_staff FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE, DELETE ON course_staff TO lms_app;
GRANT SELECT ON course_staff TO lms_platform;

-- Course writes (lms_app, RESTRICTIVE, on top of tenant_isolation): a
-- course and everything under it (lessons, sections, category and tag
-- links, published snapshots) are written only by its staff (owner or
-- instructor, with 'course:write') or by holders of 'course:write:any'
-- (app.may_edit_course); a course is created by holders of 'course:write';
-- categories and tags, shared by the whole catalog, by holders of
-- 'course:write'. Reading is not narrowed. Row locks (FOR UPDATE, FOR
-- SHARE) need the UPDATE policies too, so a course is locked for a change
-- only by those who may change it.
DROP POLICY IF EXISTS courses_created ON courses;
CREATE POLICY courses_created ON courses AS RESTRICTIVE FOR INSERT TO lms_app
    WITH CHECK ((SELECT app.actor_has('course:write')) OR (SELECT app.actor_has('course:write:any')));
DROP POLICY IF EXISTS courses_changed ON courses;
CREATE POLICY courses_changed ON courses AS RESTRICTIVE FOR UPDATE TO lms_app
    USING (app.may_edit_course(id));
DROP POLICY IF EXISTS courses_removed ON courses;
CREATE POLICY courses_removed ON courses AS RESTRICTIVE FOR DELETE TO lms_app
    USING (app.may_edit_course(id));
-- ratings_kept (lms_owner, SELECT/UPDATE): the reviews trigger, running as
-- the owner, keeps each course's rating aggregate. Not narrowed to the
-- transaction's tenant: the trigger's keys come from a review row that
-- passed the writer's own policies, and a review written outside any
-- tenant context (an operator's repair as superuser) must count too.
DROP POLICY IF EXISTS ratings_read ON courses;
CREATE POLICY ratings_read ON courses AS PERMISSIVE FOR SELECT TO lms_owner USING (true);
DROP POLICY IF EXISTS ratings_kept ON courses;
CREATE POLICY ratings_kept ON courses AS PERMISSIVE FOR UPDATE TO lms_owner
    USING (true) WITH CHECK (true);
REVOKE EXECUTE ON FUNCTION app.apply_rating(uuid, uuid, integer, integer) FROM lms_app, lms_platform;

DROP POLICY IF EXISTS content_written ON lessons;
CREATE POLICY content_written ON lessons AS RESTRICTIVE FOR ALL TO lms_app
    USING (true) WITH CHECK (app.may_edit_course(course_id));
DROP POLICY IF EXISTS content_changed ON lessons;
CREATE POLICY content_changed ON lessons AS RESTRICTIVE FOR UPDATE TO lms_app
    USING (app.may_edit_course(course_id));
DROP POLICY IF EXISTS content_removed ON lessons;
CREATE POLICY content_removed ON lessons AS RESTRICTIVE FOR DELETE TO lms_app
    USING (app.may_edit_course(course_id));

DROP POLICY IF EXISTS content_written ON sections;
CREATE POLICY content_written ON sections AS RESTRICTIVE FOR ALL TO lms_app
    USING (true)
    WITH CHECK (app.may_edit_course((SELECT l.course_id FROM lessons l
                                      WHERE l.organization_id = sections.organization_id
                                        AND l.id = sections.lesson_id)));
DROP POLICY IF EXISTS content_changed ON sections;
CREATE POLICY content_changed ON sections AS RESTRICTIVE FOR UPDATE TO lms_app
    USING (app.may_edit_course((SELECT l.course_id FROM lessons l
                                 WHERE l.organization_id = sections.organization_id
                                   AND l.id = sections.lesson_id)));
DROP POLICY IF EXISTS content_removed ON sections;
CREATE POLICY content_removed ON sections AS RESTRICTIVE FOR DELETE TO lms_app
    USING (app.may_edit_course((SELECT l.course_id FROM lessons l
                                 WHERE l.organization_id = sections.organization_id
                                   AND l.id = sections.lesson_id)));

DROP POLICY IF EXISTS links_written ON course_categories;
CREATE POLICY links_written ON course_categories AS RESTRICTIVE FOR ALL TO lms_app
    USING (true) WITH CHECK (app.may_edit_course(course_id));
DROP POLICY IF EXISTS links_changed ON course_categories;
CREATE POLICY links_changed ON course_categories AS RESTRICTIVE FOR UPDATE TO lms_app
    USING (app.may_edit_course(course_id));
DROP POLICY IF EXISTS links_removed ON course_categories;
CREATE POLICY links_removed ON course_categories AS RESTRICTIVE FOR DELETE TO lms_app
    USING (app.may_edit_course(course_id));
DROP POLICY IF EXISTS links_written ON course_tags;
CREATE POLICY links_written ON course_tags AS RESTRICTIVE FOR ALL TO lms_app
    USING (true) WITH CHECK (app.may_edit_course(course_id));
DROP POLICY IF EXISTS links_changed ON course_tags;
CREATE POLICY links_changed ON course_tags AS RESTRICTIVE FOR UPDATE TO lms_app
    USING (app.may_edit_course(course_id));
DROP POLICY IF EXISTS links_removed ON course_tags;
CREATE POLICY links_removed ON course_tags AS RESTRICTIVE FOR DELETE TO lms_app
    USING (app.may_edit_course(course_id));
DROP POLICY IF EXISTS snapshots_written ON course_versions;
CREATE POLICY snapshots_written ON course_versions AS RESTRICTIVE FOR INSERT TO lms_app
    WITH CHECK (app.may_edit_course(course_id));

DROP POLICY IF EXISTS taxonomy_written ON categories;
CREATE POLICY taxonomy_written ON categories AS RESTRICTIVE FOR ALL TO lms_app
    USING (true)
    WITH CHECK ((SELECT app.actor_has('course:write')) OR (SELECT app.actor_has('course:write:any')));
DROP POLICY IF EXISTS taxonomy_changed ON categories;
CREATE POLICY taxonomy_changed ON categories AS RESTRICTIVE FOR UPDATE TO lms_app
    USING ((SELECT app.actor_has('course:write')) OR (SELECT app.actor_has('course:write:any')));
DROP POLICY IF EXISTS taxonomy_removed ON categories;
CREATE POLICY taxonomy_removed ON categories AS RESTRICTIVE FOR DELETE TO lms_app
    USING ((SELECT app.actor_has('course:write')) OR (SELECT app.actor_has('course:write:any')));
DROP POLICY IF EXISTS taxonomy_written ON tags;
CREATE POLICY taxonomy_written ON tags AS RESTRICTIVE FOR ALL TO lms_app
    USING (true)
    WITH CHECK ((SELECT app.actor_has('course:write')) OR (SELECT app.actor_has('course:write:any')));
DROP POLICY IF EXISTS taxonomy_changed ON tags;
CREATE POLICY taxonomy_changed ON tags AS RESTRICTIVE FOR UPDATE TO lms_app
    USING ((SELECT app.actor_has('course:write')) OR (SELECT app.actor_has('course:write:any')));
DROP POLICY IF EXISTS taxonomy_removed ON tags;
CREATE POLICY taxonomy_removed ON tags AS RESTRICTIVE FOR DELETE TO lms_app
    USING ((SELECT app.actor_has('course:write')) OR (SELECT app.actor_has('course:write:any')));

-- owner_reads_lessons (lms_owner, SELECT): the content removal guard,
-- running as the owner, finds a section's course.
DROP POLICY IF EXISTS owner_reads_lessons ON lessons;
CREATE POLICY owner_reads_lessons ON lessons AS PERMISSIVE FOR SELECT TO lms_owner USING (true);

-- owner_reads_versions (lms_owner, SELECT): the content removal guard,
-- running as the owner, keeps what a pinned version contains
-- (app.content_kept, migrations/0026_content_trash.sql).
DROP POLICY IF EXISTS owner_reads_versions ON course_versions;
CREATE POLICY owner_reads_versions ON course_versions AS PERMISSIVE FOR SELECT TO lms_owner USING (true);

-- content_purged (lms_app, DELETE, restrictive): a lesson or section is
-- deleted for real only by holders of 'course:write:any' (the API's
-- `?purge=true`); course staff move content to the trash. A course's own
-- deletion cascades regardless (referential actions are not subject to
-- row security).
DROP POLICY IF EXISTS content_purged ON lessons;
CREATE POLICY content_purged ON lessons AS RESTRICTIVE FOR DELETE TO lms_app
    USING ((SELECT app.actor_has('course:write:any')));
DROP POLICY IF EXISTS content_purged ON sections;
CREATE POLICY content_purged ON sections AS RESTRICTIVE FOR DELETE TO lms_app
    USING ((SELECT app.actor_has('course:write:any')));

-- owner_reads_sections (lms_owner, SELECT): the content removal guard,
-- running as the owner, checks a lesson's sections before it goes.
DROP POLICY IF EXISTS owner_reads_sections ON sections;
CREATE POLICY owner_reads_sections ON sections AS PERMISSIVE FOR SELECT TO lms_owner USING (true);

-- Whether content must stay is for the removal guard (running as the
-- owner: app.content_needed) and the housekeeping (lms_platform, its own
-- tenant: app.content_kept) only.
REVOKE EXECUTE ON FUNCTION app.content_needed(uuid, uuid, uuid, boolean) FROM lms_app, lms_platform;
REVOKE EXECUTE ON FUNCTION app.content_kept(uuid, uuid, uuid, boolean) FROM lms_app;
