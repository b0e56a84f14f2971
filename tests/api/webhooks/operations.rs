//! Webhook secrets at rest, across master-key rotation, on the CLI, on several nodes, and never
//! in a log line.

use std::time::Duration;

use serde_json::{Value, json};

use super::{Delivery, assert_verdicts, caller, reveal, sign};
use crate::helpers::TestApp;

/// Every byte the database holds for the webhook secrets: the SQLite files, or the rows as
/// PostgreSQL returns them.
async fn stored_bytes(app: &TestApp) -> Vec<u8> {
    if app.database_url().starts_with("sqlite") {
        let mut bytes = Vec::new();
        for entry in std::fs::read_dir(app.dir.path()).unwrap() {
            let path = entry.unwrap().path();
            if path
                .file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("tokenmint.db")
            {
                bytes.extend(std::fs::read(path).unwrap());
            }
        }
        return bytes;
    }
    let pool = sqlx::PgPool::connect(app.database_url()).await.unwrap();
    let rows: Vec<(Vec<u8>, Option<Vec<u8>>, String)> = sqlx::query_as(
        "SELECT current_sealed, previous_sealed, row_to_json(w)::text FROM webhook_secrets w",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    pool.close().await;
    assert!(!rows.is_empty(), "the secrets are stored");
    rows.into_iter()
        .flat_map(|(current, previous, text)| {
            [current, previous.unwrap_or_default(), text.into_bytes()]
        })
        .flatten()
        .collect()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn secret_bytes(secret: &str) -> Vec<u8> {
    use base64::Engine;
    let encoded = secret.trim_start_matches("whsec_");
    base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .unwrap()
}

async fn secrets_are_sealed_at_rest_and_survive_master_key_rotation(mut app: TestApp) {
    app.cli_ok(&["teams", "create", "ops"]).await;
    let before = app
        .cli_json(&[
            "webhooks",
            "secret",
            "rotate",
            "--team",
            "ops",
            "--overlap",
            "1h",
        ])
        .await;
    let (current, previous) = (
        before["secret"].as_str().unwrap(),
        before["previous_secret"].as_str().unwrap(),
    );
    let stored = stored_bytes(&app).await;
    for secret in [current, previous] {
        assert!(
            !contains(&stored, secret.as_bytes()),
            "the whsec_ text is not stored"
        );
        assert!(
            !contains(&stored, &secret_bytes(secret)),
            "the key bytes are not stored"
        );
        assert!(!contains(
            &stored,
            secret.trim_start_matches("whsec_").as_bytes()
        ));
    }

    app.stop().await;
    app.cli_ok(&["master-key", "rotate"]).await;
    app.restart().await;
    let after = app
        .cli_json(&["webhooks", "secret", "show", "--team", "ops"])
        .await;
    assert_eq!(
        (&after["secret"], &after["previous_secret"]),
        (&before["secret"], &before["previous_secret"])
    );
    let (_, admin) = caller(&app, "ops", &["admin"]).await;
    let signed = sign(&app, "ops", &admin, json!({"payload": "after rotation"})).await;
    assert_verdicts(
        &[
            Delivery::new(current, "after rotation", &signed),
            Delivery::new(previous, "after rotation", &signed),
        ],
        &[true, true],
    )
    .await;
    assert_ne!(
        stored_bytes(&app).await,
        stored,
        "re-sealed under the new master key"
    );
}

async fn the_cli_signs_and_verifies_as_a_receiver_would(app: TestApp) {
    let _ = app.cli(&["teams", "create", "acme"]).await;
    let payload = br#"{"type":"ping"}"#;
    let out = app
        .cli_with_stdin(
            &[
                "webhooks", "sign", "--team", "acme", "--id", "msg_cli", "--json",
            ],
            payload,
        )
        .await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let signed: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(signed["webhook-id"], "msg_cli");
    let shown = app
        .cli_ok(&["webhooks", "secret", "show", "--team", "acme"])
        .await;
    assert!(shown.contains("whsec_"), "{shown}");
    let secret = app
        .cli_json(&["webhooks", "secret", "show", "--team", "acme"])
        .await["secret"]
        .as_str()
        .unwrap()
        .to_string();
    let header = |name: &str| signed[name].as_str().unwrap().to_string();
    let verify = |secret: String, input: &'static [u8], timestamp: String| {
        let app = &app;
        let (id, signature) = (header("webhook-id"), header("webhook-signature"));
        async move {
            let args = [
                "webhooks",
                "verify",
                "--secret",
                &secret,
                "--id",
                &id,
                "--timestamp",
                &timestamp,
                "--signature",
                &signature,
            ];
            app.cli_with_stdin(&args, input).await
        }
    };
    let good = verify(secret.clone(), payload, header("webhook-timestamp")).await;
    assert_eq!(
        good.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&good.stderr)
    );
    let tampered = verify(
        secret.clone(),
        b"{\"type\":\"pong\"}",
        header("webhook-timestamp"),
    )
    .await;
    assert_eq!(tampered.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&tampered.stderr).contains("does not verify"));
    let stale = (chrono::Utc::now().timestamp() - 3600).to_string();
    assert_eq!(
        verify(secret.clone(), payload, stale).await.status.code(),
        Some(1)
    );
    let foreign = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".to_string();
    assert_eq!(
        verify(foreign, payload, header("webhook-timestamp"))
            .await
            .status
            .code(),
        Some(1)
    );
    let junk = verify("not-a-secret".into(), payload, header("webhook-timestamp")).await;
    assert_eq!(junk.status.code(), Some(1));
    assert!(
        !String::from_utf8_lossy(&junk.stderr).contains("not-a-secret"),
        "the given text is not echoed"
    );

    app.cli_ok(&["webhooks", "secret", "rotate", "--team", "acme"])
        .await;
    app.cli_ok(&["webhooks", "secret", "revoke-previous", "--team", "acme"])
        .await;
    let again = app
        .cli(&["webhooks", "secret", "revoke-previous", "--team", "acme"])
        .await;
    assert_eq!(again.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&again.stderr).contains("no previous webhook secret"));
    let nope = app
        .cli(&["webhooks", "secret", "show", "--team", "nope"])
        .await;
    assert!(String::from_utf8_lossy(&nope.stderr).contains("not found"));
}

async fn other_nodes_sign_with_a_rotated_secret_within_the_refresh(app: TestApp) {
    let (_, admin) = caller(&app, "ops", &["admin"]).await;
    let node = app.start_node(&[]).await;
    let other = format!("http://{}", node.addr);
    let sign_on_other = || async {
        let response = app
            .http
            .post(format!("{other}/api/teams/ops/webhooks/sign"))
            .bearer_auth(&admin)
            .json(&json!({"payload": "p"}))
            .send()
            .await
            .unwrap();
        response.json::<Value>().await.unwrap()
    };
    let old = reveal(&app, "ops", &admin).await["secret"]
        .as_str()
        .unwrap()
        .to_string();
    assert_verdicts(&[Delivery::new(&old, "p", &sign_on_other().await)], &[true]).await;
    let rotated = app
        .post_api(
            "/api/teams/ops/webhook-secret/rotate",
            &admin,
            json!({"overlap": "0s"}),
        )
        .await;
    let new = rotated.body["secret"].as_str().unwrap().to_string();
    let started = std::time::Instant::now();
    let seen = app
        .eventually(Duration::from_secs(5), || async {
            let signed = sign_on_other().await;
            super::own_verdict(&Delivery::new(&new, "p", &signed)).is_ok()
        })
        .await;
    assert!(seen, "the other node never signed with the new secret");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "signing.refresh is 1s here"
    );
    node.stop().await;
}

async fn no_log_line_holds_a_webhook_secret(app: TestApp) {
    let config = app.config_path.to_str().unwrap().to_string();
    let server = crate::helpers::ServeProcess::start(app.dir.path(), &["--config", &config], &[])
        .await
        .unwrap();
    let (_, admin) = caller(&app, "ops", &["admin"]).await;
    let base = format!("http://{}", server.addr);
    let http = reqwest::Client::new();
    let mut secrets = Vec::new();
    for path in [
        "/api/teams/ops/webhook-secret/rotate",
        "/api/teams/ops/webhook-secret/rotate",
    ] {
        let body: Value = http
            .post(format!("{base}{path}"))
            .bearer_auth(&admin)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        secrets.push(body["secret"].as_str().unwrap().to_string());
    }
    let signed = http
        .post(format!("{base}/api/teams/ops/webhooks/sign"))
        .bearer_auth(&admin)
        .json(&json!({"payload": "p"}))
        .send()
        .await
        .unwrap();
    assert_eq!(signed.status(), 200);
    let log = server.stop().await;
    assert!(
        log.contains("webhook_secret.rotate") || log.contains("webhook secrets changed"),
        "{log}"
    );
    for secret in &secrets {
        assert!(
            !log.contains(secret.trim_start_matches("whsec_")),
            "a secret is in the log:\n{log}"
        );
    }
}

backend_tests!(
    secrets_are_sealed_at_rest_and_survive_master_key_rotation,
    the_cli_signs_and_verifies_as_a_receiver_would,
    other_nodes_sign_with_a_rotated_secret_within_the_refresh,
    no_log_line_holds_a_webhook_secret,
);
