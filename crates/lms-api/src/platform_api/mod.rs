//! The platform API, served under `/platform/v1` on the platform host only.

mod admins;
mod audit;
mod auth;
mod monitoring;
mod organizations;

use lms_db::queries::platform_admins;
use lms_domain::PlatformAdminId;
use poem::Request;
use poem_openapi::auth::Bearer;
use poem_openapi::{OpenApiService, SecurityScheme, Tags};

use crate::access::{Access, platform_access};
use crate::auth::PLATFORM_AUDIENCE;
use crate::context::Ctx;
use crate::error::{ApiError, ApiResult, ErrorCode};

/// Areas of the platform API.
#[derive(Tags)]
pub enum PlatformTags {
    /// Logging in as a platform admin.
    Auth,
    /// Platform admins.
    Admins,
    /// Provisioning and running tenants.
    Organizations,
    /// What platform admins did.
    Audit,
    /// The database server, for operators.
    Monitoring,
}

/// A platform access token from `POST /platform/v1/auth/token`.
#[derive(SecurityScheme)]
#[oai(ty = "bearer", bearer_format = "JWT", checker = "check_platform_token")]
pub struct PlatformBearer(pub PlatformCaller);

/// Who a verified platform token says is calling.
#[derive(Debug, Clone, Copy)]
pub struct PlatformCaller {
    /// The platform admin.
    pub admin: PlatformAdminId,
    /// Their login session.
    pub session: uuid::Uuid,
}

async fn check_platform_token(req: &Request, bearer: Bearer) -> poem::Result<PlatformCaller> {
    let ctx = req
        .data::<Ctx>()
        .ok_or_else(|| ApiError::internal("no context"))?;
    let caller = platform_caller(ctx, &bearer.token)?;
    crate::app::Seen::user(req, caller.admin.as_uuid());
    Ok(caller)
}

/// The platform admin a platform access token names, if it is valid.
fn platform_caller(ctx: &Ctx, token: &str) -> ApiResult<PlatformCaller> {
    let claims = ctx
        .tokens
        .verify(token, PLATFORM_AUDIENCE)
        .ok_or_else(ApiError::unauthorized)?;
    if claims.org.is_some() {
        return Err(ApiError::unauthorized());
    }
    Ok(PlatformCaller {
        admin: PlatformAdminId::from_uuid(claims.sub),
        session: claims.sid,
    })
}

/// When a platform operation refused its input (400, 422), whether the
/// caller may call it at all: a `SUPPORT` admin learns that an operation is
/// for operators, not its rules for its input.
pub(crate) async fn role_before_input(
    ctx: &Ctx,
    token: Option<&str>,
    operation_id: &'static str,
) -> Option<ApiError> {
    if platform_access(operation_id) != Some(crate::access::Access::Operator) {
        return None;
    }
    let Some(token) = token else {
        return Some(ApiError::unauthorized());
    };
    let who = match platform_caller(ctx, token) {
        Ok(who) => who,
        Err(e) => return Some(e),
    };
    let checked = async {
        let mut tx = ctx.db.platform().await?;
        authorize(&mut tx, who, operation_id).await?;
        tx.commit().await?;
        Ok::<_, ApiError>(())
    };
    checked.await.err()
}

/// Authorizes the caller for platform operation `op`, in the request's own
/// transaction: a deactivated admin or an ended session gets 401, a
/// `SUPPORT` admin on an operation that changes anything 403
/// `platform_role_required`.
async fn authorize(
    tx: &mut lms_db::PlatformTx,
    who: PlatformCaller,
    op: &'static str,
) -> ApiResult<()> {
    let Some(role) = platform_admins::active_role(tx, who.admin, who.session).await? else {
        return Err(ApiError::unauthorized());
    };
    match platform_access(op) {
        Some(Access::Operator) if role != "OPERATOR" => Err(ApiError::forbidden(
            ErrorCode::PlatformRoleRequired,
            "this operation needs the OPERATOR platform role",
        )),
        Some(_) => Ok(()),
        None => Err(ApiError::internal(format!("{op}: no platform access rule"))),
    }
}

/// The OpenAPI service of the platform API.
pub fn service() -> OpenApiService<
    (
        auth::AuthApi,
        admins::AdminsApi,
        organizations::OrganizationsApi,
        audit::PlatformAuditApi,
        monitoring::MonitoringApi,
    ),
    (),
> {
    OpenApiService::new(
        (
            auth::AuthApi,
            admins::AdminsApi,
            organizations::OrganizationsApi,
            audit::PlatformAuditApi,
            monitoring::MonitoringApi,
        ),
        "Tenantry LMS platform API",
        env!("CARGO_PKG_VERSION"),
    )
    .description("Operators provision and run tenants here. Served on the platform host only.")
    .server("/platform/v1")
}
