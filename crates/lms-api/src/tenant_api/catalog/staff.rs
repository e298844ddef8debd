//! Course staff: owners, instructors and teaching assistants of a course.

use crate::contract::Body;
use chrono::{DateTime, Utc};
use lms_db::queries::{courses, staff, users};
use lms_domain::{CourseId, Permission, UserId};
use poem::web::Data;
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Enum, Object, OpenApi};
use serde_json::json;
use uuid::Uuid;

use crate::context::{Actor, Ctx};
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::tenancy::Tenant;
use crate::tenant_api::{TenantBearer, TenantTags};
use crate::unit::{Unit, course_not_found};

/// A staff role on one course.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[oai(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum StaffRole {
    /// Changes the course and manages its staff.
    Owner,
    /// Changes the course and its content.
    Instructor,
    /// Follows the course's learners; changes nothing.
    Assistant,
}

impl StaffRole {
    fn label(self) -> &'static str {
        match self {
            Self::Owner => "OWNER",
            Self::Instructor => "INSTRUCTOR",
            Self::Assistant => "ASSISTANT",
        }
    }

    fn of(label: &str) -> Self {
        match label {
            "OWNER" => Self::Owner,
            "INSTRUCTOR" => Self::Instructor,
            _ => Self::Assistant,
        }
    }
}

/// A member of a course's staff.
#[derive(Object, Debug)]
pub struct StaffMember {
    /// The user.
    pub user_id: Uuid,
    /// Their name.
    pub name: String,
    /// Their e-mail.
    pub email: String,
    /// Their role on the course.
    pub role: StaffRole,
    /// Since.
    pub added_at: DateTime<Utc>,
}

/// A course's staff.
#[derive(Object, Debug)]
pub struct StaffList {
    /// Owners first.
    pub items: Vec<StaffMember>,
}

/// A role to give.
#[derive(Object, Debug)]
#[oai(deny_unknown_fields)]
pub struct SetStaff {
    /// The role on the course.
    pub role: StaffRole,
}

fn staff_list(rows: Vec<staff::StaffRow>) -> StaffList {
    StaffList {
        items: rows
            .into_iter()
            .map(|r| StaffMember {
                user_id: r.user_id,
                name: r.name,
                email: r.email,
                role: StaffRole::of(&r.role),
                added_at: r.added_at,
            })
            .collect(),
    }
}

#[derive(ApiResponse)]
enum StaffListed {
    /// The staff.
    #[oai(status = 200)]
    Ok(Json<StaffList>),
}

#[derive(ApiResponse)]
enum StaffRemoved {
    /// Removed.
    #[oai(status = 204)]
    NoContent,
}

/// Only the course's owners (or holders of `course:write:any`) change its
/// staff; the course keeps at least one owner.
async fn staff_change(
    unit: &mut Unit<'_>,
    actor: &Actor,
    course: CourseId,
    user: UserId,
    to: Option<StaffRole>,
) -> ApiResult<()> {
    if !courses::exists(unit.tx(), course).await? {
        return Err(course_not_found());
    }
    if !actor.can(Permission::CourseWriteAny)
        && staff::role_of(unit.tx(), course, actor.user)
            .await?
            .as_deref()
            != Some("OWNER")
    {
        return Err(ApiError::forbidden(
            ErrorCode::NotCourseOwner,
            "only the course's owners (or holders of `course:write:any`) change its staff",
        ));
    }
    staff::lock(unit.tx(), course).await?;
    let current = staff::role_of(unit.tx(), course, user).await?;
    if current.as_deref() == Some("OWNER")
        && to != Some(StaffRole::Owner)
        && staff::owners(unit.tx(), course).await? <= 1
    {
        return Err(ApiError::conflict(
            ErrorCode::LastOwner,
            "a course keeps at least one owner; name another first",
        ));
    }
    Ok(())
}

/// Who teaches a course.
pub struct StaffApi;

#[OpenApi(tag = "TenantTags::Courses")]
impl StaffApi {
    /// The staff of a course (`course:read`).
    #[oai(
        path = "/courses/:course_id/staff",
        method = "get",
        operation_id = "listCourseStaff"
    )]
    async fn list(
        &self,
        ctx: Data<&Ctx>,
        tenant: Data<&Tenant>,
        auth: TenantBearer,
        course_id: Path<Uuid>,
    ) -> ApiResult<StaffListed> {
        let course = CourseId::from_uuid(course_id.0);
        let mut read = ctx.reader(&tenant, auth.0, "listCourseStaff").await?;
        let tx = read.tx().await?;
        if !courses::exists(tx, course).await? {
            return Err(course_not_found());
        }
        let rows = staff::list(tx, course).await?;
        read.finish().await?;
        Ok(StaffListed::Ok(Json(staff_list(rows))))
    }

    /// Give a user a role on a course, or change it (the course's owners,
    /// or `course:write:any`): 403 `not_course_owner` otherwise; 409
    /// `last_owner` when this would leave the course without an owner.
    #[oai(
        path = "/courses/:course_id/staff/:user_id",
        method = "put",
        operation_id = "setCourseStaff"
    )]
    async fn set(
        &self,
        ctx: Data<&Ctx>,
        tenant: Data<&Tenant>,
        auth: TenantBearer,
        course_id: Path<Uuid>,
        user_id: Path<Uuid>,
        body: Body<SetStaff>,
    ) -> ApiResult<StaffListed> {
        let (course, user) = (
            CourseId::from_uuid(course_id.0),
            UserId::from_uuid(user_id.0),
        );
        let (mut unit, actor) = ctx.unit(&tenant, auth.0, "setCourseStaff").await?;
        staff_change(&mut unit, &actor, course, user, Some(body.0.role)).await?;
        match users::get(unit.tx(), user).await? {
            Some(u) if u.is_active => {}
            _ => {
                return Err(ApiError::not_found(
                    ErrorCode::UserNotFound,
                    "no active user with this id",
                ));
            }
        }
        staff::set(unit.tx(), course, user, body.0.role.label()).await?;
        unit.emit(
            "course.staff_changed",
            course,
            json!({ "course_id": course, "user_id": user, "role": body.0.role.label() }),
        );
        let rows = staff::list(unit.tx(), course).await?;
        unit.commit().await?;
        Ok(StaffListed::Ok(Json(staff_list(rows))))
    }

    /// Take a user off a course's staff (its owners, or
    /// `course:write:any`); 409 `last_owner` for its only owner.
    #[oai(
        path = "/courses/:course_id/staff/:user_id",
        method = "delete",
        operation_id = "removeCourseStaff"
    )]
    async fn remove(
        &self,
        ctx: Data<&Ctx>,
        tenant: Data<&Tenant>,
        auth: TenantBearer,
        course_id: Path<Uuid>,
        user_id: Path<Uuid>,
    ) -> ApiResult<StaffRemoved> {
        let (course, user) = (
            CourseId::from_uuid(course_id.0),
            UserId::from_uuid(user_id.0),
        );
        let (mut unit, actor) = ctx.unit(&tenant, auth.0, "removeCourseStaff").await?;
        staff_change(&mut unit, &actor, course, user, None).await?;
        if !staff::remove(unit.tx(), course, user).await? {
            return Err(ApiError::not_found(
                ErrorCode::StaffNotFound,
                "this user is not on the course's staff",
            ));
        }
        unit.emit(
            "course.staff_changed",
            course,
            json!({ "course_id": course, "user_id": user, "role": null }),
        );
        unit.commit().await?;
        Ok(StaffRemoved::NoContent)
    }
}
