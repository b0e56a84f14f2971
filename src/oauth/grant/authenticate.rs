//! Step 4 of the checklist: who the client is (RFC 6749 §2.3.1, §3.2.1), and step 6's
//! confirmation that it still is when the token is signed.
//!
//! **Deletion is final on return.** A credential read from the store is good for signing for
//! [`CREDENTIAL_FRESHNESS`] from the moment the read began; a request that waited longer (for
//! a hashing slot, behind a flood) reads the credential again before it signs, and signs with
//! no await in between. A deletion returns only after the same span has passed since it
//! committed (see [`crate::manage`]). So a token is signed either from a read that began after
//! the deletion committed (which finds nothing), or before the deletion returns. This needs no
//! coordination between nodes: each measures the span on its own monotonic clock. The
//! requests of the read's first moments share it (a lease, see [`super::lease`]), so a busy key
//! costs the database a few reads a second rather than one per token.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::TokenIssuer;
use super::lease::{LEASE_REUSE, Lease};
use crate::oauth::OAuthError;
use crate::oauth::credentials::{ClientId, ClientSecret};
use crate::oauth::rate_limit::HashReservation;
use crate::oauth::verifier::{CacheMiss, Verdict, VerifyError};
use crate::store::{StoreError, StoredCredential};

/// How long a credential read stays good for signing a token. A read is shared by the
/// requests of the first half of this span (its lease), and a read takes well under a
/// millisecond, so only a request that queued for a hash reads again.
pub const CREDENTIAL_FRESHNESS: Duration = Duration::from_millis(250);

/// How long a deletion waits after it commits before it returns: longer than any token
/// request may sign from a credential read that began before the commit (a token is handed
/// out only if its read is still younger than [`CREDENTIAL_FRESHNESS`] once it is signed), with
/// a margin. After it, on every node, no token is signed for the key. A roll, its finish, a
/// leaked-secret revocation and new limits wait the same (see [`crate::manage`]).
pub const DELETION_SETTLES: Duration =
    CREDENTIAL_FRESHNESS.saturating_add(Duration::from_millis(50));

/// An API key as the management API reads it ([`TokenIssuer::current_key`]), and when that
/// read began: an answer may rest on it, as a token may, only while it is younger than
/// [`CREDENTIAL_FRESHNESS`].
#[derive(Debug, Clone)]
pub struct KeyRead {
    pub key: Arc<StoredCredential>,
    pub read_at: Instant,
}

/// A credential as read from the store, and when that read began.
pub(super) struct ReadCredential {
    /// The Client ID the key was read by.
    pub client_id: ClientId,
    pub key: Arc<StoredCredential>,
    read_at: Instant,
    /// Which of the key's secrets the client presented, once it is checked.
    matched: Matched,
}

/// Which of a key's secrets matched: its current one, or the one a roll replaced (during the
/// roll's overlap).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Matched {
    Current,
    Previous,
}

impl ReadCredential {
    /// The hash of the secret that matched.
    fn matched_hash(&self) -> Option<&str> {
        match self.matched {
            Matched::Current => Some(&self.key.secret_hash),
            Matched::Previous => self.key.previous.as_ref().map(|p| p.hash.as_str()),
        }
    }
}

/// The verifier's cache slot for a key's previous secret, apart from its current one's (a
/// Client ID holds no space), so clients on either secret stay cached during an overlap.
fn previous_slot(client_id: &str) -> String {
    format!("{client_id} previous")
}

impl ReadCredential {
    /// The same read, as if it had begun `by` earlier (a test's way to age it).
    #[cfg(test)]
    pub(super) fn aged(mut self, by: Duration) -> Self {
        self.read_at -= by;
        self
    }

    /// How long ago the read began.
    #[cfg(test)]
    pub(super) fn age(&self) -> Duration {
        self.read_at.elapsed()
    }

    fn is_fresh(&self) -> bool {
        self.read_at.elapsed() < CREDENTIAL_FRESHNESS
    }

    /// Err (503, retry) when the read went stale while the token was being signed: the token
    /// is dropped unseen.
    pub(super) fn still_fresh(&self) -> Result<(), OAuthError> {
        if self.is_fresh() {
            return Ok(());
        }
        Err(OAuthError::TemporarilyUnavailable(
            "the issuer is overloaded; retry shortly".into(),
        ))
    }
}

impl TokenIssuer {
    /// Finds the key and checks the secret; every failure looks the same to the client.
    pub(super) async fn authenticate(
        &self,
        client_id: Option<&ClientId>,
        secret: &str,
        client_ip: IpAddr,
    ) -> Result<ReadCredential, OAuthError> {
        // A malformed Client ID, or a secret with a bad checksum, is refused before any lookup
        // or hash.
        let secret = ClientSecret::parse(secret).ok_or_else(OAuthError::client_auth_failed)?;
        let client_id = client_id.ok_or_else(OAuthError::client_auth_failed)?;
        let mut read = self
            .read_credential(client_id)
            .await?
            .ok_or_else(OAuthError::client_auth_failed)?;
        let now = self.clock.now();
        if read.key.is_expired_at(now) {
            return Err(OAuthError::client_auth_failed());
        }
        let verdict = self.check_secrets(&read.key, &secret, client_ip, now).await;
        let result = match &verdict {
            Ok((Verdict::CachedValid, _)) => "cache_hit",
            Ok((Verdict::Valid, _)) => "valid",
            Ok((Verdict::Invalid, _)) => "invalid",
            Err(OAuthError::RateLimited { .. }) => "not_admitted",
            Err(_) => "busy",
        };
        if result == "cache_hit" {
            self.metrics.hot.secrets_from_cache.inc();
        } else {
            self.metrics
                .verifications
                .with_label_values(&[result])
                .inc();
        }
        match verdict? {
            (Verdict::Invalid, _) => Err(OAuthError::client_auth_failed()),
            (Verdict::Valid | Verdict::CachedValid, matched) => {
                read.matched = matched;
                Ok(read)
            }
        }
    }

    /// The verdict on `secret` for `key`, and which of its secrets it is: the current one, or
    /// the previous one while a roll's overlap lasts at `now`. Both caches are asked before
    /// either hash, so a client on either secret costs no hash once proven.
    async fn check_secrets(
        &self,
        key: &StoredCredential,
        secret: &ClientSecret,
        client_ip: IpAddr,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<(Verdict, Matched), OAuthError> {
        let current_miss = match self
            .verifier
            .cached(&key.client_id, secret, &key.secret_hash)
        {
            Ok(verdict) => return Ok((verdict, Matched::Current)),
            Err(miss) => miss,
        };
        let previous = match key.live_previous_at(now) {
            Some(phc) => {
                let slot = previous_slot(&key.client_id);
                match self.verifier.cached(&slot, secret, phc) {
                    Ok(verdict) => return Ok((verdict, Matched::Previous)),
                    Err(miss) => Some((slot, phc, miss)),
                }
            }
            None => None,
        };
        let (verdict, spent) = self
            .hash_secret(
                &key.client_id,
                &key.secret_hash,
                secret,
                current_miss,
                client_ip,
            )
            .await?;
        if verdict.is_valid() {
            return Ok((verdict, Matched::Current));
        }
        let Some((slot, phc, miss)) = previous else {
            drop(spent);
            return Ok((verdict, Matched::Current));
        };
        let (verdict, also_spent) = self
            .hash_secret(&slot, phc, secret, miss, client_ip)
            .await?;
        if verdict.is_valid() {
            // The secret was right after all: neither hash is held against the address.
            spent.give_back();
            also_spent.give_back();
        }
        Ok((verdict, Matched::Previous))
    }

    /// One hash of `secret` against `phc` (cached under `slot` if it matches), paid for out of
    /// the address's allowance before it queues. A match gives the allowance back at once; for
    /// a mismatch the reservation is returned to the caller to settle (dropped, it stays spent).
    async fn hash_secret(
        &self,
        slot: &str,
        phc: &str,
        secret: &ClientSecret,
        miss: CacheMiss,
        client_ip: IpAddr,
    ) -> Result<(Verdict, HashReservation), OAuthError> {
        let reservation = self
            .limits
            .reserve_hash(client_ip)
            .map_err(OAuthError::rate_limited)?;
        let verdict = self.verifier.hash(slot, secret, phc, miss).await;
        match verdict {
            Ok(Verdict::Invalid) => Ok((Verdict::Invalid, reservation)),
            Ok(valid) => {
                reservation.give_back();
                Ok((valid, HashReservation::nothing()))
            }
            Err(error) => {
                reservation.give_back();
                Err(match error {
                    VerifyError::Busy => OAuthError::TemporarilyUnavailable(
                        "too many client authentications in progress; retry shortly".into(),
                    ),
                    VerifyError::Worker(_) => {
                        tracing::error!(%error, "secret verification failed");
                        OAuthError::ServerError
                    }
                })
            }
        }
    }

    /// The credential as it stands now: `read` while it is as young as a lease may be
    /// ([`LEASE_REUSE`], half the freshness), else a new read that must find the same key with
    /// the same secret hash. The caller signs with no await after this.
    ///
    /// The other half of the freshness is the signature's: a read taken nearly stale would pass
    /// here and then fail [`ReadCredential::still_fresh`] a moment later, refusing a request
    /// the issuer could have served.
    pub(super) async fn confirm(&self, read: ReadCredential) -> Result<ReadCredential, OAuthError> {
        if read.read_at.elapsed() < LEASE_REUSE {
            // A roll's overlap may have ended while the request waited: the previous secret
            // is refused from that instant, as at the start of a request.
            if read.matched == Matched::Previous
                && read.key.live_previous_at(self.clock.now()).is_none()
            {
                return Err(OAuthError::client_auth_failed());
            }
            return Ok(read);
        }
        self.metrics.credential_rereads.inc();
        // The secret that matched must still work: as the current secret, or as the previous
        // one of a roll whose overlap has not ended (a roll in between moved it there).
        let matched = read
            .matched_hash()
            .ok_or_else(OAuthError::client_auth_failed)?;
        let now = self.clock.now();
        let mut again = self
            .read_credential(&read.client_id)
            .await?
            .ok_or_else(OAuthError::client_auth_failed)?;
        again.matched = if again.key.secret_hash == matched {
            Matched::Current
        } else if again.key.live_previous_at(now) == Some(matched) {
            Matched::Previous
        } else {
            return Err(OAuthError::client_auth_failed());
        };
        if !again.is_fresh() {
            // The database took longer to answer than a read stays good for.
            return Err(self.database_error("timeout"));
        }
        Ok(again)
    }

    /// The credential: from this node's lease while it is young (see [`super::lease`]), else
    /// one read of the store, bounded in time even when the network to the database drops
    /// packets instead of refusing, and leased to the requests that follow.
    async fn read_credential(
        &self,
        client_id: &ClientId,
    ) -> Result<Option<ReadCredential>, OAuthError> {
        let lease = match self.leases.get(client_id.as_str()) {
            Some(lease) => lease,
            None => {
                let Some(lease) = self.read_store(client_id).await? else {
                    return Ok(None);
                };
                self.leases.keep(client_id.as_str(), lease.clone());
                lease
            }
        };
        Ok(Some(ReadCredential {
            client_id: client_id.clone(),
            key: lease.key,
            read_at: lease.read_at,
            matched: Matched::Current,
        }))
    }

    /// The API key `client_id` names, read as the token path reads it: from this node's lease
    /// while it is young, else one bounded read of the store, then leased; and, as before a
    /// signature, only from a read still younger than [`CREDENTIAL_FRESHNESS`] (503 when the
    /// database took longer). For the management API's check that a token's key still exists:
    /// a key whose deletion returned (on any node) before the check is not found.
    pub async fn current_key(&self, client_id: &ClientId) -> Result<Option<KeyRead>, OAuthError> {
        match self.read_credential(client_id).await? {
            Some(read) if !read.is_fresh() => Err(self.database_error("timeout")),
            found => Ok(found.map(|read| KeyRead {
                key: read.key,
                read_at: read.read_at,
            })),
        }
    }

    /// One read of the store, and when it began.
    async fn read_store(&self, client_id: &ClientId) -> Result<Option<Lease>, OAuthError> {
        let read_at = Instant::now();
        self.metrics.credential_reads.inc();
        let lookup = tokio::time::timeout(self.db_timeout, self.store.credential(client_id));
        let found = lookup
            .await
            .map_err(|_| self.database_error("timeout"))?
            .map_err(|error| {
                let kind = match error {
                    StoreError::Unavailable(_) => "unavailable",
                    _ => "other",
                };
                self.metrics
                    .database_errors
                    .with_label_values(&[kind])
                    .inc();
                store_failure(error)
            })?;
        Ok(found.map(|key| Lease {
            key: Arc::new(key),
            read_at,
        }))
    }

    /// Counts a database timeout and returns the refusal for it.
    fn database_error(&self, kind: &str) -> OAuthError {
        self.metrics
            .database_errors
            .with_label_values(&[kind])
            .inc();
        database_unavailable()
    }
}

/// A database failure reading a key (for a token, or a management caller's check): unavailable
/// is worth a retry, anything else is ours.
fn store_failure(error: StoreError) -> OAuthError {
    match error {
        StoreError::Unavailable(_) => {
            tracing::warn!(%error, "database unavailable reading an API key");
            database_unavailable()
        }
        other => {
            tracing::error!(error = %other, "database error reading an API key");
            OAuthError::ServerError
        }
    }
}

fn database_unavailable() -> OAuthError {
    OAuthError::TemporarilyUnavailable("the issuer's database is unavailable; retry shortly".into())
}
