//! The clock, as a value: code that decides by the time takes a [`Clock`] (or a `now`
//! argument) instead of reading the system time itself, so its tests can set the time. Rate
//! limits measure elapsed time on a [`Monotonic`] clock instead, which tests move by hand
//! ([`ManualMonotonic`]).

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

/// Where the current time comes from.
pub trait Clock: Send + Sync {
    /// The current time, at the precision the store keeps.
    fn now(&self) -> DateTime<Utc>;
}

/// The system's clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        crate::store::now()
    }
}

/// A shared clock.
pub type SharedClock = Arc<dyn Clock>;

/// The system clock, shared.
pub fn system() -> SharedClock {
    Arc::new(SystemClock)
}

/// Where elapsed time comes from, for rate limits: monotonic, because a wall clock can be set
/// back and a window measured by it would then never end (or end at once).
pub trait Monotonic: Send + Sync {
    /// The current instant.
    fn now(&self) -> Instant;
}

/// The system's monotonic clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemMonotonic;

impl Monotonic for SystemMonotonic {
    fn now(&self) -> Instant {
        Instant::now()
    }
}

/// A shared monotonic clock.
pub type SharedMonotonic = Arc<dyn Monotonic>;

/// The system's monotonic clock, shared.
pub fn monotonic() -> SharedMonotonic {
    Arc::new(SystemMonotonic)
}

/// A monotonic clock that moves only when told: tests of time passing, without sleeping.
#[derive(Debug)]
pub struct ManualMonotonic {
    at: Mutex<Instant>,
}

impl ManualMonotonic {
    /// A clock standing at an arbitrary instant.
    pub fn new() -> Arc<Self> {
        Arc::new(Self {
            at: Mutex::new(Instant::now()),
        })
    }

    /// Moves the clock on by `by`.
    pub fn advance(&self, by: Duration) {
        let mut at = self.at.lock().unwrap_or_else(PoisonError::into_inner);
        *at = at.checked_add(by).unwrap_or(*at);
    }
}

impl Monotonic for ManualMonotonic {
    fn now(&self) -> Instant {
        *self.at.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
