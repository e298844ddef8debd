//! Course staff: who owns, teaches and assists each course.

use chrono::{DateTime, Utc};
use lms_domain::{CourseId, UserId};
use uuid::Uuid;

use crate::{DbError, TenantTx};

/// A member of a course's staff.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StaffRow {
    /// The user.
    pub user_id: Uuid,
    /// Their name.
    pub name: String,
    /// Their e-mail.
    pub email: String,
    /// `OWNER`, `INSTRUCTOR` or `ASSISTANT`.
    pub role: String,
    /// Since.
    pub added_at: DateTime<Utc>,
}

/// Gives `user` the staff `role` on `course` (or changes it).
pub async fn set(
    tx: &mut TenantTx,
    course: CourseId,
    user: UserId,
    role: &str,
) -> Result<(), DbError> {
    let org = tx.org();
    sqlx::query(
        "INSERT INTO course_staff (organization_id, course_id, user_id, role) \
         VALUES ($1, $2, $3, $4::text::course_staff_role) \
         ON CONFLICT (organization_id, course_id, user_id) DO UPDATE SET role = EXCLUDED.role",
    )
    .bind(org.as_uuid())
    .bind(course.as_uuid())
    .bind(user.as_uuid())
    .bind(role)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Takes `user` off the staff. `false` when they were not on it.
pub async fn remove(tx: &mut TenantTx, course: CourseId, user: UserId) -> Result<bool, DbError> {
    let org = tx.org();
    let done = sqlx::query(
        "DELETE FROM course_staff WHERE organization_id = $1 AND course_id = $2 AND user_id = $3",
    )
    .bind(org.as_uuid())
    .bind(course.as_uuid())
    .bind(user.as_uuid())
    .execute(tx.conn())
    .await?;
    Ok(done.rows_affected() == 1)
}

/// The staff of a course: owners first, then by name.
pub async fn list(tx: &mut TenantTx, course: CourseId) -> Result<Vec<StaffRow>, DbError> {
    let org = tx.org();
    Ok(sqlx::query_as(
        "SELECT s.user_id, btrim(u.first_name || ' ' || u.last_name) AS name, u.email, \
                s.role::text AS role, s.added_at \
           FROM course_staff s JOIN users u ON u.organization_id = s.organization_id AND u.id = s.user_id \
          WHERE s.organization_id = $1 AND s.course_id = $2 \
          ORDER BY s.role, lower(u.last_name), lower(u.first_name), s.user_id",
    )
    .bind(org.as_uuid())
    .bind(course.as_uuid())
    .fetch_all(tx.conn())
    .await?)
}

/// `user`'s staff role on `course`.
pub async fn role_of(
    tx: &mut TenantTx,
    course: CourseId,
    user: UserId,
) -> Result<Option<String>, DbError> {
    let org = tx.org();
    Ok(sqlx::query_scalar(
        "SELECT role::text FROM course_staff \
          WHERE organization_id = $1 AND course_id = $2 AND user_id = $3",
    )
    .bind(org.as_uuid())
    .bind(course.as_uuid())
    .bind(user.as_uuid())
    .fetch_optional(tx.conn())
    .await?)
}

/// How many owners `course` has.
pub async fn owners(tx: &mut TenantTx, course: CourseId) -> Result<i64, DbError> {
    let org = tx.org();
    Ok(sqlx::query_scalar(
        "SELECT count(*) FROM course_staff \
          WHERE organization_id = $1 AND course_id = $2 AND role = 'OWNER'",
    )
    .bind(org.as_uuid())
    .bind(course.as_uuid())
    .fetch_one(tx.conn())
    .await?)
}

/// Locks the staff list of `course` (rows the caller may change), so that
/// two owners leaving at once cannot leave it without one.
pub async fn lock(tx: &mut TenantTx, course: CourseId) -> Result<(), DbError> {
    let org = tx.org();
    sqlx::query(
        "SELECT 1 FROM course_staff WHERE organization_id = $1 AND course_id = $2 \
          ORDER BY user_id FOR UPDATE",
    )
    .bind(org.as_uuid())
    .bind(course.as_uuid())
    .fetch_all(tx.conn())
    .await?;
    Ok(())
}
