-- A running enrollment may move forward to a later published version of
-- its course (the learner's choice, or a manager's in bulk); its progress
-- on sections that exist in both stays, as progress is kept per section.
CREATE OR REPLACE FUNCTION app.enrollments_guard() RETURNS trigger LANGUAGE plpgsql
    SET search_path = pg_catalog, public AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        IF NEW.status = 'COMPLETED' OR NEW.completed_at IS NOT NULL
           OR NEW.final_grade IS NOT NULL OR NEW.certificate_url IS NOT NULL THEN
            RAISE EXCEPTION 'an enrollment starts incomplete'
                USING ERRCODE = 'insufficient_privilege';
        END IF;
    ELSE
        IF NEW.organization_id <> OLD.organization_id OR NEW.user_id <> OLD.user_id
           OR NEW.course_id <> OLD.course_id THEN
            RAISE EXCEPTION 'an enrollment stays with its learner and course'
                USING ERRCODE = 'insufficient_privilege';
        END IF;
        -- The start moves only when a dropped or expired enrollment starts
        -- again; the pinned version then too, or forward to a later
        -- published version of a running enrollment (moving to the latest
        -- version), never back.
        IF NEW.enrolled_at IS DISTINCT FROM OLD.enrolled_at
           AND NOT (OLD.status IN ('DROPPED', 'EXPIRED') AND NEW.status = 'ACTIVE') THEN
            RAISE EXCEPTION 'the start of an enrollment moves only when it restarts'
                USING ERRCODE = 'insufficient_privilege';
        END IF;
        IF NEW.course_version IS DISTINCT FROM OLD.course_version
           AND NOT (OLD.status IN ('DROPPED', 'EXPIRED') AND NEW.status = 'ACTIVE')
           AND NOT (OLD.status IN ('ACTIVE', 'PAUSED') AND NEW.status = OLD.status
                    AND NEW.course_version > COALESCE(OLD.course_version, 0)) THEN
            RAISE EXCEPTION 'an enrollment moves only forward to a later version'
                USING ERRCODE = 'insufficient_privilege';
        END IF;
        -- Access that has ended is not reopened by a status change.
        IF NEW.status IN ('ACTIVE', 'PAUSED', 'COMPLETED') AND OLD.status NOT IN ('ACTIVE', 'PAUSED')
           AND NEW.access_ends_at <= now() THEN
            RAISE EXCEPTION 'access to this course has ended'
                USING ERRCODE = 'insufficient_privilege';
        END IF;
        IF NEW.status = 'COMPLETED' AND OLD.status <> 'COMPLETED'
           AND (OLD.status <> 'ACTIVE' OR NEW.access_ends_at <= now()) THEN
            RAISE EXCEPTION 'only an active enrollment completes'
                USING ERRCODE = 'insufficient_privilege';
        END IF;
        IF OLD.status = 'COMPLETED' AND NEW.status <> 'COMPLETED' THEN
            RAISE EXCEPTION 'a completed enrollment stays completed'
                USING ERRCODE = 'insufficient_privilege';
        END IF;
        IF NEW.status = 'COMPLETED' AND OLD.status <> 'COMPLETED' THEN
            IF NOT app.course_complete(NEW.organization_id, NEW.user_id, NEW.course_id) THEN
                RAISE EXCEPTION 'the course is not complete'
                    USING ERRCODE = 'insufficient_privilege';
            END IF;
            NEW.completed_at := now();
            NEW.final_grade := app.course_grade(NEW.organization_id, NEW.user_id, NEW.course_id);
        ELSIF NEW.completed_at IS DISTINCT FROM OLD.completed_at
              OR NEW.final_grade IS DISTINCT FROM OLD.final_grade THEN
            RAISE EXCEPTION 'completion and grade are set by completion only'
                USING ERRCODE = 'insufficient_privilege';
        END IF;
        IF NEW.certificate_url IS DISTINCT FROM OLD.certificate_url THEN
            RAISE EXCEPTION 'certificates are issued, not written'
                USING ERRCODE = 'insufficient_privilege';
        END IF;
        NEW.updated_at := now();
    END IF;
    -- Access end dates are set by enrollment managers only.
    IF NEW.access_ends_at IS DISTINCT FROM (CASE WHEN TG_OP = 'UPDATE' THEN OLD.access_ends_at END)
       AND NOT app.actor_has('enrollment:manage') THEN
        RAISE EXCEPTION 'only enrollment managers set access end dates'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END $$;
