//! The organization's own view of itself and its settings.

use crate::contract::Body;
use lms_db::queries::orgs;
use poem::web::Data;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};
use uuid::Uuid;

use super::{TenantBearer, TenantTags};
use crate::context::Ctx;
use crate::error::{ApiError, ApiResult};
use crate::settings::{Branding, OrgSettings, UpdateSettings};
use crate::tenancy::Tenant;

/// Settings an organization manages itself.
#[derive(Object, Debug)]
pub struct Settings {
    /// Whether anyone may create a learner account at `POST /auth/signup`.
    pub self_signup: bool,
    /// Language of catalog search (a PostgreSQL text-search configuration).
    pub search_language: String,
    /// Whether certificates (and their public verification) show the final
    /// grade.
    pub certificate_shows_grade: bool,
    /// Days a deleted course stays in the trash before it is purged.
    pub trash_retention_days: u32,
    /// Web origins whose pages may call the API from a browser.
    pub cors_allowed_origins: Vec<String>,
    /// How its pages look.
    pub branding: BrandingView,
}

/// How an organization's pages look; unset parts are left out.
#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct BrandingView {
    /// Logo, an https URL.
    pub logo_url: Option<String>,
    /// Favicon, an https URL.
    pub favicon_url: Option<String>,
    /// Main colour, `#rrggbb`.
    pub primary_color: Option<String>,
    /// Accent colour, `#rrggbb`.
    pub accent_color: Option<String>,
}

impl From<Branding> for BrandingView {
    fn from(b: Branding) -> Self {
        Self {
            logo_url: b.logo_url,
            favicon_url: b.favicon_url,
            primary_color: b.primary_color,
            accent_color: b.accent_color,
        }
    }
}

/// What an organization shows anyone, before login.
#[derive(Object, Debug)]
pub struct PublicProfile {
    /// Display name.
    pub name: String,
    /// How its pages look.
    pub branding: BrandingView,
}

#[derive(ApiResponse)]
enum ProfileFound {
    /// The organization's public face.
    #[oai(status = 200)]
    Ok(Json<PublicProfile>),
}

/// The organization.
#[derive(Object, Debug)]
pub struct OrganizationView {
    /// Id.
    pub id: Uuid,
    /// Subdomain label.
    pub slug: String,
    /// Display name.
    pub name: String,
    /// Custom domains.
    pub domains: Vec<String>,
    /// Settings.
    pub settings: Settings,
}

#[derive(ApiResponse)]
enum OrganizationFound {
    /// The organization.
    #[oai(status = 200)]
    Ok(Json<OrganizationView>),
}

fn view(row: orgs::OrgRow) -> OrganizationView {
    let s = OrgSettings::from_json(&row.settings);
    OrganizationView {
        id: row.id,
        slug: row.slug,
        name: row.name,
        domains: row.domains,
        settings: Settings {
            self_signup: s.self_signup,
            search_language: s.search_language,
            certificate_shows_grade: s.certificate_shows_grade,
            trash_retention_days: s.trash_retention_days,
            cors_allowed_origins: s.cors_allowed_origins,
            branding: s.branding.into(),
        },
    }
}

/// The organization itself.
pub struct OrganizationApi;

#[OpenApi(tag = "TenantTags::Organization")]
impl OrganizationApi {
    /// The caller's organization and its settings.
    #[oai(
        path = "/organization",
        method = "get",
        operation_id = "getOrganization"
    )]
    async fn get(
        &self,
        ctx: Data<&Ctx>,
        tenant: Data<&Tenant>,
        auth: TenantBearer,
    ) -> ApiResult<OrganizationFound> {
        let mut read = ctx.reader(&tenant, auth.0, "getOrganization").await?;
        let tx = read.tx().await?;
        let row = orgs::current(tx)
            .await?
            .ok_or_else(|| ApiError::internal("tenant row not visible"))?;
        read.finish().await?;
        Ok(OrganizationFound::Ok(Json(view(row))))
    }

    /// The organization's name and branding, for anyone (no
    /// authentication): what a login page shows.
    #[oai(path = "/branding", method = "get", operation_id = "getBranding")]
    async fn branding(&self, tenant: Data<&Tenant>) -> ApiResult<ProfileFound> {
        let p = &tenant.profile;
        Ok(ProfileFound::Ok(Json(PublicProfile {
            name: p.name.clone(),
            branding: p.branding.clone().into(),
        })))
    }

    /// Change the organization's settings.
    #[oai(
        path = "/organization/settings",
        method = "patch",
        operation_id = "updateOrganizationSettings"
    )]
    async fn update_settings(
        &self,
        ctx: Data<&Ctx>,
        tenant: Data<&Tenant>,
        auth: TenantBearer,
        body: Body<UpdateSettings>,
    ) -> ApiResult<OrganizationFound> {
        let b = body.0;
        b.check()?;
        let (mut unit, _) = ctx
            .unit(&tenant, auth.0, "updateOrganizationSettings")
            .await?;
        let tx = unit.tx();
        let row = orgs::current(tx)
            .await?
            .ok_or_else(|| ApiError::internal("tenant row not visible"))?;
        let (stored, settings) = b.apply(&row.settings);
        let language_changed = b.search_language.is_some();
        orgs::save_settings(tx, &stored).await?;
        if b.cors_allowed_origins.is_some() || b.branding.is_some() {
            // Every replica answers browsers from the new list, and shows
            // the new branding.
            unit.registry_changed();
        }
        let tx = unit.tx();
        if language_changed {
            // Re-index the catalog in the new language (generated column).
            lms_db::queries::courses::set_search_language(tx, &settings.search_language).await?;
        }
        let row = orgs::current(tx)
            .await?
            .ok_or_else(|| ApiError::internal("tenant row not visible"))?;
        unit.emit(
            "organization.settings_updated",
            tenant.id,
            settings.event_payload(),
        );
        unit.commit().await?;
        Ok(OrganizationFound::Ok(Json(view(row))))
    }
}
