//! Verifying tokenmint's own access tokens, for endpoints that accept them (the management API).
//!
//! Only keys this issuer publishes are trusted, each only with its own algorithm, so `alg: none`,
//! an HMAC "signed" with a public key, or a kid this issuer never published cannot validate.
//! RFC 9068 §4: `typ` must be `at+jwt`; `iss`, `aud`, `exp` are checked.

use std::collections::HashMap;

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

/// The published keys, ready to verify with.
#[derive(Default)]
pub struct TokenVerifier {
    keys: HashMap<String, (DecodingKey, JwtAlgorithm)>,
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
        Self { keys }
    }

    /// The claims of `token` if a published key signed it with its own algorithm, its `typ` is
    /// `at+jwt`, `iss` is `issuer`, `aud` contains `audience`, and it has not expired.
    pub fn verify(&self, token: &str, issuer: &str, audience: &str) -> Result<Value, TokenError> {
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
        validation.leeway = 30;
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
