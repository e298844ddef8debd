//! What platform admins did: the platform's own audit trail. An entry names
//! the organization it acted on without a foreign key, so it outlives the
//! organization.

use chrono::{DateTime, Utc};
use serde_json::Value;
use uuid::Uuid;

use crate::{DbError, PlatformTx};

/// An entry of the platform audit trail.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PlatformAuditRow {
    /// Id (UUIDv7: sorts by time).
    pub id: Uuid,
    /// The platform admin who acted (`None` once they are removed).
    pub admin_id: Option<Uuid>,
    /// What they did, `<subject>.<verb>`.
    pub action: String,
    /// The organization acted on, if one.
    pub organization_id: Option<Uuid>,
    /// What else the entry records.
    pub details: Value,
    /// The request that did it.
    pub request_id: Option<Uuid>,
    /// When.
    pub created_at: DateTime<Utc>,
}

/// Appends an entry, in the transaction of the action it records.
pub async fn append(
    tx: &mut PlatformTx,
    admin: Option<Uuid>,
    action: &str,
    organization: Option<Uuid>,
    details: &Value,
    request_id: Option<Uuid>,
) -> Result<(), DbError> {
    sqlx::query(
        "INSERT INTO platform_audit_logs (id, admin_id, action, target_org_id, details, request_id) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(Uuid::now_v7())
    .bind(admin)
    .bind(action)
    .bind(organization)
    .bind(details)
    .bind(request_id)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Which entries to list.
#[derive(Debug, Default, Clone)]
pub struct PlatformAuditFilter {
    /// Of this organization.
    pub organization: Option<Uuid>,
    /// By this admin.
    pub admin: Option<Uuid>,
    /// This action.
    pub action: Option<String>,
    /// At or after.
    pub since: Option<DateTime<Utc>>,
    /// Before.
    pub until: Option<DateTime<Utc>>,
}

/// Entries newest first, before the `before` id (keyset).
pub async fn list(
    tx: &mut PlatformTx,
    f: &PlatformAuditFilter,
    before: Option<Uuid>,
    limit: i64,
) -> Result<Vec<PlatformAuditRow>, DbError> {
    Ok(sqlx::query_as(
        "SELECT id, admin_id, action, target_org_id AS organization_id, details, request_id, created_at \
           FROM platform_audit_logs \
          WHERE ($1::uuid IS NULL OR target_org_id = $1) AND ($2::uuid IS NULL OR admin_id = $2) \
            AND ($3::text IS NULL OR action = $3) AND ($4::timestamptz IS NULL OR created_at >= $4) \
            AND ($5::timestamptz IS NULL OR created_at < $5) AND ($6::uuid IS NULL OR id < $6) \
          ORDER BY id DESC LIMIT $7",
    )
    .bind(f.organization)
    .bind(f.admin)
    .bind(f.action.as_deref())
    .bind(f.since)
    .bind(f.until)
    .bind(before)
    .bind(limit)
    .fetch_all(tx.conn())
    .await?)
}
