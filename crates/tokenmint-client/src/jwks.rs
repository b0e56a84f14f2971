//! The JWKS cache: one snapshot of the issuer's keys, kept as long as `Cache-Control: max-age`
//! says, revalidated with `If-None-Match` when it runs out, and refetched early when a token names
//! a `kid` it lacks — at most once per `refetch_interval`, by one caller while the others wait
//! for its result (single flight). A flood of tokens with random `kid`s therefore costs at most
//! one JWKS request per interval, whoever sends it and however many arrive at once.

mod fetch;
pub(crate) mod keys;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use tokio::time::Instant;

use crate::error::VerifyError;
pub(crate) use fetch::CachePolicy;
use fetch::Fetched;
pub(crate) use fetch::JwksClient;
use keys::{KeySet, VerifyKey};

/// One fetched JWKS and how long it may be used.
struct Snapshot {
    keys: KeySet,
    etag: Option<String>,
    /// Until when the keys may be used without asking the issuer again.
    fresh_until: Instant,
    /// Bumped by every fetch or revalidation: a caller that waited for the fetch lock sees that
    /// another caller already fetched, and does not fetch again.
    generation: u64,
}

/// What the caller holding the fetch lock remembers between fetches.
#[derive(Default)]
struct FetchLog {
    /// When a `kid` miss last led to a fetch: the start of the interval it used up.
    last_kid_miss_fetch: Option<Instant>,
    /// The last failed fetch, and why: later callers get the same error until the retry delay.
    last_failure: Option<(Instant, String)>,
}

/// Why a caller wants a fetch.
#[derive(Clone, Copy)]
enum Reason {
    Expired,
    UnknownKid,
}

pub(crate) struct JwksCache {
    client: JwksClient,
    policy: CachePolicy,
    // A std lock, not tokio's: it is held only to clone or replace an `Arc`, never across await.
    snapshot: RwLock<Arc<Snapshot>>,
    // tokio's mutex: it is held across the fetch, which is what makes it single-flight.
    fetch_lock: tokio::sync::Mutex<FetchLog>,
    fetches: AtomicU64,
}

impl JwksCache {
    pub(crate) fn new(client: JwksClient, policy: CachePolicy) -> Self {
        let empty = Snapshot {
            keys: KeySet::new(),
            etag: None,
            fresh_until: Instant::now(),
            generation: 0,
        };
        Self {
            client,
            policy,
            snapshot: RwLock::new(Arc::new(empty)),
            fetch_lock: tokio::sync::Mutex::new(FetchLog::default()),
            fetches: AtomicU64::new(0),
        }
    }

    /// HTTP requests made for the JWKS so far.
    pub(crate) fn fetch_count(&self) -> u64 {
        self.fetches.load(Ordering::Relaxed)
    }

    /// The published key `kid` names, fetching or revalidating the JWKS when the rules allow.
    pub(crate) async fn key(&self, kid: &str) -> Result<Arc<VerifyKey>, VerifyError> {
        let unknown = || VerifyError::UnknownKeyId {
            kid: kid.to_string(),
        };
        let snapshot = self.current();
        if Instant::now() >= snapshot.fresh_until {
            // Just fetched (by this caller or the one it waited for): no second fetch for a miss.
            let snapshot = self.refresh(snapshot.generation, Reason::Expired).await?;
            return snapshot.keys.get(kid).cloned().ok_or_else(unknown);
        }
        if let Some(key) = snapshot.keys.get(kid) {
            return Ok(Arc::clone(key));
        }
        let snapshot = self
            .refresh(snapshot.generation, Reason::UnknownKid)
            .await?;
        snapshot.keys.get(kid).cloned().ok_or_else(unknown)
    }

    /// Fetches the JWKS now unless the cache is fresh (for warming a verifier up at start).
    pub(crate) async fn warm(&self) -> Result<(), VerifyError> {
        let snapshot = self.current();
        if Instant::now() >= snapshot.fresh_until {
            self.refresh(snapshot.generation, Reason::Expired).await?;
        }
        Ok(())
    }

    fn current(&self) -> Arc<Snapshot> {
        // A poisoned lock still holds a whole `Arc` (replacing it cannot panic halfway).
        Arc::clone(&self.snapshot.read().unwrap_or_else(|p| p.into_inner()))
    }

    fn install(&self, snapshot: Snapshot) -> Arc<Snapshot> {
        let snapshot = Arc::new(snapshot);
        *self.snapshot.write().unwrap_or_else(|p| p.into_inner()) = Arc::clone(&snapshot);
        snapshot
    }

    /// The single flight: one caller at a time decides whether to fetch; callers that waited
    /// find the result of the fetch they waited for (a newer generation) and use it.
    async fn refresh(&self, seen: u64, reason: Reason) -> Result<Arc<Snapshot>, VerifyError> {
        let mut log = self.fetch_lock.lock().await;
        let snapshot = self.current();
        let now = Instant::now();
        if snapshot.generation != seen {
            return Ok(snapshot);
        }
        match reason {
            Reason::UnknownKid => {
                let cooling = log
                    .last_kid_miss_fetch
                    .is_some_and(|at| now.duration_since(at) < self.policy.refetch_interval);
                if cooling {
                    return Ok(snapshot);
                }
                log.last_kid_miss_fetch = Some(now);
            }
            Reason::Expired => {
                if let Some((at, why)) = &log.last_failure
                    && now.duration_since(*at) < self.policy.retry_after_failure
                {
                    return Err(VerifyError::JwksUnavailable(why.clone()));
                }
            }
        }
        self.fetches.fetch_add(1, Ordering::Relaxed);
        match self.client.fetch(snapshot.etag.as_deref()).await {
            Ok(fetched) => {
                log.last_failure = None;
                Ok(self.install(self.next_snapshot(&snapshot, fetched, now)))
            }
            Err(why) => {
                tracing::warn!(reason = %why, "JWKS fetch failed");
                log.last_failure = Some((now, why.clone()));
                match reason {
                    // The cached keys are still fresh: the kid is simply unknown.
                    Reason::UnknownKid if now < snapshot.fresh_until => Ok(snapshot),
                    _ => Err(VerifyError::JwksUnavailable(why)),
                }
            }
        }
    }

    fn next_snapshot(&self, old: &Snapshot, fetched: Fetched, now: Instant) -> Snapshot {
        let max_age = self.policy.clamp(fetched.max_age);
        let fresh_until = now.checked_add(max_age).unwrap_or(now);
        let generation = old.generation.wrapping_add(1);
        match fetched.keys {
            Some(keys) => Snapshot {
                keys,
                etag: fetched.etag,
                fresh_until,
                generation,
            },
            // 304 Not Modified: the same keys, fresh again.
            None => Snapshot {
                keys: old.keys.clone(),
                etag: fetched.etag.or_else(|| old.etag.clone()),
                fresh_until,
                generation,
            },
        }
    }
}

impl CachePolicy {
    /// The issuer's max-age (or the default when it sent none), within the policy's bounds.
    fn clamp(&self, max_age: Option<Duration>) -> Duration {
        max_age
            .unwrap_or(self.default_max_age)
            .clamp(self.min_max_age, self.max_max_age)
    }
}

/// The default HTTP client for metadata and JWKS requests: rustls, bounded time.
pub(crate) fn fetch_client() -> Result<reqwest::Client, crate::error::SetupError> {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .connect_timeout(Duration::from_secs(5))
        .build()
        .map_err(|e| crate::error::SetupError::Client(e.to_string()))
}
