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

/// Registers a custom domain for an organization.
pub async fn add_domain(tx: &mut PlatformTx, org: OrgId, domain: &str) -> Result<(), DbError> {
    sqlx::query("INSERT INTO organization_domains (organization_id, domain) VALUES ($1, $2)")
        .bind(org.as_uuid())
        .bind(domain)
        .execute(tx.conn())
        .await?;
    Ok(())
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
}

/// Finds the organization whose slug is `slug`.
pub async fn resolve_slug(tx: &mut PlatformTx, slug: &str) -> Result<Option<ResolvedOrg>, DbError> {
    Ok(
        sqlx::query_as(
            "SELECT id, slug, status::text AS status FROM organizations WHERE slug = $1",
        )
        .bind(slug)
        .fetch_optional(tx.conn())
        .await?,
    )
}

/// Finds the organization that registered the custom domain `domain`.
pub async fn resolve_domain(
    tx: &mut PlatformTx,
    domain: &str,
) -> Result<Option<ResolvedOrg>, DbError> {
    Ok(sqlx::query_as(
        "SELECT o.id, o.slug, o.status::text AS status \
         FROM organization_domains d JOIN organizations o ON o.id = d.organization_id \
         WHERE d.domain = $1",
    )
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
