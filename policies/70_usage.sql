-- lms_usage: counts every tenant's rows for usage.tenant_usage (the only
-- object it owns; migrations/0028_tenant_usage.sql) and nothing else. A
-- SELECT policy of its own on every tenant table (usage_counts), the grant
-- to read them, and the schema; no other role inherits it.
DO $$
DECLARE
    t text;
BEGIN
    FOR t IN
        SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = 'public' AND c.relkind = 'r'
           AND EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid
                          AND a.attname = 'organization_id' AND NOT a.attisdropped)
    LOOP
        EXECUTE format('GRANT SELECT ON public.%I TO lms_usage', t);
        EXECUTE format('DROP POLICY IF EXISTS usage_counts ON public.%I', t);
        EXECUTE format('CREATE POLICY usage_counts ON public.%I AS PERMISSIVE FOR SELECT TO lms_usage USING (true)', t);
    END LOOP;
END
$$;
