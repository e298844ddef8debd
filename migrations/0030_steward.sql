-- The platform role reads tenant rows but no longer writes them. The three
-- things it did write inside a tenant go through functions of schema
-- `steward`, owned by lms_steward (NOLOGIN, not a superuser), each doing one
-- narrowly stated thing for one organization:
--
--   steward.seed_organization   the default roles and the first admin of an
--                               organization that has neither yet;
--   steward.sweep_tenant        the periodic housekeeping (idle sessions end,
--                               enrollments past their access end expire,
--                               the trash empties after its retention);
--   steward.apply_search_language  the catalog re-indexed in the language
--                               the organization's settings name.
--
-- lms_steward's reach into tenant rows is a policy and grants of its own
-- (policies/75_steward.sql), for exactly the commands these need; only
-- lms_platform may call them.

CREATE SCHEMA steward;
REVOKE ALL ON SCHEMA steward FROM PUBLIC;
GRANT USAGE ON SCHEMA steward TO lms_platform;

-- Runs `p_org`'s housekeeping in its tenant context and puts the caller's
-- tenant context back. Sessions count as abandoned after 30 minutes without
-- a heartbeat at the least, whatever cutoff the caller names.
CREATE FUNCTION steward.sweep_tenant(p_org uuid, p_idle_before timestamptz)
    RETURNS TABLE (sessions_closed bigint, enrollments_expired bigint, trash_purged bigint)
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, public, pg_temp
    AS $$
DECLARE
    previous text := current_setting('app.org_id', true);
    n        bigint;
BEGIN
    PERFORM set_config('app.org_id', p_org::text, true);
    p_idle_before := LEAST(p_idle_before, now() - interval '30 minutes');
    sessions_closed := 0;
    enrollments_expired := 0;
    trash_purged := 0;

    UPDATE learning_sessions
       SET ended_at = last_seen_at,
           duration_seconds = extract(epoch FROM last_seen_at - started_at)::int
     WHERE organization_id = p_org AND ended_at IS NULL AND last_seen_at < p_idle_before;
    GET DIAGNOSTICS sessions_closed = ROW_COUNT;

    -- Each expiry is an event of the tenant's feed, like a status change
    -- through the API (no acting user: the service did it).
    WITH expired AS (
        UPDATE enrollments SET status = 'EXPIRED'
         WHERE organization_id = p_org AND status IN ('ACTIVE', 'PAUSED') AND access_ends_at <= now()
        RETURNING id, user_id, course_id)
    INSERT INTO outbox_events (organization_id, id, event_type, subject_id, payload)
    SELECT p_org, app.uuid_v7(), 'enrollment.status_changed', id,
           jsonb_build_object('id', id, 'user_id', user_id, 'course_id', course_id,
                              'to', 'EXPIRED', 'reason', 'access_ended')
      FROM expired;
    GET DIAGNOSTICS enrollments_expired = ROW_COUNT;

    -- The trash empties itself after the organization's retention period.
    WITH purged AS (
        DELETE FROM courses c
         WHERE c.organization_id = p_org AND c.deleted_at IS NOT NULL
           AND c.deleted_at < now() - app.trash_retention(p_org)
        RETURNING id)
    INSERT INTO outbox_events (organization_id, id, event_type, subject_id, payload)
    SELECT p_org, app.uuid_v7(), 'course.purged', id,
           jsonb_build_object('course_id', id, 'reason', 'retention')
      FROM purged;
    GET DIAGNOSTICS n = ROW_COUNT;
    trash_purged := trash_purged + n;

    WITH purged AS (
        DELETE FROM categories k
         WHERE k.organization_id = p_org AND k.deleted_at IS NOT NULL
           AND k.deleted_at < now() - app.trash_retention(p_org)
        RETURNING id)
    INSERT INTO outbox_events (organization_id, id, event_type, subject_id, payload)
    SELECT p_org, app.uuid_v7(), 'category.purged', id,
           jsonb_build_object('id', id, 'reason', 'retention')
      FROM purged;
    GET DIAGNOSTICS n = ROW_COUNT;
    trash_purged := trash_purged + n;

    -- Lessons and sections in the trash go too, except what learners still
    -- need (progress on it, or in the version they are pinned to): that
    -- stays in the trash until its course goes.
    WITH purged AS (
        DELETE FROM sections s USING lessons l
         WHERE s.organization_id = p_org AND s.deleted_at IS NOT NULL
           AND s.deleted_at < now() - app.trash_retention(p_org)
           AND l.organization_id = s.organization_id AND l.id = s.lesson_id
           AND NOT app.content_kept(p_org, l.course_id, s.id, false)
        RETURNING s.id, s.lesson_id, l.course_id)
    INSERT INTO outbox_events (organization_id, id, event_type, subject_id, payload)
    SELECT p_org, app.uuid_v7(), 'section.purged', id,
           jsonb_build_object('course_id', course_id, 'lesson_id', lesson_id, 'section_id', id,
                              'reason', 'retention')
      FROM purged;
    GET DIAGNOSTICS n = ROW_COUNT;
    trash_purged := trash_purged + n;

    WITH purged AS (
        DELETE FROM lessons l
         WHERE l.organization_id = p_org AND l.deleted_at IS NOT NULL
           AND l.deleted_at < now() - app.trash_retention(p_org)
           AND NOT app.content_kept(p_org, l.course_id, l.id, true)
           AND NOT EXISTS (SELECT 1 FROM sections s
                            WHERE s.organization_id = l.organization_id AND s.lesson_id = l.id
                              AND app.content_kept(p_org, l.course_id, s.id, false))
        RETURNING l.id, l.course_id)
    INSERT INTO outbox_events (organization_id, id, event_type, subject_id, payload)
    SELECT p_org, app.uuid_v7(), 'lesson.purged', id,
           jsonb_build_object('course_id', course_id, 'lesson_id', id, 'reason', 'retention')
      FROM purged;
    GET DIAGNOSTICS n = ROW_COUNT;
    trash_purged := trash_purged + n;

    PERFORM set_config('app.org_id', COALESCE(previous, ''), true);
    RETURN NEXT;
END $$;

-- The default roles and the first admin of a new organization: refused
-- (55000) once the organization has any role or user, so the platform role
-- cannot use it to add an admin to a living tenant. `p_roles` is an array
-- of {id, name, description, permissions}; the admin, {id, email,
-- first_name, last_name, password_hash}, holds the role named `p_admin_role`.
CREATE FUNCTION steward.seed_organization(p_org uuid, p_roles jsonb, p_admin jsonb, p_admin_role text)
    RETURNS void
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, public, pg_temp
    AS $$
DECLARE
    previous text := current_setting('app.org_id', true);
BEGIN
    PERFORM set_config('app.org_id', p_org::text, true);
    -- Two seeds of one organization at once: the second waits, then finds
    -- it seeded.
    PERFORM pg_advisory_xact_lock(hashtextextended('steward.seed:' || p_org::text, 0));
    IF NOT EXISTS (SELECT 1 FROM organizations WHERE id = p_org) THEN
        RAISE EXCEPTION 'no organization %', p_org USING ERRCODE = '55000';
    END IF;
    IF EXISTS (SELECT 1 FROM roles WHERE organization_id = p_org)
       OR EXISTS (SELECT 1 FROM users WHERE organization_id = p_org) THEN
        RAISE EXCEPTION 'organization % is already seeded', p_org USING ERRCODE = '55000';
    END IF;
    INSERT INTO roles (organization_id, id, name, description, permissions, is_system)
    SELECT p_org, (r ->> 'id')::uuid, r ->> 'name', r ->> 'description', r -> 'permissions', true
      FROM jsonb_array_elements(p_roles) AS r;
    INSERT INTO users (organization_id, id, email, first_name, last_name, password_hash)
    VALUES (p_org, (p_admin ->> 'id')::uuid, p_admin ->> 'email', p_admin ->> 'first_name',
            p_admin ->> 'last_name', p_admin ->> 'password_hash');
    INSERT INTO user_roles (organization_id, user_id, role_id)
    SELECT p_org, (p_admin ->> 'id')::uuid, r.id
      FROM roles r WHERE r.organization_id = p_org AND r.name = p_admin_role;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no role % among the seeded roles', p_admin_role USING ERRCODE = '22023';
    END IF;
    PERFORM set_config('app.org_id', COALESCE(previous, ''), true);
END $$;

-- Re-indexes `p_org`'s catalog in the search language its settings name
-- ('english' when unset).
CREATE FUNCTION steward.apply_search_language(p_org uuid)
    RETURNS void
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, public, pg_temp
    AS $$
DECLARE
    previous text := current_setting('app.org_id', true);
    language regconfig;
BEGIN
    PERFORM set_config('app.org_id', p_org::text, true);
    SELECT COALESCE(o.settings ->> 'search_language', 'english')::regconfig INTO language
      FROM organizations o WHERE o.id = p_org;
    IF FOUND THEN
        UPDATE courses SET search_language = language
         WHERE organization_id = p_org AND search_language IS DISTINCT FROM language;
    END IF;
    PERFORM set_config('app.org_id', COALESCE(previous, ''), true);
END $$;

-- Who may call them is settled before the handover (the owner grants).
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA steward FROM PUBLIC;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA steward TO lms_platform;
-- A new owner needs CREATE on the schema for the moment of the handover.
GRANT CREATE ON SCHEMA steward TO lms_steward;
ALTER FUNCTION steward.sweep_tenant(uuid, timestamptz) OWNER TO lms_steward;
ALTER FUNCTION steward.seed_organization(uuid, jsonb, jsonb, text) OWNER TO lms_steward;
ALTER FUNCTION steward.apply_search_language(uuid) OWNER TO lms_steward;
REVOKE CREATE ON SCHEMA steward FROM lms_steward;

-- What the platform role held on tenant tables beyond reading goes (the
-- policy files grant it SELECT, and INSERT on outbox_events for the events
-- of its own actions).
DO $$
DECLARE
    t text;
BEGIN
    FOR t IN
        SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = 'public' AND c.relkind = 'r'
           AND EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid
                          AND a.attname = 'organization_id' AND NOT a.attisdropped)
           AND c.relname NOT IN ('organization_domains', 'organization_deletions')
    LOOP
        EXECUTE format('REVOKE INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON public.%I FROM lms_platform', t);
    END LOOP;
END
$$;
