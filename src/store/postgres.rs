//! The multi-node backend: many stateless tokenmint servers on one PostgreSQL database.

use std::str::FromStr;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};

use super::StoreError;
use super::sql::impl_store;
use crate::config::DatabaseConfig;

/// A PostgreSQL database reached through a connection pool.
pub struct PgStore {
    pool: PgPool,
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
        Ok(Self { pool })
    }
}

impl PgStore {
    /// The token path's lookup: one indexed read through the pool, on every request, so a key
    /// deleted on any node is refused by every node at once.
    async fn find_credential(
        &self,
        client_id: &str,
    ) -> Result<Option<super::StoredCredential>, StoreError> {
        let row: Option<super::sql::CredentialRow> = sqlx::query_as(super::sql::CREDENTIAL_SQL)
            .bind(client_id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(Into::into))
    }
}

impl_store!(PgStore, sqlx::Postgres);
