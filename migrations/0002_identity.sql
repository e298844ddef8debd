-- Identity: users, roles, their links, profiles. All tenant tables.

-- A person is a user *of one organization*: the same address in two
-- tenants is two users, each with its own password and roles. Emails are
-- stored normalised (trimmed, lower-case) and unique per organization only:
-- a global unique constraint would tell tenant B that an address exists in
-- tenant A.
CREATE TABLE users (
    organization_id uuid        NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    id              uuid        NOT NULL,
    email           text        NOT NULL,
    username        text,
    first_name      text        NOT NULL,
    last_name       text        NOT NULL,
    avatar_url      text,
    -- NULL for an invited user who has not set a password yet.
    password_hash   text,
    is_active       boolean     NOT NULL DEFAULT true,
    last_login_at   timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT users_pkey PRIMARY KEY (organization_id, id),
    CONSTRAINT users_email_key UNIQUE (organization_id, email),
    CONSTRAINT users_username_key UNIQUE (organization_id, username),
    CONSTRAINT users_email_check CHECK (email = lower(btrim(email)) AND length(email) BETWEEN 3 AND 320),
    CONSTRAINT users_first_name_check CHECK (length(first_name) BETWEEN 1 AND 200),
    CONSTRAINT users_last_name_check CHECK (length(last_name) BETWEEN 1 AND 200),
    CONSTRAINT users_username_check CHECK (username IS NULL OR length(username) BETWEEN 1 AND 64)
);

-- Login looks up active users by e-mail (the seed's most frequent query).
CREATE INDEX users_login_idx ON users (organization_id, email) WHERE is_active;
CREATE INDEX users_active_idx ON users (organization_id, is_active);

-- Per-organization roles; `permissions` is a JSON array of permission
-- strings (`course:write`, …). System roles are the defaults every
-- organization starts with.
CREATE TABLE roles (
    organization_id uuid        NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    id              uuid        NOT NULL,
    name            text        NOT NULL,
    description     text,
    permissions     jsonb       NOT NULL DEFAULT '[]',
    is_system       boolean     NOT NULL DEFAULT false,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT roles_pkey PRIMARY KEY (organization_id, id),
    CONSTRAINT roles_name_key UNIQUE (organization_id, name),
    CONSTRAINT roles_name_check CHECK (length(btrim(name)) BETWEEN 1 AND 64),
    CONSTRAINT roles_permissions_check CHECK (jsonb_typeof(permissions) = 'array')
);

-- Which user holds which role. The pair is the key: the seed's surrogate id
-- added nothing but a second way to say the same thing.
CREATE TABLE user_roles (
    organization_id uuid        NOT NULL,
    user_id         uuid        NOT NULL,
    role_id         uuid        NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT user_roles_pkey PRIMARY KEY (organization_id, user_id, role_id),
    CONSTRAINT user_roles_user_fkey FOREIGN KEY (organization_id, user_id)
        REFERENCES users (organization_id, id) ON DELETE CASCADE,
    CONSTRAINT user_roles_role_fkey FOREIGN KEY (organization_id, role_id)
        REFERENCES roles (organization_id, id) ON DELETE CASCADE
);
-- "Who holds this role" (role deletion, role filters on user lists).
CREATE INDEX user_roles_role_idx ON user_roles (organization_id, role_id);

-- One profile per user; the user's key is the profile's key.
CREATE TABLE user_profiles (
    organization_id uuid        NOT NULL,
    user_id         uuid        NOT NULL,
    bio             text,
    location        text,
    website         text,
    social_links    jsonb,
    preferences     jsonb,
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT user_profiles_pkey PRIMARY KEY (organization_id, user_id),
    CONSTRAINT user_profiles_user_fkey FOREIGN KEY (organization_id, user_id)
        REFERENCES users (organization_id, id) ON DELETE CASCADE,
    CONSTRAINT user_profiles_bio_check CHECK (bio IS NULL OR length(bio) <= 5000),
    CONSTRAINT user_profiles_social_links_check CHECK (social_links IS NULL OR jsonb_typeof(social_links) = 'object'),
    CONSTRAINT user_profiles_preferences_check CHECK (preferences IS NULL OR jsonb_typeof(preferences) = 'object')
);
