//! The secret scanner of the tests: a P-256 key the issuer trusts through a keys file, and
//! signed reports.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair};
use serde_json::{Value, json};

use super::{FOUND_AT, KEYS_FILE_ENV, REPORTS};
use crate::helpers::{Backend, TestApp};

/// A secret scanner: its P-256 key, and the keys file that makes the issuer trust it.
pub struct Scanner {
    pair: EcdsaKeyPair,
    pub identifier: String,
    file: tempfile::NamedTempFile,
}

impl Scanner {
    pub fn new() -> Self {
        let pair = new_pair();
        let identifier = "90a421169f0a406205f1563a953312f0be898d3c7b6c06b681aa86a874555f4a";
        let doc = json!({"public_keys": [
            {"key_identifier": "an-older-key", "key": public_pem(&new_pair()), "is_current": false},
            {"key_identifier": identifier, "key": public_pem(&pair), "is_current": true},
        ]});
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), doc.to_string()).unwrap();
        Self {
            pair,
            identifier: identifier.to_string(),
            file,
        }
    }

    pub fn env(&self) -> (&'static str, &str) {
        (KEYS_FILE_ENV, self.file.path().to_str().unwrap())
    }

    pub async fn spawn(&self, backend: Backend) -> TestApp {
        TestApp::spawn_with(backend, &[self.env()]).await
    }

    pub fn sign(&self, body: &[u8]) -> String {
        let signature = self.pair.sign(&SystemRandom::new(), body).unwrap();
        STANDARD.encode(signature.as_ref())
    }

    /// Sends `body` signed by this scanner.
    pub async fn report(&self, app: &TestApp, body: &str) -> (u16, Value) {
        let signature = self.sign(body.as_bytes());
        post(app, body, Some(&self.identifier), Some(&signature)).await
    }
}

fn new_pair() -> EcdsaKeyPair {
    let rng = SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng).unwrap();
    EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref(), &rng).unwrap()
}

/// The PEM SubjectPublicKeyInfo of a P-256 key, as GitHub publishes its keys.
fn public_pem(pair: &EcdsaKeyPair) -> String {
    // The DER header of every P-256 SubjectPublicKeyInfo (RFC 5480), then the point.
    let mut der = vec![
        0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08,
        0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
    ];
    der.extend_from_slice(pair.public_key().as_ref());
    pem::encode(&pem::Pem::new("PUBLIC KEY", der))
}

pub async fn post(
    app: &TestApp,
    body: &str,
    identifier: Option<&str>,
    signature: Option<&str>,
) -> (u16, Value) {
    let mut request = app
        .http
        .post(format!("{}{REPORTS}", app.base))
        .header("content-type", "application/json")
        .body(body.to_string());
    if let Some(identifier) = identifier {
        request = request.header("Github-Public-Key-Identifier", identifier);
    }
    if let Some(signature) = signature {
        request = request.header("Github-Public-Key-Signature", signature);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

pub fn finding(token: &str) -> Value {
    json!({"token": token, "type": "tokenmint_client_secret", "url": FOUND_AT, "source": "content"})
}

pub fn sha256_hex(text: &str) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, text.as_bytes());
    digest.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}
