//! Attacks with extreme values: every duration, number, cursor, date and path segment the
//! management API and the CLI read, pushed past what the clock, the integer types and the
//! databases hold. Each is refused with a 4xx problem document (or an error and a non-zero exit)
//! and never costs more than its own request: the server answers a token request afterwards.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{ApiResponse, Key, TestApp};

/// Durations no key may live: overflowing, negative, zero, past ten years, or not durations.
const BAD_LIFETIMES: [&str; 13] = [
    "1000000000d",
    "95000000d",
    "18446744073709551616s",
    "18446744073709551615s",
    "99999999999999999999999d",
    "3651d",
    "-1d",
    "0",
    "0s",
    "",
    "1e9d",
    "d",
    "10y",
];

/// A base64url cursor holding `json` as its text.
fn cursor(json: &str) -> String {
    URL_SAFE_NO_PAD.encode(json)
}

/// Requires a 4xx problem document: attacks are refused, never a server failure.
fn assert_refused(response: &ApiResponse, what: &str) {
    assert!(
        (400..500).contains(&response.status),
        "{what}: {} {}",
        response.status,
        response.text
    );
    assert_eq!(
        response.header("content-type"),
        "application/problem+json",
        "{what}"
    );
    assert_eq!(response.body["status"], response.status, "{what}");
}

/// Requires an answer that is not a server failure; a refusal must be a problem document.
fn assert_answered(response: &ApiResponse, what: &str) {
    if response.status >= 400 {
        assert_refused(response, what);
    } else {
        assert_eq!(response.status, 200, "{what}: {}", response.text);
    }
}

/// The server still issues tokens: nothing before took it down.
async fn still_issues_tokens(app: &TestApp, admin: &Key) {
    app.management_token(admin, None).await;
}

async fn extreme_key_lifetimes_get_400_problems_over_http(app: TestApp) {
    let admin = app.admin_key().await;
    let token = app.management_token(&admin, None).await;
    app.cli_ok(&["teams", "create", "acme"]).await;
    for lifetime in BAD_LIFETIMES {
        let body = json!({"label": "x", "expires_in": lifetime});
        let response = app.post_api("/api/teams/acme/keys", &token, body).await;
        response.assert_problem(400, "invalid_request");
        assert!(
            response.body["detail"]
                .as_str()
                .unwrap()
                .contains("expires_in"),
            "{lifetime}: {}",
            response.text
        );
    }
    for wrong_type in [
        json!(1e300),
        json!(-1),
        json!(u64::MAX),
        json!(["1d"]),
        json!({"d": 1}),
    ] {
        let body = json!({"label": "x", "expires_in": wrong_type});
        let response = app.post_api("/api/teams/acme/keys", &token, body).await;
        response.assert_problem(400, "invalid_request");
    }
    still_issues_tokens(&app, &admin).await;
}

async fn a_key_of_the_longest_lifetime_gets_a_token(app: TestApp) {
    let admin = app.admin_key().await;
    let token = app.management_token(&admin, None).await;
    app.cli_ok(&["teams", "create", "acme"]).await;
    let body = json!({"label": "long", "expires_in": "3650d"});
    let created = app.post_api("/api/teams/acme/keys", &token, body).await;
    assert_eq!(created.status, 201, "{}", created.text);
    let key = Key::from_json(created.body.clone());
    let response = app.post_token(&key, "grant_type=client_credentials").await;
    assert_eq!(
        response.status(),
        200,
        "the key's expiry is stored and read back"
    );
    let listed = app
        .api(Method::GET, "/api/teams/acme/keys", Some(&token), None)
        .await;
    assert_eq!(listed.status, 200, "{}", listed.text);

    let cli_key = app.create_key(&["--expires-in", "3650d"]).await;
    app.token(&cli_key, "grant_type=client_credentials").await;
}

/// Every listing of the management API, by path.
const LISTINGS: [&str; 5] = [
    "/api/teams",
    "/api/teams/acme/keys",
    "/api/teams/acme/keys?sort=last_used_at",
    "/api/teams/acme/audit",
    "/api/admin/audit",
];

fn with_query(listing: &str, query: &str) -> String {
    let separator = if listing.contains('?') { '&' } else { '?' };
    format!("{listing}{separator}{query}")
}

async fn extreme_limits_and_cursors_get_4xx_problems(app: TestApp) {
    let admin = app.admin_key().await;
    let token = app.management_token(&admin, None).await;
    app.create_key_in("acme", &[]).await;
    let get = |path: String| {
        let token = token.clone();
        let app = &app;
        async move { app.api(Method::GET, &path, Some(&token), None).await }
    };
    let limits = [
        "0",
        "-1",
        "201",
        "4294967295",
        "4294967296",
        "9223372036854775807",
        "9223372036854775808",
        "18446744073709551616",
        "1e3",
        "1.5",
        "abc",
        "",
        "%00",
    ];
    for listing in LISTINGS {
        for limit in limits {
            let response = get(with_query(listing, &format!("limit={limit}"))).await;
            assert_refused(&response, &format!("{listing} limit={limit}"));
            assert_eq!(response.status, 400, "{listing} limit={limit}");
        }
        for (garbage, what) in [
            ("!!!".to_string(), "not base64"),
            (String::new(), "empty"),
            (cursor("not json"), "not JSON"),
            (cursor("null"), "null"),
            (cursor("[]"), "empty array"),
            (cursor(r#"["elsewhere", 1]"#), "another listing"),
            (cursor(&"[".repeat(5000)), "deep nesting"),
        ] {
            let response = get(with_query(listing, &format!("cursor={garbage}"))).await;
            assert_refused(&response, &format!("{listing} cursor {what}"));
        }
    }
    for (listing, position) in crafted_cursors() {
        let path = with_query(listing, &format!("cursor={}", cursor(&position)));
        let response = get(path).await;
        assert_answered(&response, &format!("{listing} cursor {position}"));
    }
    for (listing, position) in refused_cursors() {
        let path = with_query(listing, &format!("cursor={}", cursor(&position)));
        let response = get(path).await;
        assert_refused(&response, &format!("{listing} cursor {position}"));
    }
    still_issues_tokens(&app, &admin).await;
}

/// Cursors of the right shape holding extreme positions: each answers (200 or a 4xx problem).
fn crafted_cursors() -> Vec<(&'static str, String)> {
    let mut cursors = Vec::new();
    for id in [i64::MAX, i64::MIN, 0, -1] {
        for listing in ["/api/teams/acme/audit", "/api/admin/audit"] {
            cursors.push((listing, format!(r#"["audit",{id}]"#)));
        }
    }
    for at in [
        "9999-12-31T23:59:59Z",
        "0001-01-01T00:00:00Z",
        "0000-01-01T00:00:00Z",
        "1970-01-01T00:00:00+23:59",
    ] {
        for (listing, name) in key_listings() {
            cursors.push((listing, format!(r#"["{name}",["{at}","dh_live_x"]]"#)));
        }
    }
    for (listing, name) in key_listings() {
        cursors.push((listing, format!(r#"["{name}",[null,"dh_live_x"]]"#)));
    }
    cursors.push(("/api/teams", r#"["teams","zzzz"]"#.to_string()));
    cursors
}

/// Cursors no listing ever hands out: refused with 400.
fn refused_cursors() -> Vec<(&'static str, String)> {
    let mut cursors = vec![
        (
            "/api/admin/audit",
            r#"["audit",9223372036854775808]"#.into(),
        ),
        ("/api/admin/audit", r#"["audit",1e300]"#.into()),
        ("/api/admin/audit", r#"["audit","12"]"#.into()),
        ("/api/teams", r#"["teams",5]"#.into()),
        ("/api/teams", r#"["teams","\u0000"]"#.into()),
        ("/api/teams", format!(r#"["teams","{}"]"#, "a".repeat(64))),
    ];
    for at in [
        "+262143-12-31T23:59:59Z",
        "-262144-01-01T00:00:00Z",
        "+10000-01-01T00:00:00Z",
        "2026-13-01T00:00:00Z",
    ] {
        for (listing, name) in key_listings() {
            cursors.push((listing, format!(r#"["{name}",["{at}","dh_live_x"]]"#)));
        }
    }
    for (listing, name) in key_listings() {
        cursors.push((listing, format!(r#"["{name}",[null,"\u0000"]]"#)));
        cursors.push((listing, format!(r#"["{name}",{{"at":1}}]"#)));
        cursors.push((listing, format!(r#"["{name}",[1,2]]"#)));
    }
    cursors
}

fn key_listings() -> [(&'static str, &'static str); 2] {
    [
        ("/api/teams/acme/keys", "keys:created_at"),
        (
            "/api/teams/acme/keys?sort=last_used_at",
            "keys:last_used_at",
        ),
    ]
}

async fn far_future_and_far_past_dates_get_400_problems(app: TestApp) {
    let admin = app.admin_key().await;
    let token = app.management_token(&admin, None).await;
    app.create_key_in("acme", &[]).await;
    let listing = |since: &str| format!("/api/teams/acme/keys?unused_since={since}");
    for refused in [
        "%2B262143-12-31T23:59:59Z",
        "-262144-01-01T00:00:00Z",
        "%2B10000-01-01T00:00:00Z",
        "2026-13-01T00:00:00Z",
        "garbage",
        "%00",
        "",
    ] {
        let response = app
            .api(Method::GET, &listing(refused), Some(&token), None)
            .await;
        response.assert_problem(400, "invalid_request");
    }
    for answered in [
        "9999-12-31T23:59:59Z",
        "0001-01-01T00:00:00Z",
        "0000-01-01T00:00:00Z",
        "1970-01-01T00:00:00%2B23:59",
        "2026-01-01T00:00:00.999999999Z",
    ] {
        let response = app
            .api(Method::GET, &listing(answered), Some(&token), None)
            .await;
        assert_answered(&response, answered);
    }
    still_issues_tokens(&app, &admin).await;
}

async fn crafted_path_segments_and_texts_get_4xx_problems(app: TestApp) {
    let admin = app.admin_key().await;
    let token = app.management_token(&admin, None).await;
    app.create_key_in("acme", &[]).await;
    let long = "a".repeat(64);
    let requests: Vec<(Method, String, Option<Value>)> = vec![
        (Method::GET, "/api/teams/%00".into(), None),
        (Method::GET, "/api/teams/%00/keys".into(), None),
        (Method::GET, "/api/teams/%00/audit".into(), None),
        (Method::GET, format!("/api/teams/{long}/keys"), None),
        (Method::GET, "/api/teams/%FF/keys".into(), None),
        (Method::GET, "/api/teams/acme/keys/%00".into(), None),
        (Method::GET, "/api/teams/acme/keys/dh_live_%00".into(), None),
        (Method::DELETE, "/api/teams/acme/keys/%00".into(), None),
        (
            Method::POST,
            "/api/admin/signing-keys/%00/revoke".into(),
            None,
        ),
        (
            Method::POST,
            "/api/admin/signing-keys/%FF/revoke".into(),
            None,
        ),
        (
            Method::POST,
            "/api/teams/%00/keys".into(),
            Some(json!({"label": "x"})),
        ),
        (
            Method::POST,
            "/api/teams".into(),
            Some(json!({"slug": "a\u{0}"})),
        ),
        (
            Method::POST,
            "/api/teams".into(),
            Some(json!({"slug": "nul", "name": "a\u{0}b"})),
        ),
        (
            Method::POST,
            "/api/teams/acme/keys".into(),
            Some(json!({"label": "a\u{0}b"})),
        ),
        (
            Method::POST,
            "/api/teams/acme/keys".into(),
            Some(json!({"label": "x", "scopes": ["a\u{0}"]})),
        ),
    ];
    for (method, path, body) in requests {
        let what = format!("{method} {path} {body:?}");
        let response = app.api(method, &path, Some(&token), body).await;
        assert_refused(&response, &what);
    }
    still_issues_tokens(&app, &admin).await;
}

/// Runs the CLI expecting a refusal: non-zero exit, a message, and no panic.
async fn assert_cli_refuses(app: &TestApp, args: &[&str]) {
    let out = app.cli(args).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "tokenmint {args:?} should fail");
    assert_ne!(
        out.status.code(),
        Some(101),
        "a panic's exit code: {stderr}"
    );
    assert!(!stderr.trim().is_empty(), "tokenmint {args:?}: no message");
    assert!(!stderr.contains("panicked"), "tokenmint {args:?}: {stderr}");
}

async fn the_cli_refuses_extreme_lifetimes_and_limits_without_panicking(app: TestApp) {
    app.cli_ok(&["teams", "create", "acme"]).await;
    let create = ["keys", "create", "--team", "acme", "--label", "x"];
    for lifetime in BAD_LIFETIMES {
        let mut args = create.to_vec();
        args.extend(["--expires-in", lifetime]);
        assert_cli_refuses(&app, &args).await;
    }
    for limit in ["0", "-1", "4294967296", "18446744073709551616", "abc"] {
        assert_cli_refuses(&app, &["audit", "--limit", limit]).await;
    }
    app.cli_ok(&["audit", "--limit", "4294967295"]).await;
    let key = app.create_key(&["--expires-in", "3650d"]).await;
    app.token(&key, "grant_type=client_credentials").await;
}

backend_tests!(
    extreme_key_lifetimes_get_400_problems_over_http,
    a_key_of_the_longest_lifetime_gets_a_token,
    extreme_limits_and_cursors_get_4xx_problems,
    far_future_and_far_past_dates_get_400_problems,
    crafted_path_segments_and_texts_get_4xx_problems,
    the_cli_refuses_extreme_lifetimes_and_limits_without_panicking,
);
