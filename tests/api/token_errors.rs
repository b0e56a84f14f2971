//! Every refusal of the token endpoint: RFC 6749 §5.2 status, JSON body, and headers.

use serde_json::Value;

use crate::helpers::{Key, TestApp, basic};

/// Asserts an RFC 6749 §5.2 error response and returns its description.
pub async fn assert_oauth_error(response: reqwest::Response, status: u16, error: &str) -> String {
    assert_eq!(response.status(), status, "status for {error}");
    let headers = response.headers().clone();
    assert_eq!(
        headers["cache-control"], "no-store",
        "§5.2 errors are not cached"
    );
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    if status == 401 {
        assert_eq!(
            headers["www-authenticate"], "Basic realm=\"tokenmint\"",
            "§5.2 invalid_client challenge"
        );
    }
    let body: Value = response.json().await.expect("JSON error body");
    assert_eq!(body["error"], error, "{body}");
    body["error_description"]
        .as_str()
        .expect("error_description")
        .to_string()
}

async fn missing_grant_type_is_invalid_request(app: TestApp) {
    let key = app.create_key(&[]).await;
    let description = assert_oauth_error(
        app.post_token(&key, "scope=logs:read").await,
        400,
        "invalid_request",
    )
    .await;
    assert!(description.contains("grant_type"));
}

async fn another_grant_type_is_unsupported(app: TestApp) {
    let key = app.create_key(&[]).await;
    let response = app
        .post_token(&key, "grant_type=password&username=a&password=b")
        .await;
    assert_oauth_error(response, 400, "unsupported_grant_type").await;
}

async fn both_auth_methods_at_once_is_invalid_request(app: TestApp) {
    let key = app.create_key(&[]).await;
    let form = format!(
        "grant_type=client_credentials&client_secret={}",
        key.client_secret
    );
    assert_oauth_error(app.post_token(&key, &form).await, 400, "invalid_request").await;
}

async fn wrong_secret_unknown_id_deleted_and_expired_keys_look_the_same(app: TestApp) {
    let key = app.create_key(&[]).await;
    let other = app.create_key(&[]).await;
    let wrong_secret = Key {
        client_secret: other.client_secret.clone(),
        ..key.clone()
    };
    let unknown_id = Key {
        client_id: "dh_live_0000000000000000000000".into(),
        ..key.clone()
    };
    let garbage = Key {
        client_secret: "hunter2".into(),
        ..key.clone()
    };
    let mut descriptions = Vec::new();
    for bad in [&wrong_secret, &unknown_id, &garbage] {
        let response = app.post_token(bad, "grant_type=client_credentials").await;
        descriptions.push(assert_oauth_error(response, 401, "invalid_client").await);
    }
    let expiring = app.create_key(&["--expires-in", "1s"]).await;
    app.cli_ok(&["keys", "delete", &other.client_id]).await;
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    for gone in [&other, &expiring] {
        let response = app.post_token(gone, "grant_type=client_credentials").await;
        descriptions.push(assert_oauth_error(response, 401, "invalid_client").await);
    }
    descriptions.dedup();
    assert_eq!(
        descriptions.len(),
        1,
        "one message for every failed authentication: {descriptions:?}"
    );
}

async fn no_credentials_is_invalid_client(app: TestApp) {
    assert_oauth_error(
        app.post_form("grant_type=client_credentials").await,
        401,
        "invalid_client",
    )
    .await;
}

async fn an_unheld_scope_is_invalid_scope(app: TestApp) {
    let key = app.create_key(&["--scope", "logs:read"]).await;
    let response = app
        .post_token(
            &key,
            "grant_type=client_credentials&scope=logs:read+monitors:write",
        )
        .await;
    let description = assert_oauth_error(response, 400, "invalid_scope").await;
    assert!(description.contains("monitors:write"), "{description}");
    let malformed = app
        .post_token(&key, "grant_type=client_credentials&scope=%22quoted%22")
        .await;
    assert_oauth_error(malformed, 400, "invalid_scope").await;
}

async fn an_unknown_resource_or_audience_is_invalid_target(app: TestApp) {
    let key = app.create_key(&[]).await;
    for form in [
        "grant_type=client_credentials&resource=https%3A%2F%2Fevil.example",
        "grant_type=client_credentials&audience=https%3A%2F%2Fevil.example",
    ] {
        assert_oauth_error(app.post_token(&key, form).await, 400, "invalid_target").await;
    }
    let both = "grant_type=client_credentials&resource=https%3A%2F%2Fapi.example.com&audience=https%3A%2F%2Fapi.example.com";
    assert_oauth_error(app.post_token(&key, both).await, 400, "invalid_request").await;
}

async fn a_malformed_basic_header_is_invalid_client(app: TestApp) {
    for header in [
        "Basic",
        "Basic !!!not-base64",
        "Basic ZGhfbGl2ZV94",
        "Bearer abc.def.ghi",
    ] {
        let response = app
            .http
            .post(app.token_url())
            .header("authorization", header)
            .header("content-type", "application/x-www-form-urlencoded")
            .body("grant_type=client_credentials")
            .send()
            .await
            .unwrap();
        assert_oauth_error(response, 401, "invalid_client").await;
    }
}

async fn two_authorization_headers_are_refused(app: TestApp) {
    let key = app.create_key(&[]).await;
    let header = basic(&key.client_id, &key.client_secret);
    let response = app
        .http
        .post(app.token_url())
        .header("authorization", &header)
        .header("authorization", &header)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=client_credentials")
        .send()
        .await
        .unwrap();
    assert_oauth_error(response, 400, "invalid_request").await;
}

async fn a_wrong_content_type_is_415_with_a_json_body(app: TestApp) {
    let key = app.create_key(&[]).await;
    let response = app
        .http
        .post(app.token_url())
        .header("authorization", basic(&key.client_id, &key.client_secret))
        .header("content-type", "text/plain")
        .body("grant_type=client_credentials")
        .send()
        .await
        .unwrap();
    assert_oauth_error(response, 415, "invalid_request").await;
}

async fn a_repeated_parameter_is_invalid_request(app: TestApp) {
    let key = app.create_key(&[]).await;
    let response = app
        .post_token(&key, "grant_type=client_credentials&scope=a&scope=b")
        .await;
    assert_oauth_error(response, 400, "invalid_request").await;
}

async fn a_body_over_64_kib_is_413_with_a_json_body(app: TestApp) {
    let key = app.create_key(&[]).await;
    let form = format!(
        "grant_type=client_credentials&pad={}",
        "a".repeat(70 * 1024)
    );
    assert_oauth_error(app.post_token(&key, &form).await, 413, "invalid_request").await;
}

async fn wrong_method_is_405_with_a_json_body(app: TestApp) {
    let response = app.get("/api/oauth/token").await;
    assert_eq!(response.headers()["allow"], "POST");
    assert_oauth_error(response, 405, "invalid_request").await;
    let response = app
        .http
        .delete(format!("{}/.well-known/jwks.json", app.base))
        .send()
        .await
        .unwrap();
    assert_oauth_error(response, 405, "invalid_request").await;
}

async fn an_unknown_route_is_404_with_a_json_body(app: TestApp) {
    assert_oauth_error(app.get("/nothing-here").await, 404, "not_found").await;
    // Under /api/ (the management API's space) the same 404 is a problem document.
    let management = crate::helpers::ApiResponse::read(app.get("/api/nothing-here").await).await;
    management.assert_problem(404, "not_found");
}

backend_tests!(
    missing_grant_type_is_invalid_request,
    another_grant_type_is_unsupported,
    both_auth_methods_at_once_is_invalid_request,
    wrong_secret_unknown_id_deleted_and_expired_keys_look_the_same,
    no_credentials_is_invalid_client,
    an_unheld_scope_is_invalid_scope,
    an_unknown_resource_or_audience_is_invalid_target,
    a_malformed_basic_header_is_invalid_client,
    two_authorization_headers_are_refused,
    a_wrong_content_type_is_415_with_a_json_body,
    a_repeated_parameter_is_invalid_request,
    a_body_over_64_kib_is_413_with_a_json_body,
    wrong_method_is_405_with_a_json_body,
    an_unknown_route_is_404_with_a_json_body,
);
