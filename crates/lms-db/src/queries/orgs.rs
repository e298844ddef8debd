//! The tenant registry (platform side) and host resolution.

use chrono::{DateTime, Utc};
use lms_domain::{OrgId, OrgStatus};
use serde_json::Value;
use uuid::Uuid;

use crate::{DbError, PlatformTx, TenantTx};

/// An organization as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OrgRow {
    /// Its id.
    pub id: Uuid,
    /// Its subdomain label.
    pub slug: String,
    /// Display name.
    pub name: String,
    /// `ACTIVE` or `SUSPENDED`.
    pub status: String,
    /// Organization settings (JSON object).
    pub settings: Value,
    /// Custom domains registered to it.
    pub domains: Vec<String>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

impl OrgRow {
    /// The status, parsed.
    pub fn status(&self) -> OrgStatus {
        self.status.parse().unwrap_or(OrgStatus::Suspended)
    }
}

macro_rules! org_select {
    ($where:literal) => {
        concat!(
            "SELECT o.id, o.slug, o.name, o.status::text AS status, o.settings, \
                    COALESCE((SELECT array_agg(d.domain ORDER BY d.domain) FROM organization_domains d \
                              WHERE d.organization_id = o.id), '{}') AS domains, \
                    o.created_at, o.updated_at \
             FROM organizations o ",
            $where
        )
    };
}

/// Creates an organization.
pub async fn create(
    tx: &mut PlatformTx,
    id: OrgId,
    slug: &str,
    name: &str,
) -> Result<OrgRow, DbError> {
    sqlx::query("INSERT INTO organizations (id, slug, name) VALUES ($1, $2, $3)")
        .bind(id.as_uuid())
        .bind(slug)
        .bind(name)
        .execute(tx.conn())
        .await?;
    Ok(get(tx, id).await?.expect("row just inserted"))
}

/// A custom domain of an organization.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DomainRow {
    /// The normalised DNS name.
    pub domain: String,
    /// What the tenant publishes as a TXT record to prove the domain.
    pub verification_token: String,
    /// When it was verified; `None` while pending (it serves nothing).
    pub verified_at: Option<DateTime<Utc>>,
    /// How: `DNS`, `OPERATOR` or `MIGRATION`.
    pub verified_by: Option<String>,
    /// Registered at.
    pub created_at: DateTime<Utc>,
}

const DOMAIN_COLUMNS: &str = "domain, verification_token, verified_at, verified_by, created_at";

/// Registers a custom domain for an organization, pending verification.
pub async fn add_domain(
    tx: &mut PlatformTx,
    org: OrgId,
    domain: &str,
    token: &str,
) -> Result<DomainRow, DbError> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "INSERT INTO organization_domains (organization_id, domain, verification_token) \
         VALUES ($1, $2, $3) RETURNING {DOMAIN_COLUMNS}"
    )))
    .bind(org.as_uuid())
    .bind(domain)
    .bind(token)
    .fetch_one(tx.conn())
    .await?)
}

/// The custom domains of an organization, by name.
pub async fn domains(tx: &mut PlatformTx, org: OrgId) -> Result<Vec<DomainRow>, DbError> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {DOMAIN_COLUMNS} FROM organization_domains WHERE organization_id = $1 ORDER BY domain"
    )))
    .bind(org.as_uuid())
    .fetch_all(tx.conn())
    .await?)
}

/// One custom domain of an organization.
pub async fn domain(
    tx: &mut PlatformTx,
    org: OrgId,
    domain: &str,
) -> Result<Option<DomainRow>, DbError> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {DOMAIN_COLUMNS} FROM organization_domains WHERE organization_id = $1 AND domain = $2"
    )))
    .bind(org.as_uuid())
    .bind(domain)
    .fetch_optional(tx.conn())
    .await?)
}

/// Marks a domain verified (`DNS` or `OPERATOR`); `None` when the
/// organization has no such domain. A verified domain stays as it was.
pub async fn verify_domain(
    tx: &mut PlatformTx,
    org: OrgId,
    domain: &str,
    by: &str,
) -> Result<Option<DomainRow>, DbError> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "UPDATE organization_domains SET verified_at = COALESCE(verified_at, now()), \
                verified_by = COALESCE(verified_by, $3) \
          WHERE organization_id = $1 AND domain = $2 RETURNING {DOMAIN_COLUMNS}"
    )))
    .bind(org.as_uuid())
    .bind(domain)
    .bind(by)
    .fetch_optional(tx.conn())
    .await?)
}

/// Removes a custom domain; `false` when the organization had no such one.
pub async fn remove_domain(tx: &mut PlatformTx, org: OrgId, domain: &str) -> Result<bool, DbError> {
    Ok(
        sqlx::query("DELETE FROM organization_domains WHERE organization_id = $1 AND domain = $2")
            .bind(org.as_uuid())
            .bind(domain)
            .execute(tx.conn())
            .await?
            .rows_affected()
            == 1,
    )
}

/// Changes an organization's name, slug or settings (`None` leaves each as
/// it is). `None` when it does not exist.
pub async fn update(
    tx: &mut PlatformTx,
    id: OrgId,
    name: Option<&str>,
    slug: Option<&str>,
    settings: Option<&Value>,
) -> Result<Option<OrgRow>, DbError> {
    let updated = sqlx::query(
        "UPDATE organizations SET name = COALESCE($2, name), slug = COALESCE($3, slug), \
                settings = COALESCE($4, settings), updated_at = now() WHERE id = $1",
    )
    .bind(id.as_uuid())
    .bind(name)
    .bind(slug)
    .bind(settings)
    .execute(tx.conn())
    .await?;
    if updated.rows_affected() == 0 {
        return Ok(None);
    }
    get(tx, id).await
}

/// Records the first step of an organization's deletion: the digest of
/// its confirmation token and when it expires (replacing an earlier
/// request). `None` when the organization does not exist.
pub async fn request_deletion(
    tx: &mut PlatformTx,
    id: OrgId,
    token_digest: &[u8],
    by: Uuid,
    valid_for_seconds: i64,
) -> Result<Option<DateTime<Utc>>, DbError> {
    Ok(sqlx::query_scalar(
        "INSERT INTO organization_deletions (target_org_id, token_digest, requested_by, expires_at) \
         SELECT o.id, $2, $3, now() + make_interval(secs => $4) FROM organizations o WHERE o.id = $1 \
         ON CONFLICT (target_org_id) DO UPDATE SET token_digest = EXCLUDED.token_digest, \
                requested_by = EXCLUDED.requested_by, expires_at = EXCLUDED.expires_at \
         RETURNING expires_at",
    )
    .bind(id.as_uuid())
    .bind(token_digest)
    .bind(by)
    .bind(valid_for_seconds as f64)
    .fetch_optional(tx.conn())
    .await?)
}

/// How the second step of a deletion went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deletion {
    /// The organization and every row of it are gone.
    Deleted,
    /// No such organization.
    NotFound,
    /// No pending request, another token, or an expired one.
    NotConfirmed,
}

/// Deletes an organization with every row of its tenant (foreign keys
/// cascade from the registry row) when `token_digest` confirms a pending,
/// unexpired request.
pub async fn confirm_deletion(
    tx: &mut PlatformTx,
    id: OrgId,
    token_digest: &[u8],
) -> Result<Deletion, DbError> {
    let confirmed: Option<bool> = sqlx::query_scalar(
        "SELECT COALESCE(d.token_digest = $2 AND d.expires_at > now(), false) FROM organizations o \
           LEFT JOIN organization_deletions d ON d.target_org_id = o.id \
          WHERE o.id = $1 FOR UPDATE OF o",
    )
    .bind(id.as_uuid())
    .bind(token_digest)
    .fetch_optional(tx.conn())
    .await?;
    match confirmed {
        None => Ok(Deletion::NotFound),
        Some(false) => Ok(Deletion::NotConfirmed),
        Some(true) => {
            sqlx::query("DELETE FROM organizations WHERE id = $1")
                .bind(id.as_uuid())
                .execute(tx.conn())
                .await?;
            Ok(Deletion::Deleted)
        }
    }
}

/// One organization by id.
pub async fn get(tx: &mut PlatformTx, id: OrgId) -> Result<Option<OrgRow>, DbError> {
    Ok(sqlx::query_as(org_select!("WHERE o.id = $1"))
        .bind(id.as_uuid())
        .fetch_optional(tx.conn())
        .await?)
}

/// A page of organizations, newest first, after the `before` cursor.
pub async fn list(
    tx: &mut PlatformTx,
    before: Option<OrgId>,
    limit: i64,
) -> Result<Vec<OrgRow>, DbError> {
    Ok(sqlx::query_as(org_select!(
        "WHERE ($1::uuid IS NULL OR o.id < $1) ORDER BY o.id DESC LIMIT $2"
    ))
    .bind(before.map(|o| o.as_uuid()))
    .bind(limit)
    .fetch_all(tx.conn())
    .await?)
}

/// Suspends or reactivates an organization. `None` when it does not exist.
pub async fn set_status(
    tx: &mut PlatformTx,
    id: OrgId,
    status: OrgStatus,
) -> Result<Option<OrgRow>, DbError> {
    let updated = sqlx::query(
        "UPDATE organizations SET status = $2::text::org_status, updated_at = now() WHERE id = $1",
    )
    .bind(id.as_uuid())
    .bind(status.as_str())
    .execute(tx.conn())
    .await?;
    if updated.rows_affected() == 0 {
        return Ok(None);
    }
    get(tx, id).await
}

/// What host resolution needs to know about a tenant.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ResolvedOrg {
    /// The tenant.
    pub id: Uuid,
    /// Its slug.
    pub slug: String,
    /// `ACTIVE` or `SUSPENDED`.
    pub status: String,
    /// Web origins allowed to call its API from a browser.
    pub cors_origins: Vec<String>,
    /// Display name.
    pub name: String,
    /// Its `branding` settings (an object, `{}` when unset).
    pub branding: Value,
}

/// The allowed origins of `organizations o`, from its settings, its name
/// and its branding.
macro_rules! cors_origins {
    () => {
        "CASE WHEN jsonb_typeof(o.settings -> 'cors_allowed_origins') = 'array' \
              THEN ARRAY(SELECT jsonb_array_elements_text(o.settings -> 'cors_allowed_origins')) \
              ELSE '{}'::text[] END AS cors_origins, o.name, \
         COALESCE(o.settings -> 'branding', '{}') AS branding"
    };
}

/// Finds the organization whose slug is `slug`.
pub async fn resolve_slug(tx: &mut PlatformTx, slug: &str) -> Result<Option<ResolvedOrg>, DbError> {
    Ok(sqlx::query_as(concat!(
        "SELECT o.id, o.slug, o.status::text AS status, ",
        cors_origins!(),
        " FROM organizations o WHERE o.slug = $1"
    ))
    .bind(slug)
    .fetch_optional(tx.conn())
    .await?)
}

/// Finds the organization that registered and verified the custom domain
/// `domain` (a pending domain serves nothing).
pub async fn resolve_domain(
    tx: &mut PlatformTx,
    domain: &str,
) -> Result<Option<ResolvedOrg>, DbError> {
    Ok(sqlx::query_as(concat!(
        "SELECT o.id, o.slug, o.status::text AS status, ",
        cors_origins!(),
        " FROM organization_domains d JOIN organizations o ON o.id = d.organization_id \
         WHERE d.domain = $1 AND d.verified_at IS NOT NULL"
    ))
    .bind(domain)
    .fetch_optional(tx.conn())
    .await?)
}

/// The current tenant's own organization row, as the tenant sees it.
pub async fn current(tx: &mut TenantTx) -> Result<Option<OrgRow>, DbError> {
    let org = tx.org();
    Ok(sqlx::query_as(org_select!("WHERE o.id = $1"))
        .bind(org.as_uuid())
        .fetch_optional(tx.conn())
        .await?)
}

/// Replaces the current tenant's settings object. Only `settings` (and
/// `updated_at`) are writable by the tenant role, by column grant.
pub async fn save_settings(tx: &mut TenantTx, settings: &Value) -> Result<(), DbError> {
    let org = tx.org();
    sqlx::query("UPDATE organizations SET settings = $2, updated_at = now() WHERE id = $1")
        .bind(org.as_uuid())
        .bind(settings)
        .execute(tx.conn())
        .await?;
    Ok(())
}

/// What one tenant uses: rows and estimated bytes per tenant table, and
/// learners active in the last 30 days (`usage.tenant_usage`, from the row
/// counters that triggers keep).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UsageRow {
    /// The organization.
    pub organization_id: Uuid,
    /// `{"active_learners_30d": n, "tables": {"<table>": {"rows": n, "bytes": n}}}`.
    pub usage: Value,
}

/// The usage of `orgs`, counted in one call for all of them.
pub async fn usage(tx: &mut PlatformTx, orgs: &[Uuid]) -> Result<Vec<UsageRow>, DbError> {
    Ok(
        sqlx::query_as("SELECT organization_id, usage FROM usage.tenant_usage($1)")
            .bind(orgs)
            .fetch_all(tx.conn())
            .await?,
    )
}

/// Re-indexes `org`'s catalog in the search language its settings name
/// (through `steward.apply_search_language`: the platform role does not
/// write courses itself).
pub async fn apply_search_language(tx: &mut PlatformTx, org: OrgId) -> Result<(), DbError> {
    sqlx::query("SELECT steward.apply_search_language($1)")
        .bind(org.as_uuid())
        .execute(tx.conn())
        .await?;
    Ok(())
}

/// Folds the usage counters' deltas (one row per organization and table
/// remains); returns how many rows it folded. Another replica folding at the
/// same moment makes this one return 0.
pub async fn compact_usage(tx: &mut PlatformTx) -> Result<i64, DbError> {
    Ok(sqlx::query_scalar("SELECT usage.compact()")
        .fetch_one(tx.conn())
        .await?)
}
