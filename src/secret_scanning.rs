//! Leaked-secret reports from secret scanners, in GitHub's secret-scanning partner format: who
//! may report (the scanner's public keys, read from a file named in the settings) and how a
//! report's signature is checked. What a report then does to the keys is
//! [`crate::manage::revoke_leaked`]'s.
//!
//! A scanner signs the raw request body with ECDSA P-256 and SHA-256 and sends the signature
//! (DER, base64) in `Github-Public-Key-Signature`, naming its key in
//! `Github-Public-Key-Identifier`. The trusted keys are the file's, in the shape of GitHub's
//! `GET /meta/public_keys/secret_scanning`; nothing is fetched while the server runs, so an
//! operator decides which keys are trusted and a network fault cannot change it.

use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ring::signature::{ECDSA_P256_SHA256_ASN1, UnparsedPublicKey};
use serde::Deserialize;
use spki::der::Decode;
use spki::{ObjectIdentifier, SubjectPublicKeyInfoRef};

/// `id-ecPublicKey` (RFC 5480 §2.1.1).
const EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
/// `secp256r1`, the curve of P-256 (RFC 5480 §2.1.1.1).
const P256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
/// Longest signature header accepted: a DER P-256 signature is at most 72 bytes (96 in base64).
const MAX_SIGNATURE_CHARS: usize = 200;

/// The header naming the key a report is signed with.
pub const KEY_IDENTIFIER_HEADER: &str = "github-public-key-identifier";
/// The header carrying the report's signature.
pub const SIGNATURE_HEADER: &str = "github-public-key-signature";

/// The scanners' public keys a report may be signed with.
#[derive(Debug, Clone)]
pub struct PartnerKeys {
    /// Key identifier and the uncompressed P-256 point.
    keys: Vec<(String, Vec<u8>)>,
}

/// Why a report's signature is not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the report names no key or carries no signature: send {0}")]
    Missing(&'static str),
    #[error("the signature is not base64")]
    NotBase64,
    #[error("no trusted key has that identifier")]
    UnknownKey,
    #[error("the signature does not match the report")]
    Mismatch,
}

/// The keys file: GitHub's `public_keys` document.
#[derive(Deserialize)]
struct KeysDocument {
    public_keys: Vec<KeyEntry>,
}

#[derive(Deserialize)]
struct KeyEntry {
    key_identifier: String,
    /// A PEM `PUBLIC KEY` (SubjectPublicKeyInfo).
    key: String,
}

impl PartnerKeys {
    /// Reads the keys file; a missing, unreadable or malformed file is an error naming it.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            anyhow::anyhow!("secret_scanning.public_keys_file {}: {e}", path.display())
        })?;
        Self::from_json(&text).map_err(|e| {
            anyhow::anyhow!("secret_scanning.public_keys_file {}: {e}", path.display())
        })
    }

    /// Parses a `{"public_keys": [{"key_identifier", "key"}, …]}` document; every key must be
    /// a P-256 public key.
    pub fn from_json(text: &str) -> Result<Self, String> {
        let document: KeysDocument =
            serde_json::from_str(text).map_err(|e| format!("not a public_keys document: {e}"))?;
        if document.public_keys.is_empty() {
            return Err("the document lists no key".into());
        }
        let keys = document
            .public_keys
            .into_iter()
            .map(|entry| {
                let point = p256_point(&entry.key)
                    .map_err(|e| format!("key {:?}: {e}", entry.key_identifier))?;
                Ok((entry.key_identifier, point))
            })
            .collect::<Result<_, String>>()?;
        Ok(Self { keys })
    }

    /// How many keys are trusted.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether no key is trusted (never, for a loaded file).
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Checks `signature` (base64 DER) over `body` with the key named `identifier`.
    pub fn verify(
        &self,
        identifier: Option<&str>,
        signature: Option<&str>,
        body: &[u8],
    ) -> Result<(), SignatureError> {
        let identifier = identifier.ok_or(SignatureError::Missing(KEY_IDENTIFIER_HEADER))?;
        let signature = signature.ok_or(SignatureError::Missing(SIGNATURE_HEADER))?;
        if signature.len() > MAX_SIGNATURE_CHARS {
            return Err(SignatureError::NotBase64);
        }
        let signature = STANDARD
            .decode(signature.trim())
            .map_err(|_| SignatureError::NotBase64)?;
        let (_, point) = self
            .keys
            .iter()
            .find(|(id, _)| id == identifier)
            .ok_or(SignatureError::UnknownKey)?;
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, point)
            .verify(body, &signature)
            .map_err(|_| SignatureError::Mismatch)
    }
}

/// The uncompressed point of a PEM P-256 `PUBLIC KEY`.
fn p256_point(pem_text: &str) -> Result<Vec<u8>, String> {
    let block = pem::parse(pem_text).map_err(|e| format!("not PEM: {e}"))?;
    if block.tag() != "PUBLIC KEY" {
        return Err(format!("a PEM PUBLIC KEY is needed, not {}", block.tag()));
    }
    let info = SubjectPublicKeyInfoRef::from_der(block.contents())
        .map_err(|e| format!("not a SubjectPublicKeyInfo: {e}"))?;
    let curve = info.algorithm.parameters_oid().ok();
    if info.algorithm.oid != EC_PUBLIC_KEY || curve != Some(P256) {
        return Err("not an ECDSA P-256 key".into());
    }
    info.subject_public_key
        .as_bytes()
        .filter(|point| point.len() == 65 && point[0] == 4)
        .map(<[u8]>::to_vec)
        .ok_or_else(|| "not an uncompressed P-256 point".into())
}

#[cfg(test)]
mod tests {
    use ring::rand::SystemRandom;
    use ring::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair};

    use super::*;

    /// A new P-256 key and its keys document entry under `identifier`.
    fn partner(identifier: &str) -> (EcdsaKeyPair, String) {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng).unwrap();
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref(), &rng)
            .unwrap();
        // SubjectPublicKeyInfo of a P-256 key: the fixed algorithm header, then the point.
        let mut der = vec![
            0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06,
            0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
        ];
        der.extend_from_slice(pair.public_key().as_ref());
        let pem = pem::encode(&pem::Pem::new("PUBLIC KEY", der));
        let doc = serde_json::json!({"public_keys": [
            {"key_identifier": identifier, "key": pem, "is_current": true}
        ]});
        (pair, doc.to_string())
    }

    fn sign(pair: &EcdsaKeyPair, body: &[u8]) -> String {
        STANDARD.encode(pair.sign(&SystemRandom::new(), body).unwrap().as_ref())
    }

    #[test]
    fn a_report_signed_by_a_trusted_key_verifies_and_nothing_else_does() {
        let (pair, doc) = partner("k1");
        let keys = PartnerKeys::from_json(&doc).unwrap();
        let body = br#"[{"token":"x","type":"t","url":"u","source":"content"}]"#;
        let signature = sign(&pair, body);
        assert_eq!(keys.verify(Some("k1"), Some(&signature), body), Ok(()));
        let tampered = br#"[{"token":"y","type":"t","url":"u","source":"content"}]"#;
        assert_eq!(
            keys.verify(Some("k1"), Some(&signature), tampered),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            keys.verify(Some("k2"), Some(&signature), body),
            Err(SignatureError::UnknownKey)
        );
        let (other, _) = partner("k1");
        let forged = sign(&other, body);
        assert_eq!(
            keys.verify(Some("k1"), Some(&forged), body),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            keys.verify(Some("k1"), Some("not base64!"), body),
            Err(SignatureError::NotBase64)
        );
        assert!(matches!(
            keys.verify(None, Some(&signature), body),
            Err(SignatureError::Missing(_))
        ));
        assert!(matches!(
            keys.verify(Some("k1"), None, body),
            Err(SignatureError::Missing(_))
        ));
    }

    #[test]
    fn a_keys_file_with_anything_but_p256_public_keys_is_refused() {
        for bad in [
            "",
            "{}",
            r#"{"public_keys": []}"#,
            r#"{"public_keys": [{"key_identifier": "k", "key": "not pem"}]}"#,
            r#"{"public_keys": [{"key_identifier": "k", "key": "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"}]}"#,
            r#"{"public_keys": [{"key_identifier": "k", "key": "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"}]}"#,
        ] {
            assert!(PartnerKeys::from_json(bad).is_err(), "{bad}");
        }
        // A well-formed public key of another kind: Ed25519.
        let rng = SystemRandom::new();
        let pkcs8 = ring::signature::Ed25519KeyPair::generate_pkcs8(&rng).unwrap();
        let ed25519 = ring::signature::Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap();
        let mut der = vec![
            0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
        ];
        der.extend_from_slice(ed25519.public_key().as_ref());
        let pem = pem::encode(&pem::Pem::new("PUBLIC KEY", der));
        let doc = serde_json::json!({"public_keys": [{"key_identifier": "k", "key": pem}]});
        let err = PartnerKeys::from_json(&doc.to_string()).unwrap_err();
        assert!(err.contains("not an ECDSA P-256 key"), "{err}");
        let (_, doc) = partner("k");
        assert_eq!(PartnerKeys::from_json(&doc).unwrap().len(), 1);
    }
}
