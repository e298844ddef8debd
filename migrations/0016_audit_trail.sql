-- An audit trail the application cannot forge.
--
-- Entries are written by app.audit_trigger() only, which now runs as its
-- owner (SECURITY DEFINER, pinned search_path): the runtime roles lose
-- INSERT on audit_logs (policies/50_audit.sql), so no statement of theirs
-- adds, changes or removes an entry. The entry's organization is taken from
-- the row being changed (its `organization_id`, or its `id` for the
-- organization itself), never from an argument; the actor from
-- `app.user_id`; the request from `app.request_id`, both set by the service
-- at the start of the transaction.
--
-- Audited: courses, lessons, sections, categories, tags, users, roles,
-- user-role assignments, enrollments, organizations. Never copied into an
-- entry: users.password_hash, and the bookkeeping columns that are not
-- content (search_vector, the rating aggregates, last_login_at,
-- updated_at); a change of nothing else is not logged.
ALTER TABLE audit_logs ADD COLUMN request_id uuid;
-- The trail filtered by action or table, newest first.
CREATE INDEX audit_logs_table_idx ON audit_logs (organization_id, table_name, id DESC);

CREATE OR REPLACE FUNCTION app.audit_trigger() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, public
    AS $$
DECLARE
    v_old    jsonb;
    v_new    jsonb;
    v_action audit_action;
    v_row    jsonb;
    v_org    uuid;
    v_record uuid;
    excluded text[] := ARRAY['search_vector', 'average_rating', 'rating_count', 'rating_sum',
                             'password_hash', 'last_login_at', 'updated_at'];
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        v_old := to_jsonb(OLD) - excluded;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        v_new := to_jsonb(NEW) - excluded;
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
    IF TG_TABLE_NAME = 'organizations' THEN
        v_org := (v_row ->> 'id')::uuid;
    ELSE
        v_org := (v_row ->> 'organization_id')::uuid;
    END IF;
    -- A user-role assignment is recorded under its user.
    v_record := COALESCE(v_row ->> 'id', v_row ->> 'user_id')::uuid;
    -- The changes of an organization being deleted go with it.
    IF NOT EXISTS (SELECT 1 FROM organizations WHERE id = v_org) THEN
        RETURN NULL;
    END IF;
    INSERT INTO audit_logs (organization_id, id, table_name, record_id, action, old_values, new_values,
                            actor_id, request_id)
    VALUES (v_org, app.uuid_v7(), TG_TABLE_NAME, v_record, v_action, v_old, v_new,
            app.current_user_id(), NULLIF(current_setting('app.request_id', true), '')::uuid);
    RETURN NULL;
END
$$;
REVOKE ALL ON FUNCTION app.audit_trigger() FROM PUBLIC;

CREATE TRIGGER categories_audit AFTER INSERT OR UPDATE OR DELETE ON categories
    FOR EACH ROW EXECUTE FUNCTION app.audit_trigger();
CREATE TRIGGER tags_audit AFTER INSERT OR UPDATE OR DELETE ON tags
    FOR EACH ROW EXECUTE FUNCTION app.audit_trigger();
CREATE TRIGGER users_audit AFTER INSERT OR UPDATE OR DELETE ON users
    FOR EACH ROW EXECUTE FUNCTION app.audit_trigger();
CREATE TRIGGER roles_audit AFTER INSERT OR UPDATE OR DELETE ON roles
    FOR EACH ROW EXECUTE FUNCTION app.audit_trigger();
CREATE TRIGGER user_roles_audit AFTER INSERT OR UPDATE OR DELETE ON user_roles
    FOR EACH ROW EXECUTE FUNCTION app.audit_trigger();
CREATE TRIGGER enrollments_audit AFTER INSERT OR UPDATE OR DELETE ON enrollments
    FOR EACH ROW EXECUTE FUNCTION app.audit_trigger();
CREATE TRIGGER organizations_audit AFTER INSERT OR UPDATE OR DELETE ON organizations
    FOR EACH ROW EXECUTE FUNCTION app.audit_trigger();
