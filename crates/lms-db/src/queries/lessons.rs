//! Lessons of a course.

use chrono::{DateTime, Utc};
use lms_domain::{CourseId, LessonId};
use uuid::Uuid;

use crate::{DbError, TenantTx};

/// A lesson as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
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
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

/// Appends a lesson at the end of a course. The caller has locked the
/// course ([`super::courses::lock`]), so concurrent appends queue instead of
/// colliding on the position.
pub async fn append(
    tx: &mut TenantTx,
    course: CourseId,
    id: LessonId,
    title: &str,
    description: Option<&str>,
    is_required: bool,
) -> Result<LessonRow, DbError> {
    let org = tx.org();
    Ok(sqlx::query_as(
        "INSERT INTO lessons (organization_id, id, course_id, title, description, position, is_required) \
         VALUES ($1, $2, $3, $4, $5, \
                 (SELECT COALESCE(max(position) + 1, 0) FROM lessons WHERE organization_id = $1 AND course_id = $3), \
                 $6) \
         RETURNING id, course_id, title, description, position, is_required, created_at, updated_at",
    )
    .bind(org.as_uuid())
    .bind(id.as_uuid())
    .bind(course.as_uuid())
    .bind(title)
    .bind(description)
    .bind(is_required)
    .fetch_one(tx.conn())
    .await?)
}

/// The lessons of a course, in order.
pub async fn list(tx: &mut TenantTx, course: CourseId) -> Result<Vec<LessonRow>, DbError> {
    let org = tx.org();
    Ok(sqlx::query_as(
        "SELECT id, course_id, title, description, position, is_required, created_at, updated_at \
         FROM lessons WHERE organization_id = $1 AND course_id = $2 ORDER BY position",
    )
    .bind(org.as_uuid())
    .bind(course.as_uuid())
    .fetch_all(tx.conn())
    .await?)
}
