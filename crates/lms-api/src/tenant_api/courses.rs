//! Courses and their lessons.

use chrono::{DateTime, Utc};
use lms_db::queries::courses::{
    self, CourseFilter, CoursePatch, CourseRow, NewCourse, UpdateOutcome,
};
use lms_db::queries::lessons::{self, LessonRow};
use lms_domain::{CourseId, InputError, LessonId, Permission, Title};
use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::types::MaybeUndefined;
use poem_openapi::{ApiResponse, Enum, Object, OpenApi};
use serde_json::Value;
use uuid::Uuid;

use super::{TenantBearer, TenantTags};
use crate::context::Ctx;
use crate::error::{ApiError, ApiResult};
use crate::tenancy::Tenant;

/// Longest description accepted, in characters.
const MAX_DESCRIPTION_CHARS: usize = 20_000;
/// Largest metadata object accepted, serialised, in bytes.
const MAX_METADATA_BYTES: usize = 16 * 1024;
/// Longest image URL accepted.
const MAX_URL_CHARS: usize = 2048;

/// How hard a course is.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[oai(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Difficulty {
    /// No prerequisites.
    Beginner,
    /// Some experience expected.
    Intermediate,
    /// Solid experience expected.
    Advanced,
    /// For specialists.
    Expert,
}

impl From<Difficulty> for lms_domain::Difficulty {
    fn from(d: Difficulty) -> Self {
        match d {
            Difficulty::Beginner => Self::Beginner,
            Difficulty::Intermediate => Self::Intermediate,
            Difficulty::Advanced => Self::Advanced,
            Difficulty::Expert => Self::Expert,
        }
    }
}

impl From<lms_domain::Difficulty> for Difficulty {
    fn from(d: lms_domain::Difficulty) -> Self {
        match d {
            lms_domain::Difficulty::Beginner => Self::Beginner,
            lms_domain::Difficulty::Intermediate => Self::Intermediate,
            lms_domain::Difficulty::Advanced => Self::Advanced,
            lms_domain::Difficulty::Expert => Self::Expert,
        }
    }
}

/// A course.
#[derive(Object, Debug)]
pub struct Course {
    /// Id.
    pub id: Uuid,
    /// Title.
    pub title: String,
    /// Description.
    pub description: String,
    /// Difficulty.
    pub difficulty: Difficulty,
    /// Estimated hours of work.
    pub estimated_hours: i32,
    /// Cover image URL.
    pub image_url: Option<String>,
    /// Whether learners can see it.
    pub is_published: bool,
    /// Free-form metadata object.
    pub metadata: Option<Value>,
    /// Mean rating (0 when unrated).
    pub average_rating: f64,
    /// Number of ratings.
    pub rating_count: i32,
    /// Version, bumped by every change; send it back as `version` in an
    /// update to refuse a lost update.
    pub version: i32,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

impl From<CourseRow> for Course {
    fn from(r: CourseRow) -> Self {
        Self {
            id: r.id,
            difficulty: r.difficulty().into(),
            title: r.title,
            description: r.description,
            estimated_hours: r.estimated_hours,
            image_url: r.image_url,
            is_published: r.is_published,
            metadata: r.metadata,
            average_rating: r.average_rating,
            rating_count: r.rating_count,
            version: r.version,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// A new course. It starts as a draft.
#[derive(Object, Debug)]
#[oai(deny_unknown_fields)]
pub struct CreateCourse {
    /// Title, 1–200 characters.
    #[oai(validator(max_length = 200))]
    pub title: String,
    /// Description, up to 20 000 characters.
    #[oai(validator(max_length = 20000))]
    pub description: Option<String>,
    /// Difficulty (default `BEGINNER`).
    pub difficulty: Option<Difficulty>,
    /// Estimated hours of work (default 0).
    #[oai(validator(minimum(value = "0"), maximum(value = "10000")))]
    pub estimated_hours: Option<i32>,
    /// Cover image, an http(s) URL.
    #[oai(validator(max_length = 2048))]
    pub image_url: Option<String>,
    /// Free-form JSON object, up to 16 KiB.
    pub metadata: Option<Value>,
}

/// Changes to a course; absent fields stay as they are, `null` clears the
/// nullable ones.
#[derive(Object, Debug)]
#[oai(deny_unknown_fields)]
pub struct UpdateCourse {
    /// New title.
    #[oai(validator(max_length = 200))]
    pub title: Option<String>,
    /// New description.
    #[oai(validator(max_length = 20000))]
    pub description: Option<String>,
    /// New difficulty.
    pub difficulty: Option<Difficulty>,
    /// New estimate.
    #[oai(validator(minimum(value = "0"), maximum(value = "10000")))]
    pub estimated_hours: Option<i32>,
    /// New cover image, or `null` to remove it.
    #[oai(validator(max_length = 2048))]
    pub image_url: MaybeUndefined<String>,
    /// New metadata, or `null` to remove it.
    pub metadata: MaybeUndefined<Value>,
    /// Publish (`true`) or unpublish (`false`).
    pub is_published: Option<bool>,
    /// The version this change is based on; when given and stale, the update
    /// is refused with 409 `version_conflict`.
    pub version: Option<i32>,
}

/// A page of courses.
#[derive(Object, Debug)]
pub struct CoursePage {
    /// The courses, newest first.
    pub items: Vec<Course>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// A lesson.
#[derive(Object, Debug)]
pub struct Lesson {
    /// Id.
    pub id: Uuid,
    /// Its course.
    pub course_id: Uuid,
    /// Title.
    pub title: String,
    /// Description.
    pub description: Option<String>,
    /// Position in the course, from 0.
    pub position: i32,
    /// Whether it counts towards completion.
    pub is_required: bool,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

impl From<LessonRow> for Lesson {
    fn from(r: LessonRow) -> Self {
        Self {
            id: r.id,
            course_id: r.course_id,
            title: r.title,
            description: r.description,
            position: r.position,
            is_required: r.is_required,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// A new lesson, appended at the end of the course.
#[derive(Object, Debug)]
#[oai(deny_unknown_fields)]
pub struct CreateLesson {
    /// Title, 1–200 characters.
    #[oai(validator(max_length = 200))]
    pub title: String,
    /// Description.
    #[oai(validator(max_length = 20000))]
    pub description: Option<String>,
    /// Whether it counts towards completion (default true).
    pub is_required: Option<bool>,
}

/// The lessons of a course.
#[derive(Object, Debug)]
pub struct LessonList {
    /// In course order.
    pub items: Vec<Lesson>,
}

#[derive(ApiResponse)]
enum CourseCreated {
    /// Created.
    #[oai(status = 201)]
    Created(Json<Course>),
}

#[derive(ApiResponse)]
enum CourseFound {
    /// The course.
    #[oai(status = 200)]
    Ok(Json<Course>),
}

#[derive(ApiResponse)]
enum CourseListed {
    /// A page of courses.
    #[oai(status = 200)]
    Ok(Json<CoursePage>),
}

#[derive(ApiResponse)]
enum CourseDeleted {
    /// Deleted (soft: it can be restored by an operator).
    #[oai(status = 204)]
    NoContent,
}

#[derive(ApiResponse)]
enum LessonCreated {
    /// Created.
    #[oai(status = 201)]
    Created(Json<Lesson>),
}

#[derive(ApiResponse)]
enum LessonsListed {
    /// The lessons.
    #[oai(status = 200)]
    Ok(Json<LessonList>),
}

fn course_not_found() -> ApiError {
    ApiError::not_found("course_not_found", "no such course")
}

fn check_description(d: Option<&str>) -> Result<(), InputError> {
    match d {
        Some(d) if d.chars().count() > MAX_DESCRIPTION_CHARS => Err(InputError::new(
            "description",
            "must be at most 20000 characters",
        )),
        _ => Ok(()),
    }
}

fn check_image_url(u: Option<&str>) -> Result<(), InputError> {
    match u {
        Some(u)
            if u.len() > MAX_URL_CHARS
                || !(u.starts_with("https://") || u.starts_with("http://"))
                || u.chars().any(|c| c.is_whitespace() || c.is_control()) =>
        {
            Err(InputError::new(
                "image_url",
                "must be an http(s) URL of at most 2048 characters",
            ))
        }
        _ => Ok(()),
    }
}

fn check_metadata(m: Option<&Value>) -> Result<(), InputError> {
    match m {
        Some(Value::Object(_)) => {
            let size = serde_json::to_vec(&m)
                .map(|v| v.len())
                .unwrap_or(usize::MAX);
            if size > MAX_METADATA_BYTES {
                Err(InputError::new("metadata", "must be at most 16 KiB"))
            } else {
                Ok(())
            }
        }
        Some(_) => Err(InputError::new("metadata", "must be a JSON object")),
        None => Ok(()),
    }
}

fn check_hours(h: Option<i32>) -> Result<(), InputError> {
    match h {
        Some(h) if !(0..=10_000).contains(&h) => Err(InputError::new(
            "estimated_hours",
            "must be between 0 and 10000",
        )),
        _ => Ok(()),
    }
}

/// Courses and their lessons.
pub struct CoursesApi;

#[OpenApi(tag = "TenantTags::Courses")]
impl CoursesApi {
    /// Create a course (a draft).
    #[oai(path = "/courses", method = "post", operation_id = "createCourse")]
    async fn create_course(
        &self,
        ctx: Data<&Ctx>,
        tenant: Data<&Tenant>,
        auth: TenantBearer,
        body: Json<CreateCourse>,
    ) -> ApiResult<CourseCreated> {
        let b = body.0;
        let title = Title::parse("title", &b.title)?;
        check_description(b.description.as_deref())?;
        check_hours(b.estimated_hours)?;
        check_image_url(b.image_url.as_deref())?;
        check_metadata(b.metadata.as_ref())?;

        let (mut tx, actor) = ctx.authorize(&tenant, auth.0, "createCourse").await?;
        let row = courses::create(
            &mut tx,
            &NewCourse {
                id: CourseId::new(),
                title: title.as_str(),
                description: b.description.as_deref().unwrap_or(""),
                difficulty: b
                    .difficulty
                    .map(Into::into)
                    .unwrap_or(lms_domain::Difficulty::Beginner),
                estimated_hours: b.estimated_hours.unwrap_or(0),
                image_url: b.image_url.as_deref(),
                metadata: b.metadata.as_ref(),
                created_by: actor.user,
            },
        )
        .await?;
        tx.commit().await?;
        Ok(CourseCreated::Created(Json(row.into())))
    }

    /// List courses, newest first, with filters and keyset pagination.
    #[oai(path = "/courses", method = "get", operation_id = "listCourses")]
    #[allow(clippy::too_many_arguments)] // one per query parameter
    async fn list_courses(
        &self,
        ctx: Data<&Ctx>,
        tenant: Data<&Tenant>,
        auth: TenantBearer,
        /// Only courses of this difficulty.
        difficulty: Query<Option<Difficulty>>,
        /// Only published (`true`) or draft (`false`) courses.
        published: Query<Option<bool>>,
        /// The `next_cursor` of the previous page.
        cursor: Query<Option<String>>,
        /// Page size, 1–100 (default 20).
        #[oai(validator(minimum(value = "1"), maximum(value = "100")))]
        limit: Query<Option<i64>>,
    ) -> ApiResult<CourseListed> {
        let before = match cursor.0.as_deref() {
            Some(c) => Some(c.parse::<CourseId>().map_err(|_| {
                ApiError::bad_request("invalid_cursor", "the cursor is not one this API issued")
            })?),
            None => None,
        };
        let limit = limit.0.unwrap_or(20);
        let (mut tx, _) = ctx.authorize(&tenant, auth.0, "listCourses").await?;
        let rows = courses::list(
            &mut tx,
            &CourseFilter {
                difficulty: difficulty.0.map(Into::into),
                published: published.0,
                before,
                limit: limit + 1,
            },
        )
        .await?;
        tx.commit().await?;
        Ok(CourseListed::Ok(Json(page(rows, limit as usize))))
    }

    /// Get one course.
    #[oai(
        path = "/courses/:course_id",
        method = "get",
        operation_id = "getCourse"
    )]
    async fn get_course(
        &self,
        ctx: Data<&Ctx>,
        tenant: Data<&Tenant>,
        auth: TenantBearer,
        course_id: Path<Uuid>,
    ) -> ApiResult<CourseFound> {
        let (mut tx, _) = ctx.authorize(&tenant, auth.0, "getCourse").await?;
        let row = courses::get(&mut tx, CourseId::from_uuid(course_id.0))
            .await?
            .ok_or_else(course_not_found)?;
        tx.commit().await?;
        Ok(CourseFound::Ok(Json(row.into())))
    }

    /// Change a course. Publishing needs `course:publish`.
    #[oai(
        path = "/courses/:course_id",
        method = "patch",
        operation_id = "updateCourse"
    )]
    async fn update_course(
        &self,
        ctx: Data<&Ctx>,
        tenant: Data<&Tenant>,
        auth: TenantBearer,
        course_id: Path<Uuid>,
        body: Json<UpdateCourse>,
    ) -> ApiResult<CourseFound> {
        let b = body.0;
        let title = b
            .title
            .as_deref()
            .map(|t| Title::parse("title", t))
            .transpose()?;
        check_description(b.description.as_deref())?;
        check_hours(b.estimated_hours)?;
        check_image_url(b.image_url.value().map(String::as_str))?;
        check_metadata(b.metadata.value())?;

        let (mut tx, actor) = ctx.authorize(&tenant, auth.0, "updateCourse").await?;
        if b.is_published.is_some() {
            actor.require(Permission::CoursePublish)?;
        }
        let patch = CoursePatch {
            title: title.as_ref().map(Title::as_str),
            description: b.description.as_deref(),
            difficulty: b.difficulty.map(Into::into),
            estimated_hours: b.estimated_hours,
            image_url: maybe(&b.image_url).map(|o| o.map(String::as_str)),
            metadata: maybe(&b.metadata),
            is_published: b.is_published,
            expected_version: b.version,
        };
        let outcome = courses::update(
            &mut tx,
            CourseId::from_uuid(course_id.0),
            actor.user,
            &patch,
        )
        .await?;
        let row = match outcome {
            UpdateOutcome::Updated(row) => *row,
            UpdateOutcome::NotFound => return Err(course_not_found()),
            UpdateOutcome::VersionMismatch => {
                return Err(ApiError::conflict(
                    "version_conflict",
                    "the course changed since the version this update is based on",
                ));
            }
        };
        tx.commit().await?;
        Ok(CourseFound::Ok(Json(row.into())))
    }

    /// Delete a course (soft delete).
    #[oai(
        path = "/courses/:course_id",
        method = "delete",
        operation_id = "deleteCourse"
    )]
    async fn delete_course(
        &self,
        ctx: Data<&Ctx>,
        tenant: Data<&Tenant>,
        auth: TenantBearer,
        course_id: Path<Uuid>,
    ) -> ApiResult<CourseDeleted> {
        let (mut tx, actor) = ctx.authorize(&tenant, auth.0, "deleteCourse").await?;
        if !courses::soft_delete(&mut tx, CourseId::from_uuid(course_id.0), actor.user).await? {
            return Err(course_not_found());
        }
        tx.commit().await?;
        Ok(CourseDeleted::NoContent)
    }

    /// Append a lesson to a course.
    #[oai(
        path = "/courses/:course_id/lessons",
        method = "post",
        operation_id = "createLesson"
    )]
    async fn create_lesson(
        &self,
        ctx: Data<&Ctx>,
        tenant: Data<&Tenant>,
        auth: TenantBearer,
        course_id: Path<Uuid>,
        body: Json<CreateLesson>,
    ) -> ApiResult<LessonCreated> {
        let b = body.0;
        let title = Title::parse("title", &b.title)?;
        check_description(b.description.as_deref())?;
        let course = CourseId::from_uuid(course_id.0);
        let (mut tx, _) = ctx.authorize(&tenant, auth.0, "createLesson").await?;
        if !courses::lock(&mut tx, course).await? {
            return Err(course_not_found());
        }
        let row = lessons::append(
            &mut tx,
            course,
            LessonId::new(),
            title.as_str(),
            b.description.as_deref(),
            b.is_required.unwrap_or(true),
        )
        .await?;
        tx.commit().await?;
        Ok(LessonCreated::Created(Json(row.into())))
    }

    /// The lessons of a course, in order.
    #[oai(
        path = "/courses/:course_id/lessons",
        method = "get",
        operation_id = "listLessons"
    )]
    async fn list_lessons(
        &self,
        ctx: Data<&Ctx>,
        tenant: Data<&Tenant>,
        auth: TenantBearer,
        course_id: Path<Uuid>,
    ) -> ApiResult<LessonsListed> {
        let course = CourseId::from_uuid(course_id.0);
        let (mut tx, _) = ctx.authorize(&tenant, auth.0, "listLessons").await?;
        if courses::get(&mut tx, course).await?.is_none() {
            return Err(course_not_found());
        }
        let rows = lessons::list(&mut tx, course).await?;
        tx.commit().await?;
        Ok(LessonsListed::Ok(Json(LessonList {
            items: rows.into_iter().map(Into::into).collect(),
        })))
    }
}

/// `Some(Some(v))` set, `Some(None)` cleared, `None` untouched.
fn maybe<T>(m: &MaybeUndefined<T>) -> Option<Option<&T>> {
    match m {
        MaybeUndefined::Undefined => None,
        MaybeUndefined::Null => Some(None),
        MaybeUndefined::Value(v) => Some(Some(v)),
    }
}

fn page(mut rows: Vec<CourseRow>, limit: usize) -> CoursePage {
    let more = rows.len() > limit;
    rows.truncate(limit);
    let next_cursor = if more {
        rows.last().map(|r| r.id.to_string())
    } else {
        None
    };
    CoursePage {
        items: rows.into_iter().map(Into::into).collect(),
        next_cursor,
    }
}
