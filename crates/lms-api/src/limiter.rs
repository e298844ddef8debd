//! Login abuse limits: fixed windows counted in moka.
//!
//! Two counters guard each login endpoint: failures per (tenant, e-mail),
//! which stops guessing one account's password, and attempts per client
//! address, which stops spraying many accounts from one place. A blocked
//! login answers 429 with `Retry-After` whether or not the e-mail exists.
//! The counters are per process: with N replicas an attacker gets at most N
//! times the budget, which the limits are sized for.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use moka::sync::Cache;

/// Limits of one kind of key.
#[derive(Debug, Clone, Copy)]
pub struct Limit {
    /// Events allowed per window.
    pub max: u32,
    /// Window length.
    pub window: Duration,
}

#[derive(Debug)]
struct Window {
    started: Instant,
    count: AtomicU32,
}

/// Counts events per key in fixed windows.
#[derive(Debug)]
pub struct RateLimiter {
    limit: Limit,
    windows: Cache<String, Arc<Window>>,
}

impl RateLimiter {
    /// A limiter allowing `limit.max` events per key per window; it tracks
    /// at most `capacity` keys (the oldest are forgotten first).
    pub fn new(limit: Limit, capacity: u64) -> Self {
        let windows = Cache::builder()
            .max_capacity(capacity)
            .time_to_live(limit.window)
            .build();
        Self { limit, windows }
    }

    /// `Err(seconds to wait)` when `key` has used up its window.
    pub fn check(&self, key: &str) -> Result<(), u64> {
        match self.windows.get(key) {
            Some(w) if w.count.load(Ordering::Relaxed) >= self.limit.max => {
                let left = self.limit.window.saturating_sub(w.started.elapsed());
                Err(left.as_secs().max(1))
            }
            _ => Ok(()),
        }
    }

    /// Counts one event for `key`.
    pub fn record(&self, key: &str) {
        let w = self.windows.get_with(key.to_owned(), || {
            Arc::new(Window {
                started: Instant::now(),
                count: AtomicU32::new(0),
            })
        });
        w.count.fetch_add(1, Ordering::Relaxed);
    }

    /// Forgets `key` (a successful login clears its failures).
    pub fn clear(&self, key: &str) {
        self.windows.invalidate(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_after_max_and_reports_the_wait() {
        let l = RateLimiter::new(
            Limit {
                max: 2,
                window: Duration::from_secs(60),
            },
            100,
        );
        assert!(l.check("k").is_ok());
        l.record("k");
        l.record("k");
        let wait = l.check("k").unwrap_err();
        assert!((1..=60).contains(&wait));
        assert!(l.check("other").is_ok());
        l.clear("k");
        assert!(l.check("k").is_ok());
    }
}
