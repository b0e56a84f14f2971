//! Request heads no client library sends, over raw TCP: RFC 9112 §3.2's Host rules, and heads
//! past tokenmint's limits that must still get tokenmint's JSON answer, not hyper's bodiless one.

use serde_json::Value;
use tokio::net::TcpStream;

use crate::helpers::raw::{RawResponse, address, exchange};
use crate::helpers::{Backend, TestApp};

const FORM: &str = "grant_type=client_credentials";

/// A token request and a management request, each with `host_lines` as its Host lines.
fn requests(version: &str, host_lines: &str) -> [(String, &'static str); 2] {
    let token = format!(
        "POST /api/oauth/token {version}\r\n{host_lines}\
         Content-Type: application/x-www-form-urlencoded\r\n\
         Content-Length: {}\r\n\r\n{FORM}",
        FORM.len()
    );
    let teams = format!("GET /api/teams {version}\r\n{host_lines}\r\n");
    [
        (token, "application/json"),
        (teams, "application/problem+json"),
    ]
}

async fn send(addr: &str, request: &str) -> RawResponse {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    exchange(&mut stream, request.as_bytes()).await
}

fn assert_json_error(response: &RawResponse, status: u16, content_type: &str, what: &str) {
    assert_eq!(response.status, status, "{what}: {response:?}");
    assert_eq!(response.content_type(), content_type, "{what}");
    let body: Value = serde_json::from_str(&response.body)
        .unwrap_or_else(|e| panic!("{what}: the body is not JSON ({e}): {response:?}"));
    assert!(body["error"].is_string(), "{what}: {body}");
}

#[tokio::test]
async fn a_missing_repeated_or_invalid_host_is_answered_400_in_the_routes_error_format() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let addr = address(&app.base);
    for (what, host_lines) in [
        ("no Host", ""),
        ("two Host lines", "Host: a.test\r\nHost: b.test\r\n"),
        ("Host: a@b", "Host: a@b\r\n"),
        ("Host: exa mple", "Host: exa mple\r\n"),
        ("Host: a.test/x", "Host: a.test/x\r\n"),
    ] {
        for (request, content_type) in requests("HTTP/1.1", host_lines) {
            let response = send(&addr, &request).await;
            assert_json_error(&response, 400, content_type, what);
            assert!(response.body.contains("Host"), "{what}: {}", response.body);
        }
    }
}

#[tokio::test]
async fn http_1_0_without_host_and_a_normal_request_are_served() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let addr = address(&app.base);
    let old = send(&addr, "GET /healthz HTTP/1.0\r\n\r\n").await;
    assert_eq!(old.status, 200, "{old:?}");
    let normal = send(
        &addr,
        "GET /healthz HTTP/1.1\r\nHost: tokenmint.test:8080\r\n\r\n",
    )
    .await;
    assert_eq!(normal.status, 200, "{normal:?}");
    let ip = send(&addr, "GET /healthz HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n").await;
    assert_eq!(ip.status, 200, "{ip:?}");
    // Past the Host check, the token endpoint still answers as usual (no credentials: 401).
    let [(token, _), _] = requests("HTTP/1.1", "Host: tokenmint.test\r\n");
    assert_eq!(send(&addr, &token).await.status, 401);
}

#[tokio::test]
async fn heads_past_tokenmints_limits_get_its_json_431_not_a_bodiless_one() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let addr = address(&app.base);
    let many: String = (0..100).map(|i| format!("X-Extra-{i}: 1\r\n")).collect();
    let big = format!("X-Big: {}\r\n", "a".repeat(40 * 1024));
    for (what, extra) in [("100 headers", many), ("a 40 KiB header", big)] {
        let host_lines = format!("Host: tokenmint.test\r\n{extra}");
        for (request, content_type) in requests("HTTP/1.1", &host_lines) {
            let response = send(&addr, &request).await;
            assert_json_error(&response, 431, content_type, what);
        }
    }
}
