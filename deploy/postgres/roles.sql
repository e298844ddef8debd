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
--   lms_platform  the runtime role of the platform API. Like lms_app, plus
--                 the registry tables (organizations, their domains, the
--                 platform admins); tenant rows still only inside a tenant
--                 context.

DO $$
DECLARE
    r record;
BEGIN
    FOR r IN SELECT * FROM (VALUES
        ('lms_owner',    'NOLOGIN'),
        ('lms_app',      'LOGIN'),
        ('lms_platform', 'LOGIN')) AS t(name, login)
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

-- The migrating user must be able to SET ROLE lms_owner.
DO $$
BEGIN
    IF NOT pg_has_role(current_user, 'lms_owner', 'MEMBER') THEN
        EXECUTE format('GRANT lms_owner TO %I', current_user);
    END IF;
END
$$;

-- Database level: the owner may create the `app` schema and trusted
-- extensions; the runtime roles may connect.
DO $$
BEGIN
    EXECUTE format('GRANT CONNECT, CREATE ON DATABASE %I TO lms_owner', current_database());
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO lms_app, lms_platform', current_database());
END
$$;

-- Schema `public`: only the owner creates objects in it.
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE, CREATE ON SCHEMA public TO lms_owner;
GRANT USAGE ON SCHEMA public TO lms_app, lms_platform;
