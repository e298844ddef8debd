-- Cache invalidation from the database itself.
--
-- Every replica caches how hosts resolve to tenants and what each caller
-- may do, and drops an entry when it hears a notice on the channel
-- `lms_invalidation` (crates/lms-api/src/coherence.rs). The API sends those
-- notices from its unit of work; the triggers below send them too, for every
-- change of the rows those caches are built from, whoever makes it: the
-- API, a migration, or an operator's SQL session. NOTIFY is transactional,
-- so a notice is delivered when, and only if, its change commits, and
-- identical notices of one transaction are delivered once.
--
-- A notice names a kind and ids, never data (anyone who may LISTEN on the
-- database hears it). The payloads are the JSON the listener decodes:
--   {"kind": "tenant", "org": …}           an organization's status, slug or domains
--   {"kind": "actor", "org": …, "user": …} what one user may do (active flag,
--                                          roles, sessions)
--   {"kind": "actors", "org": …}           what a role grants (every user of the tenant)

CREATE FUNCTION app.notify_invalidation(kind text, org uuid, usr uuid DEFAULT NULL) RETURNS void
    LANGUAGE sql VOLATILE
    SET search_path = pg_catalog, public
    AS $$
        SELECT pg_notify('lms_invalidation',
            CASE WHEN usr IS NULL
                 THEN jsonb_build_object('kind', kind, 'org', org)
                 ELSE jsonb_build_object('kind', kind, 'org', org, 'user', usr)
            END::text)
    $$;

-- organizations: status or slug changed, or the organization left.
CREATE FUNCTION app.organizations_invalidation() RETURNS trigger LANGUAGE plpgsql
    SET search_path = pg_catalog, public AS $$
BEGIN
    PERFORM app.notify_invalidation('tenant', OLD.id);
    RETURN NULL;
END $$;
CREATE TRIGGER organizations_invalidation
    AFTER UPDATE OF status, slug OR DELETE ON organizations
    FOR EACH ROW EXECUTE FUNCTION app.organizations_invalidation();

-- organization_domains: a custom domain added, moved or removed.
CREATE FUNCTION app.organization_domains_invalidation() RETURNS trigger LANGUAGE plpgsql
    SET search_path = pg_catalog, public AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        PERFORM app.notify_invalidation('tenant', OLD.organization_id);
    END IF;
    IF TG_OP <> 'DELETE' THEN
        PERFORM app.notify_invalidation('tenant', NEW.organization_id);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER organization_domains_invalidation
    AFTER INSERT OR UPDATE OR DELETE ON organization_domains
    FOR EACH ROW EXECUTE FUNCTION app.organization_domains_invalidation();

-- users: deactivated, reactivated or removed.
CREATE FUNCTION app.users_invalidation() RETURNS trigger LANGUAGE plpgsql
    SET search_path = pg_catalog, public AS $$
BEGIN
    IF TG_OP = 'DELETE' OR OLD.is_active IS DISTINCT FROM NEW.is_active THEN
        PERFORM app.notify_invalidation('actor', OLD.organization_id, OLD.id);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER users_invalidation
    AFTER UPDATE OF is_active OR DELETE ON users
    FOR EACH ROW EXECUTE FUNCTION app.users_invalidation();

-- user_roles: a role given or taken.
CREATE FUNCTION app.user_roles_invalidation() RETURNS trigger LANGUAGE plpgsql
    SET search_path = pg_catalog, public AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        PERFORM app.notify_invalidation('actor', OLD.organization_id, OLD.user_id);
    END IF;
    IF TG_OP <> 'DELETE' THEN
        PERFORM app.notify_invalidation('actor', NEW.organization_id, NEW.user_id);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER user_roles_invalidation
    AFTER INSERT OR UPDATE OR DELETE ON user_roles
    FOR EACH ROW EXECUTE FUNCTION app.user_roles_invalidation();

-- roles: what a role grants changed, or the role went.
CREATE FUNCTION app.roles_invalidation() RETURNS trigger LANGUAGE plpgsql
    SET search_path = pg_catalog, public AS $$
BEGIN
    IF TG_OP = 'DELETE' OR OLD.permissions IS DISTINCT FROM NEW.permissions THEN
        PERFORM app.notify_invalidation('actors', OLD.organization_id);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER roles_invalidation
    AFTER UPDATE OF permissions OR DELETE ON roles
    FOR EACH ROW EXECUTE FUNCTION app.roles_invalidation();

-- auth_sessions: a session ended (logout, password change, refresh-token
-- reuse, deactivation).
CREATE FUNCTION app.auth_sessions_invalidation() RETURNS trigger LANGUAGE plpgsql
    SET search_path = pg_catalog, public AS $$
BEGIN
    IF TG_OP = 'DELETE' OR OLD.revoked_at IS DISTINCT FROM NEW.revoked_at THEN
        PERFORM app.notify_invalidation('actor', OLD.organization_id, OLD.user_id);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER auth_sessions_invalidation
    AFTER UPDATE OF revoked_at OR DELETE ON auth_sessions
    FOR EACH ROW EXECUTE FUNCTION app.auth_sessions_invalidation();
