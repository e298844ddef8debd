-- The operators' statement statistics, read through functions owned by
-- lms_monitor (which has the privileges of pg_read_all_stats and
-- pg_read_all_settings; deploy/postgres/roles.sql): the platform role calls
-- them and reads nothing else of the server's statistics with those
-- privileges.
CREATE SCHEMA monitor;
GRANT USAGE ON SCHEMA monitor TO lms_platform, lms_monitor;

-- Whether the server loads pg_stat_statements and the database has it.
CREATE FUNCTION monitor.statements_available() RETURNS boolean
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, public
    AS $$
        SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_stat_statements')
           AND current_setting('shared_preload_libraries') LIKE '%pg_stat_statements%'
    $$;

-- The slowest statements of this database by mean time.
CREATE FUNCTION monitor.slowest_statements(p_min_mean_ms double precision, p_limit integer)
    RETURNS TABLE (query text, calls bigint, total_ms double precision,
                   mean_ms double precision, rows bigint)
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, public
    AS $$
BEGIN
    RETURN QUERY EXECUTE
        'SELECT s.query, s.calls, s.total_exec_time, s.mean_exec_time, s.rows
           FROM public.pg_stat_statements s
          WHERE s.dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
            AND s.mean_exec_time >= $1
          ORDER BY s.mean_exec_time DESC LIMIT $2'
        USING p_min_mean_ms, p_limit;
END $$;

REVOKE ALL ON FUNCTION monitor.statements_available() FROM PUBLIC;
REVOKE ALL ON FUNCTION monitor.slowest_statements(double precision, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION monitor.statements_available() TO lms_platform;
GRANT EXECUTE ON FUNCTION monitor.slowest_statements(double precision, integer) TO lms_platform;
GRANT CREATE ON SCHEMA monitor TO lms_monitor;
ALTER FUNCTION monitor.statements_available() OWNER TO lms_monitor;
ALTER FUNCTION monitor.slowest_statements(double precision, integer) OWNER TO lms_monitor;
REVOKE CREATE ON SCHEMA monitor FROM lms_monitor;
