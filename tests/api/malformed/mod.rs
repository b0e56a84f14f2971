//! A corpus of malformed requests to the token endpoint, the discovery routes and the management
//! API: every one gets the right 4xx with a JSON error body (RFC 6749 §5.2 JSON, or an RFC 9457
//! problem document under the management API) — never a 5xx, a hang or a panic — and the server
//! stays healthy after all of them.

use std::time::Duration;

use serde_json::Value;

use crate::helpers::{TestApp, basic};

mod management;
mod token;

/// One malformed request and the statuses that are right for it.
struct Case {
    name: String,
    method: reqwest::Method,
    path: String,
    headers: Vec<(String, Vec<u8>)>,
    body: Vec<u8>,
    expect: &'static [u16],
}

const FORM: &str = "application/x-www-form-urlencoded";
const TOKEN: &str = "/api/oauth/token";

fn post(
    name: impl Into<String>,
    content_type: &str,
    body: impl Into<Vec<u8>>,
    auth: Option<&str>,
    expect: &'static [u16],
) -> Case {
    let mut headers = vec![("content-type".to_string(), content_type.as_bytes().to_vec())];
    if let Some(auth) = auth {
        headers.push(("authorization".to_string(), auth.as_bytes().to_vec()));
    }
    Case {
        name: name.into(),
        method: reqwest::Method::POST,
        path: TOKEN.into(),
        headers,
        body: body.into(),
        expect,
    }
}

/// A request to `path` with these headers and body.
fn request(
    name: impl Into<String>,
    method: &str,
    path: impl Into<String>,
    headers: &[(&str, &[u8])],
    body: impl Into<Vec<u8>>,
    expect: &'static [u16],
) -> Case {
    Case {
        name: name.into(),
        method: method.parse().unwrap(),
        path: path.into(),
        headers: headers
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_vec()))
            .collect(),
        body: body.into(),
        expect,
    }
}

async fn every_malformed_request_gets_the_right_4xx_with_a_json_body(app: TestApp) {
    let key = app.create_key(&[]).await;
    let auth = basic(&key.client_id, &key.client_secret);
    let admin = app.admin_key().await;
    let bearer = app.management_token(&admin, None).await;
    let cases = token::corpus(&auth, &bearer);
    let mut seen = std::collections::HashSet::new();
    let repeated: Vec<&str> = cases
        .iter()
        .map(|c| c.name.as_str())
        .filter(|name| !seen.insert(*name))
        .collect();
    assert!(
        repeated.is_empty(),
        "every case has a name of its own, so a failure names one request: {repeated:?}"
    );
    // A connection of its own for each case: after an early 413 the server closes the
    // connection, and a pooled one could be reused just as it closes ("no answer").
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    for case in &cases {
        let mut request = http
            .request(case.method.clone(), format!("{}{}", app.base, case.path))
            .body(case.body.clone());
        for (name, value) in &case.headers {
            request = request.header(
                name.as_str(),
                reqwest::header::HeaderValue::from_bytes(value).unwrap(),
            );
        }
        let response = if case.expect.contains(&413) {
            crate::management::send_racing_413(request).await
        } else {
            request
                .send()
                .await
                .unwrap_or_else(|e| panic!("{}: no answer: {e}", case.name))
        };
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap_or_default().to_string())
            .unwrap_or_default();
        let text = response.text().await.unwrap_or_default();
        assert!(
            case.expect.contains(&status),
            "{}: got {status}, expected {:?}: {text}",
            case.name,
            case.expect
        );
        if status == 200 {
            continue;
        }
        let body: Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{}: body is not JSON: {e}", case.name));
        assert!(body["error"].is_string(), "{}: {body}", case.name);
        let wanted = if case.path.starts_with("/api/") && !case.path.starts_with(TOKEN) {
            "application/problem+json"
        } else {
            "application/json"
        };
        assert_eq!(content_type, wanted, "{}", case.name);
    }
    assert_eq!(app.get("/healthz").await.status(), 200, "still serving");
    assert_eq!(
        app.post_token(&key, "grant_type=client_credentials")
            .await
            .status(),
        200,
        "still issuing"
    );
}

backend_tests_with!(
    [
        ("TOKENMINT_RATE_LIMIT__FAILED_AUTH_PER_MINUTE", "0"),
        ("TOKENMINT_RATE_LIMIT__TOKEN_REQUESTS_PER_SECOND", "0"),
    ],
    every_malformed_request_gets_the_right_4xx_with_a_json_body
);
