//! Storage: one interface, [`Store`], with a SQLite and a PostgreSQL backend chosen by the
//! scheme of `database.url`.
//!
//! Both backends run the same SQL (written once in [`sql`]); each module owns only what differs:
//! connecting, pragmas and pool settings, and its migrations (`migrations/sqlite`,
//! `migrations/postgres`). Every state change is one transaction.

mod model;
mod postgres;
mod sql;
mod sqlite;

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

pub use model::*;

use crate::config::DatabaseConfig;

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
    async fn teams(&self, after: Option<&str>, limit: Option<u32>)
    -> Result<Vec<Team>, StoreError>;
    async fn team(&self, slug: &str) -> Result<Option<Team>, StoreError>;

    /// Stores a key and its audit event; `NotFound` when its team does not exist.
    async fn insert_api_key(
        &self,
        key: &NewApiKey,
        audit: &NewAuditEvent,
    ) -> Result<(), StoreError>;
    /// A page of a team's keys.
    async fn api_keys(&self, team: &str, query: &ApiKeyQuery) -> Result<Vec<ApiKey>, StoreError>;
    /// One key, as listed.
    async fn api_key(&self, client_id: &str) -> Result<Option<ApiKey>, StoreError>;
    /// The hot-path lookup: one indexed read, made on every token request.
    async fn credential(&self, client_id: &str) -> Result<Option<StoredCredential>, StoreError>;
    /// Deletes team `team`'s key and records the audit event; false when there was none.
    async fn delete_api_key(
        &self,
        client_id: &str,
        team: &str,
        audit: &NewAuditEvent,
    ) -> Result<bool, StoreError>;
    /// Writes a batch of `last_used_at` times in one transaction; deleted keys are skipped.
    async fn record_last_used(&self, uses: &[(String, DateTime<Utc>)]) -> Result<(), StoreError>;

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

/// Scopes are stored space-separated, as in the `scope` claim.
fn join_scopes(scopes: &[String]) -> String {
    scopes.join(" ")
}

fn split_scopes(scopes: &str) -> Vec<String> {
    scopes.split_whitespace().map(String::from).collect()
}
