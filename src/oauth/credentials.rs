//! Client ID and client secret formats.
//!
//! - Client ID: `{prefix}_{live|test}_` + 22 base62 characters (16 random bytes). Public.
//! - Client secret: `{prefix}_secret_` + 43 base62 characters (32 random bytes) + 6 base62
//!   characters of the CRC-32 (IEEE) of everything before them, prefix included. The checksum
//!   lets secret scanners tell a real secret from noise offline, and lets tokenmint refuse a
//!   mistyped secret without spending an argon2 hash on it.

use std::fmt;

use ring::rand::{SecureRandom, SystemRandom};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use super::base62;

/// Base62 digits of randomness in a Client ID (16 bytes; the contract asks for at least 20).
const CLIENT_ID_RANDOM_DIGITS: usize = 22;
/// Base62 digits of the 32 random bytes of a secret.
const SECRET_RANDOM_DIGITS: usize = 43;
/// Base62 digits of the CRC-32 that ends a secret.
const SECRET_CHECKSUM_DIGITS: usize = 6;
/// Longest Client ID accepted as input: a 16-character prefix, `_live_`, and room to spare.
const CLIENT_ID_MAX_LEN: usize = 64;

/// Whether a key is for production (`live`) or for testing (`test`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyEnv {
    Live,
    Test,
}

impl KeyEnv {
    /// `live` or `test`, as in the Client ID and the `env` claim.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Live => "live",
            Self::Test => "test",
        }
    }

    /// Reads `live` or `test`.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "live" => Some(Self::Live),
            "test" => Some(Self::Test),
            _ => None,
        }
    }
}

/// A public Client ID whose shape has been checked (not that it exists).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ClientId(String);

impl ClientId {
    /// A new random Client ID.
    pub fn generate(prefix: &str, env: KeyEnv) -> Result<Self, ring::error::Unspecified> {
        let mut random = [0u8; 16];
        SystemRandom::new().fill(&mut random)?;
        let digits = base62::encode(&random, CLIENT_ID_RANDOM_DIGITS);
        Ok(Self(format!("{prefix}_{}_{digits}", env.as_str())))
    }

    /// Accepts `{prefix}_{live|test}_{base62}` with at least 20 base62 characters, any prefix of
    /// lowercase letters and digits (keys outlive a change of the configured prefix).
    pub fn parse(text: &str) -> Option<Self> {
        if text.len() > CLIENT_ID_MAX_LEN {
            return None;
        }
        let (prefix, rest) = text.split_once('_')?;
        let (env, random) = rest.split_once('_')?;
        let ok = is_prefix(prefix)
            && KeyEnv::parse(env).is_some()
            && random.len() >= 20
            && base62::is_base62(random);
        ok.then(|| Self(text.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

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
        if !is_prefix(prefix) || rest.len() != SECRET_RANDOM_DIGITS + SECRET_CHECKSUM_DIGITS {
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

/// A key prefix: 1 to 16 lowercase letters and digits, starting with a letter.
fn is_prefix(text: &str) -> bool {
    (1..=16).contains(&text.len())
        && text.starts_with(|c: char| c.is_ascii_lowercase())
        && text
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_client_id_has_the_documented_shape() {
        let id = ClientId::generate("dh", KeyEnv::Live).unwrap();
        let text = id.as_str();
        assert!(text.starts_with("dh_live_"), "{text}");
        assert_eq!(text.len(), "dh_live_".len() + 22);
        assert_eq!(ClientId::parse(text), Some(id.clone()));
        let test = ClientId::generate("dh", KeyEnv::Test).unwrap();
        assert!(test.as_str().starts_with("dh_test_"));
    }

    #[test]
    fn malformed_client_ids_are_refused() {
        for text in [
            "",
            "dh_live_",
            "dh_live_short",
            "dh_prod_0123456789abcdefghij",
            "DH_live_0123456789abcdefghij",
            "dh_live_0123456789abcdefghi!",
            "dh-live-0123456789abcdefghij",
            &format!("dh_live_{}", "a".repeat(80)),
        ] {
            assert_eq!(ClientId::parse(text), None, "{text}");
        }
        assert!(ClientId::parse("dh_live_0123456789abcdefghij").is_some());
    }

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
