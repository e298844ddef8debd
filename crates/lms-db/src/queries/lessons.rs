//! Lessons of a course.

use chrono::{DateTime, Utc};
use lms_domain::{CourseId, LessonId};
use uuid::Uuid;

use super::ordering::{self, Ordered};
use crate::{DbError, TenantTx};

/// A lesson as stored.
#[derive(Debug, Clone, sqlx::FromRow, serde::Deserialize)]
pub struct LessonRow {
    /// Id.
    pub id: Uuid,
    /// Its course.
    pub course_id: Uuid,
    /// Title.
    pub title: String,
    /// Description.
    pub description: Option<String>,
    /// Position in the course, from 0, dense.
    pub position: i32,
    /// Counts towards completion.
    pub is_required: bool,
    /// Drip: opens this many days after the learner enrolled.
    pub unlock_after_days: Option<i32>,
    /// Drip: opens at this time.
    pub unlock_at: Option<DateTime<Utc>>,
    /// Version, moved by every change (absent from older snapshots).
    #[serde(default = "first_version")]
    pub version: i32,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

const COLUMNS: &str = "id, course_id, title, description, position, is_required, \
                       unlock_after_days, unlock_at, version, created_at, updated_at";

/// The version of a row written before rows had versions.
pub(crate) fn first_version() -> i32 {
    1
}

/// A new lesson.
#[derive(Debug)]
pub struct NewLesson<'a> {
    /// Id to give.
    pub id: LessonId,
    /// Title.
    pub title: &'a str,
    /// Description.
    pub description: Option<&'a str>,
    /// Counts towards completion.
    pub is_required: bool,
    /// Drip: days after enrollment.
    pub unlock_after_days: Option<i32>,
    /// Drip: date.
    pub unlock_at: Option<DateTime<Utc>>,
    /// Where to insert (default: at the end).
    pub position: Option<i32>,
}

/// Inserts a lesson at its position, shifting the ones after it. The caller
/// has locked the course ([`super::courses::lock`]).
pub async fn insert(
    tx: &mut TenantTx,
    course: CourseId,
    l: &NewLesson<'_>,
) -> Result<LessonRow, DbError> {
    let org = tx.org();
    let at = ordering::open_gap(tx, Ordered::Lessons, course.as_uuid(), l.position).await?;
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "INSERT INTO lessons (organization_id, id, course_id, title, description, position, is_required, \
                              unlock_after_days, unlock_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING {COLUMNS}"
    )))
    .bind(org.as_uuid())
    .bind(l.id.as_uuid())
    .bind(course.as_uuid())
    .bind(l.title)
    .bind(l.description)
    .bind(at)
    .bind(l.is_required)
    .bind(l.unlock_after_days)
    .bind(l.unlock_at)
    .fetch_one(tx.conn())
    .await?)
}

/// One lesson of a course.
pub async fn get(
    tx: &mut TenantTx,
    course: CourseId,
    id: LessonId,
) -> Result<Option<LessonRow>, DbError> {
    let org = tx.org();
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM lessons WHERE organization_id = $1 AND course_id = $2 AND id = $3 \
         AND deleted_at IS NULL"
    )))
    .bind(org.as_uuid())
    .bind(course.as_uuid())
    .bind(id.as_uuid())
    .fetch_optional(tx.conn())
    .await?)
}

/// One lesson of a course, locked for a change of its sections.
pub async fn lock(tx: &mut TenantTx, course: CourseId, id: LessonId) -> Result<bool, DbError> {
    let org = tx.org();
    Ok(sqlx::query_scalar::<_, i32>(
        "SELECT 1 FROM lessons WHERE organization_id = $1 AND course_id = $2 AND id = $3 \
         AND deleted_at IS NULL FOR UPDATE",
    )
    .bind(org.as_uuid())
    .bind(course.as_uuid())
    .bind(id.as_uuid())
    .fetch_optional(tx.conn())
    .await?
    .is_some())
}

/// The lessons of a course, in order.
pub async fn list(tx: &mut TenantTx, course: CourseId) -> Result<Vec<LessonRow>, DbError> {
    let org = tx.org();
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM lessons WHERE organization_id = $1 AND course_id = $2 \
         AND deleted_at IS NULL ORDER BY position"
    )))
    .bind(org.as_uuid())
    .bind(course.as_uuid())
    .fetch_all(tx.conn())
    .await?)
}

/// Changes to a lesson: `None` leaves a field as it is; for the nullable
/// fields, `Some(None)` clears it.
#[derive(Debug, Default)]
pub struct LessonPatch<'a> {
    /// New title.
    pub title: Option<&'a str>,
    /// New description, or cleared.
    pub description: Option<Option<&'a str>>,
    /// Required or not.
    pub is_required: Option<bool>,
    /// Drip days, or cleared.
    pub unlock_after_days: Option<Option<i32>>,
    /// Drip date, or cleared.
    pub unlock_at: Option<Option<DateTime<Utc>>>,
}

/// Changes a lesson.
pub async fn update(
    tx: &mut TenantTx,
    course: CourseId,
    id: LessonId,
    p: &LessonPatch<'_>,
) -> Result<Option<LessonRow>, DbError> {
    let org = tx.org();
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "UPDATE lessons SET title = COALESCE($4, title), \
                description = CASE WHEN $5 THEN $6 ELSE description END, \
                is_required = COALESCE($7, is_required), \
                unlock_after_days = CASE WHEN $8 THEN $9 ELSE unlock_after_days END, \
                unlock_at = CASE WHEN $10 THEN $11 ELSE unlock_at END, updated_at = now() \
          WHERE organization_id = $1 AND course_id = $2 AND id = $3 AND deleted_at IS NULL \
          RETURNING {COLUMNS}"
    )))
    .bind(org.as_uuid())
    .bind(course.as_uuid())
    .bind(id.as_uuid())
    .bind(p.title)
    .bind(p.description.is_some())
    .bind(p.description.flatten())
    .bind(p.is_required)
    .bind(p.unlock_after_days.is_some())
    .bind(p.unlock_after_days.flatten())
    .bind(p.unlock_at.is_some())
    .bind(p.unlock_at.flatten())
    .fetch_optional(tx.conn())
    .await?)
}
