//! Rows as the SQL of both backends reads them, and their conversion into the store's values.

/// Row shape of `api_keys` as read for listings.
#[derive(sqlx::FromRow)]
pub(super) struct ApiKeyRow {
    pub client_id: String,
    pub team_slug: String,
    pub label: String,
    pub env: String,
    pub scopes: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub expires_at: Option<chrono::DateTime<chrono::Utc>>,
    pub last_used_at: Option<chrono::DateTime<chrono::Utc>>,
    pub token_ttl_seconds: Option<i64>,
    pub token_requests_per_second: Option<i64>,
    pub previous_secret_expires_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// Row shape of `api_keys` as read by the token endpoint.
#[derive(sqlx::FromRow)]
pub(super) struct CredentialRow {
    pub client_id: String,
    pub team_slug: String,
    pub env: String,
    pub scopes: String,
    pub secret_hash: String,
    pub expires_at: Option<chrono::DateTime<chrono::Utc>>,
    pub token_ttl_seconds: Option<i64>,
    pub token_requests_per_second: Option<i64>,
    pub previous_secret_hash: Option<String>,
    pub previous_secret_expires_at: Option<chrono::DateTime<chrono::Utc>>,
}

impl From<ApiKeyRow> for super::ApiKey {
    fn from(row: ApiKeyRow) -> Self {
        Self {
            env: env_of(&row.env),
            scopes: super::split_scopes(&row.scopes),
            client_id: row.client_id,
            team: row.team_slug,
            label: row.label,
            created_at: row.created_at,
            expires_at: row.expires_at,
            last_used_at: row.last_used_at,
            limits: limits_of(row.token_ttl_seconds, row.token_requests_per_second),
            previous_secret_until: row.previous_secret_expires_at,
        }
    }
}

impl From<CredentialRow> for super::StoredCredential {
    fn from(row: CredentialRow) -> Self {
        Self {
            env: env_of(&row.env),
            scopes: super::split_scopes(&row.scopes),
            client_id: row.client_id,
            team: row.team_slug,
            secret_hash: row.secret_hash,
            expires_at: row.expires_at,
            limits: limits_of(row.token_ttl_seconds, row.token_requests_per_second),
            previous: match (row.previous_secret_hash, row.previous_secret_expires_at) {
                (Some(hash), Some(until)) => Some(super::PreviousSecret { hash, until }),
                _ => None,
            },
        }
    }
}

/// Row shape of a fingerprint lookup.
#[derive(sqlx::FromRow)]
pub(super) struct FingerprintRow {
    pub client_id: String,
    pub team_slug: String,
    pub secret_hash: String,
    pub secret_fingerprint: Option<String>,
    pub previous_secret_hash: Option<String>,
    pub previous_secret_expires_at: Option<chrono::DateTime<chrono::Utc>>,
}

impl FingerprintRow {
    /// The secret with `fingerprint`: the current one, or the previous one.
    pub(super) fn matching(self, fingerprint: &str) -> Option<super::FingerprintMatch> {
        let current = self.secret_fingerprint.as_deref() == Some(fingerprint);
        let (secret_hash, previous_until) = if current {
            (self.secret_hash, None)
        } else {
            (
                self.previous_secret_hash?,
                Some(self.previous_secret_expires_at?),
            )
        };
        Some(super::FingerprintMatch {
            client_id: self.client_id,
            team: self.team_slug,
            secret_hash,
            previous_until,
        })
    }
}

/// Row shape of `audit_events`.
#[derive(sqlx::FromRow)]
pub(super) struct AuditRow {
    pub id: i64,
    pub at: chrono::DateTime<chrono::Utc>,
    pub actor: String,
    pub action: String,
    pub team_slug: Option<String>,
    pub target: String,
    pub source_ip: Option<String>,
    pub detail: String,
}

impl From<AuditRow> for super::AuditEvent {
    fn from(row: AuditRow) -> Self {
        Self {
            id: row.id,
            event: super::NewAuditEvent {
                at: row.at,
                actor: row.actor,
                action: row.action,
                team: row.team_slug,
                target: row.target,
                source_ip: row.source_ip,
                detail: serde_json::from_str(&row.detail).unwrap_or(serde_json::Value::Null),
                acting_key: None,
            },
        }
    }
}

/// A key's limits as stored: written only from checked `u32`s (and the columns are CHECKed
/// positive), so a value that does not fit is read as the issuer's setting.
fn limits_of(ttl: Option<i64>, rate: Option<i64>) -> super::KeyLimits {
    super::KeyLimits {
        token_ttl_secs: ttl.and_then(|n| u32::try_from(n).ok()),
        token_requests_per_second: rate.and_then(|n| u32::try_from(n).ok()),
    }
}

/// The hygiene query's four counts, in its column order (never negative).
impl From<(i64, i64, i64, i64)> for super::KeyHygiene {
    fn from((total, rotation_due, expiring_soon, expired): (i64, i64, i64, i64)) -> Self {
        let count = |n: i64| u64::try_from(n).unwrap_or(0);
        Self {
            total: count(total),
            rotation_due: count(rotation_due),
            expiring_soon: count(expiring_soon),
            expired: count(expired),
        }
    }
}

/// The `env` column holds `live` or `test` (a CHECK constraint says so).
fn env_of(text: &str) -> crate::domain::KeyEnv {
    crate::domain::KeyEnv::parse(text).unwrap_or(crate::domain::KeyEnv::Live)
}

/// Row shape of `webhook_secrets`.
#[derive(sqlx::FromRow)]
pub(super) struct WebhookSecretsRow {
    pub team_slug: String,
    pub version: i64,
    pub current_id: String,
    pub current_sealed: Vec<u8>,
    pub current_created_at: chrono::DateTime<chrono::Utc>,
    pub previous_id: Option<String>,
    pub previous_sealed: Option<Vec<u8>>,
    pub previous_created_at: Option<chrono::DateTime<chrono::Utc>>,
    pub previous_until: Option<chrono::DateTime<chrono::Utc>>,
}

impl From<WebhookSecretsRow> for super::StoredWebhookSecrets {
    fn from(row: WebhookSecretsRow) -> Self {
        let previous = match (
            row.previous_id,
            row.previous_sealed,
            row.previous_created_at,
            row.previous_until,
        ) {
            (Some(id), Some(sealed), Some(created_at), Some(until)) => {
                Some(super::PreviousWebhookSecret {
                    secret: super::SealedWebhookSecret {
                        id,
                        sealed,
                        created_at,
                    },
                    until,
                })
            }
            // The table's CHECK keeps the four columns all set or all NULL.
            _ => None,
        };
        Self {
            team: row.team_slug,
            version: row.version,
            current: super::SealedWebhookSecret {
                id: row.current_id,
                sealed: row.current_sealed,
                created_at: row.current_created_at,
            },
            previous,
        }
    }
}
