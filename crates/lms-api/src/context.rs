//! What every handler gets: configuration, pools, keys, caches.

use std::collections::HashSet;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use lms_db::{Database, TenantTx};
use lms_domain::{OrgId, Permission, UserId};

use crate::auth::TokenKeys;
use crate::error::{ApiError, ApiResult};
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
    /// How long a host → tenant answer is cached.
    pub tenant_cache_ttl: Duration,
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
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
}

/// Handle on the shared state, as stored in poem's request data.
pub type Ctx = Arc<ApiContext>;

impl ApiContext {
    /// Builds the state.
    pub fn new(db: Database, config: ApiConfig, tokens: TokenKeys) -> Ctx {
        let tenants = TenantResolver::new(db.clone(), config.tenant_cache_ttl);
        Arc::new(Self {
            db,
            config,
            tokens,
            tenants,
        })
    }

    /// Opens the request's tenant transaction as `user` and loads what the
    /// user may do. A user that no longer exists or was deactivated is
    /// refused here, so their outstanding tokens stop working at once.
    pub async fn act_as(&self, tenant: &Tenant, user: UserId) -> ApiResult<(TenantTx, Actor)> {
        let mut tx = self.db.tenant(tenant.id, Some(user)).await?;
        let row = lms_db::queries::users::actor(&mut tx, user).await?;
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
                        permissions,
                    },
                ))
            }
            _ => Err(ApiError::unauthorized()),
        }
    }
}

/// The authenticated user of a tenant request.
#[derive(Debug, Clone)]
pub struct Actor {
    /// Who.
    pub user: UserId,
    /// In which tenant.
    pub org: OrgId,
    permissions: HashSet<Permission>,
}

impl Actor {
    /// Whether the actor holds `p`.
    pub fn can(&self, p: Permission) -> bool {
        self.permissions.contains(&p)
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
