-- Course staff: who teaches which course. `course:write` lets a user create
-- courses and change the ones they are staff of as OWNER or INSTRUCTOR;
-- `course:write:any` (admins) covers every course. A TEACHING ASSISTANT
-- follows the course's learners but does not change the course. The
-- owners (and holders of `course:write:any`) manage the staff list.
CREATE TYPE course_staff_role AS ENUM ('OWNER', 'INSTRUCTOR', 'ASSISTANT');

CREATE TABLE course_staff (
    organization_id uuid              NOT NULL,
    course_id       uuid              NOT NULL,
    user_id         uuid              NOT NULL,
    role            course_staff_role NOT NULL,
    added_at        timestamptz       NOT NULL DEFAULT now(),
    CONSTRAINT course_staff_pkey PRIMARY KEY (organization_id, course_id, user_id),
    CONSTRAINT course_staff_course_fkey FOREIGN KEY (organization_id, course_id)
        REFERENCES courses (organization_id, id) ON DELETE CASCADE,
    CONSTRAINT course_staff_user_fkey FOREIGN KEY (organization_id, user_id)
        REFERENCES users (organization_id, id) ON DELETE CASCADE
);
-- The courses a user teaches.
CREATE INDEX course_staff_user_idx ON course_staff (organization_id, user_id);

-- The acting user's role on a course of the current tenant, NULL if none.
CREATE FUNCTION app.staff_role(p_course uuid) RETURNS course_staff_role
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, public
    AS $$
        SELECT s.role FROM course_staff s
         WHERE s.organization_id = app.current_org_id() AND s.course_id = p_course
           AND s.user_id = app.current_user_id()
    $$;

-- Whether the acting user may change a course and its content.
CREATE FUNCTION app.may_edit_course(p_course uuid) RETURNS boolean
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, public
    AS $$
        SELECT app.actor_has('course:write:any')
            OR (app.actor_has('course:write')
                AND COALESCE(app.staff_role(p_course) IN ('OWNER', 'INSTRUCTOR'), false))
    $$;

-- Whether the acting user may change the staff list of a course: its
-- owners, holders of `course:write:any`, and the author of a course that
-- has no staff yet, making themselves its owner.
CREATE FUNCTION app.may_staff_course(p_course uuid, p_user uuid, p_role course_staff_role)
    RETURNS boolean
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, public
    AS $$
        SELECT app.actor_has('course:write:any')
            OR (app.actor_has('course:write') AND app.staff_role(p_course) = 'OWNER')
            OR (p_user = app.current_user_id() AND p_role = 'OWNER'
                AND app.actor_has('course:write')
                AND EXISTS (SELECT 1 FROM courses c
                             WHERE c.organization_id = app.current_org_id() AND c.id = p_course
                               AND c.created_by = app.current_user_id())
                AND NOT EXISTS (SELECT 1 FROM course_staff s
                                 WHERE s.organization_id = app.current_org_id()
                                   AND s.course_id = p_course))
    $$;

-- The rating aggregate of a course is kept by the database for every
-- reviewer, who may not change the course: the reviews trigger runs as its
-- owner, with the organization and course of a review row that passed the
-- reviewer's own policies. app.apply_rating itself is not executable by the
-- runtime roles (policies/30_catalog.sql).
ALTER FUNCTION app.reviews_rating_trigger() SECURITY DEFINER;

-- Existing courses: their author owns them. Existing admin roles: they
-- keep every permission, the new one included. (The owner is exempt from
-- the policies for the length of these statements.)
ALTER TABLE courses NO FORCE ROW LEVEL SECURITY;
ALTER TABLE roles NO FORCE ROW LEVEL SECURITY;
ALTER TABLE users NO FORCE ROW LEVEL SECURITY;
INSERT INTO course_staff (organization_id, course_id, user_id, role)
SELECT c.organization_id, c.id, c.created_by, 'OWNER'
  FROM courses c JOIN users u ON u.organization_id = c.organization_id AND u.id = c.created_by;
UPDATE roles SET permissions = permissions || '["course:write:any"]'::jsonb
 WHERE is_system AND name = 'admin' AND NOT permissions ? 'course:write:any';
ALTER TABLE courses FORCE ROW LEVEL SECURITY;
ALTER TABLE roles FORCE ROW LEVEL SECURITY;
ALTER TABLE users FORCE ROW LEVEL SECURITY;
