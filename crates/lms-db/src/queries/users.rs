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
    /// Optional handle, unique in the organization.
    pub username: Option<String>,
    /// Given name.
    pub first_name: String,
    /// Family name.
    pub last_name: String,
    /// Avatar image.
    pub avatar_url: Option<String>,
    /// Whether the user may log in.
    pub is_active: bool,
    /// Names of the roles held.
    pub roles: Vec<String>,
    /// Last successful login.
    pub last_login_at: Option<DateTime<Utc>>,
    /// Version, moved by every change of the profile or status.
    pub version: i32,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

macro_rules! user_select {
    ($where:literal) => {
        concat!(
            "SELECT u.id, u.email, u.username, u.first_name, u.last_name, u.avatar_url, u.is_active, \
                    COALESCE((SELECT array_agg(r.name ORDER BY r.name) FROM user_roles ur \
                              JOIN roles r ON r.organization_id = ur.organization_id AND r.id = ur.role_id \
                              WHERE ur.organization_id = u.organization_id AND ur.user_id = u.id), '{}') AS roles, \
                    u.last_login_at, u.version, u.created_at, u.updated_at \
             FROM users u ",
            $where
        )
    };
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

/// Seeds a new organization (through `steward.seed_organization`, the only
/// way the platform role writes users and roles): the default roles and the
/// first admin, holding `admin_role`. Refused by the database once the
/// organization has any role or user.
pub async fn seed_organization(
    tx: &mut TenantTx,
    admin: &NewUser<'_>,
    admin_role: &str,
) -> Result<(), DbError> {
    let org = tx.org();
    let roles: Vec<serde_json::Value> = DEFAULT_ROLES
        .iter()
        .map(|role| {
            serde_json::json!({
                "id": RoleId::new(),
                "name": role.name,
                "description": role.description,
                "permissions": role.permissions.iter().map(|p| p.as_str()).collect::<Vec<_>>(),
            })
        })
        .collect();
    let admin = serde_json::json!({
        "id": admin.id,
        "email": admin.email,
        "first_name": admin.first_name,
        "last_name": admin.last_name,
        "password_hash": admin.password_hash,
    });
    sqlx::query("SELECT steward.seed_organization($1, $2, $3, $4)")
        .bind(org.as_uuid())
        .bind(serde_json::Value::Array(roles))
        .bind(admin)
        .bind(admin_role)
        .execute(tx.conn())
        .await?;
    Ok(())
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
    Ok(
        sqlx::query_as(user_select!("WHERE u.organization_id = $1 AND u.id = $2"))
            .bind(org.as_uuid())
            .bind(id.as_uuid())
            .fetch_optional(tx.conn())
            .await?,
    )
}

/// Filters of the user list.
#[derive(Debug, Default)]
pub struct UserFilter<'a> {
    /// Only holders of the role with this name.
    pub role: Option<&'a str>,
    /// Only active (or only deactivated) users.
    pub active: Option<bool>,
    /// Substring of the e-mail or the full name, case-insensitive.
    pub search: Option<&'a str>,
    /// Keyset cursor: users created before this one.
    pub before: Option<UserId>,
    /// Page size.
    pub limit: i64,
}

/// A page of users, newest first.
pub async fn list(tx: &mut TenantTx, f: &UserFilter<'_>) -> Result<Vec<UserRow>, DbError> {
    let org = tx.org();
    let pattern = f.search.map(|q| format!("%{}%", escape_like(q)));
    Ok(sqlx::query_as(user_select!(
        "WHERE u.organization_id = $1 \
           AND ($2::bool IS NULL OR u.is_active = $2) \
           AND ($3::text IS NULL OR EXISTS ( \
                SELECT 1 FROM user_roles ur JOIN roles r ON r.organization_id = ur.organization_id AND r.id = ur.role_id \
                 WHERE ur.organization_id = u.organization_id AND ur.user_id = u.id AND r.name = $3)) \
           AND ($4::text IS NULL OR u.email ILIKE $4 OR (u.first_name || ' ' || u.last_name) ILIKE $4 \
                OR u.username ILIKE $4) \
           AND ($5::uuid IS NULL OR u.id < $5) \
         ORDER BY u.id DESC LIMIT $6"
    ))
    .bind(org.as_uuid())
    .bind(f.active)
    .bind(f.role)
    .bind(pattern)
    .bind(f.before.map(|u| u.as_uuid()))
    .bind(f.limit)
    .fetch_all(tx.conn())
    .await?)
}

/// `q` with LIKE's wildcards taken literally.
fn escape_like(q: &str) -> String {
    q.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

/// Changes to a user; `None` leaves a field as it is.
#[derive(Debug, Default)]
pub struct UserPatch<'a> {
    /// New e-mail (normalised).
    pub email: Option<&'a str>,
    /// New username, or cleared.
    pub username: Option<Option<&'a str>>,
    /// New given name.
    pub first_name: Option<&'a str>,
    /// New family name.
    pub last_name: Option<&'a str>,
    /// New avatar, or cleared.
    pub avatar_url: Option<Option<&'a str>>,
}

/// Updates a user; `false` when there is no such user.
pub async fn update(tx: &mut TenantTx, id: UserId, p: &UserPatch<'_>) -> Result<bool, DbError> {
    let org = tx.org();
    let done = sqlx::query(
        "UPDATE users SET \
            email = COALESCE($3, email), \
            username = CASE WHEN $4 THEN $5 ELSE username END, \
            first_name = COALESCE($6, first_name), \
            last_name = COALESCE($7, last_name), \
            avatar_url = CASE WHEN $8 THEN $9 ELSE avatar_url END, \
            updated_at = now() \
         WHERE organization_id = $1 AND id = $2",
    )
    .bind(org.as_uuid())
    .bind(id.as_uuid())
    .bind(p.email)
    .bind(p.username.is_some())
    .bind(p.username.flatten())
    .bind(p.first_name)
    .bind(p.last_name)
    .bind(p.avatar_url.is_some())
    .bind(p.avatar_url.flatten())
    .execute(tx.conn())
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Activates or deactivates a user; `false` when there is no such user.
pub async fn set_active(tx: &mut TenantTx, id: UserId, active: bool) -> Result<bool, DbError> {
    let org = tx.org();
    let done = sqlx::query(
        "UPDATE users SET is_active = $3, updated_at = now() WHERE organization_id = $1 AND id = $2",
    )
    .bind(org.as_uuid())
    .bind(id.as_uuid())
    .bind(active)
    .execute(tx.conn())
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Sets a new password hash.
pub async fn set_password(tx: &mut TenantTx, id: UserId, hash: &str) -> Result<(), DbError> {
    let org = tx.org();
    sqlx::query("UPDATE users SET password_hash = $3, updated_at = now() WHERE organization_id = $1 AND id = $2")
        .bind(org.as_uuid())
        .bind(id.as_uuid())
        .bind(hash)
        .execute(tx.conn())
        .await?;
    Ok(())
}

/// The stored password hash of a user.
pub async fn password_hash(tx: &mut TenantTx, id: UserId) -> Result<Option<String>, DbError> {
    let org = tx.org();
    Ok(
        sqlx::query_scalar(
            "SELECT password_hash FROM users WHERE organization_id = $1 AND id = $2",
        )
        .bind(org.as_uuid())
        .bind(id.as_uuid())
        .fetch_optional(tx.conn())
        .await?
        .flatten(),
    )
}

/// Takes a role from a user; `false` when the user did not hold it.
pub async fn remove_role(tx: &mut TenantTx, user: UserId, role: RoleId) -> Result<bool, DbError> {
    let org = tx.org();
    let done = sqlx::query(
        "DELETE FROM user_roles WHERE organization_id = $1 AND user_id = $2 AND role_id = $3",
    )
    .bind(org.as_uuid())
    .bind(user.as_uuid())
    .bind(role.as_uuid())
    .execute(tx.conn())
    .await?;
    Ok(done.rows_affected() == 1)
}

/// A user's profile.
#[derive(Debug, Clone, Default, sqlx::FromRow)]
pub struct ProfileRow {
    /// About the user.
    pub bio: Option<String>,
    /// Where they are.
    pub location: Option<String>,
    /// Their site.
    pub website: Option<String>,
    /// Links by network.
    pub social_links: Option<serde_json::Value>,
    /// Learning and notification preferences.
    pub preferences: Option<serde_json::Value>,
}

/// The profile of a user (empty when never set).
pub async fn profile(tx: &mut TenantTx, user: UserId) -> Result<ProfileRow, DbError> {
    let org = tx.org();
    Ok(sqlx::query_as(
        "SELECT bio, location, website, social_links, preferences FROM user_profiles \
          WHERE organization_id = $1 AND user_id = $2",
    )
    .bind(org.as_uuid())
    .bind(user.as_uuid())
    .fetch_optional(tx.conn())
    .await?
    .unwrap_or_default())
}

/// Writes a whole profile (insert or replace).
pub async fn save_profile(tx: &mut TenantTx, user: UserId, p: &ProfileRow) -> Result<(), DbError> {
    let org = tx.org();
    sqlx::query(
        "INSERT INTO user_profiles (organization_id, user_id, bio, location, website, social_links, preferences) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) \
         ON CONFLICT (organization_id, user_id) DO UPDATE SET \
            bio = EXCLUDED.bio, location = EXCLUDED.location, website = EXCLUDED.website, \
            social_links = EXCLUDED.social_links, preferences = EXCLUDED.preferences, updated_at = now()",
    )
    .bind(org.as_uuid())
    .bind(user.as_uuid())
    .bind(&p.bio)
    .bind(&p.location)
    .bind(&p.website)
    .bind(&p.social_links)
    .bind(&p.preferences)
    .execute(tx.conn())
    .await?;
    Ok(())
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

/// Loads the actor of a request, in the request's own transaction: `None`
/// unless the user exists and the token's session is live.
pub async fn actor(
    tx: &mut TenantTx,
    id: UserId,
    session: Uuid,
) -> Result<Option<ActorRow>, DbError> {
    let org = tx.org();
    Ok(sqlx::query_as(
        "SELECT u.is_active, \
                COALESCE((SELECT array_agg(DISTINCT p.value) \
                          FROM user_roles ur \
                          JOIN roles r ON r.organization_id = ur.organization_id AND r.id = ur.role_id \
                          CROSS JOIN LATERAL jsonb_array_elements_text(r.permissions) AS p(value) \
                          WHERE ur.organization_id = u.organization_id AND ur.user_id = u.id), '{}') AS permissions \
         FROM users u \
         JOIN auth_sessions s ON s.organization_id = u.organization_id AND s.user_id = u.id \
                             AND s.id = $3 AND s.revoked_at IS NULL \
         WHERE u.organization_id = $1 AND u.id = $2",
    )
    .bind(org.as_uuid())
    .bind(id.as_uuid())
    .bind(session)
    .fetch_optional(tx.conn())
    .await?)
}

/// Every permission a user holds through their roles.
pub async fn permissions(tx: &mut TenantTx, id: UserId) -> Result<Vec<String>, DbError> {
    let org = tx.org();
    Ok(sqlx::query_scalar(
        "SELECT DISTINCT p.value FROM user_roles ur \
           JOIN roles r ON r.organization_id = ur.organization_id AND r.id = ur.role_id \
           CROSS JOIN LATERAL jsonb_array_elements_text(r.permissions) AS p(value) \
          WHERE ur.organization_id = $1 AND ur.user_id = $2",
    )
    .bind(org.as_uuid())
    .bind(id.as_uuid())
    .fetch_all(tx.conn())
    .await?)
}

/// Locks a user for a change and reads their version.
pub async fn lock_version(tx: &mut TenantTx, id: UserId) -> Result<Option<i32>, DbError> {
    let org = tx.org();
    Ok(sqlx::query_scalar(
        "SELECT version FROM users WHERE organization_id = $1 AND id = $2 FOR UPDATE",
    )
    .bind(org.as_uuid())
    .bind(id.as_uuid())
    .fetch_optional(tx.conn())
    .await?)
}
