//! Learning: enrolling, pausing and dropping, recording progress, completing
//! a course, certificates.

use crate::contract::Body;
use base64::Engine as _;
use chrono::{DateTime, Utc};
use lms_db::TenantTx;
use lms_db::queries::learning::{self, CertificateRow, Enrolled, EnrollmentRow, ProgressRow};
use lms_db::queries::{reviews, users};
use lms_domain::{CourseId, EnrollmentId, EnrollmentStatus, Permission, SectionId, UserId};
use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::types::MaybeUndefined;
use poem_openapi::{ApiResponse, Enum, Object, OpenApi};
use serde_json::json;
use uuid::Uuid;

use super::catalog::Pacing;
use super::{TenantBearer, TenantTags};
use crate::context::{Actor, Ctx};
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::paging;
use crate::tenancy::Tenant;
use crate::unit::{Unit, course_not_found};

/// Longest time one progress call may record, in seconds (a day).
const MAX_SECONDS_PER_CALL: i64 = 86_400;
/// A learning session without a heartbeat for this long is over (at its
/// last heartbeat).
pub const SESSION_IDLE: chrono::TimeDelta = chrono::TimeDelta::minutes(30);
/// Largest activity log of a session, as stored (bytes of JSON text).
const MAX_ACTIVITY_BYTES: usize = 65_536;
/// Most events one heartbeat may report.
const MAX_EVENTS_PER_HEARTBEAT: usize = 100;

/// Where a learner stands in a course.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[oai(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Status {
    /// Learning.
    Active,
    /// Finished, with a grade and a certificate.
    Completed,
    /// On hold by the learner; resumable.
    Paused,
    /// Left; enrolling again restarts it with the progress kept.
    Dropped,
    /// Access ended.
    Expired,
}

impl From<EnrollmentStatus> for Status {
    fn from(s: EnrollmentStatus) -> Self {
        match s {
            EnrollmentStatus::Active => Self::Active,
            EnrollmentStatus::Completed => Self::Completed,
            EnrollmentStatus::Paused => Self::Paused,
            EnrollmentStatus::Dropped => Self::Dropped,
            EnrollmentStatus::Expired => Self::Expired,
        }
    }
}

impl From<Status> for EnrollmentStatus {
    fn from(s: Status) -> Self {
        match s {
            Status::Active => Self::Active,
            Status::Completed => Self::Completed,
            Status::Paused => Self::Paused,
            Status::Dropped => Self::Dropped,
            Status::Expired => Self::Expired,
        }
    }
}

/// A user's enrollment in a course.
#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct Enrollment {
    /// Id.
    pub id: Uuid,
    /// The learner.
    pub user_id: Uuid,
    /// The course.
    pub course_id: Uuid,
    /// The course's title.
    pub course_title: String,
    /// Status. An ACTIVE or PAUSED enrollment whose access has ended reads
    /// EXPIRED.
    pub status: Status,
    /// When it started (or last restarted).
    pub enrolled_at: DateTime<Utc>,
    /// When the course was completed.
    pub completed_at: Option<DateTime<Utc>>,
    /// Final grade, 0–100: the mean score over the course's quizzes,
    /// assignments and code exercises, each weighing the same (a graded
    /// section without a score counts 0). Absent when the course has no
    /// graded section, or before completion.
    pub final_grade: Option<f64>,
    /// The published version of the course the learner is on.
    pub course_version: Option<i32>,
    /// End of access, if any.
    pub access_ends_at: Option<DateTime<Utc>>,
    /// Required sections done.
    pub sections_done: i64,
    /// Required sections of the course (sections not optional, of required
    /// lessons).
    pub sections_required: i64,
    /// `sections_done` of `sections_required`, 0–100.
    pub progress_percent: i64,
}

impl From<EnrollmentRow> for Enrollment {
    fn from(r: EnrollmentRow) -> Self {
        let progress_percent = percent(r.sections_done, r.sections_required);
        Self {
            id: r.id,
            user_id: r.user_id,
            course_id: r.course_id,
            status: r.status().into(),
            course_title: r.course_title,
            enrolled_at: r.enrolled_at,
            completed_at: r.completed_at,
            final_grade: r.final_grade,
            course_version: r.course_version,
            access_ends_at: r.access_ends_at,
            sections_done: r.sections_done,
            sections_required: r.sections_required,
            progress_percent,
        }
    }
}

/// A page of enrollments.
#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct EnrollmentPage {
    /// Newest first.
    pub items: Vec<Enrollment>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// Enrolling someone else.
#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
#[oai(deny_unknown_fields)]
pub struct EnrollUser {
    /// The learner: an active user of the organization.
    pub user_id: Uuid,
    /// End of access, if any; must be in the future.
    pub access_ends_at: Option<DateTime<Utc>>,
}

/// A change of an enrollment by an enrollment manager.
#[derive(Object, Debug)]
#[oai(deny_unknown_fields)]
pub struct UpdateEnrollment {
    /// New end of access, or `null` for none.
    #[oai(nullable)]
    pub access_ends_at: MaybeUndefined<DateTime<Utc>>,
}

/// An attempt at a section.
#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
#[oai(deny_unknown_fields)]
pub struct RecordProgress {
    /// Seconds spent in this attempt, 0–86400 (422 `validation_failed`
    /// otherwise). They add up over attempts.
    #[oai(validator(minimum(value = "0"), maximum(value = "86400")))]
    pub time_spent_seconds: i64,
    /// Score of this attempt, 0–100, or absent/`null` (422 `validation_failed`
    /// otherwise). The best score of all attempts is kept.
    #[oai(validator(minimum(value = "0"), maximum(value = "100")))]
    pub score: Option<f64>,
}

/// A learner's record on one section.
#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct Progress {
    /// The section.
    pub section_id: Uuid,
    /// Its lesson.
    pub lesson_id: Uuid,
    /// When it was first done.
    pub completed_at: DateTime<Utc>,
    /// Seconds spent over all attempts.
    pub time_spent_seconds: i32,
    /// Attempts so far.
    pub attempts_count: i32,
    /// Best score so far.
    pub score: Option<f64>,
}

impl From<ProgressRow> for Progress {
    fn from(r: ProgressRow) -> Self {
        Self {
            section_id: r.section_id,
            lesson_id: r.lesson_id,
            completed_at: r.completed_at,
            time_spent_seconds: r.time_spent_seconds,
            attempts_count: r.attempts_count,
            score: r.score,
        }
    }
}

/// A certificate of completion.
#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct Certificate {
    /// Verification code: `GET /api/v1/certificates/{code}` on the
    /// organization's host shows the certificate to anyone who has it.
    pub code: String,
    /// The enrollment.
    pub enrollment_id: Uuid,
    /// The course.
    pub course_id: Uuid,
    /// The learner, as named when it was issued.
    pub learner_name: String,
    /// The course, as titled when it was issued.
    pub course_title: String,
    /// Final grade, 0–100.
    pub final_grade: Option<f64>,
    /// Completion.
    pub completed_at: DateTime<Utc>,
    /// Issue.
    pub issued_at: DateTime<Utc>,
}

impl From<CertificateRow> for Certificate {
    fn from(r: CertificateRow) -> Self {
        Self {
            code: r.code,
            enrollment_id: r.enrollment_id,
            course_id: r.course_id,
            learner_name: r.learner_name,
            course_title: r.course_title,
            final_grade: r.final_grade,
            completed_at: r.completed_at,
            issued_at: r.issued_at,
        }
    }
}

/// What a printed certificate shows.
#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct VerifiedCertificate {
    /// The organization that issued it.
    pub issued_by: String,
    /// The learner.
    pub learner_name: String,
    /// The course.
    pub course_title: String,
    /// Completion.
    pub completed_at: DateTime<Utc>,
    /// Final grade, 0–100; absent when the course has no graded section or
    /// the organization does not show grades on certificates.
    pub final_grade: Option<f64>,
}

/// A certificate, printable.
#[derive(askama::Template)]
#[template(path = "certificate.html")]
struct CertificatePage<'a> {
    issued_by: &'a str,
    learner_name: &'a str,
    course_title: &'a str,
    completed_on: String,
    grade: Option<String>,
    code: &'a str,
}

#[derive(ApiResponse)]
enum CertificatePrinted {
    /// The certificate as a printable HTML page (no scripts, no outside
    /// resources).
    #[oai(status = 200)]
    Ok(
        poem_openapi::payload::Html<String>,
        #[oai(header = "Content-Security-Policy")] String,
        #[oai(header = "X-Content-Type-Options")] String,
    ),
}

/// Finds a certificate by its code, as the public sees it.
async fn certificate_by_code(
    ctx: &Ctx,
    tenant: &Tenant,
    code: &str,
) -> ApiResult<VerifiedCertificate> {
    // Only codes this service could have issued reach the database.
    let well_formed = (22..=64).contains(&code.len())
        && code
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !well_formed {
        return Err(certificate_not_found());
    }
    let mut tx = ctx.db.tenant(tenant.id, None).await?;
    let row = learning::verify_certificate(&mut tx, code).await?;
    let org = lms_db::queries::orgs::current(&mut tx).await?;
    tx.commit().await?;
    let (row, org) = row.zip(org).ok_or_else(certificate_not_found)?;
    let settings = crate::settings::OrgSettings::from_json(&org.settings);
    Ok(VerifiedCertificate {
        issued_by: org.name,
        learner_name: row.learner_name,
        course_title: row.course_title,
        completed_at: row.completed_at,
        final_grade: row.final_grade.filter(|_| settings.certificate_shows_grade),
    })
}

/// The outcome of recording progress.
#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct ProgressRecorded {
    /// The section's record.
    pub progress: Progress,
    /// The enrollment after it (COMPLETED when this finished the course).
    pub enrollment: Enrollment,
    /// The certificate, when this attempt completed the course.
    pub certificate: Option<Certificate>,
}

/// The caller's certificates.
#[derive(Object, Debug)]
pub struct CertificateList {
    /// Newest first.
    pub items: Vec<Certificate>,
}

/// A section with your record on it.
#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct SectionWithProgress {
    /// Id.
    pub id: Uuid,
    /// Title.
    pub title: String,
    /// Type, e.g. `QUIZ`.
    #[oai(rename = "type")]
    pub section_type: String,
    /// Optional sections do not count towards completion.
    pub is_optional: bool,
    /// Done.
    pub done: bool,
    /// Best score.
    pub score: Option<f64>,
    /// Seconds spent.
    #[oai(validator(minimum(value = "0"), maximum(value = "86400")))]
    pub time_spent_seconds: i64,
    /// Attempts.
    pub attempts_count: i64,
}

/// A lesson with your progress in it.
#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct LessonWithProgress {
    /// Id.
    pub id: Uuid,
    /// Title.
    pub title: String,
    /// Position.
    pub position: i32,
    /// Required lessons count towards completion.
    pub is_required: bool,
    /// Not open to you yet (the course's pacing); progress on its sections
    /// is refused with 409 `section_locked`.
    pub locked: bool,
    /// When it opens or opened, for a course with drip pacing.
    pub unlocks_at: Option<DateTime<Utc>>,
    /// Sequential pacing: the earlier lesson to complete first.
    pub waits_for_lesson_id: Option<Uuid>,
    /// Required sections done (0 for an optional lesson).
    pub sections_done: i64,
    /// Required sections (0 for an optional lesson).
    pub sections_required: i64,
    /// `sections_done` of `sections_required`, 0–100 (100 when nothing is
    /// required).
    pub progress_percent: i64,
    /// Its sections, in order.
    pub sections: Vec<SectionWithProgress>,
}

/// Your enrollment, in the progress view.
#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct EnrollmentSummary {
    /// Id.
    pub id: Uuid,
    /// Status.
    pub status: Status,
    /// Started.
    pub enrolled_at: DateTime<Utc>,
    /// Completed.
    pub completed_at: Option<DateTime<Utc>>,
    /// Final grade.
    pub final_grade: Option<f64>,
    /// The published version you are on.
    pub course_version: Option<i32>,
}

/// A course with your progress on every section.
#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct CourseWithProgress {
    /// The course.
    pub course_id: Uuid,
    /// Its title.
    pub title: String,
    /// How its lessons open.
    pub pacing: Pacing,
    /// Your enrollment; absent when you are not enrolled (drip dates are
    /// then counted from now).
    pub enrollment: Option<EnrollmentSummary>,
    /// Required sections done.
    pub sections_done: i64,
    /// Required sections.
    pub sections_required: i64,
    /// `sections_done` of `sections_required`, 0–100.
    pub progress_percent: i64,
    /// Seconds spent over all sections.
    #[oai(validator(minimum(value = "0"), maximum(value = "86400")))]
    pub time_spent_seconds: i64,
    /// Lessons in order.
    pub lessons: Vec<LessonWithProgress>,
}

/// A learner of a course.
#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct Learner {
    /// The enrollment.
    pub enrollment_id: Uuid,
    /// The learner.
    pub user_id: Uuid,
    /// Name.
    pub name: String,
    /// E-mail.
    pub email: String,
    /// Status.
    pub status: Status,
    /// Started.
    pub enrolled_at: DateTime<Utc>,
    /// Completed.
    pub completed_at: Option<DateTime<Utc>>,
    /// Final grade.
    pub final_grade: Option<f64>,
    /// Progress, 0–100.
    pub progress_percent: i64,
    /// Seconds spent.
    #[oai(validator(minimum(value = "0"), maximum(value = "86400")))]
    pub time_spent_seconds: i64,
    /// Latest progress.
    pub last_activity_at: Option<DateTime<Utc>>,
}

impl From<learning::LearnerRow> for Learner {
    fn from(r: learning::LearnerRow) -> Self {
        Self {
            enrollment_id: r.enrollment_id,
            user_id: r.user_id,
            name: r.name,
            email: r.email,
            status: status_of(&r.status),
            enrolled_at: r.enrolled_at,
            completed_at: r.completed_at,
            final_grade: r.final_grade,
            progress_percent: percent(r.sections_done, r.sections_required),
            time_spent_seconds: r.time_spent_seconds,
            last_activity_at: r.last_activity_at,
        }
    }
}

/// A page of a course's learners.
#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct LearnerPage {
    /// By enrollment.
    pub items: Vec<Learner>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
    /// Enrollments of the course, in every status.
    pub enrolled: i64,
    /// Of them, completed.
    pub completed: i64,
    /// `completed` of `enrolled`, 0–100 (0 without enrollments).
    pub completion_rate: f64,
}

/// A status as the database labels it.
fn status_of(label: &str) -> Status {
    label
        .parse::<EnrollmentStatus>()
        .unwrap_or(EnrollmentStatus::Active)
        .into()
}

fn percent(done: i64, of: i64) -> i64 {
    (done * 100).checked_div(of).unwrap_or(0)
}

#[derive(ApiResponse)]
enum ProgressView {
    /// The course with your progress.
    #[oai(status = 200)]
    Ok(Json<CourseWithProgress>),
}

#[derive(ApiResponse)]
enum LearnersListed {
    /// The learners.
    #[oai(status = 200)]
    Ok(Json<LearnerPage>),
}

#[derive(ApiResponse)]
enum LearnersExported {
    /// One row per learner, with a header row: enrollment_id, user_id,
    /// name, email, status, enrolled_at, completed_at, final_grade,
    /// progress_percent, time_spent_seconds, last_activity_at.
    #[oai(status = 200, content_type = "text/csv; charset=utf-8")]
    Csv(poem_openapi::payload::Binary<poem::Body>),
}

/// A learning session: time the server measures.
#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct LearningSession {
    /// Id.
    pub id: Uuid,
    /// The course.
    pub course_id: Uuid,
    /// Started.
    pub started_at: DateTime<Utc>,
    /// Last heartbeat.
    pub last_seen_at: DateTime<Utc>,
    /// Ended: by the learner, or at the last heartbeat after 30 minutes
    /// without one.
    pub ended_at: Option<DateTime<Utc>>,
    /// Seconds from start to end.
    pub duration_seconds: Option<i32>,
    /// Activity events recorded.
    pub activity_count: i32,
}

impl From<learning::SessionRow> for LearningSession {
    fn from(r: learning::SessionRow) -> Self {
        Self {
            id: r.id,
            course_id: r.course_id,
            started_at: r.started_at,
            last_seen_at: r.last_seen_at,
            ended_at: r.ended_at,
            duration_seconds: r.duration_seconds,
            activity_count: r.activity_count,
        }
    }
}

/// A heartbeat, with what happened since the last one.
#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
#[oai(deny_unknown_fields)]
pub struct Heartbeat {
    /// Activity events (JSON objects), at most 100 per heartbeat; a
    /// session's log holds at most 64 KiB (422 `activity_too_large`).
    pub events: Option<Vec<std::collections::BTreeMap<String, serde_json::Value>>>,
}

#[derive(ApiResponse)]
enum SessionAnswer {
    /// The session.
    #[oai(status = 200)]
    Ok(Json<LearningSession>),
}

#[derive(ApiResponse)]
enum SessionStarted {
    /// Started; a session of the course left open was ended.
    #[oai(status = 201)]
    Created(Json<LearningSession>),
}

/// A course in progress, on the dashboard.
#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct DashboardCourse {
    /// The enrollment.
    pub enrollment_id: Uuid,
    /// The course.
    pub course_id: Uuid,
    /// Its title.
    pub course_title: String,
    /// ACTIVE or PAUSED.
    pub status: Status,
    /// Progress, 0–100.
    pub progress_percent: i64,
    /// Required sections done.
    pub sections_done: i64,
    /// Required sections.
    pub sections_required: i64,
    /// Seconds spent on its sections.
    #[oai(validator(minimum(value = "0"), maximum(value = "86400")))]
    pub time_spent_seconds: i64,
    /// Mean of your scores in it.
    pub average_score: Option<f64>,
    /// Your latest progress in it.
    pub last_activity_at: Option<DateTime<Utc>>,
}

/// A recent learning session.
#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
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

/// Your learning at a glance.
#[derive(Object, Debug)]
pub struct Dashboard {
    /// Courses in progress (ACTIVE or PAUSED), newest enrollment first.
    pub active: Vec<DashboardCourse>,
    /// Courses completed.
    pub completed_courses: i64,
    /// Certificates held.
    pub certificates: i64,
    /// Seconds recorded on sections, all courses.
    #[oai(validator(minimum(value = "0"), maximum(value = "86400")))]
    pub time_spent_seconds: i64,
    /// Seconds of finished learning sessions, all courses.
    pub session_seconds: i64,
    /// Your five latest finished sessions.
    pub recent_sessions: Vec<RecentSession>,
    /// Consecutive days (UTC) with activity, up to today or yesterday.
    pub streak_days: i64,
}

#[derive(ApiResponse)]
enum DashboardFound {
    /// The dashboard.
    #[oai(status = 200)]
    Ok(Json<Dashboard>),
}

/// Many learners to enroll at once.
#[derive(Object, Debug)]
#[oai(deny_unknown_fields)]
pub struct BulkEnroll {
    /// User ids or e-mail addresses, 1–1000.
    #[oai(validator(min_items = 1, max_items = 1000))]
    pub users: Vec<String>,
}

/// What happened to one entry of a bulk enrollment.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[oai(rename_all = "snake_case")]
pub enum BulkOutcome {
    /// Newly enrolled.
    Enrolled,
    /// A dropped or expired enrollment started again.
    Restarted,
    /// Already enrolled (ACTIVE or PAUSED).
    AlreadyEnrolled,
    /// Completed the course already.
    AlreadyCompleted,
    /// Their access ended; extend it to enroll them again.
    AccessEnded,
    /// No user with this id or e-mail.
    UnknownUser,
    /// The user is deactivated.
    InactiveUser,
    /// The same user appeared earlier in the list.
    Duplicate,
}

/// One entry's outcome.
#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct BulkRow {
    /// The entry as given.
    pub input: String,
    /// What happened.
    pub outcome: BulkOutcome,
    /// The user, when found.
    pub user_id: Option<Uuid>,
    /// The enrollment, when there is one.
    pub enrollment_id: Option<Uuid>,
}

/// Outcomes, in the order of the entries.
#[derive(Object, Debug)]
pub struct BulkResult {
    /// One per entry.
    pub rows: Vec<BulkRow>,
    /// Entries newly enrolled or restarted.
    pub enrolled: i64,
}

/// A form with a CSV file.
#[derive(poem_openapi::Multipart, Debug)]
#[oai(deny_unknown_fields)]
pub struct CsvForm {
    /// The CSV file.
    pub file: poem_openapi::types::multipart::Upload,
}

/// An uploaded CSV file.
#[derive(poem_openapi::ApiRequest, Debug)]
pub enum CsvUpload {
    /// The file as the body.
    #[oai(content_type = "text/csv")]
    Csv(poem_openapi::payload::PlainText<String>),
    /// The file as the `file` part of a form.
    Form(CsvForm),
}

impl CsvUpload {
    /// The text of the file.
    async fn text(self) -> ApiResult<String> {
        match self {
            CsvUpload::Csv(text) => Ok(text.0),
            CsvUpload::Form(form) => form.file.into_string().await.map_err(|_| {
                ApiError::unprocessable(ErrorCode::MalformedCsv, "the file is not UTF-8 text")
            }),
        }
    }
}

#[derive(ApiResponse)]
enum BulkDone {
    /// Every entry, with its outcome.
    #[oai(status = 200)]
    Ok(Json<BulkResult>),
}

#[derive(ApiResponse)]
enum EnrollmentMade {
    /// Enrolled.
    #[oai(status = 201)]
    Created(Json<Enrollment>),
    /// A dropped or expired enrollment started again, its progress kept.
    #[oai(status = 200)]
    Restarted(Json<Enrollment>),
}

#[derive(ApiResponse)]
enum EnrollmentFound {
    /// The enrollment.
    #[oai(status = 200)]
    Ok(Json<Enrollment>),
}

#[derive(ApiResponse)]
enum EnrollmentsListed {
    /// The enrollments.
    #[oai(status = 200)]
    Ok(Json<EnrollmentPage>),
}

#[derive(ApiResponse)]
enum ProgressDone {
    /// Recorded.
    #[oai(status = 200)]
    Ok(Json<ProgressRecorded>),
}

/// How many enrollments moved.
#[derive(Object, Debug)]
pub struct Moved {
    /// Enrollments now on the latest published version.
    pub moved: i64,
}

#[derive(ApiResponse)]
enum MovedToLatest {
    /// Done.
    #[oai(status = 200)]
    Ok(Json<Moved>),
}

#[derive(ApiResponse)]
enum CertificatesListed {
    /// The certificates.
    #[oai(status = 200)]
    Ok(Json<CertificateList>),
}

#[derive(ApiResponse)]
enum CertificateShown {
    /// The certificate.
    #[oai(status = 200)]
    Ok(Json<VerifiedCertificate>),
}

fn enrollment_not_found() -> ApiError {
    ApiError::not_found(ErrorCode::EnrollmentNotFound, "no such enrollment")
}

fn certificate_not_found() -> ApiError {
    ApiError::not_found(ErrorCode::CertificateNotFound, "no such certificate")
}

async fn fetch(tx: &mut TenantTx, id: EnrollmentId) -> ApiResult<Enrollment> {
    Ok(learning::get(tx, id)
        .await?
        .ok_or_else(enrollment_not_found)?
        .into())
}

/// Enrolls `user` in `course` (eligibility as the seed's
/// `validateEnrollmentEligibility`).
async fn enroll(
    mut unit: Unit<'_>,
    actor: &Actor,
    user: UserId,
    course: CourseId,
    access_ends_at: Option<DateTime<Utc>>,
) -> ApiResult<EnrollmentMade> {
    let version = published_version(&mut unit, actor, course).await?;
    let outcome = learning::enroll(unit.tx(), user, course, version, access_ends_at).await?;
    let (id, created) = match outcome {
        Enrolled::Created(id) => (id, true),
        Enrolled::Reactivated(id) => (id, false),
        Enrolled::Exists(_, EnrollmentStatus::Completed) => {
            return Err(ApiError::conflict(
                ErrorCode::AlreadyCompleted,
                "the course was completed already",
            ));
        }
        Enrolled::Exists(_, EnrollmentStatus::Expired) => {
            return Err(ApiError::conflict(
                ErrorCode::AccessEnded,
                "access to this course has ended; an enrollment manager can extend it",
            ));
        }
        Enrolled::Exists(..) => {
            return Err(ApiError::conflict(
                ErrorCode::AlreadyEnrolled,
                "already enrolled in this course",
            ));
        }
    };
    let e = fetch(unit.tx(), id).await?;
    unit.emit(
        if created {
            "enrollment.created"
        } else {
            "enrollment.reactivated"
        },
        id,
        json!({ "id": id, "user_id": user, "course_id": course, "course_version": e.course_version }),
    );
    unit.commit().await?;
    Ok(if created {
        EnrollmentMade::Created(Json(e))
    } else {
        EnrollmentMade::Restarted(Json(e))
    })
}

/// Holds a live, published course for enrollment and returns its latest
/// published version. A draft is 404 to learners (they do not see drafts)
/// and 409 `course_not_published` to staff.
pub(crate) async fn published_version(
    unit: &mut Unit<'_>,
    actor: &Actor,
    course: CourseId,
) -> ApiResult<Option<i32>> {
    let target = learning::enrollable(unit.tx(), course)
        .await?
        .ok_or_else(course_not_found)?;
    if target.published {
        Ok(target.version)
    } else if actor.can(Permission::CourseRead) {
        Err(ApiError::conflict(
            ErrorCode::CourseNotPublished,
            "the course is not published",
        ))
    } else {
        Err(course_not_found())
    }
}

/// Moves an enrollment along its lifecycle.
async fn transition(
    ctx: &Ctx,
    tenant: &Tenant,
    auth: TenantBearer,
    op: &'static str,
    id: Uuid,
    to: EnrollmentStatus,
) -> ApiResult<EnrollmentFound> {
    let (mut unit, _) = ctx.unit(tenant, auth.0, op).await?;
    let id = EnrollmentId::from_uuid(id);
    let (stored, ends) = learning::lock(unit.tx(), id)
        .await?
        .ok_or_else(enrollment_not_found)?;
    let expired = ends.is_some_and(|e| e <= Utc::now())
        && matches!(stored, EnrollmentStatus::Active | EnrollmentStatus::Paused);
    let from = if expired {
        EnrollmentStatus::Expired
    } else {
        stored
    };
    use EnrollmentStatus::*;
    let allowed = matches!(
        (from, to),
        (Active, Paused) | (Paused, Active) | (Active, Dropped) | (Paused, Dropped)
    );
    if !allowed {
        return Err(ApiError::conflict(
            ErrorCode::InvalidTransition,
            format!("an enrollment that is {from} cannot become {to}"),
        ));
    }
    learning::set_status(unit.tx(), id, to).await?;
    let e = fetch(unit.tx(), id).await?;
    unit.emit(
        "enrollment.status_changed",
        id,
        json!({ "id": id, "user_id": e.user_id, "course_id": e.course_id, "from": from, "to": to }),
    );
    unit.commit().await?;
    Ok(EnrollmentFound::Ok(Json(e)))
}

/// A course's learners are followed by its staff (any staff role) and by
/// holders of `course:write:any`; 404 for a course the caller cannot see,
/// 403 `not_course_staff` for one they do not teach.
async fn follows_learners(tx: &mut TenantTx, actor: &Actor, course: CourseId) -> ApiResult<()> {
    if !reviews::course_visible(tx, course, true).await? {
        return Err(course_not_found());
    }
    if actor.can(Permission::CourseWriteAny)
        || lms_db::queries::staff::role_of(tx, course, actor.user)
            .await?
            .is_some()
    {
        Ok(())
    } else {
        Err(ApiError::forbidden(
            ErrorCode::NotCourseStaff,
            "only the course's staff follow its learners",
        ))
    }
}

/// Completes the enrollment if its learner has done the course, with its
/// certificate and events; the certificate when it did.
async fn complete_if_done(
    unit: &mut Unit<'_>,
    enrollment: EnrollmentId,
    user: UserId,
    course: CourseId,
) -> ApiResult<Option<Certificate>> {
    if !learning::complete_if_done(unit.tx(), enrollment).await? {
        return Ok(None);
    }
    let cert = learning::issue_certificate(unit.tx(), enrollment, &certificate_code()).await?;
    unit.emit(
        "enrollment.completed",
        enrollment,
        json!({ "id": enrollment, "user_id": user, "course_id": course,
                "final_grade": cert.final_grade }),
    );
    unit.emit(
        "certificate.issued",
        enrollment,
        json!({ "enrollment_id": enrollment, "user_id": user, "course_id": course }),
    );
    Ok(Some(cert.into()))
}

/// A fresh certificate code: 144 random bits, base64url.
fn certificate_code() -> String {
    let bytes: [u8; 18] = rand::random();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Enrollments, progress, certificates.
pub struct LearningApi;

#[OpenApi(tag = "TenantTags::Learning")]
impl LearningApi {
    /// Enroll yourself in a published course. Refused with 409
    /// `already_enrolled` (ACTIVE or PAUSED), `already_completed`, or
    /// `access_ended`; a DROPPED or EXPIRED enrollment starts again (200),
    /// its progress kept. The enrollment is pinned to the course's latest
    /// published version.
    #[oai(
        path = "/courses/:course_id/enrollment",
        method = "post",
        operation_id = "enrollInCourse"
    )]
    async fn enroll_self(
        &self,
        ctx: Data<&Ctx>,
        tenant: Data<&Tenant>,
        auth: TenantBearer,
        course_id: Path<Uuid>,
    ) -> ApiResult<EnrollmentMade> {
        let (unit, actor) = ctx.unit(&tenant, auth.0, "enrollInCourse").await?;
        let user = actor.user;
        enroll(unit, &actor, user, CourseId::from_uuid(course_id.0), None).await
    }

    /// Enroll a user in a published course (`enrollment:manage`), with an
    /// optional end of access. Refusals as for enrolling yourself, and 422
    /// `unknown_user`, 409 `inactive_user`.
    #[oai(
        path = "/courses/:course_id/enrollments",
        method = "post",
        operation_id = "enrollUser"
    )]
    async fn enroll_user(
        &self,
        ctx: Data<&Ctx>,
        tenant: Data<&Tenant>,
        auth: TenantBearer,
        course_id: Path<Uuid>,
        body: Body<EnrollUser>,
    ) -> ApiResult<EnrollmentMade> {
        let b = body.0;
        if b.access_ends_at.is_some_and(|e| e <= Utc::now()) {
            return Err(ApiError::unprocessable(
                ErrorCode::AccessEndInPast,
                "`access_ends_at` must be in the future",
            ));
        }
        let (mut unit, actor) = ctx.unit(&tenant, auth.0, "enrollUser").await?;
        let user = UserId::from_uuid(b.user_id);
        let row = users::get(unit.tx(), user)
            .await?
            .ok_or_else(|| ApiError::unprocessable(ErrorCode::UnknownUser, "no such user"))?;
        if !row.is_active {
            return Err(ApiError::conflict(
                ErrorCode::InactiveUser,
                "the user is deactivated",
            ));
        }
        enroll(
            unit,
            &actor,
            user,
            CourseId::from_uuid(course_id.0),
            b.access_ends_at,
        )
        .await
    }

    /// Enroll many users in a published course (`enrollment:manage`) from
    /// a list of user ids or e-mail addresses; every entry gets its outcome.
    #[oai(
        path = "/courses/:course_id/enrollments/bulk",
        method = "post",
        operation_id = "bulkEnroll"
    )]
    async fn bulk(
        &self,
        ctx: Data<&Ctx>,
        tenant: Data<&Tenant>,
        auth: TenantBearer,
        course_id: Path<Uuid>,
        body: Body<BulkEnroll>,
    ) -> ApiResult<BulkDone> {
        bulk_enroll(&ctx, &tenant, auth, "bulkEnroll", course_id.0, body.0.users).await
    }

    /// The same from a CSV file (`text/csv`, or the `file` part of a
    /// `multipart/form-data` form) whose header names a `user`,
    /// `user_id` or `email` column. A file that is not such a CSV is
    /// refused whole (422 `malformed_csv`), with nothing enrolled.
    #[oai(
        path = "/courses/:course_id/enrollments/bulk.csv",
        method = "post",
        operation_id = "bulkEnrollCsv"
    )]
    async fn bulk_csv(
        &self,
        ctx: Data<&Ctx>,
        tenant: Data<&Tenant>,
        auth: TenantBearer,
        course_id: Path<Uuid>,
        body: CsvUpload,
    ) -> ApiResult<BulkDone> {
        let users = parse_csv(&body.text().await?)?;
        bulk_enroll(&ctx, &tenant, auth, "bulkEnrollCsv", course_id.0, users).await
    }

    /// Your enrollments, newest first.
    #[oai(
        path = "/me/enrollments",
        method = "get",
        operation_id = "listMyEnrollments"
    )]
    async fn list_mine(
        &self,
        ctx: Data<&Ctx>,
        tenant: Data<&Tenant>,
        auth: TenantBearer,
        /// Only enrollments in this status.
        status: Query<Option<Status>>,
        /// The `next_cursor` of the previous page.
        cursor: Query<Option<Uuid>>,
        /// Page size, 1–100 (default 20).
        #[oai(validator(minimum(value = "1"), maximum(value = "100")))]
        limit: Query<Option<i64>>,
    ) -> ApiResult<EnrollmentsListed> {
        let before = cursor.0.map(EnrollmentId::from_uuid);
        let limit = limit.0.unwrap_or(paging::DEFAULT_LIMIT);
        let mut read = ctx.reader(&tenant, auth.0, "listMyEnrollments").await?;
        let user = read.actor().user;
        let rows = learning::list_of(
            read.tx().await?,
            user,
            status.0.map(Into::into),
            before,
            limit + 1,
        )
        .await?;
        read.finish().await?;
        let (rows, next_cursor) = paging::page(rows, limit, |r| r.id.to_string());
        Ok(EnrollmentsListed::Ok(Json(EnrollmentPage {
            items: rows.into_iter().map(Into::into).collect(),
            next_cursor,
        })))
    }

    /// One enrollment: your own, or anyone's with `enrollment:manage` or
    /// `progress:read:any`.
    #[oai(
        path = "/enrollments/:enrollment_id",
        method = "get",
        operation_id = "getEnrollment"
    )]
    async fn get(
        &self,
        ctx: Data<&Ctx>,
        tenant: Data<&Tenant>,
        auth: TenantBearer,
        enrollment_id: Path<Uuid>,
    ) -> ApiResult<EnrollmentFound> {
        let mut read = ctx.reader(&tenant, auth.0, "getEnrollment").await?;
        let e = fetch(read.tx().await?, EnrollmentId::from_uuid(enrollment_id.0)).await?;
        read.finish().await?;
        Ok(EnrollmentFound::Ok(Json(e)))
    }

    /// Change an enrollment's end of access (`enrollment:manage`).
    #[oai(
        path = "/enrollments/:enrollment_id",
        method = "patch",
        operation_id = "updateEnrollment"
    )]
    async fn update(
        &self,
        ctx: Data<&Ctx>,
        tenant: Data<&Tenant>,
        auth: TenantBearer,
        enrollment_id: Path<Uuid>,
        body: Body<UpdateEnrollment>,
    ) -> ApiResult<EnrollmentFound> {
        let (mut unit, _) = ctx.unit(&tenant, auth.0, "updateEnrollment").await?;
        let id = EnrollmentId::from_uuid(enrollment_id.0);
        learning::lock(unit.tx(), id)
            .await?
            .ok_or_else(enrollment_not_found)?;
        if let Some(ends) = paging::maybe(&body.0.access_ends_at) {
            learning::set_access_end(unit.tx(), id, ends.copied()).await?;
        }
        let e = fetch(unit.tx(), id).await?;
        unit.emit(
            "enrollment.access_changed",
            id,
            json!({ "id": id, "user_id": e.user_id, "course_id": e.course_id,
                    "access_ends_at": e.access_ends_at }),
        );
        unit.commit().await?;
        Ok(EnrollmentFound::Ok(Json(e)))
    }

    /// Pause an ACTIVE enrollment (409 `invalid_transition` otherwise).
    #[oai(
        path = "/enrollments/:enrollment_id/pause",
        method = "post",
        operation_id = "pauseEnrollment"
    )]
    async fn pause(
        &self,
        ctx: Data<&Ctx>,
        tenant: Data<&Tenant>,
        auth: TenantBearer,
        enrollment_id: Path<Uuid>,
    ) -> ApiResult<EnrollmentFound> {
        transition(
            &ctx,
            &tenant,
            auth,
            "pauseEnrollment",
            enrollment_id.0,
            EnrollmentStatus::Paused,
        )
        .await
    }

    /// Resume a PAUSED enrollment (409 `invalid_transition` otherwise).
    #[oai(
        path = "/enrollments/:enrollment_id/resume",
        method = "post",
        operation_id = "resumeEnrollment"
    )]
    async fn resume(
        &self,
        ctx: Data<&Ctx>,
        tenant: Data<&Tenant>,
        auth: TenantBearer,
        enrollment_id: Path<Uuid>,
    ) -> ApiResult<EnrollmentFound> {
        transition(
            &ctx,
            &tenant,
            auth,
            "resumeEnrollment",
            enrollment_id.0,
            EnrollmentStatus::Active,
        )
        .await
    }

    /// Drop an ACTIVE or PAUSED enrollment (409 `invalid_transition`
    /// otherwise). Enrolling again restarts it with the progress kept.
    #[oai(
        path = "/enrollments/:enrollment_id/drop",
        method = "post",
        operation_id = "dropEnrollment"
    )]
    async fn drop_enrollment(
        &self,
        ctx: Data<&Ctx>,
        tenant: Data<&Tenant>,
        auth: TenantBearer,
        enrollment_id: Path<Uuid>,
    ) -> ApiResult<EnrollmentFound> {
        transition(
            &ctx,
            &tenant,
            auth,
            "dropEnrollment",
            enrollment_id.0,
            EnrollmentStatus::Dropped,
        )
        .await
    }

    /// Record an attempt at a section of a course you are actively enrolled
    /// in (409 `not_enrolled`, or `enrollment_not_active` when it is
    /// paused, dropped, expired or completed). Idempotent per section: time
    /// adds up, attempts count, the score is kept by the course's
    /// `score_rule` (best, or latest). A section of a lesson that is not
    /// open yet (the course's `pacing`) is refused with 409
    /// `section_locked`, with `unlocks_at` when it opens on a date. Doing the last
    /// required section completes the enrollment in the same transaction,
    /// with its final grade and a certificate.
    #[oai(
        path = "/courses/:course_id/sections/:section_id/progress",
        method = "put",
        operation_id = "recordProgress"
    )]
    async fn record(
        &self,
        ctx: Data<&Ctx>,
        tenant: Data<&Tenant>,
        auth: TenantBearer,
        course_id: Path<Uuid>,
        section_id: Path<Uuid>,
        body: Body<RecordProgress>,
    ) -> ApiResult<ProgressDone> {
        let b = body.0;
        if !(0..=MAX_SECONDS_PER_CALL).contains(&b.time_spent_seconds) {
            return Err(ApiError::unprocessable(
                ErrorCode::InvalidTimeSpent,
                "`time_spent_seconds` must be between 0 and 86400",
            ));
        }
        if b.score
            .is_some_and(|s| !(0.0..=100.0).contains(&s) || s.is_nan())
        {
            return Err(ApiError::unprocessable(
                ErrorCode::InvalidScore,
                "`score` must be between 0 and 100",
            ));
        }
        let (course, section) = (
            CourseId::from_uuid(course_id.0),
            SectionId::from_uuid(section_id.0),
        );
        let (mut unit, actor) = ctx.unit(&tenant, auth.0, "recordProgress").await?;
        let drafts = actor.can(Permission::CourseRead);
        let target = learning::progress_target(unit.tx(), actor.user, course, section, drafts)
            .await?
            .ok_or_else(|| {
                ApiError::not_found(ErrorCode::SectionNotFound, "no such section in this course")
            })?;
        let Some((enrollment, stored, ends)) = target.enrollment else {
            return Err(ApiError::conflict(
                ErrorCode::NotEnrolled,
                "you are not enrolled in this course",
            ));
        };
        if stored != EnrollmentStatus::Active || ends.is_some_and(|e| e <= Utc::now()) {
            return Err(ApiError::conflict(
                ErrorCode::EnrollmentNotActive,
                "your enrollment in this course is not active",
            ));
        }
        if target.locked {
            return Err(match target.unlocks_at {
                Some(at) if target.waits_for.is_none() => {
                    ApiError::section_locked(Some(at), format!("this lesson opens at {at}"))
                }
                _ => ApiError::section_locked(
                    None,
                    "this lesson opens when the required lessons before it are complete",
                ),
            });
        }
        let seconds = i32::try_from(b.time_spent_seconds).unwrap_or(0);
        let progress = learning::record(
            unit.tx(),
            actor.user,
            course,
            &target,
            section,
            seconds,
            b.score,
        )
        .await?;
        unit.emit(
            "progress.recorded",
            section,
            json!({ "user_id": actor.user, "course_id": course, "section_id": section,
                    "time_spent_seconds": progress.time_spent_seconds,
                    "attempts_count": progress.attempts_count, "score": progress.score }),
        );
        let certificate = complete_if_done(&mut unit, enrollment, actor.user, course).await?;
        let e = fetch(unit.tx(), enrollment).await?;
        unit.commit().await?;
        Ok(ProgressDone::Ok(Json(ProgressRecorded {
            progress: progress.into(),
            enrollment: e,
            certificate,
        })))
    }

    /// A course with your progress on every section, per lesson and
    /// overall: one database statement.
    #[oai(
        path = "/courses/:course_id/my-progress",
        method = "get",
        operation_id = "getMyCourseProgress"
    )]
    async fn my_progress(
        &self,
        ctx: Data<&Ctx>,
        tenant: Data<&Tenant>,
        auth: TenantBearer,
        course_id: Path<Uuid>,
    ) -> ApiResult<ProgressView> {
        let mut read = ctx.reader(&tenant, auth.0, "getMyCourseProgress").await?;
        let (user, drafts) = (read.actor().user, read.actor().can(Permission::CourseRead));
        let view = learning::course_progress(
            read.tx().await?,
            CourseId::from_uuid(course_id.0),
            user,
            drafts,
        )
        .await?
        .ok_or_else(course_not_found)?;
        read.finish().await?;
        let mut total = (0, 0, 0);
        let lessons = view
            .lessons
            .into_iter()
            .map(|l| {
                let counted = |s: &&learning::SectionProgress| l.is_required && !s.is_optional;
                let required = l.sections.iter().filter(counted).count() as i64;
                let done = l.sections.iter().filter(counted).filter(|s| s.done).count() as i64;
                let time: i64 = l.sections.iter().map(|s| s.time_spent_seconds).sum();
                total = (total.0 + done, total.1 + required, total.2 + time);
                LessonWithProgress {
                    id: l.id,
                    title: l.title,
                    position: l.position,
                    is_required: l.is_required,
                    locked: l.locked,
                    unlocks_at: l.unlocks_at,
                    waits_for_lesson_id: l.waits_for,
                    sections_done: done,
                    sections_required: required,
                    progress_percent: if required == 0 {
                        100
                    } else {
                        percent(done, required)
                    },
                    sections: l
                        .sections
                        .into_iter()
                        .map(|s| SectionWithProgress {
                            id: s.id,
                            title: s.title,
                            section_type: s.section_type,
                            is_optional: s.is_optional,
                            done: s.done,
                            score: s.score,
                            time_spent_seconds: s.time_spent_seconds,
                            attempts_count: s.attempts_count,
                        })
                        .collect(),
                }
            })
            .collect();
        Ok(ProgressView::Ok(Json(CourseWithProgress {
            course_id: view.course_id,
            title: view.title,
            pacing: Pacing::of(&view.pacing),
            enrollment: view.enrollment.map(|e| EnrollmentSummary {
                id: e.id,
                status: status_of(&e.status),
                enrolled_at: e.enrolled_at,
                completed_at: e.completed_at,
                final_grade: e.final_grade,
                course_version: e.course_version,
            }),
            sections_done: total.0,
            sections_required: total.1,
            progress_percent: percent(total.0, total.1),
            time_spent_seconds: total.2,
            lessons,
        })))
    }

    /// Move your enrollment (or, with `enrollment:manage`, anyone's) to the
    /// course's latest published version. Progress on sections that exist
    /// in both stays, and completion is judged again. 409
    /// `already_latest`, or `enrollment_not_active` unless it is ACTIVE or
    /// PAUSED.
    #[oai(
        path = "/enrollments/:enrollment_id/move-to-latest",
        method = "post",
        operation_id = "moveEnrollmentToLatest"
    )]
    async fn move_to_latest(
        &self,
        ctx: Data<&Ctx>,
        tenant: Data<&Tenant>,
        auth: TenantBearer,
        enrollment_id: Path<Uuid>,
    ) -> ApiResult<EnrollmentFound> {
        let (mut unit, _) = ctx.unit(&tenant, auth.0, "moveEnrollmentToLatest").await?;
        let id = EnrollmentId::from_uuid(enrollment_id.0);
        let (stored, ends) = learning::lock(unit.tx(), id)
            .await?
            .ok_or_else(enrollment_not_found)?;
        if !matches!(stored, EnrollmentStatus::Active | EnrollmentStatus::Paused)
            || ends.is_some_and(|e| e <= Utc::now())
        {
            return Err(ApiError::conflict(
                ErrorCode::EnrollmentNotActive,
                "only a running enrollment moves to another version",
            ));
        }
        let before = fetch(unit.tx(), id).await?;
        if !reviews::course_visible(unit.tx(), CourseId::from_uuid(before.course_id), false).await?
        {
            return Err(course_not_found());
        }
        let Some(to) = learning::move_to_latest(unit.tx(), id).await? else {
            return Err(ApiError::conflict(
                ErrorCode::AlreadyLatest,
                "the enrollment is on the latest published version",
            ));
        };
        let (user, course) = (
            UserId::from_uuid(before.user_id),
            CourseId::from_uuid(before.course_id),
        );
        unit.emit(
            "enrollment.version_changed",
            id,
            json!({ "id": id, "user_id": user, "course_id": course,
                    "from": before.course_version, "to": to }),
        );
        complete_if_done(&mut unit, id, user, course).await?;
        let e = fetch(unit.tx(), id).await?;
        unit.commit().await?;
        Ok(EnrollmentFound::Ok(Json(e)))
    }

    /// Move every running enrollment of a course to its latest published
    /// version (`enrollment:manage`); says how many moved.
    #[oai(
        path = "/courses/:course_id/enrollments/move-to-latest",
        method = "post",
        operation_id = "moveLearnersToLatest"
    )]
    async fn move_all_to_latest(
        &self,
        ctx: Data<&Ctx>,
        tenant: Data<&Tenant>,
        auth: TenantBearer,
        course_id: Path<Uuid>,
    ) -> ApiResult<MovedToLatest> {
        let course = CourseId::from_uuid(course_id.0);
        let (mut unit, _) = ctx.unit(&tenant, auth.0, "moveLearnersToLatest").await?;
        if !reviews::course_visible(unit.tx(), course, true).await? {
            return Err(course_not_found());
        }
        let moved = learning::move_all_to_latest(unit.tx(), course).await?;
        for (id, user, to) in &moved {
            unit.emit(
                "enrollment.version_changed",
                *id,
                json!({ "id": id, "user_id": user, "course_id": course, "to": to, "bulk": true }),
            );
            let (id, user) = (EnrollmentId::from_uuid(*id), UserId::from_uuid(*user));
            complete_if_done(&mut unit, id, user, course).await?;
        }
        unit.emit(
            "course.learners_moved",
            course,
            json!({ "course_id": course, "moved": moved.len() }),
        );
        unit.commit().await?;
        Ok(MovedToLatest::Ok(Json(Moved {
            moved: moved.len() as i64,
        })))
    }

    /// A course's learners with status, progress, grade and last activity,
    /// and its completion rate (`progress:read:any`).
    #[allow(clippy::too_many_arguments)] // one per query parameter
    #[oai(
        path = "/courses/:course_id/learners",
        method = "get",
        operation_id = "listCourseLearners"
    )]
    async fn learners(
        &self,
        ctx: Data<&Ctx>,
        tenant: Data<&Tenant>,
        auth: TenantBearer,
        course_id: Path<Uuid>,
        /// Only learners in this status.
        status: Query<Option<Status>>,
        /// The `next_cursor` of the previous page.
        cursor: Query<Option<Uuid>>,
        /// Page size, 1–100 (default 20).
        #[oai(validator(minimum(value = "1"), maximum(value = "100")))]
        limit: Query<Option<i64>>,
    ) -> ApiResult<LearnersListed> {
        let after = cursor.0.map(EnrollmentId::from_uuid);
        let limit = limit.0.unwrap_or(paging::DEFAULT_LIMIT);
        let course = CourseId::from_uuid(course_id.0);
        let mut read = ctx.reader(&tenant, auth.0, "listCourseLearners").await?;
        let actor = read.actor().clone();
        let tx = read.tx().await?;
        follows_learners(tx, &actor, course).await?;
        let rows =
            learning::learners(tx, course, status.0.map(Into::into), after, limit + 1).await?;
        let (enrolled, completed) = learning::completion(tx, course).await?;
        read.finish().await?;
        let (rows, next_cursor) = paging::page(rows, limit, |r| r.enrollment_id.to_string());
        let completion_rate = if enrolled == 0 {
            0.0
        } else {
            (completed as f64 * 10_000.0 / enrolled as f64).round() / 100.0
        };
        Ok(LearnersListed::Ok(Json(LearnerPage {
            items: rows.into_iter().map(Into::into).collect(),
            next_cursor,
            enrolled,
            completed,
            completion_rate,
        })))
    }

    /// Every learner of a course as CSV, streamed page by page
    /// (`progress:read:any`).
    #[oai(
        path = "/courses/:course_id/learners.csv",
        method = "get",
        operation_id = "exportCourseLearners"
    )]
    async fn export_learners(
        &self,
        ctx: Data<&Ctx>,
        tenant: Data<&Tenant>,
        auth: TenantBearer,
        course_id: Path<Uuid>,
    ) -> ApiResult<LearnersExported> {
        let course = CourseId::from_uuid(course_id.0);
        let mut read = ctx.reader(&tenant, auth.0, "exportCourseLearners").await?;
        let actor = read.actor().clone();
        follows_learners(read.tx().await?, &actor, course).await?;
        let user = actor.user;
        read.finish().await?;
        let body = csv_pages(ctx.0.clone(), tenant.id, user, course);
        Ok(LearnersExported::Csv(poem_openapi::payload::Binary(body)))
    }
    /// Start a learning session in a course you are actively enrolled in
    /// (409 `not_enrolled` or `enrollment_not_active`). A session of the
    /// same course left open ends now.
    #[oai(
        path = "/courses/:course_id/sessions",
        method = "post",
        operation_id = "startLearningSession"
    )]
    async fn start_session(
        &self,
        ctx: Data<&Ctx>,
        tenant: Data<&Tenant>,
        auth: TenantBearer,
        course_id: Path<Uuid>,
    ) -> ApiResult<SessionStarted> {
        let course = CourseId::from_uuid(course_id.0);
        let (mut unit, actor) = ctx.unit(&tenant, auth.0, "startLearningSession").await?;
        match learning::enrollment_of(unit.tx(), actor.user, course).await? {
            None => {
                // A course the caller cannot see is not found, not a
                // course they are not enrolled in.
                let visible = learning::enrollable(unit.tx(), course)
                    .await?
                    .is_some_and(|c| c.published || actor.can(Permission::CourseRead));
                return Err(if visible {
                    ApiError::conflict(
                        ErrorCode::NotEnrolled,
                        "you are not enrolled in this course",
                    )
                } else {
                    course_not_found()
                });
            }
            Some(EnrollmentStatus::Active) => {}
            Some(_) => {
                return Err(ApiError::conflict(
                    ErrorCode::EnrollmentNotActive,
                    "your enrollment in this course is not active",
                ));
            }
        }
        let row = learning::start_session(unit.tx(), actor.user, course, Utc::now() - SESSION_IDLE)
            .await?;
        unit.emit(
            "learning_session.started",
            row.id,
            json!({ "id": row.id, "user_id": actor.user, "course_id": course }),
        );
        unit.commit().await?;
        Ok(SessionStarted::Created(Json(row.into())))
    }

    /// Keep your session alive, appending activity events (409
    /// `session_ended` once it ended, also after 30 minutes without a
    /// heartbeat).
    #[oai(
        path = "/sessions/:session_id/heartbeat",
        method = "post",
        operation_id = "heartbeatLearningSession"
    )]
    async fn heartbeat(
        &self,
        ctx: Data<&Ctx>,
        tenant: Data<&Tenant>,
        auth: TenantBearer,
        session_id: Path<Uuid>,
        body: Body<Heartbeat>,
    ) -> ApiResult<SessionAnswer> {
        let events = body.0.events.unwrap_or_default();
        if events.len() > MAX_EVENTS_PER_HEARTBEAT {
            return Err(ApiError::unprocessable(
                ErrorCode::ActivityTooLarge,
                "at most 100 events per heartbeat",
            ));
        }
        let events = serde_json::to_value(events).unwrap_or_default();
        touch(
            &ctx,
            &tenant,
            auth,
            "heartbeatLearningSession",
            session_id.0,
            events,
            false,
        )
        .await
    }

    /// End your session; the server computes its duration.
    #[oai(
        path = "/sessions/:session_id/end",
        method = "post",
        operation_id = "endLearningSession"
    )]
    async fn end_session(
        &self,
        ctx: Data<&Ctx>,
        tenant: Data<&Tenant>,
        auth: TenantBearer,
        session_id: Path<Uuid>,
    ) -> ApiResult<SessionAnswer> {
        let none = serde_json::Value::Array(Vec::new());
        touch(
            &ctx,
            &tenant,
            auth,
            "endLearningSession",
            session_id.0,
            none,
            true,
        )
        .await
    }

    /// Your dashboard: courses in progress with their progress, totals,
    /// recent sessions and your streak, in one database statement whatever
    /// the number of courses.
    #[oai(
        path = "/me/dashboard",
        method = "get",
        operation_id = "getMyDashboard"
    )]
    async fn dashboard(
        &self,
        ctx: Data<&Ctx>,
        tenant: Data<&Tenant>,
        auth: TenantBearer,
    ) -> ApiResult<DashboardFound> {
        let mut read = ctx.reader(&tenant, auth.0, "getMyDashboard").await?;
        let user = read.actor().user;
        let d = learning::dashboard(read.tx().await?, user).await?;
        read.finish().await?;
        Ok(DashboardFound::Ok(Json(Dashboard {
            active: d
                .active
                .into_iter()
                .map(|c| DashboardCourse {
                    enrollment_id: c.enrollment_id,
                    course_id: c.course_id,
                    course_title: c.course_title,
                    status: status_of(&c.status),
                    progress_percent: percent(c.sections_done, c.sections_required),
                    sections_done: c.sections_done,
                    sections_required: c.sections_required,
                    time_spent_seconds: c.time_spent_seconds,
                    average_score: c.average_score,
                    last_activity_at: c.last_activity_at,
                })
                .collect(),
            completed_courses: d.completed_courses,
            certificates: d.certificates,
            time_spent_seconds: d.time_spent_seconds,
            session_seconds: d.session_seconds,
            recent_sessions: d
                .recent_sessions
                .into_iter()
                .map(|r| RecentSession {
                    id: r.id,
                    course_id: r.course_id,
                    course_title: r.course_title,
                    started_at: r.started_at,
                    ended_at: r.ended_at,
                    duration_seconds: r.duration_seconds,
                })
                .collect(),
            streak_days: d.streak_days,
        })))
    }

    /// Your certificates, newest first.
    #[oai(
        path = "/me/certificates",
        method = "get",
        operation_id = "listMyCertificates"
    )]
    async fn my_certificates(
        &self,
        ctx: Data<&Ctx>,
        tenant: Data<&Tenant>,
        auth: TenantBearer,
    ) -> ApiResult<CertificatesListed> {
        let mut read = ctx.reader(&tenant, auth.0, "listMyCertificates").await?;
        let user = read.actor().user;
        let rows = learning::certificates_of(read.tx().await?, user).await?;
        read.finish().await?;
        Ok(CertificatesListed::Ok(Json(CertificateList {
            items: rows.into_iter().map(Into::into).collect(),
        })))
    }

    /// Verify a certificate by its code, without logging in: what the
    /// printed certificate shows. 404 `certificate_not_found` for any code
    /// this organization did not issue.
    #[oai(
        path = "/certificates/:code",
        method = "get",
        operation_id = "verifyCertificate"
    )]
    async fn verify(
        &self,
        ctx: Data<&Ctx>,
        tenant: Data<&Tenant>,
        /// The verification code.
        #[oai(validator(max_length = 64))]
        code: Path<String>,
    ) -> ApiResult<CertificateShown> {
        Ok(CertificateShown::Ok(Json(
            certificate_by_code(&ctx, &tenant, &code.0).await?,
        )))
    }

    /// The certificate as a printable page, for anyone with its code (no
    /// authentication); unknown code → 404.
    #[oai(
        path = "/certificates/:code/html",
        method = "get",
        operation_id = "printCertificate"
    )]
    async fn print(
        &self,
        ctx: Data<&Ctx>,
        tenant: Data<&Tenant>,
        /// The verification code.
        #[oai(validator(max_length = 64))]
        code: Path<String>,
    ) -> ApiResult<CertificatePrinted> {
        use askama::Template as _;
        let c = certificate_by_code(&ctx, &tenant, &code.0).await?;
        let page = CertificatePage {
            issued_by: &c.issued_by,
            learner_name: &c.learner_name,
            course_title: &c.course_title,
            completed_on: c.completed_at.format("%B %-d, %Y").to_string(),
            grade: c.final_grade.map(|g| g.to_string()),
            code: &code.0,
        }
        .render()
        .map_err(ApiError::internal)?;
        Ok(CertificatePrinted::Ok(
            poem_openapi::payload::Html(page),
            "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'".to_owned(),
            "nosniff".to_owned(),
        ))
    }
}

/// Rows of the learner export per database page.
const EXPORT_PAGE: i64 = 500;

/// The learner export as a stream, one page of rows per short transaction.
fn csv_pages(ctx: Ctx, org: lms_domain::OrgId, user: UserId, course: CourseId) -> poem::Body {
    let header = [
        "enrollment_id",
        "user_id",
        "name",
        "email",
        "status",
        "enrolled_at",
        "completed_at",
        "final_grade",
        "progress_percent",
        "time_spent_seconds",
        "last_activity_at",
    ];
    crate::export::csv_stream(&header, move |after: Option<EnrollmentId>| {
        let ctx = ctx.clone();
        async move {
            let mut tx = ctx.db.tenant(org, Some(user)).await?;
            let rows = learning::learners(&mut tx, course, None, after, EXPORT_PAGE).await?;
            tx.commit().await?;
            let next = (rows.len() as i64 == EXPORT_PAGE)
                .then(|| {
                    rows.last()
                        .map(|r| EnrollmentId::from_uuid(r.enrollment_id))
                })
                .flatten();
            let opt = |d: Option<DateTime<Utc>>| d.map(|d| d.to_rfc3339()).unwrap_or_default();
            let lines = rows
                .into_iter()
                .map(|r| {
                    let l = Learner::from(r);
                    vec![
                        l.enrollment_id.to_string(),
                        l.user_id.to_string(),
                        l.name,
                        l.email,
                        EnrollmentStatus::from(l.status).as_str().to_owned(),
                        l.enrolled_at.to_rfc3339(),
                        opt(l.completed_at),
                        l.final_grade.map(|g| g.to_string()).unwrap_or_default(),
                        l.progress_percent.to_string(),
                        l.time_spent_seconds.to_string(),
                        opt(l.last_activity_at),
                    ]
                })
                .collect();
            Ok((lines, next))
        }
    })
}

async fn touch(
    ctx: &Ctx,
    tenant: &Tenant,
    auth: TenantBearer,
    op: &'static str,
    id: Uuid,
    events: serde_json::Value,
    end: bool,
) -> ApiResult<SessionAnswer> {
    let (mut unit, actor) = ctx.unit(tenant, auth.0, op).await?;
    let outcome = learning::touch_session(
        unit.tx(),
        actor.user,
        id,
        &events,
        end,
        Utc::now() - SESSION_IDLE,
        MAX_ACTIVITY_BYTES,
    )
    .await?;
    let row = match outcome {
        learning::SessionTouch::Done(row) => row,
        learning::SessionTouch::Missing => {
            return Err(ApiError::not_found(
                ErrorCode::SessionNotFound,
                "no such session of yours",
            ));
        }
        learning::SessionTouch::Ended => {
            // An idle session closed just now stays closed.
            unit.commit().await?;
            return Err(ApiError::conflict(
                ErrorCode::SessionEnded,
                "the session has ended",
            ));
        }
        learning::SessionTouch::TooLarge => {
            return Err(ApiError::unprocessable(
                ErrorCode::ActivityTooLarge,
                "the session's activity log is full (64 KiB)",
            ));
        }
    };
    if end {
        unit.emit(
            "learning_session.ended",
            row.id,
            json!({ "id": row.id, "user_id": actor.user, "course_id": row.course_id,
                    "duration_seconds": row.duration_seconds }),
        );
    }
    unit.commit().await?;
    Ok(SessionAnswer::Ok(Json(row.into())))
}

/// The user column of an uploaded CSV.
fn parse_csv(text: &str) -> ApiResult<Vec<String>> {
    let malformed = |why: &str| ApiError::unprocessable(ErrorCode::MalformedCsv, why.to_owned());
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let headers = reader
        .headers()
        .map_err(|_| malformed("the file is not CSV"))?
        .clone();
    let column = headers
        .iter()
        .position(|h| {
            matches!(
                h.to_ascii_lowercase().as_str(),
                "user" | "user_id" | "email"
            )
        })
        .ok_or_else(|| malformed("no `user`, `user_id` or `email` column"))?;
    let mut users = Vec::new();
    for (n, record) in reader.records().enumerate() {
        let record = record.map_err(|_| malformed(&format!("row {} is not valid CSV", n + 2)))?;
        let value = record.get(column).unwrap_or_default();
        if !value.is_empty() {
            users.push(value.to_owned());
        }
    }
    if users.is_empty() || users.len() > 1000 {
        return Err(malformed("the file must name 1 to 1000 users"));
    }
    Ok(users)
}

/// Enrolls one active user in a published course on behalf of a manager
/// (bulk, cohorts), with its event; `via` says how (merged into the event).
pub(crate) async fn enroll_one(
    unit: &mut Unit<'_>,
    user: UserId,
    course: CourseId,
    version: Option<i32>,
    via: serde_json::Value,
) -> ApiResult<(BulkOutcome, EnrollmentId)> {
    let (event, outcome, id) =
        match learning::enroll(unit.tx(), user, course, version, None).await? {
            Enrolled::Created(e) => ("enrollment.created", BulkOutcome::Enrolled, e),
            Enrolled::Reactivated(e) => ("enrollment.reactivated", BulkOutcome::Restarted, e),
            Enrolled::Exists(e, status) => {
                let outcome = match status {
                    EnrollmentStatus::Completed => BulkOutcome::AlreadyCompleted,
                    EnrollmentStatus::Expired => BulkOutcome::AccessEnded,
                    _ => BulkOutcome::AlreadyEnrolled,
                };
                return Ok((outcome, e));
            }
        };
    let mut payload = json!({ "id": id, "user_id": user, "course_id": course });
    if let (Some(p), serde_json::Value::Object(extra)) = (payload.as_object_mut(), via) {
        p.extend(extra);
    }
    unit.emit(event, id, payload);
    Ok((outcome, id))
}

/// An entry of a list of users, resolved.
pub(crate) enum Entry {
    /// No such user.
    Unknown,
    /// Named earlier in the list.
    Duplicate(Uuid),
    /// Deactivated.
    Inactive(Uuid),
    /// An active user.
    Active(Uuid),
}

/// Resolves user ids or e-mail addresses (each at most 320 characters, or
/// 422 `invalid_user`) in one statement, keeping the order.
pub(crate) async fn resolve_users(
    unit: &mut Unit<'_>,
    users: Vec<String>,
) -> ApiResult<Vec<(String, Entry)>> {
    if users.iter().any(|u| u.len() > 320) {
        return Err(ApiError::unprocessable(
            ErrorCode::InvalidUser,
            "an entry is too long",
        ));
    }
    let found: std::collections::HashMap<String, (Uuid, bool)> =
        learning::find_users(unit.tx(), &users)
            .await?
            .into_iter()
            .map(|(k, id, active)| (k, (id, active)))
            .collect();
    let mut seen = std::collections::HashSet::new();
    Ok(users
        .into_iter()
        .map(|input| {
            let entry = match found.get(&input) {
                None => Entry::Unknown,
                Some((id, _)) if !seen.insert(*id) => Entry::Duplicate(*id),
                Some((id, false)) => Entry::Inactive(*id),
                Some((id, true)) => Entry::Active(*id),
            };
            (input, entry)
        })
        .collect())
}

async fn bulk_enroll(
    ctx: &Ctx,
    tenant: &Tenant,
    auth: TenantBearer,
    op: &'static str,
    course: Uuid,
    users: Vec<String>,
) -> ApiResult<BulkDone> {
    let course = CourseId::from_uuid(course);
    let (mut unit, actor) = ctx.unit(tenant, auth.0, op).await?;
    let version = published_version(&mut unit, &actor, course).await?;
    let entries = resolve_users(&mut unit, users).await?;
    let mut rows = Vec::with_capacity(entries.len());
    let mut enrolled = 0;
    for (input, entry) in entries {
        let (outcome, user_id, enrollment_id) = match entry {
            Entry::Unknown => (BulkOutcome::UnknownUser, None, None),
            Entry::Duplicate(id) => (BulkOutcome::Duplicate, Some(id), None),
            Entry::Inactive(id) => (BulkOutcome::InactiveUser, Some(id), None),
            Entry::Active(id) => {
                let user = UserId::from_uuid(id);
                let (outcome, e) =
                    enroll_one(&mut unit, user, course, version, json!({ "bulk": true })).await?;
                (outcome, Some(id), Some(e.as_uuid()))
            }
        };
        if matches!(outcome, BulkOutcome::Enrolled | BulkOutcome::Restarted) {
            enrolled += 1;
        }
        rows.push(BulkRow {
            input,
            outcome,
            user_id,
            enrollment_id,
        });
    }
    unit.commit().await?;
    Ok(BulkDone::Ok(Json(BulkResult { rows, enrolled })))
}

#[cfg(test)]
mod tests {
    use askama::Template as _;

    use super::CertificatePage;

    #[test]
    fn a_printed_certificate_escapes_what_users_wrote() {
        let page = CertificatePage {
            issued_by: "Acme & Co",
            learner_name: "<script>alert(1)</script>",
            course_title: "\"quoted\" <b>title</b>",
            completed_on: "June 1, 2026".into(),
            grade: None,
            code: "abc",
        }
        .render()
        .unwrap();
        assert!(!page.contains("<script>alert"), "{page}");
        assert!(!page.contains("<b>title"), "{page}");
        assert!(page.contains("&#60;script&#62;"), "{page}");
        assert!(page.contains("Acme &#38; Co"), "{page}");
        assert!(!page.contains("final grade"), "{page}");
    }
}
