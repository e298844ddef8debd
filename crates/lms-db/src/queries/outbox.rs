//! The event outbox: domain events appended in the transaction of their
//! change (see `migrations/0010_outbox.sql`).

use chrono::{DateTime, Utc};
use serde_json::Value;
use uuid::Uuid;

use lms_domain::OrgId;
use sqlx::PgConnection;

use crate::{DbError, PlatformTx, TenantTx};

/// An event to append.
#[derive(Debug, Clone)]
pub struct NewEvent {
    /// UUIDv7, made when the event was emitted: the feed's order.
    pub id: Uuid,
    /// `<aggregate>.<what happened>`.
    pub event_type: &'static str,
    /// The row the event is about.
    pub subject_id: Uuid,
    /// Ids and the few fields a consumer needs.
    pub payload: Value,
}

/// Appends `events` in one statement. The actor is the transaction's acting
/// user (`app.user_id`), never a value of the caller's: the policies refuse
/// any other.
pub async fn append(
    tx: &mut TenantTx,
    request_id: Option<&str>,
    events: &[NewEvent],
) -> Result<(), DbError> {
    let org = tx.org();
    insert(tx.conn(), org, request_id, events).await
}

/// Appends events of tenant `org` from an operator's transaction: enters
/// the tenant for the statement (its policies apply as to the tenant's own
/// writes), and leaves it again.
pub async fn append_for(
    tx: &mut PlatformTx,
    org: OrgId,
    request_id: Option<&str>,
    events: &[NewEvent],
) -> Result<(), DbError> {
    let conn = tx.conn();
    sqlx::query("SELECT set_config('app.org_id', $1::text, true)")
        .bind(org.to_string())
        .execute(&mut *conn)
        .await?;
    insert(&mut *conn, org, request_id, events).await?;
    sqlx::query("SELECT set_config('app.org_id', '', true)")
        .execute(conn)
        .await?;
    Ok(())
}

async fn insert(
    conn: &mut PgConnection,
    org: OrgId,
    request_id: Option<&str>,
    events: &[NewEvent],
) -> Result<(), DbError> {
    let ids: Vec<Uuid> = events.iter().map(|e| e.id).collect();
    let types: Vec<&str> = events.iter().map(|e| e.event_type).collect();
    let subjects: Vec<Uuid> = events.iter().map(|e| e.subject_id).collect();
    let payloads: Vec<&Value> = events.iter().map(|e| &e.payload).collect();
    sqlx::query(
        "INSERT INTO outbox_events (organization_id, id, event_type, subject_id, actor_id, request_id, payload) \
         SELECT $1, e.id, e.event_type, e.subject_id, app.current_user_id(), $2, e.payload \
           FROM unnest($3::uuid[], $4::text[], $5::uuid[], $6::jsonb[]) AS e(id, event_type, subject_id, payload)",
    )
    .bind(org.as_uuid())
    .bind(request_id.filter(|r| !r.is_empty()))
    .bind(&ids)
    .bind(&types)
    .bind(&subjects)
    .bind(&payloads)
    .execute(conn)
    .await?;
    Ok(())
}

/// An event as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct EventRow {
    /// Id (UUIDv7).
    pub id: Uuid,
    /// Type.
    pub event_type: String,
    /// Subject.
    pub subject_id: Uuid,
    /// Acting user, if any.
    pub actor_id: Option<Uuid>,
    /// Request that made the change.
    pub request_id: Option<String>,
    /// Payload object.
    pub payload: Value,
    /// When.
    pub occurred_at: DateTime<Utc>,
}

/// Filters of the event feed.
#[derive(Debug, Default)]
pub struct EventFilter<'a> {
    /// Only this type.
    pub event_type: Option<&'a str>,
    /// Only events about this row.
    pub subject_id: Option<Uuid>,
    /// Events older than this id (the previous page's last).
    pub before: Option<Uuid>,
    /// Page size (fetch one more to know whether there is a next page).
    pub limit: i64,
}

/// A page of the feed, newest first.
pub async fn list(tx: &mut TenantTx, f: &EventFilter<'_>) -> Result<Vec<EventRow>, DbError> {
    let org = tx.org();
    Ok(sqlx::query_as(
        "SELECT id, event_type, subject_id, actor_id, request_id, payload, occurred_at \
           FROM outbox_events \
          WHERE organization_id = $1 \
            AND ($2::text IS NULL OR event_type = $2) \
            AND ($3::uuid IS NULL OR subject_id = $3) \
            AND ($4::uuid IS NULL OR id < $4) \
          ORDER BY id DESC LIMIT $5",
    )
    .bind(org.as_uuid())
    .bind(f.event_type)
    .bind(f.subject_id)
    .bind(f.before)
    .bind(f.limit)
    .fetch_all(tx.conn())
    .await?)
}
