//! Rate limits: per Client ID, per address on failed authentication, trusted proxies.

use serde_json::Value;

use crate::helpers::{Key, TestApp, basic};

async fn assert_rate_limited(response: reqwest::Response) {
    assert_eq!(response.status(), 429);
    let retry_after: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry_after >= 1);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "temporarily_unavailable");
}

/// A key whose secret is another key's: well formed, so it costs a hash, and wrong.
async fn wrong_secret_for(app: &TestApp, key: &Key) -> Key {
    Key {
        client_secret: app.create_key(&[]).await.client_secret,
        ..key.clone()
    }
}

async fn post_from(app: &TestApp, key: &Key, forwarded_for: &str) -> reqwest::Response {
    app.http
        .post(app.token_url())
        .header("authorization", basic(&key.client_id, &key.client_secret))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-forwarded-for", forwarded_for)
        .body("grant_type=client_credentials")
        .send()
        .await
        .unwrap()
}

mod per_client {
    use super::*;

    async fn a_client_over_its_rate_gets_429_with_retry_after(app: TestApp) {
        let key = app.create_key(&[]).await;
        let other = app.create_key(&[]).await;
        for _ in 0..2 {
            assert_eq!(
                app.post_token(&key, "grant_type=client_credentials")
                    .await
                    .status(),
                200
            );
        }
        assert_rate_limited(app.post_token(&key, "grant_type=client_credentials").await).await;
        assert_eq!(
            app.post_token(&other, "grant_type=client_credentials")
                .await
                .status(),
            200,
            "per client"
        );
        // The refill after the wait is time passing: the limiter's unit tests drive it with a
        // hand-moved clock (oauth::rate_limit), so this test does not sleep.
    }

    backend_tests_with!(
        [("TOKENMINT_RATE_LIMIT__TOKEN_REQUESTS_PER_SECOND", "1")],
        a_client_over_its_rate_gets_429_with_retry_after
    );
}

mod failed_auth {
    use super::*;

    async fn an_address_that_fails_too_often_is_refused_before_hashing(app: TestApp) {
        let proven = app.create_key(&[]).await;
        assert_eq!(
            app.post_token(&proven, "grant_type=client_credentials")
                .await
                .status(),
            200
        );
        let fresh = app.create_key(&[]).await;
        let wrong = wrong_secret_for(&app, &fresh).await;
        for _ in 0..2 {
            assert_eq!(
                app.post_token(&wrong, "grant_type=client_credentials")
                    .await
                    .status(),
                401
            );
        }
        assert_rate_limited(
            app.post_token(&wrong, "grant_type=client_credentials")
                .await,
        )
        .await;
        // A never-proven credential would need a hash: refused while the allowance is spent.
        assert_rate_limited(
            app.post_token(&fresh, "grant_type=client_credentials")
                .await,
        )
        .await;
        // A credential proven before is not a guess: it keeps working from the same address.
        assert_eq!(
            app.post_token(&proven, "grant_type=client_credentials")
                .await
                .status(),
            200
        );
        let metrics = app.get("/metrics").await.text().await.unwrap();
        assert!(
            metrics.contains("tokenmint_token_requests_total{outcome=\"rate_limited\"} 2"),
            "{metrics}"
        );
    }

    async fn forwarded_for_is_ignored_from_untrusted_peers(app: TestApp) {
        let key = app.create_key(&[]).await;
        let wrong = wrong_secret_for(&app, &key).await;
        for _ in 0..2 {
            assert_eq!(post_from(&app, &wrong, "203.0.113.1").await.status(), 401);
        }
        // Claiming another address changes nothing: the peer is what counts.
        assert_rate_limited(post_from(&app, &key, "203.0.113.2").await).await;
    }

    backend_tests_with!(
        [("TOKENMINT_RATE_LIMIT__FAILED_AUTH_PER_MINUTE", "2")],
        an_address_that_fails_too_often_is_refused_before_hashing,
        forwarded_for_is_ignored_from_untrusted_peers
    );
}

mod trusted_proxy {
    use super::*;

    async fn behind_a_trusted_proxy_each_client_address_counts_alone(app: TestApp) {
        let key = app.create_key(&[]).await;
        let wrong = wrong_secret_for(&app, &key).await;
        for _ in 0..2 {
            assert_eq!(post_from(&app, &wrong, "203.0.113.1").await.status(), 401);
        }
        assert_rate_limited(post_from(&app, &key, "203.0.113.1").await).await;
        assert_eq!(
            post_from(&app, &key, "203.0.113.2").await.status(),
            200,
            "another client behind the proxy"
        );
    }

    backend_tests_with!(
        [
            ("TOKENMINT_RATE_LIMIT__FAILED_AUTH_PER_MINUTE", "2"),
            (
                "TOKENMINT_RATE_LIMIT__TRUSTED_PROXIES",
                "[\"127.0.0.1/32\"]"
            ),
        ],
        behind_a_trusted_proxy_each_client_address_counts_alone
    );
}

mod disabled {
    use super::*;

    async fn limits_can_be_turned_off(app: TestApp) {
        let key = app.create_key(&[]).await;
        let wrong = wrong_secret_for(&app, &key).await;
        for _ in 0..4 {
            assert_eq!(
                app.post_token(&wrong, "grant_type=client_credentials")
                    .await
                    .status(),
                401
            );
        }
        for _ in 0..4 {
            assert_eq!(
                app.post_token(&key, "grant_type=client_credentials")
                    .await
                    .status(),
                200
            );
        }
    }

    backend_tests_with!(
        [
            ("TOKENMINT_RATE_LIMIT__ENABLED", "false"),
            ("TOKENMINT_RATE_LIMIT__FAILED_AUTH_PER_MINUTE", "1"),
            ("TOKENMINT_RATE_LIMIT__TOKEN_REQUESTS_PER_SECOND", "1"),
        ],
        limits_can_be_turned_off
    );
}

mod connections {
    use std::time::Duration;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;

    use crate::helpers::TestApp;

    async fn get_healthz(stream: &mut TcpStream) -> String {
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let mut buf = [0u8; 512];
        let n = stream.read(&mut buf).await.unwrap();
        String::from_utf8_lossy(&buf[..n]).to_string()
    }

    /// Two idle keep-alive connections hold both slots: a third waits, and is served as soon
    /// as one of them closes.
    async fn connections_past_the_limit_wait_for_a_free_slot(app: TestApp) {
        let addr = app.base.trim_start_matches("http://").to_string();
        let mut first = TcpStream::connect(&addr).await.unwrap();
        let mut second = TcpStream::connect(&addr).await.unwrap();
        assert!(get_healthz(&mut first).await.starts_with("HTTP/1.1 200"));
        assert!(get_healthz(&mut second).await.starts_with("HTTP/1.1 200"));
        let mut third = TcpStream::connect(&addr).await.unwrap();
        let waiting =
            tokio::time::timeout(Duration::from_millis(500), get_healthz(&mut third)).await;
        assert!(
            waiting.is_err(),
            "a third connection is not served while two are open"
        );
        drop(first);
        let mut buf = [0u8; 512];
        let n = tokio::time::timeout(Duration::from_secs(5), third.read(&mut buf))
            .await
            .unwrap()
            .unwrap();
        assert!(
            String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"),
            "served once a slot frees"
        );
        drop(second);
    }

    backend_tests_with!(
        [("TOKENMINT_SERVER__MAX_CONNECTIONS", "2")],
        connections_past_the_limit_wait_for_a_free_slot
    );
}
