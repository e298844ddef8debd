-- Learning: enrollments, per-section progress, sessions, reviews.

CREATE TABLE enrollments (
    organization_id uuid              NOT NULL,
    id              uuid              NOT NULL,
    user_id         uuid              NOT NULL,
    course_id       uuid              NOT NULL,
    status          enrollment_status NOT NULL DEFAULT 'ACTIVE',
    enrolled_at     timestamptz       NOT NULL DEFAULT now(),
    completed_at    timestamptz,
    certificate_url text,
    final_grade     numeric(5,2),
    -- The published course version the learner is pinned to.
    course_version  integer,
    CONSTRAINT enrollments_pkey PRIMARY KEY (organization_id, id),
    CONSTRAINT enrollments_user_course_key UNIQUE (organization_id, user_id, course_id),
    CONSTRAINT enrollments_completion_check CHECK (completed_at IS NULL OR completed_at >= enrolled_at),
    CONSTRAINT enrollments_final_grade_check CHECK (final_grade IS NULL OR final_grade BETWEEN 0 AND 100),
    CONSTRAINT enrollments_user_fkey FOREIGN KEY (organization_id, user_id)
        REFERENCES users (organization_id, id) ON DELETE CASCADE,
    CONSTRAINT enrollments_course_fkey FOREIGN KEY (organization_id, course_id)
        REFERENCES courses (organization_id, id) ON DELETE CASCADE
);
-- "Learners of this course" and status dashboards; (org, user, …) is the
-- unique key above.
CREATE INDEX enrollments_course_idx ON enrollments (organization_id, course_id, status);
CREATE INDEX enrollments_status_idx ON enrollments (organization_id, status);

-- One row per user and section once the section is done. The seed kept
-- course and lesson ids here without relations; here they are checked as
-- pairs: (lesson, course) must be a lesson of that course and (section,
-- lesson) a section of that lesson, so the denormalised ids cannot lie.
CREATE TABLE progress (
    organization_id    uuid         NOT NULL,
    id                 uuid         NOT NULL,
    user_id            uuid         NOT NULL,
    course_id          uuid         NOT NULL,
    lesson_id          uuid         NOT NULL,
    section_id         uuid         NOT NULL,
    completed_at       timestamptz  NOT NULL DEFAULT now(),
    time_spent_seconds integer      NOT NULL DEFAULT 0,
    attempts_count     integer      NOT NULL DEFAULT 1,
    score              numeric(5,2),
    CONSTRAINT progress_pkey PRIMARY KEY (organization_id, id),
    CONSTRAINT progress_user_section_key UNIQUE (organization_id, user_id, section_id),
    CONSTRAINT progress_time_spent_check CHECK (time_spent_seconds >= 0),
    CONSTRAINT progress_attempts_check CHECK (attempts_count >= 1),
    CONSTRAINT progress_score_check CHECK (score IS NULL OR score BETWEEN 0 AND 100),
    CONSTRAINT progress_user_fkey FOREIGN KEY (organization_id, user_id)
        REFERENCES users (organization_id, id) ON DELETE CASCADE,
    CONSTRAINT progress_course_fkey FOREIGN KEY (organization_id, course_id)
        REFERENCES courses (organization_id, id) ON DELETE CASCADE,
    CONSTRAINT progress_lesson_fkey FOREIGN KEY (organization_id, lesson_id, course_id)
        REFERENCES lessons (organization_id, id, course_id) ON DELETE CASCADE,
    CONSTRAINT progress_section_fkey FOREIGN KEY (organization_id, section_id, lesson_id)
        REFERENCES sections (organization_id, id, lesson_id) ON DELETE CASCADE
);
-- A learner's progress in a course, most recent first (very frequent).
CREATE INDEX progress_user_course_idx ON progress (organization_id, user_id, course_id, completed_at DESC);
-- Course analytics and cascades from courses, lessons, sections.
CREATE INDEX progress_course_idx ON progress (organization_id, course_id);
CREATE INDEX progress_lesson_idx ON progress (organization_id, lesson_id, course_id);
CREATE INDEX progress_section_idx ON progress (organization_id, section_id, lesson_id);
CREATE INDEX progress_completed_idx ON progress (organization_id, completed_at);

CREATE TABLE learning_sessions (
    organization_id  uuid        NOT NULL,
    id               uuid        NOT NULL,
    user_id          uuid        NOT NULL,
    course_id        uuid        NOT NULL,
    started_at       timestamptz NOT NULL DEFAULT now(),
    ended_at         timestamptz,
    duration_seconds integer,
    activity         jsonb,
    CONSTRAINT learning_sessions_pkey PRIMARY KEY (organization_id, id),
    CONSTRAINT learning_sessions_end_check CHECK (ended_at IS NULL OR ended_at >= started_at),
    CONSTRAINT learning_sessions_duration_check CHECK (duration_seconds IS NULL OR duration_seconds >= 0),
    CONSTRAINT learning_sessions_user_fkey FOREIGN KEY (organization_id, user_id)
        REFERENCES users (organization_id, id) ON DELETE CASCADE,
    CONSTRAINT learning_sessions_course_fkey FOREIGN KEY (organization_id, course_id)
        REFERENCES courses (organization_id, id) ON DELETE CASCADE
);
CREATE INDEX learning_sessions_user_course_idx ON learning_sessions (organization_id, user_id, course_id);
-- Recent finished sessions of a learner (dashboard).
CREATE INDEX learning_sessions_user_time_idx ON learning_sessions (organization_id, user_id, started_at DESC)
    WHERE ended_at IS NOT NULL;
CREATE INDEX learning_sessions_course_idx ON learning_sessions (organization_id, course_id);

-- Ratings and reviews: one per learner and course.
CREATE TABLE reviews (
    organization_id uuid        NOT NULL,
    id              uuid        NOT NULL,
    course_id       uuid        NOT NULL,
    user_id         uuid        NOT NULL,
    rating          smallint    NOT NULL,
    body            text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT reviews_pkey PRIMARY KEY (organization_id, id),
    CONSTRAINT reviews_course_user_key UNIQUE (organization_id, course_id, user_id),
    CONSTRAINT reviews_rating_check CHECK (rating BETWEEN 1 AND 5),
    CONSTRAINT reviews_body_check CHECK (body IS NULL OR length(body) <= 10000),
    CONSTRAINT reviews_course_fkey FOREIGN KEY (organization_id, course_id)
        REFERENCES courses (organization_id, id) ON DELETE CASCADE,
    CONSTRAINT reviews_user_fkey FOREIGN KEY (organization_id, user_id)
        REFERENCES users (organization_id, id) ON DELETE CASCADE
);
CREATE INDEX reviews_user_idx ON reviews (organization_id, user_id);
CREATE INDEX reviews_rating_idx ON reviews (organization_id, course_id, rating);

-- Keeps courses.rating_count / rating_sum / average_rating. Arithmetic on
-- the locked course row (not a re-aggregation from a snapshot), so two
-- concurrent reviews both count. Runs as the caller: RLS applies, and the
-- row it updates is in the caller's tenant.
CREATE FUNCTION app.apply_rating(p_org uuid, p_course uuid, d_count integer, d_sum integer)
    RETURNS void LANGUAGE sql AS $$
        UPDATE courses
           SET rating_count   = rating_count + d_count,
               rating_sum     = rating_sum + d_sum,
               average_rating = COALESCE(round((rating_sum + d_sum)::numeric / NULLIF(rating_count + d_count, 0), 2), 0)
         WHERE organization_id = p_org AND id = p_course
    $$;

CREATE FUNCTION app.reviews_rating_trigger() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND OLD.course_id = NEW.course_id AND OLD.rating = NEW.rating THEN
        RETURN NULL;
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        PERFORM app.apply_rating(OLD.organization_id, OLD.course_id, -1, -OLD.rating);
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        PERFORM app.apply_rating(NEW.organization_id, NEW.course_id, 1, NEW.rating);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER reviews_rating AFTER INSERT OR UPDATE OR DELETE ON reviews
    FOR EACH ROW EXECUTE FUNCTION app.reviews_rating_trigger();
