//! Login sessions and rotating refresh tokens, for tenant users and for
//! platform admins. See `migrations/0006_sessions.sql` for the model.

use chrono::{DateTime, Utc};
use lms_domain::{PlatformAdminId, UserId};
use uuid::Uuid;

use crate::{DbError, PlatformTx, TenantTx};

/// What presenting a refresh token led to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Redemption {
    /// The token was live and is now spent; the session may continue.
    Redeemed {
        /// The session (token family).
        session: Uuid,
        /// Its user (or platform admin).
        subject: Uuid,
    },
    /// The token had been spent before: the session was revoked.
    Reused {
        /// The user (or platform admin) whose session it was.
        subject: Uuid,
        /// Whether this presentation ended the session (it was live).
        revoked: bool,
    },
    /// Unknown, expired, or its session or user is no longer valid.
    Invalid,
}

/// Opens a session for `user`.
pub async fn open(tx: &mut TenantTx, id: Uuid, user: UserId) -> Result<(), DbError> {
    let org = tx.org();
    sqlx::query("INSERT INTO auth_sessions (organization_id, id, user_id) VALUES ($1, $2, $3)")
        .bind(org.as_uuid())
        .bind(id)
        .bind(user.as_uuid())
        .execute(tx.conn())
        .await?;
    Ok(())
}

/// Stores the digest of a new refresh token of `session`.
pub async fn add_refresh_token(
    tx: &mut TenantTx,
    session: Uuid,
    digest: &[u8],
    expires_at: DateTime<Utc>,
) -> Result<(), DbError> {
    let org = tx.org();
    sqlx::query(
        "INSERT INTO refresh_tokens (organization_id, id, session_id, token_hash, expires_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(org.as_uuid())
    .bind(Uuid::now_v7())
    .bind(session)
    .bind(digest)
    .bind(expires_at)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Spends a refresh token. The `UPDATE … WHERE used_at IS NULL` is the
/// single point where two concurrent redemptions of one token are decided:
/// exactly one wins, the other is treated as reuse.
pub async fn redeem(tx: &mut TenantTx, digest: &[u8]) -> Result<Redemption, DbError> {
    let org = tx.org();
    let won: Option<(Uuid, Uuid)> = sqlx::query_as(
        "UPDATE refresh_tokens t SET used_at = now() \
           FROM auth_sessions s JOIN users u ON u.organization_id = s.organization_id AND u.id = s.user_id \
          WHERE t.organization_id = $1 AND t.token_hash = $2 AND t.used_at IS NULL AND t.expires_at > now() \
            AND s.organization_id = t.organization_id AND s.id = t.session_id \
            AND s.revoked_at IS NULL AND u.is_active \
         RETURNING s.id, s.user_id",
    )
    .bind(org.as_uuid())
    .bind(digest)
    .fetch_optional(tx.conn())
    .await?;
    if let Some((session, subject)) = won {
        sqlx::query(
            "UPDATE auth_sessions SET last_used_at = now() WHERE organization_id = $1 AND id = $2",
        )
        .bind(org.as_uuid())
        .bind(session)
        .execute(tx.conn())
        .await?;
        return Ok(Redemption::Redeemed { session, subject });
    }
    let spent: Option<(Uuid, Uuid)> = sqlx::query_as(
        "SELECT t.session_id, s.user_id FROM refresh_tokens t \
           JOIN auth_sessions s ON s.organization_id = t.organization_id AND s.id = t.session_id \
          WHERE t.organization_id = $1 AND t.token_hash = $2 AND t.used_at IS NOT NULL",
    )
    .bind(org.as_uuid())
    .bind(digest)
    .fetch_optional(tx.conn())
    .await?;
    match spent {
        Some((session, subject)) => {
            let revoked = revoke(tx, session).await?;
            Ok(Redemption::Reused { subject, revoked })
        }
        None => Ok(Redemption::Invalid),
    }
}

/// Revokes one session; `false` when it had ended already.
pub async fn revoke(tx: &mut TenantTx, session: Uuid) -> Result<bool, DbError> {
    let org = tx.org();
    let done = sqlx::query(
        "UPDATE auth_sessions SET revoked_at = now() \
          WHERE organization_id = $1 AND id = $2 AND revoked_at IS NULL",
    )
    .bind(org.as_uuid())
    .bind(session)
    .execute(tx.conn())
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Revokes every live session of `user` except `keep`.
pub async fn revoke_all_of(
    tx: &mut TenantTx,
    user: UserId,
    keep: Option<Uuid>,
) -> Result<u64, DbError> {
    let org = tx.org();
    let done = sqlx::query(
        "UPDATE auth_sessions SET revoked_at = now() \
          WHERE organization_id = $1 AND user_id = $2 AND revoked_at IS NULL \
            AND ($3::uuid IS NULL OR id <> $3)",
    )
    .bind(org.as_uuid())
    .bind(user.as_uuid())
    .bind(keep)
    .execute(tx.conn())
    .await?;
    Ok(done.rows_affected())
}

/// Opens a platform session for `admin`.
pub async fn open_platform(
    tx: &mut PlatformTx,
    id: Uuid,
    admin: PlatformAdminId,
) -> Result<(), DbError> {
    sqlx::query("INSERT INTO platform_sessions (id, admin_id) VALUES ($1, $2)")
        .bind(id)
        .bind(admin.as_uuid())
        .execute(tx.conn())
        .await?;
    Ok(())
}

/// Stores the digest of a new platform refresh token.
pub async fn add_platform_refresh_token(
    tx: &mut PlatformTx,
    session: Uuid,
    digest: &[u8],
    expires_at: DateTime<Utc>,
) -> Result<(), DbError> {
    sqlx::query(
        "INSERT INTO platform_refresh_tokens (id, session_id, token_hash, expires_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(Uuid::now_v7())
    .bind(session)
    .bind(digest)
    .bind(expires_at)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Spends a platform refresh token; same rules as [`redeem`].
pub async fn redeem_platform(tx: &mut PlatformTx, digest: &[u8]) -> Result<Redemption, DbError> {
    let won: Option<(Uuid, Uuid)> = sqlx::query_as(
        "UPDATE platform_refresh_tokens t SET used_at = now() \
           FROM platform_sessions s JOIN platform_admins a ON a.id = s.admin_id \
          WHERE t.token_hash = $1 AND t.used_at IS NULL AND t.expires_at > now() \
            AND s.id = t.session_id AND s.revoked_at IS NULL AND a.is_active \
         RETURNING s.id, s.admin_id",
    )
    .bind(digest)
    .fetch_optional(tx.conn())
    .await?;
    if let Some((session, subject)) = won {
        sqlx::query("UPDATE platform_sessions SET last_used_at = now() WHERE id = $1")
            .bind(session)
            .execute(tx.conn())
            .await?;
        return Ok(Redemption::Redeemed { session, subject });
    }
    let spent: Option<(Uuid, Uuid)> = sqlx::query_as(
        "SELECT t.session_id, s.admin_id FROM platform_refresh_tokens t \
           JOIN platform_sessions s ON s.id = t.session_id \
          WHERE t.token_hash = $1 AND t.used_at IS NOT NULL",
    )
    .bind(digest)
    .fetch_optional(tx.conn())
    .await?;
    match spent {
        Some((session, subject)) => {
            revoke_platform(tx, session).await?;
            Ok(Redemption::Reused {
                subject,
                revoked: true,
            })
        }
        None => Ok(Redemption::Invalid),
    }
}

/// Revokes one platform session.
pub async fn revoke_platform(tx: &mut PlatformTx, session: Uuid) -> Result<(), DbError> {
    sqlx::query(
        "UPDATE platform_sessions SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL",
    )
    .bind(session)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Revokes every live session of a platform admin.
pub async fn revoke_all_platform(
    tx: &mut PlatformTx,
    admin: PlatformAdminId,
) -> Result<(), DbError> {
    sqlx::query("UPDATE platform_sessions SET revoked_at = now() WHERE admin_id = $1 AND revoked_at IS NULL")
        .bind(admin.as_uuid())
        .execute(tx.conn())
        .await?;
    Ok(())
}
