//! The signing-key service: maintain, rotate, revoke and list, as transactions on the store.
//!
//! - `master_rotation`: re-sealing every private key under a new master key.
//! - `follow`: the loop that keeps a server's keyring in step with the database.
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

use super::keypair;

use super::lifecycle::{self, KeyState, LifecycleError, Policy, Step};
use super::master_key::MasterKey;
use super::{Algorithm, SigningError};
use crate::audit::Actor;
use crate::config::Config;
use crate::store::{NewAuditEvent, SigningKeyChange, SigningKeySet, Store, StoredSigningKey};

/// How many times an operation re-plans after losing a race before giving up.
const MAX_ATTEMPTS: usize = 8;

mod follow;
mod master_rotation;

/// What signing-key operations need.
#[derive(Clone)]
pub struct SigningService {
    pub store: Arc<dyn Store>,
    /// Swappable: a server reloads it from its file after a master-key rotation.
    pub master: Arc<ArcSwap<MasterKey>>,
    /// The file the master key came from (`None` when it came from the environment).
    pub master_file: Option<PathBuf>,
    pub policy: Policy,
    /// The algorithm of keys created from now on.
    pub algorithm: Algorithm,
}

/// What a rotation did.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Rotation {
    /// False when a staged rotation was already pending (nothing was changed).
    pub started: bool,
    /// The new key (`next`, or `current` when immediate), or the one already pending.
    pub key: Option<SigningKeyInfo>,
}

/// What a revocation did.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Revocation {
    /// The revoked key.
    pub revoked: Option<SigningKeyInfo>,
    /// Whether the revoked key was the current one, so that a new key took over.
    #[serde(skip)]
    pub took_over: bool,
    /// The key that signs now (a new one if the revoked key was current).
    pub current: Option<SigningKeyInfo>,
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

impl SigningService {
    /// The master key now.
    pub fn master(&self) -> Arc<MasterKey> {
        self.master.load_full()
    }

    /// Refuses to write when the stored keys are sealed under another master key.
    pub(crate) fn ensure_master_matches(&self, set: &SigningKeySet) -> Result<(), SigningError> {
        match &set.master_key_check {
            Some(stored) if *stored != self.master().check_value() => {
                Err(SigningError::MasterKeyChanged)
            }
            _ => Ok(()),
        }
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
    ) -> Result<Rotation, OperationError> {
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
        let steps = self
            .transact(now, audit, |keys| {
                Ok(lifecycle::plan_rotation(keys, now, &policy, immediate))
            })
            .await?;
        let wanted = if immediate {
            KeyState::Current
        } else {
            KeyState::Next
        };
        let keys = self.list(now).await?;
        Ok(Rotation {
            started: !steps.is_empty(),
            key: keys.into_iter().rev().find(|k| k.state == wanted),
        })
    }

    /// Revokes `kid`; a new key takes over in the same transaction if it was current.
    pub async fn revoke(
        &self,
        kid: &str,
        now: DateTime<Utc>,
        actor: &Actor,
    ) -> Result<Revocation, OperationError> {
        let policy = self.policy;
        let audit = Audit {
            actor,
            action: "signing_key.revoke",
            target: Some(kid),
        };
        let steps = self
            .transact(now, audit, |keys| {
                lifecycle::plan_revoke(keys, kid, now, &policy)
            })
            .await?;
        let keys = self.list(now).await?;
        Ok(Revocation {
            revoked: keys.iter().find(|k| k.kid == kid).cloned(),
            took_over: steps.len() > 1,
            current: keys.into_iter().find(|k| k.state == KeyState::Current),
        })
    }

    /// Every stored key with its state at `now`.
    pub async fn list(&self, now: DateTime<Utc>) -> Result<Vec<SigningKeyInfo>, OperationError> {
        let set = self.store.signing_keys().await?;
        Ok(describe(&set.keys, now, &self.policy))
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
        SigningKeyChange::Reseal { .. }
        | SigningKeyChange::ResealWebhookSecrets { .. }
        | SigningKeyChange::SetMasterKeyCheck(_) => return None,
    })
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
