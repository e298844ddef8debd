//! `POST /auth/token` for platform admins.

use lms_db::queries::platform_admins;
use lms_domain::{Email, PlatformAdminId};
use poem::web::Data;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};

use super::PlatformTags;
use crate::auth::{MAX_PASSWORD_CHARS, PLATFORM_AUDIENCE, verify_password_async};
use crate::context::Ctx;
use crate::error::{ApiError, ApiResult};

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

/// A platform access token.
#[derive(Object, Debug)]
pub struct PlatformTokenResponse {
    /// The JWT to send as `Authorization: Bearer …`.
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Seconds until it expires.
    pub expires_in: u64,
}

#[derive(ApiResponse)]
enum TokenIssued {
    /// Logged in.
    #[oai(status = 200)]
    Ok(Json<PlatformTokenResponse>),
}

/// Platform login.
pub struct AuthApi;

#[OpenApi(tag = "PlatformTags::Auth")]
impl AuthApi {
    /// Exchange a platform admin's e-mail and password for an access token.
    #[oai(
        path = "/auth/token",
        method = "post",
        operation_id = "createPlatformToken"
    )]
    async fn create_token(
        &self,
        ctx: Data<&Ctx>,
        body: Json<PlatformTokenRequest>,
    ) -> ApiResult<TokenIssued> {
        let PlatformTokenRequest { email, password } = body.0;
        if password.chars().count() > MAX_PASSWORD_CHARS {
            return Err(ApiError::invalid_credentials());
        }
        let email = Email::parse("email", &email).ok();
        let mut tx = ctx.db.platform().await?;
        let admin = match &email {
            Some(e) => platform_admins::by_email(&mut tx, e.as_str()).await?,
            None => None,
        };
        let ok =
            verify_password_async(password, admin.as_ref().map(|a| a.password_hash.clone())).await;
        let id = match admin {
            Some(a) if ok && a.is_active => PlatformAdminId::from_uuid(a.id),
            _ => return Err(ApiError::invalid_credentials()),
        };
        platform_admins::touch_login(&mut tx, id).await?;
        tx.commit().await?;
        let token = ctx
            .tokens
            .issue(PLATFORM_AUDIENCE, id.as_uuid(), None)
            .map_err(ApiError::internal)?;
        Ok(TokenIssued::Ok(Json(PlatformTokenResponse {
            access_token: token,
            token_type: "Bearer".into(),
            expires_in: ctx.tokens.ttl().as_secs(),
        })))
    }
}
