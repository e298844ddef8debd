//! The audit trail, read (entries are written by the database's trigger).

use chrono::{DateTime, Utc};
use serde_json::Value;
use uuid::Uuid;

use crate::{DbError, TenantTx};

/// One entry.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AuditRow {
    /// Id (UUIDv7: newer is greater).
    pub id: Uuid,
    /// The table changed.
    pub table_name: String,
    /// The row changed (a user-role assignment: its user).
    pub record_id: Uuid,
    /// Action label.
    pub action: String,
    /// The row before.
    pub old_values: Option<Value>,
    /// The row after.
    pub new_values: Option<Value>,
    /// Who.
    pub actor_id: Option<Uuid>,
    /// In which request.
    pub request_id: Option<Uuid>,
    /// When (the transaction's time).
    pub occurred_at: DateTime<Utc>,
}

/// Which entries; every field narrows.
#[derive(Debug, Default, Clone)]
pub struct AuditFilter {
    /// Table name.
    pub table: Option<String>,
    /// Record id.
    pub record: Option<Uuid>,
    /// Actor.
    pub actor: Option<Uuid>,
    /// Action label.
    pub action: Option<&'static str>,
    /// At or after.
    pub from: Option<DateTime<Utc>>,
    /// Before.
    pub to: Option<DateTime<Utc>>,
}

/// Entries matching `f`, newest first, older than `before`.
pub async fn list(
    tx: &mut TenantTx,
    f: &AuditFilter,
    before: Option<Uuid>,
    limit: i64,
) -> Result<Vec<AuditRow>, DbError> {
    let org = tx.org();
    Ok(sqlx::query_as(
        "SELECT id, table_name, record_id, action::text AS action, old_values, new_values, \
                actor_id, request_id, occurred_at \
           FROM audit_logs \
          WHERE organization_id = $1 \
            AND ($2::text IS NULL OR table_name = $2) \
            AND ($3::uuid IS NULL OR record_id = $3) \
            AND ($4::uuid IS NULL OR actor_id = $4) \
            AND ($5::text IS NULL OR action = $5::text::audit_action) \
            AND ($6::timestamptz IS NULL OR occurred_at >= $6) \
            AND ($7::timestamptz IS NULL OR occurred_at < $7) \
            AND ($8::uuid IS NULL OR id < $8) \
          ORDER BY id DESC LIMIT $9",
    )
    .bind(org.as_uuid())
    .bind(f.table.as_deref())
    .bind(f.record)
    .bind(f.actor)
    .bind(f.action)
    .bind(f.from)
    .bind(f.to)
    .bind(before)
    .bind(limit)
    .fetch_all(tx.conn())
    .await?)
}
