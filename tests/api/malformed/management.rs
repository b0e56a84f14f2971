//! Malformed requests to the management API: problem documents (RFC 9457), never a 5xx.

use super::{Case, request};

/// The management API: bodies, queries, paths, methods and bearer tokens gone wrong. `bearer` is
/// a valid admin token, so each refusal is about the one thing that is wrong.
pub(super) fn management_cases(bearer: &str) -> Vec<Case> {
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
    let routes: [(&str, &[&str]); 11] = [
        ("/api/teams", &["PUT", "DELETE", "PATCH"]),
        ("/api/teams/acme", &["POST", "PUT", "DELETE"]),
        ("/api/teams/acme/keys", &["PUT", "DELETE", "PATCH"]),
        (
            "/api/teams/acme/keys/dh_live_00000000000000000000",
            &["POST", "PUT"],
        ),
        (
            "/api/teams/acme/keys/dh_live_00000000000000000000/roll",
            &["GET", "PUT", "DELETE"],
        ),
        (
            "/api/teams/acme/keys/dh_live_00000000000000000000/previous-secret",
            &["GET", "POST"],
        ),
        ("/api/secret-scanning/reports", &["GET", "PUT", "DELETE"]),
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
        "two Authorization headers at the management API",
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
