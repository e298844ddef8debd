//! Login abuse limits: fixed windows counted in moka.
//!
//! [`LoginGuard`] guards each login endpoint so that a stranger cannot lock
//! a user out:
//! - attempts per client address, which stops spraying many accounts from
//!   one place;
//! - failures per (account, client address): the lock. Five wrong passwords
//!   from one address stop that address, not the account;
//! - failures per account from all addresses: past the per-address limit
//!   each further attempt from an address the account has not logged in
//!   from waits longer (growing delays), and past a higher ceiling such
//!   addresses are refused for the rest of the window. An address the
//!   account logged in from before is neither delayed nor refused by it, so
//!   the user still gets in while someone elsewhere guesses.
//!
//! Everything counts before the password is checked (a parallel burst is
//! limited too). A refused login answers 429 with `Retry-After` whether or
//! not the e-mail exists. The counters are per process: with N replicas an
//! attacker gets at most N times the budget, which the limits are sized
//! for.

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
        self.count(key).map(|_| ())
    }

    /// Like [`Self::hit`], and says how many events the window has seen,
    /// this one included.
    pub fn count(&self, key: &str) -> Result<u32, u64> {
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
        Ok(n)
    }

    /// Takes back one event of `key` (an attempt that turned out not to be a
    /// failure).
    pub fn refund(&self, key: &str) {
        if let Some(w) = self.windows.get(key) {
            let _ = w
                .count
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1));
        }
    }

    /// Forgets `key` (a successful login clears its failures).
    pub fn clear(&self, key: &str) {
        self.windows.invalidate(key);
    }
}

/// The limits of [`LoginGuard`].
#[derive(Debug, Clone, Copy)]
pub struct LoginLimits {
    /// Attempts per client address.
    pub per_client: Limit,
    /// Failures per (account, address): the lock.
    pub per_account_address: Limit,
    /// Failures per account from addresses it has not logged in from: the
    /// ceiling (delays grow from `per_account_address.max` up to it).
    pub per_account: Limit,
}

/// The first growing delay, doubled with each further failure.
const FIRST_DELAY: Duration = Duration::from_millis(50);
/// The longest delay.
const LONGEST_DELAY: Duration = Duration::from_secs(5);
/// How long an address an account logged in from is remembered.
const KNOWN_FOR: Duration = Duration::from_secs(30 * 24 * 3600);

/// The login limits of one kind of account (a tenant's users, or platform
/// admins). Keys are opaque strings: the caller scopes accounts (tenant and
/// e-mail) and addresses.
#[derive(Debug)]
pub struct LoginGuard {
    per_client: RateLimiter,
    per_account_address: RateLimiter,
    per_account: RateLimiter,
    known: Cache<String, ()>,
    soft: u32,
}

impl LoginGuard {
    /// A guard with these limits.
    pub fn new(limits: LoginLimits) -> Self {
        Self {
            per_client: RateLimiter::new(limits.per_client, 100_000),
            per_account_address: RateLimiter::new(limits.per_account_address, 100_000),
            per_account: RateLimiter::new(limits.per_account, 100_000),
            known: Cache::builder()
                .max_capacity(100_000)
                .time_to_live(KNOWN_FOR)
                .build(),
            soft: limits.per_account_address.max,
        }
    }

    /// Counts an attempt from `address` that names no account (a sign-up).
    pub fn attempt(&self, address: &str) -> Result<(), u64> {
        self.per_client.hit(address)
    }

    /// Counts a login attempt on `account` from `address`: `Ok(delay)` to
    /// wait before checking the password, or `Err(seconds)` to refuse it
    /// with 429.
    pub fn admit(&self, account: &str, address: &str) -> Result<Duration, u64> {
        self.per_client.hit(address)?;
        let pair = format!("{account}\u{1f}{address}");
        self.per_account_address.hit(&pair)?;
        if self.known.contains_key(&pair) {
            return Ok(Duration::ZERO);
        }
        let n = self.per_account.count(account)?;
        Ok(match n.checked_sub(self.soft + 1) {
            None => Duration::ZERO,
            Some(excess) => FIRST_DELAY
                .saturating_mul(1u32 << excess.min(16))
                .min(LONGEST_DELAY),
        })
    }

    /// A successful login: the address's failures are forgotten and the
    /// address is known to the account from now on.
    pub fn succeeded(&self, account: &str, address: &str) {
        let pair = format!("{account}\u{1f}{address}");
        self.per_account_address.clear(&pair);
        if !self.known.contains_key(&pair) {
            // Counted as a possible failure on admission; it was not one.
            self.per_account.refund(account);
            self.known.insert(pair, ());
        }
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

    fn guard() -> LoginGuard {
        let window = Duration::from_secs(60);
        LoginGuard::new(LoginLimits {
            per_client: Limit { max: 100, window },
            per_account_address: Limit { max: 2, window },
            per_account: Limit { max: 5, window },
        })
    }

    #[test]
    fn a_stranger_locks_their_address_not_the_account() {
        let g = guard();
        g.admit("ada", "home").unwrap();
        g.succeeded("ada", "home");
        assert!(g.admit("ada", "far").is_ok());
        assert!(g.admit("ada", "far").is_ok());
        assert!(
            g.admit("ada", "far").is_err(),
            "the stranger's address is locked"
        );
        assert_eq!(g.admit("ada", "home"), Ok(Duration::ZERO));
    }

    #[test]
    fn many_addresses_meet_growing_delays_then_the_ceiling_but_home_gets_in() {
        let g = guard();
        g.admit("ada", "home").unwrap();
        g.succeeded("ada", "home");
        let delays: Vec<_> = ["a", "a", "b", "b", "c"]
            .iter()
            .map(|addr| g.admit("ada", addr))
            .collect();
        assert_eq!(delays[0], Ok(Duration::ZERO));
        assert_eq!(delays[1], Ok(Duration::ZERO));
        assert_eq!(delays[2], Ok(FIRST_DELAY));
        assert_eq!(delays[3], Ok(FIRST_DELAY * 2));
        assert_eq!(delays[4], Ok(FIRST_DELAY * 4));
        assert!(g.admit("ada", "d").is_err(), "past the ceiling");
        assert_eq!(g.admit("ada", "home"), Ok(Duration::ZERO));
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
