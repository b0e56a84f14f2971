//! Rolling a key's secret: a new secret on the same Client ID (so everything keyed on `sub` or
//! `client_id` keeps working), the old one still accepted until the overlap ends or the roll is
//! finished. At most two secrets per key: rolling again during an overlap ends the older one.
//!
//! An ended secret is final on return, as a deletion is: every change that ends one (a finish,
//! a roll with no overlap, a roll that replaces a live previous secret) waits
//! [`DELETION_SETTLES`] after it commits, so no token request that read the key before the
//! commit can still sign with it.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::json;

use super::access::{KeyAuthority, ReachedKey};
use super::{ManageError, ManageError as E, settled};
use crate::audit::Actor;
use crate::config::Config;
use crate::config::duration::format as show;
use crate::oauth::credentials::ClientSecret;
use crate::oauth::grant::DELETION_SETTLES;
use crate::oauth::verifier::hash_secret;
use crate::store::{ApiKey, NewSecret, Store};

/// How long the old secret keeps working when no overlap is given.
pub const DEFAULT_ROLL_OVERLAP: Duration = Duration::from_secs(24 * 3600);
/// The longest overlap: a roll is a migration, not a second key.
pub const MAX_ROLL_OVERLAP: Duration = Duration::from_secs(30 * 24 * 3600);

/// A rolled key and its new secret: the only time that secret exists outside its hash.
#[derive(Debug)]
pub struct RolledKey {
    pub key: ApiKey,
    pub secret: ClientSecret,
}

/// Gives the key a new secret; the old one works until `overlap` (default 24 h, at most 30 d;
/// zero ends it at once) has passed or the roll is finished.
pub async fn roll_secret(
    store: &dyn Store,
    actor: &Actor,
    authority: KeyAuthority<'_>,
    config: &Config,
    client_id: &str,
    overlap: Option<Duration>,
    now: DateTime<Utc>,
) -> Result<RolledKey, ManageError> {
    let overlap = overlap.unwrap_or(DEFAULT_ROLL_OVERLAP);
    let until = overlap_end(now, overlap)?;
    let ReachedKey {
        id, mut key, team, ..
    } = authority.find(store, client_id).await?;
    let unknown = || E::UnknownKey(client_id.to_string());
    let credential = store.credential(&id).await?.ok_or_else(unknown)?;
    let failed = |_| E::Internal("the system random generator failed".into());
    let secret = ClientSecret::generate(&config.keys.prefix).map_err(failed)?;
    let to_hash = secret.clone();
    let new_hash = tokio::task::spawn_blocking(move || hash_secret(&to_hash))
        .await
        .map_err(|e| E::Internal(e.to_string()))?
        .map_err(|e| E::Internal(e.to_string()))?;
    let replaced_previous = credential.live_previous_at(now).is_some();
    let audit = actor.event(
        now,
        "api_key.roll",
        Some(&key.team),
        client_id,
        json!({
            "label": key.label,
            "previous_secret_expires_at": until,
            "ended_an_earlier_previous_secret": replaced_previous,
        }),
    );
    let new = NewSecret {
        hash: new_hash,
        fingerprint: secret.fingerprint(),
    };
    let rolled = store
        .roll_secret(&id, &team, &credential.secret_hash, &new, until, &audit)
        .await?;
    if !rolled {
        return Err(E::Conflict(format!(
            "API key {client_id} changed while it was being rolled (another roll, or it was \
             deleted); nothing was changed: roll it again"
        )));
    }
    tokio::time::sleep(DELETION_SETTLES).await;
    key.previous_secret_until = Some(until);
    Ok(RolledKey { key, secret })
}

/// Ends the overlap now: from the moment this returns, on every node, only the new secret
/// gets a token (see `settled`, which "no previous secret" waits for too).
pub async fn finish_roll(
    store: &dyn Store,
    actor: &Actor,
    authority: KeyAuthority<'_>,
    client_id: &str,
    now: DateTime<Utc>,
) -> Result<(), ManageError> {
    settled(
        async {
            let ReachedKey { id, key, team } = authority.find(store, client_id).await?;
            let detail = json!({
                "label": key.label,
                "previous_secret_expires_at": key.previous_secret_until,
            });
            let audit = actor.event(
                now,
                "api_key.roll_finish",
                Some(&key.team),
                client_id,
                detail,
            );
            if !store.finish_roll(&id, &team, &audit).await? {
                return Err(E::NoPreviousSecret(client_id.to_string()));
            }
            Ok(())
        }
        .await,
    )
    .await
}

/// When an overlap of `overlap` from `now` ends: at most [`MAX_ROLL_OVERLAP`].
fn overlap_end(now: DateTime<Utc>, overlap: Duration) -> Result<DateTime<Utc>, ManageError> {
    let refused = || {
        E::Invalid(format!(
            "a roll's overlap (overlap, --overlap) must be at most {}; {} is not",
            show(MAX_ROLL_OVERLAP),
            show(overlap)
        ))
    };
    if overlap > MAX_ROLL_OVERLAP {
        return Err(refused());
    }
    chrono::Duration::from_std(overlap)
        .ok()
        .and_then(|span| now.checked_add_signed(span))
        .filter(|t| crate::store::is_storable(*t))
        .ok_or_else(refused)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_overlap_is_zero_to_thirty_days() {
        let now = crate::store::now();
        assert_eq!(overlap_end(now, Duration::ZERO).unwrap(), now);
        let day = Duration::from_secs(24 * 3600);
        assert_eq!((overlap_end(now, day * 30).unwrap() - now).num_days(), 30);
        for refused in [
            day * 30 + Duration::from_secs(1),
            day * 100_000,
            Duration::MAX,
        ] {
            let err = overlap_end(now, refused).unwrap_err().to_string();
            assert!(err.contains("at most 30days"), "{err}");
        }
    }
}
