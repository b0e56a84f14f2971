//! The token source against the real issuer: one token request per token lifetime however many
//! tasks ask at once, counted by the issuer's own metrics; refusals come back typed.

use futures::future::join_all;
use tokenmint_client::token_source::TokenError;
use tokenmint_client::{BearerAuth, TokenSource};

use super::*;

const TOKEN_REQUESTS: &str = "tokenmint_token_requests_total";

/// Tokens live 4 s; the source renews them 1 s before expiry.
async fn concurrent_callers_share_one_request_per_lifetime(app: TestApp) {
    let key = app.create_key(&[]).await;
    let source = TokenSource::builder(&app.token_url(), &key.client_id, &key.client_secret)
        .scope("monitors:read")
        .margin(Duration::from_secs(1))
        .build()
        .unwrap();
    let before = counter(&app, TOKEN_REQUESTS).await;
    let burst = || {
        join_all((0..32).map(|_| {
            let source = source.clone();
            async move { source.token().await.unwrap().as_str().to_string() }
        }))
    };
    let first = burst().await;
    assert!(
        first.iter().all(|t| *t == first[0]),
        "every caller got the same token"
    );
    assert_eq!(
        counter(&app, TOKEN_REQUESTS).await - before,
        1,
        "one request for 32 callers"
    );
    let verifier = verifier_at(&jwks_url(&app), Duration::from_secs(60));
    let claims = verifier.verify(&first[0]).await.unwrap();
    assert_eq!(claims.scope, "monitors:read");
    assert_eq!(burst().await[0], first[0], "still cached");
    assert_eq!(counter(&app, TOKEN_REQUESTS).await - before, 1);
    tokio::time::sleep(Duration::from_millis(3200)).await;
    let second = burst().await;
    assert!(second.iter().all(|t| *t == second[0]));
    assert_ne!(second[0], first[0], "renewed within the margin");
    assert_eq!(
        counter(&app, TOKEN_REQUESTS).await - before,
        2,
        "one more for the next lifetime"
    );
    assert_eq!(source.request_count(), 2);
}

async fn the_reqwest_helper_sends_the_bearer_token(app: TestApp) {
    let key = app.create_key(&[]).await;
    let source = TokenSource::builder(&app.token_url(), &key.client_id, &key.client_secret)
        .build()
        .unwrap();
    let base = serve_monitors(verifier_at(&jwks_url(&app), Duration::from_secs(60))).await;
    let response = reqwest::Client::new()
        .get(format!("{base}/monitors"))
        .bearer_from(&source)
        .await
        .unwrap()
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

async fn a_deleted_key_is_refused_without_the_secret_in_sight(app: TestApp) {
    let key = app.create_key(&[]).await;
    app.cli_ok(&["keys", "delete", &key.client_id]).await;
    let source = TokenSource::builder(&app.token_url(), &key.client_id, &key.client_secret)
        .build()
        .unwrap();
    let error = source.token().await.unwrap_err();
    assert!(
        matches!(&error, TokenError::Refused { status: 401, error, .. } if error == "invalid_client"),
        "{error:?}"
    );
    for text in [
        format!("{error:?}"),
        error.to_string(),
        format!("{source:?}"),
    ] {
        assert!(!text.contains(&key.client_secret), "{text}");
    }
    assert!(format!("{source:?}").contains("[redacted]"));
}

/// The issuer rate-limits one Client ID at 20/s (burst 40); a source asked 50 times in a row
/// after each invalidation gets 429s, waits as `Retry-After` says, and still gets its tokens.
async fn a_rate_limited_source_backs_off_and_recovers(app: TestApp) {
    let key = app.create_key(&[]).await;
    let source = TokenSource::builder(&app.token_url(), &key.client_id, &key.client_secret)
        .retries(10, Duration::from_secs(5))
        .build()
        .unwrap();
    for _ in 0..50 {
        source.invalidate().await;
        source.token().await.unwrap();
    }
    assert!(
        source.request_count() > 50,
        "some requests were retried after a 429"
    );
}

backend_tests_with!(
    [("TOKENMINT_TOKEN__TTL", "4s")],
    concurrent_callers_share_one_request_per_lifetime,
);

mod default_settings {
    use super::*;

    storage_free_tests!(
        the_reqwest_helper_sends_the_bearer_token,
        a_deleted_key_is_refused_without_the_secret_in_sight,
        a_rate_limited_source_backs_off_and_recovers,
    );
}
