//! A consistent copy of a live SQLite database, for `tokenmint backup`.

use std::path::Path;
use std::str::FromStr;

use sqlx::Connection;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};

use super::StoreError;
use crate::config::DatabaseConfig;

/// Copies the SQLite database of `config` into the new file `to` with `VACUUM INTO`: one
/// snapshot, taken while servers keep reading and writing (WAL mode), compacted, and complete
/// on its own (no `-wal` beside it). `to` must not exist: it is created first, readable by its
/// owner only, and removed again if the copy fails. Returns its size in bytes.
pub async fn backup_sqlite(config: &DatabaseConfig, to: &Path) -> Result<u64, StoreError> {
    let options = SqliteConnectOptions::from_str(&config.url)
        .map_err(|e| StoreError::Open(format!("database.url {:?}: {e}", config.url)))?
        .create_if_missing(false)
        .busy_timeout(config.acquire_timeout);
    let mut connection = SqliteConnection::connect_with(&options)
        .await
        .map_err(|e| StoreError::Open(format!("cannot open the database to copy it: {e}")))?;
    create_private(to)?;
    let target = to.to_string_lossy().into_owned();
    let copied = sqlx::query("VACUUM INTO $1")
        .bind(target)
        .execute(&mut connection)
        .await;
    let _ = connection.close().await;
    if let Err(error) = copied {
        let _ = std::fs::remove_file(to);
        return Err(error.into());
    }
    Ok(std::fs::metadata(to).map(|m| m.len()).unwrap_or(0))
}

/// Creates `path` empty, owner-only; refuses to overwrite anything (`VACUUM INTO` accepts an
/// empty file).
fn create_private(path: &Path) -> Result<(), StoreError> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path).map(drop).map_err(|e| {
        let reason = match e.kind() {
            std::io::ErrorKind::AlreadyExists => {
                "it already exists (a backup never overwrites)".into()
            }
            _ => e.to_string(),
        };
        StoreError::Open(format!("cannot create {}: {reason}", path.display()))
    })
}
