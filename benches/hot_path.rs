//! The pieces of the token path, one by one, for the ceiling of what a core can do:
//! `cargo bench --bench hot_path`.
//!
//! - `sign_token`: claims to JSON and an ES256 (and EdDSA, RS256) JWS with the decoded key;
//! - `verify_cached_credential`: what a warm request spends proving its secret (keyed digest and
//!   cache lookup, no argon2);
//! - `credential_lookup_sqlite`: the one indexed read a request makes;
//! - `token_request_in_process`: the whole grant (parse, authenticate, narrow, sign), no HTTP.

// A failed unwrap or assertion is how a test (or a benchmark set-up) fails.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use tokenmint::audit::Actor;
use tokenmint::config::Config;
use tokenmint::oauth::credentials::ClientSecret;
use tokenmint::oauth::grant::TokenIssuer;
use tokenmint::oauth::request::TokenParams;
use tokenmint::oauth::usage::UsageRecorder;
use tokenmint::oauth::verifier::{SecretVerifier, hash_secret};
use tokenmint::signing::Algorithm;
use tokenmint::signing::keyring::{Keyring, KeyringHandle};

const CLAIMS: &str = r#"{"iss":"https://issuer.example","sub":"dh_live_6D9Fy1xFvX1TrkpdKAvi1e","aud":"https://api.example.com","exp":1795532637,"iat":1795446237,"jti":"3b16765592c24aa089316c8576bf7970","client_id":"dh_live_6D9Fy1xFvX1TrkpdKAvi1e","scope":"monitors:read monitors:write logs:read settings:read settings:write","team":"acme","env":"live"}"#;

fn keyring(alg: Algorithm) -> Keyring {
    Keyring::with_one_key(alg, tokenmint::store::now())
        .unwrap()
        .0
}

fn sign_token(c: &mut Criterion) {
    for alg in [Algorithm::Es256, Algorithm::EdDsa, Algorithm::Rs256] {
        let ring = keyring(alg);
        let active = ring.current.clone().unwrap();
        c.bench_function(&format!("sign_token/{}", alg.as_str()), |b| {
            b.iter(|| active.sign_jwt(CLAIMS.as_bytes()).unwrap())
        });
    }
}

fn verify_cached_credential(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let secret = ClientSecret::generate("dh").unwrap();
    let phc = hash_secret(&secret).unwrap();
    let verifier = SecretVerifier::new(2, Duration::from_secs(5)).unwrap();
    let miss = verifier.cached("dh_live_x", &secret, &phc).unwrap_err();
    assert!(
        rt.block_on(verifier.hash("dh_live_x", &secret, &phc, miss))
            .unwrap()
            .is_valid()
    );
    c.bench_function("verify_cached_credential", |b| {
        b.iter(|| verifier.cached("dh_live_x", &secret, &phc).unwrap())
    });
}

/// A store with one team and one key, in a temporary folder.
async fn store_with_key(
    dir: &std::path::Path,
) -> (
    Arc<dyn tokenmint::store::Store>,
    Config,
    String,
    ClientSecret,
) {
    let mut config = Config::default();
    config.database.url = format!("sqlite://{}/bench.db", dir.display());
    let store = tokenmint::store::open(&config.database).await.unwrap();
    let now = tokenmint::store::now();
    tokenmint::manage::create_team(store.as_ref(), &Actor::Cli, "acme", None, now)
        .await
        .unwrap();
    let request = tokenmint::manage::NewKeyRequest {
        team: "acme".into(),
        label: "bench".into(),
        scopes: vec![],
        expires_in: None,
        env: tokenmint::oauth::credentials::KeyEnv::Live,
        token_ttl: None,
        token_requests_per_second: None,
    };
    let created =
        tokenmint::manage::create_api_key(store.as_ref(), &Actor::Cli, &config, request, now)
            .await
            .unwrap();
    (store, config, created.key.client_id, created.secret)
}

fn credential_lookup_sqlite(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (store, _, client_id, _) = rt.block_on(store_with_key(dir.path()));
    let client_id = tokenmint::domain::ClientId::parse(&client_id).unwrap();
    c.bench_function("credential_lookup_sqlite", |b| {
        b.iter(|| rt.block_on(store.credential(&client_id)).unwrap().unwrap())
    });
}

fn token_request_in_process(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (store, config, client_id, secret) = rt.block_on(store_with_key(dir.path()));
    let verifier = SecretVerifier::new(2, Duration::from_secs(5)).unwrap();
    let handle = KeyringHandle::new(keyring(Algorithm::Es256));
    let issuer = TokenIssuer::new(
        &config,
        store,
        verifier,
        UsageRecorder::default(),
        handle,
        Arc::default(),
    );
    let params = TokenParams {
        grant_type: Some("client_credentials".into()),
        client_id: Some(client_id),
        client_secret: Some(secret.expose().to_string()),
        ..TokenParams::default()
    };
    c.bench_function("token_request_in_process", |b| {
        b.iter(|| {
            rt.block_on(issuer.issue(&params, &[], std::net::Ipv4Addr::LOCALHOST.into()))
                .unwrap()
        })
    });
}

criterion_group! {
    name = hot_path;
    config = Criterion::default().measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));
    targets = sign_token, verify_cached_credential, credential_lookup_sqlite, token_request_in_process
}
criterion_main!(hot_path);
