//! The organization's own view of itself and its settings.

use lms_db::queries::orgs;
use poem::web::Data;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};
use serde_json::json;
use uuid::Uuid;

use super::{TenantBearer, TenantTags};
use crate::context::Ctx;
use crate::error::{ApiError, ApiResult};
use crate::settings::{OrgSettings, SEARCH_LANGUAGES};
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

/// Changes to the settings; absent fields stay.
#[derive(Object, Debug)]
#[oai(deny_unknown_fields)]
pub struct UpdateSettings {
    /// Allow self sign-up.
    pub self_signup: Option<bool>,
    /// Catalog search language.
    #[oai(validator(max_length = 32))]
    pub search_language: Option<String>,
    /// Show the final grade on certificates.
    pub certificate_shows_grade: Option<bool>,
    /// Days a deleted course stays in the trash, 1–3650.
    #[oai(validator(minimum(value = "1"), maximum(value = "3650")))]
    pub trash_retention_days: Option<u32>,
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
        body: Json<UpdateSettings>,
    ) -> ApiResult<OrganizationFound> {
        let b = body.0;
        if let Some(lang) = &b.search_language
            && !SEARCH_LANGUAGES.contains(&lang.as_str())
        {
            return Err(lms_domain::InputError::new(
                "search_language",
                "is not a supported language",
            )
            .into());
        }
        let (mut unit, _) = ctx
            .unit(&tenant, auth.0, "updateOrganizationSettings")
            .await?;
        let tx = unit.tx();
        let row = orgs::current(tx)
            .await?
            .ok_or_else(|| ApiError::internal("tenant row not visible"))?;
        let mut settings = OrgSettings::from_json(&row.settings);
        if let Some(v) = b.self_signup {
            settings.self_signup = v;
        }
        if let Some(v) = b.certificate_shows_grade {
            settings.certificate_shows_grade = v;
        }
        if let Some(v) = b.trash_retention_days {
            settings.trash_retention_days = v;
        }
        let language_changed = b.search_language.is_some();
        if let Some(v) = b.search_language {
            settings.search_language = v;
        }
        // Keep keys this version does not know about.
        let mut stored = row.settings.clone();
        if let (Some(obj), serde_json::Value::Object(new)) =
            (stored.as_object_mut(), settings.to_json())
        {
            obj.extend(new);
        }
        orgs::save_settings(tx, &stored).await?;
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
            json!({
                "self_signup": settings.self_signup,
                "search_language": settings.search_language,
                "certificate_shows_grade": settings.certificate_shows_grade,
                "trash_retention_days": settings.trash_retention_days,
            }),
        );
        unit.commit().await?;
        Ok(OrganizationFound::Ok(Json(view(row))))
    }
}
