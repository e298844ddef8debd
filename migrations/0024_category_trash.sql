-- Deleted categories wait in the trash like courses: hidden from every
-- read, restorable with their course links until the organization's
-- retention period passes. A slug is unique among live categories only, so
-- a deleted one does not block its reuse (restoring it then conflicts).
ALTER TABLE categories
    ADD COLUMN deleted_at timestamptz,
    ADD COLUMN deleted_by uuid,
    ADD CONSTRAINT categories_deleted_check CHECK (deleted_by IS NULL OR deleted_at IS NOT NULL),
    ADD CONSTRAINT categories_deleted_by_fkey FOREIGN KEY (organization_id, deleted_by)
        REFERENCES users (organization_id, id) ON DELETE SET NULL (deleted_by);
ALTER TABLE categories DROP CONSTRAINT categories_slug_key;
CREATE UNIQUE INDEX categories_slug_key ON categories (organization_id, slug) WHERE deleted_at IS NULL;
CREATE INDEX categories_deleted_by_idx ON categories (organization_id, deleted_by);
CREATE INDEX categories_trash_idx ON categories (organization_id, deleted_at DESC, id DESC)
    WHERE deleted_at IS NOT NULL;
CREATE INDEX courses_trash_idx ON courses (organization_id, deleted_at DESC, id DESC)
    WHERE deleted_at IS NOT NULL;
