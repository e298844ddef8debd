//! Enrollments, progress and certificates (migrations 0004 and 0012).
//!
//! Completion, grades and certificate contents are derived by the database
//! (`app.enrollments_guard`, `app.certificates_fill`); these queries only
//! ask for them.

use chrono::{DateTime, Utc};
use lms_domain::{CourseId, EnrollmentId, EnrollmentStatus, SectionId, UserId};
use uuid::Uuid;

use crate::{DbError, TenantTx};

/// An enrollment as read: its status is the effective one (an ACTIVE or
/// PAUSED enrollment past its access end reads EXPIRED).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct EnrollmentRow {
    /// Id.
    pub id: Uuid,
    /// The learner.
    pub user_id: Uuid,
    /// The course.
    pub course_id: Uuid,
    /// The course's title.
    pub course_title: String,
    /// Effective status (database label).
    pub status: String,
    /// When it started (or restarted).
    pub enrolled_at: DateTime<Utc>,
    /// When the course was completed.
    pub completed_at: Option<DateTime<Utc>>,
    /// Final grade, 0–100, set on completion.
    pub final_grade: Option<f64>,
    /// The published course version the learner is pinned to.
    pub course_version: Option<i32>,
    /// End of access, if any.
    pub access_ends_at: Option<DateTime<Utc>>,
    /// Required sections done / required sections.
    pub sections_done: i64,
    /// Required sections of the course.
    pub sections_required: i64,
}

impl EnrollmentRow {
    /// The effective status.
    pub fn status(&self) -> EnrollmentStatus {
        self.status.parse().unwrap_or(EnrollmentStatus::Active)
    }
}

const ENROLLMENT_SELECT: &str = "SELECT e.id, e.user_id, e.course_id, c.title AS course_title, \
       (CASE WHEN e.status IN ('ACTIVE', 'PAUSED') AND e.access_ends_at <= now() \
             THEN 'EXPIRED' ELSE e.status::text END) AS status, \
       e.enrolled_at, e.completed_at, e.final_grade::float8 AS final_grade, e.course_version, \
       e.access_ends_at, \
       r.sections_done, r.sections_required \
  FROM enrollments e \
  JOIN courses c ON c.organization_id = e.organization_id AND c.id = e.course_id \
  CROSS JOIN LATERAL ( \
      SELECT count(p.id) AS sections_done, count(*) AS sections_required \
        FROM app.course_outline(e.organization_id, e.course_id, e.course_version) o \
        LEFT JOIN progress p ON p.organization_id = e.organization_id AND p.section_id = o.section_id \
                            AND p.user_id = e.user_id \
       WHERE o.section_id IS NOT NULL AND o.is_required AND NOT o.is_optional) r";

/// One enrollment visible to the caller.
pub async fn get(tx: &mut TenantTx, id: EnrollmentId) -> Result<Option<EnrollmentRow>, DbError> {
    let org = tx.org();
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{ENROLLMENT_SELECT} WHERE e.organization_id = $1 AND e.id = $2"
    )))
    .bind(org.as_uuid())
    .bind(id.as_uuid())
    .fetch_optional(tx.conn())
    .await?)
}

/// A user's enrollments, newest first, by keyset.
pub async fn list_of(
    tx: &mut TenantTx,
    user: UserId,
    status: Option<EnrollmentStatus>,
    before: Option<EnrollmentId>,
    limit: i64,
) -> Result<Vec<EnrollmentRow>, DbError> {
    let org = tx.org();
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT * FROM ({ENROLLMENT_SELECT} WHERE e.organization_id = $1 AND e.user_id = $2 \
            AND ($4::uuid IS NULL OR e.id < $4)) t \
          WHERE ($3::text IS NULL OR t.status = $3) \
          ORDER BY t.id DESC LIMIT $5"
    )))
    .bind(org.as_uuid())
    .bind(user.as_uuid())
    .bind(status.map(|s| s.as_str()))
    .bind(before.map(|b| b.as_uuid()))
    .bind(limit)
    .fetch_all(tx.conn())
    .await?)
}

/// A course as enrollment sees it: whether it is live and published, and
/// its latest published version. (The enrollment's foreign key holds the
/// course against removal; a learner may not lock a course row.)
#[derive(Debug, Clone, Copy)]
pub struct Enrollable {
    /// Published (and not deleted).
    pub published: bool,
    /// Latest published version, if any.
    pub version: Option<i32>,
}

/// Reads a live course for enrollment (`None`: no such live course).
pub async fn enrollable(
    tx: &mut TenantTx,
    course: CourseId,
) -> Result<Option<Enrollable>, DbError> {
    let org = tx.org();
    let row: Option<(bool, Option<i32>)> = sqlx::query_as(
        "SELECT c.is_published, \
                (SELECT max(v.version) FROM course_versions v \
                  WHERE v.organization_id = c.organization_id AND v.course_id = c.id \
                    AND v.published_at IS NOT NULL) \
           FROM courses c WHERE c.organization_id = $1 AND c.id = $2 AND c.deleted_at IS NULL",
    )
    .bind(org.as_uuid())
    .bind(course.as_uuid())
    .fetch_optional(tx.conn())
    .await?;
    Ok(row.map(|(published, version)| Enrollable { published, version }))
}

/// What enrolling did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Enrolled {
    /// A new enrollment.
    Created(EnrollmentId),
    /// A DROPPED or EXPIRED enrollment started again, progress kept.
    Reactivated(EnrollmentId),
    /// There is one already, in this (effective) status.
    Exists(EnrollmentId, EnrollmentStatus),
}

/// Enrolls `user` in `course` pinned to `version`, or finds their
/// enrollment. Concurrent calls for one user and course create one row: the
/// others wait for it and find it.
pub async fn enroll(
    tx: &mut TenantTx,
    user: UserId,
    course: CourseId,
    version: Option<i32>,
    access_ends_at: Option<DateTime<Utc>>,
) -> Result<Enrolled, DbError> {
    let org = tx.org();
    let id = EnrollmentId::new();
    let created: Option<Uuid> = sqlx::query_scalar(
        "INSERT INTO enrollments (organization_id, id, user_id, course_id, course_version, access_ends_at) \
         VALUES ($1, $2, $3, $4, $5, $6) \
         ON CONFLICT (organization_id, user_id, course_id) DO NOTHING RETURNING id",
    )
    .bind(org.as_uuid())
    .bind(id.as_uuid())
    .bind(user.as_uuid())
    .bind(course.as_uuid())
    .bind(version)
    .bind(access_ends_at)
    .fetch_optional(tx.conn())
    .await?;
    if created.is_some() {
        return Ok(Enrolled::Created(id));
    }
    let (existing, status, ends): (Uuid, String, Option<DateTime<Utc>>) = sqlx::query_as(
        "SELECT id, status::text, access_ends_at FROM enrollments \
          WHERE organization_id = $1 AND user_id = $2 AND course_id = $3 FOR UPDATE",
    )
    .bind(org.as_uuid())
    .bind(user.as_uuid())
    .bind(course.as_uuid())
    .fetch_one(tx.conn())
    .await?;
    let existing = EnrollmentId::from_uuid(existing);
    let status: EnrollmentStatus = status.parse().unwrap_or(EnrollmentStatus::Active);
    let expired_by_date = ends.is_some_and(|e| e <= Utc::now());
    let restartable = matches!(
        status,
        EnrollmentStatus::Dropped | EnrollmentStatus::Expired
    ) || (matches!(status, EnrollmentStatus::Active | EnrollmentStatus::Paused)
        && expired_by_date);
    // A restart keeps the end date unless a manager gives a new one; one
    // that has passed is the caller's to judge (see `restart`).
    if restartable && (!expired_by_date || access_ends_at.is_some()) {
        sqlx::query(
            "UPDATE enrollments SET status = 'ACTIVE', enrolled_at = now(), course_version = $3, \
                    access_ends_at = COALESCE($4, access_ends_at) \
              WHERE organization_id = $1 AND id = $2",
        )
        .bind(org.as_uuid())
        .bind(existing.as_uuid())
        .bind(version)
        .bind(access_ends_at)
        .execute(tx.conn())
        .await?;
        return Ok(Enrolled::Reactivated(existing));
    }
    let effective = if expired_by_date && status != EnrollmentStatus::Completed {
        EnrollmentStatus::Expired
    } else {
        status
    };
    Ok(Enrolled::Exists(existing, effective))
}

/// Locks an enrollment for a change; `None` when the caller cannot see it.
/// Returns its stored status and end of access.
pub async fn lock(
    tx: &mut TenantTx,
    id: EnrollmentId,
) -> Result<Option<(EnrollmentStatus, Option<DateTime<Utc>>)>, DbError> {
    let org = tx.org();
    let row: Option<(String, Option<DateTime<Utc>>)> = sqlx::query_as(
        "SELECT status::text, access_ends_at FROM enrollments \
          WHERE organization_id = $1 AND id = $2 FOR UPDATE",
    )
    .bind(org.as_uuid())
    .bind(id.as_uuid())
    .fetch_optional(tx.conn())
    .await?;
    Ok(row.map(|(s, e)| (s.parse().unwrap_or(EnrollmentStatus::Active), e)))
}

/// Sets the stored status (the guard trigger decides what is allowed).
pub async fn set_status(
    tx: &mut TenantTx,
    id: EnrollmentId,
    status: EnrollmentStatus,
) -> Result<(), DbError> {
    let org = tx.org();
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "UPDATE enrollments SET status = '{}' WHERE organization_id = $1 AND id = $2",
        status.as_str()
    )))
    .bind(org.as_uuid())
    .bind(id.as_uuid())
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Sets or clears the end of access.
pub async fn set_access_end(
    tx: &mut TenantTx,
    id: EnrollmentId,
    ends: Option<DateTime<Utc>>,
) -> Result<(), DbError> {
    let org = tx.org();
    sqlx::query(
        "UPDATE enrollments SET access_ends_at = $3 WHERE organization_id = $1 AND id = $2",
    )
    .bind(org.as_uuid())
    .bind(id.as_uuid())
    .bind(ends)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// The caller's enrollment in the course of a section, locked, with where
/// the section sits and whether its lesson is open to them.
#[derive(Debug, Clone)]
pub struct ProgressTarget {
    /// The lesson of the section.
    pub lesson_id: Uuid,
    /// The course keeps the latest score, not the best.
    pub latest_score: bool,
    /// The lesson opens at this time (drip pacing).
    pub unlocks_at: Option<DateTime<Utc>>,
    /// The lesson waits for this earlier lesson (sequential pacing).
    pub waits_for: Option<Uuid>,
    /// The lesson is not open yet (by the database's clock, as its guard
    /// judges it).
    pub locked: bool,
    /// The caller's enrollment in the course, if any: id, stored status,
    /// end of access.
    pub enrollment: Option<(EnrollmentId, EnrollmentStatus, Option<DateTime<Utc>>)>,
}

/// Finds the section in the live course (drafts only when `drafts`),
/// locks the user's enrollment, and says whether the lesson is open.
pub async fn progress_target(
    tx: &mut TenantTx,
    user: UserId,
    course: CourseId,
    section: SectionId,
    drafts: bool,
) -> Result<Option<ProgressTarget>, DbError> {
    let org = tx.org();
    let e: Option<(Uuid, String, Option<DateTime<Utc>>)> = sqlx::query_as(
        "SELECT id, status::text, access_ends_at FROM enrollments \
          WHERE organization_id = $1 AND user_id = $2 AND course_id = $3 FOR UPDATE",
    )
    .bind(org.as_uuid())
    .bind(user.as_uuid())
    .bind(course.as_uuid())
    .fetch_optional(tx.conn())
    .await?;
    // The section as the learner's version of the course has it (their
    // pinned version, or the live tree); the record names the lesson the
    // section belongs to now.
    type Found = (Uuid, bool, Option<DateTime<Utc>>, Option<Uuid>, bool);
    let found: Option<Found> = sqlx::query_as(
        "SELECT s.lesson_id, c.score_rule = 'LATEST', k.unlocks_at, k.waits_for, \
                COALESCE(k.unlocks_at > now() OR k.waits_for IS NOT NULL, false) \
           FROM courses c \
           JOIN app.learner_outline($1, $4, $3) o ON o.section_id = $2 \
           JOIN sections s ON s.organization_id = c.organization_id AND s.id = o.section_id \
           JOIN lessons l ON l.organization_id = s.organization_id AND l.id = s.lesson_id AND l.course_id = c.id \
           LEFT JOIN app.lesson_locks($1, $4, $3) k ON k.lesson_id = o.lesson_id \
          WHERE c.organization_id = $1 AND c.id = $3 AND c.deleted_at IS NULL \
            AND ($5 OR c.is_published)",
    )
    .bind(org.as_uuid())
    .bind(section.as_uuid())
    .bind(course.as_uuid())
    .bind(user.as_uuid())
    .bind(drafts)
    .fetch_optional(tx.conn())
    .await?;
    Ok(found.map(
        |(lesson_id, latest_score, unlocks_at, waits_for, locked)| ProgressTarget {
            lesson_id,
            latest_score,
            unlocks_at,
            waits_for,
            locked,
            enrollment: e.map(|(id, s, ends)| {
                (
                    EnrollmentId::from_uuid(id),
                    s.parse().unwrap_or(EnrollmentStatus::Active),
                    ends,
                )
            }),
        },
    ))
}

/// A progress row.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ProgressRow {
    /// The section.
    pub section_id: Uuid,
    /// Its lesson.
    pub lesson_id: Uuid,
    /// First done.
    pub completed_at: DateTime<Utc>,
    /// Seconds spent, all attempts.
    pub time_spent_seconds: i32,
    /// Attempts.
    pub attempts_count: i32,
    /// Best score, 0–100.
    pub score: Option<f64>,
}

/// Records an attempt: time adds up, attempts count, the best score stays.
pub async fn record(
    tx: &mut TenantTx,
    user: UserId,
    course: CourseId,
    target: &ProgressTarget,
    section: SectionId,
    seconds: i32,
    score: Option<f64>,
) -> Result<ProgressRow, DbError> {
    let org = tx.org();
    Ok(sqlx::query_as(
        "INSERT INTO progress (organization_id, id, user_id, course_id, lesson_id, section_id, \
                               time_spent_seconds, attempts_count, score) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, 1, $8) \
         ON CONFLICT (organization_id, user_id, section_id) DO UPDATE \
            SET time_spent_seconds = LEAST(progress.time_spent_seconds::bigint \
                                           + EXCLUDED.time_spent_seconds, 2147483647)::int, \
                attempts_count = progress.attempts_count + 1, \
                score = CASE WHEN $9 THEN COALESCE(EXCLUDED.score, progress.score) \
                             ELSE GREATEST(progress.score, EXCLUDED.score) END \
         RETURNING section_id, lesson_id, completed_at, time_spent_seconds, attempts_count, \
                   score::float8 AS score",
    )
    .bind(org.as_uuid())
    .bind(Uuid::now_v7())
    .bind(user.as_uuid())
    .bind(course.as_uuid())
    .bind(target.lesson_id)
    .bind(section.as_uuid())
    .bind(seconds)
    .bind(score)
    .bind(target.latest_score)
    .fetch_one(tx.conn())
    .await?)
}

/// The latest published version of the enrollment's course, as SQL.
macro_rules! latest_version {
    () => {
        "(SELECT max(v.version) FROM course_versions v \
           WHERE v.organization_id = e.organization_id AND v.course_id = e.course_id \
             AND v.published_at IS NOT NULL)"
    };
}

/// The caller's enrollment in a course: the version it is pinned to
/// (`None` when it has none) and whether it still gives access (ACTIVE,
/// PAUSED or COMPLETED, access not ended); `None` when not enrolled.
pub async fn pinned_version(
    tx: &mut TenantTx,
    user: UserId,
    course: CourseId,
) -> Result<Option<(Option<i32>, bool)>, DbError> {
    let org = tx.org();
    Ok(sqlx::query_as(
        "SELECT course_version, status IN ('ACTIVE', 'PAUSED', 'COMPLETED') \
                AND (access_ends_at IS NULL OR access_ends_at > now()) FROM enrollments \
          WHERE organization_id = $1 AND user_id = $2 AND course_id = $3",
    )
    .bind(org.as_uuid())
    .bind(user.as_uuid())
    .bind(course.as_uuid())
    .fetch_optional(tx.conn())
    .await?)
}

/// Moves a running enrollment to its course's latest published version;
/// the version when it moved, `None` when it was on it already.
pub async fn move_to_latest(tx: &mut TenantTx, id: EnrollmentId) -> Result<Option<i32>, DbError> {
    let org = tx.org();
    Ok(sqlx::query_scalar(concat!(
        "UPDATE enrollments e SET course_version = ",
        latest_version!(),
        " WHERE e.organization_id = $1 AND e.id = $2 AND e.status IN ('ACTIVE', 'PAUSED') \
            AND ",
        latest_version!(),
        " > COALESCE(e.course_version, 0) RETURNING e.course_version"
    ))
    .bind(org.as_uuid())
    .bind(id.as_uuid())
    .fetch_optional(tx.conn())
    .await?)
}

/// Moves every running enrollment of a course to its latest published
/// version: (enrollment, learner, version) of each that moved.
pub async fn move_all_to_latest(
    tx: &mut TenantTx,
    course: CourseId,
) -> Result<Vec<(Uuid, Uuid, i32)>, DbError> {
    let org = tx.org();
    Ok(sqlx::query_as(concat!(
        "UPDATE enrollments e SET course_version = ",
        latest_version!(),
        " WHERE e.organization_id = $1 AND e.course_id = $2 AND e.status IN ('ACTIVE', 'PAUSED') \
            AND (e.access_ends_at IS NULL OR e.access_ends_at > now()) AND ",
        latest_version!(),
        " > COALESCE(e.course_version, 0) RETURNING e.id, e.user_id, e.course_version"
    ))
    .bind(org.as_uuid())
    .bind(course.as_uuid())
    .fetch_all(tx.conn())
    .await?)
}

/// Completes the enrollment if the course is complete (the database checks
/// and stamps it); `true` when it did.
pub async fn complete_if_done(tx: &mut TenantTx, id: EnrollmentId) -> Result<bool, DbError> {
    let org = tx.org();
    let done = sqlx::query(
        "UPDATE enrollments e SET status = 'COMPLETED' \
          WHERE e.organization_id = $1 AND e.id = $2 AND e.status = 'ACTIVE' \
            AND app.course_complete(e.organization_id, e.user_id, e.course_id)",
    )
    .bind(org.as_uuid())
    .bind(id.as_uuid())
    .execute(tx.conn())
    .await?;
    Ok(done.rows_affected() == 1)
}

/// A certificate.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CertificateRow {
    /// The verification code.
    pub code: String,
    /// The enrollment.
    pub enrollment_id: Uuid,
    /// The course.
    pub course_id: Uuid,
    /// The learner's name, as issued.
    pub learner_name: String,
    /// The course title, as issued.
    pub course_title: String,
    /// Final grade.
    pub final_grade: Option<f64>,
    /// Completion.
    pub completed_at: DateTime<Utc>,
    /// Issue.
    pub issued_at: DateTime<Utc>,
}

const CERTIFICATE_COLUMNS: &str = "code, enrollment_id, course_id, learner_name, course_title, \
     final_grade::float8 AS final_grade, completed_at, issued_at";

/// Issues the certificate of a completed enrollment under `code`.
pub async fn issue_certificate(
    tx: &mut TenantTx,
    enrollment: EnrollmentId,
    code: &str,
) -> Result<CertificateRow, DbError> {
    let org = tx.org();
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "INSERT INTO certificates (organization_id, id, code, enrollment_id, user_id, course_id, \
                                   learner_name, course_title, completed_at) \
         VALUES ($1, $2, $3, $4, $5, $5, '', '', now()) RETURNING {CERTIFICATE_COLUMNS}"
    )))
    .bind(org.as_uuid())
    .bind(Uuid::now_v7())
    .bind(code)
    .bind(enrollment.as_uuid())
    // Filled by the database from the enrollment.
    .bind(Uuid::nil())
    .fetch_one(tx.conn())
    .await?)
}

/// A user's certificates, newest first.
pub async fn certificates_of(
    tx: &mut TenantTx,
    user: UserId,
) -> Result<Vec<CertificateRow>, DbError> {
    let org = tx.org();
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {CERTIFICATE_COLUMNS} FROM certificates \
          WHERE organization_id = $1 AND user_id = $2 ORDER BY issued_at DESC, id DESC"
    )))
    .bind(org.as_uuid())
    .bind(user.as_uuid())
    .fetch_all(tx.conn())
    .await?)
}

/// The certificate with this code, for anyone who knows it (the policy
/// shows exactly the certificate the transaction names).
pub async fn verify_certificate(
    tx: &mut TenantTx,
    code: &str,
) -> Result<Option<CertificateRow>, DbError> {
    let org = tx.org();
    sqlx::query("SELECT set_config('app.certificate_code', $1, true)")
        .bind(code)
        .execute(tx.conn())
        .await?;
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {CERTIFICATE_COLUMNS} FROM certificates WHERE organization_id = $1 AND code = $2"
    )))
    .bind(org.as_uuid())
    .bind(code)
    .fetch_optional(tx.conn())
    .await?)
}

/// A section with the learner's record on it.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct SectionProgress {
    /// Id.
    pub id: Uuid,
    /// Title.
    pub title: String,
    /// Type (database label).
    #[serde(rename = "type")]
    pub section_type: String,
    /// Optional sections do not count towards completion.
    pub is_optional: bool,
    /// Whether the learner has done it.
    pub done: bool,
    /// Best score.
    pub score: Option<f64>,
    /// Seconds spent.
    pub time_spent_seconds: i64,
    /// Attempts.
    pub attempts_count: i64,
}

/// A lesson with the learner's progress in it.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct LessonProgress {
    /// Id.
    pub id: Uuid,
    /// Title.
    pub title: String,
    /// Position.
    pub position: i32,
    /// Required lessons count towards completion.
    pub is_required: bool,
    /// Opens at this time (drip pacing).
    pub unlocks_at: Option<DateTime<Utc>>,
    /// Waits for this earlier lesson to be completed (sequential pacing).
    pub waits_for: Option<Uuid>,
    /// Not open yet, by the database's clock.
    pub locked: bool,
    /// Its sections, in order.
    pub sections: Vec<SectionProgress>,
}

/// The learner's enrollment, as the progress view shows it.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct EnrollmentBrief {
    /// Id.
    pub id: Uuid,
    /// Effective status (database label).
    pub status: String,
    /// Started.
    pub enrolled_at: DateTime<Utc>,
    /// Completed.
    pub completed_at: Option<DateTime<Utc>>,
    /// Final grade.
    pub final_grade: Option<f64>,
    /// Pinned version.
    pub course_version: Option<i32>,
}

/// A course tree with one learner's progress.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct CourseProgress {
    /// The course.
    pub course_id: Uuid,
    /// Its title.
    pub title: String,
    /// Pacing label.
    pub pacing: String,
    /// The learner's enrollment, if any.
    pub enrollment: Option<EnrollmentBrief>,
    /// Lessons in order.
    pub lessons: Vec<LessonProgress>,
}

/// The course tree with `user`'s progress on every section, in a single
/// statement (the seed's "course with my progress"). Drafts only when
/// `drafts`.
pub async fn course_progress(
    tx: &mut TenantTx,
    course: CourseId,
    user: UserId,
    drafts: bool,
) -> Result<Option<CourseProgress>, DbError> {
    let org = tx.org();
    let v: Option<serde_json::Value> = sqlx::query_scalar(
        "SELECT jsonb_build_object( \
            'course_id', c.id, 'title', c.title, 'pacing', c.pacing, \
            'enrollment', (SELECT jsonb_build_object('id', e.id, \
                    'status', CASE WHEN e.status IN ('ACTIVE', 'PAUSED') AND e.access_ends_at <= now() \
                                   THEN 'EXPIRED' ELSE e.status::text END, \
                    'enrolled_at', e.enrolled_at, 'completed_at', e.completed_at, \
                    'final_grade', e.final_grade, 'course_version', e.course_version) \
                FROM enrollments e WHERE e.organization_id = c.organization_id \
                 AND e.course_id = c.id AND e.user_id = $3), \
            'lessons', COALESCE((SELECT jsonb_agg(jsonb_build_object( \
                    'id', l.lesson_id, 'title', l.lesson_title, 'position', l.lesson_position, \
                    'is_required', l.is_required, 'unlocks_at', l.unlocks_at, 'waits_for', l.waits_for, \
                    'locked', COALESCE(l.unlocks_at > now() OR l.waits_for IS NOT NULL, false), \
                    'sections', l.sections) ORDER BY l.lesson_position) \
                FROM (SELECT o.lesson_id, o.lesson_title, o.lesson_position, o.is_required, \
                             o.unlocks_at, o.waits_for, \
                             COALESCE(jsonb_agg(jsonb_build_object( \
                                 'id', o.section_id, 'title', o.section_title, 'type', o.section_type, \
                                 'is_optional', o.is_optional, 'done', o.progress_id IS NOT NULL, \
                                 'score', o.score, \
                                 'time_spent_seconds', COALESCE(o.time_spent_seconds, 0), \
                                 'attempts_count', COALESCE(o.attempts_count, 0)) ORDER BY o.section_position) \
                               FILTER (WHERE o.section_id IS NOT NULL), '[]') AS sections \
                        FROM app.learner_sections(c.organization_id, $3, c.id) o \
                       GROUP BY o.lesson_id, o.lesson_title, o.lesson_position, o.is_required, \
                                o.unlocks_at, o.waits_for) l), '[]')) \
         FROM courses c WHERE c.organization_id = $1 AND c.id = $2 AND c.deleted_at IS NULL \
           AND ($4 OR c.is_published)",
    )
    .bind(org.as_uuid())
    .bind(course.as_uuid())
    .bind(user.as_uuid())
    .bind(drafts)
    .fetch_optional(tx.conn())
    .await?;
    v.map(serde_json::from_value)
        .transpose()
        .map_err(|e| DbError::Other(sqlx::Error::Decode(Box::new(e))))
}

/// A learner of a course, for its instructors.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct LearnerRow {
    /// The enrollment.
    pub enrollment_id: Uuid,
    /// The learner.
    pub user_id: Uuid,
    /// Their name.
    pub name: String,
    /// Their e-mail.
    pub email: String,
    /// Effective status (database label).
    pub status: String,
    /// Started.
    pub enrolled_at: DateTime<Utc>,
    /// Completed.
    pub completed_at: Option<DateTime<Utc>>,
    /// Final grade.
    pub final_grade: Option<f64>,
    /// Required sections done.
    pub sections_done: i64,
    /// Required sections of the course.
    pub sections_required: i64,
    /// Seconds spent, all sections.
    pub time_spent_seconds: i64,
    /// Latest progress.
    pub last_activity_at: Option<DateTime<Utc>>,
}

/// A course's learners, by enrollment id (keyset), filtered by effective
/// status.
pub async fn learners(
    tx: &mut TenantTx,
    course: CourseId,
    status: Option<EnrollmentStatus>,
    after: Option<EnrollmentId>,
    limit: i64,
) -> Result<Vec<LearnerRow>, DbError> {
    let org = tx.org();
    Ok(sqlx::query_as(
        "SELECT * FROM ( \
           SELECT e.id AS enrollment_id, e.user_id, btrim(u.first_name || ' ' || u.last_name) AS name, u.email, \
                  (CASE WHEN e.status IN ('ACTIVE', 'PAUSED') AND e.access_ends_at <= now() \
                        THEN 'EXPIRED' ELSE e.status::text END) AS status, \
                  e.enrolled_at, e.completed_at, e.final_grade::float8 AS final_grade, \
                  r.sections_done, r.sections_required, \
                  (SELECT COALESCE(sum(p.time_spent_seconds), 0) FROM progress p \
                    WHERE p.organization_id = e.organization_id AND p.user_id = e.user_id \
                      AND p.course_id = e.course_id)::bigint AS time_spent_seconds, \
                  (SELECT max(p.completed_at) FROM progress p WHERE p.organization_id = e.organization_id \
                      AND p.user_id = e.user_id AND p.course_id = e.course_id) AS last_activity_at \
             FROM enrollments e JOIN users u ON u.organization_id = e.organization_id AND u.id = e.user_id \
            CROSS JOIN LATERAL ( \
                SELECT count(p.id) AS sections_done, count(*) AS sections_required \
                  FROM app.course_outline(e.organization_id, e.course_id, e.course_version) o \
                  LEFT JOIN progress p ON p.organization_id = e.organization_id \
                       AND p.section_id = o.section_id AND p.user_id = e.user_id \
                 WHERE o.section_id IS NOT NULL AND o.is_required AND NOT o.is_optional) r \
            WHERE e.organization_id = $1 AND e.course_id = $2 AND ($4::uuid IS NULL OR e.id > $4)) t \
          WHERE ($3::text IS NULL OR t.status = $3) \
          ORDER BY t.enrollment_id LIMIT $5",
    )
    .bind(org.as_uuid())
    .bind(course.as_uuid())
    .bind(status.map(|s| s.as_str()))
    .bind(after.map(|a| a.as_uuid()))
    .bind(limit)
    .fetch_all(tx.conn())
    .await?)
}

/// Enrollments of a course, and how many are completed.
pub async fn completion(tx: &mut TenantTx, course: CourseId) -> Result<(i64, i64), DbError> {
    let org = tx.org();
    Ok(sqlx::query_as(
        "SELECT count(*), count(*) FILTER (WHERE status = 'COMPLETED') FROM enrollments \
          WHERE organization_id = $1 AND course_id = $2",
    )
    .bind(org.as_uuid())
    .bind(course.as_uuid())
    .fetch_one(tx.conn())
    .await?)
}

/// A learning session.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SessionRow {
    /// Id.
    pub id: Uuid,
    /// The course.
    pub course_id: Uuid,
    /// Started.
    pub started_at: DateTime<Utc>,
    /// Last heartbeat.
    pub last_seen_at: DateTime<Utc>,
    /// Ended (by the learner, or at the last heartbeat after inactivity).
    pub ended_at: Option<DateTime<Utc>>,
    /// Seconds between start and end.
    pub duration_seconds: Option<i32>,
    /// Activity events recorded.
    pub activity_count: i32,
}

const SESSION_COLUMNS: &str = "id, course_id, started_at, last_seen_at, ended_at, duration_seconds, \
     COALESCE(jsonb_array_length(activity), 0) AS activity_count";

/// Closes `user`'s sessions idle since before `idle_before` (at their last
/// heartbeat).
async fn close_idle_of(
    tx: &mut TenantTx,
    user: UserId,
    idle_before: DateTime<Utc>,
) -> Result<(), DbError> {
    let org = tx.org();
    sqlx::query(
        "UPDATE learning_sessions SET ended_at = last_seen_at, \
                duration_seconds = extract(epoch FROM last_seen_at - started_at)::int \
          WHERE organization_id = $1 AND user_id = $2 AND ended_at IS NULL AND last_seen_at < $3",
    )
    .bind(org.as_uuid())
    .bind(user.as_uuid())
    .bind(idle_before)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Starts a session of `user` in `course`, ending the one left open (an
/// idle one at its last heartbeat, a live one now).
pub async fn start_session(
    tx: &mut TenantTx,
    user: UserId,
    course: CourseId,
    idle_before: DateTime<Utc>,
) -> Result<SessionRow, DbError> {
    let org = tx.org();
    close_idle_of(tx, user, idle_before).await?;
    sqlx::query(
        "UPDATE learning_sessions SET ended_at = now(), last_seen_at = now(), \
                duration_seconds = extract(epoch FROM now() - started_at)::int \
          WHERE organization_id = $1 AND user_id = $2 AND course_id = $3 AND ended_at IS NULL",
    )
    .bind(org.as_uuid())
    .bind(user.as_uuid())
    .bind(course.as_uuid())
    .execute(tx.conn())
    .await?;
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "INSERT INTO learning_sessions (organization_id, id, user_id, course_id) VALUES ($1, $2, $3, $4) \
         RETURNING {SESSION_COLUMNS}"
    )))
    .bind(org.as_uuid())
    .bind(Uuid::now_v7())
    .bind(user.as_uuid())
    .bind(course.as_uuid())
    .fetch_one(tx.conn())
    .await?)
}

/// What a heartbeat or an end found.
#[derive(Debug)]
pub enum SessionTouch {
    /// The session, after the change.
    Done(SessionRow),
    /// No such session of the caller's.
    Missing,
    /// It had ended (possibly just now, for inactivity).
    Ended,
    /// The activity log would pass its bound.
    TooLarge,
}

/// Records a heartbeat with `events` appended to the activity log (at most
/// `max_activity_bytes` in all, as stored), or ends the session (`end`).
/// An idle session is closed first, at its last heartbeat.
pub async fn touch_session(
    tx: &mut TenantTx,
    user: UserId,
    id: Uuid,
    events: &serde_json::Value,
    end: bool,
    idle_before: DateTime<Utc>,
    max_activity_bytes: usize,
) -> Result<SessionTouch, DbError> {
    let org = tx.org();
    close_idle_of(tx, user, idle_before).await?;
    let cur: Option<(Option<DateTime<Utc>>, i64)> = sqlx::query_as(
        "SELECT ended_at, length((COALESCE(activity, '[]'::jsonb) || $4::jsonb)::text)::bigint \
           FROM learning_sessions \
          WHERE organization_id = $1 AND id = $2 AND user_id = $3 FOR UPDATE",
    )
    .bind(org.as_uuid())
    .bind(id)
    .bind(user.as_uuid())
    .bind(events)
    .fetch_optional(tx.conn())
    .await?;
    let Some((ended, size)) = cur else {
        return Ok(SessionTouch::Missing);
    };
    if ended.is_some() {
        return Ok(SessionTouch::Ended);
    }
    if usize::try_from(size).unwrap_or(usize::MAX) > max_activity_bytes {
        return Ok(SessionTouch::TooLarge);
    }
    let row = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "UPDATE learning_sessions SET last_seen_at = now(), \
                activity = COALESCE(activity, '[]'::jsonb) || $3::jsonb, \
                ended_at = CASE WHEN $4 THEN now() END, \
                duration_seconds = CASE WHEN $4 THEN extract(epoch FROM now() - started_at)::int END \
          WHERE organization_id = $1 AND id = $2 RETURNING {SESSION_COLUMNS}"
    )))
    .bind(org.as_uuid())
    .bind(id)
    .bind(events)
    .bind(end)
    .fetch_one(tx.conn())
    .await?;
    Ok(SessionTouch::Done(row))
}

/// The stored status of `user`'s enrollment in `course` (EXPIRED when its
/// access has ended), if any.
pub async fn enrollment_of(
    tx: &mut TenantTx,
    user: UserId,
    course: CourseId,
) -> Result<Option<EnrollmentStatus>, DbError> {
    let org = tx.org();
    let s: Option<String> = sqlx::query_scalar(
        "SELECT CASE WHEN status IN ('ACTIVE', 'PAUSED') AND access_ends_at <= now() \
                     THEN 'EXPIRED' ELSE status::text END \
           FROM enrollments WHERE organization_id = $1 AND user_id = $2 AND course_id = $3",
    )
    .bind(org.as_uuid())
    .bind(user.as_uuid())
    .bind(course.as_uuid())
    .fetch_optional(tx.conn())
    .await?;
    Ok(s.map(|s| s.parse().unwrap_or(EnrollmentStatus::Active)))
}

/// What a sweep of one tenant changed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Swept {
    /// Sessions closed for inactivity.
    pub sessions_closed: u64,
    /// Enrollments whose access ended, marked EXPIRED.
    pub enrollments_expired: u64,
    /// Deleted courses, lessons, sections and categories purged after the
    /// organization's retention period.
    pub trash_purged: u64,
}

/// The service's periodic housekeeping of tenant `org`, from a platform
/// transaction, through `steward.sweep_tenant`: idle sessions end at their
/// last heartbeat, enrollments past their access end become EXPIRED, the
/// trash empties after the organization's retention period.
pub async fn sweep_tenant(
    tx: &mut crate::PlatformTx,
    org: lms_domain::OrgId,
    idle_before: DateTime<Utc>,
) -> Result<Swept, DbError> {
    let (closed, expired, purged): (i64, i64, i64) =
        sqlx::query_as("SELECT * FROM steward.sweep_tenant($1, $2)")
            .bind(org.as_uuid())
            .bind(idle_before)
            .fetch_one(tx.conn())
            .await?;
    let count = |n: i64| u64::try_from(n).unwrap_or(0);
    Ok(Swept {
        sessions_closed: count(closed),
        enrollments_expired: count(expired),
        trash_purged: count(purged),
    })
}

/// Every organization's id (for the sweep).
pub async fn organization_ids(
    tx: &mut crate::PlatformTx,
) -> Result<Vec<lms_domain::OrgId>, DbError> {
    let ids: Vec<Uuid> = sqlx::query_scalar("SELECT id FROM organizations ORDER BY id")
        .fetch_all(tx.conn())
        .await?;
    Ok(ids.into_iter().map(lms_domain::OrgId::from_uuid).collect())
}

/// One active course on the dashboard.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct DashboardCourse {
    /// The enrollment.
    pub enrollment_id: Uuid,
    /// The course.
    pub course_id: Uuid,
    /// Its title.
    pub course_title: String,
    /// ACTIVE or PAUSED.
    pub status: String,
    /// Required sections done.
    pub sections_done: i64,
    /// Required sections.
    pub sections_required: i64,
    /// Seconds spent on its sections.
    pub time_spent_seconds: i64,
    /// Mean of the learner's scores in it.
    pub average_score: Option<f64>,
    /// Latest progress in it.
    pub last_activity_at: Option<DateTime<Utc>>,
}

/// A recent, finished learning session.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct RecentSession {
    /// Id.
    pub id: Uuid,
    /// The course.
    pub course_id: Uuid,
    /// Its title.
    pub course_title: String,
    /// Started.
    pub started_at: DateTime<Utc>,
    /// Ended.
    pub ended_at: Option<DateTime<Utc>>,
    /// Seconds.
    pub duration_seconds: Option<i64>,
}

/// The learner's dashboard.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct Dashboard {
    /// Active and paused enrollments, newest first.
    pub active: Vec<DashboardCourse>,
    /// Completed courses.
    pub completed_courses: i64,
    /// Certificates held.
    pub certificates: i64,
    /// Seconds recorded on sections.
    pub time_spent_seconds: i64,
    /// Seconds of finished learning sessions.
    pub session_seconds: i64,
    /// The five latest finished sessions.
    pub recent_sessions: Vec<RecentSession>,
    /// Consecutive days (UTC) with activity, up to today or yesterday.
    pub streak_days: i64,
}

/// The seed's dashboard read: one statement, whatever the number of
/// courses.
pub async fn dashboard(tx: &mut TenantTx, user: UserId) -> Result<Dashboard, DbError> {
    let org = tx.org();
    let v: serde_json::Value = sqlx::query_scalar(
        "WITH mine AS (SELECT e.* FROM enrollments e WHERE e.organization_id = $1 AND e.user_id = $2), \
              req AS (SELECT m.course_id, o.section_id AS id \
                        FROM mine m, app.course_outline($1, m.course_id, m.course_version) o \
                       WHERE o.section_id IS NOT NULL AND o.is_required AND NOT o.is_optional), \
              prog AS (SELECT p.* FROM progress p WHERE p.organization_id = $1 AND p.user_id = $2), \
              sess AS (SELECT ls.* FROM learning_sessions ls WHERE ls.organization_id = $1 AND ls.user_id = $2), \
              days AS (SELECT DISTINCT d FROM (SELECT (completed_at AT TIME ZONE 'UTC')::date AS d FROM prog \
                                               UNION SELECT (started_at AT TIME ZONE 'UTC')::date FROM sess) x), \
              done AS MATERIALIZED (SELECT r.course_id, count(*) AS n FROM req r JOIN prog p ON p.section_id = r.id \
                                     GROUP BY r.course_id), \
              islands AS (SELECT d, d + (row_number() OVER (ORDER BY d DESC))::int AS g FROM days) \
         SELECT jsonb_build_object( \
           'active', COALESCE((SELECT jsonb_agg(jsonb_build_object( \
                  'enrollment_id', m.id, 'course_id', m.course_id, 'course_title', c.title, 'status', m.status, \
                  'sections_done', COALESCE((SELECT d.n FROM done d WHERE d.course_id = m.course_id), 0), \
                  'sections_required', (SELECT count(*) FROM req r WHERE r.course_id = m.course_id), \
                  'time_spent_seconds', (SELECT COALESCE(sum(p.time_spent_seconds), 0) FROM prog p WHERE p.course_id = m.course_id), \
                  'average_score', (SELECT round(avg(p.score), 2) FROM prog p WHERE p.course_id = m.course_id), \
                  'last_activity_at', (SELECT max(p.completed_at) FROM prog p WHERE p.course_id = m.course_id)) \
                ORDER BY m.enrolled_at DESC, m.id DESC) \
              FROM mine m JOIN courses c ON c.organization_id = m.organization_id AND c.id = m.course_id \
             WHERE m.status IN ('ACTIVE', 'PAUSED') AND (m.access_ends_at IS NULL OR m.access_ends_at > now())), '[]'), \
           'completed_courses', (SELECT count(*) FROM mine WHERE status = 'COMPLETED'), \
           'certificates', (SELECT count(*) FROM certificates WHERE organization_id = $1 AND user_id = $2), \
           'time_spent_seconds', (SELECT COALESCE(sum(time_spent_seconds), 0) FROM prog), \
           'session_seconds', (SELECT COALESCE(sum(duration_seconds), 0) FROM sess WHERE ended_at IS NOT NULL), \
           'recent_sessions', COALESCE((SELECT jsonb_agg(x ORDER BY x.started_at DESC) FROM ( \
                SELECT s.id, s.course_id, c.title AS course_title, s.started_at, s.ended_at, s.duration_seconds \
                  FROM sess s JOIN courses c ON c.organization_id = s.organization_id AND c.id = s.course_id \
                 WHERE s.ended_at IS NOT NULL ORDER BY s.started_at DESC LIMIT 5) x), '[]'), \
           'streak_days', COALESCE((SELECT count(*) FROM islands \
                WHERE g = (SELECT max(d) + 1 FROM days) \
                  AND (SELECT max(d) FROM days) >= (now() AT TIME ZONE 'UTC')::date - 1), 0))",
    )
    .bind(org.as_uuid())
    .bind(user.as_uuid())
    .fetch_one(tx.conn())
    .await?;
    serde_json::from_value(v).map_err(|e| DbError::Other(sqlx::Error::Decode(Box::new(e))))
}

/// Finds users by id or e-mail (as given), with whether each is active.
/// Returns (the input, user id, active) for those found.
pub async fn find_users(
    tx: &mut TenantTx,
    keys: &[String],
) -> Result<Vec<(String, Uuid, bool)>, DbError> {
    let org = tx.org();
    Ok(sqlx::query_as(
        "SELECT k.key, u.id, u.is_active FROM unnest($2::text[]) AS k(key) \
           JOIN users u ON u.organization_id = $1 \
            AND (u.email = lower(btrim(k.key)) \
                 OR (k.key ~* '^[0-9a-f-]{36}$' AND u.id::text = lower(k.key)))",
    )
    .bind(org.as_uuid())
    .bind(keys)
    .fetch_all(tx.conn())
    .await?)
}
