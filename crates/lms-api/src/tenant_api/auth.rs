//! Logging in, refreshing, logging out, signing up.

use crate::contract::Body;
use lms_db::TenantTx;
use lms_db::queries::sessions::{self, Redemption};
use lms_db::queries::{orgs, roles, users};
use lms_domain::{Email, PersonName, UserId};
use poem::Request;
use poem::web::Data;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};
use serde_json::json;
use uuid::Uuid;

use super::{TenantBearer, TenantTags};
use crate::auth::{
    MAX_PASSWORD_CHARS, TENANT_AUDIENCE, check_new_password, hash_password_async,
    secret_token_digest, verify_password_async,
};
use crate::context::{ApiContext, Ctx};
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::session_tokens::{RefreshRequest, TokenResponse, mint};
use crate::settings::OrgSettings;
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

/// A new account, when the organization allows self sign-up.
#[derive(Object, Debug)]
#[oai(deny_unknown_fields)]
pub struct SignUpRequest {
    /// Login e-mail.
    #[oai(validator(max_length = 320))]
    pub email: String,
    /// Password, 10–256 characters.
    #[oai(validator(max_length = 256))]
    pub password: String,
    /// Given name.
    #[oai(validator(max_length = 200))]
    pub first_name: String,
    /// Family name.
    #[oai(validator(max_length = 200))]
    pub last_name: String,
}

#[derive(ApiResponse)]
enum TokenIssued {
    /// Logged in.
    #[oai(status = 200)]
    Ok(Json<TokenResponse>),
}

#[derive(ApiResponse)]
enum SignedUp {
    /// Account created and logged in.
    #[oai(status = 201)]
    Created(Json<TokenResponse>),
}

#[derive(ApiResponse)]
enum LoggedOut {
    /// The session is over: its access and refresh tokens no longer work.
    #[oai(status = 204)]
    NoContent,
}

/// Opens a session for `user` and issues its first token pair.
pub(crate) async fn open_session(
    ctx: &ApiContext,
    tx: &mut TenantTx,
    tenant: &Tenant,
    user: UserId,
) -> ApiResult<TokenResponse> {
    let session = Uuid::now_v7();
    sessions::open(tx, session, user).await?;
    token_pair(ctx, tx, tenant, user, session).await
}

async fn token_pair(
    ctx: &ApiContext,
    tx: &mut TenantTx,
    tenant: &Tenant,
    user: UserId,
    session: Uuid,
) -> ApiResult<TokenResponse> {
    let pair = mint(
        ctx,
        TENANT_AUDIENCE,
        user.as_uuid(),
        Some(tenant.id.as_uuid()),
        session,
    )?;
    sessions::add_refresh_token(tx, session, &pair.digest, pair.expires_at).await?;
    Ok(pair.response)
}

/// Logging in.
pub struct AuthApi;

#[OpenApi(tag = "TenantTags::Auth")]
impl AuthApi {
    /// Exchange e-mail and password for an access token and a refresh token
    /// of this organization. Repeated failures are answered with 429.
    #[oai(path = "/auth/token", method = "post", operation_id = "createToken")]
    async fn create_token(
        &self,
        req: &Request,
        ctx: Data<&Ctx>,
        tenant: Data<&Tenant>,
        body: Body<TokenRequest>,
    ) -> ApiResult<TokenIssued> {
        let TokenRequest { email, password } = body.0;
        let address = format!(
            "{}|{}",
            tenant.id,
            crate::client::client_ip(req, &ctx.config)
        );
        let account_key = format!("{}|{}", tenant.id, email.trim().to_lowercase());
        // Counted before the password is checked, so a parallel burst is
        // limited too.
        let delay = ctx
            .logins
            .admit(&account_key, &address)
            .map_err(ApiError::too_many_requests)?;
        tokio::time::sleep(delay).await;

        // A malformed e-mail or an over-long password is just a wrong
        // login: same answer, same work.
        let email = Email::parse("email", &email).ok();
        let password = (password.chars().count() <= MAX_PASSWORD_CHARS).then_some(password);
        let mut unit = ctx.public_unit(&tenant, "createToken").await?;
        let tx = unit.tx();
        let login = match &email {
            Some(email) => users::login_by_email(tx, email.as_str()).await?,
            None => None,
        };
        let hash = login.as_ref().and_then(|l| l.password_hash.clone());
        let password_ok = verify_password_async(password.unwrap_or_default(), hash).await;
        let user = match login {
            Some(l) if password_ok && l.is_active => UserId::from_uuid(l.id),
            _ => return Err(ApiError::invalid_credentials()),
        };
        ctx.logins.succeeded(&account_key, &address);
        users::touch_login(tx, user).await?;
        let pair = open_session(&ctx, tx, &tenant, user).await?;
        unit.commit().await?;
        Ok(TokenIssued::Ok(Json(pair)))
    }

    /// Exchange a refresh token for a new token pair. Each refresh token
    /// works once; presenting a spent one again ends its whole session.
    #[oai(path = "/auth/refresh", method = "post", operation_id = "refreshToken")]
    async fn refresh(
        &self,
        ctx: Data<&Ctx>,
        tenant: Data<&Tenant>,
        body: Body<RefreshRequest>,
    ) -> ApiResult<TokenIssued> {
        let digest = secret_token_digest(&body.0.refresh_token);
        let mut unit = ctx.public_unit(&tenant, "refreshToken").await?;
        match sessions::redeem(unit.tx(), &digest).await? {
            Redemption::Redeemed { session, subject } => {
                let pair = token_pair(
                    &ctx,
                    unit.tx(),
                    &tenant,
                    UserId::from_uuid(subject),
                    session,
                )
                .await?;
                unit.commit().await?;
                Ok(TokenIssued::Ok(Json(pair)))
            }
            Redemption::Reused { subject, revoked } => {
                // The revocation must stick although the answer is an error,
                // and reach every replica's cached authorizations (once: a
                // session already ended changes nothing).
                if revoked {
                    unit.actor_changed(UserId::from_uuid(subject));
                }
                unit.commit().await?;
                tracing::warn!(org_id = %tenant.id, "spent refresh token presented again: session revoked");
                Err(ApiError::unauthorized())
            }
            Redemption::Invalid => Err(ApiError::unauthorized()),
        }
    }

    /// End the current session: its access and refresh tokens stop working.
    #[oai(path = "/auth/logout", method = "post", operation_id = "logout")]
    async fn logout(
        &self,
        ctx: Data<&Ctx>,
        tenant: Data<&Tenant>,
        auth: TenantBearer,
    ) -> ApiResult<LoggedOut> {
        let (mut unit, actor) = ctx.unit(&tenant, auth.0, "logout").await?;
        sessions::revoke(unit.tx(), actor.session).await?;
        unit.actor_changed(actor.user);
        unit.commit().await?;
        Ok(LoggedOut::NoContent)
    }

    /// Create an account as a learner, when the organization has self
    /// sign-up switched on (it is off by default).
    #[oai(path = "/auth/signup", method = "post", operation_id = "signUp")]
    async fn sign_up(
        &self,
        req: &Request,
        ctx: Data<&Ctx>,
        tenant: Data<&Tenant>,
        body: Body<SignUpRequest>,
    ) -> ApiResult<SignedUp> {
        let b = body.0;
        ctx.logins
            .attempt(&format!(
                "{}|{}",
                tenant.id,
                crate::client::client_ip(req, &ctx.config)
            ))
            .map_err(ApiError::too_many_requests)?;
        let email = Email::parse("email", &b.email)?;
        let first = PersonName::parse("first_name", &b.first_name)?;
        let last = PersonName::parse("last_name", &b.last_name)?;
        check_new_password("password", &b.password)?;

        let mut unit = ctx.public_unit(&tenant, "signUp").await?;
        let tx = unit.tx();
        let settings = orgs::current(tx)
            .await?
            .map(|o| OrgSettings::from_json(&o.settings))
            .unwrap_or_default();
        if !settings.self_signup {
            return Err(ApiError::forbidden(
                ErrorCode::SignupDisabled,
                "this organization does not allow self sign-up",
            ));
        }
        let learner = roles::id_by_name(tx, lms_domain::permissions::LEARNER_ROLE_NAME)
            .await?
            .ok_or_else(|| ApiError::internal("organization has no learner role"))?;
        let hash = hash_password_async(b.password)
            .await
            .map_err(ApiError::internal)?;
        let user = UserId::new();
        users::create(
            tx,
            &users::NewUser {
                id: user,
                email: email.as_str(),
                first_name: first.as_str(),
                last_name: last.as_str(),
                password_hash: Some(&hash),
            },
        )
        .await?;
        users::assign_role(tx, user, learner).await?;
        let pair = open_session(&ctx, tx, &tenant, user).await?;
        unit.emit(
            "user.created",
            user,
            json!({
                "id": user,
                "is_active": true,
                "roles": [lms_domain::permissions::LEARNER_ROLE_NAME],
                "self_signup": true,
            }),
        );
        unit.commit().await?;
        Ok(SignedUp::Created(Json(pair)))
    }
}
