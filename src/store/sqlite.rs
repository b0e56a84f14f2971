//! The embedded default: one SQLite file in WAL mode, readable by tokenmint's user alone
//! ([`super::file_modes`]).
//!
//! Writes and listings go through sqlx's pool. The token path's one read does not: sqlx runs each
//! SQLite connection on a thread of its own, and the hop there and back costs about as much as
//! the rest of a token request (measured: 15k tokens/s with it, 29k without any read). Instead,
//! each runtime thread keeps a read-only rusqlite connection and reads the key's row in place,
//! with a cached statement: a few microseconds of CPU on a page-cached B-tree. It is a
//! synchronous call on the async runtime on purpose: in WAL mode a reader never waits for a
//! writer, so it cannot stall the thread beyond the read itself.

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use sqlx::Sqlite;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

use super::sql::{Backend, SqlStore};
use super::{StoreError, StoredCredential};
use crate::config::DatabaseConfig;
use crate::domain::ClientId;

/// How long the token path's read waits for a lock. The read runs on the async runtime's
/// thread with no await point, so no async timeout can cut it: this is its bound. In WAL mode a
/// reader waits only while a checkpoint or a migration holds the file, rarely and briefly; past
/// this, the request answers 503 and the thread moves on.
const READ_BUSY_TIMEOUT: Duration = Duration::from_millis(100);

/// A SQLite database file, created with its parent folder when missing.
pub type SqliteStore = SqlStore<Sqlite>;

impl Backend for Sqlite {
    /// The token path's reader (see the module doc).
    type Extra = CredentialReader;

    fn rows_affected(result: &sqlx::sqlite::SqliteQueryResult) -> u64 {
        result.rows_affected()
    }

    const BEGIN_WRITE: &'static str = "BEGIN IMMEDIATE";
    const ACTING_KEY_SQL: &'static str =
        "SELECT 1 FROM api_keys WHERE client_id = $1 AND (expires_at IS NULL OR expires_at > $2)";
    /// The write lock, taken at `BEGIN IMMEDIATE`, keeps every other writer out until commit.
    const ACTING_KEY_LOCK_SQL: Option<&'static str> = None;
    const DELETION_LOCK_SQL: Option<&'static str> = None;

    async fn credential(
        store: &SqliteStore,
        client_id: &ClientId,
    ) -> Result<Option<StoredCredential>, StoreError> {
        store.extra.read(client_id)
    }
}

impl SqliteStore {
    pub async fn open(config: &DatabaseConfig) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str(&config.url)
            .map_err(|e| StoreError::Open(format!("database.url {:?}: {e}", config.url)))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // FULL: an acknowledged write survives a power cut, not only a crash. Writes are
            // rare (admin changes, batched last-used times), so the fsync costs nothing that matters.
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(config.acquire_timeout);
        let path = options.get_filename().to_path_buf();
        if path.as_os_str() == ":memory:" {
            return Err(StoreError::Open(
                "database.url: an in-memory SQLite database cannot be shared; use a file".into(),
            ));
        }
        super::file_modes::prepare(&path)?;
        let pool = {
            // Held from the first connection, not only around the migrations: that connection
            // switches a new database into WAL mode, which takes an exclusive lock that SQLite's
            // busy timeout does not wait for, so two processes opening a new database at once
            // would fail one of them with "database is locked".
            let _lock = SetupLock::take(&path, config.acquire_timeout).await?;
            let pool = SqlitePoolOptions::new()
                .max_connections(config.max_connections)
                .acquire_timeout(config.acquire_timeout)
                .connect_with(options)
                .await
                .map_err(|e| StoreError::Open(format!("{}: {e}", config.url)))?;
            sqlx::migrate!("migrations/sqlite").run(&pool).await?;
            pool
        };
        super::file_modes::restrict(&path)?;
        Ok(Self::new(pool, CredentialReader { path }))
    }
}

/// Holds the database's `-lock` file locked (`flock`, exclusive) while this process sets the
/// database up: its first connection (which puts a new database in WAL mode) and migrations.
///
/// PostgreSQL migrations are serialized by an advisory lock; SQLite has none, so two processes
/// opening a new database at once (`serve` starting while `keys create` runs) would both apply
/// the same migration and one would fail ("duplicate column"), or both switch it to WAL and one
/// would fail ("database is locked", a lock the busy timeout does not wait for). The lock is a
/// file of its own, not the database: SQLite's POSIX locks on the database file would be
/// dropped when any other descriptor of that file closed. It is released when dropped (the
/// descriptor closes).
struct SetupLock(#[allow(dead_code, reason = "held for its lock")] std::fs::File);

impl SetupLock {
    /// Waits at most `patience` for another process's setup to finish. The lock file sits
    /// beside the database's real file (symbolic links followed), so every path to one database
    /// takes the same lock. Where no lock can be had at all (a read-only folder with no lock
    /// file yet, a file system without `flock`), the setup goes ahead without one, as it did
    /// before the lock existed, with a warning.
    async fn take(db: &Path, patience: Duration) -> Result<Option<Self>, StoreError> {
        let real = std::fs::canonicalize(db).unwrap_or_else(|_| db.to_path_buf());
        let path = super::file_modes::lock_file(&real);
        let without_lock = |why: &dyn std::fmt::Display| {
            tracing::warn!(lock = %path.display(), "setting up without the lock: {why}");
            Ok(None)
        };
        // A lock file made by another user (root) can still be locked through a read-only
        // descriptor: flock needs no write access.
        let file = match super::file_modes::open_private(&path) {
            Ok(file) => file,
            Err(create) => match std::fs::File::open(&path) {
                Ok(file) => file,
                Err(_) => return without_lock(&create),
            },
        };
        let deadline = tokio::time::Instant::now() + patience;
        loop {
            match file.try_lock() {
                Ok(()) => return Ok(Some(Self(file))),
                Err(std::fs::TryLockError::WouldBlock)
                    if tokio::time::Instant::now() < deadline =>
                {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                Err(std::fs::TryLockError::WouldBlock) => {
                    return Err(StoreError::Open(format!(
                        "another tokenmint process has held the setup lock of {} for longer than \
                         {} ms (database.acquire_timeout): it is still setting the database up, \
                         or waiting for it; try again when it is done",
                        db.display(),
                        patience.as_millis()
                    )));
                }
                Err(std::fs::TryLockError::Error(e)) => return without_lock(&e),
            }
        }
    }
}

thread_local! {
    /// Read-only connections of this thread, by database file.
    static READERS: RefCell<HashMap<PathBuf, rusqlite::Connection>> = RefCell::new(HashMap::new());
}

/// The token path's one read, on a read-only rusqlite connection of the calling thread (opened
/// on first use, kept for the thread's life) with a cached statement (see the module doc).
pub struct CredentialReader {
    path: PathBuf,
}

impl CredentialReader {
    /// The credential of `client_id`, as the pool would read it.
    fn read(&self, client_id: &ClientId) -> Result<Option<super::StoredCredential>, StoreError> {
        READERS.with(|readers| {
            let mut readers = readers.borrow_mut();
            let connection = match readers.get(&self.path) {
                Some(connection) => connection,
                None => {
                    let opened = open_reader(&self.path).map_err(reader_error)?;
                    readers.entry(self.path.clone()).or_insert(opened)
                }
            };
            read_credential(connection, client_id.as_str()).map_err(reader_error)
        })
    }
}

fn open_reader(path: &Path) -> rusqlite::Result<rusqlite::Connection> {
    use rusqlite::OpenFlags;
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let connection = rusqlite::Connection::open_with_flags(path, flags)?;
    connection.busy_timeout(READ_BUSY_TIMEOUT)?;
    Ok(connection)
}

/// Reads the row as sqlx would: `expires_at` is RFC 3339 text, as sqlx writes it.
fn read_credential(
    connection: &rusqlite::Connection,
    client_id: &str,
) -> rusqlite::Result<Option<super::StoredCredential>> {
    use rusqlite::OptionalExtension;
    let mut statement = connection.prepare_cached(super::sql::CREDENTIAL_SQL)?;
    statement
        .query_row([client_id], |row| {
            let expires_at = time_at(row, 5)?;
            Ok(super::sql::CredentialRow {
                client_id: row.get(0)?,
                team_slug: row.get(1)?,
                env: row.get(2)?,
                scopes: row.get(3)?,
                secret_hash: row.get(4)?,
                expires_at,
                token_ttl_seconds: row.get(6)?,
                token_requests_per_second: row.get(7)?,
                previous_secret_hash: row.get(8)?,
                previous_secret_expires_at: time_at(row, 9)?,
            })
        })
        .optional()
        .map(|row| row.map(Into::into))
}

/// BUSY and LOCKED mean "try again shortly"; anything else is a real failure.
fn reader_error(error: rusqlite::Error) -> StoreError {
    use rusqlite::ErrorCode;
    let busy = matches!(
        error.sqlite_error_code(),
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked | ErrorCode::CannotOpen)
    );
    if busy {
        StoreError::Unavailable(Box::new(error))
    } else {
        StoreError::Database(Box::new(error))
    }
}

/// Column `index` of `row`: an RFC 3339 time as SQLite keeps it (sqlx's chrono text), or NULL.
fn time_at(
    row: &rusqlite::Row<'_>,
    index: usize,
) -> rusqlite::Result<Option<chrono::DateTime<chrono::Utc>>> {
    let text: Option<String> = row.get(index)?;
    text.map(|text| chrono::DateTime::parse_from_rfc3339(&text).map(|t| t.to_utc()))
        .transpose()
        .map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(
                index,
                rusqlite::types::Type::Text,
                Box::new(e),
            )
        })
}

#[cfg(test)]
mod tests {
    use chrono::{Duration as Span, TimeZone, Utc};

    use super::*;
    use crate::domain::TeamSlug;
    use crate::store::{NewApiKey, NewAuditEvent, Store, Team};

    /// A store in a fresh folder with team `acme` and one key expiring at `expires_at`.
    async fn store_with_key(dir: &Path, expires_at: Option<chrono::DateTime<Utc>>) -> SqliteStore {
        let config = DatabaseConfig {
            url: format!("sqlite://{}/t.db", dir.display()),
            ..DatabaseConfig::default()
        };
        let store = SqliteStore::open(&config).await.unwrap();
        let now = crate::store::now();
        let audit = |action: &str| NewAuditEvent {
            at: now,
            actor: "cli".into(),
            action: action.into(),
            team: Some("acme".into()),
            target: "acme".into(),
            source_ip: None,
            detail: serde_json::json!({}),
            acting_key: None,
        };
        let team = Team {
            slug: "acme".into(),
            name: "Acme".into(),
            created_at: now,
        };
        store
            .insert_team(&team, &audit("team.create"))
            .await
            .unwrap();
        let key = NewApiKey {
            client_id: client_id(),
            team: TeamSlug::parse("acme").unwrap(),
            label: "l".into(),
            env: crate::domain::KeyEnv::Test,
            scopes: vec!["logs:read".into(), "admin".into()],
            secret_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
            secret_fingerprint: "f".repeat(64),
            created_at: now,
            expires_at,
            limits: crate::store::KeyLimits {
                token_ttl_secs: Some(3600),
                token_requests_per_second: Some(u32::MAX),
            },
        };
        store
            .insert_api_key(&key, &audit("api_key.create"))
            .await
            .unwrap();
        store
    }

    fn client_id() -> ClientId {
        ClientId::parse("dh_live_0123456789abcdefghijkl").unwrap()
    }

    /// The same row through the pool (sqlx) and through the token path's reader (rusqlite).
    async fn both_reads(store: &SqliteStore) -> [Option<crate::store::StoredCredential>; 2] {
        let id = client_id();
        let pooled: Option<crate::store::sql::CredentialRow> =
            sqlx::query_as(crate::store::sql::CREDENTIAL_SQL)
                .bind(id.as_str())
                .fetch_optional(&store.pool)
                .await
                .unwrap();
        [pooled.map(Into::into), store.extra.read(&id).unwrap()]
    }

    #[tokio::test]
    async fn both_drivers_read_a_credential_identically() {
        let expiries = [
            None,
            Some(Utc.with_ymd_and_hms(2031, 2, 3, 4, 5, 6).unwrap() + Span::microseconds(789_012)),
            Some(Utc.with_ymd_and_hms(9999, 12, 31, 23, 59, 59).unwrap()),
        ];
        for expires_at in expiries {
            let dir = tempfile::tempdir().unwrap();
            let store = store_with_key(dir.path(), expires_at).await;
            let [pooled, direct] = both_reads(&store).await;
            let pooled = pooled.expect("the pool finds the row");
            assert_eq!(Some(&pooled), direct.as_ref(), "{expires_at:?}");
            assert_eq!(pooled.expires_at, expires_at);
            assert_eq!(pooled.limits.token_ttl_secs, Some(3600));
            assert_eq!(pooled.limits.token_requests_per_second, Some(u32::MAX));
        }
    }

    #[tokio::test]
    async fn a_missing_row_is_none_for_both() {
        let dir = tempfile::tempdir().unwrap();
        let store = store_with_key(dir.path(), None).await;
        assert!(
            store
                .extra
                .read(&ClientId::parse("dh_live_nobodynobodynobodynobo").unwrap())
                .unwrap()
                .is_none()
        );
    }

    /// A migration another process holds makes this one wait, then give up with a message
    /// that says why; every path to the database (a symbolic link here) meets the same lock.
    #[cfg(unix)]
    #[tokio::test]
    async fn the_migration_lock_is_one_per_database_whatever_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("tokenmint.db");
        std::fs::write(&db, b"").unwrap();
        let link = dir.path().join("link.db");
        std::os::unix::fs::symlink(&db, &link).unwrap();
        let held = SetupLock::take(&db, Duration::from_millis(100))
            .await
            .unwrap()
            .expect("the lock is taken");
        for path in [&db, &link] {
            let Err(StoreError::Open(message)) =
                SetupLock::take(path, Duration::from_millis(100)).await
            else {
                panic!("{}: a held lock is refused", path.display());
            };
            assert!(message.contains("another tokenmint process"), "{message}");
        }
        drop(held);
        assert!(
            SetupLock::take(&link, Duration::from_millis(100))
                .await
                .unwrap()
                .is_some(),
            "free again once released"
        );
        assert!(dir.path().join("tokenmint.db-lock").is_file());
        assert!(!dir.path().join("link.db-lock").exists());
    }
}
