//! The JWKS, the RFC 8414 metadata, and the health probes.

use serde_json::Value;

use crate::helpers::{ISSUER, TestApp};

async fn jwks_publishes_public_keys_only_with_cache_headers(app: TestApp) {
    let response = app.get("/.well-known/jwks.json").await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "public, max-age=300");
    assert!(response.headers().contains_key("etag"));
    let body: Value = response.json().await.unwrap();
    let keys = body["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1);
    let key = &keys[0];
    assert_eq!(
        (
            key["kty"].as_str(),
            key["crv"].as_str(),
            key["alg"].as_str()
        ),
        (Some("EC"), Some("P-256"), Some("ES256"))
    );
    assert_eq!(key["use"], "sig");
    for private in ["d", "p", "q", "dp", "dq", "qi", "k", "oth"] {
        assert!(
            key.get(private).is_none(),
            "RFC 7517: a JWKS holds no private member ({private})"
        );
    }
}

async fn jwks_answers_304_to_a_matching_etag(app: TestApp) {
    let etag = app.get("/.well-known/jwks.json").await.headers()["etag"].clone();
    let response = app
        .http
        .get(format!("{}/.well-known/jwks.json", app.base))
        .header("if-none-match", etag.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 304);
    assert_eq!(response.headers()["etag"], etag);
    let changed = app
        .http
        .get(format!("{}/.well-known/jwks.json", app.base))
        .header("if-none-match", "\"something-else\"")
        .send()
        .await
        .unwrap();
    assert_eq!(changed.status(), 200);
    // RFC 9110 §13.1.2: `*`, or a list with the tag in it (weak comparison), also matches.
    let etag = etag.to_str().unwrap();
    for condition in ["*".to_string(), format!("\"other\", W/{etag}")] {
        let response = app
            .http
            .get(format!("{}/.well-known/jwks.json", app.base))
            .header("if-none-match", &condition)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 304, "{condition}");
    }
}

async fn authorization_server_metadata_follows_rfc_8414(app: TestApp) {
    let response = app.get("/.well-known/oauth-authorization-server").await;
    assert_eq!(response.status(), 200);
    let doc: Value = response.json().await.unwrap();
    assert_eq!(doc["issuer"], ISSUER);
    assert_eq!(doc["token_endpoint"], format!("{ISSUER}/api/oauth/token"));
    assert_eq!(doc["jwks_uri"], format!("{ISSUER}/.well-known/jwks.json"));
    assert_eq!(
        doc["grant_types_supported"],
        serde_json::json!(["client_credentials"])
    );
    assert_eq!(
        doc["response_types_supported"],
        serde_json::json!([]),
        "REQUIRED by RFC 8414 §2"
    );
    assert_eq!(
        doc["token_endpoint_auth_methods_supported"],
        serde_json::json!(["client_secret_basic", "client_secret_post"])
    );
    assert_eq!(
        doc["scopes_supported"],
        serde_json::json!([
            "monitors:read",
            "monitors:write",
            "logs:read",
            "settings:read",
            "settings:write",
            "keys:read",
            "keys:write",
            "webhooks:read",
            "webhooks:write",
            "webhooks:sign",
            "admin"
        ]),
        "the catalog, then the management API's scopes"
    );
}

async fn health_and_readiness(app: TestApp) {
    let live = app.get("/healthz").await;
    assert_eq!(live.status(), 200);
    let ready = app.get("/readyz").await;
    assert_eq!(ready.status(), 200);
    let body: Value = ready.json().await.unwrap();
    assert_eq!(body["database"], "ok");
    assert_eq!(body["signing_key"], "loaded");
}

backend_tests!(
    jwks_publishes_public_keys_only_with_cache_headers,
    jwks_answers_304_to_a_matching_etag,
    authorization_server_metadata_follows_rfc_8414,
    health_and_readiness,
);
