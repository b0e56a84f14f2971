//! The SQL both backends run, written once: [`SqlStore`] implements [`Store`] for any sqlx
//! database that is a [`Backend`]; `queries` holds the SQL text and the pieces several methods
//! share.
//!
//! A generic implementation rather than a macro, so rustfmt formats it and the compiler checks
//! it once. The sqlx bounds a generic query needs (an executor for a connection, arguments that
//! bind, and each Rust type that is bound or read) are listed once, on the `impl` of [`Store`]
//! (a helper in `queries` repeats the few it uses): Rust does not carry bounds about other
//! types from a trait to its users, so [`Backend`] cannot gather them, and a per-backend macro
//! or a delegation per method would repeat far more. Listings whose text grows with their
//! filters use `Statement` (it says why not sqlx's `QueryBuilder`). The SQL uses `$N`
//! placeholders, which both SQLite and PostgreSQL accept.
//!
//! A new table: its SQL in `queries`, its methods on [`Store`] and here; a new bound or read
//! Rust type adds one line to the list. What differs between the backends stays in their
//! modules: connecting, pragmas, pool settings, migrations, and the token path's credential
//! read ([`Backend::credential`]).

use std::future::Future;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::{Database, Encode, Executor, FromRow, IntoArguments, Pool, Type};

use super::rows::{ApiKeyRow, AuditRow, FingerprintRow, WebhookSecretsRow};
use super::statement::Statement;
use super::{
    ApiKey, ApiKeyOrder, ApiKeyQuery, AuditEvent, AuditQuery, FingerprintMatch, KeyHygiene,
    KeyLimits, NewApiKey, NewAuditEvent, NewSecret, SigningKeyChange, SigningKeySet, Store,
    StoreError, StoredCredential, StoredSigningKey, StoredWebhookSecrets, Team,
};
use crate::domain::{ClientId, TeamSlug};

mod queries;
mod signing;
mod webhooks;

pub(super) use super::rows::CredentialRow;
pub(super) use queries::CREDENTIAL_SQL;
use queries::{
    API_KEY_COLUMNS, BY_FINGERPRINT, FINISH_ROLL, INSERT_API_KEY, KEY_HYGIENE, ROLL_SECRET,
    SIGNING_KEY_COLUMNS, TEAM_COLUMNS, UPDATE_API_KEY, WEBHOOK_SECRET_COLUMNS, begin_audited,
    commit_if, constraint_error, push_api_key_cursor, record_audit, write_audited,
};

/// What a database adds to the shared SQL: the little sqlx does not offer generically.
pub(super) trait Backend: Database {
    /// What the store keeps beside its pool for this backend (SQLite: the token path's reader).
    type Extra: Send + Sync + 'static;

    /// How many rows a statement changed.
    fn rows_affected(result: &Self::QueryResult) -> u64;

    /// Starts a transaction that will write. SQLite: `BEGIN IMMEDIATE`, the write lock at once,
    /// so that what the transaction reads first is still so when it writes.
    const BEGIN_WRITE: &'static str;

    /// Whether the acting key (`$1`, a Client ID) still exists and has not expired at the
    /// write's time (`$2`), read inside a write's transaction once
    /// [`Backend::ACTING_KEY_LOCK_SQL`] is held.
    const ACTING_KEY_SQL: &'static str;

    /// Taken, with the Client ID as `$1`, by a write a key's request makes, before it reads
    /// the key: shared among the key's writes, until their commit. `None` where the write lock
    /// of [`Backend::BEGIN_WRITE`] already keeps every other writer out.
    const ACTING_KEY_LOCK_SQL: Option<&'static str>;

    /// Taken, with the Client ID as `$1`, by the deletion of a key before its `DELETE`: the
    /// exclusive side of [`Backend::ACTING_KEY_LOCK_SQL`], so that a deletion waits for the
    /// key's writes in progress and the writes that come after it wait for it (and then find
    /// the key gone). PostgreSQL's lock queue is fair: writes arriving while a deletion waits
    /// queue behind it, which a row lock (`FOR SHARE`) would not do.
    const DELETION_LOCK_SQL: Option<&'static str>;

    /// The token path's lookup of `client_id`, each backend its own fastest way.
    fn credential(
        store: &SqlStore<Self>,
        client_id: &ClientId,
    ) -> impl Future<Output = Result<Option<StoredCredential>, StoreError>> + Send;
}

/// A store on a sqlx pool of database `DB`.
pub struct SqlStore<DB: Backend> {
    pub(super) pool: Pool<DB>,
    pub(super) extra: DB::Extra,
}

impl<DB: Backend> SqlStore<DB> {
    pub(super) fn new(pool: Pool<DB>, extra: DB::Extra) -> Self {
        Self { pool, extra }
    }
}

#[async_trait]
impl<DB: Backend> Store for SqlStore<DB>
where
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'q> String: Encode<'q, DB> + Type<DB>,
    for<'q> Option<String>: Encode<'q, DB>,
    for<'q> i64: Encode<'q, DB> + Type<DB>,
    for<'q> DateTime<Utc>: Encode<'q, DB> + Type<DB>,
    for<'q> Option<DateTime<Utc>>: Encode<'q, DB>,
    for<'q> Option<i64>: Encode<'q, DB>,
    for<'q> Vec<u8>: Encode<'q, DB> + Type<DB>,
    for<'q> Option<Vec<u8>>: Encode<'q, DB>,
    for<'r> (i64,): FromRow<'r, DB::Row>,
    for<'r> (i64, i64, i64, i64): FromRow<'r, DB::Row>,
    for<'r> (i64, Option<String>): FromRow<'r, DB::Row>,
    for<'r> Team: FromRow<'r, DB::Row>,
    for<'r> ApiKeyRow: FromRow<'r, DB::Row>,
    for<'r> FingerprintRow: FromRow<'r, DB::Row>,
    for<'r> AuditRow: FromRow<'r, DB::Row>,
    for<'r> StoredSigningKey: FromRow<'r, DB::Row>,
    for<'r> WebhookSecretsRow: FromRow<'r, DB::Row>,
{
    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn insert_team(&self, team: &Team, audit: &NewAuditEvent) -> Result<(), StoreError> {
        let mut tx = begin_audited(&self.pool, Some(audit)).await?;
        sqlx::query("INSERT INTO teams (slug, name, created_at) VALUES ($1, $2, $3)")
            .bind(team.slug.clone())
            .bind(team.name.clone())
            .bind(team.created_at)
            .execute(&mut *tx)
            .await
            .map_err(|e| constraint_error(e, &format!("team {}", team.slug), "team"))?;
        commit_if(tx, true, audit).await.map(drop)
    }

    async fn teams(
        &self,
        after: Option<&TeamSlug>,
        limit: Option<u32>,
    ) -> Result<Vec<Team>, StoreError> {
        let mut sql = Statement::new(TEAM_COLUMNS);
        if let Some(after) = after {
            sql.push(" WHERE slug > ").push_bind(after.to_string());
        }
        sql.push(" ORDER BY slug");
        if let Some(limit) = limit {
            sql.push(" LIMIT ").push_bind(i64::from(limit));
        }
        Ok(sql.fetch_all(&self.pool).await?)
    }

    async fn team(&self, slug: &TeamSlug) -> Result<Option<Team>, StoreError> {
        let sql = format!("{TEAM_COLUMNS} WHERE slug = $1");
        Ok(sqlx::query_as(&sql)
            .bind(slug.to_string())
            .fetch_optional(&self.pool)
            .await?)
    }

    async fn insert_api_key(
        &self,
        key: &NewApiKey,
        audit: &NewAuditEvent,
    ) -> Result<(), StoreError> {
        let mut tx = begin_audited(&self.pool, Some(audit)).await?;
        sqlx::query(INSERT_API_KEY)
            .bind(key.client_id.to_string())
            .bind(key.team.to_string())
            .bind(key.label.clone())
            .bind(key.env.as_str().to_string())
            .bind(super::join_scopes(&key.scopes))
            .bind(key.secret_hash.clone())
            .bind(key.created_at)
            .bind(key.expires_at)
            .bind(key.limits.token_ttl_secs.map(i64::from))
            .bind(key.limits.token_requests_per_second.map(i64::from))
            .bind(key.secret_fingerprint.clone())
            .execute(&mut *tx)
            .await
            .map_err(|e| constraint_error(e, "client id", &format!("team {}", key.team)))?;
        commit_if(tx, true, audit).await.map(drop)
    }

    async fn api_keys(
        &self,
        team: &TeamSlug,
        query: &ApiKeyQuery,
    ) -> Result<Vec<ApiKey>, StoreError> {
        let mut sql = Statement::new(API_KEY_COLUMNS);
        sql.push(" WHERE team_slug = ").push_bind(team.to_string());
        if let Some(since) = query.unused_since {
            sql.push(" AND (last_used_at IS NULL OR last_used_at < ");
            sql.push_bind(since).push(")");
        }
        if let Some(before) = query.created_before {
            sql.push(" AND created_at <= ").push_bind(before);
        }
        if let Some(before) = query.expiring_before {
            sql.push(" AND expires_at IS NOT NULL AND expires_at <= ");
            sql.push_bind(before);
        }
        push_api_key_cursor(&mut sql, query);
        sql.push(match query.order {
            ApiKeyOrder::CreatedAt => " ORDER BY created_at, client_id",
            // false sorts before true on both backends: never-used keys first.
            ApiKeyOrder::LastUsedAt => {
                " ORDER BY last_used_at IS NOT NULL, last_used_at, client_id"
            }
        });
        if let Some(limit) = query.limit {
            sql.push(" LIMIT ").push_bind(i64::from(limit));
        }
        let rows: Vec<ApiKeyRow> = sql.fetch_all(&self.pool).await?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    async fn api_key(&self, client_id: &ClientId) -> Result<Option<ApiKey>, StoreError> {
        let sql = format!("{API_KEY_COLUMNS} WHERE client_id = $1");
        let row: Option<ApiKeyRow> = sqlx::query_as(&sql)
            .bind(client_id.to_string())
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(Into::into))
    }

    async fn credential(
        &self,
        client_id: &ClientId,
    ) -> Result<Option<StoredCredential>, StoreError> {
        DB::credential(self, client_id).await
    }

    async fn delete_api_key(
        &self,
        client_id: &ClientId,
        team: &TeamSlug,
        audit: &NewAuditEvent,
    ) -> Result<bool, StoreError> {
        let mut tx = begin_audited(&self.pool, Some(audit)).await?;
        if let Some(lock) = DB::DELETION_LOCK_SQL {
            sqlx::query(lock)
                .bind(client_id.to_string())
                .execute(&mut *tx)
                .await?;
        }
        let done = sqlx::query("DELETE FROM api_keys WHERE client_id = $1 AND team_slug = $2")
            .bind(client_id.to_string())
            .bind(team.to_string())
            .execute(&mut *tx)
            .await?;
        commit_if(tx, DB::rows_affected(&done) == 1, audit).await
    }

    async fn update_api_key(
        &self,
        client_id: &ClientId,
        team: &TeamSlug,
        label: &str,
        limits: KeyLimits,
        audit: &NewAuditEvent,
    ) -> Result<bool, StoreError> {
        let write = sqlx::query(UPDATE_API_KEY)
            .bind(label.to_string())
            .bind(limits.token_ttl_secs.map(i64::from))
            .bind(limits.token_requests_per_second.map(i64::from))
            .bind(client_id.to_string())
            .bind(team.to_string());
        write_audited(&self.pool, write, audit).await
    }

    async fn roll_secret(
        &self,
        client_id: &ClientId,
        team: &TeamSlug,
        expected_hash: &str,
        new: &NewSecret,
        previous_until: DateTime<Utc>,
        audit: &NewAuditEvent,
    ) -> Result<bool, StoreError> {
        let write = sqlx::query(ROLL_SECRET)
            .bind(new.hash.clone())
            .bind(previous_until)
            .bind(client_id.to_string())
            .bind(expected_hash.to_string())
            .bind(team.to_string())
            .bind(new.fingerprint.clone());
        write_audited(&self.pool, write, audit).await
    }

    async fn finish_roll(
        &self,
        client_id: &ClientId,
        team: &TeamSlug,
        audit: &NewAuditEvent,
    ) -> Result<bool, StoreError> {
        let write = sqlx::query(FINISH_ROLL)
            .bind(client_id.to_string())
            .bind(team.to_string());
        write_audited(&self.pool, write, audit).await
    }

    async fn keys_by_fingerprint(
        &self,
        fingerprint: &str,
    ) -> Result<Vec<FingerprintMatch>, StoreError> {
        let rows: Vec<FingerprintRow> = sqlx::query_as(BY_FINGERPRINT)
            .bind(fingerprint.to_string())
            .fetch_all(&self.pool)
            .await?;
        Ok(rows
            .into_iter()
            .filter_map(|r| r.matching(fingerprint))
            .collect())
    }

    async fn key_hygiene(
        &self,
        created_before: DateTime<Utc>,
        now: DateTime<Utc>,
        expiring_before: DateTime<Utc>,
    ) -> Result<KeyHygiene, StoreError> {
        let counts: (i64, i64, i64, i64) = sqlx::query_as(KEY_HYGIENE)
            .bind(created_before)
            .bind(now)
            .bind(expiring_before)
            .fetch_one(&self.pool)
            .await?;
        Ok(KeyHygiene::from(counts))
    }

    async fn record_last_used(&self, uses: &[(ClientId, DateTime<Utc>)]) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        for (client_id, at) in uses {
            sqlx::query("UPDATE api_keys SET last_used_at = $1 WHERE client_id = $2")
                .bind(*at)
                .bind(client_id.to_string())
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn signing_epoch(&self) -> Result<i64, StoreError> {
        let (epoch,): (i64,) = sqlx::query_as("SELECT epoch FROM signing_epoch WHERE id = 1")
            .fetch_one(&self.pool)
            .await?;
        Ok(epoch)
    }

    async fn signing_keys(&self) -> Result<SigningKeySet, StoreError> {
        let mut tx = self.pool.begin().await?;
        let (epoch, master_key_check): (i64, Option<String>) =
            sqlx::query_as("SELECT epoch, master_key_check FROM signing_epoch WHERE id = 1")
                .fetch_one(&mut *tx)
                .await?;
        let keys = sqlx::query_as(SIGNING_KEY_COLUMNS)
            .fetch_all(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(SigningKeySet {
            epoch,
            keys,
            master_key_check,
        })
    }

    async fn apply_signing_changes(
        &self,
        expected_epoch: i64,
        changes: &[SigningKeyChange],
        audit: Option<&NewAuditEvent>,
    ) -> Result<bool, StoreError> {
        signing::apply_changes(&self.pool, expected_epoch, changes, audit).await
    }

    async fn audit_events(&self, query: &AuditQuery) -> Result<Vec<AuditEvent>, StoreError> {
        let mut sql = Statement::new(
            "SELECT id, at, actor, action, team_slug, target, source_ip, detail \
             FROM audit_events WHERE 1 = 1",
        );
        if let Some(team) = &query.team {
            sql.push(" AND team_slug = ").push_bind(team.clone());
        }
        if let Some(before) = query.before_id {
            sql.push(" AND id < ").push_bind(before);
        }
        sql.push(" ORDER BY id DESC");
        if let Some(limit) = query.limit {
            sql.push(" LIMIT ").push_bind(i64::from(limit));
        }
        let rows: Vec<AuditRow> = sql.fetch_all(&self.pool).await?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    async fn append_audit(&self, event: &NewAuditEvent) -> Result<(), StoreError> {
        let mut tx = begin_audited(&self.pool, Some(event)).await?;
        record_audit(&mut tx, event).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn webhook_secrets(
        &self,
        team: Option<&TeamSlug>,
    ) -> Result<Vec<StoredWebhookSecrets>, StoreError> {
        let mut sql = Statement::new(WEBHOOK_SECRET_COLUMNS);
        if let Some(team) = team {
            sql.push(" WHERE team_slug = ").push_bind(team.to_string());
        }
        sql.push(" ORDER BY team_slug");
        let rows: Vec<WebhookSecretsRow> = sql.fetch_all(&self.pool).await?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    async fn write_webhook_secrets(
        &self,
        secrets: &StoredWebhookSecrets,
        expected_version: Option<i64>,
        audit: &NewAuditEvent,
    ) -> Result<bool, StoreError> {
        webhooks::write_secrets(&self.pool, secrets, expected_version, audit).await
    }
}
