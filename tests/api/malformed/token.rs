//! Malformed requests to the token endpoint and heads over the limits on every kind of route;
//! with the management API's cases, the whole corpus.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::management::management_cases;
use super::{Case, FORM, TOKEN, post, request};

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

/// Every malformed request of the corpus: heads, the token endpoint, the management API.
pub(super) fn corpus(auth: &str, bearer: &str) -> Vec<Case> {
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
        // RFC 6749 §3.2: unrecognized parameters are ignored.
        &[200],
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
    let mut two = post(
        "two Authorization headers at the token endpoint",
        FORM,
        grant,
        Some(auth),
        &[400],
    );
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
