-- Learners' progress is not removed by accident: a lesson or section that
-- a learner has progress on cannot be deleted while its course exists (the
-- course's own deletion, a purge or the organization's removal, still
-- takes everything with it). The check runs as the schema owner so that it
-- sees every learner's progress whoever deletes.
CREATE FUNCTION app.content_removal_guard() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, public AS $$
DECLARE
    v_course uuid;
BEGIN
    IF TG_TABLE_NAME = 'lessons' THEN
        v_course := OLD.course_id;
    ELSE
        SELECT l.course_id INTO v_course FROM lessons l
         WHERE l.organization_id = OLD.organization_id AND l.id = OLD.lesson_id;
    END IF;
    IF v_course IS NOT NULL
       AND EXISTS (SELECT 1 FROM courses c WHERE c.organization_id = OLD.organization_id AND c.id = v_course)
       AND EXISTS (SELECT 1 FROM progress p
                    WHERE p.organization_id = OLD.organization_id
                      AND (CASE WHEN TG_TABLE_NAME = 'lessons' THEN p.lesson_id ELSE p.section_id END) = OLD.id)
    THEN
        RAISE EXCEPTION 'learners have progress on this %', rtrim(TG_TABLE_NAME, 's')
            USING ERRCODE = 'restrict_violation', CONSTRAINT = 'content_has_progress';
    END IF;
    RETURN OLD;
END $$;
REVOKE ALL ON FUNCTION app.content_removal_guard() FROM PUBLIC;
CREATE TRIGGER content_removal_guard BEFORE DELETE ON lessons
    FOR EACH ROW EXECUTE FUNCTION app.content_removal_guard();
CREATE TRIGGER content_removal_guard BEFORE DELETE ON sections
    FOR EACH ROW EXECUTE FUNCTION app.content_removal_guard();
