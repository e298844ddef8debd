//! Hierarchical categories and tags, and their links to courses.

use chrono::{DateTime, Utc};
use lms_domain::{CategoryId, CourseId, TagId, UserId};
use uuid::Uuid;

use crate::{DbError, TenantTx};

/// A category as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CategoryRow {
    /// Id.
    pub id: Uuid,
    /// Name.
    pub name: String,
    /// Slug, unique in the organization.
    pub slug: String,
    /// Description.
    pub description: Option<String>,
    /// Parent category.
    pub parent_id: Option<Uuid>,
    /// Colour, `#rrggbb`.
    pub color: Option<String>,
    /// Icon name.
    pub icon: Option<String>,
    /// Live courses filed directly under it (published ones only, for
    /// viewers who do not see drafts).
    pub course_count: i64,
    /// Version, moved by every change.
    pub version: i32,
    /// Creation time.
    pub created_at: DateTime<Utc>,
}

const CATEGORY_COLUMNS: &str = "c.id, c.name, c.slug, c.description, c.parent_id, c.color, c.icon, \
     (SELECT count(*) FROM course_categories cc JOIN courses co \
        ON co.organization_id = cc.organization_id AND co.id = cc.course_id AND co.deleted_at IS NULL \
             AND ($2 OR co.is_published) \
       WHERE cc.organization_id = c.organization_id AND cc.category_id = c.id) AS course_count, \
     c.version, c.created_at";

/// A new or changed category.
#[derive(Debug)]
pub struct CategoryFields<'a> {
    /// Name.
    pub name: &'a str,
    /// Slug.
    pub slug: &'a str,
    /// Description.
    pub description: Option<&'a str>,
    /// Parent.
    pub parent_id: Option<CategoryId>,
    /// Colour.
    pub color: Option<&'a str>,
    /// Icon.
    pub icon: Option<&'a str>,
}

/// Every category of the organization, by name.
pub async fn list(tx: &mut TenantTx, drafts: bool) -> Result<Vec<CategoryRow>, DbError> {
    let org = tx.org();
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {CATEGORY_COLUMNS} FROM categories c WHERE c.organization_id = $1 AND c.deleted_at IS NULL \
         ORDER BY lower(c.name), c.id"
    )))
    .bind(org.as_uuid())
    .bind(drafts)
    .fetch_all(tx.conn())
    .await?)
}

/// One category.
pub async fn get(tx: &mut TenantTx, id: CategoryId) -> Result<Option<CategoryRow>, DbError> {
    let org = tx.org();
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {CATEGORY_COLUMNS} FROM categories c WHERE c.organization_id = $1 AND c.id = $3 \
           AND c.deleted_at IS NULL"
    )))
    .bind(org.as_uuid())
    .bind(true)
    .bind(id.as_uuid())
    .fetch_optional(tx.conn())
    .await?)
}

/// Creates a category.
pub async fn create(
    tx: &mut TenantTx,
    id: CategoryId,
    f: &CategoryFields<'_>,
) -> Result<(), DbError> {
    let org = tx.org();
    sqlx::query(
        "INSERT INTO categories (organization_id, id, name, slug, description, parent_id, color, icon) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(org.as_uuid())
    .bind(id.as_uuid())
    .bind(f.name)
    .bind(f.slug)
    .bind(f.description)
    .bind(f.parent_id.map(|p| p.as_uuid()))
    .bind(f.color)
    .bind(f.icon)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Replaces a category's fields; `false` when there is none.
pub async fn update(
    tx: &mut TenantTx,
    id: CategoryId,
    f: &CategoryFields<'_>,
) -> Result<bool, DbError> {
    let org = tx.org();
    let done = sqlx::query(
        "UPDATE categories SET name = $3, slug = $4, description = $5, parent_id = $6, color = $7, icon = $8, \
                updated_at = now() WHERE organization_id = $1 AND id = $2",
    )
    .bind(org.as_uuid())
    .bind(id.as_uuid())
    .bind(f.name)
    .bind(f.slug)
    .bind(f.description)
    .bind(f.parent_id.map(|p| p.as_uuid()))
    .bind(f.color)
    .bind(f.icon)
    .execute(tx.conn())
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Whether `candidate` is `id` itself or one of its descendants: moving `id`
/// under it would make a cycle.
pub async fn is_self_or_descendant(
    tx: &mut TenantTx,
    id: CategoryId,
    candidate: CategoryId,
) -> Result<bool, DbError> {
    let org = tx.org();
    Ok(sqlx::query_scalar(
        "WITH RECURSIVE sub AS ( \
             SELECT id FROM categories WHERE organization_id = $1 AND id = $2 \
             UNION \
             SELECT ch.id FROM categories ch JOIN sub ON ch.parent_id = sub.id WHERE ch.organization_id = $1) \
         SELECT EXISTS (SELECT 1 FROM sub WHERE id = $3)",
    )
    .bind(org.as_uuid())
    .bind(id.as_uuid())
    .bind(candidate.as_uuid())
    .fetch_one(tx.conn())
    .await?)
}

/// Serialises category moves within a tenant: two concurrent moves could
/// otherwise each pass the cycle check and make a cycle together.
pub async fn lock_tree(tx: &mut TenantTx) -> Result<(), DbError> {
    let org = tx.org();
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended('categories:' || $1::text, 0))")
        .bind(org.as_uuid())
        .execute(tx.conn())
        .await?;
    Ok(())
}

/// Locks a category for its deletion, then the live courses filed under
/// it, with their versions: deleting the category changes their trees, so
/// their versions move. `None` when there is no such category.
///
/// The category is locked first, as [`hold`] does when a course is filed
/// under it: a filing racing the deletion either lands before it (and its
/// course is locked here) or finds the category gone.
pub async fn lock_courses_of_category(
    tx: &mut TenantTx,
    id: CategoryId,
) -> Result<Option<Vec<(CourseId, i32)>>, DbError> {
    lock_linked_courses(
        tx,
        "SELECT 1 FROM categories WHERE organization_id = $1 AND id = $2 FOR UPDATE",
        "SELECT c.id, c.version FROM courses c \
           JOIN course_categories l ON l.organization_id = c.organization_id AND l.course_id = c.id \
          WHERE c.organization_id = $1 AND l.category_id = $2 AND c.deleted_at IS NULL \
          ORDER BY c.id FOR UPDATE OF c",
        id.as_uuid(),
    )
    .await
}

/// Locks the tag for its deletion, then the live courses carrying it (see
/// [`lock_courses_of_category`]).
pub async fn lock_courses_of_tag(
    tx: &mut TenantTx,
    id: TagId,
) -> Result<Option<Vec<(CourseId, i32)>>, DbError> {
    lock_linked_courses(
        tx,
        "SELECT 1 FROM tags WHERE organization_id = $1 AND id = $2 FOR UPDATE",
        "SELECT c.id, c.version FROM courses c \
           JOIN course_tags l ON l.organization_id = c.organization_id AND l.course_id = c.id \
          WHERE c.organization_id = $1 AND l.tag_id = $2 AND c.deleted_at IS NULL \
          ORDER BY c.id FOR UPDATE OF c",
        id.as_uuid(),
    )
    .await
}

async fn lock_linked_courses(
    tx: &mut TenantTx,
    lock_link: &'static str,
    lock_courses: &'static str,
    id: Uuid,
) -> Result<Option<Vec<(CourseId, i32)>>, DbError> {
    let org = tx.org();
    let found = sqlx::query(lock_link)
        .bind(org.as_uuid())
        .bind(id)
        .fetch_optional(tx.conn())
        .await?;
    if found.is_none() {
        return Ok(None);
    }
    let rows: Vec<(Uuid, i32)> = sqlx::query_as(lock_courses)
        .bind(org.as_uuid())
        .bind(id)
        .fetch_all(tx.conn())
        .await?;
    Ok(Some(
        rows.into_iter()
            .map(|(c, v)| (CourseId::from_uuid(c), v))
            .collect(),
    ))
}

/// Holds a category while a course is filed under it (`FOR KEY SHARE`,
/// taken before the course's lock); `false` when there is no such category.
pub async fn hold(tx: &mut TenantTx, id: CategoryId) -> Result<bool, DbError> {
    let org = tx.org();
    let found = sqlx::query(
        "SELECT 1 FROM categories WHERE organization_id = $1 AND id = $2 AND deleted_at IS NULL \
         FOR KEY SHARE",
    )
    .bind(org.as_uuid())
    .bind(id.as_uuid())
    .fetch_optional(tx.conn())
    .await?;
    Ok(found.is_some())
}

/// Moves a category to the trash; its children move up to its parent.
/// Its course links stay (hidden) for a restore.
pub async fn delete(tx: &mut TenantTx, id: CategoryId, by: UserId) -> Result<bool, DbError> {
    let org = tx.org();
    let gone: Option<(Option<Uuid>,)> = sqlx::query_as(
        "UPDATE categories SET deleted_at = now(), deleted_by = $3 \
          WHERE organization_id = $1 AND id = $2 AND deleted_at IS NULL RETURNING parent_id",
    )
    .bind(org.as_uuid())
    .bind(id.as_uuid())
    .bind(by.as_uuid())
    .fetch_optional(tx.conn())
    .await?;
    let Some((parent,)) = gone else {
        return Ok(false);
    };
    sqlx::query(
        "UPDATE categories SET parent_id = $3 \
          WHERE organization_id = $1 AND parent_id = $2 AND deleted_at IS NULL",
    )
    .bind(org.as_uuid())
    .bind(id.as_uuid())
    .bind(parent)
    .execute(tx.conn())
    .await?;
    Ok(true)
}

/// Brings a category back from the trash, under its parent when that is
/// still live (else at the top). `false` when there was none.
pub async fn restore(tx: &mut TenantTx, id: CategoryId) -> Result<bool, DbError> {
    let org = tx.org();
    let done = sqlx::query(
        "UPDATE categories c SET deleted_at = NULL, deleted_by = NULL, \
                parent_id = (SELECT p.id FROM categories p WHERE p.organization_id = c.organization_id \
                              AND p.id = c.parent_id AND p.deleted_at IS NULL) \
          WHERE c.organization_id = $1 AND c.id = $2 AND c.deleted_at IS NOT NULL",
    )
    .bind(org.as_uuid())
    .bind(id.as_uuid())
    .execute(tx.conn())
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Deletes a category for real, with its course links; `false` when there
/// was none.
pub async fn purge(tx: &mut TenantTx, id: CategoryId) -> Result<bool, DbError> {
    let org = tx.org();
    let done = sqlx::query("DELETE FROM categories WHERE organization_id = $1 AND id = $2")
        .bind(org.as_uuid())
        .bind(id.as_uuid())
        .execute(tx.conn())
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Files a course under a category (idempotent).
pub async fn attach(tx: &mut TenantTx, course: CourseId, id: CategoryId) -> Result<(), DbError> {
    let org = tx.org();
    sqlx::query(
        "INSERT INTO course_categories (organization_id, course_id, category_id) VALUES ($1, $2, $3) \
         ON CONFLICT DO NOTHING",
    )
    .bind(org.as_uuid())
    .bind(course.as_uuid())
    .bind(id.as_uuid())
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Takes a course out of a category; `false` when it was not in it.
pub async fn detach(tx: &mut TenantTx, course: CourseId, id: CategoryId) -> Result<bool, DbError> {
    let org = tx.org();
    let done = sqlx::query(
        "DELETE FROM course_categories WHERE organization_id = $1 AND course_id = $2 AND category_id = $3",
    )
    .bind(org.as_uuid())
    .bind(course.as_uuid())
    .bind(id.as_uuid())
    .execute(tx.conn())
    .await?;
    Ok(done.rows_affected() == 1)
}

/// A tag as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TagRow {
    /// Id.
    pub id: Uuid,
    /// Name, unique in the organization regardless of case.
    pub name: String,
    /// Colour, `#rrggbb`.
    pub color: Option<String>,
    /// Live courses carrying it.
    pub course_count: i64,
}

/// Every tag, by name; counts published courses only unless `drafts`.
pub async fn list_tags(tx: &mut TenantTx, drafts: bool) -> Result<Vec<TagRow>, DbError> {
    let org = tx.org();
    Ok(sqlx::query_as(
        "SELECT t.id, t.name, t.color, \
                (SELECT count(*) FROM course_tags ct JOIN courses co \
                    ON co.organization_id = ct.organization_id AND co.id = ct.course_id AND co.deleted_at IS NULL \
                   AND ($2 OR co.is_published) \
                  WHERE ct.organization_id = t.organization_id AND ct.tag_id = t.id) AS course_count \
           FROM tags t WHERE t.organization_id = $1 ORDER BY lower(t.name)",
    )
    .bind(org.as_uuid())
    .bind(drafts)
    .fetch_all(tx.conn())
    .await?)
}

/// Creates a tag.
pub async fn create_tag(
    tx: &mut TenantTx,
    id: TagId,
    name: &str,
    color: Option<&str>,
) -> Result<(), DbError> {
    let org = tx.org();
    sqlx::query("INSERT INTO tags (organization_id, id, name, color) VALUES ($1, $2, $3, $4)")
        .bind(org.as_uuid())
        .bind(id.as_uuid())
        .bind(name)
        .bind(color)
        .execute(tx.conn())
        .await?;
    Ok(())
}

/// Holds a tag while a course is given it (see [`hold`]); `false` when
/// there is no such tag.
pub async fn hold_tag(tx: &mut TenantTx, id: TagId) -> Result<bool, DbError> {
    let org = tx.org();
    let found =
        sqlx::query("SELECT 1 FROM tags WHERE organization_id = $1 AND id = $2 FOR KEY SHARE")
            .bind(org.as_uuid())
            .bind(id.as_uuid())
            .fetch_optional(tx.conn())
            .await?;
    Ok(found.is_some())
}

/// Deletes a tag (it comes off every course).
pub async fn delete_tag(tx: &mut TenantTx, id: TagId) -> Result<bool, DbError> {
    let org = tx.org();
    let done = sqlx::query("DELETE FROM tags WHERE organization_id = $1 AND id = $2")
        .bind(org.as_uuid())
        .bind(id.as_uuid())
        .execute(tx.conn())
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Tags a course (idempotent).
pub async fn attach_tag(tx: &mut TenantTx, course: CourseId, id: TagId) -> Result<(), DbError> {
    let org = tx.org();
    sqlx::query(
        "INSERT INTO course_tags (organization_id, course_id, tag_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
    )
    .bind(org.as_uuid())
    .bind(course.as_uuid())
    .bind(id.as_uuid())
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Untags a course; `false` when it did not carry the tag.
pub async fn detach_tag(tx: &mut TenantTx, course: CourseId, id: TagId) -> Result<bool, DbError> {
    let org = tx.org();
    let done = sqlx::query(
        "DELETE FROM course_tags WHERE organization_id = $1 AND course_id = $2 AND tag_id = $3",
    )
    .bind(org.as_uuid())
    .bind(course.as_uuid())
    .bind(id.as_uuid())
    .execute(tx.conn())
    .await?;
    Ok(done.rows_affected() == 1)
}
