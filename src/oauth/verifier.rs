//! Client secrets at rest and at the door.
//!
//! Secrets are stored as argon2id PHC strings with OWASP's parameters (m = 19 MiB, t = 2, p = 1).
//! Verifying one costs tens of milliseconds of CPU and 19 MiB of memory, so it runs on a fixed
//! set of hashing threads (one per core), each reusing one argon2 memory buffer, behind a
//! semaphore: a flood of wrong secrets queues there (for a bounded time, then
//! `temporarily_unavailable`) and argon2 never holds more than threads × 19 MiB. (Allocating the
//! buffer per verification instead, on tokio's blocking pool, was measured at 480 MiB of RSS
//! under a 500-connection flood: the allocator keeps freed 19 MiB blocks in per-thread arenas.)
//!
//! A client that proved its secret recently is not hashed again: the cache maps its Client ID
//! to an HMAC, under a per-process random key, of the stored hash and the secret it presented.
//! The secret itself is never kept. A wrong secret never evicts the entry, so a flood of wrong
//! secrets for a client does not slow the client down.

use std::sync::Arc;
use std::time::Duration;

use std::sync::Mutex;
use std::sync::mpsc;

use argon2::password_hash::{PasswordHash, PasswordHasher, SaltString};
use argon2::{Argon2, Block, Params, Version};
use ring::hmac;
use ring::rand::{SecureRandom, SystemRandom};
use subtle::ConstantTimeEq;
use tokio::sync::Semaphore;

use super::credentials::ClientSecret;

/// OWASP's argon2id parameters: 19 MiB, 2 passes, 1 lane.
const ARGON2_MEMORY_KIB: u32 = 19_456;
const ARGON2_PASSES: u32 = 2;
const ARGON2_LANES: u32 = 1;

/// How many verified credentials the cache holds at most.
const CACHE_CAPACITY: u64 = 100_000;
/// How long a verified credential is trusted without hashing again.
const CACHE_TTL: Duration = Duration::from_secs(15 * 60);

/// Why a secret could not be checked (as opposed to being wrong).
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// Every hashing slot stayed busy for the whole wait.
    #[error("too many client authentications in progress")]
    Busy,
    #[error("the hashing worker failed: {0}")]
    Worker(String),
}

/// The argon2id instance with tokenmint's parameters.
fn argon2() -> Argon2<'static> {
    #[allow(clippy::expect_used)]
    let params = Params::new(ARGON2_MEMORY_KIB, ARGON2_PASSES, ARGON2_LANES, None)
        .expect("invariant: OWASP's argon2id parameters are within argon2's bounds");
    Argon2::new(argon2::Algorithm::Argon2id, Version::V0x13, params)
}

/// Hashes a new secret into a PHC string. CPU-heavy: call it off the async runtime.
pub fn hash_secret(secret: &ClientSecret) -> Result<String, VerifyError> {
    let mut salt = [0u8; 16];
    SystemRandom::new()
        .fill(&mut salt)
        .map_err(|_| VerifyError::Worker("the system random generator failed".into()))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| VerifyError::Worker(e.to_string()))?;
    let hash = argon2()
        .hash_password(secret.expose().as_bytes(), &salt)
        .map_err(|e| VerifyError::Worker(e.to_string()))?;
    Ok(hash.to_string())
}

/// The most memory a stored hash may ask for (ours ask for 19 MiB).
const MAX_MEMORY_KIB: u32 = 256 * 1024;

/// Checks a secret against a PHC string, with the parameters the string names, in `memory`
/// (grown as needed and reused: argon2 writes every block before reading it). Constant-time.
fn matches_hash(phc: &str, secret: &ClientSecret, memory: &mut Vec<Block>) -> bool {
    let Ok(hash) = PasswordHash::new(phc) else {
        return false;
    };
    let (Ok(params), Some(expected), Some(salt)) = (Params::try_from(&hash), hash.hash, hash.salt)
    else {
        return false;
    };
    let Ok(algorithm) = argon2::Algorithm::try_from(hash.algorithm) else {
        return false;
    };
    let version = hash.version.map_or(Ok(Version::V0x13), Version::try_from);
    let Ok(version) = version else { return false };
    if params.m_cost() > MAX_MEMORY_KIB {
        return false;
    }
    let mut salt_bytes = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_bytes) else {
        return false;
    };
    let blocks = params.block_count();
    if memory.len() < blocks {
        memory.resize(blocks, Block::default());
    }
    let mut output = vec![0u8; expected.len()];
    let computed = Argon2::new(algorithm, version, params).hash_password_into_with_memory(
        secret.expose().as_bytes(),
        salt,
        &mut output,
        &mut memory[..blocks],
    );
    computed.is_ok() && bool::from(output.as_slice().ct_eq(expected.as_bytes()))
}

/// Whether `secret` is the one hashed in `phc`, outside the token path's hashing threads (for
/// the rare check of a reported leak). CPU-heavy: call it off the async runtime.
pub fn secret_matches(phc: &str, secret: &ClientSecret) -> bool {
    matches_hash(phc, secret, &mut Vec::new())
}

/// One verification for a hashing thread, and where to send the verdict.
struct Job {
    phc: String,
    secret: ClientSecret,
    verdict: tokio::sync::oneshot::Sender<bool>,
}

/// Starts `count` hashing threads sharing one job queue; they stop when the sender is dropped.
fn start_hashing_threads(count: usize) -> Result<mpsc::SyncSender<Job>, VerifyError> {
    let (sender, receiver) = mpsc::sync_channel::<Job>(count);
    let receiver = Arc::new(Mutex::new(receiver));
    for i in 0..count {
        let receiver = Arc::clone(&receiver);
        std::thread::Builder::new()
            .name(format!("tokenmint-argon2-{i}"))
            .spawn(move || {
                let mut memory: Vec<Block> = Vec::new();
                loop {
                    // The lock is held only while waiting for the next job, never while hashing.
                    let job = match receiver.lock() {
                        Ok(queue) => queue.recv(),
                        Err(_) => return,
                    };
                    let Ok(job) = job else { return };
                    // A panic costs its request a 500 (the verdict is never sent), not the thread.
                    let hashed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        matches_hash(&job.phc, &job.secret, &mut memory)
                    }));
                    match hashed {
                        Ok(valid) => {
                            let _ = job.verdict.send(valid);
                        }
                        Err(_) => {
                            memory = Vec::new();
                            tracing::error!(
                                "a secret check panicked; the hashing thread carries on"
                            );
                        }
                    }
                }
            })
            .map_err(|e| VerifyError::Worker(format!("cannot start a hashing thread: {e}")))?;
    }
    Ok(sender)
}

/// A credential the cache does not vouch for, with the proof to cache should it hash right.
#[derive(Debug)]
pub struct CacheMiss([u8; 32]);

/// The outcome of a secret check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Proven recently: no hash computed.
    CachedValid,
    /// Hashed and matched.
    Valid,
    Invalid,
}

impl Verdict {
    pub fn is_valid(self) -> bool {
        self != Self::Invalid
    }
}

/// Verifies presented secrets against stored hashes, with a bounded pool and a cache.
pub struct SecretVerifier {
    /// Requests waiting for a hashing slot (exported as a metric).
    waiting: prometheus::IntGauge,
    permits: Arc<Semaphore>,
    jobs: mpsc::SyncSender<Job>,
    wait: Duration,
    cache: moka::sync::Cache<String, [u8; 32]>,
    cache_key: hmac::Key,
}

impl SecretVerifier {
    /// `slots` hashes run at once; a request waits at most `wait` for one.
    pub fn new(slots: usize, wait: Duration) -> Result<Self, VerifyError> {
        let cache_key = hmac::Key::generate(hmac::HMAC_SHA256, &SystemRandom::new())
            .map_err(|_| VerifyError::Worker("the system random generator failed".into()))?;
        let slots = slots.max(1);
        Ok(Self {
            waiting: prometheus::IntGauge::new("tokenmint_argon2_waiting", "-")
                .map_err(|e| VerifyError::Worker(e.to_string()))?,
            permits: Arc::new(Semaphore::new(slots)),
            jobs: start_hashing_threads(slots)?,
            wait,
            cache: moka::sync::Cache::builder()
                .max_capacity(CACHE_CAPACITY)
                .time_to_live(CACHE_TTL)
                .build(),
            cache_key,
        })
    }

    /// Reports the number of requests waiting for a hashing slot in `gauge`.
    pub fn with_waiting_gauge(mut self, gauge: prometheus::IntGauge) -> Self {
        self.waiting = gauge;
        self
    }

    /// Whether `secret` was proven for `client_id` and `phc` recently: `Ok` with no hash to
    /// compute, or `Err` with the proof to [`SecretVerifier::hash`] instead.
    pub fn cached(
        &self,
        client_id: &str,
        secret: &ClientSecret,
        phc: &str,
    ) -> Result<Verdict, CacheMiss> {
        let digest = self.digest(client_id, phc, secret);
        match self.cache.get(client_id) {
            Some(cached) if bool::from(cached.ct_eq(&digest)) => Ok(Verdict::CachedValid),
            _ => Err(CacheMiss(digest)),
        }
    }

    /// Whether `secret` is the one hashed in `phc`: waits at most the configured time for a
    /// hashing slot, hashes, and caches a match under `client_id`.
    pub async fn hash(
        &self,
        client_id: &str,
        secret: &ClientSecret,
        phc: &str,
        miss: CacheMiss,
    ) -> Result<Verdict, VerifyError> {
        self.waiting.inc();
        let permit = tokio::time::timeout(self.wait, self.permits.acquire()).await;
        self.waiting.dec();
        let _permit = permit
            .map_err(|_| VerifyError::Busy)?
            .map_err(|_| VerifyError::Busy)?;
        // With a permit held, a hashing thread is free or about to be: the queue has room.
        let (verdict, receive) = tokio::sync::oneshot::channel();
        let job = Job {
            phc: phc.to_string(),
            secret: secret.clone(),
            verdict,
        };
        self.jobs.try_send(job).map_err(|_| VerifyError::Busy)?;
        let valid = receive
            .await
            .map_err(|_| VerifyError::Worker("a hashing thread stopped".into()))?;
        if !valid {
            return Ok(Verdict::Invalid);
        }
        self.cache.insert(client_id.to_string(), miss.0);
        Ok(Verdict::Valid)
    }

    /// HMAC of the Client ID, the stored hash and the secret: a re-created key or a changed
    /// hash can never match an old entry.
    fn digest(&self, client_id: &str, phc: &str, secret: &ClientSecret) -> [u8; 32] {
        let mut context = hmac::Context::with_key(&self.cache_key);
        for part in [client_id, phc, secret.expose()] {
            context.update(&(part.len() as u64).to_be_bytes());
            context.update(part.as_bytes());
        }
        let mut out = [0u8; 32];
        out.copy_from_slice(context.sign().as_ref());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verifier() -> SecretVerifier {
        SecretVerifier::new(2, Duration::from_secs(5)).unwrap()
    }

    /// The cache, then a hash on a miss: what the grant does.
    async fn verify(
        v: &SecretVerifier,
        client_id: &str,
        secret: &ClientSecret,
        phc: &str,
    ) -> Result<Verdict, VerifyError> {
        match v.cached(client_id, secret, phc) {
            Ok(verdict) => Ok(verdict),
            Err(miss) => v.hash(client_id, secret, phc, miss).await,
        }
    }

    #[test]
    fn hashes_are_argon2id_with_owasp_parameters() {
        let secret = ClientSecret::generate("dh").unwrap();
        let phc = hash_secret(&secret).unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(!phc.contains(secret.expose()));
    }

    #[tokio::test]
    async fn right_secret_verifies_and_wrong_one_does_not() {
        let secret = ClientSecret::generate("dh").unwrap();
        let other = ClientSecret::generate("dh").unwrap();
        let phc = hash_secret(&secret).unwrap();
        let v = verifier();
        assert_eq!(
            verify(&v, "id", &secret, &phc).await.unwrap(),
            Verdict::Valid
        );
        assert_eq!(
            verify(&v, "id", &other, &phc).await.unwrap(),
            Verdict::Invalid
        );
        // Cached now; the cache still refuses the wrong secret.
        assert_eq!(
            verify(&v, "id", &secret, &phc).await.unwrap(),
            Verdict::CachedValid
        );
        assert_eq!(
            verify(&v, "id", &other, &phc).await.unwrap(),
            Verdict::Invalid
        );
    }

    #[tokio::test]
    async fn a_cached_credential_does_not_match_a_different_stored_hash() {
        let secret = ClientSecret::generate("dh").unwrap();
        let phc = hash_secret(&secret).unwrap();
        let v = verifier();
        assert!(verify(&v, "id", &secret, &phc).await.unwrap().is_valid());
        let other_phc = hash_secret(&ClientSecret::generate("dh").unwrap()).unwrap();
        assert_eq!(
            verify(&v, "id", &secret, &other_phc).await.unwrap(),
            Verdict::Invalid
        );
    }

    #[tokio::test]
    async fn a_full_pool_answers_busy_after_the_wait() {
        let v = SecretVerifier::new(1, Duration::from_millis(50)).unwrap();
        let _held = v.permits.acquire().await.unwrap();
        let secret = ClientSecret::generate("dh").unwrap();
        let err = verify(&v, "id", &secret, "$argon2id$x").await.unwrap_err();
        assert!(matches!(err, VerifyError::Busy));
    }

    #[test]
    fn reused_memory_gives_the_same_verdicts() {
        let secret = ClientSecret::generate("dh").unwrap();
        let other = ClientSecret::generate("dh").unwrap();
        let phc = hash_secret(&secret).unwrap();
        let mut memory = Vec::new();
        for _ in 0..2 {
            assert!(matches_hash(&phc, &secret, &mut memory));
            assert!(!matches_hash(&phc, &other, &mut memory));
        }
        assert_eq!(
            memory.len(),
            19_456,
            "one block per KiB of m_cost, kept for the next call"
        );
    }

    #[tokio::test]
    async fn a_cache_hit_needs_no_hash_and_a_miss_says_so() {
        let secret = ClientSecret::generate("dh").unwrap();
        let phc = hash_secret(&secret).unwrap();
        let v = verifier();
        let miss = v.cached("id", &secret, &phc).unwrap_err();
        assert_eq!(
            v.hash("id", &secret, &phc, miss).await.unwrap(),
            Verdict::Valid
        );
        assert_eq!(v.cached("id", &secret, &phc).unwrap(), Verdict::CachedValid);
        assert!(v.cached("other-id", &secret, &phc).is_err());
    }

    #[tokio::test]
    async fn a_malformed_stored_hash_never_verifies() {
        let secret = ClientSecret::generate("dh").unwrap();
        assert_eq!(
            verify(&verifier(), "id", &secret, "not a phc")
                .await
                .unwrap(),
            Verdict::Invalid
        );
    }
}
