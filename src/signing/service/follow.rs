//! Keeping a server's keyring in step with the database: loaded at start, and reloaded when the
//! signing epoch moves (a change made anywhere) or a lifecycle boundary passes.

use chrono::{DateTime, Utc};
use tokio::sync::watch;

use super::{OperationError, SigningService};
use crate::clock::SharedClock;
use crate::signing::SigningError;
use crate::signing::keyring::{Keyring, KeyringHandle};

impl SigningService {
    /// Loads the keyring for `now`, reusing the decoded key of `previous` when unchanged.
    pub async fn load_keyring(
        &self,
        now: DateTime<Utc>,
        previous: Option<&Keyring>,
    ) -> Result<Keyring, SigningError> {
        let set = self.store.signing_keys().await?;
        Keyring::build(&set, &self.master(), &self.policy, now, previous)
    }

    /// Keeps `handle` in step with the database until `shutdown` changes: every `refresh` it
    /// polls the epoch (one tiny read), and when the keys changed or a lifecycle boundary passed
    /// it runs maintenance and rebuilds the keyring. Errors are logged and retried next tick.
    pub async fn follow(
        self,
        handle: KeyringHandle,
        refresh: std::time::Duration,
        clock: SharedClock,
        mut shutdown: watch::Receiver<bool>,
    ) {
        let mut tick = tokio::time::interval(refresh);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = shutdown.changed() => return,
            }
            if let Err(error) = self.refresh_once(&handle, clock.now()).await {
                tracing::warn!(%error, "signing keys not refreshed; keeping the keys loaded before");
            }
        }
    }

    /// One refresh: see [`SigningService::follow`].
    pub async fn refresh_once(
        &self,
        handle: &KeyringHandle,
        now: DateTime<Utc>,
    ) -> Result<(), OperationError> {
        let loaded = handle.get();
        let epoch = self.store.signing_epoch().await?;
        if !loaded.is_stale(epoch, now) {
            return Ok(());
        }
        self.follow_master_key().await?;
        self.maintain(now).await?;
        let keyring = self.load_keyring(now, Some(&loaded)).await?;
        let (old_kid, new_kid) = (kid_of(&loaded), kid_of(&keyring));
        if old_kid != new_kid {
            tracing::info!(kid = new_kid.unwrap_or("none"), "now signing with this key");
        }
        handle.replace(keyring);
        Ok(())
    }
}

fn kid_of(keyring: &Keyring) -> Option<&str> {
    keyring.current.as_ref().map(|k| k.kid.as_str())
}
