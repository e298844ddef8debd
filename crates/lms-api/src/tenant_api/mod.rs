//! The tenant API, served under `/api/v1` on tenant hosts.

mod audit;
mod auth;
mod catalog;
mod cohorts;
mod events;
mod learning;
mod me;
mod organization;
mod reviews;
mod roles;
mod users;

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
    let claims = ctx
        .tokens
        .verify(&bearer.token, TENANT_AUDIENCE)
        .ok_or_else(ApiError::unauthorized)?;
    // A token is valid only on the host of the tenant it was issued for.
    if claims.org != Some(tenant.id.as_uuid()) {
        return Err(ApiError::unauthorized().into());
    }
    Ok(TenantCaller {
        user: UserId::from_uuid(claims.sub),
        session: claims.sid,
    })
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
