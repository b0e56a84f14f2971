//! The ids the store is asked about, each checked where it enters (the CLI's arguments, an
//! HTTP path, a token's claim) so that a malformed one never reaches a query.

use std::fmt;

use ring::rand::{SecureRandom, SystemRandom};

use super::KeyEnv;
use super::base62;

/// Base62 digits of randomness in a Client ID (16 bytes; the contract asks for at least 20).
const CLIENT_ID_RANDOM_DIGITS: usize = 22;
/// Longest Client ID accepted as input: a 16-character prefix, `_live_`, and room to spare.
const CLIENT_ID_MAX_LEN: usize = 64;

/// A team's slug: `[a-z0-9-]{1,63}`, immutable once the team exists.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TeamSlug(String);

impl TeamSlug {
    /// Accepts 1 to 63 characters of `a-z`, `0-9` and `-`.
    pub fn parse(text: &str) -> Option<Self> {
        let valid = (1..=63).contains(&text.len())
            && text
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        valid.then(|| Self(text.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TeamSlug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A public Client ID, `{prefix}_{live|test}_{base62}`, whose shape has been checked (not that
/// it exists).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
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
        let ok = is_key_prefix(prefix)
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

/// A key prefix (of Client IDs and secrets): 1 to 16 lowercase letters and digits, starting
/// with a letter.
pub fn is_key_prefix(text: &str) -> bool {
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
    fn slug_rule() {
        for ok in ["a", "team-1", &"a".repeat(63)] {
            assert_eq!(
                TeamSlug::parse(ok).map(|s| s.to_string()),
                Some(ok.to_string())
            );
        }
        for bad in ["", "Team", "a_b", "a b", "é", &"a".repeat(64)] {
            assert_eq!(TeamSlug::parse(bad), None, "{bad}");
        }
    }

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
}
