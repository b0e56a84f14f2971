//! Team isolation, scopes and audiences at the management API (RFC 6750 §3.1), and the tokens it refuses.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{AUDIENCE, ISSUER, Key, TestApp, basic};
use crate::token_errors::assert_oauth_error;

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

/// Every management route that takes a body, as the OpenAPI document names it, with a body it
/// acts on (`{tag}` keeps two runs of one route apart).
const ROUTES_WITH_A_BODY: [(&str, &str, &str); 7] = [
    ("POST", "/api/teams", r#"{"slug":"team-{tag}"}"#),
    (
        "POST",
        "/api/teams/{team}/keys",
        r#"{"label":"{tag}","scopes":["logs:read"]}"#,
    ),
    (
        "PATCH",
        "/api/teams/{team}/keys/{client_id}",
        r#"{"label":"{tag}"}"#,
    ),
    (
        "POST",
        "/api/teams/{team}/keys/{client_id}/roll",
        r#"{"overlap":"1h"}"#,
    ),
    (
        "POST",
        "/api/teams/{team}/webhook-secret/rotate",
        r#"{"overlap":"0s"}"#,
    ),
    (
        "POST",
        "/api/teams/{team}/webhooks/sign",
        r#"{"payload":"{}"}"#,
    ),
    ("POST", "/api/admin/signing-keys/rotate", r#"{"now":true}"#),
];

/// The routes of the OpenAPI document that take a body and a bearer token.
async fn documented_routes_with_a_body(app: &TestApp) -> Vec<(String, String)> {
    let document: Value = app.get("/openapi.json").await.json().await.unwrap();
    let mut routes = Vec::new();
    for (path, operations) in document["paths"].as_object().unwrap() {
        for (method, operation) in operations.as_object().unwrap() {
            let bearer = operation["security"]
                .as_array()
                .is_some_and(|all| all.iter().any(|one| one.get("bearer").is_some()));
            if bearer && operation.get("requestBody").is_some() {
                routes.push((method.to_uppercase(), path.clone()));
            }
        }
    }
    routes.sort();
    routes
}

/// Sends the head and the first byte of the body, lets `meanwhile` run, then sends the rest.
async fn trickled(
    app: &TestApp,
    method: &str,
    path: &str,
    token: &str,
    body: &str,
    meanwhile: impl std::future::Future<Output = ()>,
) -> crate::helpers::raw::RawResponse {
    use crate::helpers::raw;
    use tokio::io::AsyncWriteExt;
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\n\
         Authorization: Bearer {token}\r\nContent-Type: application/json\r\n\
         Content-Length: {len}\r\n\r\n",
        host = raw::address(&app.base),
        len = body.len(),
    );
    let mut stream = tokio::net::TcpStream::connect(raw::address(&app.base))
        .await
        .unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(&body.as_bytes()[..1]).await.unwrap();
    // The server has the head when `meanwhile` runs.
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    meanwhile.await;
    raw::exchange(&mut stream, &body.as_bytes()[1..]).await
}

/// The id of the newest audit event.
async fn newest_audit_event(app: &TestApp) -> i64 {
    let events: Value =
        serde_json::from_str(&app.cli_ok(&["audit", "--json", "--limit", "1"]).await).unwrap();
    events[0]["id"].as_i64().unwrap()
}

/// A request whose head arrives before its key is deleted and whose body arrives after the
/// deletion returned is judged by the key as it is then, on every route that takes a body:
/// refused, and nothing done. The same request trickled in by a key that stays acts.
async fn a_body_trickled_in_across_a_deletion_is_refused_on_every_route(app: TestApp) {
    let listed: Vec<(String, String)> = ROUTES_WITH_A_BODY
        .iter()
        .map(|(method, path, _)| (method.to_string(), path.to_string()))
        .collect();
    let mut sorted = listed.clone();
    sorted.sort();
    assert_eq!(
        sorted,
        documented_routes_with_a_body(&app).await,
        "every route with a body is tried"
    );
    let victim = app.create_key_in("acme", &["logs:read"]).await;
    for (method, template, body) in ROUTES_WITH_A_BODY {
        let path = template
            .replace("{team}", "acme")
            .replace("{client_id}", &victim.client_id);
        let kept = app.admin_key().await;
        let token = app.management_token(&kept, None).await;
        let body_kept = body.replace("{tag}", "kept");
        let acted = trickled(&app, method, &path, &token, &body_kept, async {}).await;
        assert!(
            acted.status < 300,
            "{method} {path} by a kept key: {} {}",
            acted.status,
            acted.body
        );

        let deleted = app.admin_key().await;
        let token = app.management_token(&deleted, None).await;
        let body_deleted = body.replace("{tag}", "deleted");
        let mut before = 0;
        let refused = trickled(&app, method, &path, &token, &body_deleted, async {
            app.cli_ok(&["keys", "delete", &deleted.client_id]).await;
            before = newest_audit_event(&app).await;
        })
        .await;
        assert_eq!(refused.status, 401, "{method} {path}: {}", refused.body);
        assert!(
            refused.body.contains("invalid_token"),
            "{method} {path}: {}",
            refused.body
        );
        assert_eq!(
            newest_audit_event(&app).await,
            before,
            "{method} {path} changed nothing"
        );
    }
}

/// A management request judged while its key existed, whose change reaches the database only
/// after the key's deletion or past its expiry, changes nothing: its transaction finds the key
/// gone or expired (and on PostgreSQL holds the key's side of its deletion lock, so that a
/// deletion in between waits for the change). The library is driven directly: over HTTP the
/// window is too narrow to hit on demand.
async fn a_change_reaching_the_database_after_its_keys_deletion_is_refused(app: TestApp) {
    use tokenmint::audit::Actor;
    use tokenmint::manage::{ManageError, create_team};
    use tokenmint::store::StoreError;
    let gone = app.admin_key().await;
    let kept = app.admin_key().await;
    app.cli_ok(&["keys", "delete", &gone.client_id]).await;
    let config = tokenmint::config::DatabaseConfig {
        url: app.database_url().to_string(),
        ..Default::default()
    };
    let store = tokenmint::store::open(&config).await.unwrap();
    let now = tokenmint::store::now();
    let acting = |client_id: &str| Actor::Client {
        client_id: client_id.to_string(),
        ip: [127, 0, 0, 1].into(),
    };
    let refused = create_team(store.as_ref(), &acting(&gone.client_id), "ghost", None, now).await;
    assert!(
        matches!(refused, Err(ManageError::Store(StoreError::ActorGone(_)))),
        "{refused:?}"
    );
    let created = create_team(store.as_ref(), &acting(&kept.client_id), "kept", None, now).await;
    assert!(created.is_ok(), "{created:?}");
    // A key that expires: a change made at a time past its expiry is refused the same way,
    // one made before it goes through.
    let expiring = Key::from_json(
        app.cli_json(&[
            "keys",
            "create",
            "--team",
            "ops",
            "--label",
            "expiring",
            "--scope",
            "admin",
            "--expires-in",
            "1h",
        ])
        .await,
    );
    let later = now + chrono::TimeDelta::hours(2);
    let late = create_team(
        store.as_ref(),
        &acting(&expiring.client_id),
        "late",
        None,
        later,
    )
    .await;
    assert!(
        matches!(late, Err(ManageError::Store(StoreError::ActorGone(_)))),
        "{late:?}"
    );
    let early = create_team(
        store.as_ref(),
        &acting(&expiring.client_id),
        "early",
        None,
        now,
    )
    .await;
    assert!(early.is_ok(), "{early:?}");
    let teams = app.cli_ok(&["teams", "list"]).await;
    assert!(
        !teams.contains("ghost") && !teams.contains("late"),
        "{teams}"
    );
    assert!(teams.contains("kept") && teams.contains("early"), "{teams}");
    // Over HTTP the same refusal is the deleted key's 401.
    let problem = tokenmint::http::management::problem::Problem::from(StoreError::ActorGone(
        gone.client_id.clone(),
    ));
    let response = axum::response::IntoResponse::into_response(problem);
    assert_eq!(response.status(), 401);
}

/// On PostgreSQL, several nodes: a key's writes and its deletion take turns through a lock
/// keyed by the Client ID (advisory, shared by the writes, exclusive for the deletion; its key
/// is the server's, written out here). A deletion waits for a write in progress; a write that
/// arrives while the deletion waits queues behind it, rather than keeping it waiting for ever,
/// and then finds the key gone.
#[tokio::test]
async fn a_deletion_waits_for_its_keys_write_in_progress_and_the_next_write_waits_for_it() {
    use crate::helpers::Backend;
    use sqlx::Connection;
    use tokenmint::audit::Actor;
    use tokenmint::manage::{KeyAuthority, ManageError, create_team, delete_api_key};
    use tokenmint::store::StoreError;
    let app = TestApp::spawn_with(Backend::Postgres, &[]).await;
    let key = app.admin_key().await;
    let config = tokenmint::config::DatabaseConfig {
        url: app.database_url().to_string(),
        ..Default::default()
    };
    let store = tokenmint::store::open(&config).await.unwrap();
    // A write of the key's in progress: it holds the key's shared lock until it commits.
    let mut writing = sqlx::PgConnection::connect(app.database_url())
        .await
        .unwrap();
    let mut in_progress = writing.begin().await.unwrap();
    sqlx::query(
        "SELECT pg_advisory_xact_lock_shared(hashtextextended('tokenmint api key ' || $1, 0))",
    )
    .bind(&key.client_id)
    .execute(&mut *in_progress)
    .await
    .unwrap();
    let now = tokenmint::store::now();
    let deleting = {
        let (store, client_id) = (store.clone(), key.client_id.clone());
        tokio::spawn(async move {
            delete_api_key(
                store.as_ref(),
                &Actor::Cli,
                KeyAuthority::Operator,
                &client_id,
                now,
            )
            .await
        })
    };
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert!(
        !deleting.is_finished(),
        "the deletion waits for the write in progress"
    );
    let next_write = {
        let (store, client_id) = (store.clone(), key.client_id.clone());
        tokio::spawn(async move {
            let acting = Actor::Client {
                client_id,
                ip: [127, 0, 0, 1].into(),
            };
            create_team(store.as_ref(), &acting, "queued", None, now).await
        })
    };
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert!(
        !next_write.is_finished(),
        "a later write queues behind the waiting deletion"
    );
    in_progress.commit().await.unwrap();
    deleting.await.unwrap().unwrap();
    let refused = next_write.await.unwrap();
    assert!(
        matches!(refused, Err(ManageError::Store(StoreError::ActorGone(_)))),
        "{refused:?}"
    );
}

/// A body over the limit sent chunked (no `Content-Length` for the limit layer to refuse up
/// front) is read up to the limit before the caller is checked: 413 for a caller, and still
/// 401 for a request with no valid token.
async fn an_oversized_chunked_body_is_413_for_a_caller_and_401_without_a_token(app: TestApp) {
    use crate::helpers::raw;
    let worker = app.create_key_in("acme", &["webhooks:sign"]).await;
    let token = app.management_token(&worker, None).await;
    let chunk = "x".repeat(70_000);
    for (authorization, status) in [
        (format!("Bearer {token}"), 413),
        ("Bearer nope".into(), 401),
    ] {
        let request = format!(
            "POST /api/teams/acme/webhooks/sign HTTP/1.1\r\nHost: {host}\r\n\
             Authorization: {authorization}\r\nContent-Type: application/json\r\n\
             Transfer-Encoding: chunked\r\n\r\n{size:x}\r\n{chunk}\r\n0\r\n\r\n",
            host = raw::address(&app.base),
            size = chunk.len(),
        );
        let mut stream = tokio::net::TcpStream::connect(raw::address(&app.base))
            .await
            .unwrap();
        let answer = raw::exchange(&mut stream, request.as_bytes()).await;
        assert_eq!(answer.status, status, "{}", answer.body);
    }
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
    keys_write_of_one_team_gets_403_on_another_teams_keys,
    a_product_scoped_token_gets_403_on_the_management_api,
    a_token_for_the_product_audience_is_refused_by_the_management_api,
    requests_without_a_valid_token_get_401_with_a_bearer_challenge,
    a_deleted_admin_key_loses_its_power_at_once,
    a_body_trickled_in_across_a_deletion_is_refused_on_every_route,
    a_change_reaching_the_database_after_its_keys_deletion_is_refused,
    an_oversized_chunked_body_is_413_for_a_caller_and_401_without_a_token,
    keys_write_cannot_grant_more_than_it_holds,
    forged_tokens_are_refused_by_the_management_api,
);
