//! The JWKS cache against a local JWKS endpoint whose answers the test controls: single flight
//! on a cold cache, `max-age` honoured, `If-None-Match` revalidation, a key published later
//! found through the unknown-kid refetch, and RFC 8414 discovery.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::sync::atomic::Ordering;
use std::time::Duration;

use futures::future::join_all;
use support::{AUDIENCE, ISSUER, Published, serve, test_key, token};
use tokenmint_client::{Verifier, VerifyError};

fn verifier(base: &str) -> Verifier {
    Verifier::from_jwks_url(&format!("{base}/jwks"))
        .unwrap()
        .issuer(ISSUER)
        .audience(AUDIENCE)
        .refetch_interval(Duration::from_secs(60))
        .build()
        .unwrap()
}

#[tokio::test]
async fn a_cold_cache_fetches_once_for_many_concurrent_callers() {
    let key = test_key("k1");
    let published = Published::default();
    published.delay_ms.store(50, Ordering::SeqCst);
    published.keys.lock().unwrap().push(key.jwk.clone());
    let verifier = verifier(&serve(published.clone()).await);
    let token = token(&key);
    let results = join_all((0..200).map(|_| verifier.verify(&token))).await;
    assert!(results.iter().all(Result::is_ok), "{:?}", results[0]);
    assert_eq!(published.requests.load(Ordering::SeqCst), 1);
    assert_eq!(verifier.jwks_fetch_count(), 1);
}

#[tokio::test]
async fn max_age_runs_out_and_the_cache_is_revalidated() {
    let key = test_key("k1");
    let published = Published::default();
    published.delay_ms.store(50, Ordering::SeqCst);
    published.keys.lock().unwrap().push(key.jwk.clone());
    let verifier = verifier(&serve(published.clone()).await);
    let token = token(&key);
    verifier.verify(&token).await.unwrap();
    verifier.verify(&token).await.unwrap();
    assert_eq!(
        published.requests.load(Ordering::SeqCst),
        1,
        "fresh for max-age=1"
    );
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let results = join_all((0..50).map(|_| verifier.verify(&token))).await;
    assert!(results.iter().all(Result::is_ok));
    assert_eq!(
        published.requests.load(Ordering::SeqCst),
        2,
        "one revalidation for all"
    );
    assert_eq!(
        published.not_modified.load(Ordering::SeqCst),
        1,
        "answered 304"
    );
}

#[tokio::test]
async fn a_key_published_later_is_found_then_misses_cool_down() {
    let (first, second) = (test_key("k1"), test_key("k2"));
    let published = Published::default();
    published.delay_ms.store(50, Ordering::SeqCst);
    published.keys.lock().unwrap().push(first.jwk.clone());
    let verifier = verifier(&serve(published.clone()).await);
    verifier.verify(&token(&first)).await.unwrap();
    published.keys.lock().unwrap().push(second.jwk.clone());
    verifier.verify(&token(&second)).await.unwrap();
    assert_eq!(
        published.requests.load(Ordering::SeqCst),
        2,
        "the miss refetched"
    );
    let third = test_key("k3");
    let third = token(&third);
    let misses = join_all((0..100).map(|_| verifier.verify(&third))).await;
    assert!(
        misses
            .iter()
            .all(|r| matches!(r, Err(VerifyError::UnknownKeyId { .. })))
    );
    assert_eq!(
        published.requests.load(Ordering::SeqCst),
        2,
        "k2's miss started the refetch interval: k3's misses within it fetch nothing"
    );
}

#[tokio::test]
async fn discovery_finds_the_jwks_and_checks_the_issuer() {
    let key = test_key("k1");
    let published = Published::default();
    published.delay_ms.store(50, Ordering::SeqCst);
    published.keys.lock().unwrap().push(key.jwk.clone());
    let base = serve(published.clone()).await;
    // The metadata names https://issuer.test; asked for another issuer, it is refused.
    let refused = Verifier::discover(&base).await.unwrap_err();
    assert!(refused.to_string().contains("issuer.test"), "{refused}");
    // A token signed by the right key but with an untrusted issuer fails at `iss`.
    let verifier = Verifier::from_jwks_url(&format!("{base}/jwks"))
        .unwrap()
        .issuer("https://elsewhere.test")
        .audience(AUDIENCE)
        .build()
        .unwrap();
    assert_eq!(
        verifier.verify(&token(&key)).await.unwrap_err(),
        VerifyError::Issuer
    );
}

#[test]
fn a_verifier_needs_an_issuer_and_an_audience() {
    let builder = || Verifier::from_jwks_url("http://127.0.0.1:1/jwks").unwrap();
    assert!(builder().audience(AUDIENCE).build().is_err());
    assert!(builder().issuer(ISSUER).build().is_err());
    assert!(Verifier::from_jwks_url("not a url").is_err());
}
