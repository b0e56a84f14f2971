//! Setting reports up: off without a keys file, a keys file that cannot be used stops the
//! start, and the reported secret reaches no log.

use serde_json::json;

use super::{KEYS_FILE_ENV, REPORTS, Scanner, finding};
use crate::helpers::TestApp;

/// Off unless configured: 404, even for a well-signed report.
async fn reports_are_off_without_a_keys_file(app: TestApp) {
    let scanner = Scanner::new();
    let (status, answer) = scanner.report(&app, "[]").await;
    assert_eq!(status, 404, "{answer}");
    assert!(
        answer["detail"]
            .as_str()
            .unwrap()
            .contains("public_keys_file")
    );
}

/// A keys file that cannot be used stops the start, naming the setting.
async fn an_unusable_keys_file_stops_the_start(app: TestApp) {
    let bad = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        bad.path(),
        r#"{"public_keys": [{"key_identifier": "k", "key": "x"}]}"#,
    )
    .unwrap();
    for file in [bad.path().to_str().unwrap(), "/nonexistent/keys.json"] {
        let vars = [(KEYS_FILE_ENV.to_string(), file.to_string())];
        let config = tokenmint::config::Config::load_from(Some(&app.config_path), &vars)
            .unwrap()
            .config;
        let refused = tokenmint::app::App::build(config).await.err().unwrap();
        assert!(
            format!("{refused:#}").contains("secret_scanning.public_keys_file"),
            "{refused:#}"
        );
    }
}

/// The reported secret reaches no log line, at debug.
async fn the_reported_secret_is_never_logged(app: TestApp) {
    let scanner = Scanner::new();
    let node = app.start_node(&[scanner.env()]).await;
    let key = app.create_key(&[]).await;
    let body = json!([finding(&key.client_secret)]).to_string();
    let signature = scanner.sign(body.as_bytes());
    let answer = app
        .http
        .post(format!("http://{}{REPORTS}", node.addr))
        .header("content-type", "application/json")
        .header("Github-Public-Key-Identifier", &scanner.identifier)
        .header("Github-Public-Key-Signature", signature)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    let log = node.stop().await;
    assert!(log.contains("leaked secret reported"), "{log}");
    assert!(log.contains(&key.client_id), "{log}");
    assert!(
        !log.contains(&key.client_secret),
        "the secret in the log:\n{log}"
    );
}

storage_free_tests!(
    reports_are_off_without_a_keys_file,
    an_unusable_keys_file_stops_the_start,
    the_reported_secret_is_never_logged,
);
