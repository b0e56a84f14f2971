//! Who may do what through the management API, from the scopes and team of a verified token.
//!
//! - `keys:read`: the caller's own team's API keys and audit log, read only.
//! - `keys:write`: the same, and creating and deleting keys of that team.
//! - `admin`: every team, every API key, the signing keys and the whole audit log.
//!
//! A caller can never grant more than it holds: a key created through the API may carry a
//! management scope only if the caller holds it too, and `admin` only an admin can grant.

use std::net::IpAddr;

use crate::audit::Actor;
use crate::oauth::scope::{ADMIN, KEYS_READ, KEYS_WRITE, is_management};

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
    fn holds(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }

    /// Holds `scope`, or a scope that includes it (`keys:write` includes `keys:read`).
    fn has(&self, scope: &str) -> bool {
        self.holds(scope) || (scope == KEYS_READ && self.holds(KEYS_WRITE))
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
        if self.is_admin() {
            return Ok(());
        }
        match scopes
            .iter()
            .find(|s| is_management(s) && (*s == ADMIN || !self.has(s)))
        {
            None => Ok(()),
            Some(scope) => Err(Denied {
                scope: ADMIN,
                reason: format!(
                    "a key created by this token cannot hold {scope}, which it does not hold itself"
                ),
            }),
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn caller(team: &str, scopes: &[&str]) -> Caller {
        Caller {
            client_id: "dh_live_caller".into(),
            team: team.into(),
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
            ip: "127.0.0.1".parse().unwrap(),
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
}
