//! Master-key rotation: every private signing key re-sealed under the new master key, in one
//! transaction with its audit event, and the check value that says which key seals them.

use chrono::{DateTime, Utc};

use super::{MAX_ATTEMPTS, OperationError, SigningService};
use crate::audit::Actor;
use crate::signing::SigningError;
use crate::signing::master_key::MasterKey;
use crate::store::{SealedWebhookSecret, SigningKeyChange, SigningKeySet, StoredWebhookSecrets};

impl SigningService {
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
        now: DateTime<Utc>,
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
            let webhook_secrets = self.reseal_webhook_secrets(&old, new).await?;
            let teams = webhook_secrets.len();
            changes.extend(webhook_secrets);
            changes.push(SigningKeyChange::SetMasterKeyCheck(new.check_value()));
            let audit = actor.event(
                now,
                "master_key.rotate",
                None,
                "master_key",
                serde_json::json!({ "resealed": resealed, "webhook_secret_teams": teams }),
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

    /// Every team's webhook secrets opened with `old` and sealed under `new`; each change
    /// applies only if that team's secrets have not changed since they were read.
    async fn reseal_webhook_secrets(
        &self,
        old: &MasterKey,
        new: &MasterKey,
    ) -> Result<Vec<SigningKeyChange>, OperationError> {
        let reseal = |team: &str, secret: &SealedWebhookSecret| -> Result<Vec<u8>, SigningError> {
            let label = StoredWebhookSecrets::sealing_label(team, &secret.id);
            new.seal(&label, &old.open(&label, &secret.sealed)?)
        };
        let mut changes = Vec::new();
        for secrets in self.store.webhook_secrets(None).await? {
            let previous = match &secrets.previous {
                Some(previous) => Some(reseal(&secrets.team, &previous.secret)?),
                None => None,
            };
            changes.push(SigningKeyChange::ResealWebhookSecrets {
                current: reseal(&secrets.team, &secrets.current)?,
                previous,
                version: secrets.version,
                team: secrets.team,
            });
        }
        Ok(changes)
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
}
