-- An enrollment's start is the database's clock: set on creation and on a
-- restart (a DROPPED or EXPIRED enrollment becoming ACTIVE again), kept
-- otherwise. Drip schedules count from it, so no writer may move it.
CREATE FUNCTION app.enrollments_started() RETURNS trigger LANGUAGE plpgsql
    SET search_path = pg_catalog, public AS $$
BEGIN
    IF TG_OP = 'INSERT'
       OR (OLD.status IN ('DROPPED', 'EXPIRED') AND NEW.status = 'ACTIVE') THEN
        NEW.enrolled_at := now();
    ELSE
        NEW.enrolled_at := OLD.enrolled_at;
    END IF;
    RETURN NEW;
END $$;
-- Named to fire after enrollments_guard (BEFORE triggers run by name).
CREATE TRIGGER enrollments_started BEFORE INSERT OR UPDATE ON enrollments
    FOR EACH ROW EXECUTE FUNCTION app.enrollments_started();
