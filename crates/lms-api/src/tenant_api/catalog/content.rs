//! Lessons and sections: ordered content under a course.

use crate::contract::Body;
use chrono::{DateTime, Utc};
use lms_db::queries::courses;
use lms_db::queries::lessons::{self, LessonPatch, NewLesson};
use lms_db::queries::ordering::{self, Ordered};
use lms_db::queries::sections::{self, NewSection, SectionPatch};
use lms_domain::{CourseId, InputError, LessonId, Permission, SectionId, Title};
use poem::web::Data;
use poem_openapi::param::{Header, Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::types::MaybeUndefined;
use poem_openapi::{ApiResponse, Object, OpenApi};
use serde_json::{Value, json};
use uuid::Uuid;

use super::{Lesson, Section, SectionType, check_description, sees_drafts};
use crate::concurrency::{Precondition, etag};
use crate::context::Ctx;
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::paging::maybe;
use crate::reader::Reader;
use crate::tenancy::Tenant;
use crate::tenant_api::{TenantBearer, TenantTags};
use crate::unit::{course_not_found, lesson_not_found};

/// Longest section content, in characters.
const MAX_CONTENT_CHARS: usize = 1_000_000;
/// Most children a reorder may name.
const MAX_ORDER_ITEMS: usize = 1000;

/// A new lesson.
#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
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
    /// Drip pacing: opens this many days (0–3650) after the learner
    /// enrolled.
    #[oai(validator(minimum(value = "0"), maximum(value = "3650")))]
    pub unlock_after_days: Option<i32>,
    /// Drip pacing: opens at this time.
    pub unlock_at: Option<DateTime<Utc>>,
    /// Where to insert it (0 = first); the lessons from there on move down.
    /// Default: at the end.
    #[oai(validator(minimum(value = "0")))]
    pub position: Option<i32>,
}

/// Changes to a lesson.
#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
#[oai(deny_unknown_fields)]
pub struct UpdateLesson {
    /// New title.
    #[oai(validator(max_length = 200))]
    pub title: Option<String>,
    /// New description, or `null`.
    #[oai(validator(max_length = 20000))]
    #[oai(nullable)]
    pub description: MaybeUndefined<String>,
    /// Required or not.
    pub is_required: Option<bool>,
    /// Drip days after enrollment (0–3650), or `null` to remove.
    #[oai(validator(minimum(value = "0"), maximum(value = "3650")))]
    #[oai(nullable)]
    pub unlock_after_days: MaybeUndefined<i32>,
    /// Drip date, or `null` to remove.
    #[oai(nullable)]
    pub unlock_at: MaybeUndefined<DateTime<Utc>>,
    /// The version this change is based on; stale → 409 `version_conflict`.
    pub version: Option<i32>,
}

/// A new section.
#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
#[oai(deny_unknown_fields)]
pub struct CreateSection {
    /// Title, 1–200 characters.
    #[oai(validator(max_length = 200))]
    pub title: String,
    /// Rich content.
    #[oai(validator(max_length = 1000000))]
    pub content: Option<String>,
    /// Type (default `TEXT`).
    #[oai(rename = "type")]
    pub section_type: Option<SectionType>,
    /// Duration in minutes (default 0).
    #[oai(validator(minimum(value = "0"), maximum(value = "100000")))]
    pub duration_minutes: Option<i32>,
    /// Not needed for completion (default false).
    pub is_optional: Option<bool>,
    /// Where to insert it (0 = first). Default: at the end.
    #[oai(validator(minimum(value = "0")))]
    pub position: Option<i32>,
}

/// Changes to a section.
#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
#[oai(deny_unknown_fields)]
pub struct UpdateSection {
    /// New title.
    #[oai(validator(max_length = 200))]
    pub title: Option<String>,
    /// New content.
    #[oai(validator(max_length = 1000000))]
    pub content: Option<String>,
    /// New type.
    #[oai(rename = "type")]
    pub section_type: Option<SectionType>,
    /// New duration in minutes.
    #[oai(validator(minimum(value = "0"), maximum(value = "100000")))]
    pub duration_minutes: Option<i32>,
    /// Optional or not.
    pub is_optional: Option<bool>,
    /// The version this change is based on; stale → 409 `version_conflict`.
    pub version: Option<i32>,
}

/// A full new order of the children.
#[derive(Object, Debug)]
#[oai(deny_unknown_fields)]
pub struct Order {
    /// Every child id exactly once, in the new order.
    #[oai(validator(max_items = 1000))]
    pub ids: Vec<Uuid>,
}

/// The lessons of a course.
#[derive(Object, Debug)]
pub struct LessonList {
    /// In course order.
    pub items: Vec<Lesson>,
}

/// The sections of a lesson.
#[derive(Object, Debug)]
pub struct SectionList {
    /// In lesson order.
    pub items: Vec<Section>,
}

#[derive(ApiResponse)]
enum LessonCreated {
    /// Created.
    #[oai(status = 201)]
    Created(Json<Lesson>),
}

#[derive(ApiResponse)]
enum LessonFound {
    /// The lesson, its version as the entity tag.
    #[oai(status = 200)]
    Ok(Json<Lesson>, #[oai(header = "ETag")] String),
}

impl LessonFound {
    fn of(l: Lesson) -> Self {
        let tag = etag(l.version);
        Self::Ok(Json(l), tag)
    }
}

#[derive(ApiResponse)]
enum LessonsListed {
    /// The lessons.
    #[oai(status = 200)]
    Ok(Json<LessonList>),
}

#[derive(ApiResponse)]
enum SectionCreated {
    /// Created.
    #[oai(status = 201)]
    Created(Json<Section>),
}

#[derive(ApiResponse)]
enum SectionFound {
    /// The section, its version as the entity tag.
    #[oai(status = 200)]
    Ok(Json<Section>, #[oai(header = "ETag")] String),
}

impl SectionFound {
    fn of(s: Section) -> Self {
        let tag = etag(s.version);
        Self::Ok(Json(s), tag)
    }
}

#[derive(ApiResponse)]
enum SectionsListed {
    /// The sections.
    #[oai(status = 200)]
    Ok(Json<SectionList>),
}

#[derive(ApiResponse)]
enum Deleted {
    /// Deleted (to the trash, or for real); the positions after it moved up.
    #[oai(status = 204)]
    NoContent,
}

fn section_not_found() -> ApiError {
    ApiError::not_found(ErrorCode::SectionNotFound, "no such section in this lesson")
}

fn check_content(c: Option<&str>) -> Result<(), InputError> {
    match c {
        Some(c) if c.chars().count() > MAX_CONTENT_CHARS => Err(InputError::new(
            "content",
            "must be at most 1000000 characters",
        )),
        _ => Ok(()),
    }
}

fn check_duration(d: Option<i32>) -> Result<(), InputError> {
    match d {
        Some(d) if !(0..=100_000).contains(&d) => Err(InputError::new(
            "duration_minutes",
            "must be between 0 and 100000",
        )),
        _ => Ok(()),
    }
}

/// Checks `order` names exactly the current children, once each.
fn check_order(current: &[Uuid], order: &[Uuid]) -> ApiResult<()> {
    let mismatch = || {
        ApiError::unprocessable(
            ErrorCode::OrderMismatch,
            "`ids` must list every current child exactly once, and nothing else",
        )
    };
    if order.len() != current.len() || order.len() > MAX_ORDER_ITEMS {
        return Err(mismatch());
    }
    let mut sorted = order.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let mut have = current.to_vec();
    have.sort_unstable();
    if sorted != have {
        return Err(mismatch());
    }
    Ok(())
}

/// A readable course for this viewer (drafts only for `course:read`).
async fn visible_course(read: &mut Reader<'_>, course: CourseId) -> ApiResult<()> {
    let drafts = sees_drafts(read.actor());
    courses::get(read.tx().await?, course, drafts)
        .await?
        .ok_or_else(course_not_found)?;
    Ok(())
}

/// A readable lesson: of a course this viewer sees.
async fn visible_lesson(
    read: &mut Reader<'_>,
    course: CourseId,
    lesson: LessonId,
) -> ApiResult<()> {
    visible_course(read, course).await?;
    lessons::get(read.tx().await?, course, lesson)
        .await?
        .ok_or_else(lesson_not_found)?;
    Ok(())
}

fn lesson_payload(l: &Lesson, version: i32) -> Value {
    json!({ "course_id": l.course_id, "lesson_id": l.id, "title": l.title, "version": version })
}

fn section_payload(course: CourseId, s: &Section, version: i32) -> Value {
    json!({
        "course_id": course,
        "lesson_id": s.lesson_id,
        "section_id": s.id,
        "title": s.title,
        "version": version,
    })
}

/// Lessons and sections.
pub struct ContentApi;

#[OpenApi(tag = "TenantTags::Content")]
impl ContentApi {
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
        let mut read = ctx.reader(&tenant, auth.0, "listLessons").await?;
        visible_course(&mut read, course).await?;
        let rows = lessons::list(read.tx().await?, course).await?;
        read.finish().await?;
        Ok(LessonsListed::Ok(Json(LessonList {
            items: rows.into_iter().map(Into::into).collect(),
        })))
    }

    /// Add a lesson, at the end or at a position.
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
        body: Body<CreateLesson>,
    ) -> ApiResult<LessonCreated> {
        let b = body.0;
        let title = Title::parse("title", &b.title)?;
        check_description(b.description.as_deref())?;
        let (mut unit, _) = ctx.unit(&tenant, auth.0, "createLesson").await?;
        let lock = unit.course(CourseId::from_uuid(course_id.0)).await?;
        let lesson: Lesson = lessons::insert(
            unit.tx(),
            lock.id,
            &NewLesson {
                id: LessonId::new(),
                title: title.as_str(),
                description: b.description.as_deref(),
                is_required: b.is_required.unwrap_or(true),
                unlock_after_days: b.unlock_after_days,
                unlock_at: b.unlock_at,
                position: b.position,
            },
        )
        .await?
        .into();
        unit.emit(
            "lesson.created",
            lesson.id,
            lesson_payload(&lesson, lock.next_version()),
        );
        unit.commit().await?;
        Ok(LessonCreated::Created(Json(lesson)))
    }

    /// Store a new order of a course's lessons, atomically.
    #[oai(
        path = "/courses/:course_id/lessons/order",
        method = "put",
        operation_id = "reorderLessons"
    )]
    async fn reorder_lessons(
        &self,
        ctx: Data<&Ctx>,
        tenant: Data<&Tenant>,
        auth: TenantBearer,
        course_id: Path<Uuid>,
        body: Body<Order>,
    ) -> ApiResult<LessonsListed> {
        let (mut unit, _) = ctx.unit(&tenant, auth.0, "reorderLessons").await?;
        let lock = unit.course(CourseId::from_uuid(course_id.0)).await?;
        let course = lock.id.as_uuid();
        let current = ordering::ids(unit.tx(), Ordered::Lessons, course).await?;
        check_order(&current, &body.0.ids)?;
        ordering::reorder(unit.tx(), Ordered::Lessons, course, &body.0.ids).await?;
        let rows = lessons::list(unit.tx(), lock.id).await?;
        unit.emit(
            "course.lessons_reordered",
            course,
            json!({ "course_id": course, "lesson_ids": body.0.ids, "version": lock.next_version() }),
        );
        unit.commit().await?;
        Ok(LessonsListed::Ok(Json(LessonList {
            items: rows.into_iter().map(Into::into).collect(),
        })))
    }

    /// One lesson.
    #[oai(
        path = "/courses/:course_id/lessons/:lesson_id",
        method = "get",
        operation_id = "getLesson"
    )]
    async fn get_lesson(
        &self,
        ctx: Data<&Ctx>,
        tenant: Data<&Tenant>,
        auth: TenantBearer,
        course_id: Path<Uuid>,
        lesson_id: Path<Uuid>,
    ) -> ApiResult<LessonFound> {
        let course = CourseId::from_uuid(course_id.0);
        let mut read = ctx.reader(&tenant, auth.0, "getLesson").await?;
        visible_course(&mut read, course).await?;
        let row = lessons::get(read.tx().await?, course, LessonId::from_uuid(lesson_id.0))
            .await?
            .ok_or_else(lesson_not_found)?;
        read.finish().await?;
        Ok(LessonFound::of(row.into()))
    }

    /// Change a lesson.
    #[allow(clippy::too_many_arguments)] // one per request part
    #[oai(
        path = "/courses/:course_id/lessons/:lesson_id",
        method = "patch",
        operation_id = "updateLesson"
    )]
    async fn update_lesson(
        &self,
        ctx: Data<&Ctx>,
        tenant: Data<&Tenant>,
        auth: TenantBearer,
        course_id: Path<Uuid>,
        lesson_id: Path<Uuid>,
        /// The entity tag (version) this change is based on; stale → 412.
        #[oai(name = "If-Match")]
        if_match: Header<Option<String>>,
        body: Body<UpdateLesson>,
    ) -> ApiResult<LessonFound> {
        let b = body.0;
        let based_on = Precondition::new(if_match.0.as_deref(), b.version);
        let title = b
            .title
            .as_deref()
            .map(|t| Title::parse("title", t))
            .transpose()?;
        check_description(b.description.value().map(String::as_str))?;
        let (mut unit, _) = ctx.unit(&tenant, auth.0, "updateLesson").await?;
        let id = LessonId::from_uuid(lesson_id.0);
        let lock = unit.lesson(CourseId::from_uuid(course_id.0), id).await?;
        let current = lessons::get(unit.tx(), lock.id, id)
            .await?
            .ok_or_else(lesson_not_found)?;
        based_on.check(current.version)?;
        let lesson: Lesson = lessons::update(
            unit.tx(),
            lock.id,
            LessonId::from_uuid(lesson_id.0),
            &LessonPatch {
                title: title.as_ref().map(Title::as_str),
                description: maybe(&b.description).map(|d| d.map(String::as_str)),
                is_required: b.is_required,
                unlock_after_days: maybe(&b.unlock_after_days).map(|d| d.copied()),
                unlock_at: maybe(&b.unlock_at).map(|d| d.copied()),
            },
        )
        .await?
        .ok_or_else(lesson_not_found)?
        .into();
        unit.emit(
            "lesson.updated",
            lesson.id,
            lesson_payload(&lesson, lock.next_version()),
        );
        unit.commit().await?;
        Ok(LessonFound::of(lesson))
    }

    /// Delete a lesson with its sections: it goes to the trash (learners
    /// pinned to a version that has it keep learning from it); the lessons
    /// after it move up.
    #[oai(
        path = "/courses/:course_id/lessons/:lesson_id",
        method = "delete",
        operation_id = "deleteLesson"
    )]
    async fn delete_lesson(
        &self,
        ctx: Data<&Ctx>,
        tenant: Data<&Tenant>,
        auth: TenantBearer,
        course_id: Path<Uuid>,
        lesson_id: Path<Uuid>,
        /// Delete for real, now, live or from the trash (`course:write:any`);
        /// refused (409 `content_in_use`) while learners have progress on it
        /// or are pinned to a version that has it.
        purge: Query<Option<bool>>,
    ) -> ApiResult<Deleted> {
        let lesson = LessonId::from_uuid(lesson_id.0);
        let (mut unit, actor) = ctx.unit(&tenant, auth.0, "deleteLesson").await?;
        let purge = purge.0 == Some(true);
        if purge {
            actor.require(Permission::CourseWriteAny)?;
        }
        let lock = unit.course(CourseId::from_uuid(course_id.0)).await?;
        let done = if purge {
            ordering::purge(
                unit.tx(),
                Ordered::Lessons,
                lock.id.as_uuid(),
                lesson.as_uuid(),
            )
            .await?
        } else {
            ordering::trash(
                unit.tx(),
                Ordered::Lessons,
                lock.id.as_uuid(),
                lesson.as_uuid(),
                actor.user,
            )
            .await?
        };
        if !done {
            return Err(lesson_not_found());
        }
        unit.emit(
            if purge {
                "lesson.purged"
            } else {
                "lesson.deleted"
            },
            lesson,
            json!({ "course_id": lock.id, "lesson_id": lesson, "version": lock.next_version() }),
        );
        unit.commit().await?;
        Ok(Deleted::NoContent)
    }

    /// Bring a lesson back from the trash with its sections, at the end of
    /// the course (the course's staff, or `course:write:any`).
    #[oai(
        path = "/courses/:course_id/lessons/:lesson_id/restore",
        method = "post",
        operation_id = "restoreLesson"
    )]
    async fn restore_lesson(
        &self,
        ctx: Data<&Ctx>,
        tenant: Data<&Tenant>,
        auth: TenantBearer,
        course_id: Path<Uuid>,
        lesson_id: Path<Uuid>,
    ) -> ApiResult<LessonFound> {
        let lesson = LessonId::from_uuid(lesson_id.0);
        let (mut unit, _) = ctx.unit(&tenant, auth.0, "restoreLesson").await?;
        let lock = unit.course(CourseId::from_uuid(course_id.0)).await?;
        if !ordering::restore(
            unit.tx(),
            Ordered::Lessons,
            lock.id.as_uuid(),
            lesson.as_uuid(),
        )
        .await?
        {
            return Err(ApiError::not_found(
                ErrorCode::LessonNotInTrash,
                "no deleted lesson with this id in this course",
            ));
        }
        let lesson: Lesson = lessons::get(unit.tx(), lock.id, lesson)
            .await?
            .ok_or_else(lesson_not_found)?
            .into();
        unit.emit(
            "lesson.restored",
            lesson.id,
            lesson_payload(&lesson, lock.next_version()),
        );
        unit.commit().await?;
        Ok(LessonFound::of(lesson))
    }

    /// The sections of a lesson, in order.
    #[oai(
        path = "/courses/:course_id/lessons/:lesson_id/sections",
        method = "get",
        operation_id = "listSections"
    )]
    async fn list_sections(
        &self,
        ctx: Data<&Ctx>,
        tenant: Data<&Tenant>,
        auth: TenantBearer,
        course_id: Path<Uuid>,
        lesson_id: Path<Uuid>,
    ) -> ApiResult<SectionsListed> {
        let lesson = LessonId::from_uuid(lesson_id.0);
        let mut read = ctx.reader(&tenant, auth.0, "listSections").await?;
        visible_lesson(&mut read, CourseId::from_uuid(course_id.0), lesson).await?;
        let rows = sections::list(read.tx().await?, lesson).await?;
        read.finish().await?;
        Ok(SectionsListed::Ok(Json(SectionList {
            items: rows.into_iter().map(Into::into).collect(),
        })))
    }

    /// Add a section to a lesson, at the end or at a position.
    #[oai(
        path = "/courses/:course_id/lessons/:lesson_id/sections",
        method = "post",
        operation_id = "createSection"
    )]
    async fn create_section(
        &self,
        ctx: Data<&Ctx>,
        tenant: Data<&Tenant>,
        auth: TenantBearer,
        course_id: Path<Uuid>,
        lesson_id: Path<Uuid>,
        body: Body<CreateSection>,
    ) -> ApiResult<SectionCreated> {
        let b = body.0;
        let title = Title::parse("title", &b.title)?;
        check_content(b.content.as_deref())?;
        check_duration(b.duration_minutes)?;
        let lesson = LessonId::from_uuid(lesson_id.0);
        let (mut unit, _) = ctx.unit(&tenant, auth.0, "createSection").await?;
        let lock = unit
            .lesson(CourseId::from_uuid(course_id.0), lesson)
            .await?;
        let section: Section = sections::insert(
            unit.tx(),
            lesson,
            &NewSection {
                id: SectionId::new(),
                title: title.as_str(),
                content: b.content.as_deref().unwrap_or(""),
                section_type: b
                    .section_type
                    .map(Into::into)
                    .unwrap_or(lms_domain::SectionType::Text),
                duration_minutes: b.duration_minutes.unwrap_or(0),
                is_optional: b.is_optional.unwrap_or(false),
                position: b.position,
            },
        )
        .await?
        .into();
        unit.emit(
            "section.created",
            section.id,
            section_payload(lock.id, &section, lock.next_version()),
        );
        unit.commit().await?;
        Ok(SectionCreated::Created(Json(section)))
    }

    /// Store a new order of a lesson's sections, atomically.
    #[oai(
        path = "/courses/:course_id/lessons/:lesson_id/sections/order",
        method = "put",
        operation_id = "reorderSections"
    )]
    async fn reorder_sections(
        &self,
        ctx: Data<&Ctx>,
        tenant: Data<&Tenant>,
        auth: TenantBearer,
        course_id: Path<Uuid>,
        lesson_id: Path<Uuid>,
        body: Body<Order>,
    ) -> ApiResult<SectionsListed> {
        let lesson = LessonId::from_uuid(lesson_id.0);
        let (mut unit, _) = ctx.unit(&tenant, auth.0, "reorderSections").await?;
        let lock = unit
            .lesson(CourseId::from_uuid(course_id.0), lesson)
            .await?;
        let current = ordering::ids(unit.tx(), Ordered::Sections, lesson.as_uuid()).await?;
        check_order(&current, &body.0.ids)?;
        ordering::reorder(unit.tx(), Ordered::Sections, lesson.as_uuid(), &body.0.ids).await?;
        let rows = sections::list(unit.tx(), lesson).await?;
        unit.emit(
            "lesson.sections_reordered",
            lesson,
            json!({
                "course_id": lock.id,
                "lesson_id": lesson,
                "section_ids": body.0.ids,
                "version": lock.next_version(),
            }),
        );
        unit.commit().await?;
        Ok(SectionsListed::Ok(Json(SectionList {
            items: rows.into_iter().map(Into::into).collect(),
        })))
    }

    /// One section.
    #[oai(
        path = "/courses/:course_id/lessons/:lesson_id/sections/:section_id",
        method = "get",
        operation_id = "getSection"
    )]
    async fn get_section(
        &self,
        ctx: Data<&Ctx>,
        tenant: Data<&Tenant>,
        auth: TenantBearer,
        course_id: Path<Uuid>,
        lesson_id: Path<Uuid>,
        section_id: Path<Uuid>,
    ) -> ApiResult<SectionFound> {
        let lesson = LessonId::from_uuid(lesson_id.0);
        let mut read = ctx.reader(&tenant, auth.0, "getSection").await?;
        visible_lesson(&mut read, CourseId::from_uuid(course_id.0), lesson).await?;
        let row = sections::get(read.tx().await?, lesson, SectionId::from_uuid(section_id.0))
            .await?
            .ok_or_else(section_not_found)?;
        read.finish().await?;
        Ok(SectionFound::of(row.into()))
    }

    /// Change a section.
    #[oai(
        path = "/courses/:course_id/lessons/:lesson_id/sections/:section_id",
        method = "patch",
        operation_id = "updateSection"
    )]
    #[allow(clippy::too_many_arguments)] // one per path parameter
    async fn update_section(
        &self,
        ctx: Data<&Ctx>,
        tenant: Data<&Tenant>,
        auth: TenantBearer,
        course_id: Path<Uuid>,
        lesson_id: Path<Uuid>,
        section_id: Path<Uuid>,
        /// The entity tag (version) this change is based on; stale → 412.
        #[oai(name = "If-Match")]
        if_match: Header<Option<String>>,
        body: Body<UpdateSection>,
    ) -> ApiResult<SectionFound> {
        let b = body.0;
        let based_on = Precondition::new(if_match.0.as_deref(), b.version);
        let title = b
            .title
            .as_deref()
            .map(|t| Title::parse("title", t))
            .transpose()?;
        check_content(b.content.as_deref())?;
        check_duration(b.duration_minutes)?;
        let lesson = LessonId::from_uuid(lesson_id.0);
        let (mut unit, _) = ctx.unit(&tenant, auth.0, "updateSection").await?;
        let lock = unit
            .lesson(CourseId::from_uuid(course_id.0), lesson)
            .await?;
        let current = sections::get(unit.tx(), lesson, SectionId::from_uuid(section_id.0))
            .await?
            .ok_or_else(section_not_found)?;
        based_on.check(current.version)?;
        let patch = SectionPatch {
            title: title.as_ref().map(Title::as_str),
            content: b.content.as_deref(),
            section_type: b.section_type.map(Into::into),
            duration_minutes: b.duration_minutes,
            is_optional: b.is_optional,
        };
        let section: Section = sections::update(
            unit.tx(),
            lesson,
            SectionId::from_uuid(section_id.0),
            &patch,
        )
        .await?
        .ok_or_else(section_not_found)?
        .into();
        unit.emit(
            "section.updated",
            section.id,
            section_payload(lock.id, &section, lock.next_version()),
        );
        unit.commit().await?;
        Ok(SectionFound::of(section))
    }

    /// Delete a section: it goes to the trash (learners pinned to a version
    /// that has it keep learning from it); the sections after it move up.
    #[oai(
        path = "/courses/:course_id/lessons/:lesson_id/sections/:section_id",
        method = "delete",
        operation_id = "deleteSection"
    )]
    #[allow(clippy::too_many_arguments)] // one per request part
    async fn delete_section(
        &self,
        ctx: Data<&Ctx>,
        tenant: Data<&Tenant>,
        auth: TenantBearer,
        course_id: Path<Uuid>,
        lesson_id: Path<Uuid>,
        section_id: Path<Uuid>,
        /// Delete for real, now, live or from the trash (`course:write:any`);
        /// refused (409 `content_in_use`) while learners have progress on it
        /// or are pinned to a version that has it.
        purge: Query<Option<bool>>,
    ) -> ApiResult<Deleted> {
        let (lesson, section) = (
            LessonId::from_uuid(lesson_id.0),
            SectionId::from_uuid(section_id.0),
        );
        let (mut unit, actor) = ctx.unit(&tenant, auth.0, "deleteSection").await?;
        let purge = purge.0 == Some(true);
        if purge {
            actor.require(Permission::CourseWriteAny)?;
        }
        let lock = unit
            .lesson(CourseId::from_uuid(course_id.0), lesson)
            .await?;
        let done = if purge {
            ordering::purge(
                unit.tx(),
                Ordered::Sections,
                lesson.as_uuid(),
                section.as_uuid(),
            )
            .await?
        } else {
            ordering::trash(
                unit.tx(),
                Ordered::Sections,
                lesson.as_uuid(),
                section.as_uuid(),
                actor.user,
            )
            .await?
        };
        if !done {
            return Err(section_not_found());
        }
        unit.emit(
            if purge {
                "section.purged"
            } else {
                "section.deleted"
            },
            section,
            json!({
                "course_id": lock.id,
                "lesson_id": lesson,
                "section_id": section,
                "version": lock.next_version(),
            }),
        );
        unit.commit().await?;
        Ok(Deleted::NoContent)
    }

    /// Bring a section back from the trash, at the end of its lesson (the
    /// course's staff, or `course:write:any`). Its lesson must not be in
    /// the trash: restore the lesson instead.
    #[oai(
        path = "/courses/:course_id/lessons/:lesson_id/sections/:section_id/restore",
        method = "post",
        operation_id = "restoreSection"
    )]
    async fn restore_section(
        &self,
        ctx: Data<&Ctx>,
        tenant: Data<&Tenant>,
        auth: TenantBearer,
        course_id: Path<Uuid>,
        lesson_id: Path<Uuid>,
        section_id: Path<Uuid>,
    ) -> ApiResult<SectionFound> {
        let (lesson, section) = (
            LessonId::from_uuid(lesson_id.0),
            SectionId::from_uuid(section_id.0),
        );
        let (mut unit, _) = ctx.unit(&tenant, auth.0, "restoreSection").await?;
        let lock = unit
            .lesson(CourseId::from_uuid(course_id.0), lesson)
            .await?;
        if !ordering::restore(
            unit.tx(),
            Ordered::Sections,
            lesson.as_uuid(),
            section.as_uuid(),
        )
        .await?
        {
            return Err(ApiError::not_found(
                ErrorCode::SectionNotInTrash,
                "no deleted section with this id in this lesson",
            ));
        }
        let section: Section = sections::get(unit.tx(), lesson, section)
            .await?
            .ok_or_else(section_not_found)?
            .into();
        unit.emit(
            "section.restored",
            section.id,
            section_payload(lock.id, &section, lock.next_version()),
        );
        unit.commit().await?;
        Ok(SectionFound::of(section))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_order_must_name_exactly_the_current_children() {
        let (a, b, c) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
        assert!(check_order(&[a, b], &[b, a]).is_ok());
        assert!(check_order(&[a, b], &[a, a]).is_err());
        assert!(check_order(&[a, b], &[a]).is_err());
        assert!(check_order(&[a, b], &[a, c]).is_err());
        assert!(check_order(&[a, b], &[a, b, c]).is_err());
    }
}
