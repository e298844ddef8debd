-- Row counts per tenant and table, kept as they change instead of counted
-- on every usage call (which grew with the tenant: 1.9 s for the largest of
-- a thousand).
--
-- Every tenant table carries two statement-level triggers (AFTER INSERT and
-- AFTER DELETE, with transition tables) that append one delta row per
-- organization a statement touched: append-only, so concurrent writers of
-- one tenant never wait on a shared counter row. The sweeper folds each
-- (organization, table)'s deltas into one row (usage.compact), so a usage
-- call sums at most a few rows per table. Deltas of a deleted organization
-- are dropped; rows written with triggers off (bulk loads, imports) are
-- counted afresh with usage.recount by whoever wrote them.
--
-- Learners active in the last 30 days come from each learner's latest
-- activity (usage.last_active), kept the same way.
--
-- Owned by lms_usage, like usage.tenant_usage; no runtime role reads or
-- writes these tables.
-- The tenant tables: those of schema public with an organization_id. One
-- definition for the functions and policy files that go through them all.
CREATE FUNCTION app.tenant_tables() RETURNS SETOF text
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
        SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = 'public' AND c.relkind = 'r'
           AND EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid
                          AND a.attname = 'organization_id' AND NOT a.attisdropped)
         ORDER BY 1
    $$;
GRANT USAGE ON SCHEMA app TO lms_usage;
GRANT EXECUTE ON FUNCTION app.tenant_tables() TO lms_usage;

CREATE TABLE usage.row_deltas (
    organization_id uuid        NOT NULL,
    table_name      text        NOT NULL,
    delta           bigint      NOT NULL,
    recorded_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX row_deltas_org_table_idx ON usage.row_deltas (organization_id, table_name);
REVOKE ALL ON usage.row_deltas FROM PUBLIC;
GRANT SELECT, INSERT, DELETE ON usage.row_deltas TO lms_usage;

-- Each learner's latest activity: learners active in the last 30 days are
-- one index range of it, not a scan of their progress (the count for the
-- largest of a thousand tenants read half a million progress rows).
CREATE TABLE usage.last_active (
    organization_id uuid        NOT NULL,
    user_id         uuid        NOT NULL,
    active_at       timestamptz NOT NULL,
    CONSTRAINT last_active_pkey PRIMARY KEY (organization_id, user_id)
);
CREATE INDEX last_active_recent_idx ON usage.last_active (organization_id, active_at);
REVOKE ALL ON usage.last_active FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE, DELETE ON usage.last_active TO lms_usage;

-- The triggers' functions. A delete of rows whose organization is already
-- gone (the cascade of a tenant's deletion) records nothing.
CREATE FUNCTION usage.count_inserted() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, public, pg_temp
    AS $$
BEGIN
    INSERT INTO usage.row_deltas (organization_id, table_name, delta)
    SELECT n.organization_id, TG_TABLE_NAME, count(*) FROM new_rows n GROUP BY n.organization_id;
    RETURN NULL;
END $$;

CREATE FUNCTION usage.count_deleted() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, public, pg_temp
    AS $$
BEGIN
    INSERT INTO usage.row_deltas (organization_id, table_name, delta)
    SELECT d.organization_id, TG_TABLE_NAME, -count(*) FROM old_rows d
     GROUP BY d.organization_id
    HAVING EXISTS (SELECT 1 FROM public.organizations o WHERE o.id = d.organization_id);
    RETURN NULL;
END $$;

-- Statement-level triggers on progress (recorded, updated) and
-- learning_sessions (started) note the learners a statement names, at most
-- once an hour each (a read, not a write, otherwise).
CREATE FUNCTION usage.note_activity() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, public, pg_temp
    AS $$
BEGIN
    INSERT INTO usage.last_active AS a (organization_id, user_id, active_at)
    SELECT DISTINCT n.organization_id, n.user_id, now() FROM new_rows n
     WHERE NOT EXISTS (SELECT 1 FROM usage.last_active r
                        WHERE r.organization_id = n.organization_id AND r.user_id = n.user_id
                          AND r.active_at > now() - interval '1 hour')
    ON CONFLICT (organization_id, user_id)
        DO UPDATE SET active_at = EXCLUDED.active_at WHERE a.active_at < EXCLUDED.active_at;
    RETURN NULL;
END $$;

-- The two triggers on every tenant table, and lms_usage's grant to read it
-- (idempotent; policies/70_usage.sql calls it again so that a table added
-- later is counted too).
CREATE FUNCTION usage.install_counters() RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, public, pg_temp
    AS $$
DECLARE
    t text;
BEGIN
    FOR t IN
        SELECT tt FROM app.tenant_tables() AS tt
    LOOP
        EXECUTE format('GRANT SELECT ON public.%I TO lms_usage', t);
        EXECUTE format('CREATE OR REPLACE TRIGGER usage_count_inserts AFTER INSERT ON public.%I '
                       'REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT '
                       'EXECUTE FUNCTION usage.count_inserted()', t);
        EXECUTE format('CREATE OR REPLACE TRIGGER usage_count_deletes AFTER DELETE ON public.%I '
                       'REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT '
                       'EXECUTE FUNCTION usage.count_deleted()', t);
    END LOOP;
END $$;
REVOKE ALL ON FUNCTION usage.install_counters() FROM PUBLIC;
REVOKE ALL ON FUNCTION usage.count_inserted(), usage.count_deleted(), usage.note_activity()
    FROM PUBLIC;

-- Counts the rows of `p_orgs` afresh, replacing their deltas. For rows
-- written with triggers off; not while the tenants are being written.
CREATE FUNCTION usage.recount(p_orgs uuid[]) RETURNS void
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, public, pg_temp
    AS $$
DECLARE
    t text;
BEGIN
    DELETE FROM usage.row_deltas WHERE organization_id = ANY (p_orgs);
    DELETE FROM usage.last_active WHERE organization_id = ANY (p_orgs);
    INSERT INTO usage.last_active (organization_id, user_id, active_at)
    SELECT x.organization_id, x.user_id, max(x.at) FROM (
        SELECT p.organization_id, p.user_id, p.completed_at AS at FROM public.progress p
         WHERE p.organization_id = ANY (p_orgs)
        UNION ALL
        SELECT s.organization_id, s.user_id, s.started_at FROM public.learning_sessions s
         WHERE s.organization_id = ANY (p_orgs)
    ) x GROUP BY x.organization_id, x.user_id;
    FOR t IN
        SELECT tt FROM app.tenant_tables() AS tt
    LOOP
        EXECUTE format(
            'INSERT INTO usage.row_deltas (organization_id, table_name, delta)
             SELECT organization_id, %L, count(*) FROM public.%I
              WHERE organization_id = ANY ($1) GROUP BY organization_id', t, t)
            USING p_orgs;
    END LOOP;
END $$;
REVOKE ALL ON FUNCTION usage.recount(uuid[]) FROM PUBLIC;

-- Folds each (organization, table)'s deltas into one row and drops those of
-- deleted organizations; returns the rows it removed. One replica at a time
-- (the others return 0 at once).
CREATE FUNCTION usage.compact() RETURNS bigint
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, public, pg_temp
    AS $$
DECLARE
    n bigint;
BEGIN
    IF NOT pg_try_advisory_xact_lock(7526735726341181285) THEN  -- "usage_co"
        RETURN 0;
    END IF;
    WITH groups AS (
        SELECT r.organization_id, r.table_name FROM usage.row_deltas r
         GROUP BY r.organization_id, r.table_name
        HAVING count(*) > 1
            OR NOT EXISTS (SELECT 1 FROM public.organizations o WHERE o.id = r.organization_id)),
    gone AS (
        DELETE FROM usage.row_deltas d USING groups g
         WHERE d.organization_id = g.organization_id AND d.table_name = g.table_name
        RETURNING d.organization_id, d.table_name, d.delta),
    folded AS (
        INSERT INTO usage.row_deltas (organization_id, table_name, delta)
        SELECT x.organization_id, x.table_name, sum(x.delta) FROM gone x
         WHERE EXISTS (SELECT 1 FROM public.organizations o WHERE o.id = x.organization_id)
         GROUP BY x.organization_id, x.table_name)
    SELECT count(*) INTO n FROM gone;
    DELETE FROM usage.last_active a
     WHERE NOT EXISTS (SELECT 1 FROM public.organizations o WHERE o.id = a.organization_id);
    RETURN n;
END $$;
REVOKE ALL ON FUNCTION usage.compact() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION usage.compact() TO lms_platform;

-- lms_usage owns the counting functions (privileges stay with them).
GRANT CREATE ON SCHEMA usage TO lms_usage;
ALTER FUNCTION usage.count_inserted() OWNER TO lms_usage;
ALTER FUNCTION usage.count_deleted() OWNER TO lms_usage;
ALTER FUNCTION usage.note_activity() OWNER TO lms_usage;
ALTER FUNCTION usage.recount(uuid[]) OWNER TO lms_usage;
ALTER FUNCTION usage.compact() OWNER TO lms_usage;

-- As the owner: the owner of the schema may count afresh (migrations,
-- bulk loads) and attach the triggers (an ALTER OWNER would have turned a
-- grant to itself into the new owner's), and the usage report is replaced.
SET LOCAL ROLE lms_usage;
GRANT EXECUTE ON FUNCTION usage.recount(uuid[]) TO lms_owner;
-- (The owner of the tables attaches the triggers.)
GRANT EXECUTE ON FUNCTION usage.count_inserted(), usage.count_deleted(), usage.note_activity()
    TO lms_owner;

-- Usage from the counters: rows per table summed from the deltas, bytes as
-- those rows times the table's average row size (indexes and TOAST
-- included), learners active in the last 30 days from usage.last_active.
-- No count of a tenant's rows.
CREATE OR REPLACE FUNCTION usage.tenant_usage(p_orgs uuid[])
    RETURNS TABLE (organization_id uuid, usage jsonb)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, public, pg_temp
    AS $$
    WITH tables AS (
        SELECT t.name,
               pg_total_relation_size(c.oid)::float8 / GREATEST(c.reltuples, 1) AS row_bytes
          FROM app.tenant_tables() AS t(name)
          JOIN pg_class c ON c.oid = ('public.' || quote_ident(t.name))::regclass),
    counts AS (
        SELECT r.organization_id, r.table_name, sum(r.delta)::bigint AS n
          FROM usage.row_deltas r WHERE r.organization_id = ANY (p_orgs)
         GROUP BY r.organization_id, r.table_name),
    active AS (
        SELECT a.organization_id, count(*) AS n FROM usage.last_active a
         WHERE a.organization_id = ANY (p_orgs) AND a.active_at > now() - interval '30 days'
         GROUP BY a.organization_id)
    SELECT o.id, jsonb_build_object(
               'active_learners_30d', COALESCE(a.n, 0),
               'tables', (SELECT jsonb_object_agg(t.name, jsonb_build_object(
                                     'rows', COALESCE(c.n, 0),
                                     'bytes', round(COALESCE(c.n, 0) * t.row_bytes)::bigint))
                            FROM tables t
                            LEFT JOIN counts c ON c.organization_id = o.id AND c.table_name = t.name))
      FROM unnest(p_orgs) AS o(id)
      LEFT JOIN active a ON a.organization_id = o.id
$$;
SET LOCAL ROLE lms_owner;
REVOKE CREATE ON SCHEMA usage FROM lms_usage;

-- A delete's trigger asks whether the organization still exists
-- (policies/70_usage.sql keeps this policy; here so that deletes are counted
-- from the moment the triggers exist).
GRANT SELECT (id) ON organizations TO lms_usage;
CREATE POLICY usage_reads_registry ON organizations AS PERMISSIVE FOR SELECT TO lms_usage
    USING (true);

-- Count what is there, then keep counting.
CREATE TRIGGER usage_progress_recorded AFTER INSERT ON progress
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION usage.note_activity();
CREATE TRIGGER usage_progress_updated AFTER UPDATE ON progress
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION usage.note_activity();
CREATE TRIGGER usage_session_started AFTER INSERT ON learning_sessions
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION usage.note_activity();
SELECT usage.install_counters();
SELECT usage.recount(ARRAY(SELECT id FROM organizations));
