-- Cohorts: named groups of a tenant's users, enrolled in courses as a
-- whole. A course added to a cohort enrolls its members; a member added
-- later is enrolled in the cohort's courses. Enrollments stay when a
-- member leaves or the cohort is removed: they belong to the learner.
CREATE TABLE cohorts (
    organization_id uuid        NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    id              uuid        NOT NULL,
    name            text        NOT NULL,
    description     text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    created_by      uuid,
    CONSTRAINT cohorts_pkey PRIMARY KEY (organization_id, id),
    CONSTRAINT cohorts_name_check CHECK (length(btrim(name)) BETWEEN 1 AND 200),
    CONSTRAINT cohorts_description_check CHECK (description IS NULL OR length(description) <= 2000),
    CONSTRAINT cohorts_created_by_fkey FOREIGN KEY (organization_id, created_by)
        REFERENCES users (organization_id, id) ON DELETE SET NULL (created_by)
);
-- One cohort per name and tenant, whatever the case.
CREATE UNIQUE INDEX cohorts_name_key ON cohorts (organization_id, lower(name));
CREATE INDEX cohorts_created_by_idx ON cohorts (organization_id, created_by);

CREATE TABLE cohort_members (
    organization_id uuid        NOT NULL,
    cohort_id       uuid        NOT NULL,
    user_id         uuid        NOT NULL,
    added_at        timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT cohort_members_pkey PRIMARY KEY (organization_id, cohort_id, user_id),
    CONSTRAINT cohort_members_cohort_fkey FOREIGN KEY (organization_id, cohort_id)
        REFERENCES cohorts (organization_id, id) ON DELETE CASCADE,
    CONSTRAINT cohort_members_user_fkey FOREIGN KEY (organization_id, user_id)
        REFERENCES users (organization_id, id) ON DELETE CASCADE
);
-- A user's cohorts.
CREATE INDEX cohort_members_user_idx ON cohort_members (organization_id, user_id);

CREATE TABLE cohort_courses (
    organization_id uuid        NOT NULL,
    cohort_id       uuid        NOT NULL,
    course_id       uuid        NOT NULL,
    added_at        timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT cohort_courses_pkey PRIMARY KEY (organization_id, cohort_id, course_id),
    CONSTRAINT cohort_courses_cohort_fkey FOREIGN KEY (organization_id, cohort_id)
        REFERENCES cohorts (organization_id, id) ON DELETE CASCADE,
    CONSTRAINT cohort_courses_course_fkey FOREIGN KEY (organization_id, course_id)
        REFERENCES courses (organization_id, id) ON DELETE CASCADE
);
-- A course's cohorts.
CREATE INDEX cohort_courses_course_idx ON cohort_courses (organization_id, course_id);
