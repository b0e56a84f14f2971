//! Signing keys over HTTP: rotation, revocation, and tokens of a revoked key.

use reqwest::Method;
use serde_json::json;

use crate::helpers::TestApp;

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

backend_tests!(
    signing_keys_are_rotated_and_revoked_over_http,
    a_token_of_a_revoked_signing_key_is_refused,
);
