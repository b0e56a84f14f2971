//! Who may reveal, rotate and sign with a team's webhook secrets; bad input; the audit log.

use reqwest::Method;
use serde_json::json;

use super::{caller, reveal, sign};
use crate::helpers::{Key, TestApp};

async fn webhook_secrets_are_kept_within_their_team_and_scope(app: TestApp) {
    let (_, keys_writer) = caller(&app, "acme", &["keys:write"]).await;
    let (_, reader) = caller(&app, "acme", &["webhooks:read"]).await;
    let (_, worker) = caller(&app, "acme", &["webhooks:sign"]).await;
    let (_, other_writer) = caller(&app, "beta", &["webhooks:write"]).await;
    let (_, admin) = caller(&app, "ops", &["admin"]).await;
    let get = |path: &'static str, token: &str| {
        let token = token.to_string();
        let app = &app;
        async move { app.api(Method::GET, path, Some(&token), None).await }
    };
    let secret_path = "/api/teams/acme/webhook-secret";
    for token in [&keys_writer, &worker, &other_writer] {
        get(secret_path, token)
            .await
            .assert_problem(403, "insufficient_scope");
    }
    let rotate = "/api/teams/acme/webhook-secret/rotate";
    for token in [&reader, &worker, &other_writer, &keys_writer] {
        app.post_api(rotate, token, json!({}))
            .await
            .assert_problem(403, "insufficient_scope");
        app.api(
            Method::DELETE,
            "/api/teams/acme/webhook-secret/previous",
            Some(token),
            None,
        )
        .await
        .assert_problem(403, "insufficient_scope");
    }
    for token in [&reader, &keys_writer, &other_writer] {
        app.post_api(
            "/api/teams/acme/webhooks/sign",
            token,
            json!({"payload": "x"}),
        )
        .await
        .assert_problem(403, "insufficient_scope");
    }
    app.post_api(
        "/api/teams/beta/webhooks/sign",
        &worker,
        json!({"payload": "x"}),
    )
    .await
    .assert_problem(403, "insufficient_scope");
    get("/api/teams/beta/webhook-secret", &reader)
        .await
        .assert_problem(403, "insufficient_scope");

    let acme = reveal(&app, "acme", &reader).await;
    let beta = reveal(&app, "beta", &admin).await;
    assert_ne!(
        acme["secret"], beta["secret"],
        "every team has its own secret"
    );
    let forbidden = get(secret_path, &worker).await;
    assert!(!forbidden.text.contains(acme["secret"].as_str().unwrap()));
    sign(&app, "beta", &admin, json!({"payload": "x"})).await;
    get("/api/teams/nope/webhook-secret", &admin)
        .await
        .assert_problem(404, "not_found");
    get("/api/teams/NO%00PE/webhook-secret", &admin)
        .await
        .assert_problem(404, "not_found");
    app.post_api(
        "/api/teams/nope/webhooks/sign",
        &admin,
        json!({"payload": "x"}),
    )
    .await
    .assert_problem(404, "not_found");
    let anonymous = app.api(Method::GET, secret_path, None, None).await;
    assert_eq!(anonymous.status, 401);
}

async fn bad_sign_and_rotate_input_is_a_400_problem(app: TestApp) {
    let (_, admin) = caller(&app, "ops", &["admin"]).await;
    let sign_path = "/api/teams/ops/webhooks/sign";
    let long_id = "m".repeat(257);
    for body in [
        json!({"payload": "x", "id": ""}),
        json!({"payload": "x", "id": "has space"}),
        json!({"payload": "x", "id": "line\nbreak"}),
        json!({"payload": "x", "id": long_id}),
        json!({"payload": "x", "timestamp": -1}),
        json!({"payload": "x", "timestamp": 253_402_300_800_i64}),
        json!({"payload": "x", "timestamp": i64::MAX}),
        json!({"payload": "x", "timestamp": "soon"}),
        json!({"payload": "x", "timestamp": 1e300}),
        json!({"payload": 5}),
        json!({"id": "msg_1"}),
        json!({"payload": "x", "extra": true}),
    ] {
        let response = app.post_api(sign_path, &admin, body.clone()).await;
        assert_eq!(response.status, 400, "{body}: {}", response.text);
    }
    let rotate = "/api/teams/ops/webhook-secret/rotate";
    for overlap in ["31d", "abc", "-1h", "99999999999999999999d", ""] {
        let response = app
            .post_api(rotate, &admin, json!({"overlap": overlap}))
            .await;
        assert_eq!(response.status, 400, "{overlap}: {}", response.text);
    }
    let empty = app
        .post_api(sign_path, &admin, json!({"payload": ""}))
        .await;
    assert_eq!(empty.status, 200, "an empty payload is signed too");
    app.api(
        Method::DELETE,
        "/api/teams/ops/webhook-secret/previous",
        Some(&admin),
        None,
    )
    .await
    .assert_problem(404, "not_found");
}

async fn every_reveal_rotation_and_revocation_is_audited_without_the_secret(app: TestApp) {
    let (admin_key, admin) = caller(&app, "ops", &["admin"]).await;
    let shown = reveal(&app, "ops", &admin).await;
    let rotated = app
        .post_api("/api/teams/ops/webhook-secret/rotate", &admin, json!({}))
        .await;
    app.api(
        Method::DELETE,
        "/api/teams/ops/webhook-secret/previous",
        Some(&admin),
        None,
    )
    .await;
    let audit = app
        .api(Method::GET, "/api/teams/ops/audit", Some(&admin), None)
        .await;
    let actions: Vec<&str> = audit.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["actor"] == admin_key.client_id.as_str())
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "webhook_secret.revoke_previous",
            "webhook_secret.rotate",
            "webhook_secret.reveal",
            "webhook_secret.create"
        ]
    );
    for secret in [&shown["secret"], &rotated.body["secret"]] {
        let secret = secret.as_str().unwrap();
        assert!(!audit.text.contains(secret.trim_start_matches("whsec_")));
    }
}

backend_tests!(
    webhook_secrets_are_kept_within_their_team_and_scope,
    bad_sign_and_rotate_input_is_a_400_problem,
    every_reveal_rotation_and_revocation_is_audited_without_the_secret,
);

/// The attack the token endpoint already resists, on the routes that answer without writing:
/// a caller's request is checked, then waits for the database — here for `table`, which this
/// test holds locked on PostgreSQL — while the caller's key is deleted through the API. Once
/// the deletion has returned, the waiting request gets nothing (401), while a kept caller's
/// request, waiting beside it, is answered. `request` sends one request with a token.
async fn a_deleted_callers_waiting_request_gets_nothing<F, Fut>(
    app: &TestApp,
    table: &str,
    victim: (&Key, &str),
    kept: &str,
    request: F,
) where
    F: Fn(String) -> Fut,
    Fut: std::future::Future<Output = reqwest::Response> + Send + 'static,
{
    use sqlx::Connection;
    use std::time::{Duration, Instant};
    let (_, deleter) = caller(app, "ops", &["admin"]).await;
    let mut holder = sqlx::PgConnection::connect(app.database_url())
        .await
        .unwrap();
    let mut held = holder.begin().await.unwrap();
    sqlx::query(&format!("LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE"))
        .execute(&mut *held)
        .await
        .unwrap();
    let send = |token: &str| {
        let response = request(token.to_string());
        tokio::spawn(async move {
            let response = response.await;
            let status = response.status().as_u16();
            (Instant::now(), status, response.text().await.unwrap())
        })
    };
    let waiting = send(victim.1);
    let kept = send(kept);
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(
        !waiting.is_finished() && !kept.is_finished(),
        "both requests wait for {table}"
    );
    let path = format!(
        "/api/teams/{}/keys/{}",
        victim.0.json["team"].as_str().unwrap(),
        victim.0.client_id
    );
    let deleted = app.api(Method::DELETE, &path, Some(&deleter), None).await;
    assert_eq!(deleted.status, 204, "{}", deleted.text);
    let deleted_at = Instant::now();
    held.commit().await.unwrap();
    let (answered_at, status, body) = waiting.await.unwrap();
    assert!(
        answered_at > deleted_at,
        "answered after the deletion returned"
    );
    assert_eq!(
        status, 401,
        "{table}: answered after the deletion returned: {body}"
    );
    assert!(body.contains("invalid_token"), "{body}");
    let (_, status, body) = kept.await.unwrap();
    assert_eq!(
        status, 200,
        "{table}: the kept caller waited as long and is answered: {body}"
    );
}

/// A delivery worker whose signing request waits (the node's memory of the team's secrets,
/// `signing.refresh`, has run out, so it reads them) while its key is deleted gets no
/// signature; nor does an admin whose listing of the signing keys, or whose rotation with
/// nothing to do, waits.
#[tokio::test]
async fn a_caller_deleted_while_its_request_waits_gets_no_signature_and_no_listing() {
    use crate::helpers::Backend;
    let app = TestApp::spawn_with(Backend::Postgres, &[("TOKENMINT_SIGNING__REFRESH", "1s")]).await;
    let (worker, worker_token) = caller(&app, "acme", &["webhooks:sign"]).await;
    let (_, kept_worker) = caller(&app, "acme", &["webhooks:sign"]).await;
    for token in [&worker_token, &kept_worker] {
        sign(&app, "acme", token, json!({"payload": "warm"})).await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(1_200)).await;
    let url = format!("{}/api/teams/acme/webhooks/sign", app.base);
    let http = app.http.clone();
    let signing = move |token: String| {
        let request = http
            .post(&url)
            .bearer_auth(token)
            .json(&json!({"payload": "{\"after\":\"the deletion\"}"}));
        async move { request.send().await.unwrap() }
    };
    a_deleted_callers_waiting_request_gets_nothing(
        &app,
        "webhook_secrets",
        (&worker, &worker_token),
        &kept_worker,
        signing,
    )
    .await;

    let (admin, admin_token) = caller(&app, "ops", &["admin"]).await;
    let (_, kept_admin) = caller(&app, "ops", &["admin"]).await;
    let url = format!("{}/api/admin/signing-keys", app.base);
    let http = app.http.clone();
    let listing = move |token: String| {
        let request = http.get(&url).bearer_auth(token);
        async move { request.send().await.unwrap() }
    };
    a_deleted_callers_waiting_request_gets_nothing(
        &app,
        "signing_keys",
        (&admin, &admin_token),
        &kept_admin,
        listing,
    )
    .await;

    // A rotation with nothing to do (the next key is already published) writes nothing, so no
    // transaction checks its caller: its answer must not leave after the deletion either.
    let (admin, admin_token) = caller(&app, "ops", &["admin"]).await;
    let (_, kept_admin) = caller(&app, "ops", &["admin"]).await;
    let first = app
        .api(
            Method::POST,
            "/api/admin/signing-keys/rotate",
            Some(&admin_token),
            None,
        )
        .await;
    assert_eq!(first.status, 200, "{}", first.text);
    let url = format!("{}/api/admin/signing-keys/rotate", app.base);
    let http = app.http.clone();
    let rotating = move |token: String| {
        let request = http.post(&url).bearer_auth(token);
        async move { request.send().await.unwrap() }
    };
    a_deleted_callers_waiting_request_gets_nothing(
        &app,
        "signing_keys",
        (&admin, &admin_token),
        &kept_admin,
        rotating,
    )
    .await;
}
