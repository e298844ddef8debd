//! Cohorts: named groups of users, enrolled in courses as a whole. Adding a
//! course enrolls every active member; a member added later is enrolled in
//! every published course of the cohort. Leaving a cohort, unlinking a
//! course or removing the cohort leaves enrollments as they are: they
//! belong to the learner.

use crate::contract::Body;
use chrono::{DateTime, Utc};
use lms_db::queries::cohorts::{self, CohortCourseRow, CohortRow, MemberRow};
use lms_db::queries::learning;
use lms_domain::{CourseId, InputError, Title, UserId};
use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::types::MaybeUndefined;
use poem_openapi::{ApiResponse, Enum, Object, OpenApi};
use serde_json::json;
use uuid::Uuid;

use super::learning::{
    BulkOutcome, BulkResult, BulkRow, Entry, enroll_one, published_version, resolve_users,
};
use super::{TenantBearer, TenantTags};
use crate::context::Ctx;
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::paging::{self, maybe};
use crate::tenancy::Tenant;
use crate::unit::Unit;

/// Longest cohort description, in characters.
const MAX_DESCRIPTION_CHARS: usize = 2000;

/// A cohort.
#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct Cohort {
    /// Id.
    pub id: Uuid,
    /// Name, unique in the organization whatever the case.
    pub name: String,
    /// Description.
    pub description: Option<String>,
    /// Members.
    pub member_count: i64,
    /// Courses its members are enrolled in.
    pub course_count: i64,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change of name or description.
    pub updated_at: DateTime<Utc>,
}

impl From<CohortRow> for Cohort {
    fn from(r: CohortRow) -> Self {
        Self {
            id: r.id,
            name: r.name,
            description: r.description,
            member_count: r.member_count,
            course_count: r.course_count,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// A new cohort.
#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
#[oai(deny_unknown_fields)]
pub struct CreateCohort {
    /// Name, 1–200 characters, unique in the organization.
    #[oai(validator(max_length = 200))]
    pub name: String,
    /// Description, up to 2000 characters.
    #[oai(validator(max_length = 2000))]
    pub description: Option<String>,
}

/// Changes to a cohort.
#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
#[oai(deny_unknown_fields)]
pub struct UpdateCohort {
    /// New name.
    #[oai(validator(max_length = 200))]
    pub name: Option<String>,
    /// New description, or `null` to remove it.
    #[oai(validator(max_length = 2000))]
    #[oai(nullable)]
    pub description: MaybeUndefined<String>,
}

/// A page of cohorts.
#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct CohortPage {
    /// Oldest first.
    pub items: Vec<Cohort>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// A member of a cohort.
#[derive(Object, Debug)]
pub struct CohortMember {
    /// The user.
    pub user_id: Uuid,
    /// Their name.
    pub name: String,
    /// Their e-mail.
    pub email: String,
    /// Deactivated members are not enrolled.
    pub is_active: bool,
    /// Joined the cohort.
    pub added_at: DateTime<Utc>,
}

impl From<MemberRow> for CohortMember {
    fn from(r: MemberRow) -> Self {
        Self {
            user_id: r.user_id,
            name: r.name,
            email: r.email,
            is_active: r.is_active,
            added_at: r.added_at,
        }
    }
}

/// A page of members.
#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct CohortMemberPage {
    /// By user id.
    pub items: Vec<CohortMember>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// Users to add.
#[derive(Object, Debug)]
#[oai(deny_unknown_fields)]
pub struct AddCohortMembers {
    /// User ids or e-mail addresses, 1–1000.
    #[oai(validator(min_items = 1, max_items = 1000))]
    pub users: Vec<String>,
}

/// What happened to one entry.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[oai(rename_all = "snake_case")]
pub enum MemberOutcome {
    /// Added, and enrolled in the cohort's published courses.
    Added,
    /// A member already.
    AlreadyMember,
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
pub struct MemberResult {
    /// The entry as given.
    pub input: String,
    /// What happened.
    pub outcome: MemberOutcome,
    /// The user, when found.
    pub user_id: Option<Uuid>,
    /// Enrollments this made for them (new or restarted).
    pub enrolled: i64,
}

/// Outcomes, in the order of the entries.
#[derive(Object, Debug)]
pub struct MembersAdded {
    /// One per entry.
    pub rows: Vec<MemberResult>,
    /// Members added.
    pub added: i64,
    /// Enrollments made, all members and courses together.
    pub enrolled: i64,
}

/// A course of a cohort.
#[derive(Object, Debug)]
pub struct CohortCourse {
    /// The course.
    pub course_id: Uuid,
    /// Its title.
    pub title: String,
    /// Only published courses enroll members.
    pub is_published: bool,
    /// Linked to the cohort.
    pub added_at: DateTime<Utc>,
}

impl From<CohortCourseRow> for CohortCourse {
    fn from(r: CohortCourseRow) -> Self {
        Self {
            course_id: r.course_id,
            title: r.title,
            is_published: r.is_published,
            added_at: r.added_at,
        }
    }
}

/// The courses of a cohort.
#[derive(Object, Debug)]
pub struct CohortCourseList {
    /// Oldest link first.
    pub items: Vec<CohortCourse>,
}

/// A course to enroll the cohort in.
#[derive(Object, Debug)]
#[oai(deny_unknown_fields)]
pub struct AddCohortCourse {
    /// A published course.
    pub course_id: Uuid,
}

#[derive(ApiResponse)]
enum CohortCreated {
    /// Created.
    #[oai(status = 201)]
    Created(Json<Cohort>),
}

#[derive(ApiResponse)]
enum CohortFound {
    /// The cohort.
    #[oai(status = 200)]
    Ok(Json<Cohort>),
}

#[derive(ApiResponse)]
enum CohortsListed {
    /// The cohorts.
    #[oai(status = 200)]
    Ok(Json<CohortPage>),
}

#[derive(ApiResponse)]
enum MembersListed {
    /// The members.
    #[oai(status = 200)]
    Ok(Json<CohortMemberPage>),
}

#[derive(ApiResponse)]
enum MembersDone {
    /// Every entry, with its outcome.
    #[oai(status = 200)]
    Ok(Json<MembersAdded>),
}

#[derive(ApiResponse)]
enum CohortCoursesListed {
    /// The courses.
    #[oai(status = 200)]
    Ok(Json<CohortCourseList>),
}

#[derive(ApiResponse)]
enum CohortCourseLinked {
    /// Linked; every active member, with their outcome.
    #[oai(status = 201)]
    Created(Json<BulkResult>),
    /// Linked already; members not enrolled yet are enrolled now.
    #[oai(status = 200)]
    Ok(Json<BulkResult>),
}

#[derive(ApiResponse)]
enum Removed {
    /// Removed.
    #[oai(status = 204)]
    NoContent,
}

fn cohort_not_found() -> ApiError {
    ApiError::not_found(ErrorCode::CohortNotFound, "no such cohort")
}

fn check_description(d: Option<&str>) -> Result<(), InputError> {
    match d {
        Some(d) if d.chars().count() > MAX_DESCRIPTION_CHARS => Err(InputError::new(
            "description",
            "must be at most 2000 characters",
        )),
        _ => Ok(()),
    }
}

/// Locks the cohort for a change of members or courses.
async fn lock(unit: &mut Unit<'_>, id: Uuid) -> ApiResult<()> {
    if cohorts::lock(unit.tx(), id).await? {
        Ok(())
    } else {
        Err(cohort_not_found())
    }
}

/// Cohorts and their courses.
pub struct CohortsApi;

#[OpenApi(tag = "TenantTags::Learning")]
impl CohortsApi {
    /// Create a cohort (`enrollment:manage`). A name taken in any case →
    /// 409 `cohort_name_taken`.
    #[oai(path = "/cohorts", method = "post", operation_id = "createCohort")]
    async fn create(
        &self,
        ctx: Data<&Ctx>,
        tenant: Data<&Tenant>,
        auth: TenantBearer,
        body: Body<CreateCohort>,
    ) -> ApiResult<CohortCreated> {
        let name = Title::parse("name", &body.0.name)?;
        check_description(body.0.description.as_deref())?;
        let (mut unit, actor) = ctx.unit(&tenant, auth.0, "createCohort").await?;
        let row = cohorts::create(
            unit.tx(),
            name.as_str(),
            body.0.description.as_deref(),
            actor.user,
        )
        .await?;
        unit.emit(
            "cohort.created",
            row.id,
            json!({ "id": row.id, "name": row.name }),
        );
        unit.commit().await?;
        Ok(CohortCreated::Created(Json(row.into())))
    }

    /// The organization's cohorts, oldest first (`enrollment:manage`).
    #[oai(path = "/cohorts", method = "get", operation_id = "listCohorts")]
    async fn list(
        &self,
        ctx: Data<&Ctx>,
        tenant: Data<&Tenant>,
        auth: TenantBearer,
        /// The `next_cursor` of the previous page.
        cursor: Query<Option<Uuid>>,
        /// Page size, 1–100 (default 20).
        #[oai(validator(minimum(value = "1"), maximum(value = "100")))]
        limit: Query<Option<i64>>,
    ) -> ApiResult<CohortsListed> {
        let after = cursor.0;
        let limit = limit.0.unwrap_or(paging::DEFAULT_LIMIT);
        let mut read = ctx.reader(&tenant, auth.0, "listCohorts").await?;
        let rows = cohorts::list(read.tx().await?, after, limit + 1).await?;
        read.finish().await?;
        let (rows, next_cursor) = paging::page(rows, limit, |r| r.id.to_string());
        Ok(CohortsListed::Ok(Json(CohortPage {
            items: rows.into_iter().map(Into::into).collect(),
            next_cursor,
        })))
    }

    /// One cohort (`enrollment:manage`).
    #[oai(
        path = "/cohorts/:cohort_id",
        method = "get",
        operation_id = "getCohort"
    )]
    async fn get(
        &self,
        ctx: Data<&Ctx>,
        tenant: Data<&Tenant>,
        auth: TenantBearer,
        cohort_id: Path<Uuid>,
    ) -> ApiResult<CohortFound> {
        let mut read = ctx.reader(&tenant, auth.0, "getCohort").await?;
        let row = cohorts::get(read.tx().await?, cohort_id.0)
            .await?
            .ok_or_else(cohort_not_found)?;
        read.finish().await?;
        Ok(CohortFound::Ok(Json(row.into())))
    }

    /// Rename or redescribe a cohort (`enrollment:manage`).
    #[oai(
        path = "/cohorts/:cohort_id",
        method = "patch",
        operation_id = "updateCohort"
    )]
    async fn update(
        &self,
        ctx: Data<&Ctx>,
        tenant: Data<&Tenant>,
        auth: TenantBearer,
        cohort_id: Path<Uuid>,
        body: Body<UpdateCohort>,
    ) -> ApiResult<CohortFound> {
        let b = body.0;
        let name = b
            .name
            .as_deref()
            .map(|n| Title::parse("name", n))
            .transpose()?;
        check_description(b.description.value().map(String::as_str))?;
        let (mut unit, _) = ctx.unit(&tenant, auth.0, "updateCohort").await?;
        let row = cohorts::update(
            unit.tx(),
            cohort_id.0,
            name.as_ref().map(Title::as_str),
            maybe(&b.description).map(|d| d.map(String::as_str)),
        )
        .await?
        .ok_or_else(cohort_not_found)?;
        unit.emit(
            "cohort.updated",
            row.id,
            json!({ "id": row.id, "name": row.name }),
        );
        unit.commit().await?;
        Ok(CohortFound::Ok(Json(row.into())))
    }

    /// Remove a cohort (`enrollment:manage`); its members keep their
    /// enrollments.
    #[oai(
        path = "/cohorts/:cohort_id",
        method = "delete",
        operation_id = "deleteCohort"
    )]
    async fn delete(
        &self,
        ctx: Data<&Ctx>,
        tenant: Data<&Tenant>,
        auth: TenantBearer,
        cohort_id: Path<Uuid>,
    ) -> ApiResult<Removed> {
        let (mut unit, _) = ctx.unit(&tenant, auth.0, "deleteCohort").await?;
        if !cohorts::delete(unit.tx(), cohort_id.0).await? {
            return Err(cohort_not_found());
        }
        unit.emit("cohort.deleted", cohort_id.0, json!({ "id": cohort_id.0 }));
        unit.commit().await?;
        Ok(Removed::NoContent)
    }

    /// A cohort's members, by user id (`enrollment:manage`).
    #[oai(
        path = "/cohorts/:cohort_id/members",
        method = "get",
        operation_id = "listCohortMembers"
    )]
    async fn members(
        &self,
        ctx: Data<&Ctx>,
        tenant: Data<&Tenant>,
        auth: TenantBearer,
        cohort_id: Path<Uuid>,
        /// The `next_cursor` of the previous page.
        cursor: Query<Option<Uuid>>,
        /// Page size, 1–100 (default 20).
        #[oai(validator(minimum(value = "1"), maximum(value = "100")))]
        limit: Query<Option<i64>>,
    ) -> ApiResult<MembersListed> {
        let after = cursor.0;
        let limit = limit.0.unwrap_or(paging::DEFAULT_LIMIT);
        let mut read = ctx.reader(&tenant, auth.0, "listCohortMembers").await?;
        let tx = read.tx().await?;
        if cohorts::get(tx, cohort_id.0).await?.is_none() {
            return Err(cohort_not_found());
        }
        let rows = cohorts::members(tx, cohort_id.0, after, limit + 1).await?;
        read.finish().await?;
        let (rows, next_cursor) = paging::page(rows, limit, |r| r.user_id.to_string());
        Ok(MembersListed::Ok(Json(CohortMemberPage {
            items: rows.into_iter().map(Into::into).collect(),
            next_cursor,
        })))
    }

    /// Add users to a cohort by id or e-mail (`enrollment:manage`); each
    /// new member is enrolled in every published course of the cohort,
    /// and every entry gets its outcome.
    #[oai(
        path = "/cohorts/:cohort_id/members",
        method = "post",
        operation_id = "addCohortMembers"
    )]
    async fn add_members(
        &self,
        ctx: Data<&Ctx>,
        tenant: Data<&Tenant>,
        auth: TenantBearer,
        cohort_id: Path<Uuid>,
        body: Body<AddCohortMembers>,
    ) -> ApiResult<MembersDone> {
        let cohort = cohort_id.0;
        let (mut unit, _) = ctx.unit(&tenant, auth.0, "addCohortMembers").await?;
        lock(&mut unit, cohort).await?;
        let entries = resolve_users(&mut unit, body.0.users).await?;
        let active: Vec<Uuid> = entries
            .iter()
            .filter_map(|(_, e)| match e {
                Entry::Active(id) => Some(*id),
                _ => None,
            })
            .collect();
        let joined = cohorts::add_members(unit.tx(), cohort, &active).await?;
        // The cohort's published courses, each with its latest version.
        let mut courses = Vec::new();
        for c in cohorts::courses(unit.tx(), cohort).await? {
            let course = CourseId::from_uuid(c.course_id);
            if let Some(target) = learning::enrollable(unit.tx(), course).await?
                && target.published
            {
                courses.push((course, target.version));
            }
        }
        courses.sort_by_key(|(c, _)| c.as_uuid());
        // Enrollments in (user, course) order, the order every cohort
        // operation takes row locks in, so that two of them never deadlock.
        let mut newcomers: Vec<Uuid> = joined.clone();
        newcomers.sort();
        let mut made = std::collections::HashMap::new();
        for id in newcomers {
            let user = UserId::from_uuid(id);
            unit.emit(
                "cohort.member_added",
                cohort,
                json!({ "cohort_id": cohort, "user_id": user }),
            );
            let mut n = 0;
            for (course, version) in &courses {
                let (o, _) = enroll_one(
                    &mut unit,
                    user,
                    *course,
                    *version,
                    json!({ "cohort_id": cohort }),
                )
                .await?;
                if matches!(o, BulkOutcome::Enrolled | BulkOutcome::Restarted) {
                    n += 1;
                }
            }
            made.insert(id, n);
        }
        let mut rows = Vec::with_capacity(entries.len());
        for (input, entry) in entries {
            let (outcome, user_id) = match entry {
                Entry::Unknown => (MemberOutcome::UnknownUser, None),
                Entry::Duplicate(id) => (MemberOutcome::Duplicate, Some(id)),
                Entry::Inactive(id) => (MemberOutcome::InactiveUser, Some(id)),
                Entry::Active(id) if joined.contains(&id) => (MemberOutcome::Added, Some(id)),
                Entry::Active(id) => (MemberOutcome::AlreadyMember, Some(id)),
            };
            let enrolled = match (outcome, user_id) {
                (MemberOutcome::Added, Some(id)) => made.get(&id).copied().unwrap_or(0),
                _ => 0,
            };
            rows.push(MemberResult {
                input,
                outcome,
                user_id,
                enrolled,
            });
        }
        let added = joined.len() as i64;
        let enrolled = made.values().sum();
        unit.commit().await?;
        Ok(MembersDone::Ok(Json(MembersAdded {
            rows,
            added,
            enrolled,
        })))
    }

    /// Remove a member (`enrollment:manage`); their enrollments stay.
    #[oai(
        path = "/cohorts/:cohort_id/members/:user_id",
        method = "delete",
        operation_id = "removeCohortMember"
    )]
    async fn remove_member(
        &self,
        ctx: Data<&Ctx>,
        tenant: Data<&Tenant>,
        auth: TenantBearer,
        cohort_id: Path<Uuid>,
        user_id: Path<Uuid>,
    ) -> ApiResult<Removed> {
        let (mut unit, _) = ctx.unit(&tenant, auth.0, "removeCohortMember").await?;
        lock(&mut unit, cohort_id.0).await?;
        if !cohorts::remove_member(unit.tx(), cohort_id.0, user_id.0).await? {
            return Err(ApiError::not_found(
                ErrorCode::MemberNotFound,
                "this user is not a member of the cohort",
            ));
        }
        unit.emit(
            "cohort.member_removed",
            cohort_id.0,
            json!({ "cohort_id": cohort_id.0, "user_id": user_id.0 }),
        );
        unit.commit().await?;
        Ok(Removed::NoContent)
    }

    /// The courses of a cohort (`enrollment:manage`).
    #[oai(
        path = "/cohorts/:cohort_id/courses",
        method = "get",
        operation_id = "listCohortCourses"
    )]
    async fn courses(
        &self,
        ctx: Data<&Ctx>,
        tenant: Data<&Tenant>,
        auth: TenantBearer,
        cohort_id: Path<Uuid>,
    ) -> ApiResult<CohortCoursesListed> {
        let mut read = ctx.reader(&tenant, auth.0, "listCohortCourses").await?;
        let tx = read.tx().await?;
        if cohorts::get(tx, cohort_id.0).await?.is_none() {
            return Err(cohort_not_found());
        }
        let rows = cohorts::courses(tx, cohort_id.0).await?;
        read.finish().await?;
        Ok(CohortCoursesListed::Ok(Json(CohortCourseList {
            items: rows.into_iter().map(Into::into).collect(),
        })))
    }

    /// Enroll a cohort in a published course (`enrollment:manage`): every
    /// active member is enrolled, with their outcome, and members added
    /// later are enrolled too. Linking a course again enrolls the members
    /// who are not enrolled yet (200). A draft → 409 `course_not_published`.
    #[oai(
        path = "/cohorts/:cohort_id/courses",
        method = "post",
        operation_id = "addCohortCourse"
    )]
    async fn add_course(
        &self,
        ctx: Data<&Ctx>,
        tenant: Data<&Tenant>,
        auth: TenantBearer,
        cohort_id: Path<Uuid>,
        body: Body<AddCohortCourse>,
    ) -> ApiResult<CohortCourseLinked> {
        let (cohort, course) = (cohort_id.0, CourseId::from_uuid(body.0.course_id));
        let (mut unit, actor) = ctx.unit(&tenant, auth.0, "addCohortCourse").await?;
        lock(&mut unit, cohort).await?;
        let version = published_version(&mut unit, &actor, course).await?;
        let linked = cohorts::add_course(unit.tx(), cohort, course).await?;
        if linked {
            unit.emit(
                "cohort.course_added",
                cohort,
                json!({ "cohort_id": cohort, "course_id": course }),
            );
        }
        let mut rows = Vec::new();
        let mut enrolled = 0;
        for user in cohorts::active_member_ids(unit.tx(), cohort).await? {
            let (outcome, e) = enroll_one(
                &mut unit,
                user,
                course,
                version,
                json!({ "cohort_id": cohort }),
            )
            .await?;
            if matches!(outcome, BulkOutcome::Enrolled | BulkOutcome::Restarted) {
                enrolled += 1;
            }
            rows.push(BulkRow {
                input: user.to_string(),
                outcome,
                user_id: Some(user.as_uuid()),
                enrollment_id: Some(e.as_uuid()),
            });
        }
        unit.commit().await?;
        let result = Json(BulkResult { rows, enrolled });
        Ok(if linked {
            CohortCourseLinked::Created(result)
        } else {
            CohortCourseLinked::Ok(result)
        })
    }

    /// Stop enrolling the cohort's new members in a course
    /// (`enrollment:manage`); existing enrollments stay.
    #[oai(
        path = "/cohorts/:cohort_id/courses/:course_id",
        method = "delete",
        operation_id = "removeCohortCourse"
    )]
    async fn remove_course(
        &self,
        ctx: Data<&Ctx>,
        tenant: Data<&Tenant>,
        auth: TenantBearer,
        cohort_id: Path<Uuid>,
        course_id: Path<Uuid>,
    ) -> ApiResult<Removed> {
        let (mut unit, _) = ctx.unit(&tenant, auth.0, "removeCohortCourse").await?;
        lock(&mut unit, cohort_id.0).await?;
        let course = CourseId::from_uuid(course_id.0);
        if !cohorts::remove_course(unit.tx(), cohort_id.0, course).await? {
            return Err(ApiError::not_found(
                ErrorCode::CourseNotLinked,
                "the cohort is not enrolled in this course",
            ));
        }
        unit.emit(
            "cohort.course_removed",
            cohort_id.0,
            json!({ "cohort_id": cohort_id.0, "course_id": course }),
        );
        unit.commit().await?;
        Ok(Removed::NoContent)
    }
}
