-- The audit trail in order, tenants that can be deleted, pinned versions
-- that exist.

-- Audit entries of one transaction share occurred_at (now() is the start of
-- the transaction), so their id is what orders them: "created, then
-- edited" must not read "edited, then created". The first UUIDv7 kept only
-- milliseconds and filled the rest with random bits, so entries of the same
-- millisecond came out in random order. This one also puts the
-- sub-millisecond fraction into the 12 bits after the version (RFC 9562,
-- method 3): ids made one after another in a session ascend to the
-- microsecond of clock_timestamp().
--   48 bits  Unix time in milliseconds
--    4 bits  version 7
--   12 bits  fraction of the millisecond, in 1/4096
--   64 bits  variant 10 + 62 random bits (from gen_random_uuid)
CREATE OR REPLACE FUNCTION app.uuid_v7() RETURNS uuid
    LANGUAGE sql VOLATILE PARALLEL SAFE
    AS $$
        SELECT encode(
                   substring(int8send(us / 1000) FROM 3)
                || int2send((x'7000'::int + (us % 1000) * 4096 / 1000)::smallint)
                || substring(uuid_send(gen_random_uuid()) FROM 9),
               'hex')::uuid
          FROM (SELECT (extract(epoch FROM clock_timestamp()) * 1000000)::bigint AS us) AS t
    $$;

-- Deleting an organization cascades into its courses, lessons and sections
-- (and sets their authors NULL as its users go). The audit trigger fired by
-- those cascades wrote entries for a tenant that no longer exists, whose
-- foreign key then failed: no organization with content could be deleted.
-- (The triggers of cascaded rows fire after the referential action, at
-- trigger depth 1 and as the deleting role, so they cannot tell a cascade
-- from a direct statement; the registry can.) Now a change of a row whose
-- organization is gone is not logged: the tenant's trail goes with it, as
-- everything else of the tenant does. Every role that writes audited rows
-- sees its organization: lms_app its own row, lms_platform and lms_owner
-- every row (policies/10_tenancy.sql); a row of a tenant that does exist is
-- therefore always logged.
CREATE OR REPLACE FUNCTION app.audit_trigger() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    v_old    jsonb;
    v_new    jsonb;
    v_action audit_action;
    v_row    jsonb;
    v_org    uuid;
    noise    text[] := ARRAY['search_vector', 'average_rating', 'rating_count', 'rating_sum'];
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        v_old := to_jsonb(OLD) - noise;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        v_new := to_jsonb(NEW) - noise;
    END IF;
    IF TG_OP = 'INSERT' THEN
        v_action := 'CREATE';
    ELSIF TG_OP = 'DELETE' THEN
        v_action := 'DELETE';
    ELSIF v_old = v_new THEN
        RETURN NULL;
    ELSIF v_old ? 'deleted_at' AND v_old ->> 'deleted_at' IS NULL AND v_new ->> 'deleted_at' IS NOT NULL THEN
        v_action := 'DELETE';
    ELSIF v_old ? 'deleted_at' AND v_old ->> 'deleted_at' IS NOT NULL AND v_new ->> 'deleted_at' IS NULL THEN
        v_action := 'RESTORE';
    ELSE
        v_action := 'UPDATE';
    END IF;
    v_row := COALESCE(v_new, v_old);
    v_org := (v_row ->> 'organization_id')::uuid;
    IF NOT EXISTS (SELECT 1 FROM organizations WHERE id = v_org) THEN
        RETURN NULL;
    END IF;
    INSERT INTO audit_logs (organization_id, id, table_name, record_id, action, old_values, new_values, actor_id)
    VALUES (v_org, app.uuid_v7(), TG_TABLE_NAME, (v_row ->> 'id')::uuid,
            v_action, v_old, v_new, app.current_user_id());
    RETURN NULL;
END
$$;

-- An enrollment pins a published snapshot, so the pin must name one that
-- exists, of the same course (course_versions_version_key is the target).
-- NULL (not pinned: follows the live course) is not checked. If the
-- snapshot goes, the pin is lifted (SET NULL on course_version only), which
-- also lets a course delete cascade into its versions and its enrollments
-- in either order.
ALTER TABLE enrollments
    ADD CONSTRAINT enrollments_course_version_fkey FOREIGN KEY (organization_id, course_id, course_version)
        REFERENCES course_versions (organization_id, course_id, version) ON DELETE SET NULL (course_version);
CREATE INDEX enrollments_course_version_idx ON enrollments (organization_id, course_id, course_version);
