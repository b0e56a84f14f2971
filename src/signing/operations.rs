//! Signing-key operations as transactions on the store: maintain, rotate, revoke, list, and the
//! loop that keeps a server's keyring in step with the database.
//!
//! Each operation reads the keys, plans with [`lifecycle`], generates any new key, and applies
//! the plan with a compare-and-swap on the signing epoch. If another writer (a CLI, another
//! node) got there first, it reads again and re-plans, so two rotations started at the same
//! moment produce one new key.

use std::path::PathBuf;
use std::sync::Arc;

use arc_swap::ArcSwap;
use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio::sync::watch;

use super::keypair;
use super::keyring::{Keyring, KeyringHandle};
use super::lifecycle::{self, KeyState, LifecycleError, Policy, Step};
use super::master_key::MasterKey;
use super::{Algorithm, SigningError};
use crate::audit::Actor;
use crate::config::Config;
use crate::store::{NewAuditEvent, SigningKeyChange, SigningKeySet, Store, StoredSigningKey};

/// How many times an operation re-plans after losing a race before giving up.
const MAX_ATTEMPTS: usize = 8;

/// What signing-key operations need.
#[derive(Clone)]
pub struct SigningKeys {
    pub store: Arc<dyn Store>,
    /// Swappable: a server reloads it from its file after a master-key rotation.
    pub master: Arc<ArcSwap<MasterKey>>,
    /// The file the master key came from (`None` when it came from the environment).
    pub master_file: Option<PathBuf>,
    pub policy: Policy,
    /// The algorithm of keys created from now on.
    pub algorithm: Algorithm,
}

/// A signing key as `signing-keys list` shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SigningKeyInfo {
    pub kid: String,
    pub alg: String,
    pub state: KeyState,
    pub created_at: DateTime<Utc>,
    pub activates_at: DateTime<Utc>,
    pub retired_at: Option<DateTime<Utc>>,
    pub removed_after: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// A failed operation: a refusal the caller should show, or an internal failure.
#[derive(Debug, thiserror::Error)]
pub enum OperationError {
    #[error(transparent)]
    Refused(#[from] LifecycleError),
    #[error(transparent)]
    Signing(#[from] SigningError),
    #[error("the signing keys kept changing under this operation; try again")]
    Contended,
}

impl From<crate::store::StoreError> for OperationError {
    fn from(error: crate::store::StoreError) -> Self {
        Self::Signing(error.into())
    }
}

impl Policy {
    /// The lifecycle settings of a configuration.
    pub fn from_config(config: &Config) -> Self {
        Self {
            ttl: config.token.ttl,
            publish_ahead: config.signing.publish_ahead,
            rotation_interval: config.signing.rotation_interval,
            retire_leeway: config.signing.retire_leeway,
        }
    }
}

impl SigningKeys {
    /// The master key now.
    pub fn master(&self) -> Arc<MasterKey> {
        self.master.load_full()
    }

    /// Refuses to write when the stored keys are sealed under another master key.
    fn ensure_master_matches(&self, set: &SigningKeySet) -> Result<(), SigningError> {
        match &set.master_key_check {
            Some(stored) if *stored != self.master().check_value() => {
                Err(SigningError::MasterKeyChanged)
            }
            _ => Ok(()),
        }
    }

    /// Records the master key's check value if none is recorded yet (first start, or a database
    /// from before check values existed); refuses a master key that is not the recorded one.
    pub async fn record_master_check(&self) -> Result<(), OperationError> {
        for _ in 0..MAX_ATTEMPTS {
            let set = self.store.signing_keys().await?;
            self.ensure_master_matches(&set)?;
            if set.master_key_check.is_some() {
                return Ok(());
            }
            let change = SigningKeyChange::SetMasterKeyCheck(self.master().check_value());
            if self
                .store
                .apply_signing_changes(set.epoch, &[change], None)
                .await?
            {
                return Ok(());
            }
        }
        Err(OperationError::Contended)
    }

    /// Re-seals every private signing key under `new` and records its check value, in one
    /// transaction with its audit event. Returns how many keys were re-sealed.
    pub async fn rotate_master(
        &self,
        new: &MasterKey,
        actor: &Actor,
    ) -> Result<usize, OperationError> {
        for _ in 0..MAX_ATTEMPTS {
            let set = self.store.signing_keys().await?;
            self.ensure_master_matches(&set)?;
            let old = self.master();
            let mut changes = Vec::new();
            for key in &set.keys {
                if let Some(sealed) = &key.sealed_private {
                    let private = old.open(&key.kid, sealed)?;
                    let sealed = new.seal(&key.kid, &private)?;
                    changes.push(SigningKeyChange::Reseal {
                        kid: key.kid.clone(),
                        sealed,
                    });
                }
            }
            let resealed = changes.len();
            changes.push(SigningKeyChange::SetMasterKeyCheck(new.check_value()));
            let audit = actor.event(
                crate::store::now(),
                "master_key.rotate",
                None,
                "master_key",
                serde_json::json!({ "resealed": resealed }),
            );
            if self
                .store
                .apply_signing_changes(set.epoch, &changes, Some(&audit))
                .await?
            {
                tracing::info!(resealed, "master key rotated");
                return Ok(resealed);
            }
        }
        Err(OperationError::Contended)
    }

    /// After a master-key rotation elsewhere: reads the master key file again and takes the new
    /// key if it is the one the database records. A key from the environment cannot change
    /// under a running process: that node needs a restart with the new value.
    async fn follow_master_key(&self) -> Result<(), SigningError> {
        let set = self.store.signing_keys().await?;
        if self.ensure_master_matches(&set).is_ok() {
            return Ok(());
        }
        let Some(file) = &self.master_file else {
            return Err(SigningError::MasterKeyChanged);
        };
        let text = tokio::fs::read_to_string(file)
            .await
            .map_err(|e| SigningError::MasterKey(format!("cannot read {}: {e}", file.display())))?;
        let reloaded = MasterKey::from_base64(&text, &file.display().to_string())?;
        if set.master_key_check.as_deref() != Some(reloaded.check_value().as_str()) {
            return Err(SigningError::MasterKeyChanged);
        }
        self.master.store(Arc::new(reloaded));
        tracing::info!(file = %file.display(), "master key reloaded after a rotation");
        Ok(())
    }
    /// Applies what the lifecycle says is due now (first key, scheduled rotation, clean-up).
    /// Returns the steps taken.
    pub async fn maintain(&self, now: DateTime<Utc>) -> Result<Vec<Step>, OperationError> {
        let policy = self.policy;
        let audit = Audit {
            actor: &Actor::System,
            action: "signing_keys.maintain",
            target: None,
        };
        self.transact(now, audit, |keys| {
            Ok(lifecycle::plan_maintenance(keys, now, &policy))
        })
        .await
    }

    /// Rotates: staged, or at once with `immediate`. Returns the steps taken (none when a
    /// staged rotation is already pending).
    pub async fn rotate(
        &self,
        now: DateTime<Utc>,
        immediate: bool,
        actor: &Actor,
    ) -> Result<Vec<Step>, OperationError> {
        let policy = self.policy;
        let action = if immediate {
            "signing_keys.rotate_now"
        } else {
            "signing_keys.rotate"
        };
        let audit = Audit {
            actor,
            action,
            target: None,
        };
        self.transact(now, audit, |keys| {
            Ok(lifecycle::plan_rotation(keys, now, &policy, immediate))
        })
        .await
    }

    /// Revokes `kid`; a new key takes over in the same transaction if it was current.
    pub async fn revoke(
        &self,
        kid: &str,
        now: DateTime<Utc>,
        actor: &Actor,
    ) -> Result<Vec<Step>, OperationError> {
        let policy = self.policy;
        let audit = Audit {
            actor,
            action: "signing_key.revoke",
            target: Some(kid),
        };
        self.transact(now, audit, |keys| {
            lifecycle::plan_revoke(keys, kid, now, &policy)
        })
        .await
    }

    /// Every stored key with its state at `now`.
    pub async fn list(&self, now: DateTime<Utc>) -> Result<Vec<SigningKeyInfo>, OperationError> {
        let set = self.store.signing_keys().await?;
        Ok(describe(&set.keys, now, &self.policy))
    }

    /// Checks that the master key is the recorded one and opens every sealed key, so a wrong
    /// master key is reported at start, not at the first rotation.
    pub fn check_master_key(&self, set: &SigningKeySet) -> Result<(), SigningError> {
        self.ensure_master_matches(set)?;
        let master = self.master();
        for key in &set.keys {
            if let Some(sealed) = &key.sealed_private {
                master.open(&key.kid, sealed)?;
            }
        }
        Ok(())
    }

    /// Reads, plans, creates keys and applies with one audit event, re-planning when another
    /// writer wins the race. A plan with no steps changes nothing and records nothing.
    async fn transact(
        &self,
        now: DateTime<Utc>,
        audit: Audit<'_>,
        plan: impl Fn(&[StoredSigningKey]) -> Result<Vec<Step>, LifecycleError>,
    ) -> Result<Vec<Step>, OperationError> {
        for _ in 0..MAX_ATTEMPTS {
            let set = self.store.signing_keys().await?;
            self.ensure_master_matches(&set)?;
            let steps = plan(&set.keys)?;
            if steps.is_empty() {
                return Ok(steps);
            }
            let mut changes = Vec::with_capacity(steps.len());
            for step in &steps {
                changes.push(self.change_for(step, now).await?);
            }
            let event = audit.event(now, &changes);
            if self
                .store
                .apply_signing_changes(set.epoch, &changes, Some(&event))
                .await?
            {
                log_steps(&steps, &changes);
                return Ok(steps);
            }
        }
        Err(OperationError::Contended)
    }

    async fn change_for(
        &self,
        step: &Step,
        now: DateTime<Utc>,
    ) -> Result<SigningKeyChange, SigningError> {
        Ok(match step.clone() {
            Step::Create { activates_at } => {
                SigningKeyChange::Insert(self.create(now, activates_at).await?)
            }
            Step::Activate { kid, at } => SigningKeyChange::Activate { kid, at },
            Step::Revoke { kid, at } => SigningKeyChange::Revoke { kid, at },
            Step::ForgetPrivate { kid } => SigningKeyChange::ForgetPrivate { kid },
            Step::Delete { kid } => SigningKeyChange::Delete { kid },
        })
    }

    /// Generates and seals a key of the configured algorithm (RSA generation is slow: it runs
    /// on the blocking pool).
    async fn create(
        &self,
        now: DateTime<Utc>,
        activates_at: DateTime<Utc>,
    ) -> Result<StoredSigningKey, SigningError> {
        let alg = self.algorithm;
        let generated = tokio::task::spawn_blocking(move || keypair::generate(alg))
            .await
            .map_err(|e| SigningError::Generate(e.to_string()))??;
        Ok(StoredSigningKey {
            sealed_private: Some(self.master().seal(&generated.kid, &generated.pkcs8)?),
            kid: generated.kid,
            alg: alg.as_str().to_string(),
            public_jwk: generated.public_jwk,
            created_at: now,
            activates_at,
            revoked_at: None,
        })
    }

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
        mut shutdown: watch::Receiver<bool>,
    ) {
        let mut tick = tokio::time::interval(refresh);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = shutdown.changed() => return,
            }
            if let Err(error) = self.refresh_once(&handle, crate::store::now()).await {
                tracing::warn!(%error, "signing keys not refreshed; keeping the keys loaded before");
            }
        }
    }

    /// One refresh: see [`SigningKeys::follow`].
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

/// The audit event a signing-key operation records: who, what, and on which key (the one named,
/// else the first key the changes create or promote).
struct Audit<'a> {
    actor: &'a Actor,
    action: &'static str,
    target: Option<&'a str>,
}

impl Audit<'_> {
    fn event(&self, now: DateTime<Utc>, changes: &[SigningKeyChange]) -> NewAuditEvent {
        let steps: Vec<serde_json::Value> = changes.iter().filter_map(change_summary).collect();
        let touched = changes.iter().find_map(|change| match change {
            SigningKeyChange::Insert(key) => Some(key.kid.as_str()),
            SigningKeyChange::Activate { kid, .. } => Some(kid.as_str()),
            _ => None,
        });
        let target = self.target.or(touched).unwrap_or("signing_keys");
        let detail = serde_json::json!({ "changes": steps });
        self.actor.event(now, self.action, None, target, detail)
    }
}

/// One change as the audit log's detail lists it (public facts only: kids, algorithms, times).
fn change_summary(change: &SigningKeyChange) -> Option<serde_json::Value> {
    use serde_json::json;
    Some(match change {
        SigningKeyChange::Insert(key) => json!({
            "change": "create", "kid": key.kid, "alg": key.alg, "activates_at": key.activates_at,
        }),
        SigningKeyChange::Activate { kid, at } => {
            json!({ "change": "activate", "kid": kid, "at": at })
        }
        SigningKeyChange::Revoke { kid, at } => json!({ "change": "revoke", "kid": kid, "at": at }),
        SigningKeyChange::ForgetPrivate { kid } => json!({ "change": "retire", "kid": kid }),
        SigningKeyChange::Delete { kid } => json!({ "change": "remove", "kid": kid }),
        SigningKeyChange::Reseal { .. } | SigningKeyChange::SetMasterKeyCheck(_) => return None,
    })
}

fn kid_of(keyring: &Keyring) -> Option<&str> {
    keyring.current.as_ref().map(|k| k.kid.as_str())
}

/// Listing rows for stored keys at `now`.
pub fn describe(
    keys: &[StoredSigningKey],
    now: DateTime<Utc>,
    policy: &Policy,
) -> Vec<SigningKeyInfo> {
    lifecycle::classify(keys, now, policy)
        .into_iter()
        .map(|s| SigningKeyInfo {
            kid: s.key.kid.clone(),
            alg: s.key.alg.clone(),
            state: s.state,
            created_at: s.key.created_at,
            activates_at: s.key.activates_at,
            retired_at: s.retired_at,
            removed_after: s.removed_after,
            revoked_at: s.key.revoked_at,
        })
        .collect()
}

/// Key lifecycle events are worth an info line each.
fn log_steps(steps: &[Step], changes: &[SigningKeyChange]) {
    for (step, change) in steps.iter().zip(changes) {
        match (step, change) {
            (Step::Create { activates_at }, SigningKeyChange::Insert(key)) => {
                tracing::info!(kid = %key.kid, alg = %key.alg, %activates_at, "signing key created")
            }
            (Step::Activate { kid, at }, _) => tracing::info!(%kid, %at, "signing key promoted"),
            (Step::Revoke { kid, .. }, _) => tracing::warn!(%kid, "signing key revoked"),
            (Step::ForgetPrivate { kid }, _) => {
                tracing::info!(%kid, "retired signing key: private part destroyed")
            }
            (Step::Delete { kid }, _) => tracing::info!(%kid, "expired signing key removed"),
            _ => {}
        }
    }
}
