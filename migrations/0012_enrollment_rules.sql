-- The learner's limits, in the database: completion, grades and
-- certificates are derived here, never taken from the writer.
--
-- An enrollment reaches COMPLETED only when the learner has done every
-- required section (every section not marked optional of every required
-- lesson); at that moment the database stamps `completed_at` and computes
-- `final_grade`. Nobody writing through the runtime roles can set either
-- by hand, set `certificate_url`, or move an enrollment out of COMPLETED.
-- A certificate can only be issued for a completed enrollment, and what it
-- shows (name, title, date, grade) is copied by the database.

-- An optional end of access per enrollment: past it, the enrollment reads
-- as EXPIRED and takes no more progress.
ALTER TABLE enrollments
    ADD COLUMN access_ends_at timestamptz,
    ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now();

-- Whether `p_user` has done every required section of `p_course` (and the
-- course has at least one). Runs as the caller, under the tenant policies.
CREATE FUNCTION app.course_complete(p_org uuid, p_user uuid, p_course uuid) RETURNS boolean
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, public
    AS $$
        SELECT count(*) > 0 AND bool_and(p.id IS NOT NULL)
          FROM lessons l
          JOIN sections s ON s.organization_id = l.organization_id AND s.lesson_id = l.id
          LEFT JOIN progress p ON p.organization_id = s.organization_id AND p.section_id = s.id
                              AND p.user_id = p_user
         WHERE l.organization_id = p_org AND l.course_id = p_course
           AND l.is_required AND NOT s.is_optional
    $$;

-- The final grade: the mean of the learner's scores on the course's graded
-- sections (quizzes, assignments, code exercises), each weighing the same;
-- a graded section without a score counts as 0. NULL when the course has no
-- graded section.
CREATE FUNCTION app.course_grade(p_org uuid, p_user uuid, p_course uuid) RETURNS numeric
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, public
    AS $$
        SELECT round(avg(COALESCE(p.score, 0)), 2)
          FROM lessons l
          JOIN sections s ON s.organization_id = l.organization_id AND s.lesson_id = l.id
          LEFT JOIN progress p ON p.organization_id = s.organization_id AND p.section_id = s.id
                              AND p.user_id = p_user
         WHERE l.organization_id = p_org AND l.course_id = p_course
           AND s.type IN ('QUIZ', 'ASSIGNMENT', 'CODE_EXERCISE')
    $$;

CREATE FUNCTION app.enrollments_guard() RETURNS trigger LANGUAGE plpgsql
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
        -- The start and the pinned version move only when a dropped or
        -- expired enrollment starts again.
        IF (NEW.enrolled_at IS DISTINCT FROM OLD.enrolled_at
            OR NEW.course_version IS DISTINCT FROM OLD.course_version)
           AND NOT (OLD.status IN ('DROPPED', 'EXPIRED') AND NEW.status = 'ACTIVE') THEN
            RAISE EXCEPTION 'the start and version of an enrollment move only when it restarts'
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
CREATE TRIGGER enrollments_guard BEFORE INSERT OR UPDATE ON enrollments
    FOR EACH ROW EXECUTE FUNCTION app.enrollments_guard();

-- Certificates: one per completed enrollment, found by an unguessable code.
CREATE TABLE certificates (
    organization_id uuid         NOT NULL,
    id              uuid         NOT NULL,
    -- Random, from the application (at least 128 bits, base64url).
    code            text         NOT NULL,
    enrollment_id   uuid         NOT NULL,
    user_id         uuid         NOT NULL,
    course_id       uuid         NOT NULL,
    -- What a printed certificate shows, as it was when it was issued.
    learner_name    text         NOT NULL,
    course_title    text         NOT NULL,
    final_grade     numeric(5,2),
    completed_at    timestamptz  NOT NULL,
    issued_at       timestamptz  NOT NULL DEFAULT now(),
    CONSTRAINT certificates_pkey PRIMARY KEY (organization_id, id),
    CONSTRAINT certificates_code_key UNIQUE (organization_id, code),
    CONSTRAINT certificates_enrollment_key UNIQUE (organization_id, enrollment_id),
    CONSTRAINT certificates_code_check CHECK (code ~ '^[A-Za-z0-9_-]{22,64}$'),
    CONSTRAINT certificates_enrollment_fkey FOREIGN KEY (organization_id, enrollment_id)
        REFERENCES enrollments (organization_id, id) ON DELETE CASCADE,
    CONSTRAINT certificates_user_fkey FOREIGN KEY (organization_id, user_id)
        REFERENCES users (organization_id, id) ON DELETE CASCADE,
    CONSTRAINT certificates_course_fkey FOREIGN KEY (organization_id, course_id)
        REFERENCES courses (organization_id, id) ON DELETE CASCADE
);
-- A learner's certificates, newest first.
CREATE INDEX certificates_user_idx ON certificates (organization_id, user_id, issued_at DESC);
CREATE INDEX certificates_course_idx ON certificates (organization_id, course_id);

-- Fills what a certificate shows from the completed enrollment; refuses
-- one for an enrollment that is not completed.
CREATE FUNCTION app.certificates_fill() RETURNS trigger LANGUAGE plpgsql
    SET search_path = pg_catalog, public AS $$
DECLARE
    e enrollments%ROWTYPE;
BEGIN
    SELECT * INTO e FROM enrollments
     WHERE organization_id = NEW.organization_id AND id = NEW.enrollment_id;
    IF NOT FOUND OR e.status <> 'COMPLETED' THEN
        RAISE EXCEPTION 'certificates are issued for completed enrollments only'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    NEW.user_id := e.user_id;
    NEW.course_id := e.course_id;
    NEW.completed_at := e.completed_at;
    NEW.final_grade := e.final_grade;
    NEW.issued_at := now();
    SELECT btrim(u.first_name || ' ' || u.last_name) INTO NEW.learner_name
      FROM users u WHERE u.organization_id = e.organization_id AND u.id = e.user_id;
    SELECT c.title INTO NEW.course_title
      FROM courses c WHERE c.organization_id = e.organization_id AND c.id = e.course_id;
    RETURN NEW;
END $$;
CREATE TRIGGER certificates_fill BEFORE INSERT ON certificates
    FOR EACH ROW EXECUTE FUNCTION app.certificates_fill();

-- Progress is recorded only on an active enrollment whose access has not
-- ended, and a record stays with its learner and section.
CREATE FUNCTION app.progress_guard() RETURNS trigger LANGUAGE plpgsql
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
    RETURN NEW;
END $$;
CREATE TRIGGER progress_guard BEFORE INSERT OR UPDATE ON progress
    FOR EACH ROW EXECUTE FUNCTION app.progress_guard();
