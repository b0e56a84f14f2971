//! Keys with a request rate of their own (`token_requests_per_second` on the key): one GCRA
//! limiter each, since governor's keyed limiter holds one quota for all its keys. Only
//! authenticated keys get here, and only those an admin gave a rate, so the map stays as small
//! as that set; a key idle for a while is forgotten, and a changed rate starts a new limiter.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use governor::RateLimiter;
use governor::middleware::NoOpMiddleware;
use governor::state::{InMemoryState, NotKeyed};

use super::LimiterClock;

/// How long a key's limiter is kept after its last request: longer than any limiter takes to
/// refill (a burst of two seconds' worth), so forgetting one never hands out a fresh burst early.
const IDLE: Duration = Duration::from_secs(600);

type KeyLimiter = RateLimiter<NotKeyed, InMemoryState, LimiterClock, NoOpMiddleware<Instant>>;

/// A key's limiter, the rate it was built for, and when it was last asked.
struct Entry {
    rate: NonZeroU32,
    limiter: Arc<KeyLimiter>,
    last_seen: Instant,
}

pub(super) struct OwnRates {
    clock: LimiterClock,
    limiters: Mutex<HashMap<String, Entry>>,
}

impl OwnRates {
    pub(super) fn new(clock: LimiterClock) -> Self {
        Self {
            clock,
            limiters: Mutex::default(),
        }
    }

    /// Err(retry after) when `client_id` is over `rate` per second (bursts of twice that).
    pub(super) fn check(&self, client_id: &str, rate: NonZeroU32) -> Result<(), Duration> {
        let now = governor::clock::Clock::now(&self.clock);
        let limiter = {
            // A std Mutex: held for one lookup, never across an await.
            let mut limiters = self.limiters.lock().unwrap_or_else(PoisonError::into_inner);
            match limiters.get_mut(client_id) {
                Some(entry) if entry.rate == rate => {
                    entry.last_seen = now;
                    Arc::clone(&entry.limiter)
                }
                _ => {
                    let limiter = Arc::new(RateLimiter::direct_with_clock(
                        super::quota(rate),
                        self.clock.clone(),
                    ));
                    let entry = Entry {
                        rate,
                        limiter: Arc::clone(&limiter),
                        last_seen: now,
                    };
                    limiters.insert(client_id.to_string(), entry);
                    limiter
                }
            }
        };
        limiter
            .check()
            .map_err(|not_until| not_until.wait_time_from(now))
    }

    /// Forgets the keys not seen for [`IDLE`].
    pub(super) fn forget_idle(&self) {
        let now = governor::clock::Clock::now(&self.clock);
        let mut limiters = self.limiters.lock().unwrap_or_else(PoisonError::into_inner);
        limiters.retain(|_, entry| now.saturating_duration_since(entry.last_seen) < IDLE);
        limiters.shrink_to_fit();
    }

    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.limiters
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}
