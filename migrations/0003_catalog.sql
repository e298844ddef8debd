-- The catalog: Course -> Lesson -> Section, categories, tags, versions.

CREATE TABLE courses (
    organization_id uuid        NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    id              uuid        NOT NULL,
    title           text        NOT NULL,
    description     text        NOT NULL DEFAULT '',
    difficulty      difficulty  NOT NULL DEFAULT 'BEGINNER',
    estimated_hours integer     NOT NULL DEFAULT 0,
    image_url       text,
    is_published    boolean     NOT NULL DEFAULT false,
    -- Free-form data (e.g. generated summaries); an object, size-limited by the API.
    metadata        jsonb,
    -- Full-text search in the organization's language. The regconfig is a
    -- column so the generated vector stays an immutable expression of the
    -- row; the API sets it from the organization's settings.
    search_language regconfig   NOT NULL DEFAULT 'english',
    search_vector   tsvector    GENERATED ALWAYS AS (to_tsvector(search_language, title || ' ' || description)) STORED,
    -- Kept by the trigger on reviews. The sum is stored so concurrent reviews
    -- update the aggregate arithmetically under the row lock, never from a
    -- stale snapshot.
    average_rating  numeric(3,2) NOT NULL DEFAULT 0,
    rating_count    integer     NOT NULL DEFAULT 0,
    rating_sum      bigint      NOT NULL DEFAULT 0,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    -- Audit columns. Nullable and SET NULL on user deletion: removing a user
    -- must not remove or block the courses they wrote; the audit log keeps
    -- who did what.
    created_by      uuid,
    updated_by      uuid,
    -- Soft delete: learners' history keeps pointing at the course.
    deleted_at      timestamptz,
    deleted_by      uuid,
    version         integer     NOT NULL DEFAULT 1,
    CONSTRAINT courses_pkey PRIMARY KEY (organization_id, id),
    CONSTRAINT courses_title_check CHECK (length(btrim(title)) BETWEEN 1 AND 200),
    CONSTRAINT courses_description_check CHECK (length(description) <= 20000),
    CONSTRAINT courses_estimated_hours_check CHECK (estimated_hours BETWEEN 0 AND 10000),
    CONSTRAINT courses_image_url_check CHECK (image_url IS NULL OR length(image_url) <= 2048),
    CONSTRAINT courses_metadata_check CHECK (metadata IS NULL OR jsonb_typeof(metadata) = 'object'),
    CONSTRAINT courses_rating_check CHECK (rating_count >= 0 AND average_rating BETWEEN 0 AND 5),
    CONSTRAINT courses_version_check CHECK (version >= 1),
    CONSTRAINT courses_deleted_check CHECK (deleted_by IS NULL OR deleted_at IS NOT NULL),
    CONSTRAINT courses_created_by_fkey FOREIGN KEY (organization_id, created_by)
        REFERENCES users (organization_id, id) ON DELETE SET NULL (created_by),
    CONSTRAINT courses_updated_by_fkey FOREIGN KEY (organization_id, updated_by)
        REFERENCES users (organization_id, id) ON DELETE SET NULL (updated_by),
    CONSTRAINT courses_deleted_by_fkey FOREIGN KEY (organization_id, deleted_by)
        REFERENCES users (organization_id, id) ON DELETE SET NULL (deleted_by)
);

-- Catalog browsing: live courses by publication and difficulty, newest first.
CREATE INDEX courses_catalog_idx ON courses (organization_id, is_published, difficulty, created_at DESC)
    WHERE deleted_at IS NULL;
-- Keyset pagination walks ids (UUIDv7 = creation order) of live courses.
CREATE INDEX courses_live_idx ON courses (organization_id, id DESC) WHERE deleted_at IS NULL;
-- Full-text search with the tenant inside the index condition (btree_gin),
-- so one tenant's search never scans another's postings.
CREATE INDEX courses_search_idx ON courses USING gin (organization_id, search_vector);
CREATE INDEX courses_created_by_idx ON courses (organization_id, created_by);
CREATE INDEX courses_updated_by_idx ON courses (organization_id, updated_by);
CREATE INDEX courses_deleted_by_idx ON courses (organization_id, deleted_by);

CREATE TABLE lessons (
    organization_id uuid        NOT NULL,
    id              uuid        NOT NULL,
    course_id       uuid        NOT NULL,
    title           text        NOT NULL,
    description     text,
    -- "order" in the seed; a reserved word in SQL.
    position        integer     NOT NULL,
    is_required     boolean     NOT NULL DEFAULT true,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT lessons_pkey PRIMARY KEY (organization_id, id),
    -- Unique order per course, DEFERRABLE so a reorder is one transaction
    -- that may pass through duplicate positions.
    CONSTRAINT lessons_position_key UNIQUE (organization_id, course_id, position) DEFERRABLE INITIALLY IMMEDIATE,
    -- Lets progress reference (lesson, course) as one pair, so a progress
    -- row can never name a lesson of another course.
    CONSTRAINT lessons_course_pair_key UNIQUE (organization_id, id, course_id),
    CONSTRAINT lessons_position_check CHECK (position >= 0),
    CONSTRAINT lessons_title_check CHECK (length(btrim(title)) BETWEEN 1 AND 200),
    CONSTRAINT lessons_description_check CHECK (description IS NULL OR length(description) <= 20000),
    CONSTRAINT lessons_course_fkey FOREIGN KEY (organization_id, course_id)
        REFERENCES courses (organization_id, id) ON DELETE CASCADE
);

CREATE TABLE sections (
    organization_id  uuid         NOT NULL,
    id               uuid         NOT NULL,
    lesson_id        uuid         NOT NULL,
    title            text         NOT NULL,
    -- Rich content (markdown/HTML/JSON per type).
    content          text         NOT NULL DEFAULT '',
    type             section_type NOT NULL DEFAULT 'TEXT',
    position         integer      NOT NULL,
    duration_minutes integer      NOT NULL DEFAULT 0,
    is_optional      boolean      NOT NULL DEFAULT false,
    created_at       timestamptz  NOT NULL DEFAULT now(),
    updated_at       timestamptz  NOT NULL DEFAULT now(),
    CONSTRAINT sections_pkey PRIMARY KEY (organization_id, id),
    CONSTRAINT sections_position_key UNIQUE (organization_id, lesson_id, position) DEFERRABLE INITIALLY IMMEDIATE,
    CONSTRAINT sections_lesson_pair_key UNIQUE (organization_id, id, lesson_id),
    CONSTRAINT sections_position_check CHECK (position >= 0),
    CONSTRAINT sections_duration_check CHECK (duration_minutes >= 0),
    CONSTRAINT sections_title_check CHECK (length(btrim(title)) BETWEEN 1 AND 200),
    CONSTRAINT sections_content_check CHECK (length(content) <= 1000000),
    CONSTRAINT sections_lesson_fkey FOREIGN KEY (organization_id, lesson_id)
        REFERENCES lessons (organization_id, id) ON DELETE CASCADE
);
-- The position keys above already index (organization_id, lesson_id,
-- position) and (organization_id, course_id, position): the seed's
-- "sections by lesson in order" index is one of them.

-- Hierarchical categories. Deleting a parent lifts its children to the top
-- (SET NULL on parent_id only: organization_id must never be nulled).
CREATE TABLE categories (
    organization_id uuid        NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    id              uuid        NOT NULL,
    name            text        NOT NULL,
    slug            text        NOT NULL,
    description     text,
    parent_id       uuid,
    color           text,
    icon            text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT categories_pkey PRIMARY KEY (organization_id, id),
    CONSTRAINT categories_slug_key UNIQUE (organization_id, slug),
    CONSTRAINT categories_parent_check CHECK (parent_id IS NULL OR parent_id <> id),
    CONSTRAINT categories_name_check CHECK (length(btrim(name)) BETWEEN 1 AND 100),
    CONSTRAINT categories_slug_check CHECK (slug ~ '^[a-z0-9]([a-z0-9-]{0,98}[a-z0-9])?$'),
    CONSTRAINT categories_color_check CHECK (color IS NULL OR color ~ '^#[0-9a-fA-F]{6}$'),
    CONSTRAINT categories_parent_fkey FOREIGN KEY (organization_id, parent_id)
        REFERENCES categories (organization_id, id) ON DELETE SET NULL (parent_id)
);
CREATE INDEX categories_parent_idx ON categories (organization_id, parent_id);

-- Tags: names unique per organization regardless of case.
CREATE TABLE tags (
    organization_id uuid        NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    id              uuid        NOT NULL,
    name            text        NOT NULL,
    color           text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT tags_pkey PRIMARY KEY (organization_id, id),
    CONSTRAINT tags_name_check CHECK (length(btrim(name)) BETWEEN 1 AND 64),
    CONSTRAINT tags_color_check CHECK (color IS NULL OR color ~ '^#[0-9a-fA-F]{6}$')
);
CREATE UNIQUE INDEX tags_name_key ON tags (organization_id, lower(name));

CREATE TABLE course_categories (
    organization_id uuid NOT NULL,
    course_id       uuid NOT NULL,
    category_id     uuid NOT NULL,
    CONSTRAINT course_categories_pkey PRIMARY KEY (organization_id, course_id, category_id),
    CONSTRAINT course_categories_course_fkey FOREIGN KEY (organization_id, course_id)
        REFERENCES courses (organization_id, id) ON DELETE CASCADE,
    CONSTRAINT course_categories_category_fkey FOREIGN KEY (organization_id, category_id)
        REFERENCES categories (organization_id, id) ON DELETE CASCADE
);
-- "Courses in this category" (catalog filter).
CREATE INDEX course_categories_category_idx ON course_categories (organization_id, category_id);

CREATE TABLE course_tags (
    organization_id uuid NOT NULL,
    course_id       uuid NOT NULL,
    tag_id          uuid NOT NULL,
    CONSTRAINT course_tags_pkey PRIMARY KEY (organization_id, course_id, tag_id),
    CONSTRAINT course_tags_course_fkey FOREIGN KEY (organization_id, course_id)
        REFERENCES courses (organization_id, id) ON DELETE CASCADE,
    CONSTRAINT course_tags_tag_fkey FOREIGN KEY (organization_id, tag_id)
        REFERENCES tags (organization_id, id) ON DELETE CASCADE
);
CREATE INDEX course_tags_tag_idx ON course_tags (organization_id, tag_id);

-- Published snapshots of a course (the whole tree as JSON). Enrollments pin
-- a version, so learners keep the content they enrolled in while authors
-- edit. Kept when the course is soft-deleted; removed with a hard delete.
CREATE TABLE course_versions (
    organization_id uuid        NOT NULL,
    id              uuid        NOT NULL,
    course_id       uuid        NOT NULL,
    version         integer     NOT NULL,
    title           text        NOT NULL,
    description     text,
    content         jsonb       NOT NULL,
    published_at    timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    created_by      uuid,
    CONSTRAINT course_versions_pkey PRIMARY KEY (organization_id, id),
    CONSTRAINT course_versions_version_key UNIQUE (organization_id, course_id, version),
    CONSTRAINT course_versions_version_check CHECK (version >= 1),
    CONSTRAINT course_versions_course_fkey FOREIGN KEY (organization_id, course_id)
        REFERENCES courses (organization_id, id) ON DELETE CASCADE,
    CONSTRAINT course_versions_created_by_fkey FOREIGN KEY (organization_id, created_by)
        REFERENCES users (organization_id, id) ON DELETE SET NULL (created_by)
);
CREATE INDEX course_versions_published_idx ON course_versions (organization_id, published_at);
CREATE INDEX course_versions_created_by_idx ON course_versions (organization_id, created_by);
