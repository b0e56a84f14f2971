//! Key pairs: generation, signing, and the public JWK (RFC 7517, RFC 7518 §6, RFC 8037 §2).

use aws_lc_rs::signature::KeyPair as _;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair, RsaKeyPair};
use serde::Serialize;
use zeroize::Zeroizing;

use super::{Algorithm, SigningError};

/// Bits of a generated RSA modulus (RFC 7518 §3.3 asks for at least 2048).
const RSA_BITS: usize = 2048;

/// A private key decoded once and held in memory, ready to sign.
pub enum Signer {
    /// AWS-LC's key (see Cargo.toml for why); ring generates ES256 keys and verifies.
    Es256(aws_lc_rs::signature::EcdsaKeyPair),
    EdDsa(Ed25519KeyPair),
    Rs256(RsaKeyPair),
}

/// A public key as a JWK, with members in RFC 7638 order so that the thumbprint input is the
/// JSON of the required members alone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PublicJwk {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub crv: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub e: Option<String>,
    pub kty: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub n: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub x: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub y: Option<String>,
}

/// A new key pair: its kid, public JWK (JSON with `kid`, `alg`, `use`) and PKCS#8 private key.
pub struct GeneratedKey {
    pub kid: String,
    pub public_jwk: String,
    pub pkcs8: Zeroizing<Vec<u8>>,
}

impl Signer {
    /// Decodes a PKCS#8 private key for `alg`.
    /// The error says why the key was refused (never holds key material).
    pub fn from_pkcs8(alg: Algorithm, der: &[u8]) -> Result<Self, String> {
        Ok(match alg {
            Algorithm::Es256 => Self::Es256(
                aws_lc_rs::signature::EcdsaKeyPair::from_pkcs8(
                    &aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
                    der,
                )
                .map_err(|e| e.to_string())?,
            ),
            Algorithm::EdDsa => Self::EdDsa(
                Ed25519KeyPair::from_pkcs8_maybe_unchecked(der).map_err(|e| e.to_string())?,
            ),
            Algorithm::Rs256 => {
                Self::Rs256(RsaKeyPair::from_pkcs8(der).map_err(|e| e.to_string())?)
            }
        })
    }

    /// The JWS signature of `message` (RFC 7518 §3: raw R‖S for ECDSA).
    pub fn sign(&self, rng: &SystemRandom, message: &[u8]) -> Result<Vec<u8>, SigningError> {
        match self {
            Self::Es256(pair) => Ok(pair
                .sign(&aws_lc_rs::rand::SystemRandom::new(), message)
                .map_err(|_| SigningError::Sign)?
                .as_ref()
                .to_vec()),
            Self::EdDsa(pair) => Ok(pair.sign(message).as_ref().to_vec()),
            Self::Rs256(pair) => {
                let mut signature = vec![0; pair.public().modulus_len()];
                pair.sign(&signature::RSA_PKCS1_SHA256, rng, message, &mut signature)
                    .map_err(|_| SigningError::Sign)?;
                Ok(signature)
            }
        }
    }

    /// The public half as a JWK (no private members, ever).
    pub fn public_jwk(&self) -> PublicJwk {
        let b64 = |bytes: &[u8]| Some(URL_SAFE_NO_PAD.encode(bytes));
        let empty = PublicJwk {
            crv: None,
            e: None,
            kty: "",
            n: None,
            x: None,
            y: None,
        };
        match self {
            Self::Es256(pair) => {
                // SEC1 uncompressed point: 0x04 ‖ X ‖ Y, 32 bytes each for P-256.
                let point = pair.public_key().as_ref();
                PublicJwk {
                    crv: Some("P-256"),
                    kty: "EC",
                    x: b64(&point[1..33]),
                    y: b64(&point[33..65]),
                    ..empty
                }
            }
            Self::EdDsa(pair) => PublicJwk {
                crv: Some("Ed25519"),
                kty: "OKP",
                x: b64(pair.public_key().as_ref()),
                ..empty
            },
            Self::Rs256(pair) => {
                let parts = signature::RsaPublicKeyComponents::<Vec<u8>>::from(pair.public());
                PublicJwk {
                    kty: "RSA",
                    n: b64(&parts.n),
                    e: b64(&parts.e),
                    ..empty
                }
            }
        }
    }
}

impl PublicJwk {
    /// RFC 7638 JWK thumbprint: base64url of SHA-256 over the required members, sorted, no
    /// whitespace. Used as the `kid`, so a kid names exactly one public key.
    pub fn thumbprint(&self) -> String {
        // Serialization of this struct emits exactly the required members in lexicographic
        // order (optional ones are None for the key type), which is the RFC 7638 input.
        #[allow(clippy::expect_used)]
        let canonical =
            serde_json::to_vec(self).expect("invariant: a struct of strings serializes");
        URL_SAFE_NO_PAD.encode(ring::digest::digest(&ring::digest::SHA256, &canonical))
    }

    /// The JWKS entry: the public members plus `kid`, `alg` and `use: "sig"`.
    pub fn to_jwks_entry(&self, kid: &str, alg: Algorithm) -> serde_json::Value {
        #[allow(clippy::expect_used)]
        let mut value =
            serde_json::to_value(self).expect("invariant: a struct of strings serializes");
        if let Some(object) = value.as_object_mut() {
            object.insert("kid".into(), kid.into());
            object.insert("alg".into(), alg.as_str().into());
            object.insert("use".into(), "sig".into());
        }
        value
    }
}

/// Generates a key pair for `alg`.
pub fn generate(alg: Algorithm) -> Result<GeneratedKey, SigningError> {
    let pkcs8 = generate_pkcs8(alg)?;
    let signer = Signer::from_pkcs8(alg, &pkcs8).map_err(SigningError::Generate)?;
    let jwk = signer.public_jwk();
    let kid = jwk.thumbprint();
    let public_jwk = jwk.to_jwks_entry(&kid, alg).to_string();
    Ok(GeneratedKey {
        kid,
        public_jwk,
        pkcs8,
    })
}

fn generate_pkcs8(alg: Algorithm) -> Result<Zeroizing<Vec<u8>>, SigningError> {
    let rng = SystemRandom::new();
    let failed = |e: &dyn std::fmt::Display| SigningError::Generate(e.to_string());
    Ok(Zeroizing::new(match alg {
        Algorithm::Es256 => {
            EcdsaKeyPair::generate_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
                .map_err(|e| failed(&e))?
                .as_ref()
                .to_vec()
        }
        Algorithm::EdDsa => Ed25519KeyPair::generate_pkcs8(&rng)
            .map_err(|e| failed(&e))?
            .as_ref()
            .to_vec(),
        Algorithm::Rs256 => {
            use rsa::pkcs8::EncodePrivateKey;
            let key = rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, RSA_BITS)
                .map_err(|e| failed(&e))?;
            key.to_pkcs8_der()
                .map_err(|e| failed(&e))?
                .as_bytes()
                .to_vec()
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verify(alg: Algorithm, jwk: &PublicJwk, message: &[u8], sig: &[u8]) -> bool {
        let d = |s: &Option<String>| URL_SAFE_NO_PAD.decode(s.as_deref().unwrap()).unwrap();
        match alg {
            Algorithm::Es256 => {
                let mut point = vec![4];
                point.extend(d(&jwk.x));
                point.extend(d(&jwk.y));
                signature::UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point)
                    .verify(message, sig)
                    .is_ok()
            }
            Algorithm::EdDsa => signature::UnparsedPublicKey::new(&signature::ED25519, d(&jwk.x))
                .verify(message, sig)
                .is_ok(),
            Algorithm::Rs256 => signature::RsaPublicKeyComponents {
                n: d(&jwk.n),
                e: d(&jwk.e),
            }
            .verify(&signature::RSA_PKCS1_2048_8192_SHA256, message, sig)
            .is_ok(),
        }
    }

    #[test]
    fn every_algorithm_signs_what_its_public_jwk_verifies() {
        let rng = SystemRandom::new();
        for alg in [Algorithm::Es256, Algorithm::EdDsa, Algorithm::Rs256] {
            let key = generate(alg).unwrap();
            let signer = Signer::from_pkcs8(alg, &key.pkcs8).unwrap();
            let sig = signer.sign(&rng, b"hello").unwrap();
            assert!(verify(alg, &signer.public_jwk(), b"hello", &sig), "{alg:?}");
            assert!(
                !verify(alg, &signer.public_jwk(), b"hellO", &sig),
                "{alg:?}"
            );
        }
    }

    #[test]
    fn public_jwk_has_no_private_members() {
        for alg in [Algorithm::Es256, Algorithm::EdDsa, Algorithm::Rs256] {
            let key = generate(alg).unwrap();
            let jwk: serde_json::Value = serde_json::from_str(&key.public_jwk).unwrap();
            for private in ["d", "p", "q", "dp", "dq", "qi", "k"] {
                assert!(jwk.get(private).is_none(), "{alg:?} has {private}");
            }
            assert_eq!(jwk["kid"], key.kid.as_str());
            assert_eq!(jwk["alg"], alg.as_str());
            assert_eq!(jwk["use"], "sig");
        }
    }

    #[test]
    fn thumbprint_matches_rfc_7638_section_3_1_example() {
        // The RSA key of RFC 7638 §3.1, whose thumbprint the RFC gives.
        let jwk = PublicJwk {
            crv: None,
            e: Some("AQAB".into()),
            kty: "RSA",
            n: Some(concat!(
                "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tS",
                "oc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65Y",
                "GjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdk",
                "t-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqD",
                "Kgw"
            ).into()),
            x: None,
            y: None,
        };
        assert_eq!(
            jwk.thumbprint(),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
    }
}
