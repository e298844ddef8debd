-- Pacing and scoring, per course.
--
-- FREE: every lesson is open. SEQUENTIAL: a lesson opens when every
-- required lesson before it is complete. DRIP: a lesson opens at its date
-- (`unlock_at`), or `unlock_after_days` after the learner's enrollment
-- started, whichever is later when both are set.
-- A section's score is the best of its attempts (BEST) or the last one
-- that came with a score (LATEST).
CREATE TYPE course_pacing AS ENUM ('FREE', 'SEQUENTIAL', 'DRIP');
CREATE TYPE score_rule AS ENUM ('BEST', 'LATEST');

ALTER TABLE courses
    ADD COLUMN pacing course_pacing NOT NULL DEFAULT 'FREE',
    ADD COLUMN score_rule score_rule NOT NULL DEFAULT 'BEST';

ALTER TABLE lessons
    ADD COLUMN unlock_after_days integer,
    ADD COLUMN unlock_at timestamptz,
    ADD CONSTRAINT lessons_unlock_after_days_check
        CHECK (unlock_after_days IS NULL OR unlock_after_days BETWEEN 0 AND 3650);

-- For each lesson of `p_course`, when it opens for `p_user`: `unlocks_at`
-- (DRIP; NULL when it has no date) and `waits_for`, the first earlier
-- required lesson not yet complete (SEQUENTIAL). A lesson is locked while
-- `unlocks_at > now()` or `waits_for IS NOT NULL`. Dates count from the
-- user's enrollment, or from now for a user not enrolled (a preview).
-- Runs as the caller, under the tenant policies.
CREATE FUNCTION app.lesson_locks(p_org uuid, p_user uuid, p_course uuid)
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
            SELECT l.id, l.position, l.is_required, l.unlock_at, l.unlock_after_days,
                   NOT EXISTS (
                       SELECT 1 FROM sections s
                        WHERE s.organization_id = l.organization_id AND s.lesson_id = l.id
                          AND NOT s.is_optional
                          AND NOT EXISTS (SELECT 1 FROM progress p
                                           WHERE p.organization_id = s.organization_id
                                             AND p.section_id = s.id AND p.user_id = p_user)
                   ) AS done
              FROM lessons l WHERE l.organization_id = p_org AND l.course_id = p_course
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

-- Progress is recorded only on an open lesson (the API answers 409
-- `section_locked` first; this is the backstop).
CREATE OR REPLACE FUNCTION app.progress_guard() RETURNS trigger LANGUAGE plpgsql
    SET search_path = pg_catalog, public AS $$
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
    IF EXISTS (
        SELECT 1 FROM app.lesson_locks(NEW.organization_id, NEW.user_id, NEW.course_id) k
         WHERE k.lesson_id = NEW.lesson_id
           AND (k.unlocks_at > now() OR k.waits_for IS NOT NULL)
    ) THEN
        RAISE EXCEPTION 'this lesson is locked'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END $$;
