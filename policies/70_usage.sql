-- lms_usage: owns the usage functions (migrations/0028_tenant_usage.sql,
-- 0032_usage_counters.sql): the per-tenant row counters and the usage
-- report. A SELECT policy of its own on every tenant table (usage_counts),
-- the grant to read them, and the schema; no other role inherits it.
DO $$
DECLARE
    t text;
BEGIN
    FOR t IN
        SELECT tt FROM app.tenant_tables() AS tt
    LOOP
        EXECUTE format('GRANT SELECT ON public.%I TO lms_usage', t);
        EXECUTE format('DROP POLICY IF EXISTS usage_counts ON public.%I', t);
        EXECUTE format('CREATE POLICY usage_counts ON public.%I AS PERMISSIVE FOR SELECT TO lms_usage USING (true)', t);
    END LOOP;
END
$$;

-- The row counters (migrations/0032_usage_counters.sql): triggers on every
-- tenant table, a table added since included. The counters' triggers ask
-- whether an organization still exists: its id, nothing else.
SELECT usage.install_counters();
REVOKE ALL ON organizations FROM lms_usage;
GRANT SELECT (id) ON organizations TO lms_usage;
DROP POLICY IF EXISTS usage_reads_registry ON organizations;
CREATE POLICY usage_reads_registry ON organizations AS PERMISSIVE FOR SELECT TO lms_usage
    USING (true);

-- The counters themselves: lms_usage's alone. Row-level security too, so
-- that a grant made by mistake to another role still shows it nothing.
ALTER TABLE usage.row_deltas ENABLE ROW LEVEL SECURITY;
ALTER TABLE usage.row_deltas FORCE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS usage_keeps_counts ON usage.row_deltas;
CREATE POLICY usage_keeps_counts ON usage.row_deltas AS PERMISSIVE FOR ALL TO lms_usage
    USING (true) WITH CHECK (true);
ALTER TABLE usage.last_active ENABLE ROW LEVEL SECURITY;
ALTER TABLE usage.last_active FORCE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS usage_keeps_activity ON usage.last_active;
CREATE POLICY usage_keeps_activity ON usage.last_active AS PERMISSIVE FOR ALL TO lms_usage
    USING (true) WITH CHECK (true);
