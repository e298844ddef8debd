//! Login abuse limits: fixed windows counted in moka.
//!
//! Two counters guard each login endpoint: attempts per (tenant, e-mail)
//! since the last success, which stops guessing one account's password, and
//! attempts per client address, which stops spraying many accounts from one
//! place. Both count before the password is checked. A blocked
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

    /// Counts one event for `key` and refuses it (`Err(seconds to wait)`)
    /// when it goes over the limit. Counting *before* the work is what holds
    /// under concurrency: a burst of parallel attempts cannot all slip
    /// through between a check and a record.
    pub fn hit(&self, key: &str) -> Result<(), u64> {
        let w = self.windows.get_with(key.to_owned(), || {
            Arc::new(Window {
                started: Instant::now(),
                count: AtomicU32::new(0),
            })
        });
        let n = w.count.fetch_add(1, Ordering::Relaxed) + 1;
        if n > self.limit.max {
            let left = self.limit.window.saturating_sub(w.started.elapsed());
            return Err(left.as_secs().max(1));
        }
        Ok(())
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
        assert!(l.hit("k").is_ok());
        assert!(l.hit("k").is_ok());
        let wait = l.hit("k").unwrap_err();
        assert!((1..=60).contains(&wait));
        l.clear("k");
        assert!(l.hit("k").is_ok());
    }

    #[test]
    fn hit_counts_before_the_work() {
        let l = RateLimiter::new(
            Limit {
                max: 2,
                window: Duration::from_secs(60),
            },
            100,
        );
        assert!(l.hit("k").is_ok());
        assert!(l.hit("k").is_ok());
        assert!(l.hit("k").is_err());
        assert!(l.hit("other").is_ok());
    }
}
