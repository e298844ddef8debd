//! `POST /auth/token`: e-mail and password for an access token.

use lms_db::queries::users;
use lms_domain::{Email, UserId};
use poem::web::Data;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};

use super::TenantTags;
use crate::auth::{MAX_PASSWORD_CHARS, TENANT_AUDIENCE, verify_password_async};
use crate::context::Ctx;
use crate::error::{ApiError, ApiResult};
use crate::tenancy::Tenant;

/// Credentials of a tenant user.
#[derive(Object, Debug)]
#[oai(deny_unknown_fields)]
pub struct TokenRequest {
    /// Login e-mail (case-insensitive).
    #[oai(validator(max_length = 320))]
    pub email: String,
    /// Password.
    #[oai(validator(max_length = 256))]
    pub password: String,
}

/// An access token.
#[derive(Object, Debug)]
pub struct TokenResponse {
    /// The JWT to send as `Authorization: Bearer …`.
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Seconds until it expires.
    pub expires_in: u64,
}

/// Outcomes of a login.
#[derive(ApiResponse)]
pub enum TokenResponses {
    /// Logged in.
    #[oai(status = 200)]
    Ok(Json<TokenResponse>),
}

/// Logging in.
pub struct AuthApi;

#[OpenApi(tag = "TenantTags::Auth")]
impl AuthApi {
    /// Exchange e-mail and password for an access token of this organization.
    #[oai(path = "/auth/token", method = "post", operation_id = "createToken")]
    async fn create_token(
        &self,
        ctx: Data<&Ctx>,
        tenant: Data<&Tenant>,
        body: Json<TokenRequest>,
    ) -> ApiResult<TokenResponses> {
        let TokenRequest { email, password } = body.0;
        if password.chars().count() > MAX_PASSWORD_CHARS {
            return Err(ApiError::invalid_credentials());
        }
        // A malformed e-mail is just an unknown user: same answer, same work.
        let email = Email::parse("email", &email).ok();
        let mut tx = ctx.db.tenant(tenant.id, None).await?;
        let login = match &email {
            Some(email) => users::login_by_email(&mut tx, email.as_str()).await?,
            None => None,
        };
        let hash = login.as_ref().and_then(|l| l.password_hash.clone());
        let password_ok = verify_password_async(password, hash).await;
        let user = match login {
            Some(l) if password_ok && l.is_active => UserId::from_uuid(l.id),
            _ => return Err(ApiError::invalid_credentials()),
        };
        users::touch_login(&mut tx, user).await?;
        tx.commit().await?;
        let token = ctx
            .tokens
            .issue(TENANT_AUDIENCE, user.as_uuid(), Some(tenant.id.as_uuid()))
            .map_err(ApiError::internal)?;
        Ok(TokenResponses::Ok(Json(TokenResponse {
            access_token: token,
            token_type: "Bearer".into(),
            expires_in: ctx.tokens.ttl().as_secs(),
        })))
    }
}
