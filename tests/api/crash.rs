//! Crash safety: SIGKILL in the middle of work loses nothing that was acknowledged.

use std::time::Duration;

use serde_json::Value;

use crate::helpers::{AUDIENCE, Key, TestApp, basic, jwt_header, verify_with};

async fn token_from(http: &reqwest::Client, addr: &str, key: &Key) -> Option<String> {
    let response = http
        .post(format!("http://{addr}/api/oauth/token"))
        .header("authorization", basic(&key.client_id, &key.client_secret))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=client_credentials")
        .send()
        .await
        .ok()?;
    let body: Value = response.json().await.ok()?;
    body["access_token"].as_str().map(String::from)
}

/// Keys are created (one CLI killed mid-way), tokens issued, and the server killed with SIGKILL;
/// after a restart every acknowledged key gets a token, every stored key is whole, and the
/// signing keys are the same.
async fn sigkill_loses_nothing_acknowledged(app: TestApp) {
    let first = app.create_key(&[]).await;
    let server = app
        .start_node(&[("TOKENMINT_RATE_LIMIT__ENABLED", "false")])
        .await;
    let addr = server.addr.clone();
    let before = token_from(&app.http, &addr, &first)
        .await
        .expect("a token before the crash");
    let signing_before = app.cli_json(&["signing-keys", "list"]).await;

    let load = {
        let (http, addr, key) = (app.http.clone(), addr.clone(), first.clone());
        tokio::spawn(async move {
            let mut issued = 0;
            for _ in 0..2000 {
                match token_from(&http, &addr, &key).await {
                    Some(_) => issued += 1,
                    None => break,
                }
            }
            issued
        })
    };
    let mut acknowledged = vec![first.clone()];
    for i in 0..6 {
        if let Some(delay) = [10, 40, 80].get(i) {
            // A CLI killed while it creates a key: it may or may not have committed, never
            // half (checked below against the audit log, written in the same transaction).
            kill_after(&app, &format!("killed-{i}"), Duration::from_millis(*delay)).await;
        }
        acknowledged.push(app.create_key(&[]).await);
    }
    server.stop().await; // SIGKILL, mid-load
    let issued = load.await.unwrap();
    assert!(
        issued > 0,
        "tokens were being issued when the server was killed"
    );

    let restarted = app
        .start_node(&[("TOKENMINT_RATE_LIMIT__ENABLED", "false")])
        .await;
    let jwks = serde_json::from_value(
        app.http
            .get(format!("http://{}/.well-known/jwks.json", restarted.addr))
            .send()
            .await
            .unwrap()
            .json::<Value>()
            .await
            .unwrap(),
    )
    .unwrap();
    assert!(
        verify_with(&jwks, &before, AUDIENCE).is_ok(),
        "a token from before the crash verifies"
    );
    for key in &acknowledged {
        let token = token_from(&app.http, &restarted.addr, key).await;
        let token = token.unwrap_or_else(|| panic!("acknowledged key {} lost", key.client_id));
        assert_eq!(
            jwt_header(&token)["kid"],
            jwt_header(&before)["kid"],
            "the same signing key signs"
        );
    }
    let listed = app.cli_json(&["keys", "list", "--team", "acme"]).await;
    let listed = listed.as_array().unwrap();
    let audit = app
        .cli_json(&["audit", "--team", "acme", "--limit", "1000"])
        .await;
    let created_in_audit: Vec<&str> = audit
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "api_key.create")
        .filter_map(|e| e["target"].as_str())
        .collect();
    let killed: Vec<&Value> = listed
        .iter()
        .filter(|k| k["label"].as_str().unwrap().starts_with("killed-"))
        .collect();
    assert_eq!(
        listed.len(),
        acknowledged.len() + killed.len(),
        "every acknowledged key, and whatever the killed CLIs committed: {listed:?}"
    );
    assert_eq!(
        created_in_audit.len(),
        listed.len(),
        "a key is stored exactly when its audit row is: {audit}"
    );
    for key in listed {
        let client_id = key["client_id"].as_str().unwrap();
        assert!(
            created_in_audit.contains(&client_id),
            "{client_id} has its audit row"
        );
    }
    for key in listed {
        for field in ["client_id", "label", "created_at"] {
            assert!(key[field].is_string(), "a whole row: {key}");
        }
        assert!(
            !key["scopes"].as_array().unwrap().is_empty(),
            "a whole row: {key}"
        );
    }
    let signing_after = app.cli_json(&["signing-keys", "list"]).await;
    assert_eq!(signing_after, signing_before, "signing keys intact");
    restarted.stop().await;
}

/// Starts `keys create --label LABEL` and kills it after `delay`.
async fn kill_after(app: &TestApp, label: &str, delay: Duration) {
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_tokenmint"))
        .args(["--config", app.config_path.to_str().unwrap()])
        .args(["keys", "create", "--team", "acme", "--label", label])
        .env_remove("TOKENMINT_MASTER_KEY")
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    tokio::time::sleep(delay).await;
    let _ = child.start_kill();
    let _ = child.wait().await;
}

backend_tests!(sigkill_loses_nothing_acknowledged);
