//! The verifier's JWKS cache against the real issuer: a `rotate --now` picked up with no failed
//! request, an outage ridden out until max-age and then reported, and a kid-spray that costs at
//! most one JWKS request per interval.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use futures::future::join_all;
use tokenmint_client::VerifyError;

use super::*;
use crate::helpers::{CuttableProxy, jwt_header};

const JWKS_REQUESTS: &str = "tokenmint_jwks_requests_total";

/// A client keeps calling the monitors API, each time with a freshly issued token, while the
/// signing key is rotated with `--now`: every call succeeds, and calls with the new kid happen.
async fn rotate_now_is_picked_up_without_a_failed_request(app: TestApp) {
    let verifier = verifier_at(&jwks_url(&app), Duration::from_secs(60));
    verifier.warm_up().await.unwrap();
    let base = serve_monitors(verifier.clone()).await;
    let key = app.create_key(&[]).await;
    let probe = app.create_key_in("globex", &[]).await;
    let old_kid = jwt_header(&token_for(&app, &key, "").await)["kid"].clone();
    let app = Arc::new(app);
    let stop = Arc::new(AtomicBool::new(false));
    let client = {
        let (app, stop, base) = (Arc::clone(&app), Arc::clone(&stop), base.clone());
        tokio::spawn(async move {
            let mut seen = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let token = token_for(&app, &key, "").await;
                let status = reqwest::Client::new()
                    .get(format!("{base}/monitors"))
                    .bearer_auth(&token)
                    .send()
                    .await
                    .unwrap()
                    .status();
                seen.push((jwt_header(&token)["kid"].clone(), status.as_u16()));
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            seen
        })
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rotated = app.cli_json(&["signing-keys", "rotate", "--now"]).await;
    let new_kid = rotated["kid"].clone();
    assert_ne!(new_kid, old_kid);
    let switched = app
        .eventually(Duration::from_secs(15), || async {
            jwt_header(&token_for(&app, &probe, "").await)["kid"] == new_kid
        })
        .await;
    assert!(switched, "the issuer signs with the new key");
    tokio::time::sleep(Duration::from_millis(800)).await;
    stop.store(true, Ordering::Relaxed);
    let seen = client.await.unwrap();
    let failed: Vec<_> = seen.iter().filter(|(_, status)| *status != 200).collect();
    assert!(
        failed.is_empty(),
        "failed requests during the rotation: {failed:?}"
    );
    assert!(seen.iter().any(|(kid, _)| *kid == old_kid), "{seen:?}");
    assert!(seen.iter().any(|(kid, _)| *kid == new_kid), "{seen:?}");
}

/// The JWKS behind a proxy that is cut: the cached keys verify until max-age (2 s here), then
/// the verifier says the keys are unavailable (and the API answers 503); when the JWKS is back,
/// the cache is revalidated with `If-None-Match` and tokens verify again.
async fn a_jwks_outage_is_ridden_out_until_max_age(app: TestApp) {
    let upstream = app.base.trim_start_matches("http://").parse().unwrap();
    let proxy = CuttableProxy::start(upstream).await;
    let url = format!("http://127.0.0.1:{}/.well-known/jwks.json", proxy.port);
    let verifier = verifier_at(&url, Duration::from_secs(60));
    let base = serve_monitors(verifier.clone()).await;
    let token = token_for(&app, &app.create_key(&[]).await, "").await;
    assert!(verifier.verify(&token).await.is_ok());
    let fetched = tokio::time::Instant::now();
    proxy.cut();
    assert!(
        verifier.verify(&token).await.is_ok(),
        "cached keys verify during the outage"
    );
    tokio::time::sleep_until(fetched + Duration::from_millis(2300)).await;
    match verifier.verify(&token).await {
        Err(VerifyError::JwksUnavailable(why)) => assert!(why.contains(&url), "{why}"),
        other => panic!("past max-age, an unreachable JWKS is an error: {other:?}"),
    }
    let answer = reqwest::Client::new()
        .get(format!("{base}/monitors"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(
        answer.status(),
        503,
        "the resource server's side, not the token's fault"
    );
    proxy.restore();
    let not_modified_before = counter(&app, &format!("{JWKS_REQUESTS}{{status=\"304\"}}")).await;
    let back = app
        .eventually(Duration::from_secs(5), || async {
            verifier.verify(&token).await.is_ok()
        })
        .await;
    assert!(back, "tokens verify again once the JWKS answers");
    let not_modified = counter(&app, &format!("{JWKS_REQUESTS}{{status=\"304\"}}")).await;
    assert_eq!(
        not_modified,
        not_modified_before + 1,
        "revalidated with If-None-Match"
    );
}

/// Tokens naming random kids (forged; they would fail the signature anyway): however many, at
/// once or spread out, they cost at most one JWKS request per refetch interval.
async fn a_kid_spray_costs_at_most_one_fetch_per_interval(app: TestApp) {
    let interval = Duration::from_secs(1);
    let verifier = verifier_at(&jwks_url(&app), interval);
    let valid = token_for(&app, &app.create_key(&[]).await, "").await;
    assert!(verifier.verify(&valid).await.is_ok());
    let server_before = counter(&app, JWKS_REQUESTS).await;
    let client_before = verifier.jwks_fetch_count();
    let claims = valid.split('.').nth(1).unwrap().to_string();
    let forged = |n: usize| {
        let header = format!(
            r#"{{"alg":"ES256","typ":"at+jwt","kid":"spray-{n}-{}"}}"#,
            rand_suffix()
        );
        format!("{}.{claims}.{}", B64.encode(header), B64.encode([7u8; 64]))
    };
    let started = tokio::time::Instant::now();
    let mut sent = 0;
    for _round in 0..3 {
        let spray = (sent..sent + 500).map(|n| {
            let token = forged(n);
            let verifier = verifier.clone();
            async move { verifier.verify(&token).await }
        });
        for result in join_all(spray).await {
            assert!(
                matches!(result, Err(VerifyError::UnknownKeyId { .. })),
                "{result:?}"
            );
        }
        sent += 500;
        tokio::time::sleep(Duration::from_millis(400)).await;
    }
    let elapsed = started.elapsed();
    let intervals = elapsed.as_secs_f64() / interval.as_secs_f64();
    let allowed = intervals.ceil() as u64;
    let by_client = verifier.jwks_fetch_count() - client_before;
    let by_server = counter(&app, JWKS_REQUESTS).await - server_before;
    assert_eq!(
        by_client, by_server,
        "the server saw every fetch the verifier counted"
    );
    assert!(
        (1..=allowed).contains(&by_server),
        "{sent} random kids over {elapsed:?} ({intervals:.1} intervals) cost {by_server} fetches"
    );
    assert!(
        verifier.verify(&valid).await.is_ok(),
        "real tokens still verify"
    );
}

fn rand_suffix() -> u64 {
    use std::hash::{BuildHasher, RandomState};
    RandomState::new().hash_one(std::time::SystemTime::now())
}

backend_tests!(rotate_now_is_picked_up_without_a_failed_request);

/// Storage plays no part in the cache's behaviour: once, on SQLite.
mod storage_free {
    use super::*;

    storage_free_tests!(a_kid_spray_costs_at_most_one_fetch_per_interval);
}

/// A JWKS max-age of two seconds.
mod short_max_age {
    use super::*;

    storage_free_tests_with!(
        [("TOKENMINT_SIGNING__JWKS_MAX_AGE", "2s")],
        a_jwks_outage_is_ridden_out_until_max_age
    );
}
