//! Who may do what through the management API, from the scopes and team of a verified token.
//!
//! - `keys:read`: the caller's own team's API keys and audit log, read only.
//! - `keys:write`: the same, and creating and deleting keys of that team.
//! - `webhooks:read`: reveal the own team's webhook signing secrets; `webhooks:write`: also
//!   rotate them and revoke the previous one; `webhooks:sign`: sign webhooks with them without
//!   seeing them (a delivery worker's scope).
//! - `admin`: every team, every API key, the signing keys and the whole audit log.
//!
//! A caller can never grant more than it holds: a key created through the API may carry a
//! management scope only if the caller holds it too, and `admin` only an admin can grant.

use std::net::IpAddr;
use std::time::Instant;

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::audit::Actor;
use crate::domain::ClientId;
use crate::oauth::OAuthError;
use crate::oauth::grant::{CREDENTIAL_FRESHNESS, KeyRead, TokenIssuer};
use crate::oauth::scope::{
    self, ADMIN, KEYS_READ, KEYS_WRITE, WEBHOOKS_READ, WEBHOOKS_SIGN, WEBHOOKS_WRITE, is_management,
};
use crate::signing::verify::TokenVerifier;
use crate::store::Store;

/// Why a bearer token stands for no caller.
#[derive(Debug, thiserror::Error)]
pub enum NotACaller {
    /// RFC 6750 §3.1 `invalid_token`, with the reason.
    #[error("{0}")]
    InvalidToken(String),
    /// The key could not be read: the token path's refusal (503 when the database is
    /// unavailable or slow).
    #[error("{0}")]
    Unreadable(#[from] OAuthError),
}

/// The caller a management token stands for: a token this issuer signed for its own audience
/// (`issuer`), verified locally against the published keys, whose API key still exists and has
/// not expired at `now`. The key is read as the token endpoint reads it (`keys`: a lease of the
/// last moments, else the store, and only a read younger than the credential freshness), so a
/// request checked after its key's deletion returned is refused, not served until the key's
/// tokens run out; a request with a body is checked once the body has arrived
/// (`http::management::auth`). A busy caller (a webhook delivery worker) costs the database a
/// few reads a second, not one a request.
pub async fn caller_of(
    keys: &TokenIssuer,
    verifier: &TokenVerifier,
    issuer: &str,
    token: &str,
    ip: IpAddr,
    now: DateTime<Utc>,
) -> Result<Caller, NotACaller> {
    let invalid = |reason: &str| NotACaller::InvalidToken(reason.to_string());
    let claims = verifier
        .verify(token, issuer, issuer)
        .map_err(|e| NotACaller::InvalidToken(e.to_string()))?;
    let client_id = claims
        .get("client_id")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid("the token names no client_id"))?;
    // A malformed client_id names no key: the same answer as a deleted one.
    let client_id = ClientId::parse(client_id).ok_or_else(NotACaller::gone)?;
    let read = live_key(keys, &client_id, now).await?;
    let scope = claims.get("scope").and_then(Value::as_str).unwrap_or("");
    let scopes = scope::parse(scope).map_err(|_| invalid("the token's scope is malformed"))?;
    Ok(Caller {
        client_id: read.key.client_id.clone(),
        team: read.key.team.clone(),
        scopes,
        ip,
        checked_at: read.read_at,
        expires_at: read.key.expires_at,
    })
}

/// The key `client_id` names as [`TokenIssuer::current_key`] reads it, if it exists and has not
/// expired at `now`.
async fn live_key(
    keys: &TokenIssuer,
    client_id: &ClientId,
    now: DateTime<Utc>,
) -> Result<KeyRead, NotACaller> {
    keys.current_key(client_id)
        .await?
        .filter(|read| !read.key.is_expired_at(now))
        .ok_or_else(NotACaller::gone)
}

impl NotACaller {
    fn gone() -> Self {
        Self::InvalidToken(
            "the API key this token was issued to was deleted or has expired".to_string(),
        )
    }
}

/// The caller of a management request, as its verified access token says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub client_id: String,
    /// The team of the key the token was issued to.
    pub team: String,
    /// The token's scopes.
    pub scopes: Vec<String>,
    /// Where the request came from (for the audit log).
    pub ip: IpAddr,
    /// When the read that found the caller's key began (see [`Caller::still_holds`]).
    pub checked_at: Instant,
    /// When the caller's key expires, as that read found it.
    pub expires_at: Option<DateTime<Utc>>,
}

/// A refusal: RFC 6750 §3.1 `insufficient_scope`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct Denied {
    /// The scopes that would allow the request (for the `scope` attribute of the challenge).
    pub scope: &'static str,
    pub reason: String,
}

impl Caller {
    /// Whether an answer that gives the caller something without writing (a webhook
    /// signature, a listing) may still leave: as a token, only if the caller's key was seen within
    /// [`CREDENTIAL_FRESHNESS`], so no deletion that has returned, on any node, committed before
    /// that read began, and has not expired at `now` since; else the key is read again. A request that
    /// waited after its check — for the database, say — while its key was deleted is refused
    /// rather than answered after the deletion returned. Writes need none of this: the key is
    /// checked again inside their transaction (`store::sql::queries::begin_audited`).
    pub async fn still_holds(
        &self,
        keys: &TokenIssuer,
        now: DateTime<Utc>,
    ) -> Result<(), NotACaller> {
        let expired = self.expires_at.is_some_and(|at| at <= now);
        if expired {
            return Err(NotACaller::gone());
        }
        if self.checked_at.elapsed() < CREDENTIAL_FRESHNESS {
            return Ok(());
        }
        let client_id = ClientId::parse(&self.client_id).ok_or_else(NotACaller::gone)?;
        live_key(keys, &client_id, now).await.map(|_| ())
    }

    fn holds(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }

    /// Holds `scope`, or a scope that includes it (`keys:write` includes `keys:read`,
    /// `webhooks:write` includes `webhooks:read`).
    fn has(&self, scope: &str) -> bool {
        self.holds(scope)
            || (scope == KEYS_READ && self.holds(KEYS_WRITE))
            || (scope == WEBHOOKS_READ && self.holds(WEBHOOKS_WRITE))
    }

    fn is_admin(&self) -> bool {
        self.holds(ADMIN)
    }

    /// The audit log's actor for this caller.
    pub fn actor(&self) -> Actor {
        Actor::Client {
            client_id: self.client_id.clone(),
            ip: self.ip,
        }
    }

    /// Reading `team`'s keys and audit log.
    pub fn may_read_keys(&self, team: &str) -> Result<(), Denied> {
        let own = self.team == team && self.has(KEYS_READ);
        self.allow(own, "keys:read keys:write admin", team)
    }

    /// Creating and deleting `team`'s keys.
    pub fn may_write_keys(&self, team: &str) -> Result<(), Denied> {
        let own = self.team == team && self.holds(KEYS_WRITE);
        self.allow(own, "keys:write admin", team)
    }

    /// Revealing `team`'s webhook signing secrets.
    pub fn may_read_webhook_secret(&self, team: &str) -> Result<(), Denied> {
        let own = self.team == team && self.has(WEBHOOKS_READ);
        self.allow(own, "webhooks:read webhooks:write admin", team)
    }

    /// Rotating `team`'s webhook signing secret and revoking the previous one.
    pub fn may_write_webhook_secret(&self, team: &str) -> Result<(), Denied> {
        let own = self.team == team && self.holds(WEBHOOKS_WRITE);
        self.allow(own, "webhooks:write admin", team)
    }

    /// Signing webhooks with `team`'s secrets.
    pub fn may_sign_webhooks(&self, team: &str) -> Result<(), Denied> {
        let own = self.team == team && self.holds(WEBHOOKS_SIGN);
        self.allow(own, "webhooks:sign admin", team)
    }

    /// Teams, signing keys, the whole audit log.
    pub fn may_administer(&self) -> Result<(), Denied> {
        if self.is_admin() {
            return Ok(());
        }
        Err(Denied {
            scope: ADMIN,
            reason: "this needs a token with the admin scope".into(),
        })
    }

    /// Giving a new key `scopes`: a management scope only if the caller holds it, `admin` only
    /// by an admin.
    pub fn may_grant(&self, scopes: &[String]) -> Result<(), Denied> {
        match self.ungrantable(scopes) {
            None => Ok(()),
            Some(scope) => Err(Denied {
                scope: ADMIN,
                reason: format!(
                    "a key created by this token cannot hold {scope}, which it does not hold itself"
                ),
            }),
        }
    }

    /// Deleting (or otherwise changing) a key that holds `scopes`: only one the caller could
    /// have created, so `keys:write` cannot take away its team's admin key.
    pub fn may_change_key(&self, scopes: &[String]) -> Result<(), Denied> {
        match self.ungrantable(scopes) {
            None => Ok(()),
            Some(scope) => Err(Denied {
                scope: ADMIN,
                reason: format!(
                    "this key holds {scope}, which this token does not hold itself: it cannot \
                     change the key"
                ),
            }),
        }
    }

    /// The first of `scopes` this caller may not give: a management scope it does not hold,
    /// or `admin` for anyone but an admin.
    fn ungrantable<'s>(&self, scopes: &'s [String]) -> Option<&'s String> {
        if self.is_admin() {
            return None;
        }
        scopes
            .iter()
            .find(|s| is_management(s) && (*s == ADMIN || !self.has(s)))
    }

    fn allow(&self, own_team: bool, scope: &'static str, team: &str) -> Result<(), Denied> {
        if own_team || self.is_admin() {
            return Ok(());
        }
        let reason = if self.team == team {
            format!("this needs a token with one of the scopes: {scope}")
        } else {
            format!(
                "this token's key belongs to team {:?}, not {team:?}",
                self.team
            )
        };
        Err(Denied { scope, reason })
    }
}

/// A key an authority may change: its typed id, the key as listed, and its team.
#[derive(Debug)]
pub(super) struct ReachedKey {
    pub id: ClientId,
    pub key: crate::store::ApiKey,
    pub team: crate::domain::TeamSlug,
}

/// Who asks for a change to an API key.
#[derive(Debug, Clone, Copy)]
pub enum KeyAuthority<'a> {
    /// The operator at the command line: any key of any team.
    Operator,
    /// A management API caller, acting on `team` (the request's path).
    Caller { caller: &'a Caller, team: &'a str },
}

impl KeyAuthority<'_> {
    /// The key `client_id` names, when this authority reaches it (as [`Self::reaches`] says),
    /// with its typed id and team; `UnknownKey` when there is none.
    pub(super) async fn find(
        &self,
        store: &dyn Store,
        client_id: &str,
    ) -> Result<ReachedKey, super::ManageError> {
        let unknown = || super::ManageError::UnknownKey(client_id.to_string());
        let id = ClientId::parse(client_id).ok_or_else(unknown)?;
        let key = store.api_key(&id).await?.ok_or_else(unknown)?;
        self.reaches(&key)?;
        // The key's team as stored: written only as a `TeamSlug`, so this never refuses.
        let team = crate::domain::TeamSlug::parse(&key.team).ok_or_else(unknown)?;
        Ok(ReachedKey { id, key, team })
    }

    /// Whether this authority reaches `key`: `UnknownKey` for another team's key (as if it did
    /// not exist), `Denied` for a key holding a scope the caller could not grant.
    pub(super) fn reaches(&self, key: &crate::store::ApiKey) -> Result<(), super::ManageError> {
        match self {
            Self::Operator => Ok(()),
            Self::Caller { team, .. } if *team != key.team => {
                Err(super::ManageError::UnknownKey(key.client_id.clone()))
            }
            Self::Caller { caller, .. } => Ok(caller.may_change_key(&key.scopes)?),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller(team: &str, scopes: &[&str]) -> Caller {
        Caller {
            client_id: "dh_live_caller".into(),
            team: team.into(),
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
            ip: "127.0.0.1".parse().unwrap(),
            checked_at: Instant::now(),
            expires_at: None,
        }
    }

    fn v(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn keys_read_reads_its_own_team_only() {
        let reader = caller("a", &["keys:read"]);
        assert!(reader.may_read_keys("a").is_ok());
        assert!(reader.may_read_keys("b").is_err());
        assert!(reader.may_write_keys("a").is_err());
        assert!(reader.may_administer().is_err());
    }

    #[test]
    fn keys_write_writes_and_reads_its_own_team_only() {
        let writer = caller("a", &["keys:write"]);
        assert!(writer.may_read_keys("a").is_ok());
        assert!(writer.may_write_keys("a").is_ok());
        let denied = writer.may_write_keys("b").unwrap_err();
        assert!(denied.reason.contains("\"b\""), "{}", denied.reason);
        assert!(writer.may_administer().is_err());
    }

    #[test]
    fn webhook_scopes_reach_their_own_team_and_only_their_step() {
        let reader = caller("a", &["webhooks:read"]);
        assert!(reader.may_read_webhook_secret("a").is_ok());
        assert!(reader.may_write_webhook_secret("a").is_err());
        assert!(reader.may_sign_webhooks("a").is_err());
        let writer = caller("a", &["webhooks:write"]);
        assert!(writer.may_read_webhook_secret("a").is_ok());
        assert!(writer.may_write_webhook_secret("a").is_ok());
        assert!(writer.may_write_webhook_secret("b").is_err());
        assert!(writer.may_sign_webhooks("a").is_err());
        let worker = caller("a", &["webhooks:sign"]);
        assert!(worker.may_sign_webhooks("a").is_ok());
        assert!(worker.may_sign_webhooks("b").is_err());
        assert!(worker.may_read_webhook_secret("a").is_err());
        let keys = caller("a", &["keys:write"]);
        assert!(keys.may_read_webhook_secret("a").is_err());
        assert!(keys.may_grant(&v(&["webhooks:sign"])).is_err());
        let admin = caller("ops", &["admin"]);
        assert!(admin.may_read_webhook_secret("b").is_ok());
        assert!(admin.may_sign_webhooks("b").is_ok());
    }

    #[test]
    fn admin_reaches_every_team() {
        let admin = caller("ops", &["admin"]);
        assert!(admin.may_read_keys("b").is_ok());
        assert!(admin.may_write_keys("b").is_ok());
        assert!(admin.may_administer().is_ok());
        assert!(admin.may_grant(&v(&["admin", "keys:write"])).is_ok());
    }

    #[test]
    fn product_scopes_grant_nothing_here() {
        let product = caller("a", &["monitors:read", "logs:read"]);
        assert!(product.may_read_keys("a").is_err());
        assert!(product.may_administer().is_err());
    }

    #[test]
    fn no_caller_grants_more_than_it_holds() {
        let writer = caller("a", &["keys:write"]);
        assert!(writer.may_grant(&v(&["monitors:read"])).is_ok());
        assert!(writer.may_grant(&v(&["keys:write", "keys:read"])).is_ok());
        assert!(writer.may_grant(&v(&["admin"])).is_err());
        let reader = caller("a", &["keys:read"]);
        assert!(reader.may_grant(&v(&["keys:read"])).is_ok());
        assert!(reader.may_grant(&v(&["keys:write"])).is_err());
    }

    #[test]
    fn no_caller_changes_a_key_holding_more_than_it_holds() {
        let writer = caller("a", &["keys:write"]);
        assert!(writer.may_change_key(&v(&["monitors:read"])).is_ok());
        assert!(
            writer
                .may_change_key(&v(&["keys:read", "keys:write"]))
                .is_ok()
        );
        let denied = writer
            .may_change_key(&v(&["admin", "logs:read"]))
            .unwrap_err();
        assert!(denied.reason.contains("admin"), "{}", denied.reason);
        assert!(
            caller("a", &["admin"])
                .may_change_key(&v(&["admin"]))
                .is_ok()
        );
    }
}
