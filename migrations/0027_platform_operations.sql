-- Platform operations: custom domains serve only once verified, platform
-- admins have roles, the platform keeps its own audit trail, and an
-- organization is deleted in two steps.

-- A custom domain proves it belongs to the tenant: the tenant publishes
-- `verification_token` as a DNS TXT record (or an operator vouches for it)
-- before the domain serves requests. Domains registered before this were
-- already served: they count as verified.
ALTER TABLE organization_domains
    ADD COLUMN verification_token text,
    ADD COLUMN verified_at timestamptz,
    ADD COLUMN verified_by text;
UPDATE organization_domains
   SET verification_token = replace(gen_random_uuid()::text, '-', ''),
       verified_at = created_at, verified_by = 'MIGRATION';
ALTER TABLE organization_domains
    ALTER COLUMN verification_token SET NOT NULL,
    ADD CONSTRAINT organization_domains_verified_check
        CHECK ((verified_at IS NULL) = (verified_by IS NULL)),
    ADD CONSTRAINT organization_domains_verified_by_check
        CHECK (verified_by IN ('DNS', 'OPERATOR', 'MIGRATION'));

-- What a platform admin may do: OPERATOR everything, SUPPORT read only.
CREATE TYPE platform_role AS ENUM ('OPERATOR', 'SUPPORT');
ALTER TABLE platform_admins ADD COLUMN role platform_role NOT NULL DEFAULT 'OPERATOR';

-- Every action of a platform admin. Not a tenant table (hence no
-- `organization_id`): an entry names the organization it acted on
-- (`target_org_id`) without a foreign key, so that it outlives the
-- organization's deletion.
CREATE TABLE platform_audit_logs (
    id              uuid        NOT NULL,
    admin_id        uuid        REFERENCES platform_admins (id) ON DELETE SET NULL,
    action          text        NOT NULL,
    target_org_id uuid,
    details         jsonb       NOT NULL DEFAULT '{}',
    request_id      uuid,
    created_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT platform_audit_logs_pkey PRIMARY KEY (id),
    CONSTRAINT platform_audit_logs_action_check CHECK (action ~ '^[a-z_]+\.[a-z_]+$'),
    CONSTRAINT platform_audit_logs_details_check CHECK (jsonb_typeof(details) = 'object')
);
CREATE INDEX platform_audit_logs_time_idx ON platform_audit_logs (created_at DESC, id DESC);
CREATE INDEX platform_audit_logs_org_idx ON platform_audit_logs (target_org_id, created_at DESC);
CREATE INDEX platform_audit_logs_admin_idx ON platform_audit_logs (admin_id, created_at DESC);

-- The first step of an organization's deletion: a confirmation token
-- (stored as its SHA-256) that the second step must present before it
-- expires. A platform table: the organization is `target_org_id`.
CREATE TABLE organization_deletions (
    target_org_id uuid        NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    token_digest    bytea       NOT NULL,
    requested_by    uuid        REFERENCES platform_admins (id) ON DELETE SET NULL,
    expires_at      timestamptz NOT NULL,
    CONSTRAINT organization_deletions_pkey PRIMARY KEY (target_org_id)
);
CREATE INDEX organization_deletions_requested_by_idx ON organization_deletions (requested_by);

-- While an organization is being deleted, its content goes with it: the
-- content guard only protects content of an organization that stays.
CREATE OR REPLACE FUNCTION app.content_removal_guard() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, public AS $$
DECLARE
    v_course uuid;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM organizations o WHERE o.id = OLD.organization_id) THEN
        RETURN OLD;
    END IF;
    IF TG_TABLE_NAME = 'lessons' THEN
        v_course := OLD.course_id;
    ELSE
        SELECT l.course_id INTO v_course FROM lessons l
         WHERE l.organization_id = OLD.organization_id AND l.id = OLD.lesson_id;
    END IF;
    IF v_course IS NOT NULL
       AND EXISTS (SELECT 1 FROM courses c WHERE c.organization_id = OLD.organization_id AND c.id = v_course)
       AND (app.content_needed(OLD.organization_id, v_course, OLD.id, TG_TABLE_NAME = 'lessons')
            OR (TG_TABLE_NAME = 'lessons' AND EXISTS (
                    SELECT 1 FROM sections s
                     WHERE s.organization_id = OLD.organization_id AND s.lesson_id = OLD.id
                       AND app.content_needed(OLD.organization_id, v_course, s.id, false))))
    THEN
        RAISE EXCEPTION 'learners still need this %', rtrim(TG_TABLE_NAME, 's')
            USING ERRCODE = 'restrict_violation', CONSTRAINT = 'content_has_progress';
    END IF;
    RETURN OLD;
END $$;

-- The version an enrollment is pinned to decides what completes it: it
-- starts on the latest published version and moves only to the latest,
-- whoever writes it.
CREATE FUNCTION app.latest_version(p_org uuid, p_course uuid) RETURNS integer
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, public
    AS $$
        SELECT max(v.version) FROM course_versions v
         WHERE v.organization_id = p_org AND v.course_id = p_course AND v.published_at IS NOT NULL
    $$;

CREATE OR REPLACE FUNCTION app.enrollments_guard() RETURNS trigger LANGUAGE plpgsql
    SET search_path = pg_catalog, public AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        IF NEW.status = 'COMPLETED' OR NEW.completed_at IS NOT NULL
           OR NEW.final_grade IS NOT NULL OR NEW.certificate_url IS NOT NULL THEN
            RAISE EXCEPTION 'an enrollment starts incomplete'
                USING ERRCODE = 'insufficient_privilege';
        END IF;
        IF NEW.course_version IS DISTINCT FROM app.latest_version(NEW.organization_id, NEW.course_id) THEN
            RAISE EXCEPTION 'an enrollment starts on the latest published version'
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
           AND (NOT (OLD.status IN ('DROPPED', 'EXPIRED') AND NEW.status = 'ACTIVE')
                AND NOT (OLD.status IN ('ACTIVE', 'PAUSED') AND NEW.status = OLD.status
                         AND NEW.course_version > COALESCE(OLD.course_version, 0))
                OR NEW.course_version IS DISTINCT FROM
                   app.latest_version(NEW.organization_id, NEW.course_id)) THEN
            RAISE EXCEPTION 'an enrollment moves only forward, to the latest version'
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

-- Whether content must stay: `app.content_needed` answers for any tenant,
-- for the removal guard (running as the owner) only; `app.content_kept`
-- answers for the transaction's own tenant, for the housekeeping. The
-- runtime role has neither, so it cannot learn about other tenants or
-- other learners through them.
CREATE FUNCTION app.content_needed(p_org uuid, p_course uuid, p_id uuid, p_is_lesson boolean)
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
REVOKE ALL ON FUNCTION app.content_needed(uuid, uuid, uuid, boolean) FROM PUBLIC;

CREATE OR REPLACE FUNCTION app.content_kept(p_org uuid, p_course uuid, p_id uuid, p_is_lesson boolean)
    RETURNS boolean
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, public
    AS $$
BEGIN
    IF p_org IS DISTINCT FROM app.current_org_id() THEN
        RAISE EXCEPTION 'content of another tenant' USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN app.content_needed(p_org, p_course, p_id, p_is_lesson);
END $$;
REVOKE ALL ON FUNCTION app.content_kept(uuid, uuid, uuid, boolean) FROM PUBLIC;
