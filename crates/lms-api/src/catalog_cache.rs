//! The catalog cache: moka in front of the catalog list, course detail and
//! category tree, holding each answer as the bytes that are sent.
//!
//! - Every key holds the organization id, so one tenant's entries can never
//!   answer another's request, whatever the course id or query string.
//! - Every key holds the tenant's *generation*. A committed write to a
//!   tenant's catalog bumps it, on every replica through the invalidation
//!   channel ([`crate::coherence`]): all the tenant's entries become
//!   unreachable at once (O(1)), and age out of the cache by themselves.
//!   Readers take the generation *before* querying, so a result read before
//!   a commit is stored under the old generation and never served after it.
//!   A process-wide generation does the same for "forget everything".
//! - Every key holds the viewer's visibility (drafts or not), so a draft
//!   cached for an instructor is never served to a learner.
//! - Entries are served and stored only while the replica hears every
//!   invalidation (its listener is connected).
//! - Size is bounded by weight (bytes of the cached body).
//!
//! Nothing learner-specific is cached.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use bytes::Bytes;
use lms_domain::OrgId;
use moka::sync::Cache;

use crate::coherence::Freshness;

/// What an entry answers.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Entry {
    /// A catalog page: the normalised query string.
    List(String),
    /// One course's tree.
    Detail(uuid::Uuid),
    /// The category tree.
    CategoryTree,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    org: OrgId,
    global: u64,
    generation: u64,
    drafts: bool,
    entry: Entry,
}

/// A cached read: the response body, and its entity tag when it shows one
/// resource.
#[derive(Debug, Clone)]
pub struct Cached {
    /// The serialized body.
    pub body: Bytes,
    /// The body's entity tag.
    pub etag: Option<String>,
}

impl Cached {
    /// A body that is not one versioned resource.
    pub fn body(body: Bytes) -> Self {
        Self { body, etag: None }
    }
}

/// The catalog cache and its counters.
#[derive(Debug)]
pub struct CatalogCache {
    entries: Cache<Key, Cached>,
    generations: RwLock<HashMap<OrgId, u64>>,
    global: AtomicU64,
    fresh: Arc<Freshness>,
    hits: AtomicU64,
    misses: AtomicU64,
}

/// A ticket for one read: the key under the generations current when the
/// read began.
#[derive(Debug, Clone)]
pub struct Ticket(Key);

impl CatalogCache {
    /// A cache of at most `max_bytes`, entries living `ttl`, trusted while
    /// `fresh` says so.
    pub fn new(max_bytes: u64, ttl: Duration, fresh: Arc<Freshness>) -> Self {
        let entries = Cache::builder()
            .max_capacity(max_bytes)
            .weigher(|_k: &Key, v: &Cached| u32::try_from(v.body.len() + 64).unwrap_or(u32::MAX))
            .time_to_live(ttl)
            .build();
        Self {
            entries,
            generations: RwLock::new(HashMap::new()),
            global: AtomicU64::new(0),
            fresh,
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    fn generation(&self, org: OrgId) -> u64 {
        self.generations
            .read()
            .map(|g| g.get(&org).copied().unwrap_or(0))
            .unwrap_or(0)
    }

    /// Looks `entry` up for `org` and a viewer who sees drafts or not. On a
    /// miss, returns the ticket to store the fresh result under.
    pub fn get(&self, org: OrgId, drafts: bool, entry: Entry) -> Result<Cached, Ticket> {
        let key = Key {
            org,
            global: self.global.load(Ordering::Acquire),
            generation: self.generation(org),
            drafts,
            entry,
        };
        match self
            .fresh
            .trusted()
            .then(|| self.entries.get(&key))
            .flatten()
        {
            Some(v) => {
                self.hits.fetch_add(1, Ordering::Relaxed);
                Ok(v)
            }
            None => {
                self.misses.fetch_add(1, Ordering::Relaxed);
                Err(Ticket(key))
            }
        }
    }

    /// Stores a read under `ticket`.
    pub fn put(&self, ticket: Ticket, read: Cached) {
        if self.fresh.trusted() {
            self.entries.insert(ticket.0, read);
        }
    }

    /// Makes every entry of `org` unreachable.
    pub fn invalidate(&self, org: OrgId) {
        if let Ok(mut g) = self.generations.write() {
            *g.entry(org).or_insert(0) += 1;
        }
    }

    /// Makes every entry unreachable.
    pub fn invalidate_all(&self) {
        self.global.fetch_add(1, Ordering::AcqRel);
        self.entries.invalidate_all();
    }

    /// Hits so far.
    pub fn hits(&self) -> u64 {
        self.hits.load(Ordering::Relaxed)
    }

    /// Misses so far.
    pub fn misses(&self) -> u64 {
        self.misses.load(Ordering::Relaxed)
    }

    /// Entries and their total weight (approximate bytes), after pending
    /// maintenance.
    pub fn size(&self) -> (u64, u64) {
        self.entries.run_pending_tasks();
        (self.entries.entry_count(), self.entries.weighted_size())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trusted() -> Arc<Freshness> {
        let f = Arc::new(Freshness::new(Duration::from_secs(1)));
        f.up();
        f
    }

    #[test]
    fn generation_bump_hides_old_entries_and_tenants_never_share() {
        let c = CatalogCache::new(1 << 20, Duration::from_secs(60), trusted());
        let (a, b) = (OrgId::new(), OrgId::new());
        let id = uuid::Uuid::now_v7();
        let t = c.get(a, false, Entry::Detail(id)).unwrap_err();
        c.put(t, Cached::body(Bytes::from_static(b"{\"title\":\"A\"}")));
        assert_eq!(
            c.get(a, false, Entry::Detail(id)).unwrap().body,
            &b"{\"title\":\"A\"}"[..]
        );
        assert!(
            c.get(b, false, Entry::Detail(id)).is_err(),
            "another tenant, same id"
        );
        assert!(
            c.get(a, true, Entry::Detail(id)).is_err(),
            "another visibility"
        );
        // A read that started before a write stores under the old generation.
        let stale = c.get(a, false, Entry::List("q".into())).unwrap_err();
        c.invalidate(a);
        c.put(stale, Cached::body(Bytes::from_static(b"\"old\"")));
        assert!(c.get(a, false, Entry::List("q".into())).is_err());
        assert!(c.get(a, false, Entry::Detail(id)).is_err());
        // And the same across every tenant at once.
        let t = c.get(b, false, Entry::CategoryTree).unwrap_err();
        c.invalidate_all();
        c.put(t, Cached::body(Bytes::from_static(b"{}")));
        assert!(c.get(b, false, Entry::CategoryTree).is_err());
        assert_eq!((c.hits(), c.misses()), (1, 8));
    }
}
