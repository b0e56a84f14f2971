//! Team and API-key management: what the CLI and the management API call. Inputs are checked
//! here, so that an invalid team or key can never reach the store, and every change is written
//! with its audit event in one transaction.
//!
//! - [`access`]: who may do what through the management API (its scopes and team isolation).

pub mod access;

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::json;

use crate::audit::Actor;
use crate::config::Config;
use crate::oauth::credentials::{ClientId, ClientSecret, KeyEnv};
use crate::oauth::scope;
use crate::oauth::verifier::hash_secret;
use crate::store::{
    ApiKey, ApiKeyQuery, AuditEvent, AuditQuery, NewApiKey, Store, StoreError, Team,
};

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
        "unknown scope {scope:?}; the catalog is: {catalog} (and the management scopes keys:read keys:write admin)"
    )]
    UnknownScope { scope: String, catalog: String },
    #[error("no API key has Client ID {0:?}")]
    UnknownKey(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Internal(String),
}

/// What `keys create` asks for.
#[derive(Debug, Clone)]
pub struct NewKeyRequest {
    pub team: String,
    pub label: String,
    /// Empty: every scope in the catalog.
    pub scopes: Vec<String>,
    pub expires_in: Option<Duration>,
    pub env: KeyEnv,
}

/// A created key and its secret: the only time the secret exists outside its hash.
#[derive(Debug)]
pub struct CreatedKey {
    pub key: ApiKey,
    pub secret: ClientSecret,
}

/// A created key as `keys create --json` prints it and `POST /api/teams/{team}/keys` answers:
/// the only document that ever holds the secret.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct CreatedKeyView<'a> {
    pub client_id: &'a str,
    /// Shown this once; only its argon2id hash is kept.
    pub client_secret: &'a str,
    pub team: &'a str,
    pub label: &'a str,
    pub scopes: &'a [String],
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
}

impl CreatedKey {
    /// The created key with its secret, for the one response that shows it.
    pub fn view(&self) -> CreatedKeyView<'_> {
        CreatedKeyView {
            client_id: &self.key.client_id,
            client_secret: self.secret.expose(),
            team: &self.key.team,
            label: &self.key.label,
            scopes: &self.key.scopes,
            created_at: self.key.created_at,
            expires_at: self.key.expires_at,
        }
    }
}

/// `[a-z0-9-]{1,63}`: the team slug rule.
pub fn is_valid_slug(slug: &str) -> bool {
    (1..=63).contains(&slug.len())
        && slug
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
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
    if !is_valid_slug(slug) {
        return Err(ManageError::InvalidSlug(slug.to_string()));
    }
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
    let expires_at = match request.expires_in {
        Some(d) if d.is_zero() => {
            return Err(ManageError::Invalid(
                "--expires-in must be above zero".into(),
            ));
        }
        Some(d) => Some(
            now + chrono::Duration::from_std(d)
                .map_err(|_| ManageError::Invalid("--expires-in is too long".into()))?,
        ),
        None => None,
    };
    if store.team(&request.team).await?.is_none() {
        return Err(ManageError::UnknownTeam(request.team));
    }
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
        client_id: client_id.to_string(),
        team: request.team,
        label: request.label,
        env: request.env,
        scopes,
        secret_hash,
        created_at: now,
        expires_at,
    };
    let audit = actor.event(
        now,
        "api_key.create",
        Some(&new.team),
        &new.client_id,
        json!({
            "label": new.label,
            "env": new.env.as_str(),
            "scopes": new.scopes,
            "expires_at": new.expires_at,
        }),
    );
    match store.insert_api_key(&new, &audit).await {
        Err(StoreError::NotFound(_)) => return Err(ManageError::UnknownTeam(new.team)),
        other => other?,
    }
    let key = ApiKey {
        client_id: new.client_id,
        team: new.team,
        label: new.label,
        env: new.env,
        scopes: new.scopes,
        created_at: new.created_at,
        expires_at: new.expires_at,
        last_used_at: None,
    };
    Ok(CreatedKey { key, secret })
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

/// Teams by slug, after `after`, at most `limit`.
pub async fn list_teams(
    store: &dyn Store,
    after: Option<&str>,
    limit: Option<u32>,
) -> Result<Vec<Team>, ManageError> {
    Ok(store.teams(after, limit).await?)
}

/// A team; `UnknownTeam` when there is none.
pub async fn get_team(store: &dyn Store, slug: &str) -> Result<Team, ManageError> {
    store
        .team(slug)
        .await?
        .ok_or_else(|| ManageError::UnknownTeam(slug.to_string()))
}

/// A page of a team's keys; an unknown team is an error rather than an empty list.
pub async fn list_api_keys(
    store: &dyn Store,
    team: &str,
    query: &ApiKeyQuery,
) -> Result<Vec<ApiKey>, ManageError> {
    get_team(store, team).await?;
    Ok(store.api_keys(team, query).await?)
}

/// One of `team`'s keys; a key of another team is `UnknownKey`, as if it did not exist.
pub async fn get_api_key(
    store: &dyn Store,
    team: &str,
    client_id: &str,
) -> Result<ApiKey, ManageError> {
    match store.api_key(client_id).await? {
        Some(key) if key.team == team => Ok(key),
        _ => Err(ManageError::UnknownKey(client_id.to_string())),
    }
}

/// Deletes a key: the next token request with it is refused; issued tokens run out. With a
/// team, only a key of that team is deleted (the management API); without one, any (the CLI).
pub async fn delete_api_key(
    store: &dyn Store,
    actor: &Actor,
    team: Option<&str>,
    client_id: &str,
    now: DateTime<Utc>,
) -> Result<(), ManageError> {
    let unknown = || ManageError::UnknownKey(client_id.to_string());
    let key = store.api_key(client_id).await?.ok_or_else(unknown)?;
    if team.is_some_and(|t| t != key.team) {
        return Err(unknown());
    }
    let audit = actor.event(
        now,
        "api_key.delete",
        Some(&key.team),
        client_id,
        json!({ "label": key.label }),
    );
    if store.delete_api_key(client_id, &key.team, &audit).await? {
        Ok(())
    } else {
        Err(unknown())
    }
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
    fn slug_rule() {
        for ok in ["a", "team-1", &"a".repeat(63)] {
            assert!(is_valid_slug(ok), "{ok}");
        }
        for bad in ["", "Team", "a_b", "a b", "é", &"a".repeat(64)] {
            assert!(!is_valid_slug(bad), "{bad}");
        }
    }

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
    fn labels_are_checked() {
        assert!(check_text("label", "ci-pipeline").is_ok());
        assert!(check_text("label", " ").is_err());
        assert!(check_text("label", "a\nb").is_err());
        assert!(check_text("label", &"x".repeat(201)).is_err());
    }
}
