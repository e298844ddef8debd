-- The outline and pacing functions become inlinable, and actor_has
-- keeps its plan for the session.
--
-- A LANGUAGE sql function with a SET clause (here `SET search_path`) is never
-- inlined: every statement that calls it plans its body again, and the
-- body's tables bring their row-level security policies (one InitPlan per
-- policy per table) into that planning each time. "Course with my progress"
-- planned learner_outline twice and course_outline twice per request.
--
-- Without the SET clause these functions are inlined into the calling
-- statement, so a prepared statement keeps one plan for the whole tree. The
-- search_path no longer protects their bodies, so nothing in them depends on
-- it: every table is public.*, every function and type pg_catalog.* (or
-- public.* for the enums), every operator OPERATOR(pg_catalog.x). They stay
-- SECURITY INVOKER: the caller's privileges and policies apply to every
-- table, exactly as before (the inlined query is rewritten with the
-- caller's policies, and the cached plan is tied to the role).
--
-- app.learner_sections is new: the learner's outline, their progress on
-- each section and the pacing locks of each lesson from one reading of the
-- outline (course_progress uses it); app.lesson_locks is defined from it,
-- so the pacing rule is written once. Results are identical to migration
-- 0026's functions (checked over every enrollment plus preview pairs, with
-- FREE, DRIP and SEQUENTIAL courses, pinned and live outlines).
--
-- Only CREATE OR REPLACE: grants of the existing functions are kept; the
-- new function gets its EXECUTE grants from policies/10_tenancy.sql and
-- 75_steward.sql, which `lms migrate` re-applies after a new migration.

CREATE OR REPLACE FUNCTION app.course_outline(p_org uuid, p_course uuid, p_version integer)
    RETURNS TABLE (lesson_id uuid, lesson_title text, lesson_position integer, is_required boolean,
                   unlock_at timestamptz, unlock_after_days integer,
                   section_id uuid, section_title text, section_type text,
                   section_position integer, is_optional boolean)
    LANGUAGE sql STABLE
    AS $$
        WITH v AS (
            SELECT cv.content FROM public.course_versions cv
             WHERE p_version IS NOT NULL
               AND cv.organization_id OPERATOR(pg_catalog.=) p_org
               AND cv.course_id OPERATOR(pg_catalog.=) p_course
               AND cv.version OPERATOR(pg_catalog.=) p_version
        )
        SELECT l.id, l.title, l.position, COALESCE(l.is_required, true), l.unlock_at, l.unlock_after_days,
               s.id, s.title, s.type, s.position, COALESCE(s.is_optional, false)
          FROM v, pg_catalog.jsonb_to_recordset(v.content OPERATOR(pg_catalog.->) 'lessons'::pg_catalog.text) AS l(
                   id pg_catalog.uuid, title pg_catalog.text, position pg_catalog.int4,
                   is_required pg_catalog.bool, unlock_at pg_catalog.timestamptz,
                   unlock_after_days pg_catalog.int4, sections pg_catalog.jsonb)
          LEFT JOIN LATERAL pg_catalog.jsonb_to_recordset(l.sections) AS s(
                   id pg_catalog.uuid, title pg_catalog.text, type pg_catalog.text,
                   position pg_catalog.int4, is_optional pg_catalog.bool) ON true
        UNION ALL
        SELECT l.id, l.title, l.position, l.is_required, l.unlock_at, l.unlock_after_days,
               s.id, s.title, s.type::pg_catalog.text, s.position, s.is_optional
          FROM public.lessons l
          LEFT JOIN public.sections s
                 ON s.organization_id OPERATOR(pg_catalog.=) l.organization_id
                AND s.lesson_id OPERATOR(pg_catalog.=) l.id
                AND s.deleted_at IS NULL
         WHERE l.organization_id OPERATOR(pg_catalog.=) p_org
           AND l.course_id OPERATOR(pg_catalog.=) p_course
           AND l.deleted_at IS NULL
           AND NOT EXISTS (SELECT 1 FROM v)
    $$;

CREATE OR REPLACE FUNCTION app.learner_outline(p_org uuid, p_user uuid, p_course uuid)
    RETURNS TABLE (lesson_id uuid, lesson_title text, lesson_position integer, is_required boolean,
                   unlock_at timestamptz, unlock_after_days integer,
                   section_id uuid, section_title text, section_type text,
                   section_position integer, is_optional boolean)
    LANGUAGE sql STABLE
    AS $$
        SELECT o.lesson_id, o.lesson_title, o.lesson_position, o.is_required, o.unlock_at,
               o.unlock_after_days, o.section_id, o.section_title, o.section_type,
               o.section_position, o.is_optional
          FROM (VALUES (1)) AS one(x)
          LEFT JOIN public.enrollments e
                 ON e.organization_id OPERATOR(pg_catalog.=) p_org
                AND e.user_id OPERATOR(pg_catalog.=) p_user
                AND e.course_id OPERATOR(pg_catalog.=) p_course
          CROSS JOIN LATERAL app.course_outline(p_org, p_course, e.course_version) AS o
    $$;

-- New: the learner's outline with their progress on every section and the
-- pacing locks of every lesson, computed from one reading of the outline.
CREATE OR REPLACE FUNCTION app.learner_sections(p_org uuid, p_user uuid, p_course uuid)
    RETURNS TABLE (lesson_id uuid, lesson_title text, lesson_position integer, is_required boolean,
                   unlocks_at timestamptz, waits_for uuid,
                   section_id uuid, section_title text, section_type text,
                   section_position integer, is_optional boolean,
                   progress_id uuid, score numeric, time_spent_seconds integer, attempts_count integer)
    LANGUAGE sql STABLE
    AS $$
        SELECT d.lesson_id, d.lesson_title, d.lesson_position, d.is_required,
               CASE WHEN c.pacing OPERATOR(pg_catalog.=) 'DRIP'::public.course_pacing THEN
                   GREATEST(d.unlock_at, COALESCE(e.enrolled_at, pg_catalog.now()) OPERATOR(pg_catalog.+)
                            pg_catalog.make_interval(days => d.unlock_after_days))
               END,
               CASE WHEN c.pacing OPERATOR(pg_catalog.=) 'SEQUENTIAL'::public.course_pacing
                         AND d.lesson_position IS NOT NULL THEN
                   -- the first earlier (lower position) required lesson not done
                   (pg_catalog.array_agg(d.lesson_id) FILTER (WHERE d.is_required AND NOT d.lesson_done)
                        OVER (ORDER BY d.lesson_position RANGE BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING))[1]
               END,
               d.section_id, d.section_title, d.section_type, d.section_position, d.is_optional,
               d.progress_id, d.score, d.time_spent_seconds, d.attempts_count
          FROM (SELECT o.lesson_id, o.lesson_title, o.lesson_position, o.is_required,
                       o.unlock_at, o.unlock_after_days,
                       o.section_id, o.section_title, o.section_type, o.section_position, o.is_optional,
                       p.id AS progress_id, p.score, p.time_spent_seconds, p.attempts_count,
                       pg_catalog.bool_and(o.section_id IS NULL OR o.is_optional OR p.id IS NOT NULL)
                           OVER (PARTITION BY o.lesson_id, o.lesson_position, o.is_required,
                                              o.unlock_at, o.unlock_after_days) AS lesson_done
                  FROM app.learner_outline(p_org, p_user, p_course) o
                  LEFT JOIN public.progress p
                         ON p.organization_id OPERATOR(pg_catalog.=) p_org
                        AND p.section_id OPERATOR(pg_catalog.=) o.section_id
                        AND p.user_id OPERATOR(pg_catalog.=) p_user) d
          JOIN public.courses c
            ON c.organization_id OPERATOR(pg_catalog.=) p_org AND c.id OPERATOR(pg_catalog.=) p_course
          LEFT JOIN public.enrollments e
                 ON e.organization_id OPERATOR(pg_catalog.=) p_org
                AND e.user_id OPERATOR(pg_catalog.=) p_user
                AND e.course_id OPERATOR(pg_catalog.=) p_course
    $$;

-- Pacing, against the learner's outline: one row per lesson.
CREATE OR REPLACE FUNCTION app.lesson_locks(p_org uuid, p_user uuid, p_course uuid)
    RETURNS TABLE (lesson_id uuid, unlocks_at timestamptz, waits_for uuid)
    LANGUAGE sql STABLE
    AS $$
        SELECT DISTINCT s.lesson_id, s.unlocks_at, s.waits_for
          FROM app.learner_sections(p_org, p_user, p_course) s
    $$;

-- Who may: app.actor_has
-- actor_has as PL/pgSQL: the body's plan is prepared once per session and
-- reused (a SQL function that is not inlinable is planned again by every
-- statement that calls it). Same query, same pinned search_path, same
-- SECURITY INVOKER: it still reads user_roles and roles under the tenant
-- policies, on every statement.
CREATE OR REPLACE FUNCTION app.actor_has(permission text)
    RETURNS boolean
    LANGUAGE plpgsql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, public
    AS $$
BEGIN
    RETURN EXISTS (
        SELECT 1
          FROM user_roles ur
          JOIN roles r ON r.organization_id = ur.organization_id AND r.id = ur.role_id
         WHERE ur.organization_id = app.current_org_id()
           AND ur.user_id = app.current_user_id()
           AND r.permissions ? permission
    );
END
$$;
