//! API keys: create (a new Client ID and a secret shown once), list, get and delete, each change
//! with its audit event in one transaction.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::json;

use super::access::{KeyAuthority, ReachedKey};
use super::{ManageError, check_text, check_time, get_team, settled, team_slug};
use crate::audit::Actor;
use crate::config::Config;
use crate::oauth::credentials::{ClientId, ClientSecret, KeyEnv};
use crate::oauth::scope;
use crate::oauth::verifier::hash_secret;
use crate::store::{ApiKey, ApiKeyQuery, NewApiKey, Store, StoreError};

/// The longest lifetime an API key may be given: 10 years (3650 days). Longer serves no one (a
/// key that should never expire is created without a lifetime), and a bound keeps every expiry
/// a time both databases store and the token path reads back.
pub const MAX_KEY_LIFETIME: Duration = Duration::from_secs(3650 * 24 * 3600);

/// What `keys create` asks for.
#[derive(Debug, Clone)]
pub struct NewKeyRequest {
    pub team: String,
    pub label: String,
    /// Empty: every scope in the catalog.
    pub scopes: Vec<String>,
    pub expires_in: Option<Duration>,
    pub env: KeyEnv,
    /// The longest its tokens live [default: `token.ttl`].
    pub token_ttl: Option<Duration>,
    /// Its token requests per second [default: `rate_limit.token_requests_per_second`].
    pub token_requests_per_second: Option<u32>,
}

/// A created key and its secret: the only time the secret exists outside its hash.
#[derive(Debug)]
pub struct CreatedKey {
    pub key: ApiKey,
    pub secret: ClientSecret,
}

/// Creates an API key: a new Client ID and secret, the secret hashed off the async runtime.
pub async fn create_api_key(
    store: &dyn Store,
    actor: &Actor,
    config: &Config,
    request: NewKeyRequest,
    now: DateTime<Utc>,
) -> Result<CreatedKey, ManageError> {
    check_text("label", &request.label)?;
    let scopes = checked_scopes(&request.scopes, &config.keys.scopes)?;
    let expires_at = request
        .expires_in
        .map(|lifetime| key_expiry(now, lifetime))
        .transpose()?;
    let limits = super::key_options::checked_limits(
        config,
        request.token_ttl,
        request.token_requests_per_second,
    )?;
    let team = team_slug(&request.team)?;
    get_team(store, team.as_str()).await?;
    let prefix = &config.keys.prefix;
    let failed = |_| ManageError::Internal("the system random generator failed".into());
    let client_id = ClientId::generate(prefix, request.env).map_err(failed)?;
    let secret = ClientSecret::generate(prefix).map_err(failed)?;
    let to_hash = secret.clone();
    let secret_hash = tokio::task::spawn_blocking(move || hash_secret(&to_hash))
        .await
        .map_err(|e| ManageError::Internal(e.to_string()))?
        .map_err(|e| ManageError::Internal(e.to_string()))?;
    let new = NewApiKey {
        client_id,
        team,
        label: request.label,
        env: request.env,
        scopes,
        secret_hash,
        secret_fingerprint: secret.fingerprint(),
        created_at: now,
        expires_at,
        limits,
    };
    let audit = actor.event(
        now,
        "api_key.create",
        Some(new.team.as_str()),
        new.client_id.as_str(),
        json!({
            "label": new.label,
            "env": new.env.as_str(),
            "scopes": new.scopes,
            "expires_at": new.expires_at,
            "token_ttl": new.limits.token_ttl_secs,
            "token_requests_per_second": new.limits.token_requests_per_second,
        }),
    );
    match store.insert_api_key(&new, &audit).await {
        Err(StoreError::NotFound(_)) => return Err(ManageError::UnknownTeam(new.team.to_string())),
        other => other?,
    }
    let key = ApiKey {
        client_id: new.client_id.to_string(),
        team: new.team.to_string(),
        label: new.label,
        env: new.env,
        scopes: new.scopes,
        created_at: new.created_at,
        expires_at: new.expires_at,
        last_used_at: None,
        limits: new.limits,
        previous_secret_until: None,
    };
    Ok(CreatedKey { key, secret })
}

/// When a key created at `now` with `lifetime` expires: above zero, at most
/// [`MAX_KEY_LIFETIME`], and a time the store holds.
fn key_expiry(now: DateTime<Utc>, lifetime: Duration) -> Result<DateTime<Utc>, ManageError> {
    let refused = || {
        ManageError::Invalid(format!(
            "a key's lifetime (expires_in, --expires-in) must be above zero and at most \
             3650d (10 years); {} is not",
            crate::config::duration::format(lifetime)
        ))
    };
    if lifetime.is_zero() || lifetime > MAX_KEY_LIFETIME {
        return Err(refused());
    }
    chrono::Duration::from_std(lifetime)
        .ok()
        .and_then(|lifetime| now.checked_add_signed(lifetime))
        .filter(|expiry| crate::store::is_storable(*expiry))
        .ok_or_else(refused)
}

/// Every scope asked for must be in the catalog or be a management scope; none asked for means
/// the whole catalog (never a management scope: those are held only when asked for by name).
fn checked_scopes(requested: &[String], catalog: &[String]) -> Result<Vec<String>, ManageError> {
    if requested.is_empty() {
        return Ok(catalog.to_vec());
    }
    let mut scopes: Vec<String> = Vec::with_capacity(requested.len());
    for scope in requested {
        if !catalog.contains(scope) && !scope::is_management(scope) {
            return Err(ManageError::UnknownScope {
                scope: scope.clone(),
                catalog: catalog.join(" "),
            });
        }
        if !scopes.contains(scope) {
            scopes.push(scope.clone());
        }
    }
    Ok(scopes)
}

/// A page of a team's keys; an unknown team is an error rather than an empty list.
pub async fn list_api_keys(
    store: &dyn Store,
    team: &str,
    query: &ApiKeyQuery,
) -> Result<Vec<ApiKey>, ManageError> {
    check_time("unused_since", query.unused_since)?;
    check_time("older_than", query.created_before)?;
    check_time("expiring_within", query.expiring_before)?;
    if let Some(after) = &query.after {
        check_time("the cursor's time", after.at)?;
        if ClientId::parse(&after.client_id).is_none() {
            return Err(ManageError::Invalid(
                "invalid cursor: the position is not a Client ID".into(),
            ));
        }
    }
    let team = team_slug(team)?;
    get_team(store, team.as_str()).await?;
    Ok(store.api_keys(&team, query).await?)
}

/// One of `team`'s keys; a key of another team is `UnknownKey`, as if it did not exist.
pub async fn get_api_key(
    store: &dyn Store,
    team: &str,
    client_id: &str,
) -> Result<ApiKey, ManageError> {
    let unknown = || ManageError::UnknownKey(client_id.to_string());
    let id = ClientId::parse(client_id).ok_or_else(unknown)?;
    match store.api_key(&id).await? {
        Some(key) if key.team == team => Ok(key),
        _ => Err(unknown()),
    }
}

/// Deletes a key: once this returns, no token is signed for it on any node; issued tokens run
/// out (see `settled`, which "no such key" waits for too).
pub async fn delete_api_key(
    store: &dyn Store,
    actor: &Actor,
    authority: KeyAuthority<'_>,
    client_id: &str,
    now: DateTime<Utc>,
) -> Result<(), ManageError> {
    settled(
        async {
            let ReachedKey { id, key, team } = authority.find(store, client_id).await?;
            let audit = actor.event(
                now,
                "api_key.delete",
                Some(&key.team),
                client_id,
                json!({ "label": key.label }),
            );
            if !store.delete_api_key(&id, &team, &audit).await? {
                return Err(ManageError::UnknownKey(client_id.to_string()));
            }
            Ok(())
        }
        .await,
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_default_to_the_catalog_and_unknown_ones_are_refused() {
        let catalog = vec!["a".to_string(), "b".to_string()];
        assert_eq!(checked_scopes(&[], &catalog).unwrap(), catalog);
        assert_eq!(
            checked_scopes(&["b".into(), "b".into()], &catalog).unwrap(),
            ["b"]
        );
        let err = checked_scopes(&["c".into()], &catalog).unwrap_err();
        assert!(err.to_string().contains("\"c\""));
    }

    #[test]
    fn management_scopes_are_held_only_when_named() {
        let catalog = vec!["a".to_string()];
        assert_eq!(checked_scopes(&[], &catalog).unwrap(), ["a"]);
        assert_eq!(
            checked_scopes(&["admin".into(), "a".into()], &catalog).unwrap(),
            ["admin", "a"]
        );
    }

    #[test]
    fn key_lifetimes_are_above_zero_and_at_most_ten_years() {
        let now = crate::store::now();
        let day = Duration::from_secs(24 * 3600);
        let longest = key_expiry(now, MAX_KEY_LIFETIME).unwrap();
        assert_eq!((longest - now).num_days(), 3650);
        assert!(key_expiry(now, day).is_ok());
        for refused in [
            Duration::ZERO,
            MAX_KEY_LIFETIME + Duration::from_secs(1),
            day * 95_000_000,
            day * 1_000_000_000,
            Duration::MAX,
        ] {
            let err = key_expiry(now, refused).unwrap_err();
            assert!(err.to_string().contains("expires_in"), "{err}");
        }
        let late = crate::store::LATEST_TIME - chrono::Duration::days(1);
        assert!(key_expiry(late, day * 2).is_err(), "past year 9999");
        assert!(key_expiry(DateTime::<Utc>::MAX_UTC, day).is_err());
    }
}
