//! Roles of an organization.

use chrono::{DateTime, Utc};
use lms_domain::RoleId;
use uuid::Uuid;

use crate::{DbError, TenantTx};

/// A role as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RoleRow {
    /// Id.
    pub id: Uuid,
    /// Unique name.
    pub name: String,
    /// What it is for.
    pub description: Option<String>,
    /// Permission strings.
    pub permissions: sqlx::types::Json<Vec<String>>,
    /// A default role of every organization.
    pub is_system: bool,
    /// How many users hold it.
    pub user_count: i64,
    /// Version, moved by every change.
    pub version: i32,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

macro_rules! role_select {
    ($where:literal) => {
        concat!(
            "SELECT r.id, r.name, r.description, r.permissions, r.is_system, \
                    (SELECT count(*) FROM user_roles ur WHERE ur.organization_id = r.organization_id \
                        AND ur.role_id = r.id) AS user_count, \
                    r.version, r.created_at, r.updated_at \
             FROM roles r ",
            $where
        )
    };
}

/// Every role of the organization, by name.
pub async fn list(tx: &mut TenantTx) -> Result<Vec<RoleRow>, DbError> {
    let org = tx.org();
    Ok(
        sqlx::query_as(role_select!("WHERE r.organization_id = $1 ORDER BY r.name"))
            .bind(org.as_uuid())
            .fetch_all(tx.conn())
            .await?,
    )
}

/// One role.
pub async fn get(tx: &mut TenantTx, id: RoleId) -> Result<Option<RoleRow>, DbError> {
    let org = tx.org();
    Ok(
        sqlx::query_as(role_select!("WHERE r.organization_id = $1 AND r.id = $2"))
            .bind(org.as_uuid())
            .bind(id.as_uuid())
            .fetch_optional(tx.conn())
            .await?,
    )
}

/// One role, locked for a change that depends on its current state.
pub async fn get_for_update(tx: &mut TenantTx, id: RoleId) -> Result<Option<RoleRow>, DbError> {
    let org = tx.org();
    Ok(sqlx::query_as(role_select!(
        "WHERE r.organization_id = $1 AND r.id = $2 FOR UPDATE"
    ))
    .bind(org.as_uuid())
    .bind(id.as_uuid())
    .fetch_optional(tx.conn())
    .await?)
}

/// Creates a custom role.
pub async fn create(
    tx: &mut TenantTx,
    id: RoleId,
    name: &str,
    description: Option<&str>,
    permissions: &[&str],
) -> Result<(), DbError> {
    let org = tx.org();
    sqlx::query(
        "INSERT INTO roles (organization_id, id, name, description, permissions) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(org.as_uuid())
    .bind(id.as_uuid())
    .bind(name)
    .bind(description)
    .bind(sqlx::types::Json(permissions))
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Changes a role; `None` leaves a field as it is.
pub async fn update(
    tx: &mut TenantTx,
    id: RoleId,
    name: Option<&str>,
    description: Option<Option<&str>>,
    permissions: Option<&[&str]>,
) -> Result<(), DbError> {
    let org = tx.org();
    sqlx::query(
        "UPDATE roles SET name = COALESCE($3, name), \
                description = CASE WHEN $4 THEN $5 ELSE description END, \
                permissions = COALESCE($6, permissions), updated_at = now() \
          WHERE organization_id = $1 AND id = $2",
    )
    .bind(org.as_uuid())
    .bind(id.as_uuid())
    .bind(name)
    .bind(description.is_some())
    .bind(description.flatten())
    .bind(permissions.map(sqlx::types::Json))
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Deletes a role (its holders lose it).
pub async fn delete(tx: &mut TenantTx, id: RoleId) -> Result<bool, DbError> {
    let org = tx.org();
    let done = sqlx::query("DELETE FROM roles WHERE organization_id = $1 AND id = $2")
        .bind(org.as_uuid())
        .bind(id.as_uuid())
        .execute(tx.conn())
        .await?;
    Ok(done.rows_affected() == 1)
}

/// The role named `name`: its id and permissions.
pub async fn by_name(
    tx: &mut TenantTx,
    name: &str,
) -> Result<Option<(RoleId, Vec<String>)>, DbError> {
    let org = tx.org();
    let row: Option<(Uuid, sqlx::types::Json<Vec<String>>)> = sqlx::query_as(
        "SELECT id, permissions FROM roles WHERE organization_id = $1 AND name = $2",
    )
    .bind(org.as_uuid())
    .bind(name)
    .fetch_optional(tx.conn())
    .await?;
    Ok(row.map(|(id, p)| (RoleId::from_uuid(id), p.0)))
}

/// The id of the role named `name`.
pub async fn id_by_name(tx: &mut TenantTx, name: &str) -> Result<Option<RoleId>, DbError> {
    let org = tx.org();
    Ok(sqlx::query_scalar::<_, Uuid>(
        "SELECT id FROM roles WHERE organization_id = $1 AND name = $2",
    )
    .bind(org.as_uuid())
    .bind(name)
    .fetch_optional(tx.conn())
    .await?
    .map(RoleId::from_uuid))
}

/// How many active users who can log in (a password is set) hold
/// `permission` through any role: guards against an organization locking
/// itself out.
pub async fn active_holders(tx: &mut TenantTx, permission: &str) -> Result<i64, DbError> {
    let org = tx.org();
    Ok(sqlx::query_scalar(
        "SELECT count(DISTINCT u.id) FROM users u \
           JOIN user_roles ur ON ur.organization_id = u.organization_id AND ur.user_id = u.id \
           JOIN roles r ON r.organization_id = ur.organization_id AND r.id = ur.role_id \
          WHERE u.organization_id = $1 AND u.is_active AND u.password_hash IS NOT NULL \
            AND r.permissions ? $2",
    )
    .bind(org.as_uuid())
    .bind(permission)
    .fetch_one(tx.conn())
    .await?)
}

/// Serialises changes that can take role management away from someone
/// (removing a role, editing or deleting one, deactivating a user) within a
/// tenant, so the "someone can still manage roles" check after each change
/// cannot be passed by two concurrent changes that together break it.
pub async fn lock_assignments(tx: &mut TenantTx) -> Result<(), DbError> {
    let org = tx.org();
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended('roles:' || $1::text, 0))")
        .bind(org.as_uuid())
        .execute(tx.conn())
        .await?;
    Ok(())
}
