//! What the fuzz targets (`fuzz/`) run, one function per target, so that the same code runs
//! under cargo-fuzz and in the test suite, which replays the committed corpus (`fuzz/corpus/`)
//! on the stable toolchain. Each takes arbitrary bytes and must return without panicking.
#![doc(hidden)]
// A target reports a violated property by panicking: that is how libFuzzer learns of it.
#![allow(clippy::panic)]

use std::sync::OnceLock;

use crate::config::Config;
use crate::oauth::client_auth::presented;
use crate::oauth::credentials::{ClientId, ClientSecret};
use crate::oauth::request::TokenParams;
use crate::signing::verify::TokenVerifier;

/// The issuer (and audience) the bearer-token target verifies against.
pub const FUZZ_ISSUER: &str = "https://issuer.test";

/// A fuzz target: arbitrary bytes in, a panic only for a violated property.
pub type Target = fn(&[u8]);

/// Every target, by the name of its `fuzz/fuzz_targets/` file and corpus folder.
pub const TARGETS: [(&str, Target); 6] = [
    ("form_body", form_body),
    ("json_body", json_body),
    ("basic_header", basic_header),
    ("credentials", credentials),
    ("config", config),
    ("bearer_token", bearer_token),
];

/// A token request body as a form (RFC 6749 §4.4.2, form-urlencoded).
pub fn form_body(data: &[u8]) {
    if let Ok(params) = TokenParams::from_form(data) {
        let _ = presented(&[], &params);
    }
}

/// A token request body as JSON.
pub fn json_body(data: &[u8]) {
    if let Ok(params) = TokenParams::from_json(data) {
        let _ = presented(&[], &params);
    }
}

/// An `Authorization` header value at the token endpoint (RFC 6749 §2.3.1 Basic).
pub fn basic_header(data: &[u8]) {
    let _ = presented(&[data], &TokenParams::default());
}

/// A Client ID and a client secret (formats and checksum).
pub fn credentials(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if let Some(id) = ClientId::parse(&text) {
        assert_eq!(
            id.as_str(),
            text,
            "a parsed Client ID is the text it came from"
        );
    }
    if let Some(secret) = ClientSecret::parse(&text) {
        assert_eq!(
            secret.expose(),
            text,
            "a parsed secret is the text it came from"
        );
    }
}

/// A TOML configuration document.
pub fn config(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = Config::from_toml(text);
    }
}

/// A bearer token at the management API: whatever the bytes, the verifier refuses or accepts
/// without panicking, and accepts nothing this test's key did not sign.
pub fn bearer_token(data: &[u8]) {
    let Ok(token) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(claims) = verifier().verify(token, FUZZ_ISSUER, FUZZ_ISSUER) {
        panic!("a token no key signed was accepted: {claims}");
    }
}

/// A verifier trusting one ES256 key that signs nothing: no input can be a valid token for it.
fn verifier() -> &'static TokenVerifier {
    static VERIFIER: OnceLock<TokenVerifier> = OnceLock::new();
    VERIFIER.get_or_init(|| {
        let key = crate::signing::keypair::generate(crate::signing::Algorithm::Es256)
            .unwrap_or_else(|e| panic!("key generation failed: {e}"));
        TokenVerifier::from_public_jwks(std::iter::once(key.public_jwk.as_str()))
    })
}
