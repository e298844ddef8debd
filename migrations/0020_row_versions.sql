-- Optimistic concurrency for the content and identity rows that clients
-- edit: each carries a version, moved by the database on every change of
-- its content (bookkeeping columns aside), so a client that read version N
-- can ask to change it only if it is still N (If-Match, or `version` in
-- the body) and never loses another's update.
ALTER TABLE lessons ADD COLUMN version integer NOT NULL DEFAULT 1;
ALTER TABLE sections ADD COLUMN version integer NOT NULL DEFAULT 1;
ALTER TABLE categories ADD COLUMN version integer NOT NULL DEFAULT 1;
ALTER TABLE roles ADD COLUMN version integer NOT NULL DEFAULT 1;
ALTER TABLE users ADD COLUMN version integer NOT NULL DEFAULT 1;

CREATE FUNCTION app.row_version() RETURNS trigger LANGUAGE plpgsql
    SET search_path = pg_catalog, public AS $$
DECLARE
    bookkeeping text[] := ARRAY['version', 'updated_at', 'last_login_at', 'password_hash'];
BEGIN
    IF (to_jsonb(NEW) - bookkeeping) IS DISTINCT FROM (to_jsonb(OLD) - bookkeeping) THEN
        NEW.version := OLD.version + 1;
    ELSE
        NEW.version := OLD.version;
    END IF;
    RETURN NEW;
END $$;
-- Named to run after the other BEFORE triggers of each table (they run by
-- name), so it sees their changes.
CREATE TRIGGER zz_row_version BEFORE UPDATE ON lessons
    FOR EACH ROW EXECUTE FUNCTION app.row_version();
CREATE TRIGGER zz_row_version BEFORE UPDATE ON sections
    FOR EACH ROW EXECUTE FUNCTION app.row_version();
CREATE TRIGGER zz_row_version BEFORE UPDATE ON categories
    FOR EACH ROW EXECUTE FUNCTION app.row_version();
CREATE TRIGGER zz_row_version BEFORE UPDATE ON roles
    FOR EACH ROW EXECUTE FUNCTION app.row_version();
CREATE TRIGGER zz_row_version BEFORE UPDATE ON users
    FOR EACH ROW EXECUTE FUNCTION app.row_version();
