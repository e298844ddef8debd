//! Users of the organization: invite, list, edit, deactivate, roles.

use crate::contract::Body;
use chrono::{DateTime, Utc};
use lms_db::TenantTx;
use lms_db::queries::users::{self, NewUser, UserFilter, UserPatch, UserRow};
use lms_db::queries::{roles, sessions};
use lms_domain::{Email, Permission, PersonName, RoleId, UserId, Username, WebUrl};
use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::types::MaybeUndefined;
use poem_openapi::{ApiResponse, Object, OpenApi};
use serde_json::{Value, json};
use uuid::Uuid;

use super::{TenantBearer, TenantTags};
use crate::auth::{check_new_password, hash_password_async};
use crate::context::{Actor, Ctx};
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::paging::{self, maybe};
use crate::tenancy::Tenant;

/// A user of the organization.
#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct User {
    /// Id.
    pub id: Uuid,
    /// Login e-mail (normalised: trimmed, lower-case).
    pub email: String,
    /// Optional handle, unique in the organization.
    pub username: Option<String>,
    /// Given name.
    pub first_name: String,
    /// Family name.
    pub last_name: String,
    /// Avatar image URL.
    pub avatar_url: Option<String>,
    /// Whether the user may log in.
    pub is_active: bool,
    /// Names of the roles held.
    pub roles: Vec<String>,
    /// Last successful login.
    pub last_login_at: Option<DateTime<Utc>>,
    /// Version, moved by every change; send it back (as `If-Match` or
    /// `version`) to refuse a lost update.
    pub version: i32,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

impl From<UserRow> for User {
    fn from(r: UserRow) -> Self {
        Self {
            id: r.id,
            email: r.email,
            username: r.username,
            first_name: r.first_name,
            last_name: r.last_name,
            avatar_url: r.avatar_url,
            is_active: r.is_active,
            roles: r.roles,
            last_login_at: r.last_login_at,
            version: r.version,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// A user to invite.
#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
#[oai(deny_unknown_fields)]
pub struct CreateUser {
    /// Login e-mail, unique in the organization (case-insensitive).
    #[oai(validator(max_length = 320))]
    pub email: String,
    /// Given name.
    #[oai(validator(max_length = 200))]
    pub first_name: String,
    /// Family name.
    #[oai(validator(max_length = 200))]
    pub last_name: String,
    /// Optional handle.
    #[oai(validator(max_length = 64))]
    pub username: Option<String>,
    /// Initial password (10–256 characters). Without one, the user cannot
    /// log in until a password is set.
    #[oai(validator(max_length = 256))]
    pub password: Option<String>,
    /// Names of roles to give (default: `learner`).
    #[oai(validator(max_items = 20))]
    pub roles: Option<Vec<String>>,
}

/// Changes to a user; absent fields stay, `null` clears nullable ones.
#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
#[oai(deny_unknown_fields)]
pub struct UpdateUser {
    /// New login e-mail.
    #[oai(validator(max_length = 320))]
    pub email: Option<String>,
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
    /// New avatar URL, or `null` to remove it.
    #[oai(validator(max_length = 2048))]
    #[oai(nullable)]
    pub avatar_url: MaybeUndefined<String>,
    /// The version this change is based on; stale → 409 `version_conflict`.
    pub version: Option<i32>,
}

/// A page of users.
#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct UserPage {
    /// Newest first.
    pub items: Vec<User>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

#[derive(ApiResponse)]
enum UserCreated {
    /// Created.
    #[oai(status = 201)]
    Created(Json<User>),
}

#[derive(ApiResponse)]
enum UserFound {
    /// The user., its version as the entity tag.
    #[oai(status = 200)]
    Ok(Json<User>, #[oai(header = "ETag")] String),
}

impl UserFound {
    fn of(v: User) -> Self {
        let tag = crate::concurrency::etag(v.version);
        Self::Ok(Json(v), tag)
    }
}

#[derive(ApiResponse)]
enum UsersListed {
    /// A page of users.
    #[oai(status = 200)]
    Ok(Json<UserPage>),
}

pub(crate) fn user_not_found() -> ApiError {
    ApiError::not_found(ErrorCode::UserNotFound, "no such user")
}

fn role_not_found() -> ApiError {
    ApiError::not_found(ErrorCode::RoleNotFound, "no such role")
}

/// Refuses a change that would leave no active user able to manage roles:
/// an organization must never lock itself out. Called after the change, in
/// its transaction, so the check sees exactly the new state.
///
/// Callers take [`roles::lock_assignments`] before their change.
pub(crate) async fn ensure_a_role_manager_remains(tx: &mut TenantTx) -> ApiResult<()> {
    let left = roles::active_holders(tx, Permission::RoleManage.as_str()).await?;
    if left == 0 {
        return Err(ApiError::conflict(
            ErrorCode::LastRoleManager,
            "this would leave no active user able to manage roles",
        ));
    }
    Ok(())
}

/// Validated changes to a user's account fields, shared by `PATCH
/// /users/{id}` and `PATCH /me` (which passes no e-mail).
pub(crate) struct AccountChanges {
    email: Option<Email>,
    first_name: Option<PersonName>,
    last_name: Option<PersonName>,
    username: Option<Option<Username>>,
    avatar_url: Option<Option<WebUrl>>,
}

impl AccountChanges {
    /// Parses the fields of a PATCH body.
    pub(crate) fn parse(
        email: Option<&str>,
        first_name: Option<&str>,
        last_name: Option<&str>,
        username: &MaybeUndefined<String>,
        avatar_url: &MaybeUndefined<String>,
    ) -> Result<Self, lms_domain::InputError> {
        Ok(Self {
            email: email.map(|e| Email::parse("email", e)).transpose()?,
            first_name: first_name
                .map(|n| PersonName::parse("first_name", n))
                .transpose()?,
            last_name: last_name
                .map(|n| PersonName::parse("last_name", n))
                .transpose()?,
            username: maybe(username)
                .map(|u| u.map(|u| Username::parse("username", u)).transpose())
                .transpose()?,
            avatar_url: maybe(avatar_url)
                .map(|u| u.map(|u| WebUrl::parse("avatar_url", u)).transpose())
                .transpose()?,
        })
    }

    /// The update to store.
    pub(crate) fn patch(&self) -> UserPatch<'_> {
        UserPatch {
            email: self.email.as_ref().map(Email::as_str),
            username: self
                .username
                .as_ref()
                .map(|u| u.as_ref().map(Username::as_str)),
            first_name: self.first_name.as_ref().map(PersonName::as_str),
            last_name: self.last_name.as_ref().map(PersonName::as_str),
            avatar_url: self
                .avatar_url
                .as_ref()
                .map(|u| u.as_ref().map(WebUrl::as_str)),
        }
    }
}

/// A user manager may act only on users whose permissions they hold all
/// of: `user:manage` alone cannot edit or deactivate an admin.
async fn require_outranks(tx: &mut TenantTx, actor: &Actor, target: UserId) -> ApiResult<()> {
    let theirs = users::permissions(tx, target).await?;
    actor.require_all(&theirs)
}

/// What a user event carries: who, and their state after the change.
fn user_payload(u: &User) -> Value {
    json!({
        "id": u.id,
        "is_active": u.is_active,
        "roles": u.roles,
    })
}

async fn fetch(tx: &mut TenantTx, id: UserId) -> ApiResult<User> {
    Ok(users::get(tx, id).await?.ok_or_else(user_not_found)?.into())
}

/// Users of the organization.
pub struct UsersApi;

#[OpenApi(tag = "TenantTags::Users")]
impl UsersApi {
    /// List users, newest first: filter by role name, active, or a search
    /// over e-mail, name and username.
    #[oai(path = "/users", method = "get", operation_id = "listUsers")]
    #[allow(clippy::too_many_arguments)] // one per query parameter
    async fn list(
        &self,
        ctx: Data<&Ctx>,
        tenant: Data<&Tenant>,
        auth: TenantBearer,
        /// Only holders of the role with this name.
        #[oai(validator(max_length = 64))]
        role: Query<Option<String>>,
        /// Only active (`true`) or deactivated (`false`) users.
        active: Query<Option<bool>>,
        /// Case-insensitive substring of e-mail, name or username.
        #[oai(validator(max_length = 200))]
        q: Query<Option<String>>,
        /// The `next_cursor` of the previous page.
        cursor: Query<Option<Uuid>>,
        /// Page size, 1–100 (default 20).
        #[oai(validator(minimum(value = "1"), maximum(value = "100")))]
        limit: Query<Option<i64>>,
    ) -> ApiResult<UsersListed> {
        let before = cursor.0.map(UserId::from_uuid);
        let limit = limit.0.unwrap_or(paging::DEFAULT_LIMIT);
        let search = q.0.as_deref().map(str::trim).filter(|s| !s.is_empty());
        let mut read = ctx.reader(&tenant, auth.0, "listUsers").await?;
        let tx = read.tx().await?;
        let rows = users::list(
            tx,
            &UserFilter {
                role: role.0.as_deref(),
                active: active.0,
                search,
                before,
                limit: limit + 1,
            },
        )
        .await?;
        read.finish().await?;
        let (rows, next_cursor) = paging::page(rows, limit, |r| r.id.to_string());
        Ok(UsersListed::Ok(Json(UserPage {
            items: rows.into_iter().map(Into::into).collect(),
            next_cursor,
        })))
    }

    /// Invite a user. Without roles, the user is a learner.
    #[oai(path = "/users", method = "post", operation_id = "createUser")]
    async fn create(
        &self,
        ctx: Data<&Ctx>,
        tenant: Data<&Tenant>,
        auth: TenantBearer,
        body: Body<CreateUser>,
    ) -> ApiResult<UserCreated> {
        let b = body.0;
        let email = Email::parse("email", &b.email)?;
        let first = PersonName::parse("first_name", &b.first_name)?;
        let last = PersonName::parse("last_name", &b.last_name)?;
        let username = b
            .username
            .as_deref()
            .map(|u| Username::parse("username", u))
            .transpose()?;
        if let Some(p) = &b.password {
            check_new_password("password", p)?;
        }
        let hash = match b.password {
            Some(p) => Some(hash_password_async(p).await.map_err(ApiError::internal)?),
            None => None,
        };
        let role_names = b
            .roles
            .unwrap_or_else(|| vec![lms_domain::permissions::LEARNER_ROLE_NAME.to_owned()]);

        let (mut unit, actor) = ctx.unit(&tenant, auth.0, "createUser").await?;
        let tx = unit.tx();
        let id = UserId::new();
        users::create(
            tx,
            &NewUser {
                id,
                email: email.as_str(),
                first_name: first.as_str(),
                last_name: last.as_str(),
                password_hash: hash.as_deref(),
            },
        )
        .await?;
        if let Some(u) = &username {
            users::update(
                tx,
                id,
                &UserPatch {
                    username: Some(Some(u.as_str())),
                    ..Default::default()
                },
            )
            .await?;
        }
        // Giving roles is role management: anything beyond the default
        // learner role needs role:manage, and nobody gives more than they hold.
        let only_learner = role_names
            .iter()
            .all(|n| n == lms_domain::permissions::LEARNER_ROLE_NAME);
        if !only_learner {
            actor.require(Permission::RoleManage)?;
        }
        for name in &role_names {
            let (role, perms) = roles::by_name(tx, name).await?.ok_or_else(|| {
                ApiError::unprocessable(ErrorCode::UnknownRole, "a role in `roles` does not exist")
            })?;
            actor.require_all(&perms)?;
            users::assign_role(tx, id, role).await?;
        }
        let user = fetch(tx, id).await?;
        unit.emit("user.created", id, user_payload(&user));
        unit.commit().await?;
        Ok(UserCreated::Created(Json(user)))
    }

    /// Get one user.
    #[oai(path = "/users/:user_id", method = "get", operation_id = "getUser")]
    async fn get(
        &self,
        ctx: Data<&Ctx>,
        tenant: Data<&Tenant>,
        auth: TenantBearer,
        user_id: Path<Uuid>,
    ) -> ApiResult<UserFound> {
        let mut read = ctx.reader(&tenant, auth.0, "getUser").await?;
        let tx = read.tx().await?;
        let user = fetch(tx, UserId::from_uuid(user_id.0)).await?;
        read.finish().await?;
        Ok(UserFound::of(user))
    }

    /// Change a user's e-mail, names, username or avatar.
    #[oai(
        path = "/users/:user_id",
        method = "patch",
        operation_id = "updateUser"
    )]
    async fn update(
        &self,
        ctx: Data<&Ctx>,
        tenant: Data<&Tenant>,
        auth: TenantBearer,
        user_id: Path<Uuid>,
        /// The entity tag (version) this change is based on; stale → 412.
        #[oai(name = "If-Match")]
        if_match: poem_openapi::param::Header<Option<String>>,
        body: Body<UpdateUser>,
    ) -> ApiResult<UserFound> {
        let b = body.0;
        let based_on = crate::concurrency::Precondition::new(if_match.0.as_deref(), b.version);
        let changes = AccountChanges::parse(
            b.email.as_deref(),
            b.first_name.as_deref(),
            b.last_name.as_deref(),
            &b.username,
            &b.avatar_url,
        )?;
        let (mut unit, actor) = ctx.unit(&tenant, auth.0, "updateUser").await?;
        let tx = unit.tx();
        let id = UserId::from_uuid(user_id.0);
        require_outranks(tx, &actor, id).await?;
        let current = users::lock_version(tx, id)
            .await?
            .ok_or_else(user_not_found)?;
        based_on.check(current)?;
        if !users::update(tx, id, &changes.patch()).await? {
            return Err(user_not_found());
        }
        let user = fetch(tx, id).await?;
        unit.emit("user.updated", id, user_payload(&user));
        unit.commit().await?;
        Ok(UserFound::of(user))
    }

    /// Deactivate a user: they cannot log in, and every session they have
    /// ends at once.
    #[oai(
        path = "/users/:user_id/deactivate",
        method = "post",
        operation_id = "deactivateUser"
    )]
    async fn deactivate(
        &self,
        ctx: Data<&Ctx>,
        tenant: Data<&Tenant>,
        auth: TenantBearer,
        user_id: Path<Uuid>,
    ) -> ApiResult<UserFound> {
        let (mut unit, actor) = ctx.unit(&tenant, auth.0, "deactivateUser").await?;
        let tx = unit.tx();
        let id = UserId::from_uuid(user_id.0);
        require_outranks(tx, &actor, id).await?;
        if id == actor.user {
            return Err(ApiError::conflict(
                ErrorCode::CannotDeactivateSelf,
                "you cannot deactivate yourself",
            ));
        }
        roles::lock_assignments(tx).await?;
        if !users::set_active(tx, id, false).await? {
            return Err(user_not_found());
        }
        sessions::revoke_all_of(tx, id, None).await?;
        ensure_a_role_manager_remains(tx).await?;
        let user = fetch(tx, id).await?;
        unit.actor_changed(id);
        unit.emit("user.deactivated", id, user_payload(&user));
        unit.commit().await?;
        Ok(UserFound::of(user))
    }

    /// Reactivate a deactivated user. Their old sessions stay ended.
    #[oai(
        path = "/users/:user_id/reactivate",
        method = "post",
        operation_id = "reactivateUser"
    )]
    async fn reactivate(
        &self,
        ctx: Data<&Ctx>,
        tenant: Data<&Tenant>,
        auth: TenantBearer,
        user_id: Path<Uuid>,
    ) -> ApiResult<UserFound> {
        let (mut unit, actor) = ctx.unit(&tenant, auth.0, "reactivateUser").await?;
        let tx = unit.tx();
        let id = UserId::from_uuid(user_id.0);
        require_outranks(tx, &actor, id).await?;
        if !users::set_active(tx, id, true).await? {
            return Err(user_not_found());
        }
        let user = fetch(tx, id).await?;
        unit.actor_changed(id);
        unit.emit("user.reactivated", id, user_payload(&user));
        unit.commit().await?;
        Ok(UserFound::of(user))
    }

    /// Give a user a role (idempotent).
    #[oai(
        path = "/users/:user_id/roles/:role_id",
        method = "put",
        operation_id = "assignRole"
    )]
    async fn assign_role(
        &self,
        ctx: Data<&Ctx>,
        tenant: Data<&Tenant>,
        auth: TenantBearer,
        user_id: Path<Uuid>,
        role_id: Path<Uuid>,
    ) -> ApiResult<UserFound> {
        let (mut unit, actor) = ctx.unit(&tenant, auth.0, "assignRole").await?;
        let tx = unit.tx();
        let (user, role) = (UserId::from_uuid(user_id.0), RoleId::from_uuid(role_id.0));
        let user_id = user;
        users::get(tx, user).await?.ok_or_else(user_not_found)?;
        let row = roles::get(tx, role).await?.ok_or_else(role_not_found)?;
        actor.require_all(&row.permissions.0)?;
        users::assign_role(tx, user, role).await?;
        let user = fetch(tx, user).await?;
        unit.actor_changed(user_id);
        unit.emit(
            "user.role_assigned",
            user_id,
            json!({ "user_id": user_id, "role_id": role, "role": row.name }),
        );
        unit.commit().await?;
        Ok(UserFound::of(user))
    }

    /// Take a role from a user. Refused if no active user could manage
    /// roles afterwards.
    #[oai(
        path = "/users/:user_id/roles/:role_id",
        method = "delete",
        operation_id = "removeRole"
    )]
    async fn remove_role(
        &self,
        ctx: Data<&Ctx>,
        tenant: Data<&Tenant>,
        auth: TenantBearer,
        user_id: Path<Uuid>,
        role_id: Path<Uuid>,
    ) -> ApiResult<UserFound> {
        let (mut unit, actor) = ctx.unit(&tenant, auth.0, "removeRole").await?;
        let tx = unit.tx();
        let (user, role) = (UserId::from_uuid(user_id.0), RoleId::from_uuid(role_id.0));
        let user_id = user;
        users::get(tx, user).await?.ok_or_else(user_not_found)?;
        let role_row = roles::get(tx, role).await?.ok_or_else(role_not_found)?;
        require_outranks(tx, &actor, user).await?;
        roles::lock_assignments(tx).await?;
        users::remove_role(tx, user, role).await?;
        ensure_a_role_manager_remains(tx).await?;
        let user = fetch(tx, user).await?;
        unit.actor_changed(user_id);
        unit.emit(
            "user.role_removed",
            user_id,
            json!({ "user_id": user_id, "role_id": role, "role": role_row.name }),
        );
        unit.commit().await?;
        Ok(UserFound::of(user))
    }
}
