//! Credential leases: a node reuses a credential it read a moment ago instead of asking the
//! database again for every token.
//!
//! A read is good for signing for [`CREDENTIAL_FRESHNESS`](super::CREDENTIAL_FRESHNESS) from the moment it began, and every
//! change to a credential (deletion, roll, finish, a leaked report, new limits) returns only
//! once that span has passed since it committed. So a read may be shared by every request of
//! that span without weakening "deletion is final on return": a request signs from a lease
//! only while the read behind it is fresh, exactly as it would from a read of its own.
//!
//! A lease is handed out for the first half of the span only, so a request that takes one
//! still has half the span to check its secret and sign before the read goes stale (it then
//! reads again, as a request that queued for a hash does). Only keys that exist are leased:
//! an unknown Client ID still costs a read, so a key created on another node works on this
//! one at once. The map holds at most [`MAX_LEASES`] keys and forgets a lease once it can no
//! longer be handed out.

use std::sync::Arc;
use std::time::{Duration, Instant};

use moka::sync::Cache;

use crate::store::StoredCredential;

/// How long after its read began a credential is still handed out from the lease.
/// Half of [`super::CREDENTIAL_FRESHNESS`] (a test holds them together). A request signs
/// without reading again only from a read this young, so it keeps the other half for signing.
pub(super) const LEASE_REUSE: Duration = Duration::from_millis(125);

/// The most keys leased at once on a node: one entry per key that asked for a token in the
/// last [`LEASE_REUSE`]; more than that are read from the database as before.
const MAX_LEASES: u64 = 100_000;

/// One credential read and the instant it began.
#[derive(Debug, Clone)]
pub(super) struct Lease {
    pub key: Arc<StoredCredential>,
    pub read_at: Instant,
}

/// The leases of one node, by Client ID.
pub(super) struct Leases {
    cache: Cache<String, Lease>,
}

impl Default for Leases {
    fn default() -> Self {
        Self {
            cache: Cache::builder()
                .max_capacity(MAX_LEASES)
                .time_to_live(LEASE_REUSE)
                .build(),
        }
    }
}

impl Leases {
    /// The lease of `client_id`, when its read began less than [`LEASE_REUSE`] ago.
    pub fn get(&self, client_id: &str) -> Option<Lease> {
        let lease = self.cache.get(client_id)?;
        (lease.read_at.elapsed() < LEASE_REUSE).then_some(lease)
    }

    /// Keeps a read for the requests that follow it, unless a later read is already kept.
    pub fn keep(&self, client_id: &str, lease: Lease) {
        if lease.read_at.elapsed() >= LEASE_REUSE {
            return;
        }
        let newer_kept = self
            .cache
            .get(client_id)
            .is_some_and(|kept| kept.read_at >= lease.read_at);
        if !newer_kept {
            self.cache.insert(client_id.to_string(), lease);
        }
    }

    /// Drops every lease (a test's or an operator's way to force reads).
    #[cfg(test)]
    pub fn clear(&self) {
        self.cache.invalidate_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oauth::grant::CREDENTIAL_FRESHNESS;

    fn lease(read_at: Instant) -> Lease {
        Lease {
            key: Arc::new(StoredCredential {
                client_id: "dh_live_x".into(),
                team: "acme".into(),
                env: crate::domain::KeyEnv::Live,
                scopes: vec![],
                secret_hash: "phc".into(),
                expires_at: None,
                limits: Default::default(),
                previous: None,
            }),
            read_at,
        }
    }

    #[test]
    fn a_lease_is_handed_out_only_in_the_first_half_of_a_reads_freshness() {
        assert!(LEASE_REUSE * 2 <= CREDENTIAL_FRESHNESS);
        let leases = Leases::default();
        leases.keep("dh_live_x", lease(Instant::now()));
        assert!(leases.get("dh_live_x").is_some());
        let old = Instant::now() - LEASE_REUSE;
        leases.clear();
        leases.keep("dh_live_x", lease(old));
        assert!(leases.get("dh_live_x").is_none(), "an old read is not kept");
    }

    #[test]
    fn an_older_read_never_replaces_a_newer_one() {
        let leases = Leases::default();
        let newer = Instant::now();
        leases.keep("dh_live_x", lease(newer));
        leases.keep("dh_live_x", lease(newer - Duration::from_millis(10)));
        assert_eq!(leases.get("dh_live_x").unwrap().read_at, newer);
    }
}
