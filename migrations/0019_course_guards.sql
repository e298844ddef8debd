-- What a course's staff may not write: its rating aggregate (kept by the
-- reviews trigger, running as the schema owner) and its author (the
-- creating user, then fixed).
CREATE FUNCTION app.courses_guard() RETURNS trigger LANGUAGE plpgsql
    SET search_path = pg_catalog, public AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        IF NEW.rating_count <> 0 OR NEW.rating_sum <> 0 OR NEW.average_rating <> 0 THEN
            RAISE EXCEPTION 'a course starts unrated' USING ERRCODE = 'insufficient_privilege';
        END IF;
        IF current_user <> 'lms_owner' AND app.current_user_id() IS NOT NULL THEN
            NEW.created_by := app.current_user_id();
        END IF;
    ELSE
        IF current_user <> 'lms_owner'
           AND (NEW.rating_count, NEW.rating_sum, NEW.average_rating)
               IS DISTINCT FROM (OLD.rating_count, OLD.rating_sum, OLD.average_rating) THEN
            RAISE EXCEPTION 'ratings are kept by reviews' USING ERRCODE = 'insufficient_privilege';
        END IF;
        NEW.created_by := OLD.created_by;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER courses_guard BEFORE INSERT OR UPDATE ON courses
    FOR EACH ROW EXECUTE FUNCTION app.courses_guard();

-- Who teaches what is part of the trail.
CREATE TRIGGER course_staff_audit AFTER INSERT OR UPDATE OR DELETE ON course_staff
    FOR EACH ROW EXECUTE FUNCTION app.audit_trigger();
