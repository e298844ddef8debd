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

-- One trigger function for every table: TG_ARGV[0] is the kind, TG_ARGV[1]
-- the column naming the user (for `actor`), if any. It announces the old
-- row and the new one (a row can move between users or tenants).
CREATE FUNCTION app.invalidation_trigger() RETURNS trigger LANGUAGE plpgsql
    SET search_path = pg_catalog, public AS $$
DECLARE
    kind text := TG_ARGV[0];
    user_column text := TG_ARGV[1];
    r jsonb;
BEGIN
    FOREACH r IN ARRAY ARRAY[
        CASE WHEN TG_OP <> 'INSERT' THEN to_jsonb(OLD) END,
        CASE WHEN TG_OP <> 'DELETE' THEN to_jsonb(NEW) END
    ] LOOP
        CONTINUE WHEN r IS NULL;
        PERFORM pg_notify('lms_invalidation', jsonb_strip_nulls(jsonb_build_object(
            'kind', kind,
            -- The registry row is the organization itself.
            'org', COALESCE(r ->> 'organization_id', r ->> 'id'),
            'user', CASE WHEN user_column IS NOT NULL THEN r ->> user_column END
        ))::text);
    END LOOP;
    RETURN NULL;
END $$;

-- organizations: status or slug changed, or the organization left.
CREATE TRIGGER organizations_invalidation
    AFTER UPDATE OF status, slug OR DELETE ON organizations
    FOR EACH ROW EXECUTE FUNCTION app.invalidation_trigger('tenant');

-- organization_domains: a custom domain added, moved or removed.
CREATE TRIGGER organization_domains_invalidation
    AFTER INSERT OR UPDATE OR DELETE ON organization_domains
    FOR EACH ROW EXECUTE FUNCTION app.invalidation_trigger('tenant');

-- users: deactivated, reactivated or removed.
CREATE TRIGGER users_deactivation_invalidation
    AFTER UPDATE OF is_active ON users
    FOR EACH ROW WHEN (OLD.is_active IS DISTINCT FROM NEW.is_active)
    EXECUTE FUNCTION app.invalidation_trigger('actor', 'id');
CREATE TRIGGER users_removal_invalidation
    AFTER DELETE ON users
    FOR EACH ROW EXECUTE FUNCTION app.invalidation_trigger('actor', 'id');

-- user_roles: a role given or taken.
CREATE TRIGGER user_roles_invalidation
    AFTER INSERT OR UPDATE OR DELETE ON user_roles
    FOR EACH ROW EXECUTE FUNCTION app.invalidation_trigger('actor', 'user_id');

-- roles: what a role grants changed, or the role went.
CREATE TRIGGER roles_permissions_invalidation
    AFTER UPDATE OF permissions ON roles
    FOR EACH ROW WHEN (OLD.permissions IS DISTINCT FROM NEW.permissions)
    EXECUTE FUNCTION app.invalidation_trigger('actors');
CREATE TRIGGER roles_removal_invalidation
    AFTER DELETE ON roles
    FOR EACH ROW EXECUTE FUNCTION app.invalidation_trigger('actors');

-- auth_sessions: a session ended (logout, password change, refresh-token
-- reuse, deactivation) or was removed.
CREATE TRIGGER auth_sessions_revocation_invalidation
    AFTER UPDATE OF revoked_at ON auth_sessions
    FOR EACH ROW WHEN (OLD.revoked_at IS DISTINCT FROM NEW.revoked_at)
    EXECUTE FUNCTION app.invalidation_trigger('actor', 'user_id');
CREATE TRIGGER auth_sessions_removal_invalidation
    AFTER DELETE ON auth_sessions
    FOR EACH ROW EXECUTE FUNCTION app.invalidation_trigger('actor', 'user_id');
