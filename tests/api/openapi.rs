//! `/openapi.json`: an OpenAPI 3.1 document whose every operation is a route the server answers,
//! and which documents every route (the token endpoint included).

use std::collections::BTreeSet;

use reqwest::Method;
use serde_json::Value;

use crate::helpers::TestApp;

async fn document(app: &TestApp) -> Value {
    let response = app.get("/openapi.json").await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    response.json().await.expect("JSON document")
}

/// Every `(METHOD, path)` the document lists.
fn operations(doc: &Value) -> BTreeSet<(String, String)> {
    let mut found = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in ["get", "post", "put", "patch", "delete"] {
            if item.get(method).is_some() {
                found.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    found
}

/// Every `$ref` in `value`.
fn refs<'a>(value: &'a Value, found: &mut Vec<&'a str>) {
    match value {
        Value::Object(map) => {
            for (key, inner) in map {
                match (key.as_str(), inner) {
                    ("$ref", Value::String(target)) => found.push(target),
                    _ => refs(inner, found),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|i| refs(i, found)),
        _ => {}
    }
}

async fn the_document_is_openapi_3_1_and_lists_every_route(app: TestApp) {
    let doc = document(&app).await;
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(doc["servers"][0]["url"], crate::helpers::ISSUER);
    let listed = operations(&doc);
    let expected = [
        ("POST", "/api/oauth/token"),
        ("GET", "/.well-known/jwks.json"),
        ("GET", "/.well-known/oauth-authorization-server"),
        ("GET", "/healthz"),
        ("GET", "/readyz"),
        ("GET", "/metrics"),
        ("GET", "/openapi.json"),
        ("POST", "/api/teams"),
        ("GET", "/api/teams"),
        ("GET", "/api/teams/{team}"),
        ("POST", "/api/teams/{team}/keys"),
        ("GET", "/api/teams/{team}/keys"),
        ("GET", "/api/teams/{team}/keys/{client_id}"),
        ("DELETE", "/api/teams/{team}/keys/{client_id}"),
        ("PATCH", "/api/teams/{team}/keys/{client_id}"),
        ("POST", "/api/teams/{team}/keys/{client_id}/roll"),
        (
            "DELETE",
            "/api/teams/{team}/keys/{client_id}/previous-secret",
        ),
        ("POST", "/api/secret-scanning/reports"),
        ("GET", "/api/teams/{team}/audit"),
        ("GET", "/api/admin/audit"),
        ("GET", "/api/admin/signing-keys"),
        ("POST", "/api/admin/signing-keys/rotate"),
        ("POST", "/api/admin/signing-keys/{kid}/revoke"),
        ("GET", "/api/teams/{team}/webhook-secret"),
        ("POST", "/api/teams/{team}/webhook-secret/rotate"),
        ("DELETE", "/api/teams/{team}/webhook-secret/previous"),
        ("POST", "/api/teams/{team}/webhooks/sign"),
    ];
    let expected: BTreeSet<(String, String)> = expected
        .iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    assert_eq!(listed, expected);
    let token = &doc["paths"]["/api/oauth/token"]["post"];
    let content = token["requestBody"]["content"].as_object().unwrap();
    assert!(content.contains_key("application/x-www-form-urlencoded"));
    assert!(token["responses"]["401"].is_object());
    let teams = &doc["paths"]["/api/teams"]["get"];
    for status in ["401", "403"] {
        assert!(
            teams["responses"][status].is_object(),
            "{status} documented"
        );
    }
    assert_eq!(teams["security"][0]["bearer"][0], "admin");
    let mut ids = BTreeSet::new();
    for (method, path) in &listed {
        let id = doc["paths"][path][method.to_lowercase()]["operationId"].as_str();
        let id = id.unwrap_or_else(|| panic!("{method} {path} has no operationId"));
        assert!(ids.insert(id.to_string()), "operationId {id} is not unique");
    }
    let mut found = Vec::new();
    refs(&doc, &mut found);
    assert!(!found.is_empty());
    for target in found {
        let name = target
            .strip_prefix("#/components/schemas/")
            .unwrap_or_else(|| panic!("unexpected $ref {target}"));
        assert!(
            doc["components"]["schemas"][name].is_object(),
            "$ref {target} resolves"
        );
    }
}

/// The check that keeps the document and the router in step: every documented operation is
/// answered by its own handler, never by the unknown-route fallback or a 405.
async fn every_documented_operation_is_a_route(app: TestApp) {
    let doc = document(&app).await;
    for (method, path) in operations(&doc) {
        let concrete = path
            .replace("{team}", "acme")
            .replace("{client_id}", "dh_live_0000000000000000000000")
            .replace("{kid}", "some-kid");
        let method = Method::from_bytes(method.as_bytes()).unwrap();
        let response = app
            .http
            .request(method.clone(), format!("{}{concrete}", app.base))
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        assert_ne!(status, 405, "{method} {path} is not routed");
        assert!(
            !text.contains("no route for"),
            "{method} {path} reached the fallback: {text}"
        );
    }
}

async fn metrics_off_the_main_listener_are_not_documented_there(app: TestApp) {
    let doc = document(&app).await;
    assert!(doc["paths"].get("/metrics").is_none());
    assert_eq!(app.get("/metrics").await.status(), 404);
}

/// `tokenmint openapi` prints the document the server serves.
async fn the_cli_prints_the_same_document(app: TestApp) {
    let served = document(&app).await;
    let printed: Value = serde_json::from_str(&app.cli_ok(&["openapi"]).await).unwrap();
    assert_eq!(printed, served);
}

storage_free_tests!(
    the_document_is_openapi_3_1_and_lists_every_route,
    the_cli_prints_the_same_document,
    every_documented_operation_is_a_route,
);

mod metrics_apart {
    storage_free_tests_with!(
        [("TOKENMINT_METRICS__BIND", "127.0.0.1:0")],
        metrics_off_the_main_listener_are_not_documented_there,
    );
    use super::metrics_off_the_main_listener_are_not_documented_there;
}
