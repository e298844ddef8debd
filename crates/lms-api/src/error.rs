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
    pub code: String,
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

/// The API result type.
pub type ApiResult<T> = Result<T, ApiError>;

fn body(code: &str, message: impl Into<String>) -> Json<ErrorBody> {
    Json(ErrorBody {
        code: code.to_owned(),
        message: message.into(),
        details: None,
        unlocks_at: None,
        request_id: request_id::current(),
    })
}

impl ApiError {
    /// 400 with `code`.
    pub fn bad_request(code: &str, message: impl Into<String>) -> Self {
        Self::BadRequest(body(code, message))
    }
    /// 401, always with the same code and message: no hint of which check failed.
    pub fn unauthorized() -> Self {
        Self::Unauthorized(body("unauthorized", "missing or invalid credentials"))
    }
    /// 401 for a failed login; the same for an unknown e-mail and a wrong password.
    pub fn invalid_credentials() -> Self {
        Self::Unauthorized(body("invalid_credentials", "e-mail or password is wrong"))
    }
    /// 403 with `code`.
    pub fn forbidden(code: &str, message: impl Into<String>) -> Self {
        Self::Forbidden(body(code, message))
    }
    /// 403 for a missing permission.
    pub fn permission_denied(permission: lms_domain::Permission) -> Self {
        Self::forbidden(
            "permission_denied",
            format!("this operation needs the `{permission}` permission"),
        )
    }
    /// 404 with `code`.
    pub fn not_found(code: &str, message: impl Into<String>) -> Self {
        Self::NotFound(body(code, message))
    }
    /// 409 with `code`.
    pub fn conflict(code: &str, message: impl Into<String>) -> Self {
        Self::Conflict(body(code, message))
    }
    /// 409 `section_locked`: the lesson is not open yet.
    pub fn section_locked(
        unlocks_at: Option<chrono::DateTime<chrono::Utc>>,
        message: impl Into<String>,
    ) -> Self {
        let mut b = body("section_locked", message);
        b.0.unlocks_at = unlocks_at;
        Self::Conflict(b)
    }
    /// 412 `precondition_failed`: `If-Match` is stale.
    pub fn precondition_failed(message: impl Into<String>) -> Self {
        Self::PreconditionFailed(body("precondition_failed", message))
    }
    /// 422 with `code`.
    pub fn unprocessable(code: &str, message: impl Into<String>) -> Self {
        Self::Unprocessable(body(code, message))
    }
    /// 429: retry after `seconds`.
    pub fn too_many_requests(seconds: u64) -> Self {
        Self::TooManyRequests(
            body("too_many_attempts", "too many attempts; retry later"),
            seconds,
        )
    }
    /// 500: logs the cause, tells the client nothing but the request id.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "internal error");
        Self::Internal(body("internal", "internal error"))
    }
    /// 503: the database is unreachable or the pool is exhausted.
    pub fn unavailable() -> Self {
        Self::Unavailable(body(
            "unavailable",
            "the service is temporarily unavailable",
        ))
    }

    /// 503 with a specific code: something the service depends on cannot
    /// be reached now.
    pub fn unavailable_because(code: &str, message: impl Into<String>) -> Self {
        Self::Unavailable(body(code, message))
    }

    /// The error's `code`.
    pub fn code(&self) -> &str {
        &self.body().code
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
        let mut b = body("validation_failed", format!("{field}: {rule}"));
        b.0.details = Some(vec![FieldError { field, rule }]);
        ApiError::Unprocessable(b)
    }
}

impl From<InputError> for ApiError {
    fn from(err: InputError) -> Self {
        let mut b = body("validation_failed", err.to_string());
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
const CONSTRAINTS: &[(&str, &str, &str)] = &[
    (
        "organizations_slug_key",
        "slug_taken",
        "an organization with this slug already exists",
    ),
    (
        "organization_domains_domain_key",
        "domain_taken",
        "this domain is already registered",
    ),
    (
        "platform_admins_email_key",
        "email_taken",
        "a platform admin with this e-mail already exists",
    ),
    (
        "users_email_key",
        "email_taken",
        "a user with this e-mail already exists",
    ),
    (
        "users_username_key",
        "username_taken",
        "a user with this username already exists",
    ),
    (
        "roles_name_key",
        "role_name_taken",
        "a role with this name already exists",
    ),
    (
        "categories_slug_key",
        "slug_taken",
        "a category with this slug already exists",
    ),
    (
        "cohorts_name_key",
        "cohort_name_taken",
        "a cohort with this name already exists",
    ),
    (
        "content_has_progress",
        "content_in_use",
        "learners still need it (their progress, or the version they are on); it stays in the \
         trash until they move on, or until the whole course is deleted",
    ),
    (
        "tags_name_key",
        "tag_name_taken",
        "a tag with this name already exists",
    ),
    (
        "learning_sessions_open_key",
        "session_already_open",
        "a session of this course was started at the same time; retry",
    ),
    (
        "reviews_course_user_key",
        "already_reviewed",
        "you have reviewed this course already",
    ),
    (
        "lessons_position_key",
        "position_conflict",
        "another change to the lesson order happened at the same time; retry",
    ),
    (
        "sections_position_key",
        "position_conflict",
        "another change to the section order happened at the same time; retry",
    ),
];

impl From<DbError> for ApiError {
    fn from(err: DbError) -> Self {
        match err {
            DbError::Violation(v) => match v {
                Violation::Unique(name) => match CONSTRAINTS.iter().find(|c| c.0 == name) {
                    Some((_, code, msg)) => ApiError::conflict(code, *msg),
                    None => ApiError::conflict("already_exists", "the resource already exists"),
                },
                Violation::Check(name) => {
                    tracing::warn!(constraint = %name, "check constraint reached the database");
                    ApiError::unprocessable(
                        "constraint_violated",
                        "a value breaks a rule of the domain",
                    )
                }
                Violation::ForeignKey(_) => {
                    ApiError::not_found("parent_not_found", "a referenced resource does not exist")
                }
                Violation::NotNull(column) => {
                    ApiError::unprocessable("missing_field", format!("`{column}` is required"))
                }
                Violation::RowSecurity => {
                    ApiError::not_found("not_found", "the resource does not exist")
                }
                Violation::InvalidValue => {
                    ApiError::unprocessable("invalid_value", "a value is out of range or malformed")
                }
                Violation::InUse(name) => match CONSTRAINTS.iter().find(|c| c.0 == name) {
                    Some((_, code, msg)) => ApiError::conflict(code, *msg),
                    None => ApiError::conflict("in_use", "something still depends on it"),
                },
                Violation::Conflict => ApiError::conflict(
                    "concurrent_update",
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
        ApiError::bad_request("invalid_body", message)
    } else if err.is::<AuthorizationError>() || status == StatusCode::UNAUTHORIZED {
        ApiError::unauthorized()
    } else if err.is::<ParseParamError>() || err.is::<ParsePathError>() {
        ApiError::bad_request("invalid_parameter", message)
    } else if err.is::<ContentTypeError>() {
        ApiError::UnsupportedMediaType(body(
            "unsupported_media_type",
            "the body must be application/json",
        ))
    } else if status == StatusCode::NOT_FOUND {
        ApiError::not_found("route_not_found", "no such route")
    } else if status == StatusCode::METHOD_NOT_ALLOWED {
        let mut b = body("method_not_allowed", "method not allowed on this route");
        return poem::Response::builder()
            .status(status)
            .content_type("application/json; charset=utf-8")
            .body(serde_json::to_vec(&body_json(&mut b)).unwrap_or_default());
    } else if status == StatusCode::PAYLOAD_TOO_LARGE {
        let mut b = body("payload_too_large", "the body is too large");
        return poem::Response::builder()
            .status(status)
            .content_type("application/json; charset=utf-8")
            .body(serde_json::to_vec(&body_json(&mut b)).unwrap_or_default());
    } else if status.is_client_error() {
        ApiError::bad_request("bad_request", message)
    } else {
        ApiError::internal(message)
    };
    api.into_response()
}

fn body_json(b: &mut Json<ErrorBody>) -> serde_json::Value {
    serde_json::json!({ "code": b.0.code, "message": b.0.message, "request_id": b.0.request_id })
}
