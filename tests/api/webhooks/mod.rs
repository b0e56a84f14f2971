//! Webhook signing secrets: signatures checked by the official Standard Webhooks library
//! (Python, from PyPI), by tokenmint's own verifier and by the tokenmint-client crate; the overlap; team isolation and scopes;
//! sealing at rest; master-key rotation; the CLI; several nodes.

mod access;
mod lifecycle;
mod operations;

use std::path::PathBuf;

use reqwest::Method;
use serde_json::{Value, json};
use tokio::sync::OnceCell;

use crate::helpers::{Key, TestApp};

/// The Python of a virtualenv holding the official `standardwebhooks` package, made on first use
/// (`scripts/test` makes it beforehand). A machine that cannot install it fails the tests.
async fn official_python() -> &'static PathBuf {
    static PYTHON: OnceCell<PathBuf> = OnceCell::const_new();
    PYTHON
        .get_or_init(|| async {
            let venv = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/test-venv");
            let python = venv.join("bin/python");
            let has_library = || async {
                tokio::process::Command::new(&python)
                    .args(["-c", "import standardwebhooks"])
                    .output()
                    .await
                    .is_ok_and(|out| out.status.success())
            };
            if !has_library().await {
                run(&["python3", "-m", "venv", venv.to_str().unwrap()]).await;
                let pip = venv.join("bin/pip");
                run(&[
                    pip.to_str().unwrap(),
                    "install",
                    "-q",
                    "standardwebhooks==1.1.0",
                ])
                .await;
                assert!(has_library().await, "standardwebhooks did not install");
            }
            python
        })
        .await
}

async fn run(command: &[&str]) {
    let out = tokio::process::Command::new(command[0])
        .args(&command[1..])
        .output()
        .await
        .expect("run");
    assert!(
        out.status.success(),
        "{command:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// One delivery to check: the receiver's secret, the payload and the three headers.
#[derive(Clone)]
struct Delivery {
    secret: String,
    payload: String,
    headers: Value,
}

impl Delivery {
    fn new(secret: &str, payload: &str, headers: &Value) -> Self {
        Self {
            secret: secret.to_string(),
            payload: payload.to_string(),
            headers: headers.clone(),
        }
    }

    fn with_header(mut self, name: &str, value: &str) -> Self {
        self.headers[name] = json!(value);
        self
    }
}

/// What the official library says of each delivery: "ok" or why it refused.
async fn official_verdicts(deliveries: &[Delivery]) -> Vec<String> {
    let input: Vec<Value> = deliveries
        .iter()
        .map(|d| json!({"secret": d.secret, "payload": d.payload, "headers": d.headers}))
        .collect();
    let script =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/support/standardwebhooks_verify.py");
    let mut child = tokio::process::Command::new(official_python().await)
        .arg(script)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python");
    use tokio::io::AsyncWriteExt;
    let mut stdin = child.stdin.take().unwrap();
    stdin
        .write_all(&serde_json::to_vec(&input).unwrap())
        .await
        .unwrap();
    drop(stdin);
    let out = child.wait_with_output().await.unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("verdicts")
}

/// What tokenmint's own verifier says of a delivery.
fn own_verdict(delivery: &Delivery) -> Result<(), tokenmint::webhooks::VerifyError> {
    let secret = tokenmint::webhooks::WebhookSecret::parse(&delivery.secret).unwrap();
    let header = |name: &str| delivery.headers[name].as_str().unwrap_or("").to_string();
    tokenmint::webhooks::verify(
        &secret,
        &header("webhook-id"),
        &header("webhook-timestamp"),
        &header("webhook-signature"),
        delivery.payload.as_bytes(),
        chrono::Utc::now().timestamp(),
        tokenmint::webhooks::signature::DEFAULT_TOLERANCE,
    )
}

/// What the SDK a customer's Rust server would use (tokenmint-client) says of a delivery.
fn sdk_verdict(delivery: &Delivery) -> bool {
    let header = |name: &str| delivery.headers[name].as_str().unwrap_or("").to_string();
    tokenmint_client::webhook::Webhook::new(&delivery.secret)
        .unwrap()
        .verify_parts_at(
            &header("webhook-id"),
            &header("webhook-timestamp"),
            &header("webhook-signature"),
            delivery.payload.as_bytes(),
            chrono::Utc::now().timestamp(),
        )
        .is_ok()
}

/// The three verifiers (the official library, tokenmint's, the SDK's) agree on every delivery, and it is `expected` ("ok" or refused).
async fn assert_verdicts(deliveries: &[Delivery], expected: &[bool]) {
    let official = official_verdicts(deliveries).await;
    for (i, ((delivery, verdict), ok)) in deliveries.iter().zip(&official).zip(expected).enumerate()
    {
        assert_eq!(
            verdict == "ok",
            *ok,
            "delivery {i}, official library: {verdict}"
        );
        assert_eq!(
            own_verdict(delivery).is_ok(),
            *ok,
            "delivery {i}, tokenmint's verifier"
        );
        assert_eq!(
            sdk_verdict(delivery),
            *ok,
            "delivery {i}, the tokenmint-client crate"
        );
    }
}

/// A key of `team` holding `scopes`, and a management token of it.
async fn caller(app: &TestApp, team: &str, scopes: &[&str]) -> (Key, String) {
    let key = app.create_key_in(team, scopes).await;
    let token = app.management_token(&key, None).await;
    (key, token)
}

async fn reveal(app: &TestApp, team: &str, token: &str) -> Value {
    let path = format!("/api/teams/{team}/webhook-secret");
    let response = app.api(Method::GET, &path, Some(token), None).await;
    assert_eq!(response.status, 200, "{}", response.text);
    assert_eq!(response.header("cache-control"), "no-store");
    response.body
}

async fn sign(app: &TestApp, team: &str, token: &str, body: Value) -> Value {
    let response = app
        .post_api(&format!("/api/teams/{team}/webhooks/sign"), token, body)
        .await;
    assert_eq!(response.status, 200, "{}", response.text);
    response.body
}

async fn an_empty_rotation_body_uses_the_configured_overlap(app: TestApp) {
    let (_, admin) = caller(&app, "ops", &["admin"]).await;
    let response = app
        .api(
            Method::POST,
            "/api/teams/ops/webhook-secret/rotate",
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(response.status, 200, "{}", response.text);
    let until =
        chrono::DateTime::parse_from_rfc3339(response.body["previous_until"].as_str().unwrap())
            .unwrap();
    let minutes = (until.timestamp() - chrono::Utc::now().timestamp()) / 60;
    assert!(
        (8..=10).contains(&minutes),
        "webhooks.overlap is 10m here: {minutes}"
    );
}

storage_free_tests_with!(
    [("TOKENMINT_WEBHOOKS__OVERLAP", "10m")],
    an_empty_rotation_body_uses_the_configured_overlap,
);
