-- The audit trail, written by the database itself so no code path can
-- forget it.

CREATE TABLE audit_logs (
    organization_id uuid         NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    id              uuid         NOT NULL,
    table_name      text         NOT NULL,
    record_id       uuid         NOT NULL,
    action          audit_action NOT NULL,
    old_values      jsonb,
    new_values      jsonb,
    -- From app.user_id. No foreign key: the trail must outlive the user.
    actor_id        uuid,
    occurred_at     timestamptz  NOT NULL DEFAULT now(),
    CONSTRAINT audit_logs_pkey PRIMARY KEY (organization_id, id)
);
CREATE INDEX audit_logs_record_idx ON audit_logs (organization_id, table_name, record_id);
CREATE INDEX audit_logs_actor_idx ON audit_logs (organization_id, actor_id);
CREATE INDEX audit_logs_time_idx ON audit_logs (organization_id, occurred_at DESC);

-- One trigger function for every audited table. Soft delete (deleted_at set)
-- is logged as DELETE, undoing it as RESTORE. Updates that change only the
-- rating aggregate (written by the reviews trigger) are not content changes
-- and are not logged. Not SECURITY DEFINER: it runs as the caller, and its
-- insert passes the tenant policy because the row's organization is the
-- caller's.
CREATE FUNCTION app.audit_trigger() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    v_old    jsonb;
    v_new    jsonb;
    v_action audit_action;
    v_row    jsonb;
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
    INSERT INTO audit_logs (organization_id, id, table_name, record_id, action, old_values, new_values, actor_id)
    VALUES ((v_row ->> 'organization_id')::uuid, app.uuid_v7(), TG_TABLE_NAME, (v_row ->> 'id')::uuid,
            v_action, v_old, v_new, app.current_user_id());
    RETURN NULL;
END
$$;

CREATE TRIGGER courses_audit AFTER INSERT OR UPDATE OR DELETE ON courses
    FOR EACH ROW EXECUTE FUNCTION app.audit_trigger();
CREATE TRIGGER lessons_audit AFTER INSERT OR UPDATE OR DELETE ON lessons
    FOR EACH ROW EXECUTE FUNCTION app.audit_trigger();
CREATE TRIGGER sections_audit AFTER INSERT OR UPDATE OR DELETE ON sections
    FOR EACH ROW EXECUTE FUNCTION app.audit_trigger();
