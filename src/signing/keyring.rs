//! The keyring a server signs with and serves: the current key decoded in memory with its JWS
//! header already encoded, and the JWKS body with its ETag already computed. It is rebuilt only
//! when the stored keys change (the epoch moves) or a lifecycle boundary passes, and swapped in
//! atomically, so the token path never touches the database for signing keys.

use std::sync::Arc;

use arc_swap::ArcSwap;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use ring::rand::SystemRandom;

use super::keypair::Signer;
use super::lifecycle::{self, Policy};
use super::master_key::MasterKey;
use super::verify::TokenVerifier;
use super::{Algorithm, SigningError};
use crate::store::SigningKeySet;

/// The key that signs, ready to use.
pub struct ActiveKey {
    pub kid: String,
    pub alg: Algorithm,
    /// base64url of the JWS header `{"typ":"at+jwt","alg":…,"kid":…}` (RFC 9068 §2.1).
    header_b64: String,
    signer: Signer,
    rng: SystemRandom,
}

impl ActiveKey {
    /// Signs a JWT whose claims are already JSON: `header.payload.signature`, each base64url.
    pub fn sign_jwt(&self, claims_json: &[u8]) -> Result<String, SigningError> {
        let payload_len = claims_json.len().div_ceil(3) * 4;
        let mut token = String::with_capacity(self.header_b64.len() + payload_len + 400);
        token.push_str(&self.header_b64);
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(claims_json, &mut token);
        let signature = self.signer.sign(&self.rng, token.as_bytes())?;
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(signature, &mut token);
        Ok(token)
    }
}

/// The JWKS document, rendered once per keyring.
pub struct Jwks {
    pub body: Bytes,
    /// A strong validator of the body (RFC 9110 §8.8.3), quotes included.
    pub etag: String,
}

/// Everything a server needs from the signing keys, at one epoch.
pub struct Keyring {
    pub epoch: i64,
    pub current: Option<Arc<ActiveKey>>,
    pub jwks: Jwks,
    /// Verifies tokens signed by the published keys (for the management API).
    pub verifier: TokenVerifier,
    /// When a state changes even if nothing is written (a next key activates, a retired one
    /// leaves): the server rebuilds then.
    pub next_change: Option<DateTime<Utc>>,
    /// The state of every stored key, for the metrics.
    pub key_states: Vec<&'static str>,
    /// When the current key started signing.
    pub current_since: Option<DateTime<Utc>>,
}

impl Keyring {
    /// A keyring of one new key of `alg`, current since `now`, sealed under a throwaway master
    /// key; and that key's public JWK. For tests and benchmarks of what signs.
    pub fn with_one_key(
        alg: Algorithm,
        now: DateTime<Utc>,
    ) -> Result<(Self, String), SigningError> {
        let master = MasterKey::generate()?;
        let generated = super::keypair::generate(alg)?;
        let public_jwk = generated.public_jwk.clone();
        let key = crate::store::StoredSigningKey {
            sealed_private: Some(master.seal(&generated.kid, &generated.pkcs8)?),
            kid: generated.kid,
            alg: alg.as_str().into(),
            public_jwk: generated.public_jwk,
            created_at: now,
            activates_at: now,
            revoked_at: None,
        };
        let set = SigningKeySet {
            epoch: 1,
            keys: vec![key],
            master_key_check: None,
        };
        let policy = Policy::from_config(&crate::config::Config::default());
        let keyring = Self::build(&set, &master, &policy, now, None)?;
        Ok((keyring, public_jwk))
    }

    /// Builds the keyring for `now`. `previous` lends its decoded key when the kid is unchanged.
    pub fn build(
        set: &SigningKeySet,
        master: &MasterKey,
        policy: &Policy,
        now: DateTime<Utc>,
        previous: Option<&Keyring>,
    ) -> Result<Self, SigningError> {
        let statuses = lifecycle::classify(&set.keys, now, policy);
        let current = match lifecycle::current(&statuses) {
            Some(key) => Some(match previous.and_then(|p| p.current.as_ref()) {
                Some(active) if active.kid == key.kid => Arc::clone(active),
                _ => Arc::new(activate(key, master)?),
            }),
            None => None,
        };
        let published: Vec<&str> = statuses
            .iter()
            .filter(|s| s.state.is_published())
            .map(|s| s.key.public_jwk.as_str())
            .collect();
        Ok(Self {
            epoch: set.epoch,
            current,
            jwks: render_jwks(published.iter().copied()),
            verifier: TokenVerifier::from_public_jwks(published.into_iter()),
            next_change: lifecycle::next_change(&set.keys, now, policy),
            key_states: statuses.iter().map(|s| s.state.as_str()).collect(),
            current_since: lifecycle::current(&statuses).map(|k| k.activates_at),
        })
    }

    /// Whether the keyring no longer describes the world at `now` or at `epoch`.
    pub fn is_stale(&self, epoch: i64, now: DateTime<Utc>) -> bool {
        self.epoch != epoch || self.next_change.is_some_and(|t| now >= t)
    }
}

/// Opens and decodes the private key of `key`.
fn activate(
    key: &crate::store::StoredSigningKey,
    master: &MasterKey,
) -> Result<ActiveKey, SigningError> {
    let bad = || SigningError::BadKey {
        kid: key.kid.clone(),
        alg: key.alg.clone(),
    };
    let alg = Algorithm::parse(&key.alg).ok_or_else(bad)?;
    let sealed = key.sealed_private.as_deref().ok_or_else(bad)?;
    let pkcs8 = master.open(&key.kid, sealed)?;
    let signer = Signer::from_pkcs8(alg, &pkcs8).map_err(|_| bad())?;
    let header = serde_json::json!({ "typ": "at+jwt", "alg": alg.as_str(), "kid": key.kid });
    Ok(ActiveKey {
        kid: key.kid.clone(),
        alg,
        header_b64: URL_SAFE_NO_PAD.encode(header.to_string()),
        signer,
        rng: SystemRandom::new(),
    })
}

/// `{"keys":[…]}` from public JWKs that are already JSON text, and its ETag.
fn render_jwks<'a>(jwks: impl Iterator<Item = &'a str>) -> Jwks {
    let body = format!("{{\"keys\":[{}]}}", jwks.collect::<Vec<_>>().join(","));
    let digest = ring::digest::digest(&ring::digest::SHA256, body.as_bytes());
    Jwks {
        etag: format!("\"{}\"", URL_SAFE_NO_PAD.encode(&digest.as_ref()[..18])),
        body: body.into(),
    }
}

/// The keyring shared by every request: read lock-free, replaced whole.
#[derive(Clone)]
pub struct KeyringHandle(Arc<ArcSwap<Keyring>>);

impl KeyringHandle {
    pub fn new(keyring: Keyring) -> Self {
        Self(Arc::new(ArcSwap::from_pointee(keyring)))
    }

    /// The keyring now.
    pub fn get(&self) -> Arc<Keyring> {
        self.0.load_full()
    }

    pub fn replace(&self, keyring: Keyring) {
        self.0.store(Arc::new(keyring));
    }

    /// Whether a current key is loaded (for `/readyz`).
    pub fn can_sign(&self) -> bool {
        self.0.load().current.is_some()
    }
}
