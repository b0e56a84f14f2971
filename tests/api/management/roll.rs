//! Rolling a key's secret on the same Client ID: both secrets during the overlap, on every
//! node; the old one refused on the very next request after the roll is finished or the overlap
//! ends, even for a request that was already waiting for a hash; over HTTP and the CLI.

use std::time::{Duration, Instant};

use futures::future::join_all;
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{AUDIENCE, Key, TestApp, basic};

const GRANT: &str = "grant_type=client_credentials";

/// `key` with `secret` instead of its own.
fn with_secret(key: &Key, secret: &str) -> Key {
    Key {
        client_secret: secret.to_string(),
        ..key.clone()
    }
}

/// The status of a token request with `key` at `token_url`.
/// The status of a token request at `token_url`. A 503 (`temporarily_unavailable`: the server
/// asks the client to retry, as when a hash waited past its slot time on a starved machine) is
/// retried twice, as a client would; any other answer, a refusal included, is returned as is.
async fn status_at(app: &TestApp, token_url: &str, key: &Key) -> u16 {
    let mut status = 0;
    for _ in 0..3 {
        status = app
            .http
            .post(token_url)
            .header("authorization", basic(&key.client_id, &key.client_secret))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(GRANT)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16();
        if status != 503 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    status
}

async fn roll(
    app: &TestApp,
    token: &str,
    key: &Key,
    body: Option<Value>,
) -> crate::helpers::ApiResponse {
    let path = format!("/api/teams/acme/keys/{}/roll", key.client_id);
    app.api(Method::POST, &path, Some(token), body).await
}

async fn finish(app: &TestApp, token: &str, key: &Key) -> crate::helpers::ApiResponse {
    let path = format!("/api/teams/acme/keys/{}/previous-secret", key.client_id);
    app.api(Method::DELETE, &path, Some(token), None).await
}

async fn both_secrets_work_on_every_node_until_the_roll_is_finished(app: TestApp) {
    let node = app.start_node(&[]).await;
    let urls = [
        app.token_url(),
        format!("http://{}/api/oauth/token", node.addr),
    ];
    let admin = app.admin_key().await;
    let token = app.management_token(&admin, None).await;
    let key = app.create_key(&[]).await;
    assert_eq!(
        app.post_token(&key, GRANT).await.status(),
        200,
        "proven: cached"
    );

    let rolled = roll(&app, &token, &key, None).await;
    assert_eq!(rolled.status, 200, "{}", rolled.text);
    assert_eq!(rolled.header("cache-control"), "no-store");
    assert_eq!(
        rolled.body["client_id"],
        key.client_id.as_str(),
        "the same Client ID"
    );
    let new_secret = rolled.body["client_secret"].as_str().unwrap().to_string();
    assert!(new_secret.starts_with("dh_secret_") && new_secret != key.client_secret);
    let until = rolled.body["previous_secret_expires_at"].as_str().unwrap();
    let until = chrono::DateTime::parse_from_rfc3339(until).unwrap();
    let hours = (until.to_utc() - chrono::Utc::now()).num_minutes();
    assert!(
        (23 * 60..=24 * 60).contains(&hours),
        "a 24 h overlap by default: {hours} min"
    );
    let new = with_secret(&key, &new_secret);

    for url in &urls {
        for _ in 0..2 {
            assert_eq!(
                status_at(&app, url, &key).await,
                200,
                "the old secret at {url}"
            );
            assert_eq!(
                status_at(&app, url, &new).await,
                200,
                "the new secret at {url}"
            );
        }
    }
    let issued = app.token(&new, GRANT).await;
    let claims = app
        .verify(issued["access_token"].as_str().unwrap(), AUDIENCE)
        .await
        .unwrap();
    assert_eq!(claims["sub"], key.client_id.as_str(), "sub is unchanged");

    // The new secret belongs to this key alone.
    let other = app.create_key(&[]).await;
    assert_eq!(
        app.post_token(&with_secret(&other, &new_secret), GRANT)
            .await
            .status(),
        401
    );

    let listed = app
        .api(
            Method::GET,
            &format!("/api/teams/acme/keys/{}", key.client_id),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(
        listed.body["previous_secret_expires_at"],
        rolled.body["previous_secret_expires_at"]
    );
    assert!(!listed.text.contains(&new_secret) && !listed.text.contains(&key.client_secret));

    let finished = finish(&app, &token, &key).await;
    assert_eq!(finished.status, 204, "{}", finished.text);
    for url in &urls {
        assert_eq!(
            status_at(&app, url, &key).await,
            401,
            "the old secret, very next request, {url}"
        );
        assert_eq!(status_at(&app, url, &new).await, 200);
    }
    finish(&app, &token, &key)
        .await
        .assert_problem(404, "not_found");
    let listed = app
        .api(
            Method::GET,
            &format!("/api/teams/acme/keys/{}", key.client_id),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(listed.body["previous_secret_expires_at"], Value::Null);

    let audit = app
        .api(
            Method::GET,
            "/api/teams/acme/audit?limit=50",
            Some(&token),
            None,
        )
        .await;
    for action in ["api_key.roll", "api_key.roll_finish"] {
        assert!(
            audit.body["items"]
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["action"] == action && e["target"] == key.client_id.as_str()),
            "{action}: {}",
            audit.text
        );
    }
    assert!(!audit.text.contains(&new_secret) && !audit.text.contains(&key.client_secret));
    let log = node.stop().await;
    assert!(!log.contains(&new_secret) && !log.contains(&key.client_secret));
}

async fn the_old_secret_stops_when_the_overlap_ends_and_a_second_roll_ends_it(app: TestApp) {
    let admin = app.admin_key().await;
    let token = app.management_token(&admin, None).await;
    let key = app.create_key(&[]).await;
    let rolled = roll(&app, &token, &key, Some(json!({"overlap": "2s"}))).await;
    assert_eq!(rolled.status, 200, "{}", rolled.text);
    let second = with_secret(&key, rolled.body["client_secret"].as_str().unwrap());
    assert_eq!(
        app.post_token(&key, GRANT).await.status(),
        200,
        "in the overlap"
    );
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(
        app.post_token(&key, GRANT).await.status(),
        401,
        "past the overlap"
    );
    assert_eq!(app.post_token(&second, GRANT).await.status(), 200);

    // At most two secrets: a roll during an overlap ends the older secret at once.
    let again = roll(&app, &token, &second, None).await;
    let third = with_secret(&key, again.body["client_secret"].as_str().unwrap());
    let fourth = roll(&app, &token, &third, None).await;
    let fourth = with_secret(&key, fourth.body["client_secret"].as_str().unwrap());
    assert_eq!(
        app.post_token(&second, GRANT).await.status(),
        401,
        "the oldest of three"
    );
    assert_eq!(
        app.post_token(&third, GRANT).await.status(),
        200,
        "the previous"
    );
    assert_eq!(
        app.post_token(&fourth, GRANT).await.status(),
        200,
        "the current"
    );

    // No overlap: the old secret ends when the roll returns.
    let now = roll(&app, &token, &key, Some(json!({"overlap": "0s"}))).await;
    assert_eq!(
        now.body["previous_secret_expires_at"],
        Value::Null,
        "{}",
        now.text
    );
    assert_eq!(app.post_token(&fourth, GRANT).await.status(), 401);

    for bad in [
        json!({"overlap": "31d"}),
        json!({"overlap": "-1s"}),
        json!({"overlap": "soon"}),
        json!({"overlap": 5}),
        json!({"overlap": "99999999999999d"}),
        json!({"colour": "red"}),
    ] {
        roll(&app, &token, &key, Some(bad))
            .await
            .assert_problem(400, "invalid_request");
    }
}

async fn only_the_keys_own_team_rolls_it(app: TestApp) {
    let key = app.create_key(&[]).await;
    let beta = app.create_key_in("beta", &["keys:write"]).await;
    let beta_token = app.management_token(&beta, None).await;
    let path = format!("/api/teams/beta/keys/{}/roll", key.client_id);
    app.api(Method::POST, &path, Some(&beta_token), None)
        .await
        .assert_problem(404, "not_found");
    let finish = format!("/api/teams/beta/keys/{}/previous-secret", key.client_id);
    app.api(Method::DELETE, &finish, Some(&beta_token), None)
        .await
        .assert_problem(404, "not_found");
    roll(&app, &beta_token, &key, None)
        .await
        .assert_problem(403, "insufficient_scope");
    let reader = app.create_key_in("acme", &["keys:read"]).await;
    let reader_token = app.management_token(&reader, None).await;
    roll(&app, &reader_token, &key, None)
        .await
        .assert_problem(403, "insufficient_scope");
    assert_eq!(
        app.post_token(&key, GRANT).await.status(),
        200,
        "nothing changed"
    );
}

async fn the_cli_rolls_prints_the_secret_once_and_finishes(app: TestApp) {
    let key = app.create_key(&[]).await;
    let rolled = app
        .cli_json(&["keys", "roll", &key.client_id, "--overlap", "1h"])
        .await;
    let secret = rolled["client_secret"].as_str().unwrap().to_string();
    assert_eq!(rolled["client_id"], key.client_id.as_str());
    assert!(rolled["previous_secret_expires_at"].is_string(), "{rolled}");
    assert_eq!(
        app.post_token(&with_secret(&key, &secret), GRANT)
            .await
            .status(),
        200
    );
    assert_eq!(app.post_token(&key, GRANT).await.status(), 200);
    let table = app.cli_ok(&["keys", "list", "--team", "acme"]).await;
    assert!(
        !table.contains(&secret) && table.contains("OLD SECRET UNTIL"),
        "{table}"
    );
    let printed = app.cli_ok(&["keys", "roll", &key.client_id]).await;
    assert!(
        printed.contains("New client secret:") && printed.contains("--finish"),
        "{printed}"
    );
    let finished = app
        .cli_ok(&["keys", "roll", "--finish", &key.client_id])
        .await;
    assert!(finished.contains("finished"), "{finished}");
    let again = app.cli(&["keys", "roll", "--finish", &key.client_id]).await;
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("no previous secret"));
    let bad = app
        .cli(&["keys", "roll", &key.client_id, "--overlap", "40d"])
        .await;
    assert!(String::from_utf8_lossy(&bad.stderr).contains("at most 30days"));
    let both = app
        .cli(&[
            "keys",
            "roll",
            &key.client_id,
            "--overlap",
            "1h",
            "--finish",
        ])
        .await;
    assert!(
        !both.status.success(),
        "--overlap and --finish exclude each other"
    );
}

/// The review's attack on deletion, on a finished roll: a request with the old secret reads
/// the key, then waits for a hash behind a flood of wrong secrets while the roll is finished.
/// Once the finish has returned, it must get no token.
async fn a_request_waiting_with_the_old_secret_gets_no_token_after_finish(app: TestApp) {
    let admin = app.admin_key().await;
    let token = app.management_token(&admin, None).await;
    for _ in 0..3 {
        let victim = app.create_key(&[]).await;
        let rolled = roll(&app, &token, &victim, None).await;
        assert_eq!(rolled.status, 200);
        let flooded = app.create_key(&[]).await;
        let wrong = with_secret(&flooded, &app.create_key(&[]).await.client_secret);
        let url = app.token_url();
        let flood = join_all((0..60).map(|_| status_at(&app, &url, &wrong)));
        let waiting = async {
            tokio::time::sleep(Duration::from_millis(100)).await;
            let status = status_at(&app, &url, &victim).await;
            (Instant::now(), status)
        };
        let finishing = async {
            tokio::time::sleep(Duration::from_millis(150)).await;
            let started = Instant::now();
            let done = finish(&app, &token, &victim).await;
            assert_eq!(done.status, 204, "{}", done.text);
            (started, Instant::now())
        };
        let (_, (answered_at, status), (started, finished_at)) =
            tokio::join!(flood, waiting, finishing);
        if answered_at > finished_at {
            assert_ne!(
                status, 200,
                "a token for the old secret after the finish returned"
            );
        }
        if answered_at > started && status != 200 {
            assert!([401, 503].contains(&status), "{status}");
            return;
        }
    }
    panic!("in three runs the old secret's request was never answered after the finish began");
}

/// A roll commits, then waits for the token path's leases before it answers. If the caller's
/// own key is deleted in that wait, the new secret is not shown (401): the deletion may return
/// before the roll's answer would have left. The roll itself stands, the previous secret keeps
/// working through its overlap, and the key's owner can roll again.
async fn a_roll_whose_callers_key_is_deleted_before_it_answers_shows_no_secret(app: TestApp) {
    let admin = app.admin_key().await;
    let admin_token = app.management_token(&admin, None).await;
    let roller = app.create_key_in("acme", &["keys:write"]).await;
    let roller_token = app.management_token(&roller, None).await;
    let victim = app.create_key(&[]).await;
    let rolling = async {
        let rolled = roll(&app, &roller_token, &victim, None).await;
        (Instant::now(), rolled)
    };
    let deleting = async {
        let key_path = format!("/api/teams/acme/keys/{}", victim.client_id);
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let key = app
                .api(Method::GET, &key_path, Some(&admin_token), None)
                .await;
            if key.body["previous_secret_expires_at"].is_string() {
                break;
            }
            assert!(Instant::now() < deadline, "the roll never committed");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let committed_seen = Instant::now();
        let roller_path = format!("/api/teams/acme/keys/{}", roller.client_id);
        let deleted = app
            .api(Method::DELETE, &roller_path, Some(&admin_token), None)
            .await;
        assert_eq!(deleted.status, 204, "{}", deleted.text);
        committed_seen
    };
    let ((answered_at, rolled), committed_seen) = tokio::join!(rolling, deleting);
    assert!(
        answered_at > committed_seen,
        "the roll answered before its commit was seen: the test cannot tell"
    );
    assert_eq!(rolled.status, 401, "{}", rolled.text);
    assert!(rolled.body.get("secret").is_none(), "{}", rolled.text);
    assert_eq!(
        status_at(&app, &app.token_url(), &victim).await,
        200,
        "the previous secret works through the overlap"
    );
}

backend_tests!(
    a_roll_whose_callers_key_is_deleted_before_it_answers_shows_no_secret,
    both_secrets_work_on_every_node_until_the_roll_is_finished,
    the_old_secret_stops_when_the_overlap_ends_and_a_second_roll_ends_it,
    only_the_keys_own_team_rolls_it,
    the_cli_rolls_prints_the_secret_once_and_finishes,
);

mod queued {
    use super::*;
    backend_tests_with!(
        [("TOKENMINT_RATE_LIMIT__FAILED_AUTH_PER_MINUTE", "100000")],
        a_request_waiting_with_the_old_secret_gets_no_token_after_finish
    );
}
