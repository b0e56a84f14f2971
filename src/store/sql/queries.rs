//! The statements [`SqlStore`](super::SqlStore) is made of: the SQL text, and the pieces more
//! than one method shares (the audit insert, the listing cursor, one signing-key change).

use chrono::{DateTime, Utc};
use sqlx::{Encode, Executor, IntoArguments, Type};

use super::Backend;
use crate::store::statement::Statement;
use crate::store::{ApiKeyOrder, ApiKeyQuery, NewAuditEvent, SigningKeyChange, StoreError};
/// The token path's one read: everything needed to authenticate a client and shape its token.
pub(in crate::store) const CREDENTIAL_SQL: &str = "SELECT client_id, team_slug, env, scopes, secret_hash, \
     expires_at, token_ttl_seconds, token_requests_per_second, previous_secret_hash, \
     previous_secret_expires_at FROM api_keys WHERE client_id = $1";

/// The columns of an API-key listing.
pub(super) const API_KEY_COLUMNS: &str = "SELECT client_id, team_slug, label, env, scopes, created_at, \
     expires_at, last_used_at, token_ttl_seconds, token_requests_per_second, \
     previous_secret_expires_at FROM api_keys";

pub(super) const TEAM_COLUMNS: &str = "SELECT slug, name, created_at FROM teams";

pub(super) const INSERT_AUDIT: &str = "INSERT INTO audit_events (at, actor, action, team_slug, target, \
     source_ip, detail) VALUES ($1, $2, $3, $4, $5, $6, $7)";

pub(super) const INSERT_API_KEY: &str = "INSERT INTO api_keys (client_id, team_slug, label, env, scopes, \
     secret_hash, created_at, expires_at, token_ttl_seconds, token_requests_per_second, \
     secret_fingerprint) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)";

/// A key's label and limits replaced, if the key is still the team's.
pub(super) const UPDATE_API_KEY: &str = "UPDATE api_keys SET label = $1, token_ttl_seconds = $2, \
     token_requests_per_second = $3 WHERE client_id = $4 AND team_slug = $5";

/// A new secret for a key whose secret is still `$4`: the old one becomes the previous secret
/// until `$2` (replacing any previous one).
pub(super) const ROLL_SECRET: &str = "UPDATE api_keys SET previous_secret_hash = secret_hash, \
     previous_secret_fingerprint = secret_fingerprint, previous_secret_expires_at = $2, \
     secret_hash = $1, secret_fingerprint = $6 \
     WHERE client_id = $3 AND secret_hash = $4 AND team_slug = $5";

/// The keys whose current or previous secret has fingerprint `$1`.
pub(super) const BY_FINGERPRINT: &str = "SELECT client_id, team_slug, secret_hash, \
     secret_fingerprint, previous_secret_hash, previous_secret_expires_at FROM api_keys \
     WHERE secret_fingerprint = $1 OR previous_secret_fingerprint = $1";

/// Ends a roll's overlap: the previous secret stops working.
pub(super) const FINISH_ROLL: &str = "UPDATE api_keys SET previous_secret_hash = NULL, \
     previous_secret_fingerprint = NULL, previous_secret_expires_at = NULL WHERE client_id = $1 AND team_slug = $2 \
     AND previous_secret_hash IS NOT NULL";

/// Counts for the key-hygiene metrics: every key, those created at or before `$1` (due for
/// rotation), those expiring after `$2` (now) and at or before `$3`, and those expired at `$2`.
pub(super) const KEY_HYGIENE: &str = "SELECT COUNT(*), \
     COALESCE(SUM(CASE WHEN created_at <= $1 THEN 1 ELSE 0 END), 0), \
     COALESCE(SUM(CASE WHEN expires_at > $2 AND expires_at <= $3 THEN 1 ELSE 0 END), 0), \
     COALESCE(SUM(CASE WHEN expires_at <= $2 THEN 1 ELSE 0 END), 0) FROM api_keys";

pub(super) const SIGNING_KEY_COLUMNS: &str = "SELECT kid, alg, public_jwk, sealed_private, created_at, \
     activates_at, revoked_at FROM signing_keys ORDER BY activates_at, created_at, kid";

pub(super) const INSERT_SIGNING_KEY: &str = "INSERT INTO signing_keys (kid, alg, public_jwk, \
     sealed_private, created_at, activates_at, revoked_at) VALUES ($1, $2, $3, $4, $5, $6, $7)";

pub(super) const WEBHOOK_SECRET_COLUMNS: &str = "SELECT team_slug, version, current_id, \
     current_sealed, current_created_at, previous_id, previous_sealed, previous_created_at, \
     previous_until FROM webhook_secrets";

/// A team's first webhook secrets; nothing when the team already has some (another writer won).
pub(super) const INSERT_WEBHOOK_SECRETS: &str = "INSERT INTO webhook_secrets (current_id, \
     current_sealed, current_created_at, previous_id, previous_sealed, previous_created_at, \
     previous_until, team_slug, version) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
     ON CONFLICT (team_slug) DO NOTHING";

/// A team's webhook secrets replaced, if they are still at the version `$10` the writer read.
pub(super) const UPDATE_WEBHOOK_SECRETS: &str = "UPDATE webhook_secrets SET current_id = $1, \
     current_sealed = $2, current_created_at = $3, previous_id = $4, previous_sealed = $5, \
     previous_created_at = $6, previous_until = $7, version = $9 \
     WHERE team_slug = $8 AND version = $10";

/// Maps a unique or foreign-key violation to the store's own error; other errors pass through.
pub(super) fn constraint_error(error: sqlx::Error, what: &str, parent: &str) -> StoreError {
    if let sqlx::Error::Database(db) = &error {
        match db.kind() {
            sqlx::error::ErrorKind::UniqueViolation => {
                return StoreError::Conflict(what.to_string());
            }
            sqlx::error::ErrorKind::ForeignKeyViolation => {
                return StoreError::NotFound(parent.to_string());
            }
            _ => {}
        }
    }
    error.into()
}

/// Begins a write's transaction; when `audit` names an acting key, only if that key still
/// exists and has not expired at the event's time, holding the key's side of the deletion lock
/// until the commit (PostgreSQL: an
/// advisory lock, [`Backend::ACTING_KEY_LOCK_SQL`]; SQLite: the write lock), so that a
/// deletion of the key comes wholly before the write, which then finds the key gone, or wholly
/// after it.
pub(super) async fn begin_audited<'p, DB: Backend>(
    pool: &'p sqlx::Pool<DB>,
    audit: Option<&NewAuditEvent>,
) -> Result<sqlx::Transaction<'p, DB>, StoreError>
where
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'q> String: Encode<'q, DB> + Type<DB>,
    for<'q> DateTime<Utc>: Encode<'q, DB> + Type<DB>,
{
    let mut tx = pool.begin_with(DB::BEGIN_WRITE).await?;
    let acting = audit.and_then(|event| Some((event.acting_key.as_deref()?, event.at)));
    if let Some((key, at)) = acting {
        if let Some(lock) = DB::ACTING_KEY_LOCK_SQL {
            sqlx::query(lock)
                .bind(key.to_string())
                .execute(&mut *tx)
                .await?;
        }
        let found = sqlx::query(DB::ACTING_KEY_SQL)
            .bind(key.to_string())
            .bind(at)
            .fetch_optional(&mut *tx)
            .await?;
        if found.is_none() {
            tx.rollback().await?;
            return Err(StoreError::ActorGone(key.to_string()));
        }
    }
    Ok(tx)
}

/// Appends an audit event inside the caller's transaction.
pub(super) async fn record_audit<DB: Backend>(
    connection: &mut DB::Connection,
    event: &NewAuditEvent,
) -> Result<(), StoreError>
where
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'q> String: Encode<'q, DB> + Type<DB>,
    for<'q> Option<String>: Encode<'q, DB>,
    for<'q> DateTime<Utc>: Encode<'q, DB> + Type<DB>,
{
    sqlx::query(INSERT_AUDIT)
        .bind(event.at)
        .bind(event.actor.clone())
        .bind(event.action.clone())
        .bind(event.team.clone())
        .bind(event.target.clone())
        .bind(event.source_ip.clone())
        .bind(event.detail.to_string())
        .execute(connection)
        .await?;
    Ok(())
}

/// Ends a write's transaction: when `changed` (the write found its row), records the audit
/// event and commits, else rolls back; says which.
pub(super) async fn commit_if<DB: Backend>(
    mut tx: sqlx::Transaction<'_, DB>,
    changed: bool,
    audit: &NewAuditEvent,
) -> Result<bool, StoreError>
where
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'q> String: Encode<'q, DB> + Type<DB>,
    for<'q> Option<String>: Encode<'q, DB>,
    for<'q> DateTime<Utc>: Encode<'q, DB> + Type<DB>,
{
    if !changed {
        tx.rollback().await?;
        return Ok(false);
    }
    record_audit(&mut tx, audit).await?;
    tx.commit().await?;
    Ok(true)
}

/// Runs one write and its audit event in a transaction: committed when the write changed
/// exactly one row, else rolled back; says which.
pub(super) async fn write_audited<'q, DB: Backend>(
    pool: &sqlx::Pool<DB>,
    write: sqlx::query::Query<'q, DB, DB::Arguments<'q>>,
    audit: &NewAuditEvent,
) -> Result<bool, StoreError>
where
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'a> DB::Arguments<'a>: IntoArguments<'a, DB>,
    for<'a> String: Encode<'a, DB> + Type<DB>,
    for<'a> Option<String>: Encode<'a, DB>,
    for<'a> DateTime<Utc>: Encode<'a, DB> + Type<DB>,
{
    let mut tx = begin_audited(pool, Some(audit)).await?;
    let done = write.execute(&mut *tx).await?;
    commit_if(tx, DB::rows_affected(&done) == 1, audit).await
}

/// Adds keyset pagination to an API-key listing: rows strictly after the cursor in the
/// listing's order.
pub(super) fn push_api_key_cursor(sql: &mut Statement, query: &ApiKeyQuery) {
    let Some(after) = &query.after else {
        return;
    };
    let client_id = after.client_id.clone();
    match (query.order, after.at) {
        (ApiKeyOrder::CreatedAt, at) => {
            sql.push(" AND (created_at > ").push_bind(at);
            sql.push(" OR (created_at = ").push_bind(at);
            sql.push(" AND client_id > ")
                .push_bind(client_id)
                .push("))");
        }
        (ApiKeyOrder::LastUsedAt, None) => {
            sql.push(" AND (last_used_at IS NOT NULL OR client_id > ");
            sql.push_bind(client_id).push(")");
        }
        (ApiKeyOrder::LastUsedAt, Some(at)) => {
            sql.push(" AND last_used_at IS NOT NULL AND (last_used_at > ")
                .push_bind(at);
            sql.push(" OR (last_used_at = ").push_bind(at);
            sql.push(" AND client_id > ")
                .push_bind(client_id)
                .push("))");
        }
    }
}

/// The statement one signing-key change runs.
pub(super) fn signing_key_change<DB: Backend>(
    change: &SigningKeyChange,
) -> sqlx::query::Query<'_, DB, DB::Arguments<'_>>
where
    for<'q> String: Encode<'q, DB> + Type<DB>,
    for<'q> DateTime<Utc>: Encode<'q, DB> + Type<DB>,
    for<'q> Option<DateTime<Utc>>: Encode<'q, DB>,
    for<'q> Vec<u8>: Encode<'q, DB> + Type<DB>,
    for<'q> Option<Vec<u8>>: Encode<'q, DB>,
    for<'q> i64: Encode<'q, DB> + Type<DB>,
{
    use SigningKeyChange as Change;
    let set_sealed = "UPDATE signing_keys SET sealed_private = $1 WHERE kid = $2";
    match change {
        Change::Insert(key) => sqlx::query(INSERT_SIGNING_KEY)
            .bind(key.kid.clone())
            .bind(key.alg.clone())
            .bind(key.public_jwk.clone())
            .bind(key.sealed_private.clone())
            .bind(key.created_at)
            .bind(key.activates_at)
            .bind(key.revoked_at),
        Change::Activate { kid, at } => {
            sqlx::query("UPDATE signing_keys SET activates_at = $1 WHERE kid = $2")
                .bind(*at)
                .bind(kid.clone())
        }
        Change::Revoke { kid, at } => sqlx::query(
            "UPDATE signing_keys SET revoked_at = $1, sealed_private = NULL WHERE kid = $2",
        )
        .bind(*at)
        .bind(kid.clone()),
        Change::ForgetPrivate { kid } => {
            sqlx::query("UPDATE signing_keys SET sealed_private = NULL WHERE kid = $1")
                .bind(kid.clone())
        }
        Change::Delete { kid } => {
            sqlx::query("DELETE FROM signing_keys WHERE kid = $1").bind(kid.clone())
        }
        Change::Reseal { kid, sealed } => sqlx::query(set_sealed)
            .bind(sealed.clone())
            .bind(kid.clone()),
        Change::SetMasterKeyCheck(check) => {
            sqlx::query("UPDATE signing_epoch SET master_key_check = $1 WHERE id = 1")
                .bind(check.clone())
        }
        Change::ResealWebhookSecrets {
            team,
            version,
            current,
            previous,
        } => sqlx::query(
            "UPDATE webhook_secrets SET current_sealed = $1, previous_sealed = $2, \
             version = version + 1 WHERE team_slug = $3 AND version = $4",
        )
        .bind(current.clone())
        .bind(previous.clone())
        .bind(team.to_string())
        .bind(*version),
    }
}
