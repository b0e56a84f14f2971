//! The management API through HTTP with real tokens: bootstrap, team isolation, scopes and
//! audiences (RFC 6750 §3.1), secrets shown once, problem documents (RFC 9457).

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{AUDIENCE, ISSUER, Key, TestApp, basic};
use crate::token_errors::assert_oauth_error;

fn key_of(body: &Value) -> Key {
    Key::from_json(body.clone())
}

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

async fn keys_write_of_one_team_gets_403_on_another_teams_keys(app: TestApp) {
    app.cli_ok(&["teams", "create", "beta"]).await;
    let other = app.create_key_in("beta", &[]).await;
    let writer = app.create_key_in("acme", &["keys:write"]).await;
    let token = app.management_token(&writer, None).await;
    let paths = [
        (Method::GET, "/api/teams/beta/keys".to_string(), None),
        (
            Method::GET,
            format!("/api/teams/beta/keys/{}", other.client_id),
            None,
        ),
        (
            Method::DELETE,
            format!("/api/teams/beta/keys/{}", other.client_id),
            None,
        ),
        (
            Method::POST,
            "/api/teams/beta/keys".to_string(),
            Some(json!({"label": "x"})),
        ),
        (Method::GET, "/api/teams/beta/audit".to_string(), None),
        (Method::GET, "/api/teams/beta".to_string(), None),
    ];
    for (method, path, body) in paths {
        let response = app.api(method.clone(), &path, Some(&token), body).await;
        response.assert_problem(403, "insufficient_scope");
        let challenge = response.header("www-authenticate");
        assert!(
            challenge.starts_with("Bearer ") && challenge.contains("error=\"insufficient_scope\""),
            "{method} {path}: {challenge}"
        );
    }
    let own = app
        .api(Method::GET, "/api/teams/acme/keys", Some(&token), None)
        .await;
    assert_eq!(own.status, 200, "{}", own.text);
    let still_there = app.token(&other, "grant_type=client_credentials").await;
    assert!(
        still_there["access_token"].is_string(),
        "beta's key was not deleted"
    );
}

async fn a_product_scoped_token_gets_403_on_the_management_api(app: TestApp) {
    let key = app
        .create_key_in("acme", &["keys:read", "monitors:read"])
        .await;
    let token = app.management_token(&key, Some("monitors:read")).await;
    let response = app
        .api(Method::GET, "/api/teams/acme/keys", Some(&token), None)
        .await;
    response.assert_problem(403, "insufficient_scope");
    // Reading is not writing, and only admin reaches teams and signing keys.
    let reader = app.management_token(&key, None).await;
    let create = app
        .post_api("/api/teams/acme/keys", &reader, json!({"label": "x"}))
        .await;
    create.assert_problem(403, "insufficient_scope");
    for path in ["/api/teams", "/api/admin/signing-keys", "/api/admin/audit"] {
        let response = app.api(Method::GET, path, Some(&reader), None).await;
        response.assert_problem(403, "insufficient_scope");
        assert!(
            response
                .header("www-authenticate")
                .contains("scope=\"admin\"")
        );
    }
}

async fn a_token_for_the_product_audience_is_refused_by_the_management_api(app: TestApp) {
    let admin = app.admin_key().await;
    let product = app.create_key_in("acme", &[]).await;
    let product_token = app.token(&product, "grant_type=client_credentials").await;
    let response = app
        .api(
            Method::GET,
            "/api/teams",
            Some(product_token["access_token"].as_str().unwrap()),
            None,
        )
        .await;
    response.assert_problem(401, "invalid_token");
    assert!(
        response
            .header("www-authenticate")
            .contains("error=\"invalid_token\"")
    );

    // The issuer's audience only for a key holding a management scope (RFC 8707 §2)…
    let issuer = format!("grant_type=client_credentials&resource={ISSUER}");
    let refused = app.post_token(&product, &issuer).await;
    assert_oauth_error(refused, 400, "invalid_target").await;
    // …and management scopes never go into a product token.
    let no_product_scope = app
        .post_token(&admin, "grant_type=client_credentials")
        .await;
    assert_oauth_error(no_product_scope, 400, "invalid_scope").await;
    let mixed = app.create_key_in("acme", &["admin", "logs:read"]).await;
    let product_only = app.token(&mixed, "grant_type=client_credentials").await;
    assert_eq!(product_only["scope"], "logs:read");
    let asked = app
        .post_token(&mixed, "grant_type=client_credentials&scope=admin")
        .await;
    let description = assert_oauth_error(asked, 400, "invalid_scope").await;
    assert!(description.contains("resource="), "{description}");
    let both = app
        .post_token(&mixed, &format!("{issuer}&resource={AUDIENCE}"))
        .await;
    assert_oauth_error(both, 400, "invalid_target").await;
}

async fn requests_without_a_valid_token_get_401_with_a_bearer_challenge(app: TestApp) {
    let none = app.api(Method::GET, "/api/teams", None, None).await;
    none.assert_problem(401, "unauthorized");
    assert_eq!(
        none.header("www-authenticate"),
        "Bearer realm=\"tokenmint\""
    );
    let garbage = app
        .api(Method::GET, "/api/teams", Some("not-a-jwt"), None)
        .await;
    garbage.assert_problem(401, "invalid_token");
    let basic_auth = app
        .http
        .get(format!("{}/api/teams", app.base))
        .header("authorization", basic("dh_live_x", "y"))
        .send()
        .await
        .unwrap();
    let basic_auth = crate::helpers::ApiResponse::read(basic_auth).await;
    basic_auth.assert_problem(401, "unauthorized");
    let twice = app
        .http
        .get(format!("{}/api/teams", app.base))
        .header("authorization", "Bearer a")
        .header("authorization", "Bearer b")
        .send()
        .await
        .unwrap();
    crate::helpers::ApiResponse::read(twice)
        .await
        .assert_problem(400, "invalid_request");
}

async fn a_deleted_admin_key_loses_its_power_at_once(app: TestApp) {
    let admin = app.admin_key().await;
    let token = app.management_token(&admin, None).await;
    assert_eq!(
        app.api(Method::GET, "/api/teams", Some(&token), None)
            .await
            .status,
        200
    );
    app.cli_ok(&["keys", "delete", &admin.client_id]).await;
    let after = app.api(Method::GET, "/api/teams", Some(&token), None).await;
    after.assert_problem(401, "invalid_token");
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
    app.api(Method::DELETE, &path, Some(&token), None)
        .await
        .assert_problem(404, "not_found");
}

async fn keys_write_cannot_grant_more_than_it_holds(app: TestApp) {
    let writer = app.create_key_in("acme", &["keys:write"]).await;
    let token = app.management_token(&writer, None).await;
    let admin = app
        .post_api(
            "/api/teams/acme/keys",
            &token,
            json!({"label": "x", "scopes": ["admin"]}),
        )
        .await;
    admin.assert_problem(403, "insufficient_scope");
    let reader = app
        .post_api(
            "/api/teams/acme/keys",
            &token,
            json!({"label": "x", "scopes": ["keys:read"]}),
        )
        .await;
    assert_eq!(reader.status, 201, "{}", reader.text);
    assert_eq!(reader.body["scopes"], json!(["keys:read"]));
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

/// Sends `request`, once more if the connection broke while the body was still being written:
/// the server answers an oversized body's 413 from its `Content-Length` and closes without reading
/// the rest (RFC 9112 §9.6 allows it), so the client may lose the race to read that answer.
pub async fn send_racing_413(request: reqwest::RequestBuilder) -> reqwest::Response {
    let mut last = None;
    for _ in 0..5 {
        match request.try_clone().expect("a cloneable body").send().await {
            Ok(response) => return response,
            Err(e) if e.is_request() && !e.is_timeout() => last = Some(e),
            Err(e) => panic!("no answer: {e}"),
        }
    }
    panic!("no answer after 5 tries: {last:?}")
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

async fn listings_page_with_cursors_and_find_idle_keys(app: TestApp) {
    let admin = app.admin_key().await;
    let token = app.management_token(&admin, None).await;
    let mut made = Vec::new();
    for _ in 0..5 {
        made.push(app.create_key_in("acme", &[]).await.client_id);
    }
    let mut listed = Vec::new();
    let mut path = "/api/teams/acme/keys?limit=2".to_string();
    let mut pages = 0;
    loop {
        let page = app.api(Method::GET, &path, Some(&token), None).await;
        assert_eq!(page.status, 200, "{}", page.text);
        pages += 1;
        for item in page.body["items"].as_array().unwrap() {
            assert!(item.get("client_secret").is_none());
            listed.push(item["client_id"].as_str().unwrap().to_string());
        }
        match page.body["next_cursor"].as_str() {
            Some(cursor) => path = format!("/api/teams/acme/keys?limit=2&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(listed, made, "every key once, oldest first");

    // Two keys used: idle keys (never used) come first, then the least recently used.
    let used = [
        app.create_key_in("acme", &[]).await,
        app.create_key_in("acme", &[]).await,
    ];
    for key in &used {
        app.token(key, "grant_type=client_credentials").await;
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let recorded = app
        .eventually(std::time::Duration::from_secs(10), || async {
            let keys = app.cli_json(&["keys", "list", "--team", "acme"]).await;
            keys.as_array()
                .unwrap()
                .iter()
                .filter(|k| !k["last_used_at"].is_null())
                .count()
                == 2
        })
        .await;
    assert!(recorded, "last_used_at is written within seconds");
    let idle = app
        .api(
            Method::GET,
            "/api/teams/acme/keys?sort=last_used_at&limit=3",
            Some(&token),
            None,
        )
        .await;
    let first: Vec<&Value> = idle.body["items"].as_array().unwrap().iter().collect();
    assert!(
        first.iter().all(|k| k["last_used_at"].is_null()),
        "{}",
        idle.text
    );
    let mut order = Vec::new();
    let mut path = "/api/teams/acme/keys?sort=last_used_at&limit=3".to_string();
    loop {
        let page = app.api(Method::GET, &path, Some(&token), None).await;
        for item in page.body["items"].as_array().unwrap() {
            order.push(item["client_id"].as_str().unwrap().to_string());
        }
        match page.body["next_cursor"].as_str() {
            Some(cursor) => {
                path = format!("/api/teams/acme/keys?sort=last_used_at&limit=3&cursor={cursor}")
            }
            None => break,
        }
    }
    assert_eq!(order.len(), 7, "{order:?}");
    assert_eq!(
        &order[5..],
        [used[0].client_id.clone(), used[1].client_id.clone()]
    );
    let cli = app
        .cli_json(&["keys", "list", "--team", "acme", "--sort", "last-used"])
        .await;
    let cli: Vec<&str> = cli
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["client_id"].as_str().unwrap())
        .collect();
    assert_eq!(cli, order);
    let future = "2999-01-01T00:00:00Z";
    let unused = app
        .api(
            Method::GET,
            &format!("/api/teams/acme/keys?unused_since={future}&limit=200"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(unused.body["items"].as_array().unwrap().len(), 7);
    let past = "2000-01-01T00:00:00Z";
    let never = app
        .api(
            Method::GET,
            &format!("/api/teams/acme/keys?unused_since={past}"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(
        never.body["items"].as_array().unwrap().len(),
        5,
        "the five never used"
    );
    let wrong_order = app
        .api(
            Method::GET,
            &format!(
                "/api/teams/acme/keys?sort=created_at&cursor={}",
                idle.body["next_cursor"].as_str().unwrap()
            ),
            Some(&token),
            None,
        )
        .await;
    wrong_order.assert_problem(400, "invalid_request");

    for slug in ["b-team", "c-team", "d-team"] {
        app.cli_ok(&["teams", "create", slug]).await;
    }
    let first = app
        .api(Method::GET, "/api/teams?limit=2", Some(&token), None)
        .await;
    let cursor = first.body["next_cursor"].as_str().unwrap();
    let rest = app
        .api(
            Method::GET,
            &format!("/api/teams?limit=10&cursor={cursor}"),
            Some(&token),
            None,
        )
        .await;
    let slugs: Vec<&str> = first.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .chain(rest.body["items"].as_array().unwrap())
        .map(|t| t["slug"].as_str().unwrap())
        .collect();
    assert_eq!(slugs, ["acme", "b-team", "c-team", "d-team", "ops"]);
    assert!(rest.body["next_cursor"].is_null());
}

async fn signing_keys_are_rotated_and_revoked_over_http(app: TestApp) {
    let admin = app.admin_key().await;
    let token = app.management_token(&admin, None).await;
    let listed = app
        .api(Method::GET, "/api/admin/signing-keys", Some(&token), None)
        .await;
    assert_eq!(listed.status, 200, "{}", listed.text);
    let first = listed.body["items"][0]["kid"].as_str().unwrap().to_string();
    assert_eq!(listed.body["items"][0]["state"], "current");

    let staged = app
        .api(
            Method::POST,
            "/api/admin/signing-keys/rotate",
            Some(&token),
            None,
        )
        .await;
    assert_eq!(staged.body["started"], true, "{}", staged.text);
    assert_eq!(staged.body["key"]["state"], "next");
    let next = staged.body["key"]["kid"].as_str().unwrap().to_string();
    assert!(
        app.jwks_kids().await.contains(&next),
        "published at once on this node"
    );
    let again = app
        .post_api("/api/admin/signing-keys/rotate", &token, json!({}))
        .await;
    assert_eq!(
        (
            again.body["started"].clone(),
            again.body["key"]["kid"].clone()
        ),
        (json!(false), json!(next))
    );

    let now = app
        .post_api(
            "/api/admin/signing-keys/rotate",
            &token,
            json!({"now": true}),
        )
        .await;
    assert_eq!(now.body["key"]["state"], "current", "{}", now.text);
    let signer = now.body["key"]["kid"].as_str().unwrap().to_string();
    let product = app.create_key_in("acme", &[]).await;
    let issued = app.token(&product, "grant_type=client_credentials").await;
    let header = crate::helpers::jwt_header(issued["access_token"].as_str().unwrap());
    assert_eq!(
        header["kid"],
        signer.as_str(),
        "this node signs with it at once"
    );

    let revoked = app
        .api(
            Method::POST,
            &format!("/api/admin/signing-keys/{signer}/revoke"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(revoked.status, 200, "{}", revoked.text);
    assert_eq!(revoked.body["revoked"]["state"], "revoked");
    assert_ne!(revoked.body["current"]["kid"], signer.as_str());
    assert!(!app.jwks_kids().await.contains(&signer));
    // The admin token was signed by the first key, which is retired now, still published.
    assert!(app.jwks_kids().await.contains(&first));
    app.api(
        Method::POST,
        &format!("/api/admin/signing-keys/{signer}/revoke"),
        Some(&token),
        None,
    )
    .await
    .assert_problem(409, "conflict");
    app.api(
        Method::POST,
        "/api/admin/signing-keys/nope/revoke",
        Some(&token),
        None,
    )
    .await
    .assert_problem(404, "not_found");
    app.post_api(
        "/api/admin/signing-keys/rotate",
        &token,
        json!({"later": true}),
    )
    .await
    .assert_problem(400, "invalid_request");
}

/// A token signed by a revoked key stops working at the management API too.
async fn a_token_of_a_revoked_signing_key_is_refused(app: TestApp) {
    let admin = app.admin_key().await;
    let token = app.management_token(&admin, None).await;
    let kid = crate::helpers::jwt_header(&token)["kid"]
        .as_str()
        .unwrap()
        .to_string();
    let revoked = app
        .api(
            Method::POST,
            &format!("/api/admin/signing-keys/{kid}/revoke"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(revoked.status, 200, "{}", revoked.text);
    app.api(Method::GET, "/api/teams", Some(&token), None)
        .await
        .assert_problem(401, "invalid_token");
    let fresh = app.management_token(&admin, None).await;
    assert_eq!(
        app.api(Method::GET, "/api/teams", Some(&fresh), None)
            .await
            .status,
        200
    );
}

/// The verifier the management API uses, through HTTP: alg none, HS256 "signed" with the
/// published public key, an unknown kid, a tampered payload, a wrong typ and a foreign key's
/// signature are all 401 invalid_token, while the genuine token passes.
async fn forged_tokens_are_refused_by_the_management_api(app: TestApp) {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
    let reader = app.create_key_in("acme", &["keys:read"]).await;
    let genuine = app.management_token(&reader, None).await;
    let parts: Vec<&str> = genuine.split('.').collect();
    let header: Value = serde_json::from_slice(&B64.decode(parts[0]).unwrap()).unwrap();
    let mut claims: Value = serde_json::from_slice(&B64.decode(parts[1]).unwrap()).unwrap();
    let encode = |v: &Value| B64.encode(v.to_string());
    let with_header = |change: &dyn Fn(&mut Value)| {
        let mut h = header.clone();
        change(&mut h);
        format!("{}.{}.{}", encode(&h), parts[1], parts[2])
    };
    let hmac = |key: &[u8], h: &Value, c: &Value| {
        let input = format!("{}.{}", encode(h), encode(c));
        let tag = ring::hmac::sign(
            &ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key),
            input.as_bytes(),
        );
        format!("{input}.{}", B64.encode(tag.as_ref()))
    };
    let jwks: Value = app
        .get("/.well-known/jwks.json")
        .await
        .json()
        .await
        .unwrap();
    let public = jwks["keys"][0].clone();
    let hs256 = json!({"typ": "at+jwt", "alg": "HS256", "kid": header["kid"]});
    claims["scope"] = json!("admin");
    let foreign = {
        let rng = ring::rand::SystemRandom::new();
        let alg = &ring::signature::ECDSA_P256_SHA256_FIXED_SIGNING;
        let pkcs8 = ring::signature::EcdsaKeyPair::generate_pkcs8(alg, &rng).unwrap();
        let pair = ring::signature::EcdsaKeyPair::from_pkcs8(alg, pkcs8.as_ref(), &rng).unwrap();
        let input = format!("{}.{}", parts[0], encode(&claims));
        let signature = pair.sign(&rng, input.as_bytes()).unwrap();
        format!("{input}.{}", B64.encode(signature.as_ref()))
    };
    let forged = [
        (
            "alg none",
            format!(
                "{}.{}.",
                encode(&json!({"typ": "at+jwt", "alg": "none", "kid": header["kid"]})),
                parts[1]
            ),
        ),
        (
            "HS256 with the JWK text",
            hmac(public.to_string().as_bytes(), &hs256, &claims),
        ),
        (
            "HS256 with the raw x",
            hmac(
                &B64.decode(public["x"].as_str().unwrap()).unwrap(),
                &hs256,
                &claims,
            ),
        ),
        (
            "an unknown kid",
            with_header(&|h| h["kid"] = json!("not-published")),
        ),
        (
            "no kid",
            with_header(&|h| {
                h.as_object_mut().unwrap().remove("kid");
            }),
        ),
        ("typ JWT", with_header(&|h| h["typ"] = json!("JWT"))),
        (
            "no typ",
            with_header(&|h| {
                h.as_object_mut().unwrap().remove("typ");
            }),
        ),
        (
            "alg changed to RS256",
            with_header(&|h| h["alg"] = json!("RS256")),
        ),
        (
            "a tampered payload",
            format!("{}.{}.{}", parts[0], encode(&claims), parts[2]),
        ),
        ("a foreign key's signature", foreign),
        ("no signature", format!("{}.{}.", parts[0], parts[1])),
    ];
    for (what, token) in forged {
        let response = app
            .api(Method::GET, "/api/teams/acme/keys", Some(&token), None)
            .await;
        assert_eq!(response.status, 401, "{what}: {}", response.text);
        response.assert_problem(401, "invalid_token");
    }
    let ok = app
        .api(Method::GET, "/api/teams/acme/keys", Some(&genuine), None)
        .await;
    assert_eq!(ok.status, 200, "{}", ok.text);
}

backend_tests!(
    forged_tokens_are_refused_by_the_management_api,
    bootstrap_cli_admin_creates_a_team_and_a_key_whose_secret_gets_a_token,
    keys_write_of_one_team_gets_403_on_another_teams_keys,
    a_product_scoped_token_gets_403_on_the_management_api,
    a_token_for_the_product_audience_is_refused_by_the_management_api,
    requests_without_a_valid_token_get_401_with_a_bearer_challenge,
    a_deleted_admin_key_loses_its_power_at_once,
    a_created_secret_never_appears_again,
    a_key_deleted_over_http_gets_no_token_on_the_very_next_request,
    keys_write_cannot_grant_more_than_it_holds,
    every_change_leaves_one_audit_row,
    malformed_bodies_unknown_fields_and_oversized_labels_get_400_problems,
    listings_page_with_cursors_and_find_idle_keys,
    signing_keys_are_rotated_and_revoked_over_http,
    a_token_of_a_revoked_signing_key_is_refused,
);
