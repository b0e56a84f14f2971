//! A corpus of malformed requests to the token endpoint, the discovery routes and the management
//! API: every one gets the right 4xx with a JSON error body (RFC 6749 §5.2 JSON, or an RFC 9457
//! problem document under the management API) — never a 5xx, a hang or a panic — and the server
//! stays healthy after all of them.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;

use crate::helpers::{TestApp, basic};

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

/// Heads over the limits (RFC 6585 §5, RFC 9110 §15.5.15), on each kind of route.
fn head_cases(auth: &str) -> Vec<Case> {
    let mut cases = Vec::new();
    let big = vec![b'a'; 20 * 1024];
    for path in [TOKEN, "/.well-known/jwks.json", "/api/teams"] {
        let many: Vec<(String, Vec<u8>)> = (0..70)
            .map(|i| (format!("x-extra-{i}"), b"1".to_vec()))
            .collect();
        let mut case = request(
            format!("70 headers to {path}"),
            "POST",
            path,
            &[],
            "",
            &[431],
        );
        case.headers = many;
        cases.push(case);
        cases.push(request(
            format!("a 20 KiB header to {path}"),
            "POST",
            path,
            &[("x-big", &big), ("authorization", auth.as_bytes())],
            "",
            &[431],
        ));
        cases.push(request(
            format!("a 20 KiB query to {path}"),
            "GET",
            format!("{path}?q={}", "a".repeat(20 * 1024)),
            &[],
            "",
            &[414],
        ));
    }
    cases
}

/// The management API: bodies, queries, paths, methods and bearer tokens gone wrong. `bearer` is
/// a valid admin token, so each refusal is about the one thing that is wrong.
fn management_cases(bearer: &str) -> Vec<Case> {
    let auth = format!("Bearer {bearer}");
    let json: &[(&str, &[u8])] = &[
        ("content-type", b"application/json"),
        ("authorization", auth.as_bytes()),
    ];
    let mut cases = Vec::new();
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let bodies: [(&str, String); 14] = [
        ("not JSON", "{".into()),
        ("an array", "[]".into()),
        ("null", "null".into()),
        ("a string", "\"acme\"".into()),
        ("a number slug", r#"{"slug":1}"#.into()),
        ("an unknown member", r#"{"slug":"a","colour":"red"}"#.into()),
        ("a repeated member", r#"{"slug":"a","slug":"b"}"#.into()),
        ("10k-deep nesting", deep),
        ("a NUL in the slug", "{\"slug\":\"a\\u0000b\"}".into()),
        ("an upper-case slug", r#"{"slug":"ACME"}"#.into()),
        (
            "a 64-character slug",
            format!(r#"{{"slug":"{}"}}"#, "a".repeat(64)),
        ),
        ("an empty slug", r#"{"slug":""}"#.into()),
        (
            "a 201-character name",
            format!(r#"{{"slug":"ok","name":"{}"}}"#, "n".repeat(201)),
        ),
        ("trailing garbage", r#"{"slug":"ok"} x"#.into()),
    ];
    for (what, body) in bodies {
        cases.push(request(
            format!("team body: {what}"),
            "POST",
            "/api/teams",
            json,
            body,
            &[400],
        ));
    }
    let mut invalid_utf8 = br#"{"slug":""#.to_vec();
    invalid_utf8.extend_from_slice(b"\xff\xfe\"}");
    cases.push(request(
        "team body: invalid UTF-8",
        "POST",
        "/api/teams",
        json,
        invalid_utf8,
        &[400],
    ));
    let keys = "/api/teams/acme/keys";
    let key_bodies: [(&str, String); 12] = [
        ("no label", "{}".into()),
        (
            "a 201-character label",
            format!(r#"{{"label":"{}"}}"#, "l".repeat(201)),
        ),
        ("a control character", r#"{"label":"a\u0007b"}"#.into()),
        ("a blank label", r#"{"label":"   "}"#.into()),
        (
            "scopes not a list",
            r#"{"label":"x","scopes":"logs:read"}"#.into(),
        ),
        (
            "an unknown scope",
            r#"{"label":"x","scopes":["logs:delete"]}"#.into(),
        ),
        (
            "a malformed scope",
            r#"{"label":"x","scopes":["a b"]}"#.into(),
        ),
        (
            "expires_in garbage",
            r#"{"label":"x","expires_in":"soon"}"#.into(),
        ),
        (
            "expires_in a number",
            r#"{"label":"x","expires_in":90}"#.into(),
        ),
        (
            "expires_in zero",
            r#"{"label":"x","expires_in":"0s"}"#.into(),
        ),
        ("test not a boolean", r#"{"label":"x","test":"yes"}"#.into()),
        (
            "an unknown member",
            r#"{"label":"x","secret":"mine"}"#.into(),
        ),
    ];
    for (what, body) in key_bodies {
        cases.push(request(
            format!("key body: {what}"),
            "POST",
            keys,
            json,
            body,
            &[400],
        ));
    }
    let bearer_only: &[(&str, &[u8])] = &[("authorization", auth.as_bytes())];
    for ct in [
        "text/plain",
        "application/x-www-form-urlencoded",
        "application/jsonx",
        "garbage",
    ] {
        let headers: &[(&str, &[u8])] = &[
            ("content-type", ct.as_bytes()),
            ("authorization", auth.as_bytes()),
        ];
        cases.push(request(
            format!("team content type {ct}"),
            "POST",
            "/api/teams",
            headers,
            r#"{"slug":"a"}"#,
            &[415],
        ));
    }
    cases.push(request(
        "team body without a content type",
        "POST",
        "/api/teams",
        bearer_only,
        r#"{"slug":"a"}"#,
        &[415],
    ));
    cases.push(request(
        "a 70 KB key body",
        "POST",
        keys,
        json,
        format!(r#"{{"label":"{}"}}"#, "x".repeat(70_000)),
        &[413],
    ));
    for query in [
        "limit=0",
        "limit=-1",
        "limit=abc",
        "limit=999999999999",
        "limit=201",
        "cursor=%%%",
        "cursor=bm9wZQ",
        "cursor=",
        "colour=red",
        "limit=1&limit=2",
        "sort=name",
        "unused_since=yesterday",
        "unused_since=2026-13-01T00:00:00Z",
        "sort=%ZZ",
    ] {
        let path = if query.starts_with("sort") || query.starts_with("unused") {
            format!("{keys}?{query}")
        } else {
            format!("/api/teams?{query}")
        };
        cases.push(request(
            format!("query {query}"),
            "GET",
            path,
            bearer_only,
            "",
            &[400],
        ));
    }
    let routes: [(&str, &[&str]); 8] = [
        ("/api/teams", &["PUT", "DELETE", "PATCH"]),
        ("/api/teams/acme", &["POST", "PUT", "DELETE"]),
        ("/api/teams/acme/keys", &["PUT", "DELETE", "PATCH"]),
        (
            "/api/teams/acme/keys/dh_live_00000000000000000000",
            &["POST", "PUT", "PATCH"],
        ),
        ("/api/teams/acme/audit", &["POST", "DELETE"]),
        ("/api/admin/signing-keys", &["POST", "DELETE"]),
        ("/api/admin/signing-keys/rotate", &["GET", "PUT"]),
        ("/api/admin/signing-keys/kid/revoke", &["GET", "DELETE"]),
    ];
    for (path, methods) in routes {
        for method in methods {
            cases.push(request(
                format!("{method} {path}"),
                method,
                path,
                bearer_only,
                "",
                &[405],
            ));
        }
    }
    for path in [
        "/api/teams/acme/nothing",
        "/api/admin",
        "/api/admin/signing-keys/a/b",
        "/api/teams/acme/keys/x/y",
    ] {
        cases.push(request(
            format!("GET {path}"),
            "GET",
            path,
            bearer_only,
            "",
            &[404],
        ));
    }
    cases.push(request(
        "a path of invalid UTF-8",
        "GET",
        "/api/teams/%FF%FE/keys",
        bearer_only,
        "",
        &[400],
    ));
    let authorizations: [(&str, &[u8]); 7] = [
        ("no Authorization", b""),
        ("Bearer alone", b"Bearer"),
        ("an empty bearer token", b"Bearer "),
        ("a token with a space", b"Bearer a b"),
        ("a token with a quote", b"Bearer a\"b"),
        ("Basic instead of Bearer", b"Basic ZGg6eA=="),
        ("a token that is not a JWT", b"Bearer abc.def.ghi"),
    ];
    for (what, value) in authorizations {
        let headers: Vec<(&str, &[u8])> = if value.is_empty() {
            vec![]
        } else {
            vec![("authorization", value)]
        };
        cases.push(request(
            format!("management auth: {what}"),
            "GET",
            "/api/teams",
            &headers,
            "",
            &[401],
        ));
    }
    cases.push(request(
        "management auth: non-ASCII",
        "GET",
        "/api/teams",
        &[("authorization", b"Bearer \xff")],
        "",
        &[400],
    ));
    cases.push(request(
        "two Authorization headers",
        "GET",
        "/api/teams",
        &[
            ("authorization", auth.as_bytes()),
            ("authorization", auth.as_bytes()),
        ],
        "",
        &[400],
    ));
    cases
}

fn corpus(auth: &str, bearer: &str) -> Vec<Case> {
    let mut cases = head_cases(auth);
    cases.extend(management_cases(bearer));
    let grant = "grant_type=client_credentials";
    // Content types the endpoint does not read.
    for ct in [
        "text/plain",
        "application/xml",
        "multipart/form-data; boundary=x",
        "application/x-www-form-urlencodedX",
        "application/json-seq",
        "garbage",
        "application/",
        "image/png",
        "text/html",
        "application/javascript",
        "application/octet-stream",
        "*/*",
        "application/jsonx",
        "text/json",
    ] {
        cases.push(post(
            format!("content type {ct}"),
            ct,
            grant,
            Some(auth),
            &[415],
        ));
    }
    // Repeated parameters (RFC 6749 §3.2).
    for param in [
        "grant_type=client_credentials",
        "scope=logs:read",
        "client_id=x",
        "client_secret=y",
        "audience=a",
    ] {
        cases.push(post(
            format!("repeated {param}"),
            FORM,
            format!("{grant}&{param}&{param}"),
            Some(auth),
            &[400],
        ));
    }
    // Broken percent-encoding, in a value and in a name.
    for bad in [
        "%", "%4", "%zz", "%G0", "%%", "a%2", "%-1", "%+1", "%0g", "%\u{e9}",
    ] {
        cases.push(post(
            format!("percent {bad:?} in value"),
            FORM,
            format!("{grant}&scope={bad}"),
            Some(auth),
            &[400],
        ));
        cases.push(post(
            format!("percent {bad:?} in name"),
            FORM,
            format!("{grant}&sc{bad}ope=a"),
            Some(auth),
            &[400],
        ));
    }
    // Invalid UTF-8, raw and percent-encoded.
    for bytes in [
        &b"\xff"[..],
        b"\xc3",
        b"\xc0\xaf",
        b"\xed\xa0\x80",
        b"\xf8\x88\x80\x80\x80",
    ] {
        let mut body = format!("{grant}&scope=").into_bytes();
        body.extend_from_slice(bytes);
        cases.push(post(
            format!("raw invalid UTF-8 {bytes:?}"),
            FORM,
            body,
            Some(auth),
            &[400],
        ));
        let encoded: String = bytes.iter().map(|b| format!("%{b:02X}")).collect();
        cases.push(post(
            format!("encoded invalid UTF-8 {encoded}"),
            FORM,
            format!("{grant}&scope={encoded}"),
            Some(auth),
            &[400],
        ));
    }
    // NUL in every parameter, encoded and raw.
    for param in [
        "grant_type",
        "scope",
        "client_id",
        "client_secret",
        "resource",
        "audience",
    ] {
        cases.push(post(
            format!("NUL in {param}"),
            FORM,
            format!("{grant}&{param}=a%00b"),
            Some(auth),
            &[400],
        ));
    }
    cases.push(post(
        "raw NUL",
        FORM,
        format!("{grant}&scope=a\0b"),
        Some(auth),
        &[400],
    ));
    // Enormous values.
    let huge = "a".repeat(60_000);
    cases.push(post(
        "huge scope",
        FORM,
        format!("{grant}&scope={huge}"),
        Some(auth),
        &[400],
    ));
    cases.push(post(
        "huge resource",
        FORM,
        format!("{grant}&resource={huge}"),
        Some(auth),
        &[400],
    ));
    cases.push(post(
        "huge grant_type",
        FORM,
        format!("grant_type={huge}"),
        Some(auth),
        &[400],
    ));
    cases.push(post(
        "huge client_id",
        FORM,
        format!("{grant}&client_id={huge}&client_secret=x"),
        None,
        &[401],
    ));
    cases.push(post(
        "body over 64 KiB",
        FORM,
        format!("{grant}&pad={}", "a".repeat(70_000)),
        Some(auth),
        &[413],
    ));
    cases.push(post(
        "ten thousand parameters",
        FORM,
        format!("{grant}{}", "&x=1".repeat(10_000)),
        Some(auth),
        &[200, 400, 401],
    ));
    // Broken Basic credentials.
    let b64 = |raw: &[u8]| STANDARD.encode(raw);
    for header in [
        "Basic".to_string(),
        "Basic ".into(),
        "Basic !!!".into(),
        "Basic =".into(),
        format!("Basic {}", b64(b"nocolon")),
        format!("Basic {}", b64(b":secret")),
        format!("Basic {}", b64(b"%zz:secret")),
        format!("Basic {}", b64(b"id:%zz")),
        format!("Basic {}", b64(b"\xff\xfe:secret")),
        format!("Basic {}", b64(b"id\0:secret")),
        "Digest abc".into(),
        "Bearer abc.def.ghi".into(),
        "Basic a b c".into(),
        format!("Basic {}====", b64(b"id:secret")),
        "NTLM TlRMTVNTUAAB".into(),
    ] {
        cases.push(post(
            format!("Authorization {header:?}"),
            FORM,
            grant,
            Some(&header),
            &[401],
        ));
    }
    let mut raw_header = post(
        "Authorization with obs-text bytes",
        FORM,
        grant,
        None,
        &[401],
    );
    raw_header
        .headers
        .push(("authorization".into(), b"Basic \xe9\xe9".to_vec()));
    cases.push(raw_header);
    let mut two = post("two Authorization headers", FORM, grant, Some(auth), &[400]);
    two.headers
        .push(("authorization".into(), auth.as_bytes().to_vec()));
    cases.push(two);
    // JSON of the wrong shape.
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    for json in [
        "[]",
        "\"x\"",
        "1",
        "null",
        "true",
        "{",
        "{\"grant_type\":1}",
        "{\"grant_type\":[\"client_credentials\"]}",
        "{\"grant_type\":{}}",
        "{\"scope\":true}",
        "{\"resource\":[1]}",
        "{\"resource\":{\"a\":1}}",
        "{\"client_id\":1}",
        "{\"grant_type\":\"client_credentials\"}x",
        "\u{feff}{\"grant_type\":\"client_credentials\"}",
        "",
        "{\"grant_type\":\"client_credentials\",\"grant_type\":\"client_credentials\"}",
        &deep,
    ] {
        cases.push(post(
            format!("JSON {:.40}", json),
            "application/json",
            json,
            Some(auth),
            &[400],
        ));
    }
    let mut bad_utf8_json = b"{\"scope\":\"".to_vec();
    bad_utf8_json.extend_from_slice(b"\xff\"}");
    cases.push(post(
        "JSON with invalid UTF-8",
        "application/json",
        bad_utf8_json,
        Some(auth),
        &[400],
    ));
    // Grant types that are not served, or malformed.
    for grant_type in [
        "password",
        "authorization_code",
        "CLIENT_CREDENTIALS",
        "client_credentials%20",
        "refresh_token",
        "urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer",
        "implicit",
        "device_code",
    ] {
        cases.push(post(
            format!("grant_type={grant_type}"),
            FORM,
            format!("grant_type={grant_type}"),
            Some(auth),
            &[400],
        ));
    }
    cases.push(post(
        "no grant_type",
        FORM,
        "scope=logs:read",
        Some(auth),
        &[400],
    ));
    // Every wrong method on every route.
    let routes: [(&str, &[&str]); 6] = [
        (
            TOKEN,
            &["GET", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE"],
        ),
        (
            "/.well-known/jwks.json",
            &["POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE"],
        ),
        (
            "/.well-known/oauth-authorization-server",
            &["POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE"],
        ),
        (
            "/healthz",
            &["POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE"],
        ),
        (
            "/readyz",
            &["POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE"],
        ),
        (
            "/metrics",
            &["POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE"],
        ),
    ];
    for (path, methods) in routes {
        for method in methods {
            cases.push(Case {
                name: format!("{method} {path}"),
                method: method.parse().unwrap(),
                path: path.into(),
                headers: Vec::new(),
                body: Vec::new(),
                expect: &[405],
            });
        }
    }
    // Paths that are not routes.
    for path in [
        "/api",
        "/api/oauth",
        "/api/oauth/token/",
        "/.well-known/jwks.json/x",
        "/%2e%2e/etc/passwd",
        "//",
        "/.well-known/openid-configuration",
        "/admin",
        "/favicon.ico",
        "/api/oauth/token%00",
        "/API/OAUTH/TOKEN",
        "/.well-known/",
        "/metrics/",
    ] {
        cases.push(Case {
            name: format!("GET {path}"),
            method: reqwest::Method::GET,
            path: path.into(),
            headers: Vec::new(),
            body: Vec::new(),
            expect: &[404],
        });
    }
    cases
}

async fn every_malformed_request_gets_the_right_4xx_with_a_json_body(app: TestApp) {
    let key = app.create_key(&[]).await;
    let auth = basic(&key.client_id, &key.client_secret);
    let admin = app.admin_key().await;
    let bearer = app.management_token(&admin, None).await;
    let cases = corpus(&auth, &bearer);
    let distinct: std::collections::HashSet<&str> = cases.iter().map(|c| c.name.as_str()).collect();
    assert!(
        distinct.len() >= 240,
        "the corpus has {} distinct requests",
        distinct.len()
    );
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
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
    [("TOKENMINT_RATE_LIMIT__FAILED_AUTH_PER_MINUTE", "0")],
    every_malformed_request_gets_the_right_4xx_with_a_json_body
);
