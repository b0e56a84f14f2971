//! What an operator sees: Prometheus metrics, request ids, `config check`, `--version`.

use std::collections::HashMap;

use crate::helpers::{Key, TestApp};

/// Parses the Prometheus text format strictly enough to catch a malformed line: every sample is
/// `name{labels} value`, every name has a `# TYPE`. Returns sample → value.
fn parse_prometheus(text: &str) -> HashMap<String, f64> {
    let mut typed = std::collections::HashSet::new();
    let mut samples = HashMap::new();
    for line in text.lines().filter(|l| !l.is_empty()) {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let mut parts = rest.split(' ');
            typed.insert(parts.next().unwrap().to_string());
            let kind = parts.next().unwrap();
            assert!(["counter", "gauge", "histogram"].contains(&kind), "{line}");
            continue;
        }
        if line.starts_with("# HELP ") {
            continue;
        }
        let (series, value) = line
            .rsplit_once(' ')
            .unwrap_or_else(|| panic!("malformed sample: {line}"));
        let value: f64 = value
            .parse()
            .unwrap_or_else(|_| panic!("malformed value: {line}"));
        let name = series.split('{').next().unwrap();
        let family = name
            .trim_end_matches("_bucket")
            .trim_end_matches("_sum")
            .trim_end_matches("_count");
        assert!(
            typed.contains(name) || typed.contains(family),
            "no # TYPE for {name}"
        );
        assert!(
            name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
            "{name}"
        );
        samples.insert(series.to_string(), value);
    }
    samples
}

async fn scrape(app: &TestApp) -> HashMap<String, f64> {
    let response = app.get("/metrics").await;
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    parse_prometheus(&response.text().await.unwrap())
}

fn value(samples: &HashMap<String, f64>, series: &str) -> f64 {
    samples.get(series).copied().unwrap_or(0.0)
}

async fn metrics_parse_and_move_with_traffic(app: TestApp) {
    let key = app.create_key(&[]).await;
    let before = scrape(&app).await;
    app.token(&key, "grant_type=client_credentials").await;
    app.token(&key, "grant_type=client_credentials").await;
    let wrong = Key {
        client_secret: app.create_key(&[]).await.client_secret,
        ..key.clone()
    };
    assert_eq!(
        app.post_token(&wrong, "grant_type=client_credentials")
            .await
            .status(),
        401
    );
    assert_eq!(
        app.post_token(&key, "grant_type=password").await.status(),
        400
    );
    let etag = app.get("/.well-known/jwks.json").await.headers()["etag"].clone();
    let cached = app
        .http
        .get(format!("{}/.well-known/jwks.json", app.base))
        .header("if-none-match", etag)
        .send()
        .await
        .unwrap();
    assert_eq!(cached.status(), 304);
    let after = scrape(&app).await;
    let moved = |series: &str| value(&after, series) - value(&before, series);
    assert_eq!(
        moved(r#"tokenmint_token_requests_total{outcome="issued"}"#),
        2.0
    );
    assert_eq!(
        moved(r#"tokenmint_token_requests_total{outcome="invalid_client"}"#),
        1.0
    );
    assert_eq!(
        moved(r#"tokenmint_token_requests_total{outcome="unsupported_grant_type"}"#),
        1.0
    );
    assert_eq!(
        moved(r#"tokenmint_credential_verifications_total{result="valid"}"#),
        1.0
    );
    assert_eq!(
        moved(r#"tokenmint_credential_verifications_total{result="cache_hit"}"#),
        1.0
    );
    assert_eq!(
        moved(r#"tokenmint_credential_verifications_total{result="invalid"}"#),
        1.0
    );
    assert_eq!(moved(r#"tokenmint_jwks_requests_total{status="304"}"#), 1.0);
    assert_eq!(moved("tokenmint_token_request_seconds_count"), 4.0);
    assert_eq!(
        value(&after, r#"tokenmint_signing_keys{state="current"}"#),
        1.0
    );
    assert!(after.contains_key("tokenmint_argon2_waiting"));
    assert!(after.contains_key("tokenmint_signing_key_age_seconds"));
    let since = value(
        &after,
        "tokenmint_signing_key_current_since_timestamp_seconds",
    );
    let now = chrono::Utc::now().timestamp() as f64;
    assert!(
        (now - 3600.0..=now).contains(&since),
        "the current key started signing at start: {since}"
    );
}

async fn request_ids_are_generated_or_echoed(app: TestApp) {
    let generated = app.get("/healthz").await;
    let id = generated.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_string();
    assert_eq!(id.len(), 36, "a UUID: {id}");
    let echoed = app
        .http
        .get(format!("{}/healthz", app.base))
        .header("x-request-id", "req-42")
        .send()
        .await
        .unwrap();
    assert_eq!(echoed.headers()["x-request-id"], "req-42");
    let on_error = app.post_form("grant_type=client_credentials").await;
    assert!(
        on_error.headers().contains_key("x-request-id"),
        "error responses carry it too"
    );
}

async fn cli_config_check_prints_or_names_the_bad_setting(app: TestApp) {
    let out = app.cli_ok(&["config", "check"]).await;
    assert!(
        out.contains("[signing]") && out.contains("issuer = \"https://issuer.test\""),
        "{out}"
    );
    let bad = app.dir.path().join("bad.toml");
    std::fs::write(&bad, "[signing]\npublish_ahead = \"1m\"\n").unwrap();
    let refused = tokio::process::Command::new(env!("CARGO_BIN_EXE_tokenmint"))
        .args(["--config", bad.to_str().unwrap(), "config", "check"])
        .output()
        .await
        .unwrap();
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("signing.jwks_max_age"));
    let version = app.cli_ok(&["--version"]).await;
    assert!(version.starts_with("tokenmint "), "{version}");
    // A PostgreSQL password in the URL's query is masked like one after the user name.
    let url = "postgres://u:hunter1@db.invalid/db?password=hunter2&sslmode=disable";
    let shown = tokio::process::Command::new(env!("CARGO_BIN_EXE_tokenmint"))
        .args(["config", "check"])
        .env("TOKENMINT_DATABASE_URL", url)
        .current_dir(app.dir.path())
        .output()
        .await
        .unwrap();
    let out = String::from_utf8_lossy(&shown.stdout);
    assert!(shown.status.success(), "{out}");
    assert!(
        !out.contains("hunter1") && !out.contains("hunter2"),
        "{out}"
    );
    assert!(out.contains("password=****"), "{out}");
}

backend_tests!(metrics_parse_and_move_with_traffic);

/// Before any traffic, every labelled series an alert or a dashboard names exists, at 0.
async fn every_series_exists_at_zero_before_traffic(app: TestApp) {
    let samples = scrape(&app).await;
    let expected = [
        (
            "tokenmint_token_requests_total",
            "outcome",
            &tokenmint::metrics::TOKEN_OUTCOMES[..],
        ),
        (
            "tokenmint_credential_verifications_total",
            "result",
            &["cache_hit", "valid", "invalid", "not_admitted", "busy"],
        ),
        ("tokenmint_jwks_requests_total", "status", &["200", "304"]),
        (
            "tokenmint_database_errors_total",
            "kind",
            &["unavailable", "timeout", "other"],
        ),
        ("tokenmint_panics_total", "where", &["request", "task"]),
        (
            "tokenmint_connections_refused_total",
            "reason",
            &["per_address", "streams"],
        ),
        (
            "tokenmint_connections_cut_total",
            "reason",
            &["silent", "header_timeout", "idle"],
        ),
        (
            "tokenmint_api_keys",
            "hygiene",
            &["all", "rotation_due", "expiring_soon", "expired"],
        ),
    ];
    for (family, label, values) in expected {
        for value in values {
            let series = format!("{family}{{{label}=\"{value}\"}}");
            assert_eq!(samples.get(&series), Some(&0.0), "{series}");
        }
    }
    let build = format!(
        "tokenmint_build_info{{version=\"{}\"}}",
        env!("CARGO_PKG_VERSION")
    );
    assert_eq!(samples.get(&build), Some(&1.0), "{build}");
    // The process's own figures (the server runs in this test's process); CPU time is counted
    // in whole seconds, so it may still be 0.
    assert!(samples.contains_key("process_cpu_seconds_total"));
    for family in [
        "process_resident_memory_bytes",
        "process_open_fds",
        "process_start_time_seconds",
    ] {
        assert!(samples.get(family).is_some_and(|v| *v > 0.0), "{family}");
    }
}

mod storage_free {
    use super::{
        cli_config_check_prints_or_names_the_bad_setting,
        every_series_exists_at_zero_before_traffic, request_ids_are_generated_or_echoed,
    };

    storage_free_tests!(
        request_ids_are_generated_or_echoed,
        cli_config_check_prints_or_names_the_bad_setting,
        every_series_exists_at_zero_before_traffic,
    );
}

mod metrics_off {
    use crate::helpers::TestApp;

    async fn metrics_can_be_turned_off(app: TestApp) {
        assert_eq!(app.get("/metrics").await.status(), 404);
    }

    storage_free_tests_with!(
        [("TOKENMINT_METRICS__ENABLED", "false")],
        metrics_can_be_turned_off
    );
}

mod metrics_bind {
    use crate::helpers::TestApp;

    /// `metrics.bind` serves `/metrics` on its own listener, and only there.
    async fn metrics_move_to_their_own_listener(app: TestApp) {
        assert_eq!(
            app.get("/metrics").await.status(),
            404,
            "not on the public listener"
        );
        let metrics = app.metrics_base.clone().expect("a metrics listener");
        let response = app
            .http
            .get(format!("{metrics}/metrics"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert!(
            response
                .text()
                .await
                .unwrap()
                .contains("tokenmint_signing_keys{state=\"current\"} 1")
        );
        let token = app
            .http
            .post(format!("{metrics}/api/oauth/token"))
            .send()
            .await
            .unwrap();
        assert_eq!(
            token.status(),
            404,
            "the metrics listener serves nothing else"
        );
    }

    storage_free_tests_with!(
        [("TOKENMINT_METRICS__BIND", "127.0.0.1:0")],
        metrics_move_to_their_own_listener
    );
}

mod logs {
    use crate::helpers::TestApp;

    /// A log that goes to a pipe (a file, journald) holds no colour codes even without
    /// `NO_COLOR`; probes that succeed are at debug, so an info log shows only real requests;
    /// latency is a number of milliseconds to the microsecond.
    async fn a_piped_log_is_plain_and_leaves_probes_out(app: TestApp) {
        let node = app
            .start_node(&[("NO_COLOR", ""), ("RUST_LOG", "info")])
            .await;
        let http = reqwest::Client::new();
        for path in ["/healthz", "/readyz", "/metrics", "/.well-known/jwks.json"] {
            let answer = http
                .get(format!("http://{}{path}", node.addr))
                .send()
                .await
                .unwrap();
            assert_eq!(answer.status(), 200, "{path}");
        }
        let log = node.stop().await;
        assert!(
            !log.contains('\u{1b}'),
            "escape codes in a piped log:\n{log}"
        );
        let requests: Vec<&str> = log.lines().filter(|l| l.contains(" request ")).collect();
        assert_eq!(requests.len(), 1, "only the JWKS request at info:\n{log}");
        assert!(
            requests[0].contains("route=\"/.well-known/jwks.json\""),
            "{log}"
        );
        let latency = requests[0]
            .split("latency_ms=")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .expect("a latency_ms field");
        let decimals = latency.split('.').nth(1).map_or(0, str::len);
        assert!(latency.parse::<f64>().is_ok() && decimals <= 3, "{latency}");
    }

    storage_free_tests!(a_piped_log_is_plain_and_leaves_probes_out);
}
