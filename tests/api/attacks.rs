//! The attacks of the adversarial review, performed against the real server: each shows a
//! promise that must hold under attack, not only on the happy path.

use std::time::{Duration, Instant};

use futures::future::join_all;
use serde_json::Value;

use crate::helpers::{Key, TestApp, basic};

/// A form body asking for the default token.
const GRANT: &str = "grant_type=client_credentials";
/// Token requests whose credential was read again before signing.
const REREADS: &str = "tokenmint_credential_rereads_total";

/// `key` with another key's secret: well formed (so it costs a hash) and wrong.
async fn with_wrong_secret(app: &TestApp, key: &Key) -> Key {
    Key {
        client_secret: app.create_key(&[]).await.client_secret,
        ..key.clone()
    }
}

/// `count` token requests with `key` at once; their statuses.
async fn burst(app: &TestApp, key: &Key, count: usize) -> Vec<u16> {
    let requests = (0..count).map(|_| app.post_token(key, GRANT));
    join_all(requests)
        .await
        .iter()
        .map(|r| r.status().as_u16())
        .collect()
}

/// A counter's value in the `/metrics` text of the server at `base` (0 when absent).
pub(crate) async fn metric(app: &TestApp, base: &str, series: &str) -> u64 {
    let url = format!("{base}/metrics");
    let text = app
        .http
        .get(url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
        .unwrap_or(0)
}

mod deletion_is_final {
    use super::*;

    /// Lets a flood of wrong secrets queue for hashes, then a request of a never-cached key
    /// behind them, all sent to `token_url`; deletes the key meanwhile (through this app's
    /// management API) and checks that the waiting request, answered after DELETE returned,
    /// got no token. Returns its status: 401, or 503 when it never got a hashing slot.
    async fn delete_while_a_request_waits(app: &TestApp, token_url: &str) -> u16 {
        let admin = app.admin_key().await;
        let admin_token = app.management_token(&admin, None).await;
        let victim = app.create_key(&[]).await;
        let flooded = app.create_key(&[]).await;
        let wrong = with_wrong_secret(app, &flooded).await;
        let post = |key: &Key| {
            app.http
                .post(token_url)
                .header("authorization", basic(&key.client_id, &key.client_secret))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(GRANT)
                .send()
        };
        let flood = join_all((0..60).map(|_| post(&wrong)));
        let waiting = async {
            tokio::time::sleep(Duration::from_millis(100)).await;
            let response = post(&victim).await.unwrap();
            let status = response.status().as_u16();
            (Instant::now(), status, response.text().await.unwrap())
        };
        let delete = async {
            tokio::time::sleep(Duration::from_millis(150)).await;
            let started = Instant::now();
            let path = format!("/api/teams/acme/keys/{}", victim.client_id);
            let deleted = app
                .api(reqwest::Method::DELETE, &path, Some(&admin_token), None)
                .await;
            assert_eq!(deleted.status, 204, "{}", deleted.text);
            (started, Instant::now())
        };
        let (_, (answered_at, status, body), (delete_started, deleted_at)) =
            tokio::join!(flood, waiting, delete);
        assert!(
            answered_at > delete_started,
            "the request was answered before the deletion began, so this run proves nothing: \
             the flood was too short ({status} {body})"
        );
        // Answered while DELETE was still settling, a token would be allowed (its read may
        // predate the commit); answered after DELETE returned, never.
        if answered_at > deleted_at {
            assert_ne!(
                status, 200,
                "a token was signed after DELETE returned: {body}"
            );
        }
        if status == 200 {
            return status;
        }
        let error: Value = serde_json::from_str(&body).unwrap();
        match status {
            401 => assert_eq!(error["error"], "invalid_client"),
            // The flood outlasted the wait for a hashing slot: no token either.
            503 => assert_eq!(error["error"], "temporarily_unavailable"),
            other => panic!("unexpected {other}: {body}"),
        }
        status
    }

    /// The review's attack: a never-cached key's request reads its row, then waits for a hash
    /// slot behind a flood of wrong secrets; the key is deleted meanwhile. Once DELETE has
    /// returned, the waiting request must get no token.
    async fn a_key_deleted_while_its_request_waits_for_a_hash_gets_no_token(app: TestApp) {
        waits_then_is_refused(&app, &app.token_url(), &app.base).await;
    }

    /// Runs the attack until a run's refusal came from reading the credential again (the
    /// request read the row before the deletion and waited); a run whose request was first read
    /// after the deletion (a busy machine) proves nothing and is run again. Every run checks
    /// that no token was signed once DELETE returned.
    async fn waits_then_is_refused(app: &TestApp, url: &str, base: &str) {
        for _ in 0..3 {
            let before = metric(app, base, REREADS).await;
            let status = delete_while_a_request_waits(app, url).await;
            if status != 401 || metric(app, base, REREADS).await > before {
                return;
            }
        }
        panic!("in three runs the waiting request was never read before the deletion");
    }

    /// The same with the request waiting on another node than the one that deletes.
    async fn a_key_deleted_on_one_node_gets_no_token_on_another(app: TestApp) {
        let node = app
            .start_node(&[("TOKENMINT_RATE_LIMIT__FAILED_AUTH_PER_MINUTE", "100000")])
            .await;
        let base = format!("http://{}", node.addr);
        let url = format!("{base}/api/oauth/token");
        waits_then_is_refused(&app, &url, &base).await;
        node.stop().await;
    }

    /// The same from the cached path: a proven key, deleted, is refused on the next request.
    async fn a_cached_key_is_refused_on_the_request_after_delete_returns(app: TestApp) {
        let key = app.create_key(&[]).await;
        assert_eq!(app.post_token(&key, GRANT).await.status(), 200);
        app.cli_ok(&["keys", "delete", &key.client_id]).await;
        let statuses = burst(&app, &key, 20).await;
        assert!(statuses.iter().all(|s| *s == 401), "{statuses:?}");
    }

    backend_tests_with!(
        [("TOKENMINT_RATE_LIMIT__FAILED_AUTH_PER_MINUTE", "100000")],
        a_key_deleted_while_its_request_waits_for_a_hash_gets_no_token,
        a_key_deleted_on_one_node_gets_no_token_on_another,
        a_cached_key_is_refused_on_the_request_after_delete_returns
    );
}

mod hash_allowance {
    use super::*;

    /// The review's attack: 60 concurrent wrong secrets for a live Client ID from one address
    /// were all hashed. The allowance is taken before hashing, so at most the limit are.
    async fn concurrent_wrong_secrets_hash_at_most_the_allowance(app: TestApp) {
        let key = app.create_key(&[]).await;
        let wrong = with_wrong_secret(&app, &key).await;
        let statuses = burst(&app, &wrong, 60).await;
        let refused = statuses.iter().filter(|s| **s == 401).count();
        let limited = statuses.iter().filter(|s| **s == 429).count();
        assert_eq!((refused, limited), (10, 50), "{statuses:?}");
        assert_eq!(
            metric(
                &app,
                &app.base,
                "tokenmint_credential_verifications_total{result=\"invalid\"}"
            )
            .await,
            10,
            "hashes of wrong secrets"
        );
        // The right secret from the same address still needs a hash: it waits its turn too.
        assert_eq!(app.post_token(&key, GRANT).await.status(), 429);
    }

    /// A right secret gives its hash back: clients behind one address keep authenticating.
    async fn right_secrets_do_not_spend_the_allowance(app: TestApp) {
        let mut keys = Vec::new();
        for _ in 0..4 {
            keys.push(app.create_key(&[]).await);
        }
        for key in &keys {
            assert_eq!(app.post_token(key, GRANT).await.status(), 200);
        }
        let wrong = with_wrong_secret(&app, &keys[0]).await;
        let mut statuses = burst(&app, &wrong, 3).await;
        statuses.sort_unstable();
        assert_eq!(statuses, [401, 401, 429]);
    }

    backend_tests_with!(
        [("TOKENMINT_RATE_LIMIT__FAILED_AUTH_PER_MINUTE", "10")],
        concurrent_wrong_secrets_hash_at_most_the_allowance
    );

    mod small {
        use super::*;
        backend_tests_with!(
            [("TOKENMINT_RATE_LIMIT__FAILED_AUTH_PER_MINUTE", "2")],
            right_secrets_do_not_spend_the_allowance
        );
    }
}

mod scope_parsing {
    use super::*;

    /// About 8,000 distinct scope tokens: what the review sent with fake credentials.
    fn huge_scope() -> String {
        let tokens: Vec<String> = (0..8_000).map(|i| format!("s{i}")).collect();
        format!("{GRANT}&scope={}", tokens.join("+"))
    }

    /// Scope is parsed after the client authenticates, and the number of tokens is capped.
    async fn a_huge_scope_list_is_refused_and_strangers_get_invalid_client(app: TestApp) {
        let key = app.create_key(&[]).await;
        let stranger = Key {
            client_id: "dh_live_0000000000000000000000".into(),
            ..key.clone()
        };
        let response = app.post_token(&stranger, &huge_scope()).await;
        assert_eq!(response.status(), 401);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"], "invalid_client");

        let response = app.post_token(&key, &huge_scope()).await;
        assert_eq!(response.status(), 400);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"], "invalid_scope");
        assert!(
            body["error_description"]
                .as_str()
                .unwrap()
                .contains("at most"),
            "{body}"
        );

        // Repeats are one scope: 5,000 of a held scope is a valid request.
        let repeated = format!("{GRANT}&scope={}", "logs:read+".repeat(5_000));
        let token = app.token(&key, &repeated).await;
        assert_eq!(token["scope"], "logs:read");
    }

    storage_free_tests!(a_huge_scope_list_is_refused_and_strangers_get_invalid_client);
}

mod key_changes {
    use super::*;

    /// `keys:write` may not delete a key of its team that holds a scope it lacks (`admin`).
    async fn keys_write_cannot_delete_its_teams_admin_key(app: TestApp) {
        let admin = app.create_key_in("acme", &["admin"]).await;
        let writer = app.create_key_in("acme", &["keys:write"]).await;
        let token = app.management_token(&writer, None).await;
        let path = format!("/api/teams/acme/keys/{}", admin.client_id);
        let refused = app
            .api(reqwest::Method::DELETE, &path, Some(&token), None)
            .await;
        refused.assert_problem(403, "insufficient_scope");
        assert!(refused.body["detail"].as_str().unwrap().contains("admin"));
        assert!(
            refused
                .header("www-authenticate")
                .contains("insufficient_scope"),
            "RFC 6750 §3.1"
        );
        // Still there, still working.
        app.management_token(&admin, None).await;
        // A key the writer could have made itself it may delete.
        let product = app.create_key_in("acme", &["logs:read"]).await;
        let path = format!("/api/teams/acme/keys/{}", product.client_id);
        let deleted = app
            .api(reqwest::Method::DELETE, &path, Some(&token), None)
            .await;
        assert_eq!(deleted.status, 204, "{}", deleted.text);
        // And the admin may delete the writer.
        let admin_token = app.management_token(&admin, None).await;
        let path = format!("/api/teams/acme/keys/{}", writer.client_id);
        let deleted = app
            .api(reqwest::Method::DELETE, &path, Some(&admin_token), None)
            .await;
        assert_eq!(deleted.status, 204, "{}", deleted.text);
    }

    backend_tests!(keys_write_cannot_delete_its_teams_admin_key);
}
