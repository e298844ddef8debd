-- Lessons and sections go to the trash instead of away, and learners keep
-- the version of a course they enrolled in.
--
-- A deleted lesson or section keeps its row (and every learner's progress
-- on it) with `deleted_at` set and no place in the order (`position` NULL,
-- which the position keys ignore, so the live children stay 0..n). A
-- lesson's sections are not marked one by one: they leave and come back
-- with it. Only the purge removes rows, and never one that a learner has
-- progress on or that the version an enrollment is pinned to contains.

ALTER TABLE lessons
    ADD COLUMN deleted_at timestamptz,
    ADD COLUMN deleted_by uuid,
    ALTER COLUMN position DROP NOT NULL,
    ADD CONSTRAINT lessons_deleted_check CHECK (deleted_by IS NULL OR deleted_at IS NOT NULL),
    ADD CONSTRAINT lessons_placed_check CHECK ((position IS NULL) = (deleted_at IS NOT NULL)),
    ADD CONSTRAINT lessons_deleted_by_fkey FOREIGN KEY (organization_id, deleted_by)
        REFERENCES users (organization_id, id) ON DELETE SET NULL (deleted_by);
CREATE INDEX lessons_deleted_by_idx ON lessons (organization_id, deleted_by);
CREATE INDEX lessons_trash_idx ON lessons (organization_id, deleted_at) WHERE deleted_at IS NOT NULL;

ALTER TABLE sections
    ADD COLUMN deleted_at timestamptz,
    ADD COLUMN deleted_by uuid,
    ALTER COLUMN position DROP NOT NULL,
    ADD CONSTRAINT sections_deleted_check CHECK (deleted_by IS NULL OR deleted_at IS NOT NULL),
    ADD CONSTRAINT sections_placed_check CHECK ((position IS NULL) = (deleted_at IS NOT NULL)),
    ADD CONSTRAINT sections_deleted_by_fkey FOREIGN KEY (organization_id, deleted_by)
        REFERENCES users (organization_id, id) ON DELETE SET NULL (deleted_by);
CREATE INDEX sections_deleted_by_idx ON sections (organization_id, deleted_by);
CREATE INDEX sections_trash_idx ON sections (organization_id, deleted_at) WHERE deleted_at IS NOT NULL;

-- The outline of a course as version `p_version` has it: one row per
-- section (a lesson without sections gives one row with NULL section
-- columns). Read from that version's snapshot when it exists, otherwise
-- from the live tree (lessons and sections not deleted). Runs as the
-- caller, under the tenant policies.
CREATE FUNCTION app.course_outline(p_org uuid, p_course uuid, p_version integer)
    RETURNS TABLE (lesson_id uuid, lesson_title text, lesson_position integer, is_required boolean,
                   unlock_at timestamptz, unlock_after_days integer,
                   section_id uuid, section_title text, section_type text,
                   section_position integer, is_optional boolean)
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, public
    AS $$
        WITH v AS (
            SELECT cv.content FROM course_versions cv
             WHERE p_version IS NOT NULL AND cv.organization_id = p_org
               AND cv.course_id = p_course AND cv.version = p_version
        )
        SELECT l.id, l.title, l.position, COALESCE(l.is_required, true), l.unlock_at, l.unlock_after_days,
               s.id, s.title, s.type, s.position, COALESCE(s.is_optional, false)
          FROM v, jsonb_to_recordset(v.content -> 'lessons') AS l(
                   id uuid, title text, position integer, is_required boolean,
                   unlock_at timestamptz, unlock_after_days integer, sections jsonb)
          LEFT JOIN LATERAL jsonb_to_recordset(l.sections) AS s(
                   id uuid, title text, type text, position integer, is_optional boolean) ON true
        UNION ALL
        SELECT l.id, l.title, l.position, l.is_required, l.unlock_at, l.unlock_after_days,
               s.id, s.title, s.type::text, s.position, s.is_optional
          FROM lessons l
          LEFT JOIN sections s ON s.organization_id = l.organization_id AND s.lesson_id = l.id
                              AND s.deleted_at IS NULL
         WHERE l.organization_id = p_org AND l.course_id = p_course AND l.deleted_at IS NULL
           AND NOT EXISTS (SELECT 1 FROM v)
    $$;

-- The outline `p_user` learns from: their enrollment's pinned version, or
-- the live tree when they are not enrolled (a preview) or their
-- enrollment has no version.
CREATE FUNCTION app.learner_outline(p_org uuid, p_user uuid, p_course uuid)
    RETURNS TABLE (lesson_id uuid, lesson_title text, lesson_position integer, is_required boolean,
                   unlock_at timestamptz, unlock_after_days integer,
                   section_id uuid, section_title text, section_type text,
                   section_position integer, is_optional boolean)
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, public
    AS $$
        SELECT * FROM app.course_outline(p_org, p_course,
            (SELECT e.course_version FROM enrollments e
              WHERE e.organization_id = p_org AND e.user_id = p_user AND e.course_id = p_course))
    $$;

-- Completion and grade, against the learner's outline.
CREATE OR REPLACE FUNCTION app.course_complete(p_org uuid, p_user uuid, p_course uuid) RETURNS boolean
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, public
    AS $$
        SELECT count(*) > 0 AND bool_and(p.id IS NOT NULL)
          FROM app.learner_outline(p_org, p_user, p_course) o
          LEFT JOIN progress p ON p.organization_id = p_org AND p.section_id = o.section_id
                              AND p.user_id = p_user
         WHERE o.section_id IS NOT NULL AND o.is_required AND NOT o.is_optional
    $$;

CREATE OR REPLACE FUNCTION app.course_grade(p_org uuid, p_user uuid, p_course uuid) RETURNS numeric
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, public
    AS $$
        SELECT round(avg(COALESCE(p.score, 0)), 2)
          FROM app.learner_outline(p_org, p_user, p_course) o
          LEFT JOIN progress p ON p.organization_id = p_org AND p.section_id = o.section_id
                              AND p.user_id = p_user
         WHERE o.section_type IN ('QUIZ', 'ASSIGNMENT', 'CODE_EXERCISE')
    $$;

-- Pacing, against the learner's outline.
CREATE OR REPLACE FUNCTION app.lesson_locks(p_org uuid, p_user uuid, p_course uuid)
    RETURNS TABLE (lesson_id uuid, unlocks_at timestamptz, waits_for uuid)
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, public
    AS $$
        WITH course AS (
            SELECT c.pacing FROM courses c WHERE c.organization_id = p_org AND c.id = p_course
        ), started AS (
            SELECT COALESCE((SELECT e.enrolled_at FROM enrollments e
                              WHERE e.organization_id = p_org AND e.user_id = p_user
                                AND e.course_id = p_course), now()) AS at
        ), ls AS (
            SELECT o.lesson_id AS id, o.lesson_position AS position, o.is_required,
                   o.unlock_at, o.unlock_after_days,
                   bool_and(o.section_id IS NULL OR o.is_optional OR EXISTS (
                       SELECT 1 FROM progress p
                        WHERE p.organization_id = p_org AND p.section_id = o.section_id
                          AND p.user_id = p_user)) AS done
              FROM app.learner_outline(p_org, p_user, p_course) o
             GROUP BY o.lesson_id, o.lesson_position, o.is_required, o.unlock_at, o.unlock_after_days
        )
        SELECT ls.id,
               CASE WHEN course.pacing = 'DRIP' THEN
                   GREATEST(ls.unlock_at, started.at + make_interval(days => ls.unlock_after_days))
               END,
               CASE WHEN course.pacing = 'SEQUENTIAL' THEN
                   (SELECT b.id FROM ls b
                     WHERE b.position < ls.position AND b.is_required AND NOT b.done
                     ORDER BY b.position LIMIT 1)
               END
          FROM ls, course, started
    $$;

-- Progress is recorded only on a section of the learner's outline, in an
-- open lesson of it.
CREATE OR REPLACE FUNCTION app.progress_guard() RETURNS trigger LANGUAGE plpgsql
    SET search_path = pg_catalog, public AS $$
DECLARE
    v_lesson uuid;
BEGIN
    IF TG_OP = 'UPDATE' AND (NEW.user_id <> OLD.user_id OR NEW.section_id <> OLD.section_id
                             OR NEW.course_id <> OLD.course_id OR NEW.lesson_id <> OLD.lesson_id) THEN
        RAISE EXCEPTION 'a progress record stays with its learner and section'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF NOT EXISTS (
        SELECT 1 FROM enrollments e
         WHERE e.organization_id = NEW.organization_id AND e.user_id = NEW.user_id
           AND e.course_id = NEW.course_id AND e.status = 'ACTIVE'
           AND (e.access_ends_at IS NULL OR e.access_ends_at > now())
    ) THEN
        RAISE EXCEPTION 'progress needs an active enrollment'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    SELECT o.lesson_id INTO v_lesson
      FROM app.learner_outline(NEW.organization_id, NEW.user_id, NEW.course_id) o
     WHERE o.section_id = NEW.section_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'this section is not part of the learner''s version of the course'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF EXISTS (
        SELECT 1 FROM app.lesson_locks(NEW.organization_id, NEW.user_id, NEW.course_id) k
         WHERE k.lesson_id = v_lesson
           AND (k.unlocks_at > now() OR k.waits_for IS NOT NULL)
    ) THEN
        RAISE EXCEPTION 'this lesson is locked'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END $$;

-- Whether a lesson or section of `p_course` must stay: a learner has
-- progress on it, or an enrollment is pinned to a version that contains
-- it. Runs as the schema owner, so that it sees every learner's records.
CREATE FUNCTION app.content_kept(p_org uuid, p_course uuid, p_id uuid, p_is_lesson boolean)
    RETURNS boolean
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, public
    AS $$
        SELECT EXISTS (SELECT 1 FROM progress p
                        WHERE p.organization_id = p_org
                          AND (CASE WHEN p_is_lesson THEN p.lesson_id ELSE p.section_id END) = p_id)
            OR EXISTS (SELECT 1 FROM course_versions v
                        WHERE v.organization_id = p_org AND v.course_id = p_course
                          AND EXISTS (SELECT 1 FROM enrollments e
                                       WHERE e.organization_id = v.organization_id
                                         AND e.course_id = v.course_id AND e.course_version = v.version)
                          AND jsonb_path_exists(v.content,
                                CASE WHEN p_is_lesson THEN '$.lessons[*].id ? (@ == $id)'::jsonpath
                                     ELSE '$.lessons[*].sections[*].id ? (@ == $id)'::jsonpath END,
                                jsonb_build_object('id', p_id::text)))
    $$;
REVOKE ALL ON FUNCTION app.content_kept(uuid, uuid, uuid, boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION app.content_kept(uuid, uuid, uuid, boolean) TO lms_app, lms_platform;

-- The hard delete of a lesson or section (the purge) spares what must stay
-- while its course exists; the course's own deletion takes everything.
CREATE OR REPLACE FUNCTION app.content_removal_guard() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, public AS $$
DECLARE
    v_course uuid;
BEGIN
    IF TG_TABLE_NAME = 'lessons' THEN
        v_course := OLD.course_id;
    ELSE
        SELECT l.course_id INTO v_course FROM lessons l
         WHERE l.organization_id = OLD.organization_id AND l.id = OLD.lesson_id;
    END IF;
    IF v_course IS NOT NULL
       AND EXISTS (SELECT 1 FROM courses c WHERE c.organization_id = OLD.organization_id AND c.id = v_course)
       AND app.content_kept(OLD.organization_id, v_course, OLD.id, TG_TABLE_NAME = 'lessons')
    THEN
        RAISE EXCEPTION 'learners still need this %', rtrim(TG_TABLE_NAME, 's')
            USING ERRCODE = 'restrict_violation', CONSTRAINT = 'content_has_progress';
    END IF;
    RETURN OLD;
END $$;
