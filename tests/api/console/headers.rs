//! `/console` over HTTP: the page and its assets with a strict Content-Security-Policy and the
//! other security headers, revalidation by ETag, and `console.enabled = false` turning it off.

use crate::helpers::TestApp;

/// Requires the headers every console response carries.
fn assert_secure(response: &reqwest::Response) {
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    let csp = header("content-security-policy");
    for directive in [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "frame-ancestors 'none'",
        "form-action 'none'",
        "object-src 'none'",
        "base-uri 'none'",
    ] {
        assert!(csp.contains(directive), "{directive} missing from {csp}");
    }
    assert!(!csp.contains("unsafe"), "{csp}");
    assert_eq!(header("x-frame-options"), "DENY");
    assert_eq!(header("referrer-policy"), "no-referrer");
    assert_eq!(header("x-content-type-options"), "nosniff");
}

async fn the_console_answers_with_the_security_headers(app: TestApp) {
    let page = app.get("/console").await;
    assert_eq!(page.status(), 200);
    assert_secure(&page);
    assert_eq!(page.headers()["content-type"], "text/html; charset=utf-8");
    let etag = page.headers()["etag"].clone();
    let html = page.text().await.unwrap();
    assert!(html.contains("/console/assets/js/main.js"), "{html}");
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "nothing from another origin"
    );

    let script = app.get("/console/assets/js/main.js").await;
    assert_eq!(script.status(), 200);
    assert_secure(&script);
    assert_eq!(
        script.headers()["content-type"],
        "text/javascript; charset=utf-8"
    );
    let style = app.get("/console/assets/console.css").await;
    assert_eq!(style.headers()["content-type"], "text/css; charset=utf-8");

    let again = app
        .http
        .get(format!("{}/console", app.base))
        .header("if-none-match", etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);
    assert_secure(&again);

    for missing in [
        "/console/assets/nope.js",
        "/console/assets/js",
        "/console/x",
    ] {
        let response = app.get(missing).await;
        assert_eq!(response.status(), 404, "{missing}");
        assert_secure(&response);
    }
    let slash = app.get("/console/").await;
    assert_eq!(
        slash.url().path(),
        "/console",
        "/console/ redirects to /console"
    );
}

/// The console is a client of the API, not a way around it: it adds no route under /api.
async fn the_console_adds_no_api_route(app: TestApp) {
    let response = app.get("/api/console").await;
    assert_eq!(response.status(), 404);
}

storage_free_tests!(
    the_console_answers_with_the_security_headers,
    the_console_adds_no_api_route,
);

mod disabled {
    use crate::helpers::TestApp;

    async fn a_disabled_console_is_not_found(app: TestApp) {
        for path in ["/console", "/console/assets/js/main.js"] {
            let response = app.get(path).await;
            assert_eq!(response.status(), 404, "{path}");
            assert!(response.headers().get("content-security-policy").is_none());
            let body: serde_json::Value = response.json().await.unwrap();
            assert_eq!(body["error"], "not_found");
        }
        assert_eq!(
            app.get("/healthz").await.status(),
            200,
            "the rest still runs"
        );
    }

    storage_free_tests_with!(
        [("TOKENMINT_CONSOLE__ENABLED", "false")],
        a_disabled_console_is_not_found,
    );
}
