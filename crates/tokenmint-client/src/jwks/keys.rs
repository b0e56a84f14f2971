//! From a published JWKS to the keys a token may be checked with: each key's algorithm comes
//! from its own `alg`, checked against its type and curve, and only asymmetric signature
//! algorithms are kept. A key this crate cannot use is left out, not fatal: a newer issuer may
//! publish key types an older verifier does not know.

use std::collections::HashMap;
use std::sync::Arc;

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey};
use serde::Deserialize;

/// A published key, ready to verify: the one algorithm it is for, and the parsed key.
pub(crate) struct VerifyKey {
    pub(crate) alg: Algorithm,
    pub(crate) key: DecodingKey,
}

/// The keys of one JWKS document, by `kid`.
pub(crate) type KeySet = HashMap<String, Arc<VerifyKey>>;

#[derive(Deserialize)]
struct RawJwks {
    keys: Vec<serde_json::Value>,
}

/// Parses a JWKS document (RFC 7517 §5). Fails only when the document itself is not a JWKS.
pub(crate) fn parse(body: &[u8]) -> Result<KeySet, String> {
    let raw: RawJwks =
        serde_json::from_slice(body).map_err(|e| format!("the JWKS is not valid JSON: {e}"))?;
    let mut keys = KeySet::new();
    for value in raw.keys {
        match usable(value) {
            Ok((kid, key)) => {
                keys.insert(kid, Arc::new(key));
            }
            Err(reason) => tracing::debug!(reason, "JWKS key left out"),
        }
    }
    Ok(keys)
}

/// One JWK → its kid and key, or why it cannot verify access tokens.
fn usable(value: serde_json::Value) -> Result<(String, VerifyKey), String> {
    let jwk: Jwk = serde_json::from_value(value).map_err(|e| format!("unreadable JWK: {e}"))?;
    let kid = jwk.common.key_id.clone().ok_or("a JWK without kid")?;
    if matches!(jwk.common.public_key_use, Some(ref u) if *u != PublicKeyUse::Signature) {
        return Err(format!("JWK {kid} is not for signatures"));
    }
    let published = jwk
        .common
        .key_algorithm
        .ok_or_else(|| format!("JWK {kid} names no alg"))?;
    let alg = signature_algorithm(published, &jwk.algorithm)
        .ok_or_else(|| format!("JWK {kid}: alg {published:?} does not fit its key type"))?;
    let key = DecodingKey::from_jwk(&jwk).map_err(|e| format!("JWK {kid}: {e}"))?;
    Ok((kid, VerifyKey { alg, key }))
}

/// The asymmetric signature algorithm a key is published for, when its parameters fit it.
/// Never an `HS*` algorithm: an HMAC "key" in a public document is no secret.
fn signature_algorithm(published: KeyAlgorithm, params: &AlgorithmParameters) -> Option<Algorithm> {
    use AlgorithmParameters as P;
    let curve = |p: &AlgorithmParameters| match p {
        P::EllipticCurve(ec) => Some(ec.curve.clone()),
        P::OctetKeyPair(okp) => Some(okp.curve.clone()),
        _ => None,
    };
    let rsa = matches!(params, P::RSA(_));
    match published {
        KeyAlgorithm::ES256 if curve(params) == Some(EllipticCurve::P256) => Some(Algorithm::ES256),
        KeyAlgorithm::ES384 if curve(params) == Some(EllipticCurve::P384) => Some(Algorithm::ES384),
        KeyAlgorithm::EdDSA if curve(params) == Some(EllipticCurve::Ed25519) => {
            Some(Algorithm::EdDSA)
        }
        KeyAlgorithm::RS256 if rsa => Some(Algorithm::RS256),
        KeyAlgorithm::RS384 if rsa => Some(Algorithm::RS384),
        KeyAlgorithm::RS512 if rsa => Some(Algorithm::RS512),
        KeyAlgorithm::PS256 if rsa => Some(Algorithm::PS256),
        KeyAlgorithm::PS384 if rsa => Some(Algorithm::PS384),
        KeyAlgorithm::PS512 if rsa => Some(Algorithm::PS512),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const X: &str = "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU";
    const Y: &str = "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0";

    fn ec(kid: &str, alg: &str, crv: &str) -> serde_json::Value {
        json!({"kty": "EC", "kid": kid, "alg": alg, "crv": crv, "x": X, "y": Y, "use": "sig"})
    }

    fn kids(doc: serde_json::Value) -> Vec<String> {
        let mut kids: Vec<String> = parse(doc.to_string().as_bytes())
            .unwrap()
            .into_keys()
            .collect();
        kids.sort();
        kids
    }

    #[test]
    fn keys_that_cannot_verify_access_tokens_are_left_out() {
        let doc = json!({"keys": [
            ec("good", "ES256", "P-256"),
            ec("curve-mismatch", "ES384", "P-256"),
            {"kty": "EC", "kid": "no-alg", "crv": "P-256", "x": X, "y": Y},
            {"kty": "oct", "kid": "hmac", "alg": "HS256", "k": "c2VjcmV0"},
            {"kty": "EC", "kid": "enc", "alg": "ES256", "crv": "P-256", "x": X, "y": Y, "use": "enc"},
            {"kty": "AKP", "kid": "future", "alg": "ML-DSA-44", "pub": "AAAA"},
            {"kty": "EC", "alg": "ES256", "crv": "P-256", "x": X, "y": Y},
        ]});
        assert_eq!(kids(doc), ["good"]);
    }

    #[test]
    fn a_document_that_is_no_jwks_is_an_error() {
        assert!(parse(b"<html>").is_err());
        assert!(parse(b"{\"keys\": 3}").is_err());
    }
}
