//! Provisioning and running tenants.

use crate::contract::Body;
use chrono::{DateTime, Utc};
use lms_db::queries::orgs::{self, Deletion, OrgRow};
use lms_db::queries::portable::Exporter;
use lms_domain::{
    Email, HostTarget, InputError, OrgId, OrgStatus, PersonName, Slug, Title, normalize_host,
};
use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::{Binary, Json};
use poem_openapi::{ApiResponse, Enum, Object, OpenApi};
use serde_json::json;
use uuid::Uuid;

use super::{PlatformBearer, PlatformTags, authorize};
use crate::auth::{
    MAX_PASSWORD_CHARS, MIN_PASSWORD_CHARS, hash_password_async, new_secret_token,
    secret_token_digest,
};
use crate::context::Ctx;
use crate::domains;
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::paging;
use crate::provision::{self, NewOrganization};
use crate::settings::UpdateSettings;

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
    /// Where its API lives: `<scheme>://<slug>.<base domain>[:port]/api/v1`,
    /// as clients reach the service (its public base URL).
    pub api_url: String,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

fn organization(row: OrgRow, config: &crate::ApiConfig) -> Organization {
    Organization {
        id: row.id,
        status: match row.status() {
            OrgStatus::Active => OrganizationStatus::Active,
            OrgStatus::Suspended => OrganizationStatus::Suspended,
        },
        api_url: config.tenant_api_url(&row.slug),
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
#[oai(skip_serializing_if_is_none)]
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

/// Changes to an organization; absent fields stay.
#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
#[oai(deny_unknown_fields)]
pub struct UpdateOrganization {
    /// Display name.
    #[oai(validator(max_length = 200))]
    pub name: Option<String>,
    /// New subdomain label. The old host stops resolving at once, on every
    /// replica; tokens stay valid (they name the organization by id).
    #[oai(validator(max_length = 63))]
    pub slug: Option<String>,
    /// Settings to change, as the organization's admins change them.
    pub settings: Option<UpdateSettings>,
}

/// The answer to the first step of a deletion.
#[derive(Object, Debug)]
pub struct DeletionRequested {
    /// Pass as `confirmation_token` to `DELETE` the organization again
    /// before it expires.
    pub confirmation_token: String,
    /// When the token expires.
    pub expires_at: DateTime<Utc>,
}

/// Whether a custom domain serves requests yet.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[oai(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DomainStatus {
    /// Registered, not proven: serves nothing.
    Pending,
    /// Proven (DNS record, or an operator): serves the organization.
    Verified,
}

/// A custom domain of an organization.
#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct CustomDomain {
    /// The DNS name.
    pub domain: String,
    /// Whether it serves yet.
    pub status: DomainStatus,
    /// Where the tenant publishes the verification TXT record.
    pub record_name: String,
    /// The TXT record's text.
    pub record_text: String,
    /// When it was verified.
    pub verified_at: Option<DateTime<Utc>>,
    /// Registered at.
    pub created_at: DateTime<Utc>,
}

fn custom_domain_view(d: orgs::DomainRow) -> CustomDomain {
    CustomDomain {
        status: if d.verified_at.is_some() {
            DomainStatus::Verified
        } else {
            DomainStatus::Pending
        },
        record_name: domains::record_name(&d.domain),
        record_text: domains::record_text(&d.verification_token),
        domain: d.domain,
        verified_at: d.verified_at,
        created_at: d.created_at,
    }
}

/// The custom domains of an organization.
#[derive(Object, Debug)]
pub struct CustomDomainList {
    /// By name.
    pub items: Vec<CustomDomain>,
}

/// A domain to register.
#[derive(Object, Debug)]
#[oai(deny_unknown_fields)]
pub struct AddDomain {
    /// A fully qualified DNS name outside the platform's base domain (no
    /// IP address).
    #[oai(validator(max_length = 253))]
    pub domain: String,
}

/// How a domain is verified.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[oai(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum VerificationMethod {
    /// Look the TXT record up in DNS.
    Dns,
    /// The operator vouches for it.
    Operator,
}

/// A verification to run.
#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
#[oai(deny_unknown_fields)]
pub struct VerifyDomain {
    /// How (default `DNS`).
    pub method: Option<VerificationMethod>,
}

/// One table's share of a tenant.
#[derive(Object, Debug)]
pub struct TableUsage {
    /// The table.
    pub table: String,
    /// The tenant's rows in it.
    pub rows: i64,
    /// Bytes they take, estimated: rows times the table's average row size
    /// (indexes and TOAST included).
    pub bytes: i64,
}

/// What a tenant uses.
#[derive(Object, Debug)]
pub struct OrganizationUsage {
    /// The organization.
    pub organization_id: Uuid,
    /// Its slug.
    pub slug: String,
    /// Users.
    pub users: i64,
    /// Learners who recorded progress or started a session in the last 30
    /// days.
    pub active_learners_30d: i64,
    /// Courses (the trash included).
    pub courses: i64,
    /// Enrollments.
    pub enrollments: i64,
    /// Progress records.
    pub progress_rows: i64,
    /// Estimated bytes, all tables.
    pub storage_bytes: i64,
    /// Per table, largest first.
    pub tables: Vec<TableUsage>,
}

/// A page of usage, one entry per organization.
#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct UsagePage {
    /// Newest organization first.
    pub items: Vec<OrganizationUsage>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

fn usage_view(row: &OrgRow, usage: Option<&orgs::UsageRow>) -> OrganizationUsage {
    let u = usage.map(|u| &u.usage);
    let mut tables: Vec<TableUsage> = u
        .and_then(|u| u["tables"].as_object())
        .map(|t| {
            t.iter()
                .map(|(name, v)| TableUsage {
                    table: name.clone(),
                    rows: v["rows"].as_i64().unwrap_or(0),
                    bytes: v["bytes"].as_i64().unwrap_or(0),
                })
                .collect()
        })
        .unwrap_or_default();
    tables.sort_by(|a, b| b.bytes.cmp(&a.bytes).then(a.table.cmp(&b.table)));
    let rows = |name: &str| {
        tables
            .iter()
            .find(|t| t.table == name)
            .map_or(0, |t| t.rows)
    };
    OrganizationUsage {
        organization_id: row.id,
        slug: row.slug.clone(),
        users: rows("users"),
        active_learners_30d: u
            .and_then(|u| u["active_learners_30d"].as_i64())
            .unwrap_or(0),
        courses: rows("courses"),
        enrollments: rows("enrollments"),
        progress_rows: rows("progress"),
        storage_bytes: tables.iter().map(|t| t.bytes).sum(),
        tables,
    }
}

#[derive(ApiResponse)]
enum UsageFound {
    /// The usage.
    #[oai(status = 200)]
    Ok(Json<OrganizationUsage>),
}

#[derive(ApiResponse)]
enum UsageListed {
    /// A page of usage.
    #[oai(status = 200)]
    Ok(Json<UsagePage>),
}

/// A page of organizations.
#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
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

#[derive(ApiResponse)]
enum OrgDeleted {
    /// The first step: confirm with the token before it expires.
    #[oai(status = 202)]
    Requested(Json<DeletionRequested>),
    /// Deleted, with every row of the tenant.
    #[oai(status = 204)]
    Deleted,
}

#[derive(ApiResponse)]
enum DomainsListed {
    /// The domains.
    #[oai(status = 200)]
    Ok(Json<CustomDomainList>),
}

#[derive(ApiResponse)]
enum DomainAdded {
    /// Registered, pending verification.
    #[oai(status = 201)]
    Created(Json<CustomDomain>),
}

#[derive(ApiResponse)]
enum DomainFound {
    /// The domain.
    #[oai(status = 200)]
    Ok(Json<CustomDomain>),
}

#[derive(ApiResponse)]
enum DomainRemoved {
    /// Removed: it serves nothing any more.
    #[oai(status = 204)]
    NoContent,
}

#[derive(ApiResponse)]
enum Exported {
    /// The archive (tar), streamed: `organization.json`, each table's rows
    /// as NDJSON parts (`tables/<table>/00001.ndjson`, …), and last
    /// `manifest.json` (format, schema version, per table rows, parts and
    /// SHA-256).
    #[oai(status = 200, content_type = "application/x-tar")]
    Ok(
        Binary<poem::Body>,
        #[oai(header = "Content-Disposition")] String,
    ),
}

/// An organization's archive, as `GET …/export` wrote it.
#[derive(poem_openapi::ApiRequest, Debug)]
pub enum ArchiveUpload {
    /// The tar file.
    #[oai(content_type = "application/x-tar")]
    Tar(Binary<poem::Body>),
}

#[derive(ApiResponse)]
enum Imported {
    /// Loaded: the organization, as it is served here.
    #[oai(status = 201)]
    Created(Json<Organization>),
}

fn org_not_found() -> ApiError {
    ApiError::not_found(ErrorCode::OrganizationNotFound, "no such organization")
}

fn domain_not_found() -> ApiError {
    ApiError::not_found(
        ErrorCode::DomainNotFound,
        "the organization has no such custom domain",
    )
}

/// How long the confirmation of a deletion stays valid.
const DELETION_CONFIRMATION_SECONDS: i64 = 300;

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
        body: Body<CreateOrganization>,
    ) -> ApiResult<OrgCreated> {
        let b = body.0;
        let slug = free_slug(&ctx, &b.slug)?;
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
            authorize(&mut tx, auth.0, "createOrganization").await?;
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
        authorize(unit.tx(), auth.0, "createOrganization").await?;
        let org = OrgId::new();
        let row = provision::register(unit.tx(), org, &new).await?;
        unit.audit(
            auth.0.admin,
            "organization.created",
            Some(org),
            json!({ "slug": row.slug, "name": row.name, "domains": row.domains }),
        )
        .await?;
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
            organization: organization(row, &ctx.config),
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
        cursor: Query<Option<Uuid>>,
        /// Page size, 1–100 (default 20).
        #[oai(validator(minimum(value = "1"), maximum(value = "100")))]
        limit: Query<Option<i64>>,
    ) -> ApiResult<OrgsListed> {
        let before = cursor.0.map(OrgId::from_uuid);
        let limit = limit.0.unwrap_or(paging::DEFAULT_LIMIT);
        let mut tx = ctx.db.platform().await?;
        authorize(&mut tx, auth.0, "listOrganizations").await?;
        let rows = orgs::list(&mut tx, before, limit + 1).await?;
        tx.commit().await?;
        let (rows, next_cursor) = paging::page(rows, limit, |r| r.id.to_string());
        Ok(OrgsListed::Ok(Json(OrganizationPage {
            items: rows
                .into_iter()
                .map(|r| organization(r, &ctx.config))
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
        authorize(&mut tx, auth.0, "getOrganizationById").await?;
        let row = orgs::get(&mut tx, OrgId::from_uuid(organization_id.0))
            .await?
            .ok_or_else(org_not_found)?;
        tx.commit().await?;
        Ok(OrgFound::Ok(Json(organization(row, &ctx.config))))
    }

    /// Export every row of an organization as an archive another
    /// installation loads with `lms import` (ids kept), streamed from one
    /// snapshot of the database. Login sessions and refresh tokens are not
    /// carried: users log in again.
    #[oai(
        path = "/organizations/:organization_id/export",
        method = "get",
        operation_id = "exportOrganization"
    )]
    async fn export(
        &self,
        ctx: Data<&Ctx>,
        auth: PlatformBearer,
        organization_id: Path<Uuid>,
    ) -> ApiResult<Exported> {
        let org = OrgId::from_uuid(organization_id.0);
        let mut unit = ctx.platform_unit().await?;
        authorize(unit.tx(), auth.0, "exportOrganization").await?;
        orgs::get(unit.tx(), org).await?.ok_or_else(org_not_found)?;
        unit.audit(auth.0.admin, "organization.exported", Some(org), json!({}))
            .await?;
        unit.commit().await?;
        // The rows, from one snapshot, as they are read.
        let snapshot = ctx.db.platform_snapshot().await?;
        let (registry, exporter) = Exporter::open(snapshot, org.as_uuid())
            .await?
            .ok_or_else(org_not_found)?;
        let slug = registry["slug"]
            .as_str()
            .unwrap_or("organization")
            .to_owned();
        Ok(Exported::Ok(
            Binary(crate::portable::stream(registry, exporter)),
            format!("attachment; filename=\"{slug}.tar\""),
        ))
    }

    /// Load an organization exported from another installation (the
    /// archive `GET …/export` streams) as a new organization here, ids
    /// kept, under the archive's slug or `slug`. All or nothing: a damaged
    /// archive, one of another format or of a newer schema, or one whose
    /// rows break a rule of this schema (a foreign key, a row of another
    /// organization) → 422 `invalid_archive`; an organization with its id,
    /// the slug or one of its domains exists → 409 `organization_exists`.
    /// Archives up to the service's import limit (256 MiB by default);
    /// `lms import FILE` takes any size.
    #[oai(
        path = "/organizations/import",
        method = "post",
        operation_id = "importOrganization"
    )]
    async fn import(
        &self,
        ctx: Data<&Ctx>,
        auth: PlatformBearer,
        /// The slug to serve it under, instead of the archive's.
        #[oai(validator(max_length = 63))]
        slug: Query<Option<String>>,
        body: ArchiveUpload,
    ) -> ApiResult<Imported> {
        {
            // The caller first: only then is the archive read.
            let mut tx = ctx.db.platform().await?;
            authorize(&mut tx, auth.0, "importOrganization").await?;
            tx.commit().await?;
        }
        let ArchiveUpload::Tar(Binary(body)) = body;
        // (Its length was checked against the limit before.)
        let bytes = body
            .into_bytes_limit(ctx.config.max_import_bytes)
            .await
            .map_err(|_| {
                ApiError::bad_request(ErrorCode::BadRequest, "the archive could not be read")
            })?;
        let archive = crate::portable::read(&bytes)
            .map_err(|e| ApiError::unprocessable(ErrorCode::InvalidArchive, format!("{e:#}")))?;
        let slug = match (slug.0.as_deref(), archive.organization["slug"].as_str()) {
            (Some(s), _) | (None, Some(s)) => free_slug(&ctx, s)?,
            (None, None) => return Err(InputError::new("slug", "is missing").into()),
        };
        let mut unit = ctx.platform_unit().await?;
        authorize(unit.tx(), auth.0, "importOrganization").await?;
        let org = lms_db::queries::portable::import_in(
            unit.tx(),
            &archive.organization,
            Some(slug.as_str()),
            &archive.tables,
        )
        .await?;
        let org = OrgId::from_uuid(org);
        let rows: u64 = archive.tables.iter().map(|t| t.rows).sum();
        unit.audit(
            auth.0.admin,
            "organization.imported",
            Some(org),
            json!({
                "slug": slug.as_str(),
                "rows": rows,
                "schema_version": archive.manifest.schema_version,
                "exported_at": archive.manifest.exported_at,
            }),
        )
        .await?;
        // Its hosts may be cached as unknown.
        unit.tenant_changed(org);
        let row = orgs::get(unit.tx(), org)
            .await?
            .ok_or_else(|| ApiError::internal("imported organization not visible"))?;
        unit.commit().await?;
        tracing::info!(org_id = %org, slug = %row.slug, rows, "organization imported");
        Ok(Imported::Created(Json(organization(row, &ctx.config))))
    }

    /// What one organization uses: users, active learners, courses,
    /// enrollments, progress, and rows and estimated bytes per table.
    #[oai(
        path = "/organizations/:organization_id/usage",
        method = "get",
        operation_id = "getOrganizationUsage"
    )]
    async fn usage(
        &self,
        ctx: Data<&Ctx>,
        auth: PlatformBearer,
        organization_id: Path<Uuid>,
    ) -> ApiResult<UsageFound> {
        let mut tx = ctx.db.platform().await?;
        authorize(&mut tx, auth.0, "getOrganizationUsage").await?;
        let row = orgs::get(&mut tx, OrgId::from_uuid(organization_id.0))
            .await?
            .ok_or_else(org_not_found)?;
        let usage = orgs::usage(&mut tx, &[row.id]).await?;
        tx.commit().await?;
        Ok(UsageFound::Ok(Json(usage_view(&row, usage.first()))))
    }

    /// What every organization uses, a page at a time (newest first): one
    /// grouped count per table for the whole page.
    #[oai(
        path = "/usage",
        method = "get",
        operation_id = "listOrganizationUsage"
    )]
    async fn usage_list(
        &self,
        ctx: Data<&Ctx>,
        auth: PlatformBearer,
        /// The `next_cursor` of the previous page.
        cursor: Query<Option<Uuid>>,
        /// Page size, 1–100 (default 20).
        #[oai(validator(minimum(value = "1"), maximum(value = "100")))]
        limit: Query<Option<i64>>,
    ) -> ApiResult<UsageListed> {
        let before = cursor.0.map(OrgId::from_uuid);
        let limit = limit.0.unwrap_or(paging::DEFAULT_LIMIT);
        let mut tx = ctx.db.platform().await?;
        authorize(&mut tx, auth.0, "listOrganizationUsage").await?;
        let rows = orgs::list(&mut tx, before, limit + 1).await?;
        let (rows, next_cursor) = paging::page(rows, limit, |r| r.id.to_string());
        let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
        let usage = orgs::usage(&mut tx, &ids).await?;
        tx.commit().await?;
        Ok(UsageListed::Ok(Json(UsagePage {
            items: rows
                .iter()
                .map(|r| usage_view(r, usage.iter().find(|u| u.organization_id == r.id)))
                .collect(),
            next_cursor,
        })))
    }

    /// Change an organization's name, slug or settings. A new slug must be
    /// free (409 `slug_taken`) and not reserved (422).
    #[oai(
        path = "/organizations/:organization_id",
        method = "patch",
        operation_id = "updateOrganization"
    )]
    async fn update(
        &self,
        ctx: Data<&Ctx>,
        auth: PlatformBearer,
        organization_id: Path<Uuid>,
        body: Body<UpdateOrganization>,
    ) -> ApiResult<OrgFound> {
        let b = body.0;
        let org = OrgId::from_uuid(organization_id.0);
        let name = b
            .name
            .as_deref()
            .map(|n| Title::parse("name", n))
            .transpose()?;
        let slug = b.slug.as_deref().map(|s| free_slug(&ctx, s)).transpose()?;
        if let Some(settings) = &b.settings {
            settings.check()?;
        }
        let mut unit = ctx.platform_unit().await?;
        authorize(unit.tx(), auth.0, "updateOrganization").await?;
        let before = orgs::get(unit.tx(), org).await?.ok_or_else(org_not_found)?;
        let (stored, applied) = match &b.settings {
            Some(patch) => {
                let (stored, applied) = patch.apply(&before.settings);
                (Some(stored), Some(applied))
            }
            None => (None, None),
        };
        let row = orgs::update(
            unit.tx(),
            org,
            name.as_ref().map(Title::as_str),
            slug.as_ref().map(Slug::as_str),
            stored.as_ref(),
        )
        .await?
        .ok_or_else(org_not_found)?;
        unit.audit(
            auth.0.admin,
            "organization.updated",
            Some(org),
            json!({
                "name": name.as_ref().map(|_| &row.name),
                "slug": slug.as_ref().map(|_| json!({ "from": before.slug, "to": row.slug })),
                "settings": applied.as_ref().map(|s| s.event_payload()),
            }),
        )
        .await?;
        unit.tenant_changed(org);
        unit.emit(
            org,
            "organization.updated",
            org,
            json!({ "id": org, "slug": row.slug, "name": row.name }),
        );
        let language_changed = b
            .settings
            .as_ref()
            .is_some_and(|p| p.search_language.is_some());
        if language_changed {
            // Re-index the catalog in the new language.
            orgs::apply_search_language(unit.tx(), org).await?;
        }
        let mut unit = unit.into_tenant(org).await?;
        if language_changed {
            unit.changed_courses([]);
        }
        unit.commit().await?;
        Ok(OrgFound::Ok(Json(organization(row, &ctx.config))))
    }

    /// Delete an organization with every row of its tenant, in two steps:
    /// without `confirmation_token`, answers 202 with a token valid for five
    /// minutes; called again with it, deletes (204). A wrong or expired
    /// token: 409 `deletion_not_confirmed`. The platform audit trail keeps
    /// the record.
    #[oai(
        path = "/organizations/:organization_id",
        method = "delete",
        operation_id = "deleteOrganization"
    )]
    async fn delete(
        &self,
        ctx: Data<&Ctx>,
        auth: PlatformBearer,
        organization_id: Path<Uuid>,
        /// The token of the first step.
        #[oai(validator(max_length = 100))]
        confirmation_token: Query<Option<String>>,
    ) -> ApiResult<OrgDeleted> {
        let org = OrgId::from_uuid(organization_id.0);
        let mut unit = ctx.platform_unit().await?;
        authorize(unit.tx(), auth.0, "deleteOrganization").await?;
        let Some(token) = confirmation_token.0 else {
            let (token, digest) = new_secret_token();
            let expires_at = orgs::request_deletion(
                unit.tx(),
                org,
                &digest,
                auth.0.admin.as_uuid(),
                DELETION_CONFIRMATION_SECONDS,
            )
            .await?
            .ok_or_else(org_not_found)?;
            unit.audit(
                auth.0.admin,
                "organization.deletion_requested",
                Some(org),
                json!({ "expires_at": expires_at }),
            )
            .await?;
            unit.commit().await?;
            return Ok(OrgDeleted::Requested(Json(DeletionRequested {
                confirmation_token: token,
                expires_at,
            })));
        };
        let row = orgs::get(unit.tx(), org).await?.ok_or_else(org_not_found)?;
        match orgs::confirm_deletion(unit.tx(), org, &secret_token_digest(&token)).await? {
            Deletion::NotFound => return Err(org_not_found()),
            Deletion::NotConfirmed => {
                return Err(ApiError::conflict(
                    ErrorCode::DeletionNotConfirmed,
                    "no pending deletion with this token: request one again",
                ));
            }
            Deletion::Deleted => {}
        }
        unit.audit(
            auth.0.admin,
            "organization.deleted",
            Some(org),
            json!({ "slug": row.slug, "name": row.name }),
        )
        .await?;
        unit.tenant_changed(org);
        unit.commit().await?;
        tracing::info!(org_id = %org, slug = %row.slug, "organization deleted");
        Ok(OrgDeleted::Deleted)
    }

    /// The custom domains of an organization, with their verification
    /// records.
    #[oai(
        path = "/organizations/:organization_id/domains",
        method = "get",
        operation_id = "listOrganizationDomains"
    )]
    async fn domains(
        &self,
        ctx: Data<&Ctx>,
        auth: PlatformBearer,
        organization_id: Path<Uuid>,
    ) -> ApiResult<DomainsListed> {
        let org = OrgId::from_uuid(organization_id.0);
        let mut tx = ctx.db.platform().await?;
        authorize(&mut tx, auth.0, "listOrganizationDomains").await?;
        orgs::get(&mut tx, org).await?.ok_or_else(org_not_found)?;
        let rows = orgs::domains(&mut tx, org).await?;
        tx.commit().await?;
        Ok(DomainsListed::Ok(Json(CustomDomainList {
            items: rows.into_iter().map(custom_domain_view).collect(),
        })))
    }

    /// Register a custom domain. It serves nothing until verified: the
    /// tenant publishes the TXT record the answer names. A domain belongs
    /// to one organization (409 `domain_taken`); IP addresses, the base
    /// domain and its subdomains are refused (422).
    #[oai(
        path = "/organizations/:organization_id/domains",
        method = "post",
        operation_id = "addOrganizationDomain"
    )]
    async fn add_domain(
        &self,
        ctx: Data<&Ctx>,
        auth: PlatformBearer,
        organization_id: Path<Uuid>,
        body: Body<AddDomain>,
    ) -> ApiResult<DomainAdded> {
        let org = OrgId::from_uuid(organization_id.0);
        let domain = custom_domain(&ctx, "domain", &body.0.domain)?;
        let mut unit = ctx.platform_unit().await?;
        authorize(unit.tx(), auth.0, "addOrganizationDomain").await?;
        orgs::get(unit.tx(), org).await?.ok_or_else(org_not_found)?;
        let row = orgs::add_domain(
            unit.tx(),
            org,
            &domain,
            &provision::new_verification_token(),
        )
        .await?;
        unit.audit(
            auth.0.admin,
            "domain.added",
            Some(org),
            json!({ "domain": domain }),
        )
        .await?;
        unit.commit().await?;
        Ok(DomainAdded::Created(Json(custom_domain_view(row))))
    }

    /// Verify a custom domain: by its DNS TXT record (409
    /// `domain_not_proven` while the record is missing; 503
    /// `dns_unavailable` when DNS cannot be asked), or by the operator's
    /// word. From then on it serves the organization, on every replica.
    #[oai(
        path = "/organizations/:organization_id/domains/:domain/verify",
        method = "post",
        operation_id = "verifyOrganizationDomain"
    )]
    async fn verify_domain(
        &self,
        ctx: Data<&Ctx>,
        auth: PlatformBearer,
        organization_id: Path<Uuid>,
        domain: Path<String>,
        body: Body<VerifyDomain>,
    ) -> ApiResult<DomainFound> {
        let org = OrgId::from_uuid(organization_id.0);
        let name = normalize_host(&domain.0).map_err(|_| domain_not_found())?;
        let method = body.0.method.unwrap_or(VerificationMethod::Dns);
        let found = {
            let mut tx = ctx.db.platform().await?;
            authorize(&mut tx, auth.0, "verifyOrganizationDomain").await?;
            let found = orgs::domain(&mut tx, org, &name).await?;
            tx.commit().await?;
            found.ok_or_else(domain_not_found)?
        };
        // The lookup runs outside any transaction.
        if method == VerificationMethod::Dns
            && found.verified_at.is_none()
            && !ctx
                .domain_records
                .proves(&name, &found.verification_token)
                .await
                .map_err(|e| {
                    tracing::warn!(error = %e, "domain verification lookup failed");
                    ApiError::unavailable_because(
                        ErrorCode::DnsUnavailable,
                        "DNS could not be asked; try again",
                    )
                })?
        {
            return Err(ApiError::conflict(
                ErrorCode::DomainNotProven,
                format!(
                    "publish the TXT record {} at {}, then try again",
                    domains::record_text(&found.verification_token),
                    domains::record_name(&name)
                ),
            ));
        }
        let by = match method {
            VerificationMethod::Dns => "DNS",
            VerificationMethod::Operator => "OPERATOR",
        };
        let mut unit = ctx.platform_unit().await?;
        authorize(unit.tx(), auth.0, "verifyOrganizationDomain").await?;
        let row = orgs::verify_domain(unit.tx(), org, &name, by)
            .await?
            .ok_or_else(domain_not_found)?;
        unit.audit(
            auth.0.admin,
            "domain.verified",
            Some(org),
            json!({ "domain": name, "by": by }),
        )
        .await?;
        unit.tenant_changed(org);
        unit.commit().await?;
        Ok(DomainFound::Ok(Json(custom_domain_view(row))))
    }

    /// Remove a custom domain: it stops serving at once, on every replica.
    #[oai(
        path = "/organizations/:organization_id/domains/:domain",
        method = "delete",
        operation_id = "removeOrganizationDomain"
    )]
    async fn remove_domain(
        &self,
        ctx: Data<&Ctx>,
        auth: PlatformBearer,
        organization_id: Path<Uuid>,
        domain: Path<String>,
    ) -> ApiResult<DomainRemoved> {
        let org = OrgId::from_uuid(organization_id.0);
        let name = normalize_host(&domain.0).map_err(|_| domain_not_found())?;
        let mut unit = ctx.platform_unit().await?;
        authorize(unit.tx(), auth.0, "removeOrganizationDomain").await?;
        if !orgs::remove_domain(unit.tx(), org, &name).await? {
            return Err(domain_not_found());
        }
        unit.audit(
            auth.0.admin,
            "domain.removed",
            Some(org),
            json!({ "domain": name }),
        )
        .await?;
        unit.tenant_changed(org);
        unit.commit().await?;
        Ok(DomainRemoved::NoContent)
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
    let (op, event) = match status {
        OrgStatus::Suspended => ("suspendOrganization", "organization.suspended"),
        _ => ("reactivateOrganization", "organization.reactivated"),
    };
    let mut unit = ctx.platform_unit().await?;
    authorize(unit.tx(), auth.0, op).await?;
    let row = orgs::set_status(unit.tx(), org, status)
        .await?
        .ok_or_else(org_not_found)?;
    unit.audit(
        auth.0.admin,
        event,
        Some(org),
        json!({ "status": row.status }),
    )
    .await?;
    unit.tenant_changed(org);
    unit.emit(org, event, org, json!({ "id": org, "status": row.status }));
    unit.commit().await?;
    Ok(OrgFound::Ok(Json(organization(row, &ctx.config))))
}

/// Normalises a custom domain and refuses what cannot be one: IP
/// literals, the platform's base domain and its subdomains, the platform
/// host, single labels.
fn custom_domain(ctx: &Ctx, field: &'static str, raw: &str) -> Result<String, InputError> {
    let host = normalize_host(raw).map_err(|_| InputError::new(field, "must be DNS names"))?;
    let cfg = &ctx.config;
    if !matches!(
        HostTarget::classify(&host, &cfg.base_domain, &cfg.platform_host),
        HostTarget::CustomDomain(_)
    ) || host == cfg.base_domain
        || host.ends_with(&format!(".{}", cfg.base_domain))
    {
        return Err(InputError::new(
            field,
            "must not be under the platform's base domain",
        ));
    }
    if !host.contains('.') {
        return Err(InputError::new(field, "must be fully qualified"));
    }
    Ok(host)
}

/// Normalises custom domains (each once).
fn custom_domains(ctx: &Ctx, raw: Vec<String>) -> Result<Vec<String>, InputError> {
    let mut out: Vec<String> = Vec::with_capacity(raw.len());
    for d in raw {
        let host = custom_domain(ctx, "domains", &d)?;
        if !out.contains(&host) {
            out.push(host);
        }
    }
    Ok(out)
}

/// A slug a new or renamed organization may take: well formed, not
/// reserved, and not the platform host's own label.
fn free_slug(ctx: &Ctx, raw: &str) -> Result<Slug, InputError> {
    let slug = Slug::parse("slug", raw)?;
    let platform_label = ctx
        .config
        .platform_host
        .strip_suffix(&format!(".{}", ctx.config.base_domain))
        .unwrap_or("");
    if slug.as_str() == platform_label {
        return Err(InputError::new("slug", "is reserved"));
    }
    Ok(slug)
}
