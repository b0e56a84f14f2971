//! A key's own settings beside its scopes: how long its tokens live, how many it may ask for
//! per second, and its label; checked where they enter (create or update), changed by
//! `keys update` / `PATCH /api/teams/{team}/keys/{client_id}`. Also the age and expiry filters
//! of a listing, turned into times once.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::json;

use super::access::{KeyAuthority, ReachedKey};
use super::{ManageError, check_text};
use crate::audit::Actor;
use crate::config::Config;
use crate::config::duration::format as show;
use crate::oauth::grant::DELETION_SETTLES;
use crate::store::{ApiKey, KeyHygiene, KeyLimits, Store};

/// The shortest token lifetime a key may be given: shorter tokens expire before most resource
/// servers' clock leeway has passed, which only makes them fail in surprising ways.
pub const MIN_TOKEN_TTL: Duration = Duration::from_secs(60);

/// The highest per-key request rate: far above what one node signs, and a value the limiter's
/// arithmetic (bursts of twice the rate) never overflows.
pub const MAX_TOKEN_RATE: u32 = 1_000_000;

/// A key's limits as asked for, checked against the issuer's settings.
pub fn checked_limits(
    config: &Config,
    token_ttl: Option<Duration>,
    token_requests_per_second: Option<u32>,
) -> Result<KeyLimits, ManageError> {
    Ok(KeyLimits {
        token_ttl_secs: token_ttl.map(|ttl| checked_ttl(config, ttl)).transpose()?,
        token_requests_per_second: token_requests_per_second.map(checked_rate).transpose()?,
    })
}

/// A token lifetime: at least [`MIN_TOKEN_TTL`], at most `token.ttl` (a key's tokens never
/// outlive the issuer's own limit), in whole seconds.
fn checked_ttl(config: &Config, ttl: Duration) -> Result<u32, ManageError> {
    let longest = config.token.ttl;
    let refused = || {
        ManageError::Invalid(format!(
            "a key's token lifetime (token_ttl, --token-ttl) must be at least {} and at most \
             token.ttl ({}); {} is not",
            show(MIN_TOKEN_TTL),
            show(longest),
            show(ttl)
        ))
    };
    if ttl < MIN_TOKEN_TTL || ttl > longest || ttl.subsec_nanos() != 0 {
        return Err(refused());
    }
    u32::try_from(ttl.as_secs()).map_err(|_| refused())
}

fn checked_rate(rate: u32) -> Result<u32, ManageError> {
    if rate == 0 || rate > MAX_TOKEN_RATE {
        return Err(ManageError::Invalid(format!(
            "a key's rate (token_requests_per_second, --rate) must be 1 to {MAX_TOKEN_RATE} \
             requests per second; {rate} is not"
        )));
    }
    Ok(rate)
}

/// What `keys update` changes. `None` leaves that part as it is; `Some(None)` returns a limit
/// to the issuer's setting.
#[derive(Debug, Clone, Default)]
pub struct KeyUpdate {
    pub label: Option<String>,
    pub token_ttl: Option<Option<Duration>>,
    pub token_requests_per_second: Option<Option<u32>>,
}

impl KeyUpdate {
    fn is_empty(&self) -> bool {
        self.label.is_none() && self.token_ttl.is_none() && self.token_requests_per_second.is_none()
    }
}

/// Changes a key's label or limits; new limits apply from its next token request after this
/// returns, on every node (the token path reads them with the key). Returns the key as it now is.
pub async fn update_api_key(
    store: &dyn Store,
    actor: &Actor,
    authority: KeyAuthority<'_>,
    config: &Config,
    client_id: &str,
    update: KeyUpdate,
    now: DateTime<Utc>,
) -> Result<ApiKey, ManageError> {
    if update.is_empty() {
        return Err(ManageError::Invalid(
            "nothing to change: give a label, a token lifetime or a rate".into(),
        ));
    }
    let limits_named = update.token_ttl.is_some() || update.token_requests_per_second.is_some();
    let ReachedKey {
        id, mut key, team, ..
    } = authority.find(store, client_id).await?;
    let before = key.clone();
    if let Some(label) = update.label {
        check_text("label", &label)?;
        key.label = label;
    }
    if let Some(ttl) = update.token_ttl {
        key.limits.token_ttl_secs = ttl.map(|t| checked_ttl(config, t)).transpose()?;
    }
    if let Some(rate) = update.token_requests_per_second {
        key.limits.token_requests_per_second = rate.map(checked_rate).transpose()?;
    }
    let audit = actor.event(
        now,
        "api_key.update",
        Some(&key.team),
        client_id,
        json!({
            "label": { "from": before.label, "to": key.label },
            "token_ttl": { "from": before.limits.token_ttl_secs, "to": key.limits.token_ttl_secs },
            "token_requests_per_second": {
                "from": before.limits.token_requests_per_second,
                "to": key.limits.token_requests_per_second,
            },
        }),
    );
    if !store
        .update_api_key(&id, &team, &key.label, key.limits, &audit)
        .await?
    {
        return Err(ManageError::UnknownKey(client_id.to_string()));
    }
    // New limits apply from the next request on every node: once no node may still sign from
    // a credential it read before this change (the token path's leases). Waited whenever limits
    // were named, even unchanged from this read: a concurrent update may have changed them.
    if limits_named {
        tokio::time::sleep(DELETION_SETTLES).await;
    }
    Ok(key)
}

/// Keys created at or before the first time, and keys expiring at or before the second.
pub type AgeCutoffs = (Option<DateTime<Utc>>, Option<DateTime<Utc>>);

/// The times a listing's `older_than` and `expiring_within` stand for at `now`: keys created
/// at or before the first, and keys with an expiry at or before the second. Refused when
/// either falls outside the years the store holds.
pub fn age_filters(
    now: DateTime<Utc>,
    older_than: Option<Duration>,
    expiring_within: Option<Duration>,
) -> Result<AgeCutoffs, ManageError> {
    let shift = |what: &str, span: Duration, later: bool| {
        chrono::Duration::from_std(span)
            .ok()
            .and_then(|span| {
                if later {
                    now.checked_add_signed(span)
                } else {
                    now.checked_sub_signed(span)
                }
            })
            .filter(|t| crate::store::is_storable(*t))
            .ok_or_else(|| {
                ManageError::Invalid(format!(
                    "{what} {} reaches past the years 0001 to 9999",
                    show(span)
                ))
            })
    };
    Ok((
        older_than
            .map(|d| shift("older_than", d, false))
            .transpose()?,
        expiring_within
            .map(|d| shift("expiring_within", d, true))
            .transpose()?,
    ))
}

/// How many keys, across every team, are due for rotation (`keys.rotation_age`), expiring
/// soon (`keys.expiry_warning`) or expired at `now`: the hygiene metrics.
pub async fn key_hygiene(
    store: &dyn Store,
    config: &Config,
    now: DateTime<Utc>,
) -> Result<KeyHygiene, ManageError> {
    let (created_before, expiring_before) = age_filters(
        now,
        Some(config.keys.rotation_age),
        Some(config.keys.expiry_warning),
    )?;
    // Both are set: the filters were given both spans.
    let (Some(created_before), Some(expiring_before)) = (created_before, expiring_before) else {
        return Ok(KeyHygiene::default());
    };
    Ok(store
        .key_hygiene(created_before, now, expiring_before)
        .await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> Config {
        let mut config = Config::default();
        config.token.ttl = Duration::from_secs(24 * 3600);
        config
    }

    #[test]
    fn a_token_lifetime_is_a_minute_to_the_issuers_own() {
        let config = config();
        let hour = Duration::from_secs(3600);
        assert_eq!(checked_ttl(&config, hour).unwrap(), 3600);
        assert_eq!(checked_ttl(&config, hour * 24).unwrap(), 86_400);
        for refused in [
            Duration::ZERO,
            Duration::from_secs(59),
            hour * 24 + Duration::from_secs(1),
            Duration::from_millis(90_500),
            Duration::MAX,
        ] {
            let err = checked_ttl(&config, refused).unwrap_err().to_string();
            assert!(err.contains("at most token.ttl (1day)"), "{err}");
        }
    }

    #[test]
    fn a_rate_is_one_to_a_million() {
        assert_eq!(checked_rate(1).unwrap(), 1);
        assert_eq!(checked_rate(MAX_TOKEN_RATE).unwrap(), MAX_TOKEN_RATE);
        for refused in [0, MAX_TOKEN_RATE + 1, u32::MAX] {
            assert!(checked_rate(refused).is_err());
        }
    }

    #[test]
    fn age_filters_are_times_the_store_holds() {
        let now = crate::store::now();
        let day = Duration::from_secs(24 * 3600);
        let (older, expiring) = age_filters(now, Some(day * 90), Some(day * 7)).unwrap();
        assert_eq!((now - older.unwrap()).num_days(), 90);
        assert_eq!((expiring.unwrap() - now).num_days(), 7);
        assert_eq!(age_filters(now, None, None).unwrap(), (None, None));
        for (older, expiring) in [
            (Some(day * 3_000_000), None),
            (None, Some(day * 3_000_000)),
            (Some(Duration::MAX), None),
            (None, Some(Duration::MAX)),
        ] {
            assert!(age_filters(now, older, expiring).is_err());
        }
    }
}
