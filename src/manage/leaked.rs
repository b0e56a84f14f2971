//! Leaked secrets, reported by a secret scanner or an operator: each one that is a key's secret
//! stops working at once. A key's current secret deletes the key; a rolled key's previous
//! secret ends its overlap (the new secret was never leaked, so the key lives on). Both are
//! audited as `api_key.leaked` with where the secret was found, never the secret.
//!
//! A reported secret finds its key by its fingerprint, with one indexed read: no argon2 per
//! stored key. Only a secret whose fingerprint matches is then hashed, to confirm it against
//! the stored hash. Like a deletion, a revocation is final on return: it waits
//! [`DELETION_SETTLES`] after its commit (once for a whole report).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde_json::json;

use super::ManageError;
use crate::audit::Actor;
use crate::domain::{ClientId, TeamSlug};
use crate::oauth::credentials::ClientSecret;
use crate::oauth::grant::DELETION_SETTLES;
use crate::oauth::verifier::secret_matches;
use crate::store::{FingerprintMatch, Store};

/// One reported secret, and where it was found.
#[derive(Debug, Clone, Copy)]
pub struct Leak<'a> {
    /// The text as found: it may be no secret at all.
    pub text: &'a str,
    /// Where the scanner found it (a URL), when it says.
    pub url: Option<&'a str>,
    /// What kind of place (`content`, `commit`, `npm`, …), when it says.
    pub source: Option<&'a str>,
}

/// What a report did to one reported secret (`--json` prints it as `verdict`, with the key).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum LeakVerdict {
    /// It was the key's current secret: the key is deleted.
    KeyDeleted { client_id: String, team: String },
    /// It was a rolled key's previous secret: it no longer works; the current one does.
    PreviousSecretEnded { client_id: String, team: String },
    /// It was a key's secret that had already stopped working (a previous secret past its
    /// overlap, or a key deleted meanwhile).
    AlreadyEnded { client_id: String, team: String },
    /// Not a tokenmint secret: a wrong shape or checksum, or no key has it.
    #[serde(rename = "not_a_secret")]
    NotOurs,
}

impl LeakVerdict {
    /// Whether the text was one of tokenmint's secrets (a true positive for the scanner).
    pub fn is_ours(&self) -> bool {
        !matches!(self, Self::NotOurs)
    }

    /// Whether this report made the secret stop working.
    pub fn revoked(&self) -> bool {
        matches!(
            self,
            Self::KeyDeleted { .. } | Self::PreviousSecretEnded { .. }
        )
    }
}

/// Revokes every reported secret that is a key's; one verdict per leak, in order. A secret
/// reported twice gets the same verdict twice.
pub async fn revoke_leaked(
    store: &dyn Store,
    actor: &Actor,
    leaks: &[Leak<'_>],
    now: DateTime<Utc>,
) -> Result<Vec<LeakVerdict>, ManageError> {
    let verdicts = revoke_each(store, actor, leaks, now).await;
    // Every answer, a failure halfway included, waits until no node may still sign from a read
    // taken before a revocation: this report's, or a concurrent one's (another node handling
    // the same report finds the key already gone and must not answer before that node's wait).
    if !leaks.is_empty() {
        tokio::time::sleep(DELETION_SETTLES).await;
    }
    verdicts
}

async fn revoke_each(
    store: &dyn Store,
    actor: &Actor,
    leaks: &[Leak<'_>],
    now: DateTime<Utc>,
) -> Result<Vec<LeakVerdict>, ManageError> {
    let mut seen: HashMap<&str, LeakVerdict> = HashMap::new();
    let mut verdicts = Vec::with_capacity(leaks.len());
    for leak in leaks {
        let verdict = match seen.get(leak.text) {
            Some(verdict) => verdict.clone(),
            None => revoke_one(store, actor, leak, now).await?,
        };
        seen.insert(leak.text, verdict.clone());
        verdicts.push(verdict);
    }
    Ok(verdicts)
}

/// One leak: checksum, fingerprint lookup, hash confirmation, then the revocation.
async fn revoke_one(
    store: &dyn Store,
    actor: &Actor,
    leak: &Leak<'_>,
    now: DateTime<Utc>,
) -> Result<LeakVerdict, ManageError> {
    let Some(secret) = ClientSecret::parse(leak.text.trim()) else {
        return Ok(LeakVerdict::NotOurs);
    };
    for found in store.keys_by_fingerprint(&secret.fingerprint()).await? {
        if confirmed(&found, &secret).await? {
            return revoke(store, actor, leak, found, now).await;
        }
    }
    Ok(LeakVerdict::NotOurs)
}

/// Whether `secret` is the one hashed in the match (its fingerprint already matched).
async fn confirmed(found: &FingerprintMatch, secret: &ClientSecret) -> Result<bool, ManageError> {
    let (hash, secret) = (found.secret_hash.clone(), secret.clone());
    tokio::task::spawn_blocking(move || secret_matches(&hash, &secret))
        .await
        .map_err(|e| ManageError::Internal(format!("the hashing task failed: {e}")))
}

async fn revoke(
    store: &dyn Store,
    actor: &Actor,
    leak: &Leak<'_>,
    found: FingerprintMatch,
    now: DateTime<Utc>,
) -> Result<LeakVerdict, ManageError> {
    let (client_id, team) = (found.client_id, found.team);
    let ended = LeakVerdict::AlreadyEnded {
        client_id: client_id.clone(),
        team: team.clone(),
    };
    // Both were written as typed ids, so these never refuse.
    let (Some(id), Some(slug)) = (ClientId::parse(&client_id), TeamSlug::parse(&team)) else {
        return Ok(ended);
    };
    let label = store.api_key(&id).await?.map(|key| key.label);
    let which = if found.previous_until.is_some() {
        "previous"
    } else {
        "current"
    };
    let audit = actor.event(
        now,
        "api_key.leaked",
        Some(&team),
        &client_id,
        json!({ "label": label, "secret": which, "url": leak.url, "source": leak.source }),
    );
    match found.previous_until {
        None if store.delete_api_key(&id, &slug, &audit).await? => {
            Ok(LeakVerdict::KeyDeleted { client_id, team })
        }
        Some(until) if until > now && store.finish_roll(&id, &slug, &audit).await? => {
            Ok(LeakVerdict::PreviousSecretEnded { client_id, team })
        }
        _ => Ok(ended),
    }
}
