//! Writing a team's webhook secrets: a first write, or a compare-and-swap on their version.

use chrono::{DateTime, Utc};
use sqlx::{Encode, Executor, IntoArguments, Pool, Type};

use super::Backend;
use super::queries::{
    INSERT_WEBHOOK_SECRETS, UPDATE_WEBHOOK_SECRETS, begin_audited, commit_if, constraint_error,
};
use crate::store::{NewAuditEvent, StoreError, StoredWebhookSecrets};

/// Writes `secrets` and `audit` in one transaction: a first write when `expected_version` is
/// `None`, else only if the stored version is still that one; false when another writer won.
pub(super) async fn write_secrets<DB: Backend>(
    pool: &Pool<DB>,
    secrets: &StoredWebhookSecrets,
    expected_version: Option<i64>,
    audit: &NewAuditEvent,
) -> Result<bool, StoreError>
where
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'q> String: Encode<'q, DB> + Type<DB>,
    for<'q> Option<String>: Encode<'q, DB>,
    for<'q> i64: Encode<'q, DB> + Type<DB>,
    for<'q> DateTime<Utc>: Encode<'q, DB> + Type<DB>,
    for<'q> Option<DateTime<Utc>>: Encode<'q, DB>,
    for<'q> Vec<u8>: Encode<'q, DB> + Type<DB>,
    for<'q> Option<Vec<u8>>: Encode<'q, DB>,
{
    let previous = secrets.previous.as_ref();
    let mut tx = begin_audited(pool, Some(audit)).await?;
    let sql = match expected_version {
        None => INSERT_WEBHOOK_SECRETS,
        Some(_) => UPDATE_WEBHOOK_SECRETS,
    };
    let mut query = sqlx::query(sql)
        .bind(secrets.current.id.clone())
        .bind(secrets.current.sealed.clone())
        .bind(secrets.current.created_at)
        .bind(previous.map(|p| p.secret.id.clone()))
        .bind(previous.map(|p| p.secret.sealed.clone()))
        .bind(previous.map(|p| p.secret.created_at))
        .bind(previous.map(|p| p.until))
        .bind(secrets.team.to_string())
        .bind(secrets.version);
    if let Some(expected) = expected_version {
        query = query.bind(expected);
    }
    let written = query
        .execute(&mut *tx)
        .await
        .map_err(|e| constraint_error(e, "webhook secrets", "team"))?;
    commit_if(tx, DB::rows_affected(&written) == 1, audit).await
}
