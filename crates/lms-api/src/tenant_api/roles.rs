//! Roles and their permissions.

use crate::contract::Body;
use chrono::{DateTime, Utc};
use lms_db::queries::roles::{self, RoleRow};
use lms_domain::{ADMIN_ROLE_NAME, Permission, RoleId};
use poem::web::Data;
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::types::MaybeUndefined;
use poem_openapi::{ApiResponse, Object, OpenApi};
use serde_json::{Value, json};
use uuid::Uuid;

use super::users::ensure_a_role_manager_remains;
use super::{TenantBearer, TenantTags};
use crate::context::Ctx;
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::paging::maybe;
use crate::tenancy::Tenant;

/// A role.
#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct Role {
    /// Id.
    pub id: Uuid,
    /// Name, unique in the organization.
    pub name: String,
    /// What it is for.
    pub description: Option<String>,
    /// Permission strings, e.g. `course:write`.
    pub permissions: Vec<String>,
    /// One of the default roles every organization has (`learner`,
    /// `instructor`, `admin`): cannot be renamed or deleted, and `admin`'s
    /// permissions cannot be changed.
    pub is_system: bool,
    /// How many users hold it.
    pub user_count: i64,
    /// Version, moved by every change; send it back (as `If-Match` or
    /// `version`) to refuse a lost update.
    pub version: i32,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

/// What a role event carries.
fn role_payload(r: &RoleRow) -> Value {
    json!({ "id": r.id, "name": r.name, "permissions": r.permissions.0 })
}

impl From<RoleRow> for Role {
    fn from(r: RoleRow) -> Self {
        Self {
            id: r.id,
            name: r.name,
            description: r.description,
            permissions: r.permissions.0,
            is_system: r.is_system,
            user_count: r.user_count,
            version: r.version,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// A new custom role.
#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
#[oai(deny_unknown_fields)]
pub struct CreateRole {
    /// Name, 1–64 characters, unique in the organization.
    #[oai(validator(max_length = 64))]
    pub name: String,
    /// What it is for.
    #[oai(validator(max_length = 500))]
    pub description: Option<String>,
    /// Permission strings.
    #[oai(validator(max_items = 50))]
    pub permissions: Vec<String>,
}

/// Changes to a role.
#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
#[oai(deny_unknown_fields)]
pub struct UpdateRole {
    /// New name.
    #[oai(validator(max_length = 64))]
    pub name: Option<String>,
    /// New description, or `null` to remove it.
    #[oai(validator(max_length = 500))]
    #[oai(nullable)]
    pub description: MaybeUndefined<String>,
    /// New permission list (replaces the old one).
    #[oai(validator(max_items = 50))]
    pub permissions: Option<Vec<String>>,
    /// The version this change is based on; stale → 409 `version_conflict`.
    pub version: Option<i32>,
}

/// The roles of the organization.
#[derive(Object, Debug)]
pub struct RoleList {
    /// By name.
    pub items: Vec<Role>,
    /// Every permission string there is.
    pub known_permissions: Vec<String>,
}

#[derive(ApiResponse)]
enum RoleCreated {
    /// Created.
    #[oai(status = 201)]
    Created(Json<Role>),
}

#[derive(ApiResponse)]
enum RoleFound {
    /// The role., its version as the entity tag.
    #[oai(status = 200)]
    Ok(Json<Role>, #[oai(header = "ETag")] String),
}

impl RoleFound {
    fn of(v: Role) -> Self {
        let tag = crate::concurrency::etag(v.version);
        Self::Ok(Json(v), tag)
    }
}

#[derive(ApiResponse)]
enum RolesListed {
    /// The roles.
    #[oai(status = 200)]
    Ok(Json<RoleList>),
}

#[derive(ApiResponse)]
enum RoleDeleted {
    /// Deleted; its holders lost it.
    #[oai(status = 204)]
    NoContent,
}

fn role_not_found() -> ApiError {
    ApiError::not_found(ErrorCode::RoleNotFound, "no such role")
}

fn parse_name(raw: &str) -> Result<String, lms_domain::InputError> {
    let name = raw.trim();
    if name.is_empty() || name.chars().count() > 64 || name.chars().any(char::is_control) {
        return Err(lms_domain::InputError::new(
            "name",
            "must be 1-64 characters",
        ));
    }
    Ok(name.to_owned())
}

/// Permission strings, checked against the known ones and deduplicated.
fn parse_permissions(raw: &[String]) -> ApiResult<Vec<&'static str>> {
    let mut out: Vec<&'static str> = Vec::with_capacity(raw.len());
    for p in raw {
        let perm: Permission = p.parse().map_err(|_| {
            ApiError::unprocessable(
                ErrorCode::UnknownPermission,
                "a permission in `permissions` does not exist",
            )
        })?;
        if !out.contains(&perm.as_str()) {
            out.push(perm.as_str());
        }
    }
    out.sort_unstable();
    Ok(out)
}

/// Roles and their permissions.
pub struct RolesApi;

#[OpenApi(tag = "TenantTags::Roles")]
impl RolesApi {
    /// List the organization's roles and the permissions there are.
    #[oai(path = "/roles", method = "get", operation_id = "listRoles")]
    async fn list(
        &self,
        ctx: Data<&Ctx>,
        tenant: Data<&Tenant>,
        auth: TenantBearer,
    ) -> ApiResult<RolesListed> {
        let mut read = ctx.reader(&tenant, auth.0, "listRoles").await?;
        let tx = read.tx().await?;
        let rows = roles::list(tx).await?;
        read.finish().await?;
        Ok(RolesListed::Ok(Json(RoleList {
            items: rows.into_iter().map(Into::into).collect(),
            known_permissions: Permission::ALL
                .iter()
                .map(|p| p.as_str().to_owned())
                .collect(),
        })))
    }

    /// Create a custom role.
    #[oai(path = "/roles", method = "post", operation_id = "createRole")]
    async fn create(
        &self,
        ctx: Data<&Ctx>,
        tenant: Data<&Tenant>,
        auth: TenantBearer,
        body: Body<CreateRole>,
    ) -> ApiResult<RoleCreated> {
        let b = body.0;
        let name = parse_name(&b.name)?;
        let permissions = parse_permissions(&b.permissions)?;
        let (mut unit, actor) = ctx.unit(&tenant, auth.0, "createRole").await?;
        let tx = unit.tx();
        actor.require_all(
            &permissions
                .iter()
                .map(|p| p.to_string())
                .collect::<Vec<_>>(),
        )?;
        let id = RoleId::new();
        roles::create(tx, id, &name, b.description.as_deref(), &permissions).await?;
        let row = roles::get(tx, id).await?.ok_or_else(role_not_found)?;
        unit.emit("role.created", id, role_payload(&row));
        unit.commit().await?;
        Ok(RoleCreated::Created(Json(row.into())))
    }

    /// Change a role. Default roles keep their names, and `admin` keeps
    /// every permission.
    #[oai(
        path = "/roles/:role_id",
        method = "patch",
        operation_id = "updateRole"
    )]
    async fn update(
        &self,
        ctx: Data<&Ctx>,
        tenant: Data<&Tenant>,
        auth: TenantBearer,
        role_id: Path<Uuid>,
        /// The entity tag (version) this change is based on; stale → 412.
        #[oai(name = "If-Match")]
        if_match: poem_openapi::param::Header<Option<String>>,
        body: Body<UpdateRole>,
    ) -> ApiResult<RoleFound> {
        let b = body.0;
        let based_on = crate::concurrency::Precondition::new(if_match.0.as_deref(), b.version);
        let name = b.name.as_deref().map(parse_name).transpose()?;
        let permissions = b
            .permissions
            .as_deref()
            .map(parse_permissions)
            .transpose()?;
        let (mut unit, actor) = ctx.unit(&tenant, auth.0, "updateRole").await?;
        let tx = unit.tx();
        if let Some(p) = &permissions {
            actor.require_all(&p.iter().map(|p| p.to_string()).collect::<Vec<_>>())?;
        }
        let id = RoleId::from_uuid(role_id.0);
        roles::lock_assignments(tx).await?;
        let current = roles::get_for_update(tx, id)
            .await?
            .ok_or_else(role_not_found)?;
        based_on.check(current.version)?;
        if current.is_system && name.as_deref().is_some_and(|n| n != current.name) {
            return Err(ApiError::conflict(
                ErrorCode::SystemRoleLocked,
                "default roles cannot be renamed",
            ));
        }
        if current.name == ADMIN_ROLE_NAME && current.is_system && permissions.is_some() {
            return Err(ApiError::conflict(
                ErrorCode::SystemRoleLocked,
                "the admin role keeps every permission",
            ));
        }
        roles::update(
            tx,
            id,
            name.as_deref(),
            maybe(&b.description).map(|d| d.map(String::as_str)),
            permissions.as_deref(),
        )
        .await?;
        ensure_a_role_manager_remains(tx).await?;
        let row = roles::get(tx, id).await?.ok_or_else(role_not_found)?;
        unit.roles_changed();
        unit.emit("role.updated", id, role_payload(&row));
        unit.commit().await?;
        Ok(RoleFound::of(row.into()))
    }

    /// Delete a custom role; its holders lose it. Default roles cannot be
    /// deleted.
    #[oai(
        path = "/roles/:role_id",
        method = "delete",
        operation_id = "deleteRole"
    )]
    async fn delete(
        &self,
        ctx: Data<&Ctx>,
        tenant: Data<&Tenant>,
        auth: TenantBearer,
        role_id: Path<Uuid>,
    ) -> ApiResult<RoleDeleted> {
        let (mut unit, _) = ctx.unit(&tenant, auth.0, "deleteRole").await?;
        let tx = unit.tx();
        let id = RoleId::from_uuid(role_id.0);
        roles::lock_assignments(tx).await?;
        let current = roles::get_for_update(tx, id)
            .await?
            .ok_or_else(role_not_found)?;
        if current.is_system {
            return Err(ApiError::conflict(
                ErrorCode::SystemRoleLocked,
                "default roles cannot be deleted",
            ));
        }
        roles::delete(tx, id).await?;
        ensure_a_role_manager_remains(tx).await?;
        unit.roles_changed();
        unit.emit("role.deleted", id, role_payload(&current));
        unit.commit().await?;
        Ok(RoleDeleted::NoContent)
    }
}
