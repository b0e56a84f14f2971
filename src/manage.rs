//! Team and API-key management: what the CLI (and the management API to come) call.
//! Inputs are checked here, so that an invalid team or key can never reach the store.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::config::Config;
use crate::oauth::credentials::{ClientId, ClientSecret, KeyEnv};
use crate::oauth::verifier::hash_secret;
use crate::store::{ApiKey, NewApiKey, Store, StoreError, Team};

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
    #[error("unknown scope {scope:?}; the catalog is: {catalog}")]
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
    match store.insert_team(&team).await {
        Err(StoreError::Conflict(_)) => Err(ManageError::TeamExists(slug.to_string())),
        other => other.map(|()| team).map_err(Into::into),
    }
}

/// Creates an API key: a new Client ID and secret, the secret hashed off the async runtime.
pub async fn create_api_key(
    store: &dyn Store,
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
    match store.insert_api_key(&new).await {
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

/// Every scope asked for must be in the catalog; none asked for means all of them.
fn checked_scopes(requested: &[String], catalog: &[String]) -> Result<Vec<String>, ManageError> {
    if requested.is_empty() {
        return Ok(catalog.to_vec());
    }
    let mut scopes: Vec<String> = Vec::with_capacity(requested.len());
    for scope in requested {
        if !catalog.contains(scope) {
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

/// A team's keys; an unknown team is an error rather than an empty list.
pub async fn list_api_keys(store: &dyn Store, team: &str) -> Result<Vec<ApiKey>, ManageError> {
    if store.team(team).await?.is_none() {
        return Err(ManageError::UnknownTeam(team.to_string()));
    }
    Ok(store.api_keys(team).await?)
}

/// Deletes a key: the next token request with it is refused; issued tokens run out.
pub async fn delete_api_key(store: &dyn Store, client_id: &str) -> Result<(), ManageError> {
    if store.delete_api_key(client_id).await? {
        Ok(())
    } else {
        Err(ManageError::UnknownKey(client_id.to_string()))
    }
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
    fn labels_are_checked() {
        assert!(check_text("label", "ci-pipeline").is_ok());
        assert!(check_text("label", " ").is_err());
        assert!(check_text("label", "a\nb").is_err());
        assert!(check_text("label", &"x".repeat(201)).is_err());
    }
}
