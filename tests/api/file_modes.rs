//! The SQLite database is readable by tokenmint's user alone: its folder 0700, its files 0600,
//! on first start and again on every later open (Unix only).
#![cfg(unix)]

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::helpers::ServeProcess;

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

fn set_mode(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// The database's folder and its files, as `serve` in `dir` with the default settings has them.
fn assert_private(dir: &Path) {
    let data = dir.join("data");
    assert_eq!(mode(&data), 0o700, "data/");
    for name in ["tokenmint.db", "tokenmint.db-wal", "tokenmint.db-shm"] {
        assert_eq!(mode(&data.join(name)), 0o600, "data/{name}");
    }
    assert_eq!(mode(dir), 0o755, "the working directory is left alone");
}

async fn serve(dir: &Path) -> ServeProcess {
    ServeProcess::start(dir, &[], &[("TOKENMINT_BIND", "127.0.0.1:0")])
        .await
        .expect("tokenmint serve starts")
}

#[tokio::test]
async fn a_fresh_sqlite_database_is_private_to_its_user() {
    let dir = tempfile::tempdir().unwrap();
    set_mode(dir.path(), 0o755);
    let server = serve(dir.path()).await;
    assert_private(dir.path());
    server.stop().await;
}

#[tokio::test]
async fn a_readable_database_is_made_private_on_the_next_open() {
    let dir = tempfile::tempdir().unwrap();
    set_mode(dir.path(), 0o755);
    serve(dir.path()).await.stop().await;
    let data = dir.path().join("data");
    set_mode(&data, 0o755);
    for name in ["tokenmint.db", "tokenmint.db-wal", "tokenmint.db-shm"] {
        let file = data.join(name);
        if !file.exists() {
            std::fs::write(&file, b"").unwrap();
        }
        set_mode(&file, 0o644);
    }
    let server = serve(dir.path()).await;
    assert_private(dir.path());
    server.stop().await;
}
