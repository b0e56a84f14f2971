//! The multi-node backend: many stateless tokenmint servers on one PostgreSQL database.

use std::str::FromStr;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

use sqlx::Postgres;

use super::sql::{Backend, SqlStore};
use super::{StoreError, StoredCredential};
use crate::config::DatabaseConfig;
use crate::domain::ClientId;

/// A PostgreSQL database reached through a connection pool.
pub type PgStore = SqlStore<Postgres>;

impl Backend for Postgres {
    /// Nothing: every read goes through the pool.
    type Extra = ();

    fn rows_affected(result: &sqlx::postgres::PgQueryResult) -> u64 {
        result.rows_affected()
    }

    const BEGIN_WRITE: &'static str = "BEGIN";
    const ACTING_KEY_SQL: &'static str =
        "SELECT 1 FROM api_keys WHERE client_id = $1 AND (expires_at IS NULL OR expires_at > $2)";
    /// Advisory locks, keyed by the Client ID, held until the transaction ends: a key's writes
    /// share it, its deletion takes it alone.
    const ACTING_KEY_LOCK_SQL: Option<&'static str> = Some(
        "SELECT pg_advisory_xact_lock_shared(hashtextextended('tokenmint api key ' || $1, 0))",
    );
    const DELETION_LOCK_SQL: Option<&'static str> =
        Some("SELECT pg_advisory_xact_lock(hashtextextended('tokenmint api key ' || $1, 0))");

    /// One indexed read through the pool, on every request, so a key deleted on any node is
    /// refused by every node at once.
    async fn credential(
        store: &PgStore,
        client_id: &ClientId,
    ) -> Result<Option<StoredCredential>, StoreError> {
        let row: Option<super::sql::CredentialRow> = sqlx::query_as(super::sql::CREDENTIAL_SQL)
            .bind(client_id.as_str())
            .fetch_optional(&store.pool)
            .await?;
        Ok(row.map(Into::into))
    }
}

impl PgStore {
    pub async fn open(config: &DatabaseConfig) -> Result<Self, StoreError> {
        let options = PgConnectOptions::from_str(&config.url)
            .map_err(|e| StoreError::Open(format!("database.url: {e}")))?
            .application_name("tokenmint");
        let pool = PgPoolOptions::new()
            .max_connections(config.max_connections)
            .acquire_timeout(config.acquire_timeout)
            .connect_with(options)
            .await
            .map_err(|e| StoreError::Open(format!("cannot connect to PostgreSQL: {e}")))?;
        // Several nodes may start at once: sqlx takes an advisory lock around migrations.
        sqlx::migrate!("migrations/postgres").run(&pool).await?;
        Ok(Self::new(pool, ()))
    }
}
