//! Team and API-key management: what the CLI and the management API call. Inputs are checked
//! here, so that an invalid team or key can never reach the store, and every change is written
//! with its audit event in one transaction.
//!
//! - [`access`]: who may do what through the management API (its scopes and team isolation).
//! - `api_keys`: creating, listing and deleting API keys.
//! - `roll`: a new secret on the same Client ID, the old one working until an overlap ends.
//! - `leaked`: reported leaked secrets, revoked at once.
//! - `key_options`: a key's token lifetime, request rate and label; the listing's age filters.
//! - [`views`]: the documents the management API answers and `--json` prints.

pub mod access;
mod api_keys;
mod key_options;
mod leaked;
mod roll;
pub mod views;

pub use api_keys::{
    CreatedKey, MAX_KEY_LIFETIME, NewKeyRequest, create_api_key, delete_api_key, get_api_key,
    list_api_keys,
};

pub use access::KeyAuthority;
pub use key_options::{
    KeyUpdate, MAX_TOKEN_RATE, MIN_TOKEN_TTL, age_filters, key_hygiene, update_api_key,
};
pub use leaked::{Leak, LeakVerdict, revoke_leaked};
pub use roll::{DEFAULT_ROLL_OVERLAP, MAX_ROLL_OVERLAP, RolledKey, finish_roll, roll_secret};
pub use views::{ApiKeyView, AuditEventView, CreatedKeyView, RolledKeyView, TeamView};

use chrono::{DateTime, Utc};
use serde_json::json;

use crate::audit::Actor;
use crate::domain::TeamSlug;
use crate::manage::access::Denied;
use crate::oauth::grant::DELETION_SETTLES;
use crate::store::{AuditEvent, AuditQuery, Store, StoreError, Team};

/// Longest team name or key label, in characters.
const MAX_TEXT_LEN: usize = 200;

/// A refused or failed management action, with a message meant for the person who asked.
#[derive(Debug, thiserror::Error)]
pub enum ManageError {
    #[error("invalid team slug {0:?}: use 1 to 63 characters of a-z, 0-9 and -")]
    InvalidSlug(String),
    #[error("{0}")]
    Invalid(String),
    #[error("team {0:?} already exists")]
    TeamExists(String),
    #[error("no team has slug {0:?} (create it with `tokenmint teams create {0}`)")]
    UnknownTeam(String),
    #[error(
        "unknown scope {scope:?}; the catalog is: {catalog} (and the management scopes keys:read keys:write webhooks:read webhooks:write webhooks:sign admin)"
    )]
    UnknownScope { scope: String, catalog: String },
    #[error("no API key has Client ID {0:?}")]
    UnknownKey(String),
    #[error("API key {0} has no previous secret: it was not rolled, or its overlap has ended")]
    NoPreviousSecret(String),
    /// Another change got there first; the same request again will do.
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Denied(#[from] Denied),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Internal(String),
}

/// The team `text` names, for a lookup: a slug that breaks the rule names no team, and is
/// never sent to the store.
/// Hands back the outcome of a change to a key's credential once no node may still sign from a
/// read taken before it ([`DELETION_SETTLES`] after the commit). "No such key" and "no previous
/// secret" wait as long: another request may have made that change a moment ago and still be
/// waiting, and this answer must not arrive first. Refusals (forbidden, invalid, conflict)
/// return at once.
async fn settled<T>(outcome: Result<T, ManageError>) -> Result<T, ManageError> {
    if matches!(
        outcome,
        Ok(_) | Err(ManageError::UnknownKey(_) | ManageError::NoPreviousSecret(_))
    ) {
        tokio::time::sleep(DELETION_SETTLES).await;
    }
    outcome
}

fn team_slug(text: &str) -> Result<TeamSlug, ManageError> {
    TeamSlug::parse(text).ok_or_else(|| ManageError::UnknownTeam(text.to_string()))
}

/// A label or name: not blank, not too long, no control characters.
fn check_text(what: &str, text: &str) -> Result<(), ManageError> {
    if text.trim().is_empty() {
        return Err(ManageError::Invalid(format!(
            "the {what} must not be empty"
        )));
    }
    if text.chars().count() > MAX_TEXT_LEN || text.chars().any(char::is_control) {
        return Err(ManageError::Invalid(format!(
            "the {what} must be at most {MAX_TEXT_LEN} characters, without control characters"
        )));
    }
    Ok(())
}

/// Creates a team; its name defaults to the slug.
pub async fn create_team(
    store: &dyn Store,
    actor: &Actor,
    slug: &str,
    name: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Team, ManageError> {
    let slug = TeamSlug::parse(slug).ok_or_else(|| ManageError::InvalidSlug(slug.to_string()))?;
    let slug = slug.as_str();
    let name = name.unwrap_or(slug);
    check_text("team name", name)?;
    let team = Team {
        slug: slug.to_string(),
        name: name.to_string(),
        created_at: now,
    };
    let audit = actor.event(
        now,
        "team.create",
        Some(slug),
        slug,
        json!({ "name": team.name }),
    );
    match store.insert_team(&team, &audit).await {
        Err(StoreError::Conflict(_)) => Err(ManageError::TeamExists(slug.to_string())),
        other => other.map(|()| team).map_err(Into::into),
    }
}

/// A time from input (a filter or a cursor position) that the store can compare: refused, not
/// sent to a database that would fail on it.
fn check_time(what: &str, time: Option<DateTime<Utc>>) -> Result<(), ManageError> {
    match time {
        Some(t) if !crate::store::is_storable(t) => Err(ManageError::Invalid(format!(
            "{what} must lie between the years 0001 and 9999"
        ))),
        _ => Ok(()),
    }
}

/// Teams by slug, after `after`, at most `limit`.
pub async fn list_teams(
    store: &dyn Store,
    after: Option<&str>,
    limit: Option<u32>,
) -> Result<Vec<Team>, ManageError> {
    let after = after
        .map(|slug| {
            TeamSlug::parse(slug).ok_or_else(|| {
                ManageError::Invalid("invalid cursor: the position is not a team slug".into())
            })
        })
        .transpose()?;
    Ok(store.teams(after.as_ref(), limit).await?)
}

/// A team; `UnknownTeam` when there is none (a slug that breaks the rule names none, and is
/// never sent to the store).
pub async fn get_team(store: &dyn Store, slug: &str) -> Result<Team, ManageError> {
    let slug = team_slug(slug)?;
    store
        .team(&slug)
        .await?
        .ok_or_else(|| ManageError::UnknownTeam(slug.to_string()))
}

/// Audit events, newest first; a team's only when `query.team` names one that exists.
pub async fn list_audit(
    store: &dyn Store,
    query: &AuditQuery,
) -> Result<Vec<AuditEvent>, ManageError> {
    if let Some(team) = &query.team {
        get_team(store, team).await?;
    }
    Ok(store.audit_events(query).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_outside_four_digit_years_are_refused() {
        assert!(check_time("t", None).is_ok());
        assert!(check_time("t", Some(crate::store::now())).is_ok());
        assert!(check_time("t", Some(DateTime::<Utc>::MAX_UTC)).is_err());
        assert!(check_time("t", Some(DateTime::<Utc>::MIN_UTC)).is_err());
    }

    #[test]
    fn labels_are_checked() {
        assert!(check_text("label", "ci-pipeline").is_ok());
        assert!(check_text("label", " ").is_err());
        assert!(check_text("label", "a\nb").is_err());
        assert!(check_text("label", &"x".repeat(201)).is_err());
    }
}
