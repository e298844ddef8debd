//! Cache coherence across replicas.
//!
//! Every replica caches three things in memory: host → tenant answers,
//! authorized actors, and catalog reads. Every committed write that makes
//! one of them stale sends a [`Notice`] on the PostgreSQL channel
//! [`CHANNEL`], in its own transaction, so it is delivered exactly when the
//! write commits. Every replica runs [`spawn_listener`]: one session
//! connection that `LISTEN`s and applies what arrives. A notice carries a
//! kind and ids, never data.
//!
//! The caches are trusted only while the listener is connected. When the
//! connection drops, the replica stops answering from its caches (and stops
//! filling them), and when it is back it forgets everything it held, since
//! the notices sent meanwhile are lost. Readiness reports the listener: a
//! replica that has not been listening for longer than the grace period is
//! not ready ([`Freshness::ready`]).

use std::hash::Hash;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use lms_domain::{OrgId, UserId};
use serde::{Deserialize, Serialize};
use sqlx::postgres::{PgConnectOptions, PgListener, PgPoolOptions};
use tokio::task::JoinHandle;

use crate::context::Ctx;

/// The notification channel of cache invalidations.
pub const CHANNEL: &str = "lms_invalidation";

/// `application_name` of the listening connection (operators find it in
/// `pg_stat_activity`).
pub const LISTENER_APPLICATION_NAME: &str = "lms-listener";

/// What a committed write made stale. Ids only: a notice is readable by
/// anyone who may `LISTEN` on the database, so it never carries data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Notice {
    /// The tenant's catalog changed: every cached catalog read of it.
    Catalog {
        /// The tenant.
        org: OrgId,
    },
    /// The tenant's registry entry changed (status, slug, domains): every
    /// host answer naming it, and every "no such host" answer.
    Tenant {
        /// The tenant.
        org: OrgId,
    },
    /// What one user may do changed (deactivation, roles, logout, password,
    /// a stolen refresh token): their cached authorizations.
    Actor {
        /// The tenant.
        org: OrgId,
        /// The user.
        user: UserId,
    },
    /// What a role grants changed: every cached authorization of the tenant.
    Actors {
        /// The tenant.
        org: OrgId,
    },
    /// A replica's heartbeat, sent through its pool: hearing its own proves
    /// its listener still receives (a half-open connection, or a `LISTEN`
    /// through a transaction pooler, receives nothing and says nothing).
    Ping {
        /// Made by the sender, to recognise its own.
        id: uuid::Uuid,
    },
}

/// How often a listener sends itself a heartbeat.
const HEARTBEAT_EVERY: Duration = Duration::from_secs(5);
/// How long a heartbeat may take to come back before the listener is
/// considered deaf.
const HEARTBEAT_TIMEOUT: Duration = Duration::from_secs(5);

impl Notice {
    /// The payload sent on the channel.
    pub fn encode(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// The payload sent on the channel by replica `from`: the replica
    /// applied it to its own caches when it committed, and skips it when
    /// its listener hears it back.
    pub fn encode_from(&self, from: uuid::Uuid) -> String {
        let mut v = serde_json::to_value(self).unwrap_or_default();
        if let Some(o) = v.as_object_mut() {
            o.insert("from".into(), serde_json::Value::String(from.to_string()));
        }
        v.to_string()
    }

    /// A payload read from the channel; `None` for anything else.
    pub fn decode(payload: &str) -> Option<Self> {
        serde_json::from_str(payload).ok()
    }

    /// The replica that sent a payload, if one did (the database's own
    /// triggers do not say).
    pub fn origin(payload: &str) -> Option<uuid::Uuid> {
        let v: serde_json::Value = serde_json::from_str(payload).ok()?;
        v.get("from")?.as_str()?.parse().ok()
    }
}

/// Whether the in-memory caches can be trusted: only while this replica
/// hears every notice.
#[derive(Debug)]
pub struct Freshness {
    listening: AtomicBool,
    /// Since when the listener is not connected (the process start at first).
    down_since: Mutex<Option<Instant>>,
    grace: Duration,
    notices: AtomicU64,
    reconnects: AtomicU64,
    /// This replica, in the notices it sends.
    pub replica: uuid::Uuid,
}

impl Freshness {
    /// Not listening yet; not ready once `grace` has passed without a
    /// listener.
    pub fn new(grace: Duration) -> Self {
        Self {
            listening: AtomicBool::new(false),
            down_since: Mutex::new(Some(Instant::now())),
            grace,
            notices: AtomicU64::new(0),
            reconnects: AtomicU64::new(0),
            replica: uuid::Uuid::new_v4(),
        }
    }

    /// Whether cached entries may be served and new ones stored.
    pub fn trusted(&self) -> bool {
        self.listening.load(Ordering::Acquire)
    }

    /// Whether the replica should receive traffic: listening, or not
    /// listening for less than the grace period.
    pub fn ready(&self) -> bool {
        if self.trusted() {
            return true;
        }
        match *self.down_since.lock().unwrap_or_else(|e| e.into_inner()) {
            Some(since) => since.elapsed() < self.grace,
            None => true,
        }
    }

    /// Notices applied so far.
    pub fn notices(&self) -> u64 {
        self.notices.load(Ordering::Relaxed)
    }

    /// Times the listener connected after the first.
    pub fn reconnects(&self) -> u64 {
        self.reconnects.load(Ordering::Relaxed)
    }

    pub(crate) fn up(&self) {
        *self.down_since.lock().unwrap_or_else(|e| e.into_inner()) = None;
        self.listening.store(true, Ordering::Release);
    }

    pub(crate) fn down(&self) {
        self.listening.store(false, Ordering::Release);
        let mut since = self.down_since.lock().unwrap_or_else(|e| e.into_inner());
        if since.is_none() {
            *since = Some(Instant::now());
        }
    }
}

/// A moka cache whose fills cannot resurrect what an invalidation removed.
///
/// A reader takes a [`Ticket`] before it reads the database and stores its
/// result with it; an invalidation that happened in between (or a listener
/// that was down) voids the ticket, so a result read before a change is
/// never stored after the change's notice was applied.
pub(crate) struct Guarded<K, V> {
    cache: moka::sync::Cache<K, V>,
    epoch: RwLock<u64>,
    fresh: Arc<Freshness>,
}

/// Permission to store one read result (see [`Guarded`]).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ticket(u64);

impl<K, V> Guarded<K, V>
where
    K: Hash + Eq + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    pub(crate) fn new(capacity: u64, ttl: Duration, fresh: Arc<Freshness>) -> Self {
        let cache = moka::sync::Cache::builder()
            .max_capacity(capacity)
            .time_to_live(ttl)
            .support_invalidation_closures()
            .build();
        Self {
            cache,
            epoch: RwLock::new(0),
            fresh,
        }
    }

    pub(crate) fn get(&self, key: &K) -> Option<V> {
        if !self.fresh.trusted() {
            return None;
        }
        self.cache.get(key)
    }

    pub(crate) fn ticket(&self) -> Ticket {
        Ticket(*self.epoch.read().unwrap_or_else(|e| e.into_inner()))
    }

    /// Stores `value` unless something was invalidated since `ticket` was
    /// taken, or the caches are not trusted.
    pub(crate) fn put(&self, ticket: Ticket, key: K, value: V) {
        let epoch = self.epoch.read().unwrap_or_else(|e| e.into_inner());
        if *epoch == ticket.0 && self.fresh.trusted() {
            self.cache.insert(key, value);
        }
    }

    pub(crate) fn invalidate_if(&self, pred: impl Fn(&K, &V) -> bool + Send + Sync + 'static) {
        let mut epoch = self.epoch.write().unwrap_or_else(|e| e.into_inner());
        *epoch += 1;
        if self.cache.invalidate_entries_if(pred).is_err() {
            self.cache.invalidate_all();
        }
    }

    /// Entries held (approximate).
    pub(crate) fn entries(&self) -> u64 {
        self.cache.entry_count()
    }

    pub(crate) fn invalidate_all(&self) {
        let mut epoch = self.epoch.write().unwrap_or_else(|e| e.into_inner());
        *epoch += 1;
        self.cache.invalidate_all();
    }
}

impl<K, V> std::fmt::Debug for Guarded<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Guarded")
            .field("entries", &self.cache.entry_count())
            .finish()
    }
}

/// Runs the listener of this replica until the returned task is aborted:
/// connects, `LISTEN`s, applies every notice, and on any connection trouble
/// stops trusting the caches, reconnects with backoff, and forgets
/// everything once listening again.
pub fn spawn_listener(ctx: Ctx, options: PgConnectOptions) -> JoinHandle<()> {
    let options = options.application_name(LISTENER_APPLICATION_NAME);
    tokio::spawn(async move {
        let mut backoff = Duration::from_millis(50);
        let mut first = true;
        loop {
            match listen(&ctx, &options, &mut first).await {
                Ok(()) => backoff = Duration::from_millis(50),
                Err(e) => tracing::warn!(error = %e, "invalidation listener failed"),
            }
            ctx.freshness.down();
            ctx.invalidate_everything();
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(5));
        }
    })
}

/// One listening connection, until it is lost (`Ok`) or fails (`Err`).
async fn listen(ctx: &Ctx, options: &PgConnectOptions, first: &mut bool) -> sqlx::Result<()> {
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .min_connections(0)
        .max_lifetime(None)
        .idle_timeout(None)
        .acquire_timeout(Duration::from_secs(5))
        .test_before_acquire(false)
        .connect_with(options.clone())
        .await?;
    let mut listener = PgListener::connect_with(&pool).await?;
    listener.ignore_pool_close_event(true);
    // A lost connection ends this function; the caller reconnects and
    // forgets everything, rather than the listener reconnecting silently.
    listener.eager_reconnect(false);
    listener.listen(CHANNEL).await?;
    // Not trusted before the first heartbeat came back through it.
    let mut ping = send_ping(ctx).await?;
    let mut beat = tokio::time::interval(HEARTBEAT_EVERY);
    beat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    beat.tick().await;
    loop {
        tokio::select! {
            received = listener.try_recv() => {
                let Some(n) = received? else {
                    tracing::warn!("invalidation listener lost its connection");
                    return Ok(());
                };
                match Notice::decode(n.payload()) {
                    Some(Notice::Ping { id }) => {
                        if ping.is_some_and(|(sent, _)| sent == id) {
                            ping = None;
                            if !ctx.freshness.trusted() {
                                // Whatever was sent before LISTEN took
                                // effect was not heard.
                                ctx.invalidate_everything();
                                ctx.freshness.up();
                                if !std::mem::take(first) {
                                    ctx.freshness.reconnects.fetch_add(1, Ordering::Relaxed);
                                }
                                tracing::info!("listening for cache invalidations");
                            }
                        }
                    }
                    // This replica's own, applied when it committed: applying
                    // it again would only void what was cached since.
                    Some(_) if Notice::origin(n.payload()) == Some(ctx.freshness.replica) => {}
                    Some(notice) => {
                        ctx.apply(notice);
                        // Counted once applied: a reader of the counter
                        // sees the effect.
                        ctx.freshness.notices.fetch_add(1, Ordering::Relaxed);
                    }
                    None => {
                        tracing::warn!("unreadable invalidation notice: dropping every cache");
                        ctx.invalidate_everything();
                        ctx.freshness.notices.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            _ = beat.tick() => {
                match ping {
                    Some((_, sent_at)) if sent_at.elapsed() >= HEARTBEAT_TIMEOUT => {
                        tracing::warn!("invalidation listener hears nothing: reconnecting");
                        return Ok(());
                    }
                    Some(_) => {}
                    None => ping = send_ping(ctx).await?,
                }
            }
        }
    }
}

/// Sends this replica's heartbeat through its platform pool.
async fn send_ping(ctx: &Ctx) -> sqlx::Result<Option<(uuid::Uuid, Instant)>> {
    let id = uuid::Uuid::new_v4();
    ctx.db
        .notify_now(CHANNEL, &Notice::Ping { id }.encode())
        .await?;
    Ok(Some((id, Instant::now())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notices_carry_ids_only_and_read_back() {
        let n = Notice::Actor {
            org: OrgId::new(),
            user: UserId::new(),
        };
        let text = n.encode();
        assert!(text.starts_with("{\"kind\":\"actor\""), "{text}");
        assert_eq!(Notice::decode(&text), Some(n));
        let from = uuid::Uuid::new_v4();
        let sent = n.encode_from(from);
        assert_eq!(Notice::decode(&sent), Some(n));
        assert_eq!(Notice::origin(&sent), Some(from));
        assert_eq!(Notice::origin(&text), None);
        assert_eq!(Notice::decode("{\"kind\":\"nonsense\"}"), None);
    }

    #[test]
    fn a_fill_that_raced_an_invalidation_is_not_stored() {
        let fresh = Arc::new(Freshness::new(Duration::from_secs(1)));
        fresh.up();
        let g: Guarded<u32, &str> = Guarded::new(100, Duration::from_secs(60), fresh.clone());
        let t = g.ticket();
        g.invalidate_if(|_, _| true);
        g.put(t, 1, "read before the change");
        assert_eq!(g.get(&1), None);
        let t = g.ticket();
        g.put(t, 1, "fresh");
        assert_eq!(g.get(&1), Some("fresh"));
        // Not trusted while the listener is down: nothing served or stored.
        fresh.down();
        assert_eq!(g.get(&1), None);
        let t = g.ticket();
        g.put(t, 2, "x");
        fresh.up();
        assert_eq!(g.get(&2), None);
    }
}
