//! What both login APIs hand out: an access token and a rotating refresh
//! token, minted the same way for tenant users and platform admins.

use chrono::{DateTime, Utc};
use poem_openapi::Object;
use uuid::Uuid;

use crate::auth::new_secret_token;
use crate::context::ApiContext;
use crate::error::{ApiError, ApiResult};

/// An access token and the refresh token that renews it.
#[derive(Object, Debug)]
pub struct TokenResponse {
    /// The JWT to send as `Authorization: Bearer …`.
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    /// Exchange it at `POST /auth/refresh` for a new pair; it works once.
    pub refresh_token: String,
    /// Seconds until the refresh token expires.
    pub refresh_expires_in: u64,
}

/// A refresh token to exchange.
#[derive(Object, Debug)]
#[oai(deny_unknown_fields)]
pub struct RefreshRequest {
    /// The refresh token of the last token response. It works once.
    #[oai(validator(max_length = 128))]
    pub refresh_token: String,
}

/// A new pair: what the client gets, and what is stored of the refresh
/// token (its digest and expiry).
pub struct MintedPair {
    /// For the client.
    pub response: TokenResponse,
    /// SHA-256 of the refresh token.
    pub digest: Vec<u8>,
    /// When the refresh token expires.
    pub expires_at: DateTime<Utc>,
}

/// Mints a pair for `sub` in `session`; `org` on tenant tokens only.
pub fn mint(
    ctx: &ApiContext,
    audience: &str,
    sub: Uuid,
    org: Option<Uuid>,
    session: Uuid,
) -> ApiResult<MintedPair> {
    let (refresh, digest) = new_secret_token();
    let ttl = ctx.config.refresh_token_ttl;
    let expires_at = Utc::now() + chrono::Duration::from_std(ttl).map_err(ApiError::internal)?;
    let access = ctx
        .tokens
        .issue(audience, sub, org, session)
        .map_err(ApiError::internal)?;
    Ok(MintedPair {
        response: TokenResponse {
            access_token: access,
            token_type: "Bearer".into(),
            expires_in: ctx.tokens.ttl().as_secs(),
            refresh_token: refresh,
            refresh_expires_in: ttl.as_secs(),
        },
        digest,
        expires_at,
    })
}
