//! The caller's own account: profile, preferences, password.

use crate::contract::Body;
use lms_db::queries::users::{self, ProfileRow};
use lms_db::queries::{orgs, sessions};
use lms_domain::{InputError, WebUrl};
use poem::web::Data;
use poem_openapi::payload::Json;
use poem_openapi::types::MaybeUndefined;
use poem_openapi::{ApiResponse, Object, OpenApi};
use serde_json::{Value, json};
use uuid::Uuid;

use super::users::{AccountChanges, User, user_not_found};
use super::{TenantBearer, TenantTags};
use crate::auth::{check_new_password, hash_password_async, verify_password_async};
use crate::context::Ctx;
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::tenancy::Tenant;

/// Largest preferences object, serialised.
const MAX_PREFERENCES_BYTES: usize = 8 * 1024;
/// Deepest nesting of the preferences object.
const MAX_PREFERENCES_DEPTH: usize = 4;
/// Most social links.
pub(crate) const MAX_SOCIAL_LINKS: usize = 10;

/// A user's profile.
#[derive(Object, Debug, Default)]
#[oai(skip_serializing_if_is_none)]
pub struct Profile {
    /// About the user.
    pub bio: Option<String>,
    /// Where they are.
    pub location: Option<String>,
    /// Their site.
    pub website: Option<String>,
    /// Links by network name, e.g. `{ "linkedin": "https://…" }`.
    pub social_links: Option<Value>,
    /// Learning and notification preferences: a JSON object of at most
    /// 8 KiB and 4 levels.
    pub preferences: Option<Value>,
}

impl From<ProfileRow> for Profile {
    fn from(p: ProfileRow) -> Self {
        Self {
            bio: p.bio,
            location: p.location,
            website: p.website,
            social_links: p.social_links,
            preferences: p.preferences,
        }
    }
}

/// The organization the caller belongs to.
#[derive(Object, Debug)]
pub struct MyOrganization {
    /// Id.
    pub id: Uuid,
    /// Slug.
    pub slug: String,
    /// Display name.
    pub name: String,
}

/// The caller.
#[derive(Object, Debug)]
pub struct Me {
    /// The account.
    pub user: User,
    /// The profile.
    pub profile: Profile,
    /// Every permission the caller's roles grant.
    pub permissions: Vec<String>,
    /// The organization.
    pub organization: MyOrganization,
}

/// Changes to the caller's profile; absent fields stay, `null` clears.
#[derive(Object, Debug)]
#[oai(deny_unknown_fields)]
pub struct ProfileUpdate {
    /// About you, up to 5000 characters.
    #[oai(validator(max_length = 5000))]
    #[oai(nullable)]
    pub bio: MaybeUndefined<String>,
    /// Where you are.
    #[oai(validator(max_length = 200))]
    #[oai(nullable)]
    pub location: MaybeUndefined<String>,
    /// Your site (http or https).
    #[oai(validator(max_length = 2048))]
    #[oai(nullable)]
    pub website: MaybeUndefined<String>,
    /// Links by network name, http(s) URLs, at most 10.
    #[oai(nullable)]
    pub social_links: MaybeUndefined<Value>,
    /// Preferences object.
    #[oai(nullable)]
    pub preferences: MaybeUndefined<Value>,
}

/// Changes to the caller's own account.
#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
#[oai(deny_unknown_fields)]
pub struct UpdateMe {
    /// New given name.
    #[oai(validator(max_length = 200))]
    pub first_name: Option<String>,
    /// New family name.
    #[oai(validator(max_length = 200))]
    pub last_name: Option<String>,
    /// New handle, or `null` to remove it.
    #[oai(validator(max_length = 64))]
    #[oai(nullable)]
    pub username: MaybeUndefined<String>,
    /// New avatar URL, or `null`.
    #[oai(validator(max_length = 2048))]
    #[oai(nullable)]
    pub avatar_url: MaybeUndefined<String>,
    /// Profile changes.
    pub profile: Option<ProfileUpdate>,
}

/// A password change.
#[derive(Object, Debug)]
#[oai(deny_unknown_fields)]
pub struct ChangePassword {
    /// The current password.
    #[oai(validator(max_length = 256))]
    pub current_password: String,
    /// The new password, 10–256 characters.
    #[oai(validator(max_length = 256))]
    pub new_password: String,
}

#[derive(ApiResponse)]
enum MeFound {
    /// The caller.
    #[oai(status = 200)]
    Ok(Json<Me>),
}

#[derive(ApiResponse)]
enum PasswordChanged {
    /// Changed; every other session of the caller has ended.
    #[oai(status = 204)]
    NoContent,
}

fn depth(v: &Value) -> usize {
    match v {
        Value::Object(m) => 1 + m.values().map(depth).max().unwrap_or(0),
        Value::Array(a) => 1 + a.iter().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

fn check_preferences(v: &Value) -> Result<(), InputError> {
    if !v.is_object() {
        return Err(InputError::new(
            "profile.preferences",
            "must be a JSON object",
        ));
    }
    if depth(v) > MAX_PREFERENCES_DEPTH {
        return Err(InputError::new(
            "profile.preferences",
            "must be at most 4 levels deep",
        ));
    }
    if serde_json::to_vec(v).map(|b| b.len()).unwrap_or(usize::MAX) > MAX_PREFERENCES_BYTES {
        return Err(InputError::new(
            "profile.preferences",
            "must be at most 8 KiB",
        ));
    }
    Ok(())
}

fn check_social_links(v: &Value) -> Result<(), InputError> {
    let rule = "must be an object of at most 10 names mapped to http(s) URLs";
    let Value::Object(m) = v else {
        return Err(InputError::new("profile.social_links", rule));
    };
    if m.len() > MAX_SOCIAL_LINKS {
        return Err(InputError::new("profile.social_links", rule));
    }
    for url in m.values() {
        let url_ok = url
            .as_str()
            .is_some_and(|u| WebUrl::parse("profile.social_links", u).is_ok());
        if !url_ok {
            return Err(InputError::new("profile.social_links", rule));
        }
    }
    Ok(())
}

fn short_text(
    field: &'static str,
    v: Option<&String>,
    max: usize,
) -> Result<Option<String>, InputError> {
    match v.map(|s| s.trim()) {
        Some(s) if s.chars().count() > max => Err(InputError::new(field, "is too long")),
        Some(s) if s.chars().any(|c| c.is_control() && c != '\n' && c != '\t') => Err(
            InputError::new(field, "must not contain control characters"),
        ),
        Some("") | None => Ok(None),
        Some(s) => Ok(Some(s.to_owned())),
    }
}

/// The caller's own account.
pub struct MeApi;

#[OpenApi(tag = "TenantTags::Me")]
impl MeApi {
    /// The caller: account, profile, permissions and organization.
    #[oai(path = "/me", method = "get", operation_id = "getMe")]
    async fn get(
        &self,
        ctx: Data<&Ctx>,
        tenant: Data<&Tenant>,
        auth: TenantBearer,
    ) -> ApiResult<MeFound> {
        let mut read = ctx.reader(&tenant, auth.0, "getMe").await?;
        let actor = read.actor().clone();
        let tx = read.tx().await?;
        let me = load(tx, &actor).await?;
        read.finish().await?;
        Ok(MeFound::Ok(Json(me)))
    }

    /// Change the caller's names, username, avatar and profile.
    #[oai(path = "/me", method = "patch", operation_id = "updateMe")]
    async fn update(
        &self,
        ctx: Data<&Ctx>,
        tenant: Data<&Tenant>,
        auth: TenantBearer,
        body: Body<UpdateMe>,
    ) -> ApiResult<MeFound> {
        let b = body.0;
        let changes = AccountChanges::parse(
            None,
            b.first_name.as_deref(),
            b.last_name.as_deref(),
            &b.username,
            &b.avatar_url,
        )?;
        if let Some(p) = &b.profile {
            if let Some(w) = p.website.value() {
                WebUrl::parse("profile.website", w)?;
            }
            if let Some(v) = p.social_links.value() {
                check_social_links(v)?;
            }
            if let Some(v) = p.preferences.value() {
                check_preferences(v)?;
            }
            short_text("profile.bio", p.bio.value(), 5000)?;
            short_text("profile.location", p.location.value(), 200)?;
        }

        let (mut unit, actor) = ctx.unit(&tenant, auth.0, "updateMe").await?;
        let tx = unit.tx();
        users::update(tx, actor.user, &changes.patch()).await?;
        if let Some(p) = b.profile {
            let mut row = users::profile(tx, actor.user).await?;
            apply(&mut row.bio, &p.bio, |s| {
                short_text("profile.bio", Some(s), 5000)
            })?;
            apply(&mut row.location, &p.location, |s| {
                short_text("profile.location", Some(s), 200)
            })?;
            apply(&mut row.website, &p.website, |s| {
                Ok(Some(s.trim().to_owned()))
            })?;
            apply(&mut row.social_links, &p.social_links, |v| {
                Ok(Some(v.clone()))
            })?;
            apply(&mut row.preferences, &p.preferences, |v| {
                Ok(Some(v.clone()))
            })?;
            users::save_profile(tx, actor.user, &row).await?;
        }
        let me = load(tx, &actor).await?;
        unit.emit(
            "user.updated",
            actor.user,
            json!({ "id": actor.user, "self_service": true }),
        );
        unit.commit().await?;
        Ok(MeFound::Ok(Json(me)))
    }

    /// Change the caller's password. Every other session of the caller
    /// ends; this one goes on.
    #[oai(
        path = "/me/password",
        method = "post",
        operation_id = "changePassword"
    )]
    async fn change_password(
        &self,
        ctx: Data<&Ctx>,
        tenant: Data<&Tenant>,
        auth: TenantBearer,
        body: Body<ChangePassword>,
    ) -> ApiResult<PasswordChanged> {
        let ChangePassword {
            current_password,
            new_password,
        } = body.0;
        check_new_password("new_password", &new_password)?;
        let (mut unit, actor) = ctx.unit(&tenant, auth.0, "changePassword").await?;
        let tx = unit.tx();
        let hash = users::password_hash(tx, actor.user).await?;
        if !verify_password_async(current_password, hash).await {
            return Err(ApiError::unprocessable(
                ErrorCode::WrongPassword,
                "the current password is wrong",
            ));
        }
        let new_hash = hash_password_async(new_password)
            .await
            .map_err(ApiError::internal)?;
        users::set_password(tx, actor.user, &new_hash).await?;
        sessions::revoke_all_of(tx, actor.user, Some(actor.session)).await?;
        // The caller's other sessions ended: their cached authorizations go.
        unit.actor_changed(actor.user);
        unit.emit(
            "user.password_changed",
            actor.user,
            json!({ "id": actor.user }),
        );
        unit.commit().await?;
        Ok(PasswordChanged::NoContent)
    }
}

/// Applies one `MaybeUndefined` field of an update to a stored value.
fn apply<T, U>(
    slot: &mut Option<U>,
    change: &MaybeUndefined<T>,
    convert: impl Fn(&T) -> Result<Option<U>, InputError>,
) -> Result<(), InputError> {
    match change {
        MaybeUndefined::Undefined => {}
        MaybeUndefined::Null => *slot = None,
        MaybeUndefined::Value(v) => *slot = convert(v)?,
    }
    Ok(())
}

async fn load(tx: &mut lms_db::TenantTx, actor: &crate::context::Actor) -> ApiResult<Me> {
    let user = users::get(tx, actor.user)
        .await?
        .ok_or_else(user_not_found)?;
    let profile = users::profile(tx, actor.user).await?;
    let org = orgs::current(tx)
        .await?
        .ok_or_else(|| ApiError::internal("tenant row not visible"))?;
    Ok(Me {
        user: user.into(),
        profile: profile.into(),
        permissions: actor
            .permissions()
            .iter()
            .map(|p| p.as_str().to_owned())
            .collect(),
        organization: MyOrganization {
            id: org.id,
            slug: org.slug,
            name: org.name,
        },
    })
}
