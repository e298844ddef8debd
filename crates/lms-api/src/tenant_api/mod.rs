//! The tenant API, served under `/api/v1` on tenant hosts.

mod audit;
mod auth;
mod catalog;
mod cohorts;
mod events;
mod learning;
pub(crate) mod me;
mod organization;
mod reviews;
mod roles;
mod users;

pub use catalog::typed_detail;
pub use learning::SESSION_IDLE;

use lms_domain::UserId;
use poem::Request;
use poem_openapi::auth::Bearer;
use poem_openapi::{OpenApiService, SecurityScheme, Tags};

use crate::auth::TENANT_AUDIENCE;
use crate::context::{Ctx, TenantCaller};
use crate::error::ApiError;
use crate::tenancy::Tenant;

/// Areas of the tenant API.
#[derive(Tags)]
pub enum TenantTags {
    /// Logging in and out, tokens, sign-up.
    Auth,
    /// The caller's own account.
    Me,
    /// The organization and its settings.
    Organization,
    /// Users of the organization.
    Users,
    /// Roles and permissions.
    Roles,
    /// Courses: the catalog, authoring, publishing.
    Courses,
    /// Lessons and sections.
    Content,
    /// Categories and tags.
    Taxonomy,
    /// Enrollments, progress, certificates.
    Learning,
    /// The organization's event feed.
    Events,
}

/// A tenant access token from `POST /api/v1/auth/token`.
#[derive(SecurityScheme)]
#[oai(ty = "bearer", bearer_format = "JWT", checker = "check_tenant_token")]
pub struct TenantBearer(pub TenantCaller);

async fn check_tenant_token(req: &Request, bearer: Bearer) -> poem::Result<TenantCaller> {
    let ctx = req
        .data::<Ctx>()
        .ok_or_else(|| ApiError::internal("no context"))?;
    let tenant = req
        .extensions()
        .get::<Tenant>()
        .ok_or_else(ApiError::unauthorized)?;
    let caller = tenant_caller(ctx, tenant, &bearer.token)?;
    crate::app::Seen::user(req, caller.user.as_uuid());
    Ok(caller)
}

/// The caller a tenant access token names, if it is valid on `tenant`.
pub(crate) fn tenant_caller(
    ctx: &Ctx,
    tenant: &Tenant,
    token: &str,
) -> crate::error::ApiResult<TenantCaller> {
    let claims = ctx
        .tokens
        .verify(token, TENANT_AUDIENCE)
        .ok_or_else(ApiError::unauthorized)?;
    // A token is valid only on the host of the tenant it was issued for.
    if claims.org != Some(tenant.id.as_uuid()) {
        return Err(ApiError::unauthorized());
    }
    Ok(TenantCaller {
        user: UserId::from_uuid(claims.sub),
        session: claims.sid,
    })
}

/// When an operation refused its input (400, 422), whether the caller may
/// call it at all: a caller without the permission learns that, not the
/// operation's rules for its input. The refused answer stands otherwise.
pub(crate) async fn permission_before_input(
    ctx: &Ctx,
    tenant: &Tenant,
    token: Option<&str>,
    operation_id: &'static str,
) -> Option<ApiError> {
    use crate::access::Access;
    if !matches!(
        crate::access::tenant_access(operation_id),
        Some(Access::Requires(_) | Access::RequiresEither(..))
    ) {
        return None;
    }
    let Some(token) = token else {
        return Some(ApiError::unauthorized());
    };
    let who = match tenant_caller(ctx, tenant, token) {
        Ok(who) => who,
        Err(e) => return Some(e),
    };
    let mut tx = None;
    let checked = match ctx.cached_actor(tenant, who, &mut tx).await {
        Ok(actor) => crate::context::check_access(&actor, operation_id).err(),
        Err(e) => Some(e),
    };
    if let Some(tx) = tx {
        let _ = tx.commit().await;
    }
    checked
}

/// Every operation group of the tenant API.
pub type Apis = (
    auth::AuthApi,
    me::MeApi,
    organization::OrganizationApi,
    users::UsersApi,
    roles::RolesApi,
    catalog::CoursesApi,
    catalog::ContentApi,
    catalog::TaxonomyApi,
    catalog::StaffApi,
    catalog::VersionsApi,
    learning::LearningApi,
    cohorts::CohortsApi,
    reviews::ReviewsApi,
    events::EventsApi,
    audit::AuditApi,
);

/// The OpenAPI service of the tenant API.
pub fn service() -> OpenApiService<Apis, ()> {
    OpenApiService::new(
        (
            auth::AuthApi,
            me::MeApi,
            organization::OrganizationApi,
            users::UsersApi,
            roles::RolesApi,
            catalog::CoursesApi,
            catalog::ContentApi,
            catalog::TaxonomyApi,
            catalog::StaffApi,
            catalog::VersionsApi,
            learning::LearningApi,
            cohorts::CohortsApi,
            reviews::ReviewsApi,
            events::EventsApi,
            audit::AuditApi,
        ),
        "Tenantry LMS tenant API",
        env!("CARGO_PKG_VERSION"),
    )
    .description(
        "The API of one organization, served on its own host (`<slug>.<base domain>` or a \
         custom domain). Tokens are bound to the organization that issued them.",
    )
    .server("/api/v1")
}
