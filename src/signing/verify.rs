//! Verifying tokenmint's own access tokens, for endpoints that accept them (the management API).
//!
//! Only keys this issuer publishes are trusted, each only with its own algorithm, so `alg: none`,
//! an HMAC "signed" with a public key, or a kid this issuer never published cannot validate.
//! RFC 9068 §4: `typ` must be `at+jwt`; `iss`, `aud`, `exp` are checked.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm as JwtAlgorithm, DecodingKey, Validation};
use serde_json::Value;

/// Why a token was refused. The message says what, never echoes the token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the token is malformed")]
    Malformed,
    #[error("the token's type is not at+jwt")]
    WrongType,
    #[error("the token names no key this issuer publishes")]
    UnknownKey,
    #[error("the token's signature or claims do not verify: {0}")]
    Invalid(String),
}

/// Seconds a token is still accepted after its `exp`, for clock skew.
const LEEWAY_SECS: u64 = 30;
/// How much of verified tokens is remembered, and for how long at most: a token counts twice
/// its length (its text, and its claims beside it), so some 10,000 tokens of the usual 700
/// bytes, and fewer of long ones (a key with many scopes), whose memory stays as bounded.
const VERIFIED_BYTES: u64 = 16 << 20;
const VERIFIED_TTL: Duration = Duration::from_secs(300);

/// The published keys, ready to verify with, and the tokens they verified lately.
///
/// A management caller sends the same token on every request (a webhook delivery worker, one
/// per delivery), and its signature check is most of the request's cost. A token whose exact
/// bytes verified before, for the same issuer and audience, is taken from memory until its
/// `exp` (and at most five minutes); the memory belongs to this verifier, which is rebuilt
/// whenever the published keys change, so a revoked signing key's tokens are never found in
/// it. Only successes are remembered.
///
/// The memory is keyed by the token's text itself, compared whole on a hit, and hashed with
/// foldhash (seeded at random for each process): only tokens whose signature verified are ever
/// keys, so nobody can choose keys to collide, and a SHA-256 of the 700-byte token (the earlier
/// key) cost more than anything else in a webhook signing request but the HTTP exchange.
pub struct TokenVerifier {
    keys: HashMap<String, (DecodingKey, JwtAlgorithm)>,
    verified: VerifiedTokens,
}

type VerifiedTokens = moka::sync::Cache<Box<str>, Arc<Verified>, foldhash::quality::RandomState>;

struct Verified {
    claims: Arc<Value>,
    exp: u64,
    /// What the token was checked against: a hit needs the same.
    issuer: Box<str>,
    audience: Box<str>,
}

impl Default for TokenVerifier {
    fn default() -> Self {
        Self {
            keys: HashMap::new(),
            verified: verified_cache(),
        }
    }
}

fn verified_cache() -> VerifiedTokens {
    moka::sync::Cache::<Box<str>, Arc<Verified>>::builder()
        .max_capacity(VERIFIED_BYTES)
        .weigher(|token, _| u32::try_from(token.len().saturating_mul(2)).unwrap_or(u32::MAX))
        .time_to_live(VERIFIED_TTL)
        .build_with_hasher(foldhash::quality::RandomState::default())
}

impl TokenVerifier {
    /// From the JWKS entries (public JWK JSON text) a keyring publishes.
    pub fn from_public_jwks<'a>(jwks: impl Iterator<Item = &'a str>) -> Self {
        let keys = jwks
            .filter_map(|text| {
                let jwk: Jwk = serde_json::from_str(text).ok()?;
                let kid = jwk.common.key_id.clone()?;
                let alg = match jwk.common.key_algorithm? {
                    jsonwebtoken::jwk::KeyAlgorithm::ES256 => JwtAlgorithm::ES256,
                    jsonwebtoken::jwk::KeyAlgorithm::EdDSA => JwtAlgorithm::EdDSA,
                    jsonwebtoken::jwk::KeyAlgorithm::RS256 => JwtAlgorithm::RS256,
                    _ => return None,
                };
                Some((kid, (DecodingKey::from_jwk(&jwk).ok()?, alg)))
            })
            .collect();
        Self {
            keys,
            verified: verified_cache(),
        }
    }

    /// The claims of `token` if a published key signed it with its own algorithm, its `typ` is
    /// `at+jwt`, `iss` is `issuer`, `aud` contains `audience`, and it has not expired.
    /// The claims are shared with the memory of verified tokens, not copied for each request.
    pub fn verify(
        &self,
        token: &str,
        issuer: &str,
        audience: &str,
    ) -> Result<Arc<Value>, TokenError> {
        if let Some(known) = self.verified.get(token) {
            let now = jsonwebtoken::get_current_timestamp();
            let same_check = *known.issuer == *issuer && *known.audience == *audience;
            if same_check && now <= known.exp.saturating_add(LEEWAY_SECS) {
                return Ok(Arc::clone(&known.claims));
            }
        }
        let claims = Arc::new(self.verify_signature(token, issuer, audience)?);
        if let Some(exp) = claims.get("exp").and_then(Value::as_u64) {
            let known = Arc::new(Verified {
                claims: Arc::clone(&claims),
                exp,
                issuer: issuer.into(),
                audience: audience.into(),
            });
            self.verified.insert(token.into(), known);
        }
        Ok(claims)
    }

    fn verify_signature(
        &self,
        token: &str,
        issuer: &str,
        audience: &str,
    ) -> Result<Value, TokenError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| TokenError::Malformed)?;
        if !header
            .typ
            .as_deref()
            .is_some_and(|t| t.eq_ignore_ascii_case("at+jwt"))
        {
            return Err(TokenError::WrongType);
        }
        let kid = header.kid.ok_or(TokenError::UnknownKey)?;
        let (key, alg) = self.keys.get(&kid).ok_or(TokenError::UnknownKey)?;
        let mut validation = Validation::new(*alg);
        validation.algorithms = vec![*alg];
        validation.leeway = LEEWAY_SECS;
        validation.set_issuer(&[issuer]);
        validation.set_audience(&[audience]);
        validation.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
        jsonwebtoken::decode::<Value>(token, key, &validation)
            .map(|data| data.claims)
            .map_err(|e| TokenError::Invalid(format!("{:?}", e.kind())))
    }
}

#[cfg(test)]
mod tests;
