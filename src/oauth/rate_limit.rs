//! Rate limits on the token endpoint (governor's GCRA):
//!
//! - per source IP on failed client authentication: once an address has failed
//!   `failed_auth_per_minute` times, it is refused with 429 before any lookup or hash, until the
//!   quota refills. This is what bounds guessing secrets.
//! - per Client ID on successful requests: `token_requests_per_second`, bursts of twice that.
//!   Counted only after authentication, so its keys are real keys (bounded memory) and a
//!   stranger sending wrong secrets cannot spend a client's quota.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::{Duration, Instant};

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::config::RateLimitConfig;

/// The longest an address stays blocked after failing too often.
const MAX_BLOCK: Duration = Duration::from_secs(60);
/// Most addresses remembered as blocked at once.
const MAX_BLOCKED: u64 = 100_000;

/// The token endpoint's limits; `None` parts are turned off.
pub struct RateLimits {
    per_client: Option<DefaultKeyedRateLimiter<String>>,
    failed_auth: Option<DefaultKeyedRateLimiter<IpAddr>>,
    /// Addresses refused until the given instant.
    blocked: moka::sync::Cache<IpAddr, Instant>,
}

impl RateLimits {
    pub fn new(config: &RateLimitConfig) -> Self {
        let enabled = |n: u32| NonZeroU32::new(n).filter(|_| config.enabled);
        let per_client = enabled(config.token_requests_per_second).map(|rate| {
            let burst = rate.saturating_mul(NonZeroU32::MIN.saturating_add(1));
            RateLimiter::keyed(Quota::per_second(rate).allow_burst(burst))
        });
        let failed_auth = enabled(config.failed_auth_per_minute)
            .map(|rate| RateLimiter::keyed(Quota::per_minute(rate)));
        let blocked = moka::sync::Cache::builder()
            .max_capacity(MAX_BLOCKED)
            .time_to_live(MAX_BLOCK)
            .build();
        Self {
            per_client,
            failed_auth,
            blocked,
        }
    }

    /// Err(retry after) when `ip` is blocked for failing too often.
    pub fn check_address(&self, ip: IpAddr) -> Result<(), Duration> {
        match self.blocked.get(&ip) {
            Some(until) if until > Instant::now() => Err(until - Instant::now()),
            _ => Ok(()),
        }
    }

    /// Counts a failed authentication from `ip`; blocks it once its quota is spent.
    pub fn record_failure(&self, ip: IpAddr) {
        let Some(limiter) = &self.failed_auth else {
            return;
        };
        if let Err(not_until) = limiter.check_key(&ip) {
            let wait = not_until
                .wait_time_from(DefaultClock::default().now())
                .min(MAX_BLOCK);
            self.blocked.insert(ip, Instant::now() + wait);
        }
    }

    /// Err(retry after) when `client_id` is over its request rate.
    pub fn check_client(&self, client_id: &str) -> Result<(), Duration> {
        let Some(limiter) = &self.per_client else {
            return Ok(());
        };
        limiter
            .check_key(&client_id.to_string())
            .map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now()))
    }

    /// Forgets idle keys; called now and then so memory follows the active set.
    pub fn shrink(&self) {
        if let Some(limiter) = &self.per_client {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
        if let Some(limiter) = &self.failed_auth {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(per_second: u32, failures: u32) -> RateLimitConfig {
        RateLimitConfig {
            enabled: true,
            token_requests_per_second: per_second,
            failed_auth_per_minute: failures,
            trusted_proxies: Vec::new(),
        }
    }

    #[test]
    fn a_client_gets_a_burst_of_twice_its_rate_then_waits() {
        let limits = RateLimits::new(&config(2, 10));
        for _ in 0..4 {
            assert!(limits.check_client("a").is_ok());
        }
        let wait = limits.check_client("a").unwrap_err();
        assert!(wait <= Duration::from_millis(500), "{wait:?}");
        assert!(
            limits.check_client("b").is_ok(),
            "other clients are not affected"
        );
    }

    #[test]
    fn an_address_is_blocked_after_its_failures() {
        let limits = RateLimits::new(&config(20, 2));
        let ip: IpAddr = "203.0.113.5".parse().unwrap();
        limits.record_failure(ip);
        limits.record_failure(ip);
        assert!(limits.check_address(ip).is_ok(), "two failures are allowed");
        limits.record_failure(ip);
        let wait = limits.check_address(ip).unwrap_err();
        assert!(wait > Duration::ZERO && wait <= MAX_BLOCK, "{wait:?}");
        assert!(limits.check_address("203.0.113.6".parse().unwrap()).is_ok());
    }

    #[test]
    fn disabled_limits_never_refuse() {
        let mut off = config(1, 1);
        off.enabled = false;
        let limits = RateLimits::new(&off);
        let ip: IpAddr = "203.0.113.5".parse().unwrap();
        for _ in 0..10 {
            limits.record_failure(ip);
            assert!(limits.check_client("a").is_ok());
        }
        assert!(limits.check_address(ip).is_ok());
    }
}
