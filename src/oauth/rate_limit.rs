//! Rate limits on the token endpoint.
//!
//! - **Hashes per address** (`HashAllowance`): an address (an IPv6 /64) may spend at most
//!   `failed_auth_per_minute` argon2 hashes on secrets that turn out wrong in any 60 seconds.
//!   The allowance is taken *before* a request queues for a hash and given back when the secret
//!   proves right (or no hash ran), so however many wrong secrets arrive at once, no more than
//!   the limit are ever hashed. This is what bounds guessing secrets and the hash pool's cost.
//! - **Per Client ID** (governor's GCRA): `token_requests_per_second`, bursts of twice that,
//!   or the key's own rate when it has one (`own`). Counted only after authentication, so its
//!   keys are real keys (bounded memory) and a stranger sending wrong secrets cannot spend a
//!   client's quota. Each node counts on its own: with N nodes behind a balancer a client
//!   gets up to N times the rate.
//!
//! Both measure time on one monotonic clock handed in ([`crate::clock::Monotonic`]), so their
//! tests move a hand-driven clock instead of sleeping.

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, Ipv6Addr};
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use governor::middleware::NoOpMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};

use crate::clock::{SharedMonotonic, monotonic};
use crate::config::RateLimitConfig;

mod own;

/// The window of `failed_auth_per_minute`.
const WINDOW: Duration = Duration::from_secs(60);
/// Most address blocks whose spent allowance is remembered at once.
const MAX_TRACKED_BLOCKS: usize = 100_000;

/// The per-Client-ID limiter, on the limits' own clock.
type ClientLimiter =
    RateLimiter<String, DefaultKeyedStateStore<String>, LimiterClock, NoOpMiddleware<Instant>>;

/// The token endpoint's limits; `None` parts are turned off.
pub struct RateLimits {
    clock: SharedMonotonic,
    per_client: Option<ClientLimiter>,
    /// Keys with a rate of their own; `None` when rate limits are off.
    own: Option<own::OwnRates>,
    hashes: Option<HashAllowance>,
}

/// `rate` requests per second, in bursts of up to twice that.
fn quota(rate: NonZeroU32) -> Quota {
    let burst = rate.saturating_mul(NonZeroU32::MIN.saturating_add(1));
    Quota::per_second(rate).allow_burst(burst)
}

impl RateLimits {
    /// The limits of `config`, on the system's monotonic clock.
    pub fn new(config: &RateLimitConfig) -> Self {
        Self::with_clock(config, monotonic())
    }

    /// The limits of `config`, measuring time on `clock`.
    pub fn with_clock(config: &RateLimitConfig, clock: SharedMonotonic) -> Self {
        let enabled = |n: u32| NonZeroU32::new(n).filter(|_| config.enabled);
        let per_client = enabled(config.token_requests_per_second).map(|rate| {
            RateLimiter::new(
                quota(rate),
                DefaultKeyedStateStore::default(),
                LimiterClock(Arc::clone(&clock)),
            )
        });
        let own = config
            .enabled
            .then(|| own::OwnRates::new(LimiterClock(Arc::clone(&clock))));
        let hashes = enabled(config.failed_auth_per_minute).map(HashAllowance::new);
        Self {
            clock,
            per_client,
            own,
            hashes,
        }
    }

    /// Takes one hash from `ip`'s allowance, or says how long until one is free. Settle the
    /// reservation with the verdict once the hash has run.
    pub fn reserve_hash(&self, ip: IpAddr) -> Result<HashReservation, Duration> {
        match &self.hashes {
            Some(allowance) => allowance.reserve(ip, self.clock.now()),
            None => Ok(HashReservation { spent: None }),
        }
    }

    /// Err(retry after) when `client_id` is over its request rate: `own_rate` when the key
    /// has one, else the issuer's.
    pub fn check_client(&self, client_id: &str, own_rate: Option<u32>) -> Result<(), Duration> {
        if let (Some(own), Some(rate)) = (&self.own, own_rate.and_then(NonZeroU32::new)) {
            return own.check(client_id, rate);
        }
        let Some(limiter) = &self.per_client else {
            return Ok(());
        };
        limiter
            .check_key(&client_id.to_string())
            .map_err(|not_until| not_until.wait_time_from(self.clock.now()))
    }

    /// Forgets idle keys; called now and then so memory follows the active set.
    pub fn shrink(&self) {
        if let Some(limiter) = &self.per_client {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
        if let Some(own) = &self.own {
            own.forget_idle();
        }
        if let Some(allowance) = &self.hashes {
            allowance.forget_idle(self.clock.now());
        }
    }
}

/// The limits' clock as governor reads it.
#[derive(Clone)]
struct LimiterClock(SharedMonotonic);

impl governor::clock::Clock for LimiterClock {
    type Instant = Instant;

    fn now(&self) -> Instant {
        self.0.now()
    }
}

/// The hashes each address block started in the last [`WINDOW`], newest last.
type Spent = Arc<Mutex<VecDeque<Instant>>>;

/// At most `limit` hashes of wrong secrets per address block per sliding minute.
struct HashAllowance {
    limit: usize,
    /// At most [`MAX_TRACKED_BLOCKS`] blocks. Full, it refuses new blocks rather than forget
    /// one that is spending (a cache that evicts would hand an attacker a fresh allowance).
    spent: Mutex<HashMap<IpAddr, Spent>>,
}

impl HashAllowance {
    fn new(limit: NonZeroU32) -> Self {
        Self {
            limit: usize::try_from(limit.get()).unwrap_or(usize::MAX),
            spent: Mutex::default(),
        }
    }

    /// The spent list of `ip`'s block, or `None` when no new block can be tracked now.
    fn spent_of(&self, ip: IpAddr, now: Instant) -> Option<Spent> {
        let block = address_block(ip);
        let mut blocks = self.spent.lock().unwrap_or_else(PoisonError::into_inner);
        if !blocks.contains_key(&block) && blocks.len() >= MAX_TRACKED_BLOCKS {
            blocks.retain(|_, spent| !is_idle(spent, now));
            if blocks.len() >= MAX_TRACKED_BLOCKS {
                return None;
            }
        }
        Some(Arc::clone(blocks.entry(block).or_default()))
    }

    /// Drops the blocks that spent nothing in the last window.
    fn forget_idle(&self, now: Instant) {
        let mut blocks = self.spent.lock().unwrap_or_else(PoisonError::into_inner);
        blocks.retain(|_, spent| !is_idle(spent, now));
        blocks.shrink_to_fit();
    }

    fn reserve(&self, ip: IpAddr, now: Instant) -> Result<HashReservation, Duration> {
        // Fail closed: with every place taken by blocks that are spending, nobody new hashes.
        let spent = self.spent_of(ip, now).ok_or(WINDOW)?;
        {
            // A std Mutex: held for a few comparisons, never across an await.
            let mut times = spent
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            while times
                .front()
                .is_some_and(|&t| now.saturating_duration_since(t) >= WINDOW)
            {
                times.pop_front();
            }
            if times.len() >= self.limit {
                let oldest = times.front().copied().unwrap_or(now);
                return Err((oldest + WINDOW).saturating_duration_since(now));
            }
            times.push_back(now);
        }
        Ok(HashReservation {
            spent: Some((spent, now)),
        })
    }
}

/// Whether a block spent nothing within the last window.
fn is_idle(spent: &Spent, now: Instant) -> bool {
    let times = spent.lock().unwrap_or_else(PoisonError::into_inner);
    times
        .back()
        .is_none_or(|&t| now.saturating_duration_since(t) >= WINDOW)
}

/// One hash taken from an address's allowance. Dropped as it is, it stays spent (a wrong
/// secret); [`HashReservation::give_back`] returns it (a right secret, or no hash ran).
#[derive(Debug)]
#[must_use = "settle the reservation: drop it for a wrong secret, give it back otherwise"]
pub struct HashReservation {
    spent: Option<(Spent, Instant)>,
}

impl HashReservation {
    /// A reservation of nothing: settling it changes no allowance.
    pub fn nothing() -> Self {
        Self { spent: None }
    }

    /// Returns the hash to the allowance: the secret was right, or it was never hashed.
    pub fn give_back(self) {
        let Some((spent, at)) = self.spent else {
            return;
        };
        let mut times = spent
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(position) = times.iter().rposition(|&t| t == at) {
            times.remove(position);
        }
    }
}

/// The block an address is limited as: an IPv4 address alone, an IPv6 address by its /64 (one
/// subscriber's allocation, RFC 6177), and an IPv4-mapped IPv6 address as the IPv4 address.
pub fn address_block(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let prefix = u128::from(v6) & !u128::from(u64::MAX);
                IpAddr::V6(Ipv6Addr::from(prefix))
            }
        },
    }
}

#[cfg(test)]
mod tests;
