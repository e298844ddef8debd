-- Roles of Tenantry LMS, and what they may do in this database.
--
-- Run by `lms migrate` before the migrations, as the administrative user of
-- DATABASE_URL (a superuser, or a user with CREATEROLE that owns the
-- database). Idempotent: safe on every run and on every database of a
-- cluster (roles are cluster-wide; the grants below are per database).
--
--   lms_owner     owns the schema and every object in it; migrations run as
--                 this role (SET ROLE). NOLOGIN, and *not* BYPASSRLS: the
--                 policies are FORCEd, so even the owner sees no tenant rows
--                 without a tenant context.
--   lms_app       the runtime role of tenant requests. LOGIN, owns nothing,
--                 DML only, every row filtered by row-level security.
--   lms_platform  the runtime role of the platform API. Writes the registry
--                 tables (organizations, their domains, the platform admins
--                 and their audit trail); reads tenant rows, only inside a
--                 tenant context, and writes none (see lms_steward).
--   lms_usage     NOLOGIN, owns one function only (usage.tenant_usage): it
--                 counts the rows of every tenant and returns numbers, never
--                 rows. Nobody logs in as it or inherits it.
--   lms_steward   NOLOGIN, owns the few functions of schema `steward` through
--                 which the platform role writes inside a tenant (seeding a
--                 new organization, the periodic housekeeping, re-indexing
--                 the catalog in a new language); lms_platform itself only
--                 reads tenant rows.
--   lms_importer  NOLOGIN, owns the functions of schema `import` through
--                 which an exported organization is loaded as a new one (ids
--                 kept, rows written as they were: it may turn triggers off
--                 for its own statements, `session_replication_role`, and
--                 checks every foreign key itself afterwards).
--
-- Passwords are not set here: that is the operator's business (or trust /
-- certificate authentication), and a password in a versioned file would be
-- a leak.

DO $$
DECLARE
    r record;
BEGIN
    FOR r IN SELECT * FROM (VALUES
        ('lms_owner',    'NOLOGIN'),
        ('lms_app',      'LOGIN'),
        ('lms_platform', 'LOGIN'),
        ('lms_usage',    'NOLOGIN'),
        ('lms_steward',  'NOLOGIN'),
        ('lms_importer', 'NOLOGIN')) AS t(name, login)
    LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r.name) THEN
            BEGIN
                EXECUTE format('CREATE ROLE %I %s NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE NOINHERIT',
                               r.name, r.login);
            EXCEPTION WHEN duplicate_object OR unique_violation THEN
                NULL; -- created concurrently by a run on another database
            END;
        END IF;
    END LOOP;
END
$$;

-- A role that already existed (made by hand, or by an older script) must
-- not carry an attribute that voids row-level security: a superuser or
-- BYPASSRLS runtime role would see every tenant. Corrected only when it
-- differs, so a normal run writes nothing cluster-wide. Changing SUPERUSER
-- or BYPASSRLS needs a superuser: run by a mere CREATEROLE user, this fails
-- loudly instead of migrating a database that would not be isolated.
DO $$
DECLARE
    r record;
BEGIN
    FOR r IN SELECT rolname FROM pg_roles
              WHERE rolname IN ('lms_owner', 'lms_app', 'lms_platform', 'lms_usage', 'lms_steward', 'lms_importer')
                AND (rolsuper OR rolbypassrls OR rolcreatedb OR rolcreaterole OR rolreplication)
    LOOP
        EXECUTE format('ALTER ROLE %I NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE NOREPLICATION',
                       r.rolname);
    END LOOP;
END
$$;

-- The migrating user must be able to SET ROLE lms_owner. A superuser always
-- can. From PostgreSQL 16 on, membership and the right to SET ROLE are
-- separate (a CREATEROLE user is an ADMIN-only member of the roles it
-- creates), so ask for the SET right where it exists.
DO $$
DECLARE
    can_set boolean;
BEGIN
    IF current_setting('server_version_num')::int >= 160000 THEN
        EXECUTE 'SELECT pg_has_role(current_user, ''lms_owner'', ''SET'')' INTO can_set;
    ELSE
        can_set := pg_has_role(current_user, 'lms_owner', 'MEMBER');
    END IF;
    IF NOT can_set THEN
        BEGIN
            EXECUTE format('GRANT lms_owner TO %I', current_user);
        EXCEPTION WHEN duplicate_object OR unique_violation THEN
            NULL; -- granted concurrently
        END;
    END IF;
END
$$;

-- Database level: the owner may create the `app` schema and the trusted
-- extension btree_gin; the runtime roles may connect, nothing more.
DO $$
BEGIN
    EXECUTE format('GRANT CONNECT, CREATE ON DATABASE %I TO lms_owner', current_database());
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO lms_app, lms_platform', current_database());
    -- No temporary tables for anyone by default: the runtime roles need
    -- none, and a temporary table can shadow a table name.
    EXECUTE format('REVOKE TEMPORARY ON DATABASE %I FROM PUBLIC', current_database());
END
$$;

-- Schema `public`: only the owner creates objects in it (PostgreSQL 15
-- already revokes CREATE from PUBLIC; older clusters and restored dumps may
-- not have).
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE, CREATE ON SCHEMA public TO lms_owner;
GRANT USAGE ON SCHEMA public TO lms_app, lms_platform, lms_usage, lms_steward, lms_importer;

-- The owner hands usage.tenant_usage to lms_usage and the steward functions
-- to lms_steward (ALTER FUNCTION … OWNER needs membership); NOINHERIT keeps
-- the owner from using their rights.
DO $$
DECLARE
    r text;
BEGIN
    FOREACH r IN ARRAY ARRAY['lms_usage', 'lms_steward', 'lms_importer'] LOOP
        IF NOT pg_has_role('lms_owner', r, 'MEMBER') THEN
            BEGIN
                EXECUTE format('GRANT %I TO lms_owner', r);
            EXCEPTION WHEN duplicate_object OR unique_violation THEN
                NULL;
            END;
        END IF;
    END LOOP;
END
$$;

-- Monitoring: lms_monitor (NOLOGIN, INHERIT: it has the privileges of
-- pg_read_all_stats and pg_read_all_settings) owns the functions that read
-- the statement statistics for the operators' endpoints; the runtime roles
-- stay NOINHERIT and read through those functions only. The statement
-- statistics exist where the server loads pg_stat_statements (the embedded
-- cluster does; elsewhere the endpoint answers 503
-- `extension_unavailable`). Creating the extension needs a superuser: a
-- mere CREATEROLE administrator skips it.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'lms_monitor') THEN
        BEGIN
            CREATE ROLE lms_monitor NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE INHERIT;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN
            NULL;
        END;
    END IF;
    IF NOT pg_has_role('lms_monitor', 'pg_read_all_stats', 'MEMBER') THEN
        GRANT pg_read_all_stats TO lms_monitor;
    END IF;
    IF NOT pg_has_role('lms_monitor', 'pg_read_all_settings', 'MEMBER') THEN
        GRANT pg_read_all_settings TO lms_monitor;
    END IF;
    IF NOT pg_has_role('lms_owner', 'lms_monitor', 'MEMBER') THEN
        GRANT lms_monitor TO lms_owner;
    END IF;
EXCEPTION WHEN unique_violation OR duplicate_object THEN
    NULL;
END
$$;
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'pg_stat_statements')
       AND NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_stat_statements')
       AND (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
        CREATE EXTENSION IF NOT EXISTS pg_stat_statements;
    END IF;
EXCEPTION WHEN insufficient_privilege OR unique_violation OR duplicate_object THEN
    NULL;
END
$$;

-- An import writes the rows of an archive as they were, without the
-- triggers that would judge them as new writes: lms_importer may set
-- `session_replication_role` (PostgreSQL 15's parameter privileges), which
-- only a superuser may grant. Under a mere CREATEROLE administrator the
-- grant is skipped and imports answer 503 `import_unavailable`.
DO $$
BEGIN
    IF (SELECT rolsuper FROM pg_roles WHERE rolname = current_user)
       AND NOT has_parameter_privilege('lms_importer', 'session_replication_role', 'SET') THEN
        GRANT SET ON PARAMETER session_replication_role TO lms_importer;
    END IF;
END
$$;
