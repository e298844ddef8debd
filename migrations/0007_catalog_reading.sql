-- Catalog reading: derived estimates, sort indexes, search per language.

-- An estimate nobody set is derived from the sections' durations (rounded up
-- to whole hours) instead of claiming "0 hours". NULL now means "derive".
ALTER TABLE courses ALTER COLUMN estimated_hours DROP NOT NULL;
ALTER TABLE courses ALTER COLUMN estimated_hours DROP DEFAULT;
-- A data change across every tenant. The owner is subject to the forced
-- policies too (it has no tenant context here, so it would see no rows):
-- lift FORCE for this one statement; the policies run re-applies it anyway.
-- audit_logs too: the audit trigger records each changed course (actor
-- NULL: the system, not a user), and that insert would otherwise fail the
-- tenant check of audit_logs.
ALTER TABLE courses NO FORCE ROW LEVEL SECURITY;
ALTER TABLE audit_logs NO FORCE ROW LEVEL SECURITY;
UPDATE courses SET estimated_hours = NULL WHERE estimated_hours = 0;
ALTER TABLE audit_logs FORCE ROW LEVEL SECURITY;
ALTER TABLE courses FORCE ROW LEVEL SECURITY;

-- Sort orders of the catalog, each with the id as tie-breaker so keyset
-- pagination is exact. Live courses only, like the catalog.
CREATE INDEX courses_title_sort_idx ON courses (organization_id, lower(title), id) WHERE deleted_at IS NULL;
CREATE INDEX courses_rating_sort_idx ON courses (organization_id, average_rating DESC, id DESC) WHERE deleted_at IS NULL;

-- Search ranks a match in the title above one in the description: the
-- vector weighs them A and B. (The generated column is rebuilt; its index
-- with it.)
DROP INDEX courses_search_idx;
ALTER TABLE courses DROP COLUMN search_vector;
ALTER TABLE courses ADD COLUMN search_vector tsvector GENERATED ALWAYS AS (
    setweight(to_tsvector(search_language, title), 'A') ||
    setweight(to_tsvector(search_language, description), 'B')
) STORED;
-- The tenant is the first column of the GIN index (btree_gin), so one
-- tenant's search never walks another tenant's postings.
CREATE INDEX courses_search_idx ON courses USING gin (organization_id, search_vector);
