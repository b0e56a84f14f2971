//! Who may reveal, rotate and sign with a team's webhook secrets; bad input; the audit log.

use reqwest::Method;
use serde_json::json;

use super::{caller, reveal, sign};
use crate::helpers::TestApp;

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
