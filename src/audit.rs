//! The audit log: who changed what, recorded by the store in the same transaction as the change.
//!
//! Every state change names an [`Actor`]: the Client ID of the management token that asked (and
//! the address it came from), `cli` for the command line, `system` for what the server does
//! on its own (scheduled signing-key rotation and clean-up), or `secret-scanning` for a
//! scanner's signed leaked-secret report.

use std::net::IpAddr;

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::store::NewAuditEvent;

/// Who made a change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// The `tokenmint` command line, on the database host.
    Cli,
    /// The server itself: scheduled maintenance.
    System,
    /// A management API request, by the Client ID its token was issued to.
    Client { client_id: String, ip: IpAddr },
    /// A secret scanner's signed leaked-secret report, from the address it came from.
    SecretScanner { ip: IpAddr },
}

impl Actor {
    /// The name the audit log records.
    pub fn name(&self) -> &str {
        match self {
            Self::Cli => "cli",
            Self::System => "system",
            Self::Client { client_id, .. } => client_id,
            Self::SecretScanner { .. } => "secret-scanning",
        }
    }

    /// An audit event of this actor's. `detail` must hold no secret.
    pub fn event(
        &self,
        at: DateTime<Utc>,
        action: &str,
        team: Option<&str>,
        target: &str,
        detail: Value,
    ) -> NewAuditEvent {
        let source_ip = match self {
            Self::Client { ip, .. } | Self::SecretScanner { ip } => Some(ip.to_string()),
            _ => None,
        };
        let acting_key = match self {
            Self::Client { client_id, .. } => Some(client_id.clone()),
            _ => None,
        };
        NewAuditEvent {
            at,
            acting_key,
            actor: self.name().to_string(),
            action: action.to_string(),
            team: team.map(String::from),
            target: target.to_string(),
            source_ip,
            detail,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_http_actors_carry_an_address() {
        let at = crate::store::now();
        let http = Actor::Client {
            client_id: "dh_live_x".into(),
            ip: "192.0.2.7".parse().unwrap(),
        };
        let event = http.event(at, "team.create", Some("acme"), "acme", Value::Null);
        assert_eq!(event.actor, "dh_live_x");
        assert_eq!(event.source_ip.as_deref(), Some("192.0.2.7"));
        let cli = Actor::Cli.event(at, "team.create", Some("acme"), "acme", Value::Null);
        assert_eq!((cli.actor.as_str(), cli.source_ip), ("cli", None));
        assert_eq!(Actor::System.name(), "system");
    }
}
