//! Writing the signing keys: one change set, compare-and-swapped on the epoch.

use chrono::{DateTime, Utc};
use sqlx::{Encode, Executor, IntoArguments, Pool, Type};

use super::Backend;
use super::queries::{begin_audited, record_audit, signing_key_change};
use crate::store::{NewAuditEvent, SigningKeyChange, StoreError};

/// Applies `changes` and records `audit` in one transaction if the epoch is still
/// `expected_epoch`, moving it on; false (nothing changed) when another writer got there first.
pub(super) async fn apply_changes<DB: Backend>(
    pool: &Pool<DB>,
    expected_epoch: i64,
    changes: &[SigningKeyChange],
    audit: Option<&NewAuditEvent>,
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
    let mut tx = begin_audited(pool, audit).await?;
    // Compare-and-swap on the epoch: the UPDATE takes the row's write lock, so of two
    // writers that read the same epoch exactly one matches and the other changes nothing.
    let moved =
        sqlx::query("UPDATE signing_epoch SET epoch = epoch + 1 WHERE id = 1 AND epoch = $1")
            .bind(expected_epoch)
            .execute(&mut *tx)
            .await?;
    if DB::rows_affected(&moved) != 1 {
        tx.rollback().await?;
        return Ok(false);
    }
    for change in changes {
        let done = signing_key_change::<DB>(change).execute(&mut *tx).await?;
        // A team's webhook secrets are re-sealed only at the version read: if they moved,
        // the whole change set is abandoned, as if the epoch had.
        let stale = matches!(change, SigningKeyChange::ResealWebhookSecrets { .. })
            && DB::rows_affected(&done) != 1;
        if stale {
            tx.rollback().await?;
            return Ok(false);
        }
    }
    if let Some(event) = audit {
        record_audit(&mut tx, event).await?;
    }
    tx.commit().await?;
    Ok(true)
}
