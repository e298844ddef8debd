-- A change of password is a change of the user worth a trace, without the
-- hash: the entry says only that it changed.
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
                             'password_hash', 'last_login_at', 'updated_at', 'version'];
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        v_old := to_jsonb(OLD) - excluded;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        v_new := to_jsonb(NEW) - excluded;
    END IF;
    IF TG_OP = 'UPDATE' AND TG_TABLE_NAME = 'users'
       AND (to_jsonb(OLD) ->> 'password_hash') IS DISTINCT FROM (to_jsonb(NEW) ->> 'password_hash') THEN
        v_new := v_new || '{"password_changed": true}'::jsonb;
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
    v_record := COALESCE(v_row ->> 'id', v_row ->> 'user_id')::uuid;
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
