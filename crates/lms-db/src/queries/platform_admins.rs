//! Operators of the platform.

use chrono::{DateTime, Utc};
use lms_domain::PlatformAdminId;
use uuid::Uuid;

use crate::{DbError, PlatformTx};

/// A platform admin as stored (the hash stays in this crate's callers' hands
/// only for verification).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PlatformAdminRow {
    /// Id.
    pub id: Uuid,
    /// Login e-mail, normalised.
    pub email: String,
    /// Display name.
    pub display_name: String,
    /// Argon2id hash.
    pub password_hash: String,
    /// Whether the admin may log in.
    pub is_active: bool,
    /// `OPERATOR` or `SUPPORT`.
    pub role: String,
    /// Creation time.
    pub created_at: DateTime<Utc>,
}

/// Creates a platform admin.
pub async fn create(
    tx: &mut PlatformTx,
    id: PlatformAdminId,
    email: &str,
    display_name: &str,
    password_hash: &str,
    role: &str,
) -> Result<(), DbError> {
    sqlx::query(
        "INSERT INTO platform_admins (id, email, display_name, password_hash, role) \
         VALUES ($1, $2, $3, $4, $5::text::platform_role)",
    )
    .bind(id.as_uuid())
    .bind(email)
    .bind(display_name)
    .bind(password_hash)
    .bind(role)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// A platform admin by login e-mail.
pub async fn by_email(
    tx: &mut PlatformTx,
    email: &str,
) -> Result<Option<PlatformAdminRow>, DbError> {
    Ok(sqlx::query_as(
        "SELECT id, email, display_name, password_hash, is_active, role::text AS role, created_at \
         FROM platform_admins WHERE email = $1",
    )
    .bind(email)
    .fetch_optional(tx.conn())
    .await?)
}

/// The admin's role (`OPERATOR` or `SUPPORT`) when they are active and the
/// token's session live (checked on every platform request); `None`
/// otherwise.
pub async fn active_role(
    tx: &mut PlatformTx,
    id: PlatformAdminId,
    session: Uuid,
) -> Result<Option<String>, DbError> {
    Ok(sqlx::query_scalar(
        "SELECT a.role::text FROM platform_admins a \
           JOIN platform_sessions s ON s.admin_id = a.id AND s.id = $2 AND s.revoked_at IS NULL \
          WHERE a.id = $1 AND a.is_active",
    )
    .bind(id.as_uuid())
    .bind(session)
    .fetch_optional(tx.conn())
    .await?)
}

/// Every platform admin, oldest first (a short list).
pub async fn list(tx: &mut PlatformTx) -> Result<Vec<PlatformAdminRow>, DbError> {
    Ok(sqlx::query_as(
        "SELECT id, email, display_name, password_hash, is_active, role::text AS role, created_at \
         FROM platform_admins ORDER BY id",
    )
    .fetch_all(tx.conn())
    .await?)
}

/// One platform admin.
pub async fn get(
    tx: &mut PlatformTx,
    id: PlatformAdminId,
) -> Result<Option<PlatformAdminRow>, DbError> {
    Ok(sqlx::query_as(
        "SELECT id, email, display_name, password_hash, is_active, role::text AS role, created_at \
         FROM platform_admins WHERE id = $1",
    )
    .bind(id.as_uuid())
    .fetch_optional(tx.conn())
    .await?)
}

/// Activates or deactivates a platform admin; `false` when there is none.
pub async fn set_active(
    tx: &mut PlatformTx,
    id: PlatformAdminId,
    active: bool,
) -> Result<bool, DbError> {
    let done =
        sqlx::query("UPDATE platform_admins SET is_active = $2, updated_at = now() WHERE id = $1")
            .bind(id.as_uuid())
            .bind(active)
            .execute(tx.conn())
            .await?;
    Ok(done.rows_affected() == 1)
}

/// Records a successful login.
pub async fn touch_login(tx: &mut PlatformTx, id: PlatformAdminId) -> Result<(), DbError> {
    sqlx::query("UPDATE platform_admins SET last_login_at = now() WHERE id = $1")
        .bind(id.as_uuid())
        .execute(tx.conn())
        .await?;
    Ok(())
}
