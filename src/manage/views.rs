//! What the management API answers and `--json` prints: documents of their own, apart from the
//! store's rows, so that a column can change without changing the API and the API says what
//! it means to (a key's `env`, for one, is part of it).

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::{CreatedKey, RolledKey};
use crate::oauth::credentials::KeyEnv;
use crate::store::{ApiKey, AuditEvent, Team};

/// A team.
#[derive(Debug, Serialize, ToSchema)]
pub struct TeamView {
    /// Immutable: `[a-z0-9-]{1,63}`.
    pub slug: String,
    pub name: String,
    pub created_at: DateTime<Utc>,
}

impl From<Team> for TeamView {
    fn from(team: Team) -> Self {
        Self {
            slug: team.slug,
            name: team.name,
            created_at: team.created_at,
        }
    }
}

/// An API key as listed: never its secret.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApiKeyView {
    /// Public: `dh_live_…` or `dh_test_…`.
    pub client_id: String,
    pub team: String,
    pub label: String,
    /// `live` or `test`: the `env` claim of the key's tokens.
    #[schema(value_type = String, example = "live")]
    pub env: KeyEnv,
    pub scopes: Vec<String>,
    pub created_at: DateTime<Utc>,
    /// Whole days since `created_at`: keys older than 90 are candidates for rotation.
    pub age_days: i64,
    /// `null`: never expires.
    pub expires_at: Option<DateTime<Utc>>,
    /// Updated at most once a minute; `null`: never used.
    pub last_used_at: Option<DateTime<Utc>>,
    /// The longest the key's tokens live, in seconds; `null`: the issuer's `token.ttl`.
    pub token_ttl: Option<u32>,
    /// The key's token requests per second; `null`: the issuer's
    /// `rate_limit.token_requests_per_second`.
    pub token_requests_per_second: Option<u32>,
    /// After a roll, until when the previous secret still works; `null`: only the current
    /// secret works.
    pub previous_secret_expires_at: Option<DateTime<Utc>>,
}

impl ApiKeyView {
    /// The key as listed at `now` (its age is counted to then).
    pub fn at(key: ApiKey, now: DateTime<Utc>) -> Self {
        Self {
            age_days: age_days(key.created_at, now),
            client_id: key.client_id,
            team: key.team,
            label: key.label,
            env: key.env,
            scopes: key.scopes,
            created_at: key.created_at,
            expires_at: key.expires_at,
            last_used_at: key.last_used_at,
            token_ttl: key.limits.token_ttl_secs,
            token_requests_per_second: key.limits.token_requests_per_second,
            previous_secret_expires_at: key.previous_secret_until.filter(|until| *until > now),
        }
    }
}

/// A rolled key as `keys roll --json` prints it and `POST …/keys/{client_id}/roll` answers: the
/// key's fields and its new secret, shown this once.
#[derive(Debug, Serialize, ToSchema)]
pub struct RolledKeyView {
    /// The new secret; only its argon2id hash is kept. The previous one works until
    /// `previous_secret_expires_at`.
    pub client_secret: String,
    #[serde(flatten)]
    pub key: ApiKeyView,
}

impl RolledKeyView {
    pub fn at(rolled: RolledKey, now: DateTime<Utc>) -> Self {
        Self {
            client_secret: rolled.secret.expose().to_string(),
            key: ApiKeyView::at(rolled.key, now),
        }
    }
}

/// Whole days from `created_at` to `now`, never negative (a clock that stepped back).
pub fn age_days(created_at: DateTime<Utc>, now: DateTime<Utc>) -> i64 {
    now.signed_duration_since(created_at).num_days().max(0)
}

/// A created key as `keys create --json` prints it and `POST /api/teams/{team}/keys` answers:
/// the only document that ever holds the secret.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedKeyView<'a> {
    pub client_id: &'a str,
    /// Shown this once; only its argon2id hash is kept.
    pub client_secret: &'a str,
    pub team: &'a str,
    pub label: &'a str,
    /// `live` or `test`.
    #[schema(value_type = String, example = "live")]
    pub env: KeyEnv,
    pub scopes: &'a [String],
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    /// The longest the key's tokens live, in seconds; `null`: the issuer's `token.ttl`.
    pub token_ttl: Option<u32>,
    /// `null`: the issuer's `rate_limit.token_requests_per_second`.
    pub token_requests_per_second: Option<u32>,
}

impl CreatedKey {
    /// The created key with its secret, for the one response that shows it.
    pub fn view(&self) -> CreatedKeyView<'_> {
        CreatedKeyView {
            client_id: &self.key.client_id,
            client_secret: self.secret.expose(),
            team: &self.key.team,
            label: &self.key.label,
            env: self.key.env,
            scopes: &self.key.scopes,
            created_at: self.key.created_at,
            expires_at: self.key.expires_at,
            token_ttl: self.key.limits.token_ttl_secs,
            token_requests_per_second: self.key.limits.token_requests_per_second,
        }
    }
}

/// One change in the audit log.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEventView {
    /// Increases with every event: the log's order.
    pub id: i64,
    pub at: DateTime<Utc>,
    /// The Client ID of the token that asked, `cli`, `system`, or `secret-scanning` (a
    /// scanner's signed leaked-secret report).
    pub actor: String,
    /// What happened: `team.create`, `api_key.create`, `api_key.update`, `api_key.delete`,
    /// `api_key.roll`, `api_key.roll_finish`, `api_key.leaked`, `signing_keys.rotate`,
    /// `signing_key.revoke`, `signing_keys.maintain`, `master_key.rotate`, `webhook_secret.*`.
    pub action: String,
    /// The team the change belongs to; `null` for signing and master keys.
    pub team: Option<String>,
    /// What was changed: a team slug, a Client ID or a kid.
    pub target: String,
    /// Where an HTTP request came from; `null` from the CLI.
    pub source_ip: Option<String>,
    /// More about the change; never a secret.
    #[schema(value_type = Object)]
    pub detail: serde_json::Value,
}

impl From<AuditEvent> for AuditEventView {
    fn from(event: AuditEvent) -> Self {
        let AuditEvent { id, event } = event;
        Self {
            id,
            at: event.at,
            actor: event.actor,
            action: event.action,
            team: event.team,
            target: event.target,
            source_ip: event.source_ip,
            detail: event.detail,
        }
    }
}

/// Each row as its view.
pub fn views<R, V: From<R>>(rows: Vec<R>) -> Vec<V> {
    rows.into_iter().map(V::from).collect()
}
