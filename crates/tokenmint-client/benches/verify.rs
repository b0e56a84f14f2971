//! Verifier benchmarks (not run in CI; `cargo bench -p tokenmint-client`).
//!
//! - `verify/ring_es256`: the floor — ring's ES256 signature check of the signing input alone.
//! - `verify/jsonwebtoken_decode`: jsonwebtoken's decode with a parsed key (what a hand-rolled
//!   verifier pays: base64, JSON, signature, exp/iss/aud).
//! - `verify/verifier_warm`: [`Verifier::verify`] with a warm JWKS — the overhead on top of the
//!   floor is the header read, the cache look-up and the typed claims.
//! - `kid_spray/unknown_kid`: a verification of a token naming a random kid (after the first,
//!   no fetch); at the end the JWKS request count is checked: at most one per refetch interval.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../tests/support/mod.rs"]
mod support;

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use criterion::{Criterion, criterion_group, criterion_main};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use ring::signature::{ECDSA_P256_SHA256_FIXED, UnparsedPublicKey};
use support::{AUDIENCE, ISSUER, Published, serve, test_key, token};
use tokenmint_client::{AccessClaims, Verifier, VerifyError};

fn verify(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let key = test_key("bench");
    let published = Published::default();
    published.keys.lock().unwrap().push(key.jwk.clone());
    published.max_age.store(3600, Ordering::SeqCst);
    let base = runtime.block_on(serve(published.clone()));
    let jwt = token(&key);
    let verifier = verifier(&base, Duration::from_secs(60));
    runtime.block_on(verifier.verify(&jwt)).unwrap();

    let (signing_input, signature) = jwt.rsplit_once('.').unwrap();
    let signature = B64.decode(signature).unwrap();
    let public = UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, key.public.clone());
    let decoding = DecodingKey::from_ec_components(
        key.jwk["x"].as_str().unwrap(),
        key.jwk["y"].as_str().unwrap(),
    )
    .unwrap();
    let mut validation = Validation::new(Algorithm::ES256);
    validation.set_issuer(&[ISSUER]);
    validation.set_audience(&[AUDIENCE]);

    let mut group = c.benchmark_group("verify");
    group.bench_function("ring_es256", |b| {
        b.iter(|| public.verify(signing_input.as_bytes(), &signature).unwrap())
    });
    group.bench_function("jsonwebtoken_decode", |b| {
        b.iter(|| jsonwebtoken::decode::<AccessClaims>(&jwt, &decoding, &validation).unwrap())
    });
    group.bench_function("verifier_warm", |b| {
        b.to_async(&runtime)
            .iter(|| async { verifier.verify(&jwt).await.unwrap() })
    });
    group.finish();
    assert_eq!(
        published.requests.load(Ordering::SeqCst),
        1,
        "one JWKS fetch in all"
    );
}

fn kid_spray(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let key = test_key("real");
    let published = Published::default();
    published.keys.lock().unwrap().push(key.jwk.clone());
    published.max_age.store(3600, Ordering::SeqCst);
    let base = runtime.block_on(serve(published.clone()));
    let interval = Duration::from_secs(1);
    let verifier = verifier(&base, interval);
    runtime.block_on(verifier.verify(&token(&key))).unwrap();
    let claims = token(&key).split('.').nth(1).unwrap().to_string();
    let before = published.requests.load(Ordering::SeqCst);
    let started = Instant::now();
    let mut n: u64 = 0;
    c.bench_function("kid_spray/unknown_kid", |b| {
        b.to_async(&runtime).iter(|| {
            n += 1;
            let header = format!(r#"{{"alg":"ES256","typ":"at+jwt","kid":"spray-{n}"}}"#);
            let forged = format!("{}.{claims}.{}", B64.encode(header), B64.encode([1u8; 64]));
            let verifier = verifier.clone();
            async move {
                let refused = verifier.verify(&forged).await;
                assert!(matches!(refused, Err(VerifyError::UnknownKeyId { .. })));
            }
        })
    });
    let elapsed = started.elapsed();
    let fetches = published.requests.load(Ordering::SeqCst) - before;
    let intervals = (elapsed.as_secs_f64() / interval.as_secs_f64()).ceil() as usize;
    println!(
        "kid_spray: {n} random-kid tokens over {elapsed:.1?} ({intervals} intervals of {interval:?}) \
         cost {fetches} JWKS fetches"
    );
    assert!(fetches <= intervals, "more than one fetch per interval");
}

fn verifier(base: &str, refetch_interval: Duration) -> Verifier {
    Verifier::from_jwks_url(&format!("{base}/jwks"))
        .unwrap()
        .issuer(ISSUER)
        .audience(AUDIENCE)
        .refetch_interval(refetch_interval)
        .build()
        .unwrap()
}

criterion_group!(benches, verify, kid_spray);
criterion_main!(benches);
