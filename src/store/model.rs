//! What the store holds, as plain values.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::oauth::credentials::KeyEnv;

/// A team: owns API keys. The slug is immutable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Team {
    pub slug: String,
    pub name: String,
    pub created_at: DateTime<Utc>,
}

/// An API key as listed: never the secret, nor its hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ApiKey {
    pub client_id: String,
    pub team: String,
    pub label: String,
    #[serde(skip)]
    pub env: KeyEnv,
    pub scopes: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
}

/// A new API key to store; the secret is already hashed.
#[derive(Debug, Clone)]
pub struct NewApiKey {
    pub client_id: String,
    pub team: String,
    pub label: String,
    pub env: KeyEnv,
    pub scopes: Vec<String>,
    /// argon2id PHC string.
    pub secret_hash: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
}

/// What the token endpoint needs to authenticate a client and shape its token.
#[derive(Debug, Clone)]
pub struct StoredCredential {
    pub client_id: String,
    pub team: String,
    pub env: KeyEnv,
    pub scopes: Vec<String>,
    /// argon2id PHC string.
    pub secret_hash: String,
    pub expires_at: Option<DateTime<Utc>>,
}

/// A signing key as stored. Its state (next, current, retired, revoked) is not stored but
/// derived from these times by [`crate::signing::lifecycle`].
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct StoredSigningKey {
    pub kid: String,
    pub alg: String,
    /// The public JWK as JSON text, ready for the JWKS.
    pub public_jwk: String,
    /// The private key (PKCS#8) sealed under the master key; gone once the key can never sign
    /// again (retired or revoked).
    pub sealed_private: Option<Vec<u8>>,
    pub created_at: DateTime<Utc>,
    /// When it starts signing (it is published in the JWKS from creation).
    pub activates_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// Every stored signing key, the epoch that changes with each write to them, and the check
/// value of the master key they are sealed under (`None` until first recorded).
#[derive(Debug, Clone, Default)]
pub struct SigningKeySet {
    pub epoch: i64,
    pub keys: Vec<StoredSigningKey>,
    pub master_key_check: Option<String>,
}

/// One change to the signing keys; a list of them is applied in one transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SigningKeyChange {
    Insert(StoredSigningKey),
    /// Move a key's activation time (promote a `next` key now).
    Activate {
        kid: String,
        at: DateTime<Utc>,
    },
    /// Revoke a key and destroy its private part.
    Revoke {
        kid: String,
        at: DateTime<Utc>,
    },
    /// Destroy the private part of a key that will never sign again.
    ForgetPrivate {
        kid: String,
    },
    Delete {
        kid: String,
    },
    /// Replace a key's sealed private part (master-key rotation).
    Reseal {
        kid: String,
        sealed: Vec<u8>,
    },
    /// Record the check value of the master key everything is sealed under.
    SetMasterKeyCheck(String),
}

/// One state change as the audit log holds it.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct AuditEvent {
    /// Increases with every event: the log's order and its pagination cursor.
    pub id: i64,
    #[serde(flatten)]
    pub event: NewAuditEvent,
}

/// A state change to record, in the same transaction as the change itself.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct NewAuditEvent {
    pub at: DateTime<Utc>,
    /// The Client ID of the token that asked, `cli`, or `system`.
    pub actor: String,
    /// What happened: `team.create`, `api_key.create`, `api_key.delete`, `signing_keys.rotate`,
    /// `signing_key.revoke`, `signing_keys.maintain`, `master_key.rotate`.
    pub action: String,
    /// The team the change belongs to; `None` for signing and master keys.
    pub team: Option<String>,
    /// What was changed: a team slug, a Client ID or a kid.
    pub target: String,
    /// Where an HTTP request came from; `None` from the CLI.
    pub source_ip: Option<String>,
    /// More about the change, as a JSON object; never a secret.
    #[schema(value_type = Object)]
    pub detail: serde_json::Value,
}

/// The order of an API-key listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ApiKeyOrder {
    /// Oldest first.
    #[default]
    CreatedAt,
    /// Least recently used first, keys never used before all others: idle keys come first.
    LastUsedAt,
}

/// Where a page of API keys starts: after this key, in the listing's order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyCursor {
    /// The key's value of the ordering column (`None`: a key never used).
    pub at: Option<DateTime<Utc>>,
    pub client_id: String,
}

/// Which of a team's API keys to list.
#[derive(Debug, Clone, Default)]
pub struct ApiKeyQuery {
    pub order: ApiKeyOrder,
    pub after: Option<ApiKeyCursor>,
    /// Only keys never used, or last used before this time.
    pub unused_since: Option<DateTime<Utc>>,
    /// At most this many; `None`: all of them.
    pub limit: Option<u32>,
}

/// Which audit events to list, newest first.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    /// One team's events; `None`: every event.
    pub team: Option<String>,
    /// Events older than this id (the previous page's last).
    pub before_id: Option<i64>,
    pub limit: Option<u32>,
}
