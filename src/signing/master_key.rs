//! The master key, and AES-256-GCM sealing of private signing keys under it.
//!
//! The key comes from `TOKENMINT_MASTER_KEY` (base64 of 32 bytes) or else from the key file
//! (the same base64 text). On first start with neither, the file is created with mode 0600 —
//! but only when the database holds no sealed key yet: a new master key could open none of them,
//! so a missing file beside existing keys is an error, never a silent replacement.

use std::fmt;
use std::io::Write;
use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};
use zeroize::Zeroizing;

use super::SigningError;

/// The environment variable holding the master key.
pub const MASTER_KEY_ENV: &str = "TOKENMINT_MASTER_KEY";

/// A 32-byte AES-256-GCM key. It never prints.
pub struct MasterKey {
    key: LessSafeKey,
    bytes: Zeroizing<[u8; 32]>,
}

/// Where the master key came from, for the start-up log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MasterKeySource {
    Environment,
    File,
    CreatedFile,
}

impl MasterKey {
    /// A key from its 32 bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        let bytes = Zeroizing::new(bytes);
        #[allow(clippy::expect_used)]
        let key = LessSafeKey::new(
            UnboundKey::new(&AES_256_GCM, bytes.as_ref())
                .expect("invariant: 32 bytes are an AES-256 key"),
        );
        Self { key, bytes }
    }

    /// A new random key.
    pub fn generate() -> Result<Self, SigningError> {
        let mut bytes = [0u8; 32];
        SystemRandom::new()
            .fill(&mut bytes)
            .map_err(|_| SigningError::MasterKey("the system random generator failed".into()))?;
        Ok(Self::from_bytes(bytes))
    }

    /// Reads base64 text of exactly 32 bytes.
    pub fn from_base64(text: &str, origin: &str) -> Result<Self, SigningError> {
        let bytes = Zeroizing::new(STANDARD.decode(text.trim()).map_err(|_| {
            SigningError::MasterKey(format!(
                "{origin} is not base64 (expected 32 bytes in base64)"
            ))
        })?);
        let bytes: [u8; 32] = bytes.as_slice().try_into().map_err(|_| {
            SigningError::MasterKey(format!(
                "{origin} holds {} bytes; a master key is 32 bytes in base64",
                bytes.len()
            ))
        })?;
        Ok(Self::from_bytes(bytes))
    }

    /// The key as base64 text, for the key file or the environment.
    pub fn to_base64(&self) -> Zeroizing<String> {
        Zeroizing::new(STANDARD.encode(self.bytes.as_ref()))
    }

    /// Loads the master key from the environment or `file`; creates the file when both are
    /// missing and `may_create` (the store holds no sealed key).
    pub fn load(
        env_value: Option<&str>,
        file: &Path,
        may_create: bool,
    ) -> Result<(Self, MasterKeySource), SigningError> {
        if let Some(value) = env_value {
            return Ok((
                Self::from_base64(value, MASTER_KEY_ENV)?,
                MasterKeySource::Environment,
            ));
        }
        match std::fs::read_to_string(file) {
            Ok(text) => {
                let key = Self::from_base64(&text, &file.display().to_string())?;
                Ok((key, MasterKeySource::File))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && may_create => {
                let key = Self::generate()?;
                match key.publish(file) {
                    Ok(()) => Ok((key, MasterKeySource::CreatedFile)),
                    // Another process created it a moment ago: that key is the one.
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                        Self::load(None, file, false)
                    }
                    Err(e) => Err(SigningError::MasterKey(format!(
                        "cannot create {}: {e}",
                        file.display()
                    ))),
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Err(SigningError::MasterKey(format!(
                    "the master key file {} is missing, but the database holds signing keys sealed \
                 under a master key: restore the file or set {MASTER_KEY_ENV}",
                    file.display()
                )))
            }
            Err(e) => Err(SigningError::MasterKey(format!(
                "cannot read {}: {e}",
                file.display()
            ))),
        }
    }

    /// Writes the key to a file that must not exist yet, readable by its owner only.
    ///
    /// The file appears whole or not at all: the key is written and synced under a temporary
    /// name, then linked into place, which fails if the file exists. So two processes starting
    /// at once in a new folder cannot both create it, and neither reads it half written.
    pub fn write_new_file(&self, file: &Path) -> Result<(), SigningError> {
        self.publish(file)
            .map_err(|e| SigningError::MasterKey(format!("cannot create {}: {e}", file.display())))
    }

    fn publish(&self, file: &Path) -> std::io::Result<()> {
        if let Some(parent) = file.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)?;
        }
        let mut name = std::ffi::OsString::from(".");
        name.push(file.file_name().unwrap_or_default());
        name.push(format!(".{}.tmp", uuid::Uuid::new_v4().simple()));
        let staged = file.with_file_name(name);
        if let Err(e) = self.write_new(&staged) {
            let _ = std::fs::remove_file(&staged);
            return Err(e);
        }
        let linked = std::fs::hard_link(&staged, file);
        let _ = std::fs::remove_file(&staged);
        match linked {
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Err(e),
            // A file system without hard links: written in place, as a new file all the same.
            Err(_) => self.write_new(file),
            Ok(()) => Ok(()),
        }
    }

    /// Writes the key to `path`, a new file readable by its owner only, and syncs it.
    fn write_new(&self, path: &Path) -> std::io::Result<()> {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut out = options.open(path)?;
        out.write_all(self.to_base64().as_bytes())?;
        out.write_all(b"\n")?;
        out.sync_all()
    }

    /// A check value that names this key without revealing it: the first 16 bytes of
    /// HMAC-SHA256 under the key of a fixed label, base64url.
    pub fn check_value(&self) -> String {
        use base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, self.bytes.as_ref());
        let tag = ring::hmac::sign(&key, b"tokenmint master key check v1");
        URL_SAFE_NO_PAD.encode(&tag.as_ref()[..16])
    }

    /// Seals `plaintext` for the signing key `kid`: a random 96-bit nonce ‖ ciphertext ‖ tag.
    /// The kid is the associated data, so a sealed key cannot be moved to another row.
    pub fn seal(&self, kid: &str, plaintext: &[u8]) -> Result<Vec<u8>, SigningError> {
        let mut nonce = [0u8; NONCE_LEN];
        SystemRandom::new()
            .fill(&mut nonce)
            .map_err(|_| SigningError::MasterKey("the system random generator failed".into()))?;
        let mut sealed = plaintext.to_vec();
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(kid),
                &mut sealed,
            )
            .map_err(|_| SigningError::MasterKey("sealing failed".into()))?;
        sealed.splice(0..0, nonce);
        Ok(sealed)
    }

    /// Opens what [`MasterKey::seal`] made for `kid`; fails if the key, kid or bytes differ.
    pub fn open(&self, kid: &str, sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>, SigningError> {
        let wrong = || SigningError::WrongMasterKey {
            kid: kid.to_string(),
        };
        if sealed.len() < NONCE_LEN {
            return Err(wrong());
        }
        let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| wrong())?;
        let mut buffer = Zeroizing::new(ciphertext.to_vec());
        let plaintext = self
            .key
            .open_in_place(nonce, Aad::from(kid), &mut buffer)
            .map_err(|_| wrong())?;
        Ok(Zeroizing::new(plaintext.to_vec()))
    }
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterKey([redacted])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Processes starting together in a new folder (here threads, which race the same way)
    /// all end up with one key, none with an error or a half-written file.
    #[test]
    fn first_starts_at_once_agree_on_one_key() {
        for _ in 0..20 {
            let dir = tempfile::tempdir().unwrap();
            let file = dir.path().join("keys/master.key");
            let keys: Vec<_> = std::thread::scope(|scope| {
                let starts: Vec<_> = (0..8)
                    .map(|_| scope.spawn(|| MasterKey::load(None, &file, true)))
                    .collect();
                starts.into_iter().map(|s| s.join().unwrap()).collect()
            });
            let keys: Vec<_> = keys
                .into_iter()
                .map(|k| k.expect("every start loads a key").0.check_value())
                .collect();
            assert!(keys.iter().all(|k| *k == keys[0]), "{keys:?}");
            let left: Vec<_> = std::fs::read_dir(file.parent().unwrap())
                .unwrap()
                .map(|e| e.unwrap().file_name())
                .collect();
            assert_eq!(left, ["master.key"], "no temporary file is left");
        }
    }

    #[test]
    fn sealed_key_opens_with_the_same_master_key_and_kid_only() {
        let master = MasterKey::generate().unwrap();
        let sealed = master.seal("kid-1", b"private").unwrap();
        assert!(!sealed.windows(7).any(|w| w == b"private"));
        assert_eq!(
            master.open("kid-1", &sealed).unwrap().as_slice(),
            b"private"
        );
        assert!(master.open("kid-2", &sealed).is_err());
        let other = MasterKey::generate().unwrap();
        assert!(matches!(
            other.open("kid-1", &sealed),
            Err(SigningError::WrongMasterKey { .. })
        ));
    }

    #[test]
    fn tampered_ciphertext_does_not_open() {
        let master = MasterKey::generate().unwrap();
        let mut sealed = master.seal("k", b"private").unwrap();
        let last = sealed.len() - 1;
        sealed[last] ^= 1;
        assert!(master.open("k", &sealed).is_err());
        assert!(master.open("k", &sealed[..5]).is_err());
    }

    #[test]
    fn base64_round_trip_and_bad_lengths() {
        let master = MasterKey::generate().unwrap();
        let again = MasterKey::from_base64(&master.to_base64(), "test").unwrap();
        let sealed = master.seal("k", b"x").unwrap();
        assert!(again.open("k", &sealed).is_ok());
        let err = MasterKey::from_base64(&STANDARD.encode([0u8; 16]), "TOKENMINT_MASTER_KEY");
        assert!(err.unwrap_err().to_string().contains("16 bytes"));
        assert!(MasterKey::from_base64("not base64!", "x").is_err());
    }

    #[test]
    fn first_load_creates_an_owner_only_file_and_later_loads_read_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys/master.key");
        let (created, source) = MasterKey::load(None, &path, true).unwrap();
        assert_eq!(source, MasterKeySource::CreatedFile);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let (loaded, source) = MasterKey::load(None, &path, false).unwrap();
        assert_eq!(source, MasterKeySource::File);
        assert_eq!(created.to_base64(), loaded.to_base64());
    }

    #[test]
    fn missing_file_beside_sealed_keys_is_an_error_not_a_new_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("master.key");
        let err = MasterKey::load(None, &path, false).unwrap_err().to_string();
        assert!(err.contains("missing"), "{err}");
        assert!(!path.exists());
    }

    #[test]
    fn environment_wins_over_the_file() {
        let master = MasterKey::generate().unwrap();
        let (key, source) =
            MasterKey::load(Some(&master.to_base64()), Path::new("/nonexistent"), false).unwrap();
        assert_eq!(source, MasterKeySource::Environment);
        assert_eq!(key.to_base64(), master.to_base64());
    }

    #[test]
    fn check_values_differ_between_keys_and_hide_them() {
        let (a, b) = (
            MasterKey::generate().unwrap(),
            MasterKey::generate().unwrap(),
        );
        assert_eq!(a.check_value(), a.check_value());
        assert_ne!(a.check_value(), b.check_value());
        assert!(!a.check_value().contains(a.to_base64().as_str()));
    }

    #[test]
    fn debug_never_shows_the_key() {
        let master = MasterKey::generate().unwrap();
        assert!(!format!("{master:?}").contains(master.to_base64().as_str()));
    }
}
