//! `last_used_at`, recorded off the request path.
//!
//! A token request only notes the time in memory, and only when the key's last noted time is a
//! minute old or more; a background task writes the noted times in one batch every few seconds.
//! Token traffic therefore never becomes one write per request.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::watch;

use crate::domain::ClientId;
use crate::store::Store;

/// A key's `last_used_at` is written at most this often.
pub const RESOLUTION: Duration = Duration::from_secs(60);
/// How often noted times are written.
pub const FLUSH_EVERY: Duration = Duration::from_secs(5);

#[derive(Default)]
struct Noted {
    /// The last time written (or queued) per key.
    written: HashMap<ClientId, DateTime<Utc>>,
    /// Times waiting for the next flush.
    pending: HashMap<ClientId, DateTime<Utc>>,
}

/// Notes key use in memory and flushes it in batches.
#[derive(Default, Clone)]
pub struct UsageRecorder {
    // A std Mutex: it is held for a hash-map operation only, never across an await.
    noted: Arc<Mutex<Noted>>,
}

impl UsageRecorder {
    /// Notes that `client_id` got a token at `now`.
    pub fn record(&self, client_id: &ClientId, now: DateTime<Utc>) {
        // A panic while the lock was held cannot leave these maps half-written.
        let mut noted = self.noted.lock().unwrap_or_else(PoisonError::into_inner);
        #[allow(clippy::expect_used)]
        let resolution =
            chrono::Duration::from_std(RESOLUTION).expect("invariant: a minute is a TimeDelta");
        if noted
            .written
            .get(client_id)
            .is_some_and(|t| now - *t < resolution)
        {
            return;
        }
        noted.written.insert(client_id.clone(), now);
        noted.pending.insert(client_id.clone(), now);
    }

    /// Takes the times waiting to be written.
    pub fn take_pending(&self) -> Vec<(ClientId, DateTime<Utc>)> {
        let mut noted = self.noted.lock().unwrap_or_else(PoisonError::into_inner);
        noted.pending.drain().collect()
    }

    /// Writes pending times now; on failure they are put back for the next flush.
    pub async fn flush(&self, store: &dyn Store) {
        let batch = self.take_pending();
        if batch.is_empty() {
            return;
        }
        if let Err(error) = store.record_last_used(&batch).await {
            tracing::warn!(%error, keys = batch.len(), "last_used_at not written; will retry");
            let mut noted = self.noted.lock().unwrap_or_else(PoisonError::into_inner);
            for (id, at) in batch {
                noted.pending.entry(id).or_insert(at);
            }
        }
    }

    /// Flushes every [`FLUSH_EVERY`] until `shutdown` changes, then once more.
    pub async fn run(self, store: Arc<dyn Store>, mut shutdown: watch::Receiver<bool>) {
        let mut tick = tokio::time::interval(FLUSH_EVERY);
        loop {
            tokio::select! {
                _ = tick.tick() => self.flush(store.as_ref()).await,
                _ = shutdown.changed() => break,
            }
        }
        self.flush(store.as_ref()).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_noted_at_most_once_a_minute() {
        let usage = UsageRecorder::default();
        let a = ClientId::parse("dh_live_0123456789abcdefghijkl").unwrap();
        let t0 = Utc::now();
        usage.record(&a, t0);
        usage.record(&a, t0 + chrono::Duration::seconds(30));
        assert_eq!(usage.take_pending(), [(a.clone(), t0)]);
        usage.record(&a, t0 + chrono::Duration::seconds(59));
        assert!(usage.take_pending().is_empty());
        let t1 = t0 + chrono::Duration::seconds(60);
        usage.record(&a, t1);
        assert_eq!(usage.take_pending(), [(a, t1)]);
    }
}
