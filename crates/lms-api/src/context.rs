//! What every handler gets: configuration, pools, keys, caches, and the
//! authorization of tenant callers.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use lms_db::{Database, TenantTx};
use lms_domain::{OrgId, Permission, PermissionSet, UserId};
use uuid::Uuid;

use crate::access::Access;
use crate::auth::TokenKeys;
use crate::catalog_cache::CatalogCache;
use crate::coherence::{Freshness, Guarded, Notice};
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::limiter::{Limit, LoginGuard, LoginLimits};
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
    /// How long a host → tenant answer is cached (bounds a lost notice).
    pub tenant_cache_ttl: Duration,
    /// How long an authorized caller is cached (bounds a lost notice).
    pub actor_cache_ttl: Duration,
    /// How long a replica stays ready without its invalidation listener.
    pub listener_grace: Duration,
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// Largest archive `POST /platform/v1/organizations/import` accepts, in
    /// bytes (held in memory while it loads; `lms import` has no limit).
    pub max_import_bytes: usize,
    /// Web origins allowed to call the platform API from a browser.
    pub platform_cors_origins: Arc<[String]>,
    /// The scheme clients reach the service with (`http` or `https`).
    pub public_scheme: String,
    /// The port clients reach the service on, when not the scheme's default.
    pub public_port: Option<u16>,
    /// Longest time a request may take (503 `request_timeout` after it).
    pub request_timeout: Duration,
    /// Longest time a new connection may take to send its first head.
    pub header_read_timeout: Duration,
    /// A keep-alive connection idle this long is closed.
    pub idle_timeout: Duration,
    /// Largest total size of the catalog cache, in bytes (approximate).
    pub catalog_cache_bytes: u64,
    /// Longest life of a catalog cache entry.
    pub catalog_cache_ttl: Duration,
    /// Lifetime of refresh tokens.
    pub refresh_token_ttl: Duration,
    /// Failed logins allowed per account (host and e-mail) and client
    /// address per window: past it, that address is refused.
    pub login_failures_per_address: Limit,
    /// Failed logins allowed per account from addresses it has not logged
    /// in from, per window: delays grow on the way, and past it such
    /// addresses are refused.
    pub login_failures_per_account: Limit,
    /// Login attempts allowed per client address per window.
    pub login_attempts_per_client: Limit,
}

impl ApiConfig {
    /// The base URL of organization `slug`'s API, as clients reach it.
    pub fn tenant_api_url(&self, slug: &str) -> String {
        let port = self
            .public_port
            .map(|p| format!(":{p}"))
            .unwrap_or_default();
        format!(
            "{}://{slug}.{}{port}/api/v1",
            self.public_scheme, self.base_domain
        )
    }
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
    /// Login limits.
    pub logins: LoginGuard,
    /// Catalog reads, per tenant and generation.
    pub catalog: CatalogCache,
    /// Authorized callers, per (tenant, user, session).
    pub actors: ActorCache,
    /// Whether the caches hear every invalidation.
    pub freshness: Arc<Freshness>,
    /// Where custom domains' verification records are read.
    pub domain_records: crate::domains::TxtRecords,
}

/// Handle on the shared state, as stored in poem's request data.
pub type Ctx = Arc<ApiContext>;

impl ApiContext {
    /// Builds the state. The caches are trusted once the invalidation
    /// listener runs ([`crate::coherence::spawn_listener`]).
    pub fn new(db: Database, config: ApiConfig, tokens: TokenKeys) -> Ctx {
        let freshness = Arc::new(Freshness::new(config.listener_grace));
        let tenants = TenantResolver::new(db.clone(), config.tenant_cache_ttl, freshness.clone());
        let logins = LoginGuard::new(LoginLimits {
            per_client: config.login_attempts_per_client,
            per_account_address: config.login_failures_per_address,
            per_account: config.login_failures_per_account,
        });
        let catalog = CatalogCache::new(
            config.catalog_cache_bytes,
            config.catalog_cache_ttl,
            freshness.clone(),
        );
        let actors = ActorCache(Guarded::new(
            100_000,
            config.actor_cache_ttl,
            freshness.clone(),
        ));
        Arc::new(Self {
            db,
            config,
            tokens,
            tenants,
            logins,
            catalog,
            actors,
            freshness,
            domain_records: crate::domains::TxtRecords::default(),
        })
    }

    /// Applies a notice of a committed change to this replica's caches.
    pub fn apply(&self, notice: Notice) {
        match notice {
            Notice::Catalog { org } => self.catalog.invalidate(org),
            Notice::Tenant { org } => self.tenants.invalidate(org),
            Notice::Actor { org, user } => self
                .actors
                .0
                .invalidate_if(move |k, _| k.0 == org && k.1 == user),
            Notice::Actors { org } => self.actors.0.invalidate_if(move |k, _| k.0 == org),
            Notice::Ping { .. } => {}
        }
    }

    /// Forgets every cached answer (the listener missed notices).
    pub fn invalidate_everything(&self) {
        self.catalog.invalidate_all();
        self.tenants.invalidate_all();
        self.actors.0.invalidate_all();
    }

    /// Opens the request's tenant transaction as `who` and loads, in it,
    /// what the caller may do; refuses unless they may run `operation_id`
    /// ([`crate::access::TENANT_OPERATIONS`]). A user that no longer exists
    /// or was deactivated is refused, and so is a token whose session was
    /// revoked (logout, password change, refresh-token reuse). This is the
    /// check of writes: always against the database, never a cache.
    pub async fn authorize(
        &self,
        tenant: &Tenant,
        who: TenantCaller,
        operation_id: &'static str,
    ) -> ApiResult<(TenantTx, Actor)> {
        let mut tx = self.db.tenant(tenant.id, Some(who.user)).await?;
        let actor = load_actor(&mut tx, tenant.id, who).await?;
        check_access(&actor, operation_id)?;
        Ok((tx, actor))
    }

    /// The caller of a read, authorized for `operation_id`: from the cache
    /// when this replica holds it, else loaded in `tx` (opened by the
    /// caller's closure on demand) and cached. Revocations reach the cache
    /// through the invalidation channel; its TTL only bounds a lost notice.
    pub(crate) async fn cached_actor(
        &self,
        tenant: &Tenant,
        who: TenantCaller,
        tx: &mut Option<TenantTx>,
    ) -> ApiResult<Actor> {
        let key = (tenant.id, who.user, who.session);
        if let Some(permissions) = self.actors.0.get(&key) {
            return Ok(Actor::new(tenant.id, who, permissions));
        }
        let ticket = self.actors.0.ticket();
        let open = match tx.take() {
            Some(open) => open,
            None => self.db.tenant(tenant.id, Some(who.user)).await?,
        };
        let actor = load_actor(tx.insert(open), tenant.id, who).await?;
        self.actors.0.put(ticket, key, actor.permissions);
        Ok(actor)
    }
}

/// Loads the actor of `who` in `tx`; 401 unless active with a live session.
async fn load_actor(tx: &mut TenantTx, org: OrgId, who: TenantCaller) -> ApiResult<Actor> {
    match lms_db::queries::users::actor(tx, who.user, who.session).await? {
        Some(row) if row.is_active => {
            Ok(Actor::new(org, who, PermissionSet::parse(&row.permissions)))
        }
        _ => Err(ApiError::unauthorized()),
    }
}

/// Refuses unless `actor` may run `operation_id`, as the access table says.
pub(crate) fn check_access(actor: &Actor, operation_id: &'static str) -> ApiResult<()> {
    match crate::access::tenant_access(operation_id) {
        Some(Access::Requires(p)) => actor.require(p),
        Some(Access::RequiresEither(p, q)) => {
            if actor.can(q) {
                Ok(())
            } else {
                actor.require(p)
            }
        }
        Some(Access::Authenticated | Access::Public) => Ok(()),
        Some(Access::Operator) | None => Err(ApiError::internal(format!(
            "no access rule for {operation_id}"
        ))),
    }
}

/// Authorized callers of this replica: (tenant, user, session) → what they
/// may do. Only active users with a live session are stored.
#[derive(Debug)]
pub struct ActorCache(Guarded<(OrgId, UserId, Uuid), PermissionSet>);

impl ActorCache {
    /// Callers held (approximate).
    pub fn entries(&self) -> u64 {
        self.0.entries()
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
    permissions: PermissionSet,
}

impl Actor {
    fn new(org: OrgId, who: TenantCaller, permissions: PermissionSet) -> Self {
        Self {
            user: who.user,
            org,
            session: who.session,
            permissions,
        }
    }

    /// Whether the actor holds `p`.
    pub fn can(&self, p: Permission) -> bool {
        self.permissions.contains(p)
    }

    /// Every permission the actor holds, sorted.
    pub fn permissions(&self) -> Vec<Permission> {
        let mut v: Vec<Permission> = self.permissions.iter().collect();
        v.sort_by_key(|p| p.as_str());
        v
    }

    /// Refuses with 403 unless the actor holds every permission in `perms`:
    /// nobody may grant, through a role or a user, more than they hold.
    pub fn require_all(&self, perms: &[String]) -> ApiResult<()> {
        let all = perms.iter().all(|p| {
            p.parse::<Permission>()
                .is_ok_and(|p| self.permissions.contains(p))
        });
        if all {
            Ok(())
        } else {
            Err(ApiError::forbidden(
                ErrorCode::PermissionEscalation,
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
