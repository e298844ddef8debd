-- Sessions and refresh tokens, for tenant users and for platform admins.
--
-- A session is one login: its id travels in every access token (`sid`), so
-- revoking the session (logout, password change, deactivation, refresh-token
-- reuse) stops its access tokens at once, not when they expire. Refresh
-- tokens rotate: each works once and is replaced by a new one of the same
-- session; presenting a spent one again means it was stolen, and the whole
-- session (the token family) is revoked.
--
-- Tokens are stored as SHA-256 digests: they are 256-bit random values, so a
-- fast hash is enough, and a leaked table holds nothing usable.

CREATE TABLE auth_sessions (
    organization_id uuid        NOT NULL,
    id              uuid        NOT NULL,
    user_id         uuid        NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    last_used_at    timestamptz NOT NULL DEFAULT now(),
    revoked_at      timestamptz,
    CONSTRAINT auth_sessions_pkey PRIMARY KEY (organization_id, id),
    CONSTRAINT auth_sessions_user_fkey FOREIGN KEY (organization_id, user_id)
        REFERENCES users (organization_id, id) ON DELETE CASCADE
);
-- "Revoke every session of this user" (password change, deactivation).
CREATE INDEX auth_sessions_user_idx ON auth_sessions (organization_id, user_id) WHERE revoked_at IS NULL;

CREATE TABLE refresh_tokens (
    organization_id uuid        NOT NULL,
    id              uuid        NOT NULL,
    session_id      uuid        NOT NULL,
    token_hash      bytea       NOT NULL,
    issued_at       timestamptz NOT NULL DEFAULT now(),
    expires_at      timestamptz NOT NULL,
    used_at         timestamptz,
    CONSTRAINT refresh_tokens_pkey PRIMARY KEY (organization_id, id),
    CONSTRAINT refresh_tokens_hash_key UNIQUE (organization_id, token_hash),
    CONSTRAINT refresh_tokens_hash_check CHECK (length(token_hash) = 32),
    CONSTRAINT refresh_tokens_expiry_check CHECK (expires_at > issued_at),
    CONSTRAINT refresh_tokens_session_fkey FOREIGN KEY (organization_id, session_id)
        REFERENCES auth_sessions (organization_id, id) ON DELETE CASCADE
);
CREATE INDEX refresh_tokens_session_idx ON refresh_tokens (organization_id, session_id);

-- The same for platform admins, outside every tenant.
CREATE TABLE platform_sessions (
    id           uuid        NOT NULL,
    admin_id     uuid        NOT NULL REFERENCES platform_admins (id) ON DELETE CASCADE,
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz NOT NULL DEFAULT now(),
    revoked_at   timestamptz,
    CONSTRAINT platform_sessions_pkey PRIMARY KEY (id)
);
CREATE INDEX platform_sessions_admin_idx ON platform_sessions (admin_id) WHERE revoked_at IS NULL;

CREATE TABLE platform_refresh_tokens (
    id          uuid        NOT NULL,
    session_id  uuid        NOT NULL REFERENCES platform_sessions (id) ON DELETE CASCADE,
    token_hash  bytea       NOT NULL,
    issued_at   timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz,
    CONSTRAINT platform_refresh_tokens_pkey PRIMARY KEY (id),
    CONSTRAINT platform_refresh_tokens_hash_key UNIQUE (token_hash),
    CONSTRAINT platform_refresh_tokens_hash_check CHECK (length(token_hash) = 32),
    CONSTRAINT platform_refresh_tokens_expiry_check CHECK (expires_at > issued_at)
);
CREATE INDEX platform_refresh_tokens_session_idx ON platform_refresh_tokens (session_id);

-- Does the acting user hold `permission` through any of their roles? Used
-- by the own-rows policies (policies/40_learning.sql): a learner sees only
-- their own enrollments, progress and sessions; a holder of the permission
-- sees the tenant's. Runs as the caller, under the tenant policies of
-- user_roles and roles. STABLE: policies call it once per statement as
-- `(SELECT app.actor_has(…))`.
CREATE FUNCTION app.actor_has(permission text) RETURNS boolean
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$
        SELECT EXISTS (
            SELECT 1
              FROM user_roles ur
              JOIN roles r ON r.organization_id = ur.organization_id AND r.id = ur.role_id
             WHERE ur.organization_id = app.current_org_id()
               AND ur.user_id = app.current_user_id()
               AND r.permissions ? permission
        )
    $$;

-- Users can be searched by name and e-mail within a tenant.
CREATE INDEX users_created_idx ON users (organization_id, id DESC);
