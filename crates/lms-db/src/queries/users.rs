//! Users, their roles, and what a request needs to know about its actor.

use chrono::{DateTime, Utc};
use lms_domain::{DEFAULT_ROLES, RoleId, UserId};
use uuid::Uuid;

use crate::{DbError, TenantTx};

/// A user as the API shows it (no hash).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UserRow {
    /// Id.
    pub id: Uuid,
    /// Login e-mail, normalised.
    pub email: String,
    /// Given name.
    pub first_name: String,
    /// Family name.
    pub last_name: String,
    /// Whether the user may log in.
    pub is_active: bool,
    /// Names of the roles held.
    pub roles: Vec<String>,
    /// Last successful login.
    pub last_login_at: Option<DateTime<Utc>>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
}

/// A new user.
#[derive(Debug)]
pub struct NewUser<'a> {
    /// Id to give.
    pub id: UserId,
    /// Normalised e-mail.
    pub email: &'a str,
    /// Given name.
    pub first_name: &'a str,
    /// Family name.
    pub last_name: &'a str,
    /// Argon2id hash, if a password is set.
    pub password_hash: Option<&'a str>,
}

/// Creates the default roles of a new organization; returns their ids by name.
pub async fn create_default_roles(
    tx: &mut TenantTx,
) -> Result<Vec<(&'static str, RoleId)>, DbError> {
    let org = tx.org();
    let mut out = Vec::with_capacity(DEFAULT_ROLES.len());
    for role in DEFAULT_ROLES {
        let id = RoleId::new();
        let permissions: Vec<&str> = role.permissions.iter().map(|p| p.as_str()).collect();
        sqlx::query(
            "INSERT INTO roles (organization_id, id, name, description, permissions, is_system) \
             VALUES ($1, $2, $3, $4, $5, true)",
        )
        .bind(org.as_uuid())
        .bind(id.as_uuid())
        .bind(role.name)
        .bind(role.description)
        .bind(sqlx::types::Json(permissions))
        .execute(tx.conn())
        .await?;
        out.push((role.name, id));
    }
    Ok(out)
}

/// Creates a user.
pub async fn create(tx: &mut TenantTx, user: &NewUser<'_>) -> Result<(), DbError> {
    let org = tx.org();
    sqlx::query(
        "INSERT INTO users (organization_id, id, email, first_name, last_name, password_hash) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(org.as_uuid())
    .bind(user.id.as_uuid())
    .bind(user.email)
    .bind(user.first_name)
    .bind(user.last_name)
    .bind(user.password_hash)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Gives a user a role.
pub async fn assign_role(tx: &mut TenantTx, user: UserId, role: RoleId) -> Result<(), DbError> {
    let org = tx.org();
    sqlx::query(
        "INSERT INTO user_roles (organization_id, user_id, role_id) VALUES ($1, $2, $3) \
         ON CONFLICT DO NOTHING",
    )
    .bind(org.as_uuid())
    .bind(user.as_uuid())
    .bind(role.as_uuid())
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// One user by id.
pub async fn get(tx: &mut TenantTx, id: UserId) -> Result<Option<UserRow>, DbError> {
    let org = tx.org();
    Ok(sqlx::query_as(
        "SELECT u.id, u.email, u.first_name, u.last_name, u.is_active, \
                COALESCE((SELECT array_agg(r.name ORDER BY r.name) FROM user_roles ur \
                          JOIN roles r ON r.organization_id = ur.organization_id AND r.id = ur.role_id \
                          WHERE ur.organization_id = u.organization_id AND ur.user_id = u.id), '{}') AS roles, \
                u.last_login_at, u.created_at \
         FROM users u WHERE u.organization_id = $1 AND u.id = $2",
    )
    .bind(org.as_uuid())
    .bind(id.as_uuid())
    .fetch_optional(tx.conn())
    .await?)
}

/// What login needs: the id, the hash and whether the user is active.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct LoginRow {
    /// Id.
    pub id: Uuid,
    /// Argon2id hash; `None` for an invited user who never set a password.
    pub password_hash: Option<String>,
    /// Whether the user may log in.
    pub is_active: bool,
}

/// The login record for an e-mail in the current tenant.
pub async fn login_by_email(tx: &mut TenantTx, email: &str) -> Result<Option<LoginRow>, DbError> {
    let org = tx.org();
    Ok(sqlx::query_as(
        "SELECT id, password_hash, is_active FROM users WHERE organization_id = $1 AND email = $2",
    )
    .bind(org.as_uuid())
    .bind(email)
    .fetch_optional(tx.conn())
    .await?)
}

/// Records a successful login.
pub async fn touch_login(tx: &mut TenantTx, id: UserId) -> Result<(), DbError> {
    let org = tx.org();
    sqlx::query("UPDATE users SET last_login_at = now() WHERE organization_id = $1 AND id = $2")
        .bind(org.as_uuid())
        .bind(id.as_uuid())
        .execute(tx.conn())
        .await?;
    Ok(())
}

/// The actor of a request: active or not, and the union of its roles'
/// permissions. `None` when the user does not exist in this tenant.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ActorRow {
    /// Whether the user may act.
    pub is_active: bool,
    /// Every permission string of every role held.
    pub permissions: Vec<String>,
}

/// Loads the actor of a request, in the request's own transaction.
pub async fn actor(tx: &mut TenantTx, id: UserId) -> Result<Option<ActorRow>, DbError> {
    let org = tx.org();
    Ok(sqlx::query_as(
        "SELECT u.is_active, \
                COALESCE((SELECT array_agg(DISTINCT p.value) \
                          FROM user_roles ur \
                          JOIN roles r ON r.organization_id = ur.organization_id AND r.id = ur.role_id \
                          CROSS JOIN LATERAL jsonb_array_elements_text(r.permissions) AS p(value) \
                          WHERE ur.organization_id = u.organization_id AND ur.user_id = u.id), '{}') AS permissions \
         FROM users u WHERE u.organization_id = $1 AND u.id = $2",
    )
    .bind(org.as_uuid())
    .bind(id.as_uuid())
    .fetch_optional(tx.conn())
    .await?)
}
