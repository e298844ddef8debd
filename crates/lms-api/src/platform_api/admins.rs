//! Platform admins.

use crate::contract::Body;
use chrono::{DateTime, Utc};
use lms_db::queries::platform_admins::{self, PlatformAdminRow};
use lms_db::queries::sessions;
use lms_domain::{Email, PlatformAdminId, Title};
use poem::web::Data;
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Enum, Object, OpenApi};
use serde_json::json;
use uuid::Uuid;

use super::{PlatformBearer, PlatformTags, authorize};
use crate::auth::{check_new_password, hash_password_async};
use crate::context::Ctx;
use crate::error::{ApiError, ApiResult, ErrorCode};

/// What a platform admin may do.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[oai(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PlatformRole {
    /// Everything.
    Operator,
    /// Read only: organizations, their domains, admins, the audit trail.
    Support,
}

impl PlatformRole {
    fn as_str(self) -> &'static str {
        match self {
            PlatformRole::Operator => "OPERATOR",
            PlatformRole::Support => "SUPPORT",
        }
    }
}

/// A platform admin.
#[derive(Object, Debug)]
pub struct PlatformAdmin {
    /// Id.
    pub id: Uuid,
    /// Login e-mail.
    pub email: String,
    /// Display name.
    pub display_name: String,
    /// Whether they may log in.
    pub is_active: bool,
    /// What they may do.
    pub role: PlatformRole,
    /// Creation time.
    pub created_at: DateTime<Utc>,
}

impl From<PlatformAdminRow> for PlatformAdmin {
    fn from(r: PlatformAdminRow) -> Self {
        Self {
            id: r.id,
            email: r.email,
            display_name: r.display_name,
            is_active: r.is_active,
            role: if r.role == "SUPPORT" {
                PlatformRole::Support
            } else {
                PlatformRole::Operator
            },
            created_at: r.created_at,
        }
    }
}

/// A new platform admin.
#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
#[oai(deny_unknown_fields)]
pub struct CreatePlatformAdmin {
    /// Login e-mail.
    #[oai(validator(max_length = 320))]
    pub email: String,
    /// Display name.
    #[oai(validator(max_length = 200))]
    pub display_name: String,
    /// Password, 10–256 characters.
    #[oai(validator(max_length = 256))]
    pub password: String,
    /// What they may do (default `OPERATOR`).
    pub role: Option<PlatformRole>,
}

/// Every platform admin.
#[derive(Object, Debug)]
pub struct PlatformAdminList {
    /// Oldest first.
    pub items: Vec<PlatformAdmin>,
}

#[derive(ApiResponse)]
enum AdminCreated {
    /// Created.
    #[oai(status = 201)]
    Created(Json<PlatformAdmin>),
}

#[derive(ApiResponse)]
enum AdminFound {
    /// The admin.
    #[oai(status = 200)]
    Ok(Json<PlatformAdmin>),
}

#[derive(ApiResponse)]
enum AdminsListed {
    /// The admins.
    #[oai(status = 200)]
    Ok(Json<PlatformAdminList>),
}

/// Platform admins.
pub struct AdminsApi;

#[OpenApi(tag = "PlatformTags::Admins")]
impl AdminsApi {
    /// List platform admins.
    #[oai(path = "/admins", method = "get", operation_id = "listPlatformAdmins")]
    async fn list(&self, ctx: Data<&Ctx>, auth: PlatformBearer) -> ApiResult<AdminsListed> {
        let mut tx = ctx.db.platform().await?;
        authorize(&mut tx, auth.0, "listPlatformAdmins").await?;
        let rows = platform_admins::list(&mut tx).await?;
        tx.commit().await?;
        Ok(AdminsListed::Ok(Json(PlatformAdminList {
            items: rows.into_iter().map(Into::into).collect(),
        })))
    }

    /// Create a platform admin.
    #[oai(
        path = "/admins",
        method = "post",
        operation_id = "createPlatformAdmin"
    )]
    async fn create(
        &self,
        ctx: Data<&Ctx>,
        auth: PlatformBearer,
        body: Body<CreatePlatformAdmin>,
    ) -> ApiResult<AdminCreated> {
        let b = body.0;
        let email = Email::parse("email", &b.email)?;
        let name = Title::parse("display_name", &b.display_name)?;
        check_new_password("password", &b.password)?;
        let role = b.role.unwrap_or(PlatformRole::Operator);
        {
            let mut tx = ctx.db.platform().await?;
            authorize(&mut tx, auth.0, "createPlatformAdmin").await?;
            tx.commit().await?;
        }
        let hash = hash_password_async(b.password)
            .await
            .map_err(ApiError::internal)?;
        let mut unit = ctx.platform_unit().await?;
        authorize(unit.tx(), auth.0, "createPlatformAdmin").await?;
        let id = PlatformAdminId::new();
        platform_admins::create(
            unit.tx(),
            id,
            email.as_str(),
            name.as_str(),
            &hash,
            role.as_str(),
        )
        .await?;
        let row = platform_admins::get(unit.tx(), id)
            .await?
            .ok_or_else(|| ApiError::internal("admin vanished"))?;
        unit.audit(
            auth.0.admin,
            "platform_admin.created",
            None,
            json!({ "admin_id": id, "email": row.email, "role": role.as_str() }),
        )
        .await?;
        unit.commit().await?;
        Ok(AdminCreated::Created(Json(row.into())))
    }

    /// Deactivate a platform admin: they cannot log in and their sessions
    /// end at once. You cannot deactivate yourself, nor the last active admin.
    #[oai(
        path = "/admins/:admin_id/deactivate",
        method = "post",
        operation_id = "deactivatePlatformAdmin"
    )]
    async fn deactivate(
        &self,
        ctx: Data<&Ctx>,
        auth: PlatformBearer,
        admin_id: Path<Uuid>,
    ) -> ApiResult<AdminFound> {
        let mut unit = ctx.platform_unit().await?;
        let tx = unit.tx();
        authorize(tx, auth.0, "deactivatePlatformAdmin").await?;
        let id = PlatformAdminId::from_uuid(admin_id.0);
        if id == auth.0.admin {
            return Err(ApiError::conflict(
                ErrorCode::CannotDeactivateSelf,
                "you cannot deactivate yourself",
            ));
        }
        if !platform_admins::set_active(tx, id, false).await? {
            return Err(ApiError::not_found(
                ErrorCode::AdminNotFound,
                "no such platform admin",
            ));
        }
        sessions::revoke_all_platform(tx, id).await?;
        let row = platform_admins::get(tx, id)
            .await?
            .ok_or_else(|| ApiError::internal("admin vanished"))?;
        unit.audit(
            auth.0.admin,
            "platform_admin.deactivated",
            None,
            json!({ "admin_id": id }),
        )
        .await?;
        unit.commit().await?;
        Ok(AdminFound::Ok(Json(row.into())))
    }
}
