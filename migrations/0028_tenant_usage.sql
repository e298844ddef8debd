-- What each tenant uses, for the operators: one call counts the rows of a
-- page of tenants in every tenant table (one grouped count per table, on
-- the tenant-leading keys), learners active in the last 30 days, and an
-- estimate of the bytes each table holds for each tenant (its rows times
-- the table's average row size, indexes and TOAST included).
--
-- It runs as lms_usage, a NOLOGIN role whose only reach into tenant rows is
-- a SELECT policy of its own (policies/70_usage.sql); it returns numbers,
-- never rows, and only lms_platform may call it.
-- In a schema of its own, so that the grants on every function of `app`
-- never reach it.
CREATE SCHEMA usage;
GRANT USAGE ON SCHEMA usage TO lms_platform, lms_usage;

CREATE FUNCTION usage.tenant_usage(p_orgs uuid[])
    RETURNS TABLE (organization_id uuid, usage jsonb)
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, public
    AS $$
DECLARE
    t       record;
    counted jsonb;
    tables  jsonb := '{}';
    active  jsonb;
BEGIN
    FOR t IN
        SELECT c.oid, c.relname::text AS name,
               pg_total_relation_size(c.oid)::float8 / GREATEST(c.reltuples, 1) AS row_bytes
          FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = 'public' AND c.relkind = 'r'
           AND EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid
                          AND a.attname = 'organization_id' AND NOT a.attisdropped)
         ORDER BY c.relname
    LOOP
        EXECUTE format(
            'SELECT COALESCE(jsonb_object_agg(x.organization_id, x.n), ''{}'') FROM (
                 SELECT organization_id, count(*) AS n FROM public.%I
                  WHERE organization_id = ANY ($1) GROUP BY organization_id) x', t.name)
            INTO counted USING p_orgs;
        tables := tables || jsonb_build_object(t.name,
            jsonb_build_object('counts', counted, 'row_bytes', t.row_bytes));
    END LOOP;
    SELECT COALESCE(jsonb_object_agg(a.organization_id, a.n), '{}') INTO active FROM (
        SELECT x.organization_id, count(DISTINCT x.user_id) AS n FROM (
            SELECT p.organization_id, p.user_id FROM public.progress p
             WHERE p.organization_id = ANY (p_orgs) AND p.completed_at > now() - interval '30 days'
            UNION ALL
            SELECT s.organization_id, s.user_id FROM public.learning_sessions s
             WHERE s.organization_id = ANY (p_orgs) AND s.started_at > now() - interval '30 days'
        ) x GROUP BY x.organization_id) a;
    RETURN QUERY
        SELECT o.id, jsonb_build_object(
            'active_learners_30d', COALESCE((active ->> o.id::text)::bigint, 0),
            'tables', (SELECT jsonb_object_agg(k.key, jsonb_build_object(
                           'rows', COALESCE((k.value -> 'counts' ->> o.id::text)::bigint, 0),
                           'bytes', round(COALESCE((k.value -> 'counts' ->> o.id::text)::float8, 0)
                                          * (k.value ->> 'row_bytes')::float8)::bigint))
                         FROM jsonb_each(tables) k))
          FROM unnest(p_orgs) AS o(id);
END $$;
-- Only the platform API asks (privileges stay with the function when its
-- owner changes).
REVOKE ALL ON FUNCTION usage.tenant_usage(uuid[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION usage.tenant_usage(uuid[]) TO lms_platform;
-- A new owner needs CREATE on the schema at the moment it takes over.
GRANT CREATE ON SCHEMA usage TO lms_usage;
ALTER FUNCTION usage.tenant_usage(uuid[]) OWNER TO lms_usage;
REVOKE CREATE ON SCHEMA usage FROM lms_usage;
