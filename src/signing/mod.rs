//! Signing keys: how tokens are signed and how resource servers learn the public keys.
//!
//! - [`keypair`]: key generation and signing for ES256, EdDSA and RS256 (ring), and the public JWK.
//! - [`master_key`]: the master key and AES-256-GCM sealing of private keys at rest.
//! - [`lifecycle`]: next → current → retired → gone (or revoked), as a pure function of the
//!   stored keys, the settings and the time.
//! - [`keyring`]: the in-memory view a server signs with and serves as the JWKS, refreshed
//!   when the stored keys change.
//! - [`operations`]: rotate, revoke, list and maintain, as transactions on the store.

pub mod keypair;
pub mod keyring;
pub mod lifecycle;
pub mod master_key;
pub mod operations;
pub mod verify;

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

/// Why a signing key could not be made, opened or used.
#[derive(Debug, thiserror::Error)]
pub enum SigningError {
    #[error("key generation failed: {0}")]
    Generate(String),
    #[error("signing key {kid} is not a valid {alg} key")]
    BadKey { kid: String, alg: String },
    #[error(
        "the master key does not open signing key {kid}: this is not the master key the keys were \
         sealed with (check TOKENMINT_MASTER_KEY or signing.master_key_file)"
    )]
    WrongMasterKey { kid: String },
    #[error(
        "this master key is not the one the signing keys are sealed under: check \
         TOKENMINT_MASTER_KEY or signing.master_key_file (after an interrupted `master-key \
         rotate`, the new key is in the key file's `.new` sibling)"
    )]
    MasterKeyChanged,
    #[error("signing failed")]
    Sign,
    #[error("{0}")]
    MasterKey(String),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}
