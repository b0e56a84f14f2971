//! Signing keys: how tokens are signed and how resource servers learn the public keys.
//!
//! - [`keypair`]: key generation and signing for ES256, EdDSA and RS256 (ring), and the public JWK.
//! - [`master_key`]: the master key and AES-256-GCM sealing of private keys at rest.
//! - [`lifecycle`]: next → current → retired → gone (or revoked), as a pure function of the
//!   stored keys, the settings and the time.
//! - [`keyring`]: the in-memory view a server signs with and serves as the JWKS, refreshed
//!   when the stored keys change.
//! - [`service`]: rotate, revoke, list and maintain, as transactions on the store; master-key
//!   rotation; the loop that keeps a keyring in step.

pub mod keypair;
pub mod keyring;
pub mod lifecycle;
pub mod master_key;
pub mod service;
pub mod verify;

pub use crate::domain::Algorithm;

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
