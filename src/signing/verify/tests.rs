use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::json;

use super::*;
use crate::signing::Algorithm;
use crate::signing::keyring::Keyring;

const ISSUER: &str = "https://issuer.test";
const AUDIENCE: &str = "https://issuer.test";

/// A keyring with one current key of `alg`, and the verifier of what it publishes.
fn setup(alg: Algorithm) -> (Keyring, TokenVerifier, String) {
    let (keyring, public_jwk) = Keyring::with_one_key(alg, crate::store::now()).unwrap();
    let verifier = TokenVerifier::from_public_jwks(std::iter::once(public_jwk.as_str()));
    (keyring, verifier, public_jwk)
}

fn claims(exp_offset: i64, aud: &str) -> Vec<u8> {
    let now = chrono::Utc::now().timestamp();
    json!({"iss": ISSUER, "sub": "dh_live_x", "aud": aud, "iat": now, "exp": now + exp_offset, "scope": "admin"})
        .to_string()
        .into_bytes()
}

/// A token signed by the keyring's current key.
fn sign(keyring: &Keyring, exp_offset: i64, aud: &str) -> String {
    keyring
        .current
        .as_ref()
        .unwrap()
        .sign_jwt(&claims(exp_offset, aud))
        .unwrap()
}

fn b64(value: &serde_json::Value) -> String {
    URL_SAFE_NO_PAD.encode(value.to_string())
}

/// Replaces a token's header, keeping its payload and signature.
fn with_header(token: &str, header: serde_json::Value) -> String {
    let mut parts: Vec<&str> = token.split('.').collect();
    let encoded = b64(&header);
    parts[0] = &encoded;
    parts.join(".")
}

#[test]
fn a_token_the_issuer_signed_verifies_with_every_algorithm() {
    for alg in [Algorithm::Es256, Algorithm::EdDsa, Algorithm::Rs256] {
        let (keyring, verifier, _) = setup(alg);
        let token = sign(&keyring, 60, AUDIENCE);
        let verified = verifier.verify(&token, ISSUER, AUDIENCE).unwrap();
        assert_eq!(verified["scope"], "admin", "{alg:?}");
    }
}

#[test]
fn alg_none_never_validates() {
    let (keyring, verifier, _) = setup(Algorithm::Es256);
    let kid = keyring.current.as_ref().unwrap().kid.clone();
    let payload = URL_SAFE_NO_PAD.encode(claims(60, AUDIENCE));
    let header = b64(&json!({"typ": "at+jwt", "alg": "none", "kid": kid}));
    for token in [
        format!("{header}.{payload}."),
        format!("{header}.{payload}"),
    ] {
        assert!(verifier.verify(&token, ISSUER, AUDIENCE).is_err());
    }
}

#[test]
fn hs256_signed_with_the_public_key_never_validates() {
    let (keyring, verifier, public_jwk) = setup(Algorithm::Es256);
    let kid = keyring.current.as_ref().unwrap().kid.clone();
    let header = b64(&json!({"typ": "at+jwt", "alg": "HS256", "kid": kid}));
    let message = format!("{header}.{}", URL_SAFE_NO_PAD.encode(claims(60, AUDIENCE)));
    let jwk: serde_json::Value = serde_json::from_str(&public_jwk).unwrap();
    let x = URL_SAFE_NO_PAD.decode(jwk["x"].as_str().unwrap()).unwrap();
    for secret in [public_jwk.as_bytes().to_vec(), x] {
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &secret);
        let tag = ring::hmac::sign(&key, message.as_bytes());
        let token = format!("{message}.{}", URL_SAFE_NO_PAD.encode(tag.as_ref()));
        assert!(verifier.verify(&token, ISSUER, AUDIENCE).is_err());
    }
}

#[test]
fn an_unknown_kid_never_validates() {
    let (keyring, verifier, _) = setup(Algorithm::Es256);
    let token = sign(&keyring, 60, AUDIENCE);
    let renamed = with_header(
        &token,
        json!({"typ": "at+jwt", "alg": "ES256", "kid": "not-published"}),
    );
    assert_eq!(
        verifier.verify(&renamed, ISSUER, AUDIENCE),
        Err(TokenError::UnknownKey)
    );
    let (other_keyring, _, _) = setup(Algorithm::Es256);
    let foreign = sign(&other_keyring, 60, AUDIENCE);
    assert_eq!(
        verifier.verify(&foreign, ISSUER, AUDIENCE),
        Err(TokenError::UnknownKey)
    );
}

#[test]
fn a_tampered_payload_never_validates() {
    let (keyring, verifier, _) = setup(Algorithm::Es256);
    let token = sign(&keyring, 60, AUDIENCE);
    let parts: Vec<&str> = token.split('.').collect();
    let mut payload: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    payload["scope"] = json!("admin keys:write");
    let tampered = format!("{}.{}.{}", parts[0], b64(&payload), parts[2]);
    assert!(matches!(
        verifier.verify(&tampered, ISSUER, AUDIENCE),
        Err(TokenError::Invalid(_))
    ));
}

#[test]
fn a_wrong_typ_never_validates() {
    let (keyring, verifier, _) = setup(Algorithm::Es256);
    let active = keyring.current.as_ref().unwrap();
    let token = sign(&keyring, 60, AUDIENCE);
    for header in [
        json!({"typ": "JWT", "alg": "ES256", "kid": active.kid}),
        json!({"alg": "ES256", "kid": active.kid}),
    ] {
        let retyped = with_header(&token, header);
        assert_eq!(
            verifier.verify(&retyped, ISSUER, AUDIENCE),
            Err(TokenError::WrongType)
        );
    }
}

#[test]
fn expired_or_foreign_audience_tokens_never_validate() {
    let (keyring, verifier, _) = setup(Algorithm::Es256);
    let expired = sign(&keyring, -120, AUDIENCE);
    assert!(matches!(
        verifier.verify(&expired, ISSUER, AUDIENCE),
        Err(TokenError::Invalid(_))
    ));
    let product = sign(&keyring, 60, "https://api.example.com");
    assert!(matches!(
        verifier.verify(&product, ISSUER, AUDIENCE),
        Err(TokenError::Invalid(_))
    ));
    let other_issuer = sign(&keyring, 60, AUDIENCE);
    assert!(
        verifier
            .verify(&other_issuer, "https://elsewhere.test", AUDIENCE)
            .is_err()
    );
}

#[test]
fn a_remembered_token_is_still_checked_against_its_issuer_audience_and_bytes() {
    let (keyring, verifier, _) = setup(Algorithm::Es256);
    let token = sign(&keyring, 300, AUDIENCE);
    let first = verifier.verify(&token, ISSUER, AUDIENCE).unwrap();
    assert_eq!(verifier.verify(&token, ISSUER, AUDIENCE).unwrap(), first);
    assert!(
        verifier
            .verify(&token, ISSUER, "https://other.test")
            .is_err()
    );
    assert!(
        verifier
            .verify(&token, "https://other.test", AUDIENCE)
            .is_err()
    );
    let (head, signature) = token.rsplit_once('.').unwrap();
    let flipped = if signature.starts_with('A') { "B" } else { "A" };
    let forged = format!("{head}.{flipped}{}", &signature[1..]);
    assert!(verifier.verify(&forged, ISSUER, AUDIENCE).is_err());
}

#[test]
fn a_new_verifier_remembers_nothing_of_the_old_one() {
    let (keyring, verifier, _) = setup(Algorithm::Es256);
    let token = sign(&keyring, 300, AUDIENCE);
    verifier.verify(&token, ISSUER, AUDIENCE).unwrap();
    let (_, other_keys, _) = setup(Algorithm::Es256);
    assert_eq!(
        other_keys.verify(&token, ISSUER, AUDIENCE),
        Err(TokenError::UnknownKey),
        "the keys changed: the token is checked again"
    );
}

#[test]
fn a_remembered_token_is_taken_from_memory_only_while_it_lives_and_for_its_own_check() {
    let (keyring, verifier, _) = setup(Algorithm::Es256);
    let token = sign(&keyring, 300, AUDIENCE);
    verifier.verify(&token, ISSUER, AUDIENCE).unwrap();
    assert!(verifier.verified.contains_key(token.as_str()), "remembered");
    let (head, signature) = token.rsplit_once('.').unwrap();
    let flipped = if signature.starts_with('A') { "B" } else { "A" };
    let forged = format!("{head}.{flipped}{}", &signature[1..]);
    assert!(verifier.verify(&forged, ISSUER, AUDIENCE).is_err());
    assert!(
        !verifier.verified.contains_key(forged.as_str()),
        "failures are not"
    );

    // A memory whose claims are marked: what verify answers shows where it came from.
    let marked = Arc::new(json!({"marked": true}));
    let remember = |exp: u64, issuer: &str, audience: &str| {
        let known = Verified {
            claims: Arc::clone(&marked),
            exp,
            issuer: issuer.into(),
            audience: audience.into(),
        };
        verifier
            .verified
            .insert(token.as_str().into(), Arc::new(known));
    };
    let now = jsonwebtoken::get_current_timestamp();
    remember(now + 300, ISSUER, AUDIENCE);
    assert_eq!(verifier.verify(&token, ISSUER, AUDIENCE).unwrap(), marked);
    remember(now - LEEWAY_SECS - 5, ISSUER, AUDIENCE);
    assert_ne!(
        verifier.verify(&token, ISSUER, AUDIENCE).unwrap(),
        marked,
        "past its exp (and the leeway) the token is checked again"
    );
    remember(now + 300, "https://other.test", AUDIENCE);
    assert_ne!(verifier.verify(&token, ISSUER, AUDIENCE).unwrap(), marked);
    remember(now + 300, ISSUER, "https://other.test");
    assert_ne!(verifier.verify(&token, ISSUER, AUDIENCE).unwrap(), marked);
}

#[test]
fn the_memory_of_verified_tokens_is_bounded_in_bytes_not_only_in_tokens() {
    let (keyring, verifier, _) = setup(Algorithm::Es256);
    let now = chrono::Utc::now().timestamp();
    let scope = "s".repeat(8 * 1024);
    for n in 0..2_000 {
        let claims = json!({"iss": ISSUER, "sub": "dh_live_x", "aud": AUDIENCE, "iat": now,
            "exp": now + 600, "jti": n, "scope": scope});
        let token = keyring
            .current
            .as_ref()
            .unwrap()
            .sign_jwt(claims.to_string().as_bytes())
            .unwrap();
        verifier.verify(&token, ISSUER, AUDIENCE).unwrap();
    }
    verifier.verified.run_pending_tasks();
    let remembered: u64 = verifier.verified.iter().map(|(t, _)| t.len() as u64).sum();
    assert!(remembered > 0, "verified tokens are remembered");
    // 2,000 tokens of 11 KiB would be 22 MiB of text alone.
    assert!(
        remembered * 2 <= VERIFIED_BYTES,
        "{remembered} bytes of tokens remembered"
    );
}
