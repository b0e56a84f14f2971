//! Storage: one interface, [`Store`], with a SQLite and a PostgreSQL backend chosen by the
//! scheme of `database.url`.
//!
//! Both backends run the same SQL, written once in `sql` as a generic implementation over
//! sqlx's database type (see that module for why and how to add a table); each backend module
//! owns only what differs: connecting, pragmas and pool settings, its migrations
//! (`migrations/sqlite`, `migrations/postgres`) and the token path's credential read. Every
//! state change is one transaction. Ids arrive typed ([`TeamSlug`], [`ClientId`]), checked
//! where they entered, so no malformed id reaches a query.

mod backup;
mod file_modes;
mod model;
mod postgres;
mod rows;
mod sql;
mod sqlite;
mod statement;

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

pub use backup::backup_sqlite;
pub use model::*;

use crate::config::DatabaseConfig;
use crate::domain::{ClientId, TeamSlug};

/// A storage failure, sorted by what the caller can do about it.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique name is taken.
    #[error("{0} already exists")]
    Conflict(String),
    /// A referenced row does not exist.
    #[error("{0} does not exist")]
    NotFound(String),
    /// The database cannot be reached or is overloaded: retry later.
    #[error("the database is unavailable: {0}")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// Anything else the database said.
    #[error("database error: {0}")]
    Database(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("cannot open the database: {0}")]
    Open(String),
    /// The key a management request came with was deleted before its change could be made.
    #[error("the API key {0} was deleted or has expired")]
    ActorGone(String),
}

impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> Self {
        if is_unavailable(&error) {
            Self::Unavailable(Box::new(error))
        } else {
            Self::Database(Box::new(error))
        }
    }
}

/// Errors that mean "the database cannot be reached or is overloaded now", worth a retry: the
/// pool or the connection failed (a protocol error is a connection cut mid-conversation),
/// PostgreSQL's connection-exception and shutdown SQLSTATEs (08xxx, 57P0x, 53300), and SQLite's
/// BUSY and LOCKED codes.
fn is_unavailable(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => db.code().is_some_and(|code| {
            code.starts_with("08")
                || code.starts_with("57P0")
                || code == "53300"
                // A deadlock or serialization failure: the transaction is to be retried (two
                // keys deleting each other at once, each holding its own row for its write).
                || code == "40P01"
                || code == "40001"
                || matches!(code.as_ref(), "5" | "6" | "261" | "517" | "773")
        }),
        _ => false,
    }
}

/// Everything tokenmint reads and writes.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Answers when the database does; for `/readyz`.
    async fn ping(&self) -> Result<(), StoreError>;

    /// Stores a team and its audit event; `Conflict` when the slug is taken.
    async fn insert_team(&self, team: &Team, audit: &NewAuditEvent) -> Result<(), StoreError>;
    /// Teams by slug: those after `after`, at most `limit` of them (`None`: all).
    async fn teams(
        &self,
        after: Option<&TeamSlug>,
        limit: Option<u32>,
    ) -> Result<Vec<Team>, StoreError>;
    async fn team(&self, slug: &TeamSlug) -> Result<Option<Team>, StoreError>;

    /// Stores a key and its audit event; `NotFound` when its team does not exist.
    async fn insert_api_key(
        &self,
        key: &NewApiKey,
        audit: &NewAuditEvent,
    ) -> Result<(), StoreError>;
    /// A page of a team's keys.
    async fn api_keys(
        &self,
        team: &TeamSlug,
        query: &ApiKeyQuery,
    ) -> Result<Vec<ApiKey>, StoreError>;
    /// One key, as listed.
    async fn api_key(&self, client_id: &ClientId) -> Result<Option<ApiKey>, StoreError>;
    /// The hot-path lookup: one indexed read, made on every token request.
    async fn credential(
        &self,
        client_id: &ClientId,
    ) -> Result<Option<StoredCredential>, StoreError>;
    /// Deletes team `team`'s key and records the audit event; false when there was none.
    async fn delete_api_key(
        &self,
        client_id: &ClientId,
        team: &TeamSlug,
        audit: &NewAuditEvent,
    ) -> Result<bool, StoreError>;
    /// Replaces team `team`'s key's label and limits and records the audit event; false when
    /// there was no such key.
    async fn update_api_key(
        &self,
        client_id: &ClientId,
        team: &TeamSlug,
        label: &str,
        limits: KeyLimits,
        audit: &NewAuditEvent,
    ) -> Result<bool, StoreError>;
    /// Gives team `team`'s key the secret hashed in `new_hash` if its secret is still
    /// `expected_hash`; the old one keeps working until `previous_until`, replacing any previous
    /// secret. Records the audit event; false when the key or its secret moved on.
    async fn roll_secret(
        &self,
        client_id: &ClientId,
        team: &TeamSlug,
        expected_hash: &str,
        new: &NewSecret,
        previous_until: DateTime<Utc>,
        audit: &NewAuditEvent,
    ) -> Result<bool, StoreError>;
    /// Ends team `team`'s key's previous secret now and records the audit event; false when it
    /// had none.
    async fn finish_roll(
        &self,
        client_id: &ClientId,
        team: &TeamSlug,
        audit: &NewAuditEvent,
    ) -> Result<bool, StoreError>;
    /// The keys whose current or previous secret has `fingerprint` (one, but for a collision
    /// of SHA-256).
    async fn keys_by_fingerprint(
        &self,
        fingerprint: &str,
    ) -> Result<Vec<FingerprintMatch>, StoreError>;
    /// How many keys, across every team, were created at or before `created_before`, and
    /// expire after `now` and at or before `expiring_before`, or by `now`.
    async fn key_hygiene(
        &self,
        created_before: DateTime<Utc>,
        now: DateTime<Utc>,
        expiring_before: DateTime<Utc>,
    ) -> Result<KeyHygiene, StoreError>;
    /// Writes a batch of `last_used_at` times in one transaction; deleted keys are skipped.
    async fn record_last_used(&self, uses: &[(ClientId, DateTime<Utc>)]) -> Result<(), StoreError>;

    /// The signing-key epoch alone: a cheap poll for "did anything change?".
    async fn signing_epoch(&self) -> Result<i64, StoreError>;
    /// Every signing key with the epoch they were read at.
    async fn signing_keys(&self) -> Result<SigningKeySet, StoreError>;
    /// Applies the changes, and records the audit event if there is one, in one transaction if
    /// the epoch is still `expected_epoch`, and moves the epoch on. Returns false (and changes
    /// nothing) when another writer got there first.
    async fn apply_signing_changes(
        &self,
        expected_epoch: i64,
        changes: &[SigningKeyChange],
        audit: Option<&NewAuditEvent>,
    ) -> Result<bool, StoreError>;

    /// Audit events, newest first.
    async fn audit_events(&self, query: &AuditQuery) -> Result<Vec<AuditEvent>, StoreError>;
    /// Appends an audit event that goes with no change (a secret was revealed).
    async fn append_audit(&self, event: &NewAuditEvent) -> Result<(), StoreError>;

    /// The webhook secrets of `team`, or of every team when `None` (master-key rotation).
    async fn webhook_secrets(
        &self,
        team: Option<&TeamSlug>,
    ) -> Result<Vec<StoredWebhookSecrets>, StoreError>;
    /// Writes a team's webhook secrets and the audit event in one transaction: a first write
    /// when `expected_version` is `None`, else only if the stored version is still that one.
    /// The stored version becomes `secrets.version`. Returns false (and changes nothing) when
    /// another writer got there first; `NotFound` when the team does not exist.
    async fn write_webhook_secrets(
        &self,
        secrets: &StoredWebhookSecrets,
        expected_version: Option<i64>,
        audit: &NewAuditEvent,
    ) -> Result<bool, StoreError>;
}

/// Opens the store named by `database.url` and brings its schema up to date.
pub async fn open(config: &DatabaseConfig) -> Result<Arc<dyn Store>, StoreError> {
    if config.url.starts_with("sqlite:") {
        Ok(Arc::new(sqlite::SqliteStore::open(config).await?))
    } else {
        Ok(Arc::new(postgres::PgStore::open(config).await?))
    }
}

/// The current time at the precision both backends keep (PostgreSQL: microseconds), so a time
/// read back equals the time written.
pub fn now() -> DateTime<Utc> {
    use chrono::SubsecRound;
    Utc::now().trunc_subsecs(6)
}

/// The earliest time an input may name: 0001-01-01T00:00:00Z.
pub const EARLIEST_TIME: DateTime<Utc> = match DateTime::from_timestamp(-62_135_596_800, 0) {
    Some(t) => t,
    None => DateTime::<Utc>::MIN_UTC,
};
/// The latest time an input may name: 9999-12-31T23:59:59.999999Z.
pub const LATEST_TIME: DateTime<Utc> = match DateTime::from_timestamp(253_402_300_799, 999_999_000)
{
    Some(t) => t,
    None => DateTime::<Utc>::MAX_UTC,
};

/// Whether both backends store `time` and compare it correctly: RFC 3339's four-digit years.
/// chrono reaches year ±262143, PostgreSQL's `timestamptz` 4713 BC to 294276 AD, and SQLite
/// keeps RFC 3339 text compared as text, which orders only four-digit, non-negative years (and
/// the token path's reader parses only those): a time outside this range from input is refused.
pub fn is_storable(time: DateTime<Utc>) -> bool {
    (EARLIEST_TIME..=LATEST_TIME).contains(&time)
}

/// Scopes are stored space-separated, as in the `scope` claim.
fn join_scopes(scopes: &[String]) -> String {
    scopes.join(" ")
}

fn split_scopes(scopes: &str) -> Vec<String> {
    scopes.split_whitespace().map(String::from).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn storable_times_are_the_four_digit_years() {
        assert_eq!(EARLIEST_TIME.to_rfc3339(), "0001-01-01T00:00:00+00:00");
        assert_eq!(LATEST_TIME.to_rfc3339(), "9999-12-31T23:59:59.999999+00:00");
        assert!(is_storable(now()));
        assert!(!is_storable(DateTime::<Utc>::MAX_UTC));
        assert!(!is_storable(DateTime::<Utc>::MIN_UTC));
    }
}
