//! The platform API, served under `/platform/v1` on the platform host only.

mod admins;
mod auth;
mod organizations;

use lms_db::queries::platform_admins;
use lms_domain::PlatformAdminId;
use poem::Request;
use poem_openapi::auth::Bearer;
use poem_openapi::{OpenApiService, SecurityScheme, Tags};

use crate::auth::PLATFORM_AUDIENCE;
use crate::context::Ctx;
use crate::error::{ApiError, ApiResult};

/// Areas of the platform API.
#[derive(Tags)]
pub enum PlatformTags {
    /// Logging in as a platform admin.
    Auth,
    /// Platform admins.
    Admins,
    /// Provisioning and running tenants.
    Organizations,
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
    let claims = ctx
        .tokens
        .verify(&bearer.token, PLATFORM_AUDIENCE)
        .ok_or_else(ApiError::unauthorized)?;
    if claims.org.is_some() {
        return Err(ApiError::unauthorized().into());
    }
    Ok(PlatformCaller {
        admin: PlatformAdminId::from_uuid(claims.sub),
        session: claims.sid,
    })
}

/// Refuses a deactivated (or deleted) platform admin, in the request's own
/// transaction.
async fn require_active(tx: &mut lms_db::PlatformTx, who: PlatformCaller) -> ApiResult<()> {
    if platform_admins::is_active(tx, who.admin, who.session).await? {
        tracing::Span::current().record("user_id", tracing::field::display(who.admin));
        Ok(())
    } else {
        Err(ApiError::unauthorized())
    }
}

/// The OpenAPI service of the platform API.
pub fn service() -> OpenApiService<
    (
        auth::AuthApi,
        admins::AdminsApi,
        organizations::OrganizationsApi,
    ),
    (),
> {
    OpenApiService::new(
        (
            auth::AuthApi,
            admins::AdminsApi,
            organizations::OrganizationsApi,
        ),
        "Tenantry LMS platform API",
        env!("CARGO_PKG_VERSION"),
    )
    .description("Operators provision and run tenants here. Served on the platform host only.")
    .server("/platform/v1")
}
