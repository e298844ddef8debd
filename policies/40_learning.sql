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

-- enrollments: the current tenant's enrollments (narrowed to the learner's
-- own by own_rows below).
-- tenant_isolation (lms_app, lms_platform): organization_id is the
-- transaction's tenant, for reading (USING) and writing (WITH CHECK).
ALTER TABLE enrollments ENABLE ROW LEVEL SECURITY;
ALTER TABLE enrollments FORCE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant_isolation ON enrollments;
CREATE POLICY tenant_isolation ON enrollments AS PERMISSIVE FOR ALL TO lms_app, lms_platform
    USING (organization_id = (SELECT app.current_org_id()))
    WITH CHECK (organization_id = (SELECT app.current_org_id()));
REVOKE ALL ON enrollments FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE, DELETE ON enrollments TO lms_app;
GRANT SELECT ON enrollments TO lms_platform;

-- progress: the current tenant's progress rows (narrowed by own_rows
-- below).
-- tenant_isolation (lms_app, lms_platform): organization_id is the
-- transaction's tenant, for reading (USING) and writing (WITH CHECK).
ALTER TABLE progress ENABLE ROW LEVEL SECURITY;
ALTER TABLE progress FORCE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant_isolation ON progress;
CREATE POLICY tenant_isolation ON progress AS PERMISSIVE FOR ALL TO lms_app, lms_platform
    USING (organization_id = (SELECT app.current_org_id()))
    WITH CHECK (organization_id = (SELECT app.current_org_id()));
REVOKE ALL ON progress FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE, DELETE ON progress TO lms_app;
GRANT SELECT ON progress TO lms_platform;

-- learning_sessions: the current tenant's learning sessions (narrowed by
-- own_rows below).
-- tenant_isolation (lms_app, lms_platform): organization_id is the
-- transaction's tenant, for reading (USING) and writing (WITH CHECK).
ALTER TABLE learning_sessions ENABLE ROW LEVEL SECURITY;
ALTER TABLE learning_sessions FORCE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant_isolation ON learning_sessions;
CREATE POLICY tenant_isolation ON learning_sessions AS PERMISSIVE FOR ALL TO lms_app, lms_platform
    USING (organization_id = (SELECT app.current_org_id()))
    WITH CHECK (organization_id = (SELECT app.current_org_id()));
REVOKE ALL ON learning_sessions FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE, DELETE ON learning_sessions TO lms_app;
GRANT SELECT ON learning_sessions TO lms_platform;

-- reviews: the current tenant's reviews; every learner of the tenant may
-- read all of them.
-- tenant_isolation (lms_app, lms_platform): organization_id is the
-- transaction's tenant, for reading (USING) and writing (WITH CHECK).
ALTER TABLE reviews ENABLE ROW LEVEL SECURITY;
ALTER TABLE reviews FORCE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant_isolation ON reviews;
CREATE POLICY tenant_isolation ON reviews AS PERMISSIVE FOR ALL TO lms_app, lms_platform
    USING (organization_id = (SELECT app.current_org_id()))
    WITH CHECK (organization_id = (SELECT app.current_org_id()));
REVOKE ALL ON reviews FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE, DELETE ON reviews TO lms_app;
GRANT SELECT ON reviews TO lms_platform;

-- Own rows. On top of the tenant boundary, a RESTRICTIVE policy (ANDed
-- with tenant_isolation) for lms_app: a user sees and writes only their own
-- enrollments, progress and learning sessions, unless one of their roles
-- grants the permission to act on the tenant's (instructors and admins;
-- app.actor_has reads user_roles and roles under their own tenant policy).
-- With no acting user (app.user_id unset) there are no own rows and no
-- permission: nothing is visible. lms_platform is not narrowed: it acts for
-- the operator inside a tenant context, never as a learner.

-- own_rows on enrollments: own rows; 'enrollment:manage' reads and writes
-- every enrollment of the tenant (enrolling others, changing status);
-- 'progress:read:any' reads them (an instructor's view of their learners).
DROP POLICY IF EXISTS own_rows ON enrollments;
CREATE POLICY own_rows ON enrollments AS RESTRICTIVE FOR ALL TO lms_app
    USING (user_id = (SELECT app.current_user_id()) OR (SELECT app.actor_has('enrollment:manage'))
           OR (SELECT app.actor_has('progress:read:any')))
    WITH CHECK (user_id = (SELECT app.current_user_id()) OR (SELECT app.actor_has('enrollment:manage')));
-- own_rows_written on enrollments: reading others' is not changing them.
DROP POLICY IF EXISTS own_rows_written ON enrollments;
CREATE POLICY own_rows_written ON enrollments AS RESTRICTIVE FOR UPDATE TO lms_app
    USING (user_id = (SELECT app.current_user_id()) OR (SELECT app.actor_has('enrollment:manage')));
-- managed_removal on enrollments: only enrollment managers remove one (a
-- learner drops theirs instead; removing and re-creating it would undo an
-- end of access).
DROP POLICY IF EXISTS own_rows_removed ON enrollments;
DROP POLICY IF EXISTS managed_removal ON enrollments;
CREATE POLICY managed_removal ON enrollments AS RESTRICTIVE FOR DELETE TO lms_app
    USING ((SELECT app.actor_has('enrollment:manage')));
-- own_rows on progress: own rows; 'progress:read:any' reads everyone's
-- (reports), but progress is only ever written by the learner themselves.
DROP POLICY IF EXISTS own_rows ON progress;
CREATE POLICY own_rows ON progress AS RESTRICTIVE FOR ALL TO lms_app
    USING (user_id = (SELECT app.current_user_id()) OR (SELECT app.actor_has('progress:read:any')))
    WITH CHECK (user_id = (SELECT app.current_user_id()));
-- own_rows on learning_sessions: as progress.
DROP POLICY IF EXISTS own_rows ON learning_sessions;
CREATE POLICY own_rows ON learning_sessions AS RESTRICTIVE FOR ALL TO lms_app
    USING (user_id = (SELECT app.current_user_id()) OR (SELECT app.actor_has('progress:read:any')))
    WITH CHECK (user_id = (SELECT app.current_user_id()));

-- reviews_by_their_author (lms_app, INSERT/UPDATE/DELETE, RESTRICTIVE): a
-- review is written, changed and removed by its author only; everyone in
-- the tenant reads them.
DROP POLICY IF EXISTS reviews_written_by_author ON reviews;
CREATE POLICY reviews_written_by_author ON reviews AS RESTRICTIVE FOR INSERT TO lms_app
    WITH CHECK (user_id = (SELECT app.current_user_id()));
DROP POLICY IF EXISTS reviews_changed_by_author ON reviews;
CREATE POLICY reviews_changed_by_author ON reviews AS RESTRICTIVE FOR UPDATE TO lms_app
    USING (user_id = (SELECT app.current_user_id()))
    WITH CHECK (user_id = (SELECT app.current_user_id()));
DROP POLICY IF EXISTS reviews_removed_by_author ON reviews;
CREATE POLICY reviews_removed_by_author ON reviews AS RESTRICTIVE FOR DELETE TO lms_app
    USING (user_id = (SELECT app.current_user_id()));

-- certificates: the current tenant's certificates.
-- tenant_isolation (lms_app, lms_platform): organization_id is the
-- transaction's tenant, for reading (USING) and writing (WITH CHECK).
ALTER TABLE certificates ENABLE ROW LEVEL SECURITY;
ALTER TABLE certificates FORCE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant_isolation ON certificates;
CREATE POLICY tenant_isolation ON certificates AS PERMISSIVE FOR ALL TO lms_app, lms_platform
    USING (organization_id = (SELECT app.current_org_id()))
    WITH CHECK (organization_id = (SELECT app.current_org_id()));
-- certificates_read (lms_app, SELECT, RESTRICTIVE): a learner reads their
-- own; 'progress:read:any' reads the tenant's; anyone reads the one whose
-- code the transaction names in 'app.certificate_code' (the public
-- verification page: knowing the unguessable code is the permission).
DROP POLICY IF EXISTS certificates_read ON certificates;
CREATE POLICY certificates_read ON certificates AS RESTRICTIVE FOR SELECT TO lms_app
    USING (user_id = (SELECT app.current_user_id())
           OR (SELECT app.actor_has('progress:read:any'))
           OR code = (SELECT NULLIF(current_setting('app.certificate_code', true), '')));
-- certificates_issued (lms_app, INSERT, RESTRICTIVE): issued in the
-- learner's own completing transaction, or by an enrollment manager; the
-- fill trigger refuses any enrollment that is not completed.
DROP POLICY IF EXISTS certificates_issued ON certificates;
CREATE POLICY certificates_issued ON certificates AS RESTRICTIVE FOR INSERT TO lms_app
    WITH CHECK (user_id = (SELECT app.current_user_id()) OR (SELECT app.actor_has('enrollment:manage')));
REVOKE ALL ON certificates FROM PUBLIC;
GRANT SELECT, INSERT ON certificates TO lms_app;
GRANT SELECT ON certificates TO lms_platform;

-- own_rows_written on progress and learning_sessions: reading everyone's
-- ('progress:read:any') is not changing or removing anyone's.
DROP POLICY IF EXISTS own_rows_written ON progress;
CREATE POLICY own_rows_written ON progress AS RESTRICTIVE FOR UPDATE TO lms_app
    USING (user_id = (SELECT app.current_user_id()));
DROP POLICY IF EXISTS own_rows_removed ON progress;
CREATE POLICY own_rows_removed ON progress AS RESTRICTIVE FOR DELETE TO lms_app
    USING (user_id = (SELECT app.current_user_id()));
DROP POLICY IF EXISTS own_rows_written ON learning_sessions;
CREATE POLICY own_rows_written ON learning_sessions AS RESTRICTIVE FOR UPDATE TO lms_app
    USING (user_id = (SELECT app.current_user_id()));
DROP POLICY IF EXISTS own_rows_removed ON learning_sessions;
CREATE POLICY own_rows_removed ON learning_sessions AS RESTRICTIVE FOR DELETE TO lms_app
    USING (user_id = (SELECT app.current_user_id()));

-- owner_reads_progress, owner_reads_enrollments (lms_owner, SELECT): the
-- content removal guard, running as the owner, sees every learner's
-- progress and pinned version (app.content_kept,
-- migrations/0026_content_trash.sql). The owner's other definer functions
-- (audit, ratings) do not read them.
DROP POLICY IF EXISTS owner_reads_progress ON progress;
CREATE POLICY owner_reads_progress ON progress AS PERMISSIVE FOR SELECT TO lms_owner USING (true);
DROP POLICY IF EXISTS owner_reads_enrollments ON enrollments;
CREATE POLICY owner_reads_enrollments ON enrollments AS PERMISSIVE FOR SELECT TO lms_owner USING (true);
