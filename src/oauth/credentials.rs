//! Client ID and client secret formats (the Client ID itself is a shared word: [`ClientId`]).
//!
//! - Client ID: `{prefix}_{live|test}_` + 22 base62 characters (16 random bytes). Public.
//! - Client secret: `{prefix}_secret_` + 43 base62 characters (32 random bytes) + 6 base62
//!   characters of the CRC-32 (IEEE) of everything before them, prefix included. The checksum
//!   lets secret scanners tell a real secret from noise offline, and lets tokenmint refuse a
//!   mistyped secret without spending an argon2 hash on it.

use std::fmt;

use ring::rand::{SecureRandom, SystemRandom};
use secrecy::{ExposeSecret, SecretString};

pub use crate::domain::{ClientId, KeyEnv};
use crate::domain::{base62, is_key_prefix};

/// Base62 digits of the 32 random bytes of a secret.
const SECRET_RANDOM_DIGITS: usize = 43;
/// Base62 digits of the CRC-32 that ends a secret.
const SECRET_CHECKSUM_DIGITS: usize = 6;

/// A client secret. It never prints: `Debug` shows `[redacted]`, and reading it takes
/// [`ClientSecret::expose`], which is easy to find in review.
#[derive(Clone)]
pub struct ClientSecret(SecretString);

impl ClientSecret {
    /// A new random secret with its checksum.
    pub fn generate(prefix: &str) -> Result<Self, ring::error::Unspecified> {
        let mut random = [0u8; 32];
        SystemRandom::new().fill(&mut random)?;
        let body = format!(
            "{prefix}_secret_{}",
            base62::encode(&random, SECRET_RANDOM_DIGITS)
        );
        let checksum = base62::encode(
            &crc32fast::hash(body.as_bytes()).to_be_bytes(),
            SECRET_CHECKSUM_DIGITS,
        );
        Ok(Self(format!("{body}{checksum}").into()))
    }

    /// Accepts a well-formed secret whose checksum matches; anything else is `None`.
    pub fn parse(text: &str) -> Option<Self> {
        let (prefix, rest) = text.split_once("_secret_")?;
        if !is_key_prefix(prefix) || rest.len() != SECRET_RANDOM_DIGITS + SECRET_CHECKSUM_DIGITS {
            return None;
        }
        if !base62::is_base62(rest) {
            return None;
        }
        let (body, checksum) = text.split_at(text.len() - SECRET_CHECKSUM_DIGITS);
        let expected = base62::encode(
            &crc32fast::hash(body.as_bytes()).to_be_bytes(),
            SECRET_CHECKSUM_DIGITS,
        );
        (checksum == expected).then(|| Self(text.to_string().into()))
    }

    /// The secret's fingerprint: SHA-256 of a domain tag and the secret, in hex. How a reported
    /// leaked secret finds its key with one indexed read, where the argon2 hash would need one
    /// hash per stored key. A plain digest is enough here: the secret is 256 random bits, so
    /// the fingerprint can be neither reversed nor guessed (a key for it would only be one more
    /// secret to keep through master-key rotations).
    pub fn fingerprint(&self) -> String {
        let mut context = ring::digest::Context::new(&ring::digest::SHA256);
        context.update(b"tokenmint client secret fingerprint v1\0");
        context.update(self.expose().as_bytes());
        context
            .finish()
            .as_ref()
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect()
    }

    /// The secret's text, for hashing, verifying, and showing once at creation.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl fmt::Debug for ClientSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ClientSecret([redacted])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_secret_has_the_documented_shape_and_checksum() {
        let secret = ClientSecret::generate("dh").unwrap();
        let text = secret.expose();
        assert!(text.starts_with("dh_secret_"));
        assert_eq!(text.len(), "dh_secret_".len() + 49);
        let body = &text[..text.len() - 6];
        let crc = base62::encode(&crc32fast::hash(body.as_bytes()).to_be_bytes(), 6);
        assert!(text.ends_with(&crc));
        assert!(ClientSecret::parse(text).is_some());
    }

    #[test]
    fn a_secret_with_one_changed_character_fails_its_checksum() {
        let secret = ClientSecret::generate("dh").unwrap();
        let mut text = secret.expose().to_string();
        let i = 20;
        let replacement = if &text[i..=i] == "a" { "b" } else { "a" };
        text.replace_range(i..=i, replacement);
        assert!(ClientSecret::parse(&text).is_none());
    }

    #[test]
    fn the_checksum_covers_the_prefix() {
        let secret = ClientSecret::generate("dh").unwrap();
        let other = secret.expose().replacen("dh_", "xy_", 1);
        assert!(ClientSecret::parse(&other).is_none());
    }

    #[test]
    fn known_secret_checksum() {
        // 43 zeros: CRC-32 of "dh_secret_000…0" computed independently (Python's zlib.crc32).
        let body = format!("dh_secret_{}", "0".repeat(43));
        let crc = crc32fast::hash(body.as_bytes());
        assert_eq!(crc, KNOWN_CRC);
        let text = format!("{body}{}", base62::encode(&crc.to_be_bytes(), 6));
        assert!(ClientSecret::parse(&text).is_some());
    }

    const KNOWN_CRC: u32 = 186_697_373;

    #[test]
    fn debug_never_shows_the_secret() {
        let secret = ClientSecret::generate("dh").unwrap();
        let shown = format!("{secret:?}");
        assert!(!shown.contains(secret.expose()));
        assert!(shown.contains("redacted"));
    }
}
