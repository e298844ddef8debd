-- Tenancy: the tenant registry, the helpers every policy uses, the enums.
--
-- Shared schema, shared tables: every tenant-owned row carries
-- `organization_id`, which leads every primary key, unique constraint and
-- tenant index, and every foreign key between tenant tables is composite
-- (organization_id, x_id) -> (organization_id, id), so a row can never point
-- into another tenant, even through a bug. This is also exactly the shape
-- Citus needs to distribute by organization_id.
--
-- Ids are UUIDv7 made by the application (time-ordered, not enumerable,
-- known before the insert); tables have no id defaults on purpose.

-- GIN indexes whose first column is the tenant (full-text search per tenant).
CREATE EXTENSION IF NOT EXISTS btree_gin;

-- Helpers live in their own schema so that a table can never shadow them.
CREATE SCHEMA app;

-- The tenant of the current transaction. Requests set it with
-- set_config('app.org_id', …, true): transaction-local, so a pooled
-- connection never carries one tenant's context into the next request.
-- current_setting(…, true) is NULL on a fresh connection but '' once the
-- setting was used, hence NULLIF: no setting means NULL, and
-- `organization_id = NULL` matches no row. STABLE, and policies call it as
-- `(SELECT app.current_org_id())` so the planner evaluates it once.
CREATE FUNCTION app.current_org_id() RETURNS uuid
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT NULLIF(current_setting('app.org_id', true), '')::uuid $$;

-- The acting user of the current transaction (audit trail, own-row rules).
CREATE FUNCTION app.current_user_id() RETURNS uuid
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT NULLIF(current_setting('app.user_id', true), '')::uuid $$;

-- A UUIDv7 for rows the database writes itself (audit entries): the
-- millisecond Unix time in the first 48 bits of a random UUID, version bits
-- set to 7.
CREATE FUNCTION app.uuid_v7() RETURNS uuid
    LANGUAGE sql VOLATILE PARALLEL SAFE
    AS $$
        SELECT encode(
            set_bit(set_bit(
                overlay(uuid_send(gen_random_uuid())
                        PLACING substring(int8send((extract(epoch FROM clock_timestamp()) * 1000)::bigint) FROM 3)
                        FROM 1 FOR 6),
                52, 1), 53, 1),
            'hex')::uuid
    $$;

CREATE TYPE org_status AS ENUM ('ACTIVE', 'SUSPENDED');
CREATE TYPE difficulty AS ENUM ('BEGINNER', 'INTERMEDIATE', 'ADVANCED', 'EXPERT');
CREATE TYPE section_type AS ENUM ('TEXT', 'VIDEO', 'AUDIO', 'QUIZ', 'ASSIGNMENT', 'INTERACTIVE', 'CODE_EXERCISE');
CREATE TYPE enrollment_status AS ENUM ('ACTIVE', 'COMPLETED', 'PAUSED', 'DROPPED', 'EXPIRED');
CREATE TYPE audit_action AS ENUM ('CREATE', 'UPDATE', 'DELETE', 'RESTORE');

-- The tenant registry. Not a tenant table (it *is* the tenant), so its key is
-- plain `id`; the slug is the subdomain and therefore globally unique.
CREATE TABLE organizations (
    id         uuid        NOT NULL,
    slug       text        NOT NULL,
    name       text        NOT NULL,
    status     org_status  NOT NULL DEFAULT 'ACTIVE',
    -- Per-organization settings (search language, self sign-up, …).
    settings   jsonb       NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT organizations_pkey PRIMARY KEY (id),
    CONSTRAINT organizations_slug_key UNIQUE (slug),
    -- One DNS label: it becomes <slug>.<base domain>.
    CONSTRAINT organizations_slug_check CHECK (slug ~ '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$'),
    CONSTRAINT organizations_name_check CHECK (length(btrim(name)) BETWEEN 1 AND 200),
    CONSTRAINT organizations_settings_check CHECK (jsonb_typeof(settings) = 'object')
);

-- Custom domains. The one cross-tenant unique constraint of the schema, on
-- purpose: a domain resolves to exactly one tenant. It says nothing about
-- another tenant's data beyond "this name is taken", which DNS says anyway.
CREATE TABLE organization_domains (
    organization_id uuid        NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    domain          text        NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT organization_domains_pkey PRIMARY KEY (organization_id, domain),
    CONSTRAINT organization_domains_domain_key UNIQUE (domain),
    -- Stored normalised, as the resolver compares it.
    CONSTRAINT organization_domains_domain_check CHECK (domain = lower(domain) AND length(domain) <= 253)
);

-- Operators of the platform: outside every tenant.
CREATE TABLE platform_admins (
    id            uuid        NOT NULL,
    email         text        NOT NULL,
    display_name  text        NOT NULL,
    password_hash text        NOT NULL,
    is_active     boolean     NOT NULL DEFAULT true,
    last_login_at timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT platform_admins_pkey PRIMARY KEY (id),
    CONSTRAINT platform_admins_email_key UNIQUE (email),
    CONSTRAINT platform_admins_email_check CHECK (email = lower(btrim(email)) AND length(email) <= 320)
);
