//! Ratings and reviews: one per learner and course. The course's average
//! and count are kept by the `reviews_rating` trigger.

use chrono::{DateTime, Utc};
use lms_domain::{CourseId, UserId};
use uuid::Uuid;

use crate::{DbError, TenantTx};

/// A review as read.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ReviewRow {
    /// Id.
    pub id: Uuid,
    /// The course.
    pub course_id: Uuid,
    /// The author.
    pub user_id: Uuid,
    /// The author's display name.
    pub author_name: String,
    /// 1–5.
    pub rating: i16,
    /// Text.
    pub body: Option<String>,
    /// Written.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

const REVIEW_SELECT: &str = "SELECT r.id, r.course_id, r.user_id, \
       btrim(u.first_name || ' ' || u.last_name) AS author_name, r.rating, r.body, r.created_at, r.updated_at \
  FROM reviews r JOIN users u ON u.organization_id = r.organization_id AND u.id = r.user_id";

/// Whether `user` may review `course`: enrolled in it, in any status but
/// DROPPED.
pub async fn may_review(
    tx: &mut TenantTx,
    user: UserId,
    course: CourseId,
) -> Result<bool, DbError> {
    let org = tx.org();
    Ok(sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM enrollments WHERE organization_id = $1 AND user_id = $2 \
                          AND course_id = $3 AND status <> 'DROPPED')",
    )
    .bind(org.as_uuid())
    .bind(user.as_uuid())
    .bind(course.as_uuid())
    .fetch_one(tx.conn())
    .await?)
}

/// Writes a review (the unique key refuses a second one).
pub async fn create(
    tx: &mut TenantTx,
    user: UserId,
    course: CourseId,
    rating: i16,
    body: Option<&str>,
) -> Result<ReviewRow, DbError> {
    let org = tx.org();
    let id = Uuid::now_v7();
    sqlx::query(
        "INSERT INTO reviews (organization_id, id, course_id, user_id, rating, body) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(org.as_uuid())
    .bind(id)
    .bind(course.as_uuid())
    .bind(user.as_uuid())
    .bind(rating)
    .bind(body)
    .execute(tx.conn())
    .await?;
    get(tx, id)
        .await?
        .ok_or(DbError::Other(sqlx::Error::RowNotFound))
}

/// One review.
pub async fn get(tx: &mut TenantTx, id: Uuid) -> Result<Option<ReviewRow>, DbError> {
    let org = tx.org();
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{REVIEW_SELECT} WHERE r.organization_id = $1 AND r.id = $2"
    )))
    .bind(org.as_uuid())
    .bind(id)
    .fetch_optional(tx.conn())
    .await?)
}

/// Changes the caller's own review; `false` when it is not theirs or does
/// not exist (the policy hides others' from the update).
pub async fn update(
    tx: &mut TenantTx,
    id: Uuid,
    rating: Option<i16>,
    body: Option<Option<&str>>,
) -> Result<bool, DbError> {
    let org = tx.org();
    let done = sqlx::query(
        "UPDATE reviews SET rating = COALESCE($3, rating), \
                body = CASE WHEN $4 THEN $5 ELSE body END, updated_at = now() \
          WHERE organization_id = $1 AND id = $2",
    )
    .bind(org.as_uuid())
    .bind(id)
    .bind(rating)
    .bind(body.is_some())
    .bind(body.flatten())
    .execute(tx.conn())
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Deletes the caller's own review; `false` when it is not theirs.
pub async fn delete(tx: &mut TenantTx, id: Uuid) -> Result<Option<CourseId>, DbError> {
    let org = tx.org();
    let course: Option<Uuid> = sqlx::query_scalar(
        "DELETE FROM reviews WHERE organization_id = $1 AND id = $2 RETURNING course_id",
    )
    .bind(org.as_uuid())
    .bind(id)
    .fetch_optional(tx.conn())
    .await?;
    Ok(course.map(CourseId::from_uuid))
}

/// A course's reviews, newest first, by keyset.
pub async fn list(
    tx: &mut TenantTx,
    course: CourseId,
    before: Option<Uuid>,
    limit: i64,
) -> Result<Vec<ReviewRow>, DbError> {
    let org = tx.org();
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{REVIEW_SELECT} WHERE r.organization_id = $1 AND r.course_id = $2 \
            AND ($3::uuid IS NULL OR r.id < $3) ORDER BY r.id DESC LIMIT $4"
    )))
    .bind(org.as_uuid())
    .bind(course.as_uuid())
    .bind(before)
    .bind(limit)
    .fetch_all(tx.conn())
    .await?)
}

/// Whether the course is one the caller may see (live; published unless
/// `drafts`).
pub async fn course_visible(
    tx: &mut TenantTx,
    course: CourseId,
    drafts: bool,
) -> Result<bool, DbError> {
    let org = tx.org();
    Ok(sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM courses WHERE organization_id = $1 AND id = $2 \
                          AND deleted_at IS NULL AND ($3 OR is_published))",
    )
    .bind(org.as_uuid())
    .bind(course.as_uuid())
    .bind(drafts)
    .fetch_one(tx.conn())
    .await?)
}
