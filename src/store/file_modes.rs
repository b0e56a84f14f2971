//! The SQLite database holds every API key's secret hash and the sealed signing keys, so only
//! tokenmint's user may read it: its folder is 0700 and its files (the database, `-wal`, `-shm`,
//! `-journal`, and `-lock`, which a process holds while it opens and migrates the database)
//! 0600. Made so on first start, and restored on every open, for files that an older version, a
//! copy or a restore left readable. Unix only.
//!
//! SQLite gives `-wal` and `-shm` the database file's mode, so the database file is made 0600
//! before SQLite opens it (created so, or tightened); they are checked after every open all the
//! same. The folder is closed only when it is the database's own: it holds nothing but the
//! database's files, and it is not the working directory, `/`, or a shared sticky folder such as
//! `/tmp`. A database placed in a shared folder (`/var/lib`, a home folder) leaves that folder
//! as it is, with a warning: closing it would break whatever else lives there.

use std::path::{Path, PathBuf};

use super::StoreError;

/// The mode of the database's folder.
pub const DIR_MODE: u32 = 0o700;
/// The mode of every database file.
pub const FILE_MODE: u32 = 0o600;

/// Before SQLite opens `db`: its folder exists (created 0700), and so does the database file
/// (created empty, 0600), so that SQLite never creates either with the umask's mode.
pub(super) fn prepare(db: &Path) -> Result<(), StoreError> {
    let failed = |what: &Path, e: std::io::Error| {
        StoreError::Open(format!("cannot create {}: {e}", what.display()))
    };
    if let Some(dir) = folder_of(db) {
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, DIR_MODE);
        builder.create(dir).map_err(|e| failed(dir, e))?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, FILE_MODE);
    match options.open(db) {
        Ok(_) => Ok(()),
        // An existing database is tightened before SQLite opens it, so the `-wal` and `-shm`
        // it creates from the database's mode are private too.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => restrict_files(db),
        Err(e) => Err(failed(db, e)),
    }
}

/// After SQLite opened `db`: the folder is 0700 and every database file present is 0600.
pub(super) fn restrict(db: &Path) -> Result<(), StoreError> {
    if let Some(dir) = folder_of(db) {
        if is_ours_to_close(dir) && holds_only_the_database(dir, db) {
            tighten(dir, DIR_MODE)?;
        } else {
            tracing::warn!(
                folder = %dir.display(),
                "the database's folder is shared with other files, so tokenmint leaves its mode \
                 alone; give the database a folder of its own (database.url) to have it closed"
            );
        }
    }
    restrict_files(db)
}

/// Every database file present is 0600.
fn restrict_files(db: &Path) -> Result<(), StoreError> {
    for file in database_files(db) {
        if file.exists() {
            tighten(&file, FILE_MODE)?;
        }
    }
    Ok(())
}

/// Whether `dir` holds the database's files and nothing else.
fn holds_only_the_database(dir: &Path, db: &Path) -> bool {
    let ours = database_files(db);
    let Some(names) = ours
        .iter()
        .map(|f| f.file_name().map(ToOwned::to_owned))
        .collect::<Option<Vec<_>>>()
    else {
        return false;
    };
    let Ok(entries) = std::fs::read_dir(dir) else {
        return false;
    };
    entries
        .map(|entry| entry.map(|e| e.file_name()))
        .all(|name| name.is_ok_and(|name| names.contains(&name)))
}

/// The database file and the files SQLite keeps beside it.
fn database_files(db: &Path) -> Vec<PathBuf> {
    let mut files = vec![db.to_path_buf()];
    for suffix in ["-wal", "-shm", "-journal", LOCK_SUFFIX] {
        let mut name = db.as_os_str().to_owned();
        name.push(suffix);
        files.push(PathBuf::from(name));
    }
    files
}

/// The suffix of the file a process locks while it opens and migrates the database.
const LOCK_SUFFIX: &str = "-lock";

/// The file a process locks while it opens and migrates `db` (`tokenmint.db-lock`).
pub(super) fn lock_file(db: &Path) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push(LOCK_SUFFIX);
    PathBuf::from(name)
}

/// Opens `path` for writing, created 0600 when missing.
pub(super) fn open_private(path: &Path) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(false);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, FILE_MODE);
    options.open(path)
}

/// The folder `db` names, if it names one (`tokenmint.db` alone sits in the working directory).
fn folder_of(db: &Path) -> Option<&Path> {
    db.parent().filter(|p| !p.as_os_str().is_empty())
}

/// Whether `dir` may be closed to other users: not `/`, not the working directory, not a
/// shared sticky folder.
fn is_ours_to_close(dir: &Path) -> bool {
    let Ok(dir) = dir.canonicalize() else {
        return false;
    };
    let cwd = std::env::current_dir().and_then(|d| d.canonicalize()).ok();
    if dir.parent().is_none() || Some(&dir) == cwd.as_ref() {
        return false;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let sticky = std::fs::metadata(&dir).is_ok_and(|m| m.permissions().mode() & 0o1000 != 0);
        if sticky {
            return false;
        }
    }
    true
}

/// Sets `path` to `mode` when others (or its group) may use it now. A file gone meanwhile
/// needs nothing: another process beside this one may just have finished with a rollback
/// journal it had seen.
#[cfg(unix)]
fn tighten(path: &Path, mode: u32) -> Result<(), StoreError> {
    use std::os::unix::fs::PermissionsExt;
    let failed = |e: std::io::Error| {
        StoreError::Open(format!(
            "cannot restrict {} to mode {mode:o}: {e}",
            path.display()
        ))
    };
    let metadata = match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        read => read.map_err(failed)?,
    };
    if metadata.file_type().is_symlink() {
        // Following it could change the mode of something that is not the database's.
        tracing::warn!(path = %path.display(), "a symbolic link: its mode is left alone");
        return Ok(());
    }
    let current = metadata.permissions().mode() & 0o777;
    if current == mode {
        return Ok(());
    }
    match std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        set => set.map_err(failed)?,
    }
    tracing::info!(
        path = %path.display(),
        from = %format!("{current:o}"),
        to = %format!("{mode:o}"),
        "restricted the database's mode: it holds secret hashes and sealed signing keys"
    );
    Ok(())
}

#[cfg(not(unix))]
fn tighten(_: &Path, _: u32) -> Result<(), StoreError> {
    Ok(())
}

#[cfg(test)]
#[cfg(unix)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn the_working_directory_root_and_sticky_folders_are_left_alone() {
        assert!(!is_ours_to_close(Path::new("/")));
        assert!(!is_ours_to_close(&std::env::current_dir().unwrap()));
        assert!(!is_ours_to_close(Path::new("/tmp")));
        let dir = tempfile::tempdir().unwrap();
        assert!(is_ours_to_close(dir.path()));
        assert_eq!(folder_of(Path::new("tokenmint.db")), None);
    }

    /// A journal seen in the folder and gone before its mode is set (another process finished
    /// its transaction meanwhile) is no reason to refuse to open the database.
    #[test]
    fn a_file_gone_before_its_mode_is_set_needs_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let gone = dir.path().join("tokenmint.db-journal");
        assert!(tighten(&gone, FILE_MODE).is_ok());
    }

    #[test]
    fn open_files_and_folder_are_restricted() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let db = data.join("tokenmint.db");
        prepare(&db).unwrap();
        assert_eq!((mode(&data), mode(&db)), (0o700, 0o600));
        std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
        for file in database_files(&db) {
            std::fs::write(&file, b"").unwrap();
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        }
        restrict(&db).unwrap();
        assert_eq!(mode(&data), 0o700);
        for file in database_files(&db) {
            assert_eq!(mode(&file), 0o600, "{}", file.display());
        }
    }

    /// The review's case: a database put straight into a shared folder (`/var/lib`, a home
    /// folder) must not close that folder to everything else in it.
    #[test]
    fn a_shared_folder_is_left_open_and_only_the_files_are_restricted() {
        let dir = tempfile::tempdir().unwrap();
        let shared = dir.path().join("var-lib");
        std::fs::create_dir(&shared).unwrap();
        std::fs::write(shared.join("another-service.conf"), b"x").unwrap();
        std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o755)).unwrap();
        let db = shared.join("tokenmint.db");
        std::fs::write(&db, b"").unwrap();
        std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).unwrap();
        prepare(&db).unwrap();
        assert_eq!(mode(&db), 0o600, "tightened before SQLite opens it");
        restrict(&db).unwrap();
        assert_eq!(mode(&shared), 0o755, "not tokenmint's folder to close");
        assert_eq!(mode(&db), 0o600);
    }
}
