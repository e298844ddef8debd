//! Platform admins logging in, refreshing, logging out.

use crate::contract::Body;
use lms_db::PlatformTx;
use lms_db::queries::platform_admins;
use lms_db::queries::sessions::{self, Redemption};
use lms_domain::{Email, PlatformAdminId};
use poem::Request;
use poem::web::Data;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};
use uuid::Uuid;

use super::{PlatformBearer, PlatformTags, authorize};
use crate::auth::{
    MAX_PASSWORD_CHARS, PLATFORM_AUDIENCE, secret_token_digest, verify_password_async,
};
use crate::context::{ApiContext, Ctx};
use crate::error::{ApiError, ApiResult};
use crate::session_tokens::{RefreshRequest, TokenResponse, mint};

/// Credentials of a platform admin.
#[derive(Object, Debug)]
#[oai(deny_unknown_fields)]
pub struct PlatformTokenRequest {
    /// Login e-mail (case-insensitive).
    #[oai(validator(max_length = 320))]
    pub email: String,
    /// Password.
    #[oai(validator(max_length = 256))]
    pub password: String,
}

#[derive(ApiResponse)]
enum TokenIssued {
    /// Logged in.
    #[oai(status = 200)]
    Ok(Json<TokenResponse>),
}

#[derive(ApiResponse)]
enum LoggedOut {
    /// The session is over.
    #[oai(status = 204)]
    NoContent,
}

async fn token_pair(
    ctx: &ApiContext,
    tx: &mut PlatformTx,
    admin: PlatformAdminId,
    session: Uuid,
) -> ApiResult<TokenResponse> {
    let pair = mint(ctx, PLATFORM_AUDIENCE, admin.as_uuid(), None, session)?;
    sessions::add_platform_refresh_token(tx, session, &pair.digest, pair.expires_at).await?;
    Ok(pair.response)
}

/// Platform login.
pub struct AuthApi;

#[OpenApi(tag = "PlatformTags::Auth")]
impl AuthApi {
    /// Exchange a platform admin's e-mail and password for a token pair.
    /// Repeated failures are answered with 429.
    #[oai(
        path = "/auth/token",
        method = "post",
        operation_id = "createPlatformToken"
    )]
    async fn create_token(
        &self,
        req: &Request,
        ctx: Data<&Ctx>,
        body: Body<PlatformTokenRequest>,
    ) -> ApiResult<TokenIssued> {
        let PlatformTokenRequest { email, password } = body.0;
        let address = format!("platform|{}", crate::client::client_ip(req, &ctx.config));
        let account_key = format!("platform|{}", email.trim().to_lowercase());
        // Counted before the password is checked, so a parallel burst is
        // limited too.
        let delay = ctx
            .logins
            .admit(&account_key, &address)
            .map_err(ApiError::too_many_requests)?;
        tokio::time::sleep(delay).await;

        let email = Email::parse("email", &email).ok();
        let password = (password.chars().count() <= MAX_PASSWORD_CHARS).then_some(password);
        let mut unit = ctx.platform_unit().await?;
        let tx = unit.tx();
        let admin = match &email {
            Some(e) => platform_admins::by_email(tx, e.as_str()).await?,
            None => None,
        };
        let ok = verify_password_async(
            password.unwrap_or_default(),
            admin.as_ref().map(|a| a.password_hash.clone()),
        )
        .await;
        let id = match admin {
            Some(a) if ok && a.is_active => PlatformAdminId::from_uuid(a.id),
            _ => return Err(ApiError::invalid_credentials()),
        };
        ctx.logins.succeeded(&account_key, &address);
        platform_admins::touch_login(tx, id).await?;
        let session = Uuid::now_v7();
        sessions::open_platform(tx, session, id).await?;
        let pair = token_pair(&ctx, tx, id, session).await?;
        unit.commit().await?;
        Ok(TokenIssued::Ok(Json(pair)))
    }

    /// Exchange a platform refresh token for a new pair. Each works once;
    /// presenting a spent one again ends its whole session.
    #[oai(
        path = "/auth/refresh",
        method = "post",
        operation_id = "refreshPlatformToken"
    )]
    async fn refresh(&self, ctx: Data<&Ctx>, body: Body<RefreshRequest>) -> ApiResult<TokenIssued> {
        let digest = secret_token_digest(&body.0.refresh_token);
        let mut unit = ctx.platform_unit().await?;
        let tx = unit.tx();
        match sessions::redeem_platform(tx, &digest).await? {
            Redemption::Redeemed { session, subject } => {
                let pair =
                    token_pair(&ctx, tx, PlatformAdminId::from_uuid(subject), session).await?;
                unit.commit().await?;
                Ok(TokenIssued::Ok(Json(pair)))
            }
            Redemption::Reused { .. } => {
                unit.commit().await?;
                tracing::warn!("spent platform refresh token presented again: session revoked");
                Err(ApiError::unauthorized())
            }
            Redemption::Invalid => Err(ApiError::unauthorized()),
        }
    }

    /// End the current platform session.
    #[oai(
        path = "/auth/logout",
        method = "post",
        operation_id = "platformLogout"
    )]
    async fn logout(&self, ctx: Data<&Ctx>, auth: PlatformBearer) -> ApiResult<LoggedOut> {
        let mut unit = ctx.platform_unit().await?;
        let tx = unit.tx();
        authorize(tx, auth.0, "platformLogout").await?;
        sessions::revoke_platform(tx, auth.0.session).await?;
        unit.commit().await?;
        Ok(LoggedOut::NoContent)
    }
}
