//! What every handler gets: configuration, pools, keys, caches.

use std::collections::HashSet;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use lms_db::{Database, TenantTx};
use lms_domain::{OrgId, Permission, UserId};

use uuid::Uuid;

use crate::access::Access;
use crate::auth::TokenKeys;
use crate::catalog_cache::CatalogCache;
use crate::error::{ApiError, ApiResult};
use crate::limiter::{Limit, RateLimiter};
use crate::tenancy::{Tenant, TenantResolver};

/// Settings of the HTTP API.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    /// Tenants live at `<slug>.<base_domain>`.
    pub base_domain: String,
    /// The host that serves the platform API (default `admin.<base_domain>`).
    pub platform_host: String,
    /// Peers whose `X-Forwarded-Host` is believed. Empty: never.
    pub trusted_proxies: Vec<IpAddr>,
    /// Peers allowed to read `/metrics` (on the platform host).
    pub metrics_allow: Vec<IpAddr>,
    /// How long a host → tenant answer is cached.
    pub tenant_cache_ttl: Duration,
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// Largest total size of the catalog cache, in bytes (approximate).
    pub catalog_cache_bytes: u64,
    /// Longest life of a catalog cache entry.
    pub catalog_cache_ttl: Duration,
    /// Lifetime of refresh tokens.
    pub refresh_token_ttl: Duration,
    /// Failed logins allowed per (host, e-mail) per window.
    pub login_failures_per_account: Limit,
    /// Login attempts allowed per client address per window.
    pub login_attempts_per_client: Limit,
}

/// Shared state of the API.
#[derive(Debug)]
pub struct ApiContext {
    /// Both pools.
    pub db: Database,
    /// Settings.
    pub config: ApiConfig,
    /// Access-token keys.
    pub tokens: TokenKeys,
    /// Host → tenant resolution, cached.
    pub tenants: TenantResolver,
    /// Failed logins per account.
    pub login_failures: RateLimiter,
    /// Login attempts per client address.
    pub login_attempts: RateLimiter,
    /// Catalog reads, per tenant and generation.
    pub catalog: CatalogCache,
}

/// Handle on the shared state, as stored in poem's request data.
pub type Ctx = Arc<ApiContext>;

impl ApiContext {
    /// Builds the state.
    pub fn new(db: Database, config: ApiConfig, tokens: TokenKeys) -> Ctx {
        let tenants = TenantResolver::new(db.clone(), config.tenant_cache_ttl);
        let login_failures = RateLimiter::new(config.login_failures_per_account, 100_000);
        let login_attempts = RateLimiter::new(config.login_attempts_per_client, 100_000);
        let catalog = CatalogCache::new(config.catalog_cache_bytes, config.catalog_cache_ttl);
        Arc::new(Self {
            db,
            config,
            tokens,
            tenants,
            login_failures,
            login_attempts,
            catalog,
        })
    }

    /// Opens the request's tenant transaction as `user` and loads what the
    /// user may do. A user that no longer exists or was deactivated is
    /// refused here, and so is a token whose session was revoked (logout,
    /// password change, refresh-token reuse): tokens stop working at once.
    pub async fn act_as(&self, tenant: &Tenant, who: TenantCaller) -> ApiResult<(TenantTx, Actor)> {
        let TenantCaller { user, session } = who;
        let mut tx = self.db.tenant(tenant.id, Some(user)).await?;
        let row = lms_db::queries::users::actor(&mut tx, user, session).await?;
        match row {
            Some(row) if row.is_active => {
                tracing::Span::current().record("user_id", tracing::field::display(user));
                let permissions = row
                    .permissions
                    .iter()
                    .filter_map(|p| p.parse().ok())
                    .collect();
                Ok((
                    tx,
                    Actor {
                        user,
                        org: tenant.id,
                        session,
                        permissions,
                    },
                ))
            }
            _ => Err(ApiError::unauthorized()),
        }
    }
}

impl ApiContext {
    /// Opens the request's tenant transaction as the caller and checks the
    /// caller may run `operation_id`, as [`crate::access::TENANT_OPERATIONS`]
    /// says.
    pub async fn authorize(
        &self,
        tenant: &Tenant,
        who: TenantCaller,
        operation_id: &'static str,
    ) -> ApiResult<(TenantTx, Actor)> {
        let (tx, actor) = self.act_as(tenant, who).await?;
        match crate::access::tenant_access(operation_id) {
            Some(Access::Requires(p)) => actor.require(p)?,
            Some(Access::Authenticated | Access::Public) => {}
            None => {
                return Err(ApiError::internal(format!(
                    "no access rule for {operation_id}"
                )));
            }
        }
        Ok((tx, actor))
    }
}

/// The authenticated user of a tenant request.
#[derive(Debug, Clone)]
pub struct Actor {
    /// Who.
    pub user: UserId,
    /// In which tenant.
    pub org: OrgId,
    /// The login session of the token.
    pub session: Uuid,
    permissions: HashSet<Permission>,
}

impl Actor {
    /// Whether the actor holds `p`.
    pub fn can(&self, p: Permission) -> bool {
        self.permissions.contains(&p)
    }

    /// Every permission the actor holds, sorted.
    pub fn permissions(&self) -> Vec<Permission> {
        let mut v: Vec<Permission> = self.permissions.iter().copied().collect();
        v.sort_by_key(|p| p.as_str());
        v
    }

    /// Refuses with 403 unless the actor holds every permission in `perms`:
    /// nobody may grant, through a role or a user, more than they hold.
    pub fn require_all(&self, perms: &[String]) -> ApiResult<()> {
        let all = perms.iter().all(|p| {
            p.parse::<Permission>()
                .is_ok_and(|p| self.permissions.contains(&p))
        });
        if all {
            Ok(())
        } else {
            Err(ApiError::forbidden(
                "permission_escalation",
                "you cannot grant or act on permissions you do not hold",
            ))
        }
    }

    /// Refuses with 403 unless the actor holds `p`.
    pub fn require(&self, p: Permission) -> ApiResult<()> {
        if self.can(p) {
            Ok(())
        } else {
            Err(ApiError::permission_denied(p))
        }
    }
}

/// Who a verified tenant token says is calling.
#[derive(Debug, Clone, Copy)]
pub struct TenantCaller {
    /// The user.
    pub user: UserId,
    /// Their login session.
    pub session: Uuid,
}
