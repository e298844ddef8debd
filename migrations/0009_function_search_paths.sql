-- Functions that name tables resolve them through a fixed search_path, so a
-- session cannot redirect them (to a temporary table of the same name, say)
-- by changing its own. Runtime roles also lose the TEMP privilege
-- (deploy/postgres/roles.sql); this closes the other half.
ALTER FUNCTION app.actor_has(text) SET search_path = pg_catalog, public;
ALTER FUNCTION app.apply_rating(uuid, uuid, integer, integer) SET search_path = pg_catalog, public;
ALTER FUNCTION app.reviews_rating_trigger() SET search_path = pg_catalog, public;
ALTER FUNCTION app.audit_trigger() SET search_path = pg_catalog, public;
