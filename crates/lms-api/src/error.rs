//! The one error shape of the API: `{ "code", "message", "details"?, "request_id" }`.
//!
//! Handlers return [`ApiError`]; every status it can take is in its type and
//! so declared on every operation of the OpenAPI documents. Database errors
//! are mapped in one place ([`From<DbError>`]), by constraint name, and never
//! echo SQL or a stored value.

use lms_db::{DbError, Violation};
use lms_domain::InputError;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object};

use crate::request_id;

/// The body of every error response.
#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none)]
pub struct ErrorBody {
    /// Stable, machine-readable error code, e.g. `course_not_found`.
    pub code: ErrorCode,
    /// Human-readable explanation. Never contains another tenant's data.
    pub message: String,
    /// Field-level details, when there are any.
    #[oai(skip_serializing_if_is_none)]
    pub details: Option<Vec<FieldError>>,
    /// With `section_locked`: when the lesson opens, if it opens on a date
    /// (absent while it waits for earlier lessons to be completed).
    #[oai(skip_serializing_if_is_none)]
    pub unlocks_at: Option<chrono::DateTime<chrono::Utc>>,
    /// The id of the request, also sent as the `X-Request-Id` header.
    pub request_id: String,
}

/// One refused field.
#[derive(Object, Debug, Clone)]
pub struct FieldError {
    /// JSON name of the field.
    pub field: String,
    /// The rule it broke.
    pub rule: String,
}

/// Every error an operation can answer with.
#[derive(ApiResponse, Debug)]
pub enum ApiError {
    /// The request is malformed: bad JSON, wrong types, bad parameters, no Host.
    #[oai(status = 400)]
    BadRequest(Json<ErrorBody>),
    /// Missing, invalid or expired credentials.
    #[oai(status = 401)]
    Unauthorized(Json<ErrorBody>),
    /// Authenticated, but not allowed; or the tenant is suspended.
    #[oai(status = 403)]
    Forbidden(Json<ErrorBody>),
    /// No such resource (in this tenant), or no such tenant.
    #[oai(status = 404)]
    NotFound(Json<ErrorBody>),
    /// The request conflicts with the current state (duplicate, stale version).
    #[oai(status = 409)]
    Conflict(Json<ErrorBody>),
    /// The body is not JSON.
    #[oai(status = 415)]
    UnsupportedMediaType(Json<ErrorBody>),
    /// The request is well-formed but breaks a rule of the domain.
    #[oai(status = 422)]
    Unprocessable(Json<ErrorBody>),
    /// Too many attempts; retry after the number of seconds in `Retry-After`.
    #[oai(status = 429)]
    TooManyRequests(Json<ErrorBody>, #[oai(header = "Retry-After")] u64),
    /// An error on our side. The body says nothing more than the request id.
    #[oai(status = 500)]
    Internal(Json<ErrorBody>),
    /// `If-Match` names a version the resource is no longer at.
    #[oai(status = 412)]
    PreconditionFailed(Json<ErrorBody>),
    /// The service cannot reach its database just now.
    #[oai(status = 503)]
    Unavailable(Json<ErrorBody>),
}

/// Every `code` an error answer carries. Stable: a code is never renamed or
/// reused for another meaning. What each means is [`ErrorCode::meaning`],
/// which the OpenAPI documents list.
#[derive(poem_openapi::Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[oai(rename_all = "snake_case")]
pub enum ErrorCode {
    AccessEndInPast,
    AccessEnded,
    ActivityTooLarge,
    AdminNotFound,
    AlreadyCompleted,
    AlreadyEnrolled,
    AlreadyExists,
    AlreadyLatest,
    AlreadyReviewed,
    BadRequest,
    CannotDeactivateSelf,
    CategoryCycle,
    CategoryNotFound,
    CategoryNotInTrash,
    CertificateNotFound,
    CohortNameTaken,
    CohortNotFound,
    ConcurrentUpdate,
    ConstraintViolated,
    ContentInUse,
    CourseNotFound,
    CourseNotInTrash,
    CourseNotLinked,
    CourseNotPublished,
    DeletionNotConfirmed,
    DnsUnavailable,
    DomainNotFound,
    DomainNotProven,
    DomainTaken,
    EmailTaken,
    EnrollmentNotActive,
    EnrollmentNotFound,
    ExtensionUnavailable,
    ImportUnavailable,
    InUse,
    InactiveUser,
    Internal,
    InvalidArchive,
    InvalidBody,
    InvalidCredentials,
    InvalidCursor,
    InvalidHost,
    InvalidParameter,
    InvalidRating,
    InvalidScore,
    InvalidTimeRange,
    InvalidTimeSpent,
    InvalidTransition,
    InvalidUser,
    InvalidValue,
    LastOwner,
    LastRoleManager,
    LessonNotFound,
    LessonNotInTrash,
    MalformedCsv,
    MemberNotFound,
    MethodNotAllowed,
    MissingField,
    MissingHost,
    NotCourseOwner,
    NotCourseStaff,
    NotEnrolled,
    NotFound,
    OrderMismatch,
    OrganizationExists,
    OrganizationNotFound,
    OriginNotAllowed,
    ParentNotFound,
    PayloadTooLarge,
    PermissionDenied,
    PermissionEscalation,
    PlatformRoleRequired,
    PositionConflict,
    PreconditionFailed,
    RequestTimeout,
    ReviewNotFound,
    RoleNameTaken,
    RoleNotFound,
    RouteNotFound,
    SectionLocked,
    SectionNotFound,
    SectionNotInTrash,
    SessionAlreadyOpen,
    SessionEnded,
    SessionNotFound,
    SignupDisabled,
    SlugTaken,
    StaffNotFound,
    SystemRoleLocked,
    TagNameTaken,
    TagNotFound,
    TenantNotFound,
    TenantSuspended,
    TooManyAttempts,
    Unauthorized,
    Unavailable,
    UnknownPermission,
    UnknownRole,
    UnknownUser,
    UnsupportedMediaType,
    UserNotFound,
    UsernameTaken,
    ValidationFailed,
    VersionConflict,
    VersionNotFound,
    WrongPassword,
}

impl ErrorCode {
    /// Every code.
    pub const ALL: &'static [ErrorCode] = &[
        ErrorCode::AccessEndInPast,
        ErrorCode::AccessEnded,
        ErrorCode::ActivityTooLarge,
        ErrorCode::AdminNotFound,
        ErrorCode::AlreadyCompleted,
        ErrorCode::AlreadyEnrolled,
        ErrorCode::AlreadyExists,
        ErrorCode::AlreadyLatest,
        ErrorCode::AlreadyReviewed,
        ErrorCode::BadRequest,
        ErrorCode::CannotDeactivateSelf,
        ErrorCode::CategoryCycle,
        ErrorCode::CategoryNotFound,
        ErrorCode::CategoryNotInTrash,
        ErrorCode::CertificateNotFound,
        ErrorCode::CohortNameTaken,
        ErrorCode::CohortNotFound,
        ErrorCode::ConcurrentUpdate,
        ErrorCode::ConstraintViolated,
        ErrorCode::ContentInUse,
        ErrorCode::CourseNotFound,
        ErrorCode::CourseNotInTrash,
        ErrorCode::CourseNotLinked,
        ErrorCode::CourseNotPublished,
        ErrorCode::DeletionNotConfirmed,
        ErrorCode::DnsUnavailable,
        ErrorCode::DomainNotFound,
        ErrorCode::DomainNotProven,
        ErrorCode::DomainTaken,
        ErrorCode::EmailTaken,
        ErrorCode::EnrollmentNotActive,
        ErrorCode::EnrollmentNotFound,
        ErrorCode::ExtensionUnavailable,
        ErrorCode::ImportUnavailable,
        ErrorCode::InUse,
        ErrorCode::InactiveUser,
        ErrorCode::Internal,
        ErrorCode::InvalidArchive,
        ErrorCode::InvalidBody,
        ErrorCode::InvalidCredentials,
        ErrorCode::InvalidCursor,
        ErrorCode::InvalidHost,
        ErrorCode::InvalidParameter,
        ErrorCode::InvalidRating,
        ErrorCode::InvalidScore,
        ErrorCode::InvalidTimeRange,
        ErrorCode::InvalidTimeSpent,
        ErrorCode::InvalidTransition,
        ErrorCode::InvalidUser,
        ErrorCode::InvalidValue,
        ErrorCode::LastOwner,
        ErrorCode::LastRoleManager,
        ErrorCode::LessonNotFound,
        ErrorCode::LessonNotInTrash,
        ErrorCode::MalformedCsv,
        ErrorCode::MemberNotFound,
        ErrorCode::MethodNotAllowed,
        ErrorCode::MissingField,
        ErrorCode::MissingHost,
        ErrorCode::NotCourseOwner,
        ErrorCode::NotCourseStaff,
        ErrorCode::NotEnrolled,
        ErrorCode::NotFound,
        ErrorCode::OrderMismatch,
        ErrorCode::OrganizationExists,
        ErrorCode::OrganizationNotFound,
        ErrorCode::OriginNotAllowed,
        ErrorCode::ParentNotFound,
        ErrorCode::PayloadTooLarge,
        ErrorCode::PermissionDenied,
        ErrorCode::PermissionEscalation,
        ErrorCode::PlatformRoleRequired,
        ErrorCode::PositionConflict,
        ErrorCode::PreconditionFailed,
        ErrorCode::RequestTimeout,
        ErrorCode::ReviewNotFound,
        ErrorCode::RoleNameTaken,
        ErrorCode::RoleNotFound,
        ErrorCode::RouteNotFound,
        ErrorCode::SectionLocked,
        ErrorCode::SectionNotFound,
        ErrorCode::SectionNotInTrash,
        ErrorCode::SessionAlreadyOpen,
        ErrorCode::SessionEnded,
        ErrorCode::SessionNotFound,
        ErrorCode::SignupDisabled,
        ErrorCode::SlugTaken,
        ErrorCode::StaffNotFound,
        ErrorCode::SystemRoleLocked,
        ErrorCode::TagNameTaken,
        ErrorCode::TagNotFound,
        ErrorCode::TenantNotFound,
        ErrorCode::TenantSuspended,
        ErrorCode::TooManyAttempts,
        ErrorCode::Unauthorized,
        ErrorCode::Unavailable,
        ErrorCode::UnknownPermission,
        ErrorCode::UnknownRole,
        ErrorCode::UnknownUser,
        ErrorCode::UnsupportedMediaType,
        ErrorCode::UserNotFound,
        ErrorCode::UsernameTaken,
        ErrorCode::ValidationFailed,
        ErrorCode::VersionConflict,
        ErrorCode::VersionNotFound,
        ErrorCode::WrongPassword,
    ];

    /// The code as sent.
    pub const fn as_str(self) -> &'static str {
        match self {
            ErrorCode::AccessEndInPast => "access_end_in_past",
            ErrorCode::AccessEnded => "access_ended",
            ErrorCode::ActivityTooLarge => "activity_too_large",
            ErrorCode::AdminNotFound => "admin_not_found",
            ErrorCode::AlreadyCompleted => "already_completed",
            ErrorCode::AlreadyEnrolled => "already_enrolled",
            ErrorCode::AlreadyExists => "already_exists",
            ErrorCode::AlreadyLatest => "already_latest",
            ErrorCode::AlreadyReviewed => "already_reviewed",
            ErrorCode::BadRequest => "bad_request",
            ErrorCode::CannotDeactivateSelf => "cannot_deactivate_self",
            ErrorCode::CategoryCycle => "category_cycle",
            ErrorCode::CategoryNotFound => "category_not_found",
            ErrorCode::CategoryNotInTrash => "category_not_in_trash",
            ErrorCode::CertificateNotFound => "certificate_not_found",
            ErrorCode::CohortNameTaken => "cohort_name_taken",
            ErrorCode::CohortNotFound => "cohort_not_found",
            ErrorCode::ConcurrentUpdate => "concurrent_update",
            ErrorCode::ConstraintViolated => "constraint_violated",
            ErrorCode::ContentInUse => "content_in_use",
            ErrorCode::CourseNotFound => "course_not_found",
            ErrorCode::CourseNotInTrash => "course_not_in_trash",
            ErrorCode::CourseNotLinked => "course_not_linked",
            ErrorCode::CourseNotPublished => "course_not_published",
            ErrorCode::DeletionNotConfirmed => "deletion_not_confirmed",
            ErrorCode::DnsUnavailable => "dns_unavailable",
            ErrorCode::DomainNotFound => "domain_not_found",
            ErrorCode::DomainNotProven => "domain_not_proven",
            ErrorCode::DomainTaken => "domain_taken",
            ErrorCode::EmailTaken => "email_taken",
            ErrorCode::EnrollmentNotActive => "enrollment_not_active",
            ErrorCode::EnrollmentNotFound => "enrollment_not_found",
            ErrorCode::ExtensionUnavailable => "extension_unavailable",
            ErrorCode::ImportUnavailable => "import_unavailable",
            ErrorCode::InUse => "in_use",
            ErrorCode::InactiveUser => "inactive_user",
            ErrorCode::Internal => "internal",
            ErrorCode::InvalidArchive => "invalid_archive",
            ErrorCode::InvalidBody => "invalid_body",
            ErrorCode::InvalidCredentials => "invalid_credentials",
            ErrorCode::InvalidCursor => "invalid_cursor",
            ErrorCode::InvalidHost => "invalid_host",
            ErrorCode::InvalidParameter => "invalid_parameter",
            ErrorCode::InvalidRating => "invalid_rating",
            ErrorCode::InvalidScore => "invalid_score",
            ErrorCode::InvalidTimeRange => "invalid_time_range",
            ErrorCode::InvalidTimeSpent => "invalid_time_spent",
            ErrorCode::InvalidTransition => "invalid_transition",
            ErrorCode::InvalidUser => "invalid_user",
            ErrorCode::InvalidValue => "invalid_value",
            ErrorCode::LastOwner => "last_owner",
            ErrorCode::LastRoleManager => "last_role_manager",
            ErrorCode::LessonNotFound => "lesson_not_found",
            ErrorCode::LessonNotInTrash => "lesson_not_in_trash",
            ErrorCode::MalformedCsv => "malformed_csv",
            ErrorCode::MemberNotFound => "member_not_found",
            ErrorCode::MethodNotAllowed => "method_not_allowed",
            ErrorCode::MissingField => "missing_field",
            ErrorCode::MissingHost => "missing_host",
            ErrorCode::NotCourseOwner => "not_course_owner",
            ErrorCode::NotCourseStaff => "not_course_staff",
            ErrorCode::NotEnrolled => "not_enrolled",
            ErrorCode::NotFound => "not_found",
            ErrorCode::OrderMismatch => "order_mismatch",
            ErrorCode::OrganizationExists => "organization_exists",
            ErrorCode::OrganizationNotFound => "organization_not_found",
            ErrorCode::OriginNotAllowed => "origin_not_allowed",
            ErrorCode::ParentNotFound => "parent_not_found",
            ErrorCode::PayloadTooLarge => "payload_too_large",
            ErrorCode::PermissionDenied => "permission_denied",
            ErrorCode::PermissionEscalation => "permission_escalation",
            ErrorCode::PlatformRoleRequired => "platform_role_required",
            ErrorCode::PositionConflict => "position_conflict",
            ErrorCode::PreconditionFailed => "precondition_failed",
            ErrorCode::RequestTimeout => "request_timeout",
            ErrorCode::ReviewNotFound => "review_not_found",
            ErrorCode::RoleNameTaken => "role_name_taken",
            ErrorCode::RoleNotFound => "role_not_found",
            ErrorCode::RouteNotFound => "route_not_found",
            ErrorCode::SectionLocked => "section_locked",
            ErrorCode::SectionNotFound => "section_not_found",
            ErrorCode::SectionNotInTrash => "section_not_in_trash",
            ErrorCode::SessionAlreadyOpen => "session_already_open",
            ErrorCode::SessionEnded => "session_ended",
            ErrorCode::SessionNotFound => "session_not_found",
            ErrorCode::SignupDisabled => "signup_disabled",
            ErrorCode::SlugTaken => "slug_taken",
            ErrorCode::StaffNotFound => "staff_not_found",
            ErrorCode::SystemRoleLocked => "system_role_locked",
            ErrorCode::TagNameTaken => "tag_name_taken",
            ErrorCode::TagNotFound => "tag_not_found",
            ErrorCode::TenantNotFound => "tenant_not_found",
            ErrorCode::TenantSuspended => "tenant_suspended",
            ErrorCode::TooManyAttempts => "too_many_attempts",
            ErrorCode::Unauthorized => "unauthorized",
            ErrorCode::Unavailable => "unavailable",
            ErrorCode::UnknownPermission => "unknown_permission",
            ErrorCode::UnknownRole => "unknown_role",
            ErrorCode::UnknownUser => "unknown_user",
            ErrorCode::UnsupportedMediaType => "unsupported_media_type",
            ErrorCode::UserNotFound => "user_not_found",
            ErrorCode::UsernameTaken => "username_taken",
            ErrorCode::ValidationFailed => "validation_failed",
            ErrorCode::VersionConflict => "version_conflict",
            ErrorCode::VersionNotFound => "version_not_found",
            ErrorCode::WrongPassword => "wrong_password",
        }
    }

    /// What the code means, as the OpenAPI documents list it.
    pub const fn meaning(self) -> &'static str {
        match self {
            ErrorCode::AccessEndInPast => "`access_ends_at` must be in the future.",
            ErrorCode::AccessEnded => {
                "Access to this course has ended; an enrollment manager can extend it."
            }
            ErrorCode::ActivityTooLarge => "At most 100 events per heartbeat.",
            ErrorCode::AdminNotFound => "No such platform admin.",
            ErrorCode::AlreadyCompleted => "The course was completed already.",
            ErrorCode::AlreadyEnrolled => "Already enrolled in this course.",
            ErrorCode::AlreadyExists => "The resource already exists.",
            ErrorCode::AlreadyLatest => "The enrollment is on the latest published version.",
            ErrorCode::AlreadyReviewed => "You have reviewed this course already.",
            ErrorCode::BadRequest => {
                "The request is malformed in a way no more specific code covers."
            }
            ErrorCode::CannotDeactivateSelf => "You cannot deactivate yourself.",
            ErrorCode::CategoryCycle => {
                "A category cannot move under itself or one of its descendants."
            }
            ErrorCode::CategoryNotFound => "No such category.",
            ErrorCode::CategoryNotInTrash => "No deleted category with this id.",
            ErrorCode::CertificateNotFound => "No such certificate.",
            ErrorCode::CohortNameTaken => "A cohort with this name already exists.",
            ErrorCode::CohortNotFound => "No such cohort.",
            ErrorCode::ConcurrentUpdate => "A concurrent change got there first; retry.",
            ErrorCode::ConstraintViolated => "A value breaks a rule of the domain.",
            ErrorCode::ContentInUse => {
                "Learners have progress on a section this would move to another lesson."
            }
            ErrorCode::CourseNotFound => "No such course.",
            ErrorCode::CourseNotInTrash => "No deleted course with this id.",
            ErrorCode::CourseNotLinked => "The cohort is not enrolled in this course.",
            ErrorCode::CourseNotPublished => "The course is not published.",
            ErrorCode::DeletionNotConfirmed => {
                "No pending deletion with this token: request one again."
            }
            ErrorCode::DnsUnavailable => "DNS could not be asked; try again.",
            ErrorCode::DomainNotFound => "The organization has no such custom domain.",
            ErrorCode::DomainNotProven => "The domain's verification record was not found.",
            ErrorCode::DomainTaken => "This domain is already registered.",
            ErrorCode::EmailTaken => "A user (or platform admin) with this e-mail already exists.",
            ErrorCode::EnrollmentNotActive => "Your enrollment in this course is not active.",
            ErrorCode::EnrollmentNotFound => "No such enrollment.",
            ErrorCode::ExtensionUnavailable => {
                "The database server does not load pg_stat_statements."
            }
            ErrorCode::ImportUnavailable => {
                "This installation's database roles cannot load archives (see deploy/postgres/roles.sql)."
            }
            ErrorCode::InUse => "Something still depends on it.",
            ErrorCode::InactiveUser => "The user is deactivated.",
            ErrorCode::Internal => "Internal error.",
            ErrorCode::InvalidArchive => {
                "The archive is damaged, of another format or a newer schema, or breaks a rule of this schema."
            }
            ErrorCode::InvalidBody => {
                "The body does not have the documented shape: not JSON, a wrong type, a missing or unknown property."
            }
            ErrorCode::InvalidCredentials => "E-mail or password is wrong.",
            ErrorCode::InvalidCursor => "The cursor is not one this API issued.",
            ErrorCode::InvalidHost => {
                "The Host is not a valid host name, or the request has more than one."
            }
            ErrorCode::InvalidParameter => {
                "A path, query or header parameter does not have its documented form."
            }
            ErrorCode::InvalidRating => "`rating` must be 1 to 5.",
            ErrorCode::InvalidScore => "`score` must be between 0 and 100.",
            ErrorCode::InvalidTimeRange => "`from` must not be after `to`.",
            ErrorCode::InvalidTimeSpent => "`time_spent_seconds` must be between 0 and 86400.",
            ErrorCode::InvalidTransition => {
                "The resource cannot move to that state from the one it is in."
            }
            ErrorCode::InvalidUser => "An entry is too long.",
            ErrorCode::InvalidValue => "A value is out of range or malformed.",
            ErrorCode::LastOwner => "A course keeps at least one owner; name another first.",
            ErrorCode::LastRoleManager => "This would leave no active user able to manage roles.",
            ErrorCode::LessonNotFound => "No such lesson in this course.",
            ErrorCode::LessonNotInTrash => "No deleted lesson with this id in this course.",
            ErrorCode::MalformedCsv => {
                "The CSV file cannot be read: not UTF-8 text, or not the documented columns."
            }
            ErrorCode::MemberNotFound => "This user is not a member of the cohort.",
            ErrorCode::MethodNotAllowed => "Method not allowed on this route.",
            ErrorCode::MissingField => "A required value is missing.",
            ErrorCode::MissingHost => "The request has no Host header.",
            ErrorCode::NotCourseOwner => {
                "Only the course's owners (or holders of `course:write:any`) change its staff."
            }
            ErrorCode::NotCourseStaff => {
                "Only the course's owners and instructors (or holders of `course:write:any`) change it."
            }
            ErrorCode::NotEnrolled => "You are not enrolled in this course.",
            ErrorCode::NotFound => "The resource does not exist.",
            ErrorCode::OrderMismatch => {
                "`ids` must list every current child exactly once, and nothing else."
            }
            ErrorCode::OrganizationExists => {
                "An organization with this id, slug or domain already exists here."
            }
            ErrorCode::OrganizationNotFound => "No such organization.",
            ErrorCode::OriginNotAllowed => "This origin may not call the API from a browser.",
            ErrorCode::ParentNotFound => "A referenced resource does not exist.",
            ErrorCode::PayloadTooLarge => "The body is too large.",
            ErrorCode::PermissionDenied => "The caller lacks the permission the operation needs.",
            ErrorCode::PermissionEscalation => {
                "You cannot grant or act on permissions you do not hold."
            }
            ErrorCode::PlatformRoleRequired => "This operation needs the OPERATOR platform role.",
            ErrorCode::PositionConflict => {
                "Another change to the lesson order happened at the same time; retry."
            }
            ErrorCode::PreconditionFailed => {
                "`If-Match` does not name the version the resource is at, or is not an entity tag this API sent."
            }
            ErrorCode::RequestTimeout => {
                "The request took longer than the server allows; it may still complete."
            }
            ErrorCode::ReviewNotFound => "No such review of yours.",
            ErrorCode::RoleNameTaken => "A role with this name already exists.",
            ErrorCode::RoleNotFound => "No such role.",
            ErrorCode::RouteNotFound => "No such route.",
            ErrorCode::SectionLocked => "The section's lesson is not open yet (see `unlocks_at`).",
            ErrorCode::SectionNotFound => "No such section in this course.",
            ErrorCode::SectionNotInTrash => "No deleted section with this id in this lesson.",
            ErrorCode::SessionAlreadyOpen => {
                "A session of this course was started at the same time; retry."
            }
            ErrorCode::SessionEnded => "The session has ended.",
            ErrorCode::SessionNotFound => "No such session of yours.",
            ErrorCode::SignupDisabled => "This organization does not allow self sign-up.",
            ErrorCode::SlugTaken => "Another organization (or category) already has this slug.",
            ErrorCode::StaffNotFound => "This user is not on the course's staff.",
            ErrorCode::SystemRoleLocked => "Default roles cannot be renamed.",
            ErrorCode::TagNameTaken => "A tag with this name already exists.",
            ErrorCode::TagNotFound => "No such tag.",
            ErrorCode::TenantNotFound => "No organization is served at this host.",
            ErrorCode::TenantSuspended => "This organization is suspended.",
            ErrorCode::TooManyAttempts => "Too many attempts; retry later.",
            ErrorCode::Unauthorized => "Missing or invalid credentials.",
            ErrorCode::Unavailable => "The service is temporarily unavailable.",
            ErrorCode::UnknownPermission => "A permission in `permissions` does not exist.",
            ErrorCode::UnknownRole => "A role in `roles` does not exist.",
            ErrorCode::UnknownUser => "No such user.",
            ErrorCode::UnsupportedMediaType => "The body must be application/json.",
            ErrorCode::UserNotFound => "No such user.",
            ErrorCode::UsernameTaken => "A user with this username already exists.",
            ErrorCode::ValidationFailed => "A value breaks its field's rule (see `details`).",
            ErrorCode::VersionConflict => {
                "The `version` in the body is not the resource's current one."
            }
            ErrorCode::VersionNotFound => "No such published version of this course.",
            ErrorCode::WrongPassword => "The current password is wrong.",
        }
    }
}

/// The API result type.
pub type ApiResult<T> = Result<T, ApiError>;

fn body(code: ErrorCode, message: impl Into<String>) -> Json<ErrorBody> {
    Json(ErrorBody {
        code,
        message: message.into(),
        details: None,
        unlocks_at: None,
        request_id: request_id::current(),
    })
}

impl ApiError {
    /// 400 with `code`.
    pub fn bad_request(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::BadRequest(body(code, message))
    }
    /// 401, always with the same code and message: no hint of which check failed.
    pub fn unauthorized() -> Self {
        Self::Unauthorized(body(
            ErrorCode::Unauthorized,
            "missing or invalid credentials",
        ))
    }
    /// 401 for a failed login; the same for an unknown e-mail and a wrong password.
    pub fn invalid_credentials() -> Self {
        Self::Unauthorized(body(
            ErrorCode::InvalidCredentials,
            "e-mail or password is wrong",
        ))
    }
    /// 403 with `code`.
    pub fn forbidden(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::Forbidden(body(code, message))
    }
    /// 403 for a missing permission.
    pub fn permission_denied(permission: lms_domain::Permission) -> Self {
        Self::forbidden(
            ErrorCode::PermissionDenied,
            format!("this operation needs the `{permission}` permission"),
        )
    }
    /// 404 with `code`.
    pub fn not_found(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::NotFound(body(code, message))
    }
    /// 409 with `code`.
    pub fn conflict(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::Conflict(body(code, message))
    }
    /// 409 `section_locked`: the lesson is not open yet.
    pub fn section_locked(
        unlocks_at: Option<chrono::DateTime<chrono::Utc>>,
        message: impl Into<String>,
    ) -> Self {
        let mut b = body(ErrorCode::SectionLocked, message);
        b.0.unlocks_at = unlocks_at;
        Self::Conflict(b)
    }
    /// 412 `precondition_failed`: `If-Match` is stale.
    pub fn precondition_failed(message: impl Into<String>) -> Self {
        Self::PreconditionFailed(body(ErrorCode::PreconditionFailed, message))
    }
    /// 422 with `code`.
    pub fn unprocessable(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::Unprocessable(body(code, message))
    }
    /// 429: retry after `seconds`.
    pub fn too_many_requests(seconds: u64) -> Self {
        Self::TooManyRequests(
            body(ErrorCode::TooManyAttempts, "too many attempts; retry later"),
            seconds,
        )
    }
    /// 500: logs the cause, tells the client nothing but the request id.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "internal error");
        Self::Internal(body(ErrorCode::Internal, "internal error"))
    }
    /// 503: the database is unreachable or the pool is exhausted.
    pub fn unavailable() -> Self {
        Self::Unavailable(body(
            ErrorCode::Unavailable,
            "the service is temporarily unavailable",
        ))
    }

    /// 503 with a specific code: something the service depends on cannot
    /// be reached now.
    pub fn unavailable_because(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::Unavailable(body(code, message))
    }

    /// The error's `code`.
    pub fn code(&self) -> &'static str {
        self.body().code.as_str()
    }

    fn body(&self) -> &ErrorBody {
        match self {
            ApiError::BadRequest(b)
            | ApiError::Unauthorized(b)
            | ApiError::Forbidden(b)
            | ApiError::NotFound(b)
            | ApiError::Conflict(b)
            | ApiError::UnsupportedMediaType(b)
            | ApiError::Unprocessable(b)
            | ApiError::TooManyRequests(b, _)
            | ApiError::Internal(b)
            | ApiError::PreconditionFailed(b)
            | ApiError::Unavailable(b) => &b.0,
        }
    }
}

impl ApiError {
    /// 422 `validation_failed` for one field and the rule it broke.
    pub fn invalid_field(field: impl Into<String>, rule: impl Into<String>) -> Self {
        let (field, rule) = (field.into(), rule.into());
        let mut b = body(ErrorCode::ValidationFailed, format!("{field}: {rule}"));
        b.0.details = Some(vec![FieldError { field, rule }]);
        ApiError::Unprocessable(b)
    }
}

impl From<InputError> for ApiError {
    fn from(err: InputError) -> Self {
        let mut b = body(ErrorCode::ValidationFailed, err.to_string());
        b.0.details = Some(vec![FieldError {
            field: err.field.to_owned(),
            rule: err.rule.to_owned(),
        }]);
        ApiError::Unprocessable(b)
    }
}

/// What a named constraint means to a client. Constraints not listed here
/// are bugs when they fire (the API validates first), and answer a generic
/// code of the right status.
const CONSTRAINTS: &[(&str, ErrorCode, &str)] = &[
    (
        "organizations_slug_key",
        ErrorCode::SlugTaken,
        "an organization with this slug already exists",
    ),
    (
        "organization_domains_domain_key",
        ErrorCode::DomainTaken,
        "this domain is already registered",
    ),
    (
        "platform_admins_email_key",
        ErrorCode::EmailTaken,
        "a platform admin with this e-mail already exists",
    ),
    (
        "users_email_key",
        ErrorCode::EmailTaken,
        "a user with this e-mail already exists",
    ),
    (
        "users_username_key",
        ErrorCode::UsernameTaken,
        "a user with this username already exists",
    ),
    (
        "roles_name_key",
        ErrorCode::RoleNameTaken,
        "a role with this name already exists",
    ),
    (
        "categories_slug_key",
        ErrorCode::SlugTaken,
        "a category with this slug already exists",
    ),
    (
        "cohorts_name_key",
        ErrorCode::CohortNameTaken,
        "a cohort with this name already exists",
    ),
    (
        "content_has_progress",
        ErrorCode::ContentInUse,
        "learners still need it (their progress, or the version they are on); it stays in the \
         trash until they move on, or until the whole course is deleted",
    ),
    (
        "tags_name_key",
        ErrorCode::TagNameTaken,
        "a tag with this name already exists",
    ),
    (
        "learning_sessions_open_key",
        ErrorCode::SessionAlreadyOpen,
        "a session of this course was started at the same time; retry",
    ),
    (
        "reviews_course_user_key",
        ErrorCode::AlreadyReviewed,
        "you have reviewed this course already",
    ),
    (
        "lessons_position_key",
        ErrorCode::PositionConflict,
        "another change to the lesson order happened at the same time; retry",
    ),
    (
        "sections_position_key",
        ErrorCode::PositionConflict,
        "another change to the section order happened at the same time; retry",
    ),
];

impl From<lms_db::queries::portable::ImportError> for ApiError {
    fn from(e: lms_db::queries::portable::ImportError) -> Self {
        use lms_db::queries::portable::ImportError;
        match e {
            ImportError::Exists(_) => ApiError::conflict(
                ErrorCode::OrganizationExists,
                "an organization with this id, slug or domain exists here",
            ),
            ImportError::Invalid(why) => ApiError::unprocessable(ErrorCode::InvalidArchive, why),
            ImportError::Unavailable(_) => ApiError::unavailable_because(
                ErrorCode::ImportUnavailable,
                "this installation's database roles cannot load archives",
            ),
            ImportError::Db(e) => DbError::from(e).into(),
        }
    }
}

impl From<DbError> for ApiError {
    fn from(err: DbError) -> Self {
        match err {
            DbError::Violation(v) => match v {
                Violation::Unique(name) => match CONSTRAINTS.iter().find(|c| c.0 == name) {
                    Some((_, code, msg)) => ApiError::conflict(*code, *msg),
                    None => {
                        ApiError::conflict(ErrorCode::AlreadyExists, "the resource already exists")
                    }
                },
                Violation::Check(name) => {
                    tracing::warn!(constraint = %name, "check constraint reached the database");
                    ApiError::unprocessable(
                        ErrorCode::ConstraintViolated,
                        "a value breaks a rule of the domain",
                    )
                }
                Violation::ForeignKey(_) => ApiError::not_found(
                    ErrorCode::ParentNotFound,
                    "a referenced resource does not exist",
                ),
                Violation::NotNull(column) => ApiError::unprocessable(
                    ErrorCode::MissingField,
                    format!("`{column}` is required"),
                ),
                Violation::RowSecurity => {
                    ApiError::not_found(ErrorCode::NotFound, "the resource does not exist")
                }
                Violation::InvalidValue => ApiError::unprocessable(
                    ErrorCode::InvalidValue,
                    "a value is out of range or malformed",
                ),
                Violation::InUse(name) => match CONSTRAINTS.iter().find(|c| c.0 == name) {
                    Some((_, code, msg)) => ApiError::conflict(*code, *msg),
                    None => ApiError::conflict(ErrorCode::InUse, "something still depends on it"),
                },
                Violation::Conflict => ApiError::conflict(
                    ErrorCode::ConcurrentUpdate,
                    "a concurrent change got there first; retry",
                ),
            },
            DbError::Other(e) => sqlx_error(e),
        }
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(err: sqlx::Error) -> Self {
        DbError::from(err).into()
    }
}

fn sqlx_error(err: sqlx::Error) -> ApiError {
    match err {
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
            tracing::error!(error = %err, "database unavailable");
            ApiError::unavailable()
        }
        other => ApiError::internal(other),
    }
}

/// Turns the errors poem and poem-openapi raise before a handler runs (bad
/// JSON, bad parameters, wrong content type, no route) into the API's error
/// shape. Errors that already are API responses pass through.
pub fn normalize(err: poem::Error) -> poem::Response {
    use poem::IntoResponse;
    use poem::http::StatusCode;
    use poem_openapi::error::{
        AuthorizationError, ContentTypeError, ParseMultipartError, ParseParamError, ParsePathError,
        ParseRequestPayloadError,
    };

    if err.is_from_response() {
        return err.into_response();
    }
    let status = err.status();
    let message = err.to_string();
    let api = if err.is::<ParseRequestPayloadError>() || err.is::<ParseMultipartError>() {
        ApiError::bad_request(ErrorCode::InvalidBody, message)
    } else if err.is::<AuthorizationError>() || status == StatusCode::UNAUTHORIZED {
        ApiError::unauthorized()
    } else if err.is::<ParseParamError>() || err.is::<ParsePathError>() {
        ApiError::bad_request(ErrorCode::InvalidParameter, message)
    } else if err.is::<ContentTypeError>() {
        ApiError::UnsupportedMediaType(body(
            ErrorCode::UnsupportedMediaType,
            "the body must be application/json",
        ))
    } else if status == StatusCode::NOT_FOUND {
        ApiError::not_found(ErrorCode::RouteNotFound, "no such route")
    } else if status == StatusCode::METHOD_NOT_ALLOWED {
        let mut b = body(
            ErrorCode::MethodNotAllowed,
            "method not allowed on this route",
        );
        return poem::Response::builder()
            .status(status)
            .content_type("application/json; charset=utf-8")
            .body(serde_json::to_vec(&body_json(&mut b)).unwrap_or_default());
    } else if status == StatusCode::PAYLOAD_TOO_LARGE {
        let mut b = body(ErrorCode::PayloadTooLarge, "the body is too large");
        return poem::Response::builder()
            .status(status)
            .content_type("application/json; charset=utf-8")
            .body(serde_json::to_vec(&body_json(&mut b)).unwrap_or_default());
    } else if status.is_client_error() {
        ApiError::bad_request(ErrorCode::BadRequest, message)
    } else {
        ApiError::internal(message)
    };
    api.into_response()
}

fn body_json(b: &mut Json<ErrorBody>) -> serde_json::Value {
    serde_json::json!({ "code": b.0.code.as_str(), "message": b.0.message, "request_id": b.0.request_id })
}
