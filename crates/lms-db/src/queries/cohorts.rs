//! Cohorts: named groups of users, enrolled in courses as a whole.

use chrono::{DateTime, Utc};
use lms_domain::{CourseId, UserId};
use uuid::Uuid;

use crate::{DbError, TenantTx};

/// A cohort with its sizes.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CohortRow {
    /// Id.
    pub id: Uuid,
    /// Name, unique in the tenant whatever the case.
    pub name: String,
    /// Description.
    pub description: Option<String>,
    /// Members.
    pub member_count: i64,
    /// Courses.
    pub course_count: i64,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change of name or description.
    pub updated_at: DateTime<Utc>,
}

const COLUMNS: &str = "h.id, h.name, h.description, \
     (SELECT count(*) FROM cohort_members m WHERE m.organization_id = h.organization_id AND m.cohort_id = h.id) AS member_count, \
     (SELECT count(*) FROM cohort_courses k WHERE k.organization_id = h.organization_id AND k.cohort_id = h.id) AS course_count, \
     h.created_at, h.updated_at";

/// Creates a cohort.
pub async fn create(
    tx: &mut TenantTx,
    name: &str,
    description: Option<&str>,
    by: UserId,
) -> Result<CohortRow, DbError> {
    let org = tx.org();
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "INSERT INTO cohorts AS h (organization_id, id, name, description, created_by) \
         VALUES ($1, $2, $3, $4, $5) RETURNING {COLUMNS}"
    )))
    .bind(org.as_uuid())
    .bind(Uuid::now_v7())
    .bind(name)
    .bind(description)
    .bind(by.as_uuid())
    .fetch_one(tx.conn())
    .await?)
}

/// One cohort.
pub async fn get(tx: &mut TenantTx, id: Uuid) -> Result<Option<CohortRow>, DbError> {
    let org = tx.org();
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM cohorts h WHERE h.organization_id = $1 AND h.id = $2"
    )))
    .bind(org.as_uuid())
    .bind(id)
    .fetch_optional(tx.conn())
    .await?)
}

/// Cohorts by id (creation order), after `after`.
pub async fn list(
    tx: &mut TenantTx,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<CohortRow>, DbError> {
    let org = tx.org();
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM cohorts h WHERE h.organization_id = $1 AND ($2::uuid IS NULL OR h.id > $2) \
         ORDER BY h.id LIMIT $3"
    )))
    .bind(org.as_uuid())
    .bind(after)
    .bind(limit)
    .fetch_all(tx.conn())
    .await?)
}

/// Renames or redescribes a cohort; `None` leaves a field, `Some(None)`
/// clears the description.
pub async fn update(
    tx: &mut TenantTx,
    id: Uuid,
    name: Option<&str>,
    description: Option<Option<&str>>,
) -> Result<Option<CohortRow>, DbError> {
    let org = tx.org();
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "UPDATE cohorts AS h SET name = COALESCE($3, h.name), \
                description = CASE WHEN $4 THEN $5 ELSE h.description END, updated_at = now() \
          WHERE h.organization_id = $1 AND h.id = $2 RETURNING {COLUMNS}"
    )))
    .bind(org.as_uuid())
    .bind(id)
    .bind(name)
    .bind(description.is_some())
    .bind(description.flatten())
    .fetch_optional(tx.conn())
    .await?)
}

/// Removes a cohort with its memberships and course links (enrollments
/// stay). `false` when there was none.
pub async fn delete(tx: &mut TenantTx, id: Uuid) -> Result<bool, DbError> {
    let org = tx.org();
    let done = sqlx::query("DELETE FROM cohorts WHERE organization_id = $1 AND id = $2")
        .bind(org.as_uuid())
        .bind(id)
        .execute(tx.conn())
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Locks a cohort, so that members and courses added at the same time
/// are serialized and none misses the other's enrollments. `false` when
/// there is no such cohort.
pub async fn lock(tx: &mut TenantTx, id: Uuid) -> Result<bool, DbError> {
    let org = tx.org();
    Ok(
        sqlx::query("SELECT 1 FROM cohorts WHERE organization_id = $1 AND id = $2 FOR UPDATE")
            .bind(org.as_uuid())
            .bind(id)
            .fetch_optional(tx.conn())
            .await?
            .is_some(),
    )
}

/// Adds members; returns those who were not members yet.
pub async fn add_members(
    tx: &mut TenantTx,
    cohort: Uuid,
    users: &[Uuid],
) -> Result<Vec<Uuid>, DbError> {
    let org = tx.org();
    Ok(sqlx::query_scalar(
        "INSERT INTO cohort_members (organization_id, cohort_id, user_id) \
         SELECT $1, $2, u FROM unnest($3::uuid[]) AS u \
         ON CONFLICT DO NOTHING RETURNING user_id",
    )
    .bind(org.as_uuid())
    .bind(cohort)
    .bind(users)
    .fetch_all(tx.conn())
    .await?)
}

/// Removes a member (their enrollments stay). `false` when they were not one.
pub async fn remove_member(tx: &mut TenantTx, cohort: Uuid, user: Uuid) -> Result<bool, DbError> {
    let org = tx.org();
    let done = sqlx::query(
        "DELETE FROM cohort_members WHERE organization_id = $1 AND cohort_id = $2 AND user_id = $3",
    )
    .bind(org.as_uuid())
    .bind(cohort)
    .bind(user)
    .execute(tx.conn())
    .await?;
    Ok(done.rows_affected() == 1)
}

/// A member of a cohort.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct MemberRow {
    /// The user.
    pub user_id: Uuid,
    /// Their name.
    pub name: String,
    /// Their e-mail.
    pub email: String,
    /// Whether the account is active.
    pub is_active: bool,
    /// Joined the cohort.
    pub added_at: DateTime<Utc>,
}

/// Members by user id, after `after`.
pub async fn members(
    tx: &mut TenantTx,
    cohort: Uuid,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<MemberRow>, DbError> {
    let org = tx.org();
    Ok(sqlx::query_as(
        "SELECT m.user_id, btrim(u.first_name || ' ' || u.last_name) AS name, u.email, u.is_active, m.added_at \
           FROM cohort_members m JOIN users u ON u.organization_id = m.organization_id AND u.id = m.user_id \
          WHERE m.organization_id = $1 AND m.cohort_id = $2 AND ($3::uuid IS NULL OR m.user_id > $3) \
          ORDER BY m.user_id LIMIT $4",
    )
    .bind(org.as_uuid())
    .bind(cohort)
    .bind(after)
    .bind(limit)
    .fetch_all(tx.conn())
    .await?)
}

/// The active members, to enroll.
pub async fn active_member_ids(tx: &mut TenantTx, cohort: Uuid) -> Result<Vec<UserId>, DbError> {
    let org = tx.org();
    let ids: Vec<Uuid> = sqlx::query_scalar(
        "SELECT m.user_id FROM cohort_members m \
           JOIN users u ON u.organization_id = m.organization_id AND u.id = m.user_id \
          WHERE m.organization_id = $1 AND m.cohort_id = $2 AND u.is_active ORDER BY m.user_id",
    )
    .bind(org.as_uuid())
    .bind(cohort)
    .fetch_all(tx.conn())
    .await?;
    Ok(ids.into_iter().map(UserId::from_uuid).collect())
}

/// Links a course; `false` when it was linked already.
pub async fn add_course(
    tx: &mut TenantTx,
    cohort: Uuid,
    course: CourseId,
) -> Result<bool, DbError> {
    let org = tx.org();
    let done = sqlx::query(
        "INSERT INTO cohort_courses (organization_id, cohort_id, course_id) VALUES ($1, $2, $3) \
         ON CONFLICT DO NOTHING",
    )
    .bind(org.as_uuid())
    .bind(cohort)
    .bind(course.as_uuid())
    .execute(tx.conn())
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Unlinks a course (enrollments stay). `false` when it was not linked.
pub async fn remove_course(
    tx: &mut TenantTx,
    cohort: Uuid,
    course: CourseId,
) -> Result<bool, DbError> {
    let org = tx.org();
    let done = sqlx::query(
        "DELETE FROM cohort_courses WHERE organization_id = $1 AND cohort_id = $2 AND course_id = $3",
    )
    .bind(org.as_uuid())
    .bind(cohort)
    .bind(course.as_uuid())
    .execute(tx.conn())
    .await?;
    Ok(done.rows_affected() == 1)
}

/// A course of a cohort.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CohortCourseRow {
    /// The course.
    pub course_id: Uuid,
    /// Its title.
    pub title: String,
    /// Whether it is published (and so enrolls members).
    pub is_published: bool,
    /// Linked.
    pub added_at: DateTime<Utc>,
}

/// The cohort's live courses, oldest link first.
pub async fn courses(tx: &mut TenantTx, cohort: Uuid) -> Result<Vec<CohortCourseRow>, DbError> {
    let org = tx.org();
    Ok(sqlx::query_as(
        "SELECT k.course_id, c.title, c.is_published, k.added_at FROM cohort_courses k \
           JOIN courses c ON c.organization_id = k.organization_id AND c.id = k.course_id \
          WHERE k.organization_id = $1 AND k.cohort_id = $2 AND c.deleted_at IS NULL \
          ORDER BY k.added_at, k.course_id",
    )
    .bind(org.as_uuid())
    .bind(cohort)
    .fetch_all(tx.conn())
    .await?)
}
