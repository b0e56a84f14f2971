//! Teams and API keys over HTTP: bootstrap, secrets shown once, deletion, the audit log, problem documents (RFC 9457).

use reqwest::Method;
use serde_json::{Value, json};

use super::{key_of, send_racing_413};
use crate::helpers::{AUDIENCE, ISSUER, TestApp};

async fn bootstrap_cli_admin_creates_a_team_and_a_key_whose_secret_gets_a_token(app: TestApp) {
    let admin = app.admin_key().await;
    let token = app.management_token(&admin, None).await;
    let claims = app
        .verify(&token, ISSUER)
        .await
        .expect("verifies for the issuer");
    assert_eq!(claims["scope"], "admin");
    assert_eq!(claims["aud"], ISSUER);
    let slash = app
        .token(
            &admin,
            &format!("grant_type=client_credentials&resource={ISSUER}/"),
        )
        .await;
    let with_slash = app
        .verify(slash["access_token"].as_str().unwrap(), ISSUER)
        .await;
    assert_eq!(
        with_slash.unwrap()["aud"],
        ISSUER,
        "the issuer with a trailing slash"
    );

    let team = app
        .post_api(
            "/api/teams",
            &token,
            json!({"slug": "acme", "name": "Acme Inc."}),
        )
        .await;
    assert_eq!(team.status, 201, "{}", team.text);
    assert_eq!(team.body["slug"], "acme");
    assert_eq!(team.body["name"], "Acme Inc.");

    let created = app
        .post_api(
            "/api/teams/acme/keys",
            &token,
            json!({"label": "ci-pipeline", "scopes": ["monitors:read"]}),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    assert_eq!(created.header("cache-control"), "no-store");
    let key = key_of(&created.body);
    assert_eq!(
        created.header("location"),
        format!("/api/teams/acme/keys/{}", key.client_id)
    );
    assert!(key.client_id.starts_with("dh_live_"));
    assert!(key.client_secret.starts_with("dh_secret_"));

    let issued = app.token(&key, "grant_type=client_credentials").await;
    let claims = app
        .verify(issued["access_token"].as_str().unwrap(), AUDIENCE)
        .await
        .expect("the new key's token verifies");
    assert_eq!(claims["team"], "acme");
    assert_eq!(claims["scope"], "monitors:read");

    // A test key with a lifetime, as the CLI's --test and --expires-in make.
    let body = json!({"label": "sandbox", "test": true, "expires_in": "12h"});
    let sandbox = app.post_api("/api/teams/acme/keys", &token, body).await;
    assert_eq!(sandbox.status, 201, "{}", sandbox.text);
    assert!(
        sandbox.body["client_id"]
            .as_str()
            .unwrap()
            .starts_with("dh_test_")
    );
    let at = |field: &str| {
        chrono::DateTime::parse_from_rfc3339(sandbox.body[field].as_str().unwrap()).unwrap()
    };
    assert_eq!((at("expires_at") - at("created_at")).num_hours(), 12);
    let issued = app
        .token(&key_of(&sandbox.body), "grant_type=client_credentials")
        .await;
    let claims = app
        .verify(issued["access_token"].as_str().unwrap(), AUDIENCE)
        .await;
    assert_eq!(claims.unwrap()["env"], "test");
}

async fn a_created_secret_never_appears_again(app: TestApp) {
    let admin = app.admin_key().await;
    let token = app.management_token(&admin, None).await;
    app.cli_ok(&["teams", "create", "acme"]).await;
    let created = app
        .post_api("/api/teams/acme/keys", &token, json!({"label": "svc"}))
        .await;
    let key = key_of(&created.body);
    let one = format!("/api/teams/acme/keys/{}", key.client_id);
    let mut seen = Vec::new();
    for path in [
        "/api/teams/acme/keys",
        one.as_str(),
        "/api/teams/acme/audit",
        "/api/admin/audit",
    ] {
        let response = app.api(Method::GET, path, Some(&token), None).await;
        assert_eq!(response.status, 200, "{path}: {}", response.text);
        seen.push(response.text);
    }
    let got = app.api(Method::GET, &one, Some(&token), None).await;
    assert_eq!(got.body["client_id"], key.client_id.as_str());
    assert!(got.body.get("client_secret").is_none());
    seen.push(
        app.cli_ok(&["keys", "list", "--team", "acme", "--json"])
            .await,
    );
    seen.push(app.cli_ok(&["audit", "--json"]).await);
    seen.push(app.cli_ok(&["audit"]).await);
    for text in seen {
        assert!(
            !text.contains(&key.client_secret),
            "the secret appeared again: {text}"
        );
        assert!(
            !text.contains("secret_hash") && !text.contains("$argon2"),
            "{text}"
        );
    }
}

async fn a_key_deleted_over_http_gets_no_token_on_the_very_next_request(app: TestApp) {
    let writer = app.create_key_in("acme", &["keys:write"]).await;
    let token = app.management_token(&writer, None).await;
    let key = app.create_key_in("acme", &[]).await;
    app.token(&key, "grant_type=client_credentials").await;
    let path = format!("/api/teams/acme/keys/{}", key.client_id);
    let deleted = app.api(Method::DELETE, &path, Some(&token), None).await;
    assert_eq!(deleted.status, 204, "{}", deleted.text);
    assert!(deleted.text.is_empty());
    let refused = app.post_token(&key, "grant_type=client_credentials").await;
    assert_eq!(refused.status(), 401);
    app.api(Method::GET, &path, Some(&token), None)
        .await
        .assert_problem(404, "not_found");
    // A DELETE answered "no such key" is final too: the key may have been deleted a moment
    // ago by a request still waiting out its settle time, so the 404 waits as long.
    let started = std::time::Instant::now();
    app.api(Method::DELETE, &path, Some(&token), None)
        .await
        .assert_problem(404, "not_found");
    assert!(
        started.elapsed() >= tokenmint::oauth::grant::DELETION_SETTLES,
        "a 404 from DELETE answered after {:?}",
        started.elapsed()
    );
}

/// Every change, from HTTP or the CLI, leaves exactly one audit row naming who, what and where.
async fn every_change_leaves_one_audit_row(app: TestApp) {
    let admin = app.admin_key().await;
    let token = app.management_token(&admin, None).await;
    let post =
        |path: &'static str, body: Value| app.api(Method::POST, path, Some(&token), Some(body));
    assert_eq!(
        post("/api/teams", json!({"slug": "acme"})).await.status,
        201
    );
    let created = post(
        "/api/teams/acme/keys",
        json!({"label": "svc", "expires_in": "30d"}),
    )
    .await;
    let key = key_of(&created.body);
    let delete = format!("/api/teams/acme/keys/{}", key.client_id);
    assert_eq!(
        app.api(Method::DELETE, &delete, Some(&token), None)
            .await
            .status,
        204
    );
    let rotated = app
        .api(
            Method::POST,
            "/api/admin/signing-keys/rotate",
            Some(&token),
            None,
        )
        .await;
    assert_eq!(rotated.status, 200, "{}", rotated.text);
    let next_kid = rotated.body["key"]["kid"].as_str().unwrap().to_string();
    let revoke = format!("/api/admin/signing-keys/{next_kid}/revoke");
    assert_eq!(
        app.api(Method::POST, &revoke, Some(&token), None)
            .await
            .status,
        200
    );
    let cli_key = app.create_key_in("acme", &[]).await;
    app.cli_ok(&["keys", "delete", &cli_key.client_id]).await;

    let all = app
        .api(
            Method::GET,
            "/api/admin/audit?limit=200",
            Some(&token),
            None,
        )
        .await;
    assert_eq!(all.status, 200, "{}", all.text);
    let events = all.body["items"].as_array().unwrap();
    let of = |action: &str, target: &str| -> Vec<&Value> {
        events
            .iter()
            .filter(|e| e["action"] == action && e["target"] == target)
            .collect()
    };
    let http_changes = [
        ("team.create", "acme"),
        ("api_key.create", key.client_id.as_str()),
        ("api_key.delete", key.client_id.as_str()),
        ("signing_keys.rotate", next_kid.as_str()),
        ("signing_key.revoke", next_kid.as_str()),
    ];
    for (action, target) in http_changes {
        let rows = of(action, target);
        assert_eq!(rows.len(), 1, "{action} {target}: {}", all.text);
        assert_eq!(rows[0]["actor"], admin.client_id.as_str());
        assert_eq!(rows[0]["source_ip"], "127.0.0.1");
        assert!(rows[0]["at"].is_string() && rows[0]["id"].is_i64());
    }
    for (action, target) in [
        ("api_key.create", &cli_key.client_id),
        ("api_key.delete", &cli_key.client_id),
    ] {
        let rows = of(action, target);
        assert_eq!(rows.len(), 1, "{action}: {}", all.text);
        assert_eq!(
            (&rows[0]["actor"], &rows[0]["source_ip"]),
            (&json!("cli"), &Value::Null)
        );
    }
    assert_eq!(of("api_key.create", &key.client_id)[0]["team"], "acme");
    assert_eq!(
        of("api_key.create", &key.client_id)[0]["detail"]["label"],
        "svc"
    );
    let ids: Vec<i64> = events.iter().map(|e| e["id"].as_i64().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[0] > w[1]), "newest first: {ids:?}");

    let team = app
        .api(Method::GET, "/api/teams/acme/audit", Some(&token), None)
        .await;
    let team_events = team.body["items"].as_array().unwrap();
    assert_eq!(team_events.len(), 5, "{}", team.text);
    assert!(team_events.iter().all(|e| e["team"] == "acme"));
    let cli = app.cli_json(&["audit", "--team", "acme"]).await;
    assert_eq!(cli.as_array().unwrap().len(), 5);
    assert_eq!(cli[0]["action"], "api_key.delete");
}

async fn malformed_bodies_unknown_fields_and_oversized_labels_get_400_problems(app: TestApp) {
    let admin = app.admin_key().await;
    let token = app.management_token(&admin, None).await;
    app.cli_ok(&["teams", "create", "acme"]).await;
    let raw = |path: &'static str, content_type: &'static str, body: String| {
        let request = app
            .http
            .post(format!("{}{path}", app.base))
            .bearer_auth(&token)
            .header("content-type", content_type)
            .body(body);
        async move { crate::helpers::ApiResponse::read(send_racing_413(request).await).await }
    };
    let keys = "/api/teams/acme/keys";
    let cases: Vec<(&str, String, u16, &str)> = vec![
        ("application/json", "{".into(), 400, "invalid_request"),
        ("application/json", "[]".into(), 400, "invalid_request"),
        ("application/json", "".into(), 400, "invalid_request"),
        (
            "application/json",
            r#"{"label":"x","colour":"red"}"#.into(),
            400,
            "invalid_request",
        ),
        (
            "application/json",
            r#"{"label":"x","label":"y"}"#.into(),
            400,
            "invalid_request",
        ),
        (
            "application/json",
            r#"{"label":7}"#.into(),
            400,
            "invalid_request",
        ),
        (
            "application/json",
            format!(r#"{{"label":"{}"}}"#, "x".repeat(201)),
            400,
            "invalid_request",
        ),
        (
            "application/json",
            r#"{"label":"a\nb"}"#.into(),
            400,
            "invalid_request",
        ),
        (
            "application/json",
            r#"{"label":" "}"#.into(),
            400,
            "invalid_request",
        ),
        (
            "application/json",
            r#"{"label":"x","scopes":["nope"]}"#.into(),
            400,
            "invalid_request",
        ),
        (
            "application/json",
            r#"{"label":"x","expires_in":"soon"}"#.into(),
            400,
            "invalid_request",
        ),
        (
            "application/json",
            r#"{"label":"x","expires_in":"0s"}"#.into(),
            400,
            "invalid_request",
        ),
        (
            "text/plain",
            r#"{"label":"x"}"#.into(),
            415,
            "unsupported_media_type",
        ),
        (
            "application/x-www-form-urlencoded",
            "label=x".into(),
            415,
            "unsupported_media_type",
        ),
        (
            "application/json",
            format!(r#"{{"label":"{}"}}"#, "x".repeat(70_000)),
            413,
            "invalid_request",
        ),
    ];
    for (content_type, body, status, error) in cases {
        let shown = body.chars().take(60).collect::<String>();
        let response = raw(keys, content_type, body).await;
        assert_eq!(
            response.status, status,
            "{content_type} {shown}: {}",
            response.text
        );
        response.assert_problem(status, error);
    }
    let teams: Vec<(String, u16, &str)> = vec![
        (r#"{"slug":"Not Valid"}"#.into(), 400, "invalid_request"),
        (r#"{"slug":"acme"}"#.into(), 409, "conflict"),
        (r#"{"slug":"ok","name":""}"#.into(), 400, "invalid_request"),
        (r#"{"name":"no slug"}"#.into(), 400, "invalid_request"),
    ];
    for (body, status, error) in teams {
        raw("/api/teams", "application/json", body)
            .await
            .assert_problem(status, error);
    }
    let get = |path: &'static str| app.api(Method::GET, path, Some(&token), None);
    for path in [
        "/api/teams?limit=0",
        "/api/teams?limit=201",
        "/api/teams?limit=many",
        "/api/teams?cursor=%%%",
        "/api/teams?cursor=bm9wZQ",
        "/api/teams?colour=red",
        "/api/teams/acme/keys?sort=name",
        "/api/teams/acme/keys?unused_since=yesterday",
    ] {
        get(path).await.assert_problem(400, "invalid_request");
    }
    get("/api/teams/nope")
        .await
        .assert_problem(404, "not_found");
    get("/api/teams/nope/keys")
        .await
        .assert_problem(404, "not_found");
    get("/api/teams/acme/nothing")
        .await
        .assert_problem(404, "not_found");
    let wrong_method = app.api(Method::PUT, "/api/teams", Some(&token), None).await;
    wrong_method.assert_problem(405, "invalid_request");
    assert!(wrong_method.header("allow").contains("GET"));
}

backend_tests!(
    bootstrap_cli_admin_creates_a_team_and_a_key_whose_secret_gets_a_token,
    a_created_secret_never_appears_again,
    a_key_deleted_over_http_gets_no_token_on_the_very_next_request,
    every_change_leaves_one_audit_row,
    malformed_bodies_unknown_fields_and_oversized_labels_get_400_problems,
);
