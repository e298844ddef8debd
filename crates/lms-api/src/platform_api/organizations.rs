//! Provisioning and running tenants.

use chrono::{DateTime, Utc};
use lms_db::queries::orgs::{self, OrgRow};
use lms_domain::{
    Email, HostTarget, InputError, OrgId, OrgStatus, PersonName, Slug, Title, normalize_host,
};
use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Enum, Object, OpenApi};
use serde_json::json;
use uuid::Uuid;

use super::{PlatformBearer, PlatformTags, require_active};
use crate::auth::{MAX_PASSWORD_CHARS, MIN_PASSWORD_CHARS, hash_password_async};
use crate::context::Ctx;
use crate::error::{ApiError, ApiResult};
use crate::paging;
use crate::provision::{self, NewOrganization};

/// Whether a tenant is served.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[oai(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum OrganizationStatus {
    /// Served.
    Active,
    /// Refused with 403 `tenant_suspended` on every request.
    Suspended,
}

/// A tenant.
#[derive(Object, Debug)]
pub struct Organization {
    /// Id.
    pub id: Uuid,
    /// Subdomain label.
    pub slug: String,
    /// Display name.
    pub name: String,
    /// Whether it is served.
    pub status: OrganizationStatus,
    /// Custom domains registered to it.
    pub domains: Vec<String>,
    /// Where its API lives: `https://<slug>.<base domain>/api/v1`.
    pub api_url: String,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

fn organization(row: OrgRow, base_domain: &str) -> Organization {
    Organization {
        id: row.id,
        status: match row.status() {
            OrgStatus::Active => OrganizationStatus::Active,
            OrgStatus::Suspended => OrganizationStatus::Suspended,
        },
        api_url: format!("https://{}.{base_domain}/api/v1", row.slug),
        slug: row.slug,
        name: row.name,
        domains: row.domains,
        created_at: row.created_at,
        updated_at: row.updated_at,
    }
}

/// The first admin user of a new organization.
#[derive(Object, Debug)]
#[oai(deny_unknown_fields)]
pub struct NewOrganizationAdmin {
    /// Login e-mail.
    #[oai(validator(max_length = 320))]
    pub email: String,
    /// Given name.
    #[oai(validator(max_length = 200))]
    pub first_name: String,
    /// Family name.
    #[oai(validator(max_length = 200))]
    pub last_name: String,
    /// Password, 10–256 characters.
    #[oai(validator(max_length = 256))]
    pub password: String,
}

/// A new organization.
#[derive(Object, Debug)]
#[oai(deny_unknown_fields)]
pub struct CreateOrganization {
    /// Subdomain label: lower-case letters, digits and inner hyphens.
    #[oai(validator(max_length = 63))]
    pub slug: String,
    /// Display name.
    #[oai(validator(max_length = 200))]
    pub name: String,
    /// Its first admin.
    pub admin: NewOrganizationAdmin,
    /// Custom domains to serve it on as well.
    #[oai(validator(max_items = 10))]
    pub domains: Option<Vec<String>>,
}

/// A created organization and its first admin.
#[derive(Object, Debug)]
pub struct CreatedOrganization {
    /// The organization.
    pub organization: Organization,
    /// Id of its first admin user.
    pub admin_user_id: Uuid,
}

/// A page of organizations.
#[derive(Object, Debug)]
pub struct OrganizationPage {
    /// Newest first.
    pub items: Vec<Organization>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

#[derive(ApiResponse)]
enum OrgCreated {
    /// Created, with its first admin.
    #[oai(status = 201)]
    Created(Json<CreatedOrganization>),
}

#[derive(ApiResponse)]
enum OrgFound {
    /// The organization.
    #[oai(status = 200)]
    Ok(Json<Organization>),
}

#[derive(ApiResponse)]
enum OrgsListed {
    /// A page of organizations.
    #[oai(status = 200)]
    Ok(Json<OrganizationPage>),
}

fn org_not_found() -> ApiError {
    ApiError::not_found("organization_not_found", "no such organization")
}

/// Provisioning and running tenants.
pub struct OrganizationsApi;

#[OpenApi(tag = "PlatformTags::Organizations")]
impl OrganizationsApi {
    /// Create an organization with its default roles and first admin, in one
    /// transaction.
    #[oai(
        path = "/organizations",
        method = "post",
        operation_id = "createOrganization"
    )]
    async fn create(
        &self,
        ctx: Data<&Ctx>,
        auth: PlatformBearer,
        body: Json<CreateOrganization>,
    ) -> ApiResult<OrgCreated> {
        let b = body.0;
        let slug = Slug::parse("slug", &b.slug)?;
        let name = Title::parse("name", &b.name)?;
        let email = Email::parse("admin.email", &b.admin.email)?;
        let first = PersonName::parse("admin.first_name", &b.admin.first_name)?;
        let last = PersonName::parse("admin.last_name", &b.admin.last_name)?;
        let chars = b.admin.password.chars().count();
        if !(MIN_PASSWORD_CHARS..=MAX_PASSWORD_CHARS).contains(&chars) {
            return Err(InputError::new("admin.password", "must be 10-256 characters").into());
        }
        let domains = custom_domains(&ctx, b.domains.unwrap_or_default())?;
        // The caller is checked in its own short transaction, so that no
        // transaction stays open while the password is hashed.
        {
            let mut tx = ctx.db.platform().await?;
            require_active(&mut tx, auth.0).await?;
            tx.commit().await?;
        }
        let hash = hash_password_async(b.admin.password)
            .await
            .map_err(ApiError::internal)?;
        let new = NewOrganization {
            slug,
            name,
            domains,
            admin_email: email,
            admin_first_name: first,
            admin_last_name: last,
            admin_password_hash: hash,
        };

        let mut unit = ctx.platform_unit().await?;
        require_active(unit.tx(), auth.0).await?;
        let org = OrgId::new();
        let row = provision::register(unit.tx(), org, &new).await?;
        // Hosts of the new tenant may be cached as unknown.
        unit.tenant_changed(org);
        unit.emit(
            org,
            "organization.created",
            org,
            json!({ "id": org, "slug": row.slug, "domains": row.domains }),
        );
        let mut unit = unit.into_tenant(org).await?;
        let admin = provision::seed(unit.tx(), &new).await?;
        unit.emit(
            "user.created",
            admin,
            json!({
                "id": admin,
                "is_active": true,
                "roles": [lms_domain::ADMIN_ROLE_NAME],
            }),
        );
        unit.commit().await?;
        let org = row.id;
        let slug = row.slug.clone();
        tracing::info!(org_id = %org, slug = %slug, "organization created");
        Ok(OrgCreated::Created(Json(CreatedOrganization {
            organization: organization(row, &ctx.config.base_domain),
            admin_user_id: admin.as_uuid(),
        })))
    }

    /// List organizations, newest first.
    #[oai(
        path = "/organizations",
        method = "get",
        operation_id = "listOrganizations"
    )]
    async fn list(
        &self,
        ctx: Data<&Ctx>,
        auth: PlatformBearer,
        /// The `next_cursor` of the previous page.
        cursor: Query<Option<String>>,
        /// Page size, 1–100 (default 20).
        #[oai(validator(minimum(value = "1"), maximum(value = "100")))]
        limit: Query<Option<i64>>,
    ) -> ApiResult<OrgsListed> {
        let before = paging::cursor::<OrgId>(cursor.0.as_deref())?;
        let limit = limit.0.unwrap_or(paging::DEFAULT_LIMIT);
        let mut tx = ctx.db.platform().await?;
        require_active(&mut tx, auth.0).await?;
        let rows = orgs::list(&mut tx, before, limit + 1).await?;
        tx.commit().await?;
        let (rows, next_cursor) = paging::page(rows, limit, |r| r.id.to_string());
        Ok(OrgsListed::Ok(Json(OrganizationPage {
            items: rows
                .into_iter()
                .map(|r| organization(r, &ctx.config.base_domain))
                .collect(),
            next_cursor,
        })))
    }

    /// Get one organization.
    #[oai(
        path = "/organizations/:organization_id",
        method = "get",
        operation_id = "getOrganizationById"
    )]
    async fn get(
        &self,
        ctx: Data<&Ctx>,
        auth: PlatformBearer,
        organization_id: Path<Uuid>,
    ) -> ApiResult<OrgFound> {
        let mut tx = ctx.db.platform().await?;
        require_active(&mut tx, auth.0).await?;
        let row = orgs::get(&mut tx, OrgId::from_uuid(organization_id.0))
            .await?
            .ok_or_else(org_not_found)?;
        tx.commit().await?;
        Ok(OrgFound::Ok(Json(organization(
            row,
            &ctx.config.base_domain,
        ))))
    }

    /// Suspend an organization: every request to it is refused with 403
    /// `tenant_suspended` until it is reactivated. Its data is kept.
    #[oai(
        path = "/organizations/:organization_id/suspend",
        method = "post",
        operation_id = "suspendOrganization"
    )]
    async fn suspend(
        &self,
        ctx: Data<&Ctx>,
        auth: PlatformBearer,
        organization_id: Path<Uuid>,
    ) -> ApiResult<OrgFound> {
        set_status(&ctx, auth, organization_id.0, OrgStatus::Suspended).await
    }

    /// Reactivate a suspended organization.
    #[oai(
        path = "/organizations/:organization_id/reactivate",
        method = "post",
        operation_id = "reactivateOrganization"
    )]
    async fn reactivate(
        &self,
        ctx: Data<&Ctx>,
        auth: PlatformBearer,
        organization_id: Path<Uuid>,
    ) -> ApiResult<OrgFound> {
        set_status(&ctx, auth, organization_id.0, OrgStatus::Active).await
    }
}

async fn set_status(
    ctx: &Ctx,
    auth: PlatformBearer,
    id: Uuid,
    status: OrgStatus,
) -> ApiResult<OrgFound> {
    let org = OrgId::from_uuid(id);
    let mut unit = ctx.platform_unit().await?;
    require_active(unit.tx(), auth.0).await?;
    let row = orgs::set_status(unit.tx(), org, status)
        .await?
        .ok_or_else(org_not_found)?;
    unit.tenant_changed(org);
    let event = match status {
        OrgStatus::Suspended => "organization.suspended",
        _ => "organization.reactivated",
    };
    unit.emit(org, event, org, json!({ "id": org, "status": row.status }));
    unit.commit().await?;
    Ok(OrgFound::Ok(Json(organization(
        row,
        &ctx.config.base_domain,
    ))))
}

/// Normalises custom domains and refuses those that would shadow the
/// platform's own names.
fn custom_domains(ctx: &Ctx, raw: Vec<String>) -> Result<Vec<String>, InputError> {
    let mut out: Vec<String> = Vec::with_capacity(raw.len());
    for d in raw {
        let host =
            normalize_host(&d).map_err(|_| InputError::new("domains", "must be DNS names"))?;
        let cfg = &ctx.config;
        if !matches!(
            HostTarget::classify(&host, &cfg.base_domain, &cfg.platform_host),
            HostTarget::CustomDomain(_)
        ) || host == cfg.base_domain
            || host.ends_with(&format!(".{}", cfg.base_domain))
        {
            return Err(InputError::new(
                "domains",
                "must not be under the platform's base domain",
            ));
        }
        if !host.contains('.') {
            return Err(InputError::new("domains", "must be fully qualified"));
        }
        if !out.contains(&host) {
            out.push(host);
        }
    }
    Ok(out)
}
