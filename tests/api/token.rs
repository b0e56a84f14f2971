//! Successful token requests (RFC 6749 §4.4, §5.1) and the tokens they return (RFC 9068).

use oauth2::basic::BasicClient;
use oauth2::{AuthType, ClientId, ClientSecret, Scope, TokenResponse, TokenUrl};
use serde_json::Value;

use crate::helpers::{AUDIENCE, ISSUER, OTHER_AUDIENCE, THIRD_AUDIENCE, TestApp, jwt_header};

const ALL_SCOPES: &str = "monitors:read monitors:write logs:read settings:read settings:write";

/// RFC 9068 §2.2 claims plus tokenmint's own, checked on one verified token.
fn assert_access_token_claims(claims: &Value, client_id: &str, scope: &str, env: &str) {
    assert_eq!(claims["iss"], ISSUER);
    assert_eq!(claims["sub"], client_id);
    assert_eq!(claims["client_id"], client_id);
    assert_eq!(claims["aud"], AUDIENCE);
    assert_eq!(claims["scope"], scope);
    assert_eq!(claims["team"], "acme");
    assert_eq!(claims["env"], env);
    let (iat, exp) = (
        claims["iat"].as_i64().unwrap(),
        claims["exp"].as_i64().unwrap(),
    );
    assert_eq!(exp - iat, 86_400, "RFC 9068 exp = iat + 24h");
    assert!(claims["jti"].as_str().is_some_and(|j| j.len() >= 16));
}

async fn client_secret_basic_with_an_oauth2_library_gets_a_verifiable_token(app: TestApp) {
    let key = app.create_key(&[]).await;
    let client = BasicClient::new(ClientId::new(key.client_id.clone()))
        .set_client_secret(ClientSecret::new(key.client_secret.clone()))
        .set_token_uri(TokenUrl::new(app.token_url()).unwrap())
        .set_auth_type(AuthType::BasicAuth);
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let token = client
        .exchange_client_credentials()
        .add_scope(Scope::new("monitors:read".into()))
        .add_scope(Scope::new("logs:read".into()))
        .request_async(&http)
        .await
        .expect("token");
    assert_eq!(token.token_type().as_ref(), "bearer");
    assert_eq!(token.expires_in().unwrap().as_secs(), 86_400);
    let access_token = token.access_token().secret();
    let header = jwt_header(access_token);
    assert_eq!(header["typ"], "at+jwt", "RFC 9068 §2.1");
    assert_eq!(header["alg"], "ES256");
    let claims = app
        .verify(access_token, AUDIENCE)
        .await
        .expect("verifies against the JWKS");
    assert_access_token_claims(&claims, &key.client_id, "monitors:read logs:read", "live");
}

async fn client_secret_post_gets_a_verifiable_token(app: TestApp) {
    let key = app.create_key(&[]).await;
    let response = app
        .http
        .post(app.token_url())
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", &key.client_id),
            ("client_secret", &key.client_secret),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["cache-control"],
        "no-store",
        "RFC 6749 §5.1"
    );
    assert_eq!(response.headers()["pragma"], "no-cache");
    assert_eq!(
        response.headers()["content-type"],
        "application/json",
        "RFC 6749 §5.1"
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 86_400);
    assert_eq!(body["scope"], ALL_SCOPES);
    let token = body["access_token"].as_str().unwrap();
    let claims = app.verify(token, AUDIENCE).await.expect("verifies");
    assert_access_token_claims(&claims, &key.client_id, ALL_SCOPES, "live");
}

async fn a_json_body_is_accepted(app: TestApp) {
    let key = app.create_key(&[]).await;
    let body = serde_json::json!({
        "grant_type": "client_credentials",
        "client_id": key.client_id,
        "client_secret": key.client_secret,
        "scope": "logs:read",
    });
    let response = app
        .http
        .post(app.token_url())
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["scope"], "logs:read");
}

async fn a_requested_scope_narrows_the_token(app: TestApp) {
    let key = app.create_key(&[]).await;
    let body = app
        .token(
            &key,
            "grant_type=client_credentials&scope=monitors:read+logs:read",
        )
        .await;
    assert_eq!(body["scope"], "monitors:read logs:read");
    let claims = app
        .verify(body["access_token"].as_str().unwrap(), AUDIENCE)
        .await
        .unwrap();
    assert_eq!(claims["scope"], "monitors:read logs:read");
}

async fn a_key_created_with_scopes_gets_only_those(app: TestApp) {
    let key = app
        .create_key(&["--scope", "logs:read", "--scope", "settings:read"])
        .await;
    assert_eq!(
        key.json["scopes"],
        serde_json::json!(["logs:read", "settings:read"])
    );
    let body = app.token(&key, "grant_type=client_credentials").await;
    assert_eq!(body["scope"], "logs:read settings:read");
    let refused = app
        .post_token(&key, "grant_type=client_credentials&scope=monitors:read")
        .await;
    assert_eq!(refused.status(), 400);
}

async fn a_test_key_is_marked_test_everywhere(app: TestApp) {
    let key = app.create_key(&["--test"]).await;
    assert!(key.client_id.starts_with("dh_test_"), "{}", key.client_id);
    let body = app.token(&key, "grant_type=client_credentials").await;
    let claims = app
        .verify(body["access_token"].as_str().unwrap(), AUDIENCE)
        .await
        .unwrap();
    assert_access_token_claims(&claims, &key.client_id, ALL_SCOPES, "test");
}

async fn resource_and_audience_choose_the_aud_claim(app: TestApp) {
    let key = app.create_key(&[]).await;
    let resource = format!(
        "grant_type=client_credentials&resource={}",
        form(OTHER_AUDIENCE)
    );
    let body = app.token(&key, &resource).await;
    let claims = app
        .verify(body["access_token"].as_str().unwrap(), OTHER_AUDIENCE)
        .await
        .unwrap();
    assert_eq!(claims["aud"], OTHER_AUDIENCE);

    let audience = format!(
        "grant_type=client_credentials&audience={}",
        form(THIRD_AUDIENCE)
    );
    let body = app.token(&key, &audience).await;
    let claims = app
        .verify(body["access_token"].as_str().unwrap(), THIRD_AUDIENCE)
        .await
        .unwrap();
    assert_eq!(claims["aud"], THIRD_AUDIENCE);

    // RFC 8707 §2: several resource parameters give a token for all of them.
    let two = format!("{resource}&resource={}", form(THIRD_AUDIENCE));
    let body = app.token(&key, &two).await;
    let claims = app
        .verify(body["access_token"].as_str().unwrap(), THIRD_AUDIENCE)
        .await
        .unwrap();
    assert_eq!(
        claims["aud"],
        serde_json::json!([OTHER_AUDIENCE, THIRD_AUDIENCE])
    );
}

async fn every_token_has_its_own_jti(app: TestApp) {
    let key = app.create_key(&[]).await;
    let mut seen = std::collections::HashSet::new();
    for _ in 0..5 {
        let body = app.token(&key, "grant_type=client_credentials").await;
        let claims = app
            .verify(body["access_token"].as_str().unwrap(), AUDIENCE)
            .await
            .unwrap();
        assert!(seen.insert(claims["jti"].as_str().unwrap().to_string()));
    }
}

async fn a_key_expiring_soon_gets_a_token_that_ends_with_it(app: TestApp) {
    let key = app.create_key(&["--expires-in", "1h"]).await;
    let body = app.token(&key, "grant_type=client_credentials").await;
    let expires_in = body["expires_in"].as_i64().unwrap();
    assert!(
        (3590..=3600).contains(&expires_in),
        "exp never past the key's expiry: {expires_in}"
    );
}

async fn last_used_at_is_recorded_off_the_request_path(app: TestApp) {
    let key = app.create_key(&[]).await;
    let listed = app.cli_json(&["keys", "list", "--team", "acme"]).await;
    assert_eq!(listed[0]["last_used_at"], Value::Null);
    app.token(&key, "grant_type=client_credentials").await;
    let recorded = app
        .eventually(std::time::Duration::from_secs(12), || async {
            let listed = app.cli_json(&["keys", "list", "--team", "acme"]).await;
            listed[0]["last_used_at"].is_string()
        })
        .await;
    assert!(recorded, "last_used_at was not written within 12 s");
}

fn form(value: &str) -> String {
    form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

backend_tests!(
    client_secret_basic_with_an_oauth2_library_gets_a_verifiable_token,
    client_secret_post_gets_a_verifiable_token,
    a_json_body_is_accepted,
    a_requested_scope_narrows_the_token,
    a_key_created_with_scopes_gets_only_those,
    a_test_key_is_marked_test_everywhere,
    resource_and_audience_choose_the_aud_claim,
    every_token_has_its_own_jti,
    a_key_expiring_soon_gets_a_token_that_ends_with_it,
    last_used_at_is_recorded_off_the_request_path,
);
