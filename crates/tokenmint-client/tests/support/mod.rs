//! What tests and benchmarks share: ES256 test keys, tokens signed with them, and a local JWKS
//! endpoint (with RFC 8414 metadata) whose answers and request count the caller sees.

#![allow(dead_code)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use serde_json::{Value, json};

pub const ISSUER: &str = "https://issuer.test";
pub const AUDIENCE: &str = "https://api.example.com";

/// An ES256 signing key: its JWK and what signs with it.
pub struct TestKey {
    pub kid: String,
    pub jwk: Value,
    pub encoding: EncodingKey,
    /// The uncompressed public point, for raw ring verification.
    pub public: Vec<u8>,
}

pub fn test_key(kid: &str) -> TestKey {
    let rng = SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
    let pair =
        EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng).unwrap();
    let point = pair.public_key().as_ref();
    let jwk = json!({"kty": "EC", "crv": "P-256", "alg": "ES256", "use": "sig", "kid": kid,
                     "x": B64.encode(&point[1..33]), "y": B64.encode(&point[33..65])});
    let encoding = EncodingKey::from_ec_der(pkcs8.as_ref());
    TestKey {
        kid: kid.into(),
        jwk,
        encoding,
        public: point.to_vec(),
    }
}

pub fn token(key: &TestKey) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let mut header = Header::new(Algorithm::ES256);
    header.typ = Some("at+jwt".into());
    header.kid = Some(key.kid.clone());
    let claims = json!({"iss": ISSUER, "sub": "dh_live_a", "aud": AUDIENCE, "iat": now,
        "exp": now + 60, "jti": "j", "client_id": "dh_live_a", "scope": "monitors:read",
        "team": "acme", "env": "live"});
    jsonwebtoken::encode(&header, &claims, &key.encoding).unwrap()
}

/// The endpoint: the published JWKs, a max-age, and a count of requests (and of 304s).
#[derive(Clone, Default)]
pub struct Published {
    pub keys: Arc<Mutex<Vec<Value>>>,
    pub requests: Arc<AtomicUsize>,
    pub not_modified: Arc<AtomicUsize>,
    pub delay_ms: Arc<AtomicUsize>,
    /// The max-age sent; 0 means 1 second.
    pub max_age: Arc<AtomicUsize>,
}

async fn jwks(State(p): State<Published>, headers: HeaderMap) -> Response {
    p.requests.fetch_add(1, Ordering::SeqCst);
    // A slow endpoint, so that concurrent callers really overlap.
    tokio::time::sleep(Duration::from_millis(
        p.delay_ms.load(Ordering::SeqCst) as u64
    ))
    .await;
    let body = json!({"keys": *p.keys.lock().unwrap()}).to_string();
    let etag = format!("\"{}\"", body.len());
    let cache = [
        (
            header::CACHE_CONTROL,
            format!(
                "public, max-age={}",
                p.max_age.load(Ordering::SeqCst).max(1)
            ),
        ),
        (header::ETAG, etag.clone()),
    ];
    if headers
        .get(header::IF_NONE_MATCH)
        .is_some_and(|v| v.to_str().unwrap() == etag)
    {
        p.not_modified.fetch_add(1, Ordering::SeqCst);
        return (StatusCode::NOT_MODIFIED, cache).into_response();
    }
    (cache, body).into_response()
}

pub async fn serve(published: Published) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let metadata = json!({"issuer": ISSUER, "jwks_uri": format!("{base}/jwks"),
                          "token_endpoint": format!("{base}/token")});
    let app = Router::new()
        .route("/jwks", get(jwks))
        .route(
            "/.well-known/oauth-authorization-server",
            get(move || async move { axum::Json(metadata) }),
        )
        .with_state(published);
    tokio::spawn(async move { axum::serve(listener, app).await });
    base
}
