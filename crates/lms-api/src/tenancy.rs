//! Host → tenant.

use std::sync::Arc;
use std::time::Duration;

use lms_db::Database;
use lms_db::queries::orgs::{self, ResolvedOrg};
use lms_domain::{HostTarget, OrgId, OrgStatus};

use crate::coherence::{Freshness, Guarded};
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::settings::Branding;

/// The tenant a request is for, resolved from its Host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tenant {
    /// The organization.
    pub id: OrgId,
    /// Its slug.
    pub slug: String,
    /// Web origins allowed to call its API from a browser.
    pub cors_origins: Arc<[String]>,
    /// What it shows before anyone logs in.
    pub profile: Arc<Profile>,
}

/// An organization's public face: what its login page shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    /// Display name.
    pub name: String,
    /// Its branding settings.
    pub branding: Branding,
}

#[derive(Debug, Clone)]
struct Entry {
    id: OrgId,
    slug: String,
    status: OrgStatus,
    cors_origins: Arc<[String]>,
    profile: Arc<Profile>,
}

/// Resolves hosts to tenants through a moka cache keyed by the normalised
/// host. Unknown hosts are cached too (as `None`), so a flood of made-up
/// subdomains does not become a flood of queries. A change of a tenant
/// (status, slug, domains) drops its answers on every replica through the
/// invalidation channel; the TTL only bounds a lost notice.
#[derive(Debug)]
pub struct TenantResolver {
    db: Database,
    cache: Guarded<String, Option<Entry>>,
    /// Bounds the lookups in flight: a flood of made-up hosts queues here
    /// instead of taking every connection of the platform pool.
    lookups: tokio::sync::Semaphore,
}

/// Lookups that may run at once (the platform pool keeps the rest).
const CONCURRENT_LOOKUPS: usize = 2;

impl TenantResolver {
    /// A resolver whose answers live for `ttl`, trusted while `fresh` says so.
    pub fn new(db: Database, ttl: Duration, fresh: Arc<Freshness>) -> Self {
        Self {
            db,
            cache: Guarded::new(100_000, ttl, fresh),
            lookups: tokio::sync::Semaphore::new(CONCURRENT_LOOKUPS),
        }
    }

    /// The active tenant of `host`, or the error a client should see.
    pub async fn resolve(&self, host: &str, target: &HostTarget) -> ApiResult<Tenant> {
        let key = host.to_owned();
        let entry = match self.cache.get(&key) {
            Some(hit) => hit,
            // On the heap: the rare path keeps the request's future small.
            None => Box::pin(self.look_up(key, target)).await?,
        };
        Self::answer(entry)
    }

    /// A host not in the cache: looked up (a few at a time) and cached.
    async fn look_up(&self, key: String, target: &HostTarget) -> ApiResult<Option<Entry>> {
        let _permit = self
            .lookups
            .acquire()
            .await
            .map_err(|_| ApiError::unavailable())?;
        // Another request may have looked this host up meanwhile.
        if let Some(hit) = self.cache.get(&key) {
            return Ok(hit);
        }
        let ticket = self.cache.ticket();
        let found = self.lookup(target).await?;
        let entry = found.map(|o| Entry {
            id: OrgId::from_uuid(o.id),
            slug: o.slug,
            status: o.status.parse().unwrap_or(OrgStatus::Suspended),
            cors_origins: o.cors_origins.into(),
            profile: Arc::new(Profile {
                name: o.name,
                branding: Branding::from_json(Some(&o.branding)),
            }),
        });
        self.cache.put(ticket, key, entry.clone());
        Ok(entry)
    }

    fn answer(entry: Option<Entry>) -> ApiResult<Tenant> {
        match entry {
            None => Err(ApiError::not_found(
                ErrorCode::TenantNotFound,
                "no organization is served at this host",
            )),
            Some(e) if e.status == OrgStatus::Suspended => Err(ApiError::forbidden(
                ErrorCode::TenantSuspended,
                "this organization is suspended",
            )),
            Some(e) => Ok(Tenant {
                id: e.id,
                slug: e.slug,
                cors_origins: e.cors_origins,
                profile: e.profile,
            }),
        }
    }

    async fn lookup(&self, target: &HostTarget) -> ApiResult<Option<ResolvedOrg>> {
        let mut tx = self.db.platform().await?;
        let found = match target {
            // A label no organization can have (reserved, malformed) needs
            // no query.
            HostTarget::Subdomain(slug) if lms_domain::Slug::parse("slug", slug).is_err() => None,
            HostTarget::Subdomain(slug) => orgs::resolve_slug(&mut tx, slug).await?,
            HostTarget::CustomDomain(domain) => orgs::resolve_domain(&mut tx, domain).await?,
            HostTarget::Platform => None,
        };
        tx.commit().await?;
        Ok(found)
    }

    /// Forgets the answers naming `org`, and every "no such host" answer
    /// (a new slug or domain may resolve now).
    pub fn invalidate(&self, org: OrgId) {
        self.cache
            .invalidate_if(move |_, e| e.as_ref().is_none_or(|e| e.id == org));
    }

    /// Forgets every cached answer.
    pub fn invalidate_all(&self) {
        self.cache.invalidate_all();
    }
}
