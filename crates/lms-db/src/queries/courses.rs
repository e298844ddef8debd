//! Courses.

use chrono::{DateTime, Utc};
use lms_domain::{CourseId, Difficulty, UserId};
use serde_json::Value;
use uuid::Uuid;

use crate::{DbError, TenantTx};

/// A course as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CourseRow {
    /// Id.
    pub id: Uuid,
    /// Title.
    pub title: String,
    /// Description.
    pub description: String,
    /// Difficulty label.
    pub difficulty: String,
    /// Estimated hours.
    pub estimated_hours: i32,
    /// Cover image.
    pub image_url: Option<String>,
    /// Visible to learners.
    pub is_published: bool,
    /// Free-form metadata.
    pub metadata: Option<Value>,
    /// Mean rating, 0 when unrated.
    pub average_rating: f64,
    /// Number of ratings.
    pub rating_count: i32,
    /// Content version, bumped on every change.
    pub version: i32,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
    /// Author.
    pub created_by: Option<Uuid>,
    /// Last editor.
    pub updated_by: Option<Uuid>,
}

impl CourseRow {
    /// The difficulty, parsed.
    pub fn difficulty(&self) -> Difficulty {
        self.difficulty.parse().unwrap_or(Difficulty::Beginner)
    }
}

macro_rules! course_columns {
    () => {
        "id, title, description, difficulty::text AS difficulty, estimated_hours, image_url, \
         is_published, metadata, average_rating::float8 AS average_rating, rating_count, version, \
         created_at, updated_at, created_by, updated_by"
    };
}

/// A new course.
#[derive(Debug)]
pub struct NewCourse<'a> {
    /// Id to give.
    pub id: CourseId,
    /// Validated title.
    pub title: &'a str,
    /// Description.
    pub description: &'a str,
    /// Difficulty.
    pub difficulty: Difficulty,
    /// Estimated hours (≥ 0).
    pub estimated_hours: i32,
    /// Cover image.
    pub image_url: Option<&'a str>,
    /// Metadata object.
    pub metadata: Option<&'a Value>,
    /// Author.
    pub created_by: UserId,
}

/// Creates a course (as a draft).
pub async fn create(tx: &mut TenantTx, c: &NewCourse<'_>) -> Result<CourseRow, DbError> {
    let org = tx.org();
    Ok(sqlx::query_as(concat!(
        "INSERT INTO courses (organization_id, id, title, description, difficulty, estimated_hours, \
                              image_url, metadata, created_by, updated_by) \
         VALUES ($1, $2, $3, $4, $5::text::difficulty, $6, $7, $8, $9, $9) RETURNING ",
        course_columns!()
    ))
    .bind(org.as_uuid())
    .bind(c.id.as_uuid())
    .bind(c.title)
    .bind(c.description)
    .bind(c.difficulty.as_str())
    .bind(c.estimated_hours)
    .bind(c.image_url)
    .bind(c.metadata)
    .bind(c.created_by.as_uuid())
    .fetch_one(tx.conn())
    .await?)
}

/// A course that is not deleted.
pub async fn get(tx: &mut TenantTx, id: CourseId) -> Result<Option<CourseRow>, DbError> {
    let org = tx.org();
    Ok(sqlx::query_as(concat!(
        "SELECT ",
        course_columns!(),
        " FROM courses WHERE organization_id = $1 AND id = $2 AND deleted_at IS NULL"
    ))
    .bind(org.as_uuid())
    .bind(id.as_uuid())
    .fetch_optional(tx.conn())
    .await?)
}

/// Filters of the course list.
#[derive(Debug, Default)]
pub struct CourseFilter {
    /// Only courses of this difficulty.
    pub difficulty: Option<Difficulty>,
    /// Only published (or only draft) courses.
    pub published: Option<bool>,
    /// Keyset cursor: courses older than this one.
    pub before: Option<CourseId>,
    /// Page size.
    pub limit: i64,
}

/// A page of courses, newest first. UUIDv7 ids are time-ordered, so the id
/// is both the sort key and the cursor.
pub async fn list(tx: &mut TenantTx, f: &CourseFilter) -> Result<Vec<CourseRow>, DbError> {
    let org = tx.org();
    Ok(sqlx::query_as(concat!(
        "SELECT ",
        course_columns!(),
        " FROM courses WHERE organization_id = $1 AND deleted_at IS NULL \
           AND ($2::text IS NULL OR difficulty = $2::text::difficulty) \
           AND ($3::bool IS NULL OR is_published = $3) \
           AND ($4::uuid IS NULL OR id < $4) \
         ORDER BY id DESC LIMIT $5"
    ))
    .bind(org.as_uuid())
    .bind(f.difficulty.map(Difficulty::as_str))
    .bind(f.published)
    .bind(f.before.map(|c| c.as_uuid()))
    .bind(f.limit)
    .fetch_all(tx.conn())
    .await?)
}

/// A partial update: `None` leaves a field as it is; for the nullable
/// fields, `Some(None)` clears it.
#[derive(Debug, Default)]
pub struct CoursePatch<'a> {
    /// New title.
    pub title: Option<&'a str>,
    /// New description.
    pub description: Option<&'a str>,
    /// New difficulty.
    pub difficulty: Option<Difficulty>,
    /// New estimate.
    pub estimated_hours: Option<i32>,
    /// New cover image, or cleared.
    pub image_url: Option<Option<&'a str>>,
    /// New metadata, or cleared.
    pub metadata: Option<Option<&'a Value>>,
    /// Publish or unpublish.
    pub is_published: Option<bool>,
    /// Only apply when the stored version is this one (optimistic locking).
    pub expected_version: Option<i32>,
}

/// Outcome of an update.
#[derive(Debug)]
pub enum UpdateOutcome {
    /// Updated.
    Updated(Box<CourseRow>),
    /// No such course.
    NotFound,
    /// The course exists but its version is not the expected one.
    VersionMismatch,
}

/// Updates a course and bumps its version.
pub async fn update(
    tx: &mut TenantTx,
    id: CourseId,
    by: UserId,
    p: &CoursePatch<'_>,
) -> Result<UpdateOutcome, DbError> {
    let org = tx.org();
    let row: Option<CourseRow> = sqlx::query_as(concat!(
        "UPDATE courses SET \
            title = COALESCE($4, title), \
            description = COALESCE($5, description), \
            difficulty = COALESCE($6::text::difficulty, difficulty), \
            estimated_hours = COALESCE($7, estimated_hours), \
            image_url = CASE WHEN $8 THEN $9 ELSE image_url END, \
            metadata = CASE WHEN $10 THEN $11 ELSE metadata END, \
            is_published = COALESCE($12, is_published), \
            version = version + 1, updated_at = now(), updated_by = $3 \
         WHERE organization_id = $1 AND id = $2 AND deleted_at IS NULL \
           AND ($13::int IS NULL OR version = $13) \
         RETURNING ",
        course_columns!()
    ))
    .bind(org.as_uuid())
    .bind(id.as_uuid())
    .bind(by.as_uuid())
    .bind(p.title)
    .bind(p.description)
    .bind(p.difficulty.map(Difficulty::as_str))
    .bind(p.estimated_hours)
    .bind(p.image_url.is_some())
    .bind(p.image_url.flatten())
    .bind(p.metadata.is_some())
    .bind(p.metadata.flatten())
    .bind(p.is_published)
    .bind(p.expected_version)
    .fetch_optional(tx.conn())
    .await?;
    match row {
        Some(row) => Ok(UpdateOutcome::Updated(Box::new(row))),
        None if p.expected_version.is_some() && get(tx, id).await?.is_some() => {
            Ok(UpdateOutcome::VersionMismatch)
        }
        None => Ok(UpdateOutcome::NotFound),
    }
}

/// Soft-deletes a course. `false` when there was no such (live) course.
pub async fn soft_delete(tx: &mut TenantTx, id: CourseId, by: UserId) -> Result<bool, DbError> {
    let org = tx.org();
    let done = sqlx::query(
        "UPDATE courses SET deleted_at = now(), deleted_by = $3, updated_at = now() \
         WHERE organization_id = $1 AND id = $2 AND deleted_at IS NULL",
    )
    .bind(org.as_uuid())
    .bind(id.as_uuid())
    .bind(by.as_uuid())
    .execute(tx.conn())
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Locks a live course for a change of its children. `false` when missing.
pub async fn lock(tx: &mut TenantTx, id: CourseId) -> Result<bool, DbError> {
    let org = tx.org();
    Ok(sqlx::query_scalar::<_, i32>(
        "SELECT 1 FROM courses WHERE organization_id = $1 AND id = $2 AND deleted_at IS NULL FOR UPDATE",
    )
    .bind(org.as_uuid())
    .bind(id.as_uuid())
    .fetch_optional(tx.conn())
    .await?
    .is_some())
}
