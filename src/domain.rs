//! The domain's shared words, depended on by every layer and depending on nothing of
//! tokenmint's: the signing algorithms, a key's environment, scope syntax, and the ids the
//! store is asked about ([`TeamSlug`], [`ClientId`]), checked where they enter. The
//! configuration reads settings into these types, so `config` stays a leaf too.

pub mod base62;
mod ids;

pub use ids::{ClientId, TeamSlug, is_key_prefix};

use serde::{Deserialize, Serialize};

/// A JWS signing algorithm (RFC 7518 §3.1, RFC 8037 §3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Algorithm {
    /// ECDSA with P-256 and SHA-256: the default (small keys and signatures, fast).
    #[serde(rename = "ES256")]
    Es256,
    /// Ed25519.
    #[serde(rename = "EdDSA")]
    EdDsa,
    /// RSASSA-PKCS1-v1_5 with SHA-256, 2048-bit keys: for verifiers that know nothing else.
    #[serde(rename = "RS256")]
    Rs256,
}

impl Algorithm {
    /// The JOSE `alg` name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Es256 => "ES256",
            Self::EdDsa => "EdDSA",
            Self::Rs256 => "RS256",
        }
    }

    /// Reads a JOSE `alg` name.
    pub fn parse(text: &str) -> Option<Self> {
        [Self::Es256, Self::EdDsa, Self::Rs256]
            .into_iter()
            .find(|a| a.as_str() == text)
    }
}

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

/// Scopes (RFC 6749 §3.3): their syntax and the management API's built-in ones.
pub mod scope {
    /// Reads the caller's own team's API keys through the management API.
    pub const KEYS_READ: &str = "keys:read";
    /// Creates and deletes the caller's own team's API keys (and reads them).
    pub const KEYS_WRITE: &str = "keys:write";
    /// Reveals the caller's own team's webhook signing secrets.
    pub const WEBHOOKS_READ: &str = "webhooks:read";
    /// Rotates the caller's own team's webhook signing secrets and revokes the previous one (and
    /// reveals them).
    pub const WEBHOOKS_WRITE: &str = "webhooks:write";
    /// Signs webhooks with the caller's own team's secrets, without seeing them: what a delivery
    /// worker holds.
    pub const WEBHOOKS_SIGN: &str = "webhooks:sign";
    /// Every team, every API key, the signing keys and the audit log.
    pub const ADMIN: &str = "admin";
    /// The management API's scopes. They are built in, beside the product catalog (`keys.scopes`);
    /// a key holds one only when it was created with it by name, and only tokens for the issuer's
    /// own audience carry them.
    pub const MANAGEMENT_SCOPES: [&str; 6] = [
        KEYS_READ,
        KEYS_WRITE,
        WEBHOOKS_READ,
        WEBHOOKS_WRITE,
        WEBHOOKS_SIGN,
        ADMIN,
    ];

    /// Whether `scope` is one of the management API's.
    pub fn is_management(scope: &str) -> bool {
        MANAGEMENT_SCOPES.contains(&scope)
    }

    /// RFC 6749 §3.3: `scope-token = 1*( %x21 / %x23-5B / %x5D-7E )`.
    pub fn is_scope_token(text: &str) -> bool {
        !text.is_empty()
            && text
                .bytes()
                .all(|b| matches!(b, 0x21 | 0x23..=0x5B | 0x5D..=0x7E))
    }
}
