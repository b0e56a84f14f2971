//! What the store holds, as plain values.

use chrono::{DateTime, Utc};

use crate::domain::{ClientId, KeyEnv, TeamSlug};

/// A team: owns API keys. The slug is immutable.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Team {
    pub slug: String,
    pub name: String,
    pub created_at: DateTime<Utc>,
}

/// An API key as listed: never the secret, nor its hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    pub client_id: String,
    pub team: String,
    pub label: String,
    pub env: KeyEnv,
    pub scopes: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub limits: KeyLimits,
    /// Until when the secret a roll replaced still works (it may have passed already);
    /// `None`: no roll in overlap.
    pub previous_secret_until: Option<DateTime<Utc>>,
}

/// A key's own limits; `None` is the issuer's setting.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KeyLimits {
    /// The longest its tokens live, in seconds (`token.ttl` still caps it).
    pub token_ttl_secs: Option<u32>,
    /// Its token requests per second, instead of `rate_limit.token_requests_per_second`.
    pub token_requests_per_second: Option<u32>,
}

/// A new API key to store; the secret is already hashed.
#[derive(Debug, Clone)]
pub struct NewApiKey {
    pub client_id: ClientId,
    pub team: TeamSlug,
    pub label: String,
    pub env: KeyEnv,
    pub scopes: Vec<String>,
    /// argon2id PHC string.
    pub secret_hash: String,
    /// [`crate::oauth::credentials::ClientSecret::fingerprint`].
    pub secret_fingerprint: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub limits: KeyLimits,
}

/// The key a secret's fingerprint points to, for a leaked-secret report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FingerprintMatch {
    pub client_id: String,
    pub team: String,
    /// The hash of the secret with that fingerprint, to confirm it.
    pub secret_hash: String,
    /// `Some(until)` when it is the key's previous secret (a roll's), not its current one.
    pub previous_until: Option<DateTime<Utc>>,
}

/// A key's new secret, as a roll stores it.
#[derive(Debug, Clone)]
pub struct NewSecret {
    /// argon2id PHC string.
    pub hash: String,
    /// [`crate::oauth::credentials::ClientSecret::fingerprint`].
    pub fingerprint: String,
}

/// What the token endpoint needs to authenticate a client and shape its token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCredential {
    pub client_id: String,
    pub team: String,
    pub env: KeyEnv,
    pub scopes: Vec<String>,
    /// argon2id PHC string.
    pub secret_hash: String,
    pub expires_at: Option<DateTime<Utc>>,
    pub limits: KeyLimits,
    /// The secret a roll replaced, while its overlap was recorded.
    pub previous: Option<PreviousSecret>,
}

/// A rolled key's previous secret: its hash and the first instant it no longer works.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreviousSecret {
    /// argon2id PHC string.
    pub hash: String,
    pub until: DateTime<Utc>,
}

impl StoredCredential {
    /// The previous secret's hash, if it still works at `now`.
    pub fn live_previous_at(&self, now: DateTime<Utc>) -> Option<&str> {
        self.previous
            .as_ref()
            .filter(|p| p.until > now)
            .map(|p| p.hash.as_str())
    }

    /// Whether the key has expired at `now` (an expiry is the first instant it no longer works).
    pub fn is_expired_at(&self, now: DateTime<Utc>) -> bool {
        self.expires_at.is_some_and(|t| t <= now)
    }
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
    /// Replace a team's sealed webhook secrets (master-key rotation), if they are still at
    /// `version`; otherwise the whole change set is abandoned as if the epoch had moved.
    ResealWebhookSecrets {
        team: String,
        version: i64,
        current: Vec<u8>,
        previous: Option<Vec<u8>>,
    },
}

/// One state change as the audit log holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEvent {
    /// Increases with every event: the log's order and its pagination cursor.
    pub id: i64,
    pub event: NewAuditEvent,
}

/// A state change to record, in the same transaction as the change itself.
#[derive(Debug, Clone, PartialEq)]
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
    pub detail: serde_json::Value,
    /// The Client ID of the key a management API request came with: the change is made only
    /// if that key still exists when its transaction starts, and a deletion of the key waits
    /// for it (so a deletion, once it returns, is final for the key's requests in progress
    /// too). Not recorded: the actor names the key. `None` for the CLI and the server.
    pub acting_key: Option<String>,
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
    /// Only keys created at or before this time (older than an age).
    pub created_before: Option<DateTime<Utc>>,
    /// Only keys with an expiry at or before this time (expired ones too).
    pub expiring_before: Option<DateTime<Utc>>,
    /// At most this many; `None`: all of them.
    pub limit: Option<u32>,
}

/// How many keys need attention, across every team: for the hygiene metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KeyHygiene {
    pub total: u64,
    /// Created at or before the rotation age's cut-off.
    pub rotation_due: u64,
    /// Not yet expired, but expiring before the warning's cut-off.
    pub expiring_soon: u64,
    pub expired: u64,
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

/// A team's webhook signing secrets as stored: sealed under the master key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredWebhookSecrets {
    pub team: String,
    /// Moves with every write; writers compare-and-swap on it.
    pub version: i64,
    pub current: SealedWebhookSecret,
    /// The secret the last rotation replaced, while it still signs.
    pub previous: Option<PreviousWebhookSecret>,
}

impl StoredWebhookSecrets {
    /// The associated data a secret of this team is sealed with, so a sealed secret cannot be
    /// moved to another team or row.
    pub fn sealing_label(team: &str, id: &str) -> String {
        format!("webhook-secret:{team}:{id}")
    }
}

/// One sealed webhook secret. `id` names it (and is the associated data of its sealing).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedWebhookSecret {
    pub id: String,
    pub sealed: Vec<u8>,
    pub created_at: DateTime<Utc>,
}

/// A replaced webhook secret and the end of its overlap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreviousWebhookSecret {
    pub secret: SealedWebhookSecret,
    pub until: DateTime<Utc>,
}
