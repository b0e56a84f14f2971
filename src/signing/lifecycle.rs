//! The signing-key lifecycle: next → current → retired → gone, or revoked.
//!
//! Only a key's activation time and its revocation are stored; every state follows from them,
//! the settings and the time, so each server computes the same states without talking to the
//! others, and every transition is a pure function tested without sleeping.
//!
//! - **next**: published in the JWKS, not signing yet (`activates_at` in the future).
//! - **current**: the most recently activated key that is not revoked. It alone signs.
//! - **retired**: replaced at the activation of its successor; stays in the JWKS until every
//!   token it signed has expired (`ttl` + a leeway after retirement).
//! - **expired**: past that; no longer published, and deleted by the next maintenance.
//! - **revoked**: out of the JWKS and never signing, at once.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::store::StoredSigningKey;

/// The settings the lifecycle depends on.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    pub ttl: Duration,
    pub publish_ahead: Duration,
    /// Zero: no automatic rotation.
    pub rotation_interval: Duration,
    /// Extra time a retired key stays published after the last token it signed can have
    /// expired, for clock skew between issuer and resource servers.
    pub retire_leeway: Duration,
}

/// A key's state at a given time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum KeyState {
    Next,
    Current,
    Retired,
    Expired,
    Revoked,
}

impl KeyState {
    /// The state's name, as listed and exported.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Next => "next",
            Self::Current => "current",
            Self::Retired => "retired",
            Self::Expired => "expired",
            Self::Revoked => "revoked",
        }
    }

    /// Whether resource servers should find the key in the JWKS.
    pub fn is_published(self) -> bool {
        matches!(self, Self::Next | Self::Current | Self::Retired)
    }
}

/// A stored key with its derived state and times.
#[derive(Debug, Clone)]
pub struct KeyStatus<'a> {
    pub key: &'a StoredSigningKey,
    pub state: KeyState,
    /// When a successor took over (retired and expired keys).
    pub retired_at: Option<DateTime<Utc>>,
    /// When the key leaves storage: for retired keys, also when it leaves the JWKS.
    pub removed_after: Option<DateTime<Utc>>,
}

/// One step of a plan; [`super::service`] turns `Create` into a generated key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Create { activates_at: DateTime<Utc> },
    Activate { kid: String, at: DateTime<Utc> },
    Revoke { kid: String, at: DateTime<Utc> },
    ForgetPrivate { kid: String },
    Delete { kid: String },
}

/// Why a revocation cannot be done.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LifecycleError {
    #[error("no signing key has kid {0:?}")]
    UnknownKid(String),
    #[error("signing key {0:?} is already revoked")]
    AlreadyRevoked(String),
}

/// `at` + `duration`, saturating at the end of time: the settings are bounded when the config
/// is read, but a lifecycle computed from them must never panic on a clock or a stored date.
fn after(at: DateTime<Utc>, duration: Duration) -> DateTime<Utc> {
    chrono::Duration::from_std(duration)
        .ok()
        .and_then(|d| at.checked_add_signed(d))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// `at` − `duration`, saturating at the start of time.
fn before(at: DateTime<Utc>, duration: Duration) -> DateTime<Utc> {
    chrono::Duration::from_std(duration)
        .ok()
        .and_then(|d| at.checked_sub_signed(d))
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// Keys in activation order (ties broken by creation, then kid), as the store returns them.
fn ordered(keys: &[StoredSigningKey]) -> Vec<&StoredSigningKey> {
    let mut sorted: Vec<&StoredSigningKey> = keys.iter().collect();
    sorted.sort_by(|a, b| {
        (a.activates_at, a.created_at, &a.kid).cmp(&(b.activates_at, b.created_at, &b.kid))
    });
    sorted
}

/// Whether `key` ever signed by `now`: activated, and not revoked before its activation.
fn took_over(key: &StoredSigningKey, now: DateTime<Utc>) -> bool {
    key.activates_at <= now && key.revoked_at.is_none_or(|r| r > key.activates_at)
}

/// Every key's state at `now`, in activation order.
pub fn classify<'a>(
    keys: &'a [StoredSigningKey],
    now: DateTime<Utc>,
    policy: &Policy,
) -> Vec<KeyStatus<'a>> {
    let sorted = ordered(keys);
    let current = sorted
        .iter()
        .rev()
        .find(|k| k.activates_at <= now && k.revoked_at.is_none())
        .map(|k| k.kid.as_str());
    let keep = policy.ttl.saturating_add(policy.retire_leeway);
    sorted
        .iter()
        .enumerate()
        .map(|(i, key)| {
            if let Some(revoked_at) = key.revoked_at {
                let removed_after = Some(after(revoked_at, keep));
                return KeyStatus {
                    key,
                    state: KeyState::Revoked,
                    retired_at: None,
                    removed_after,
                };
            }
            if key.activates_at > now {
                return KeyStatus {
                    key,
                    state: KeyState::Next,
                    retired_at: None,
                    removed_after: None,
                };
            }
            if Some(key.kid.as_str()) == current {
                return KeyStatus {
                    key,
                    state: KeyState::Current,
                    retired_at: None,
                    removed_after: None,
                };
            }
            let retired_at = sorted[i + 1..]
                .iter()
                .find(|k| took_over(k, now))
                .map_or(now, |k| k.activates_at);
            let removed_after = after(retired_at, keep);
            let state = if now > removed_after {
                KeyState::Expired
            } else {
                KeyState::Retired
            };
            KeyStatus {
                key,
                state,
                retired_at: Some(retired_at),
                removed_after: Some(removed_after),
            }
        })
        .collect()
}

/// The signing key at `now`, if any.
pub fn current<'a>(statuses: &[KeyStatus<'a>]) -> Option<&'a StoredSigningKey> {
    statuses
        .iter()
        .find(|s| s.state == KeyState::Current)
        .map(|s| s.key)
}

fn first_next<'a>(statuses: &[KeyStatus<'a>]) -> Option<&'a StoredSigningKey> {
    statuses
        .iter()
        .find(|s| s.state == KeyState::Next)
        .map(|s| s.key)
}

/// When automatic rotation should publish the next key, if it is on and none is pending.
fn rotation_due(statuses: &[KeyStatus<'_>], policy: &Policy) -> Option<DateTime<Utc>> {
    if policy.rotation_interval.is_zero() || first_next(statuses).is_some() {
        return None;
    }
    let current = current(statuses)?;
    let activation = after(current.activates_at, policy.rotation_interval);
    Some(before(activation, policy.publish_ahead))
}

/// The steps that bring the keys in line with the time: a signing key exists, a scheduled
/// rotation is published `publish_ahead` early, retired keys lose their private part, and keys
/// past their removal time are deleted. Empty when nothing is due.
pub fn plan_maintenance(
    keys: &[StoredSigningKey],
    now: DateTime<Utc>,
    policy: &Policy,
) -> Vec<Step> {
    let statuses = classify(keys, now, policy);
    let mut steps = Vec::new();
    if current(&statuses).is_none() {
        steps.push(take_over(&statuses, now));
    } else if let Some(publish) = rotation_due(&statuses, policy).filter(|p| *p <= now) {
        let scheduled = after(publish, policy.publish_ahead);
        steps.push(Step::Create {
            activates_at: scheduled.max(after(now, policy.publish_ahead)),
        });
    }
    for status in &statuses {
        let kid = status.key.kid.clone();
        let past_removal = status.removed_after.is_some_and(|r| now > r);
        if past_removal && matches!(status.state, KeyState::Expired | KeyState::Revoked) {
            steps.push(Step::Delete { kid });
        } else if status.state == KeyState::Retired && status.key.sealed_private.is_some() {
            steps.push(Step::ForgetPrivate { kid });
        }
    }
    steps
}

/// A new current key at `now`: the pending next key promoted early, or a fresh one.
fn take_over(statuses: &[KeyStatus<'_>], now: DateTime<Utc>) -> Step {
    match first_next(statuses) {
        Some(next) => Step::Activate {
            kid: next.kid.clone(),
            at: now,
        },
        None => Step::Create { activates_at: now },
    }
}

/// A rotation. Staged: a new key published now that signs after `publish_ahead` (nothing to do
/// when one is already pending). Immediate (`--now`, for a suspected leak): a new current key at
/// once, promoting the pending one if there is one.
pub fn plan_rotation(
    keys: &[StoredSigningKey],
    now: DateTime<Utc>,
    policy: &Policy,
    immediate: bool,
) -> Vec<Step> {
    let statuses = classify(keys, now, policy);
    if immediate || current(&statuses).is_none() {
        return vec![take_over(&statuses, now)];
    }
    match first_next(&statuses) {
        Some(_) => Vec::new(),
        None => vec![Step::Create {
            activates_at: after(now, policy.publish_ahead),
        }],
    }
}

/// Revokes `kid` at `now`; if it was the current key, another takes over in the same plan.
pub fn plan_revoke(
    keys: &[StoredSigningKey],
    kid: &str,
    now: DateTime<Utc>,
    policy: &Policy,
) -> Result<Vec<Step>, LifecycleError> {
    let statuses = classify(keys, now, policy);
    let status = statuses
        .iter()
        .find(|s| s.key.kid == kid)
        .ok_or_else(|| LifecycleError::UnknownKid(kid.to_string()))?;
    if status.state == KeyState::Revoked {
        return Err(LifecycleError::AlreadyRevoked(kid.to_string()));
    }
    let mut steps = vec![Step::Revoke {
        kid: kid.to_string(),
        at: now,
    }];
    if status.state == KeyState::Current {
        let others: Vec<KeyStatus<'_>> =
            statuses.into_iter().filter(|s| s.key.kid != kid).collect();
        steps.push(take_over(&others, now));
    }
    Ok(steps)
}

/// The next moment at which a state changes or maintenance falls due, so a server knows when
/// to look again even if nothing is written.
pub fn next_change(
    keys: &[StoredSigningKey],
    now: DateTime<Utc>,
    policy: &Policy,
) -> Option<DateTime<Utc>> {
    let statuses = classify(keys, now, policy);
    let activations = statuses
        .iter()
        .filter(|s| s.state == KeyState::Next)
        .map(|s| s.key.activates_at);
    let removals = statuses.iter().filter_map(|s| s.removed_after);
    activations
        .chain(removals)
        .chain(rotation_due(&statuses, policy))
        .filter(|t| *t > now)
        .min()
}

#[cfg(test)]
mod tests;
