//! API keys and signing keys changing under a running server: deletion, restarts, rotation,
//! revocation.

use std::time::Duration;

use serde_json::Value;

use crate::helpers::{AUDIENCE, TestApp, jwt_header};

/// How long a CLI change may take to show in a running server (`signing.refresh` is 1 s here;
/// the design promises 5 s).
const NOTICE: Duration = Duration::from_secs(5);

fn access_token(body: &Value) -> String {
    body["access_token"]
        .as_str()
        .expect("access_token")
        .to_string()
}

async fn deleted_key_gets_no_new_token_but_issued_tokens_still_verify(app: TestApp) {
    let key = app.create_key(&[]).await;
    let issued = access_token(&app.token(&key, "grant_type=client_credentials").await);
    app.cli_ok(&["keys", "delete", &key.client_id]).await;
    // The very next request, with the credential still in the server's verified cache.
    let response = app.post_token(&key, "grant_type=client_credentials").await;
    assert_eq!(response.status(), 401);
    assert!(
        app.verify(&issued, AUDIENCE).await.is_ok(),
        "tokens issued before deletion run out naturally"
    );
}

async fn keys_and_signing_keys_survive_a_restart(mut app: TestApp) {
    let key = app.create_key(&[]).await;
    let before = access_token(&app.token(&key, "grant_type=client_credentials").await);
    let kid_before = jwt_header(&before)["kid"].clone();
    app.restart().await;
    assert!(
        app.verify(&before, AUDIENCE).await.is_ok(),
        "a token from before the restart verifies"
    );
    let after = access_token(&app.token(&key, "grant_type=client_credentials").await);
    assert_eq!(
        jwt_header(&after)["kid"],
        kid_before,
        "the same signing key signs after a restart"
    );
}

async fn rotate_now_changes_the_kid_while_old_tokens_still_verify(app: TestApp) {
    let key = app.create_key(&[]).await;
    let old = access_token(&app.token(&key, "grant_type=client_credentials").await);
    let old_kid = jwt_header(&old)["kid"].as_str().unwrap().to_string();
    let rotated = app.cli_json(&["signing-keys", "rotate", "--now"]).await;
    let new_kid = rotated["kid"].as_str().unwrap().to_string();
    assert_ne!(new_kid, old_kid);
    assert_eq!(rotated["state"], "current");
    let switched = app
        .eventually(NOTICE, || async {
            let body = app.token(&key, "grant_type=client_credentials").await;
            jwt_header(&access_token(&body))["kid"] == new_kid.as_str()
        })
        .await;
    assert!(switched, "new tokens carry the new kid within {NOTICE:?}");
    let kids = app.jwks_kids().await;
    assert!(
        kids.contains(&old_kid) && kids.contains(&new_kid),
        "{kids:?}"
    );
    assert!(
        app.verify(&old, AUDIENCE).await.is_ok(),
        "the retired key still verifies its tokens"
    );
}

async fn a_staged_rotation_publishes_the_next_kid_before_any_token_carries_it(app: TestApp) {
    let key = app.create_key(&[]).await;
    let rotated = app.cli_json(&["signing-keys", "rotate"]).await;
    assert_eq!(rotated["state"], "next");
    let next_kid = rotated["kid"].as_str().unwrap().to_string();
    let published = app
        .eventually(NOTICE, || async {
            app.jwks_kids().await.contains(&next_kid)
        })
        .await;
    assert!(published, "the next key is in the JWKS within {NOTICE:?}");
    let token = access_token(&app.token(&key, "grant_type=client_credentials").await);
    assert_ne!(
        jwt_header(&token)["kid"],
        next_kid.as_str(),
        "a next key does not sign before publish_ahead"
    );
    // Asking again while one is pending changes nothing.
    let again = app.cli_json(&["signing-keys", "rotate"]).await;
    assert_eq!(again["kid"], next_kid.as_str());
    let listed = app.cli_json(&["signing-keys", "list"]).await;
    let states: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["current", "next"]);
}

async fn revoke_removes_the_kid_and_switches_signing(app: TestApp) {
    let key = app.create_key(&[]).await;
    let old = access_token(&app.token(&key, "grant_type=client_credentials").await);
    let kid = jwt_header(&old)["kid"].as_str().unwrap().to_string();
    let out = app.cli_ok(&["signing-keys", "revoke", "--", &kid]).await;
    assert!(out.contains("revoked"), "{out}");
    let gone = app
        .eventually(NOTICE, || async { !app.jwks_kids().await.contains(&kid) })
        .await;
    assert!(gone, "a revoked kid leaves the JWKS within {NOTICE:?}");
    assert!(
        app.verify(&old, AUDIENCE).await.is_err(),
        "tokens of a revoked key stop validating"
    );
    let new = access_token(&app.token(&key, "grant_type=client_credentials").await);
    assert_ne!(jwt_header(&new)["kid"], kid.as_str());
    assert!(app.verify(&new, AUDIENCE).await.is_ok());
    let listed = app.cli_json(&["signing-keys", "list"]).await;
    let revoked = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == kid.as_str())
        .unwrap();
    assert_eq!(revoked["state"], "revoked");
    assert!(revoked["revoked_at"].is_string());
}

async fn revoking_an_unknown_kid_is_a_clear_error(app: TestApp) {
    let out = app
        .cli(&["signing-keys", "revoke", "--", "-no-such-kid"])
        .await;
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("no signing key has kid \"-no-such-kid\""),
        "{stderr}"
    );
}

async fn master_key_rotation_keeps_tokens_valid_and_retires_the_old_master_key(mut app: TestApp) {
    let key = app.create_key(&[]).await;
    let before = access_token(&app.token(&key, "grant_type=client_credentials").await);
    let file = app.dir.path().join("keys/master.key");
    let old_master = std::fs::read_to_string(&file).unwrap();
    let out = app.cli_ok(&["master-key", "rotate"]).await;
    assert!(out.contains("re-sealed"), "{out}");
    let new_master = std::fs::read_to_string(&file).unwrap();
    assert_ne!(old_master, new_master);
    assert!(!app.dir.path().join("keys/master.key.new").exists());
    assert!(
        app.verify(&before, AUDIENCE).await.is_ok(),
        "signing keys did not change"
    );
    let audit = app.cli_json(&["audit"]).await;
    let rotations: Vec<&serde_json::Value> = audit
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "master_key.rotate")
        .collect();
    assert_eq!(rotations.len(), 1, "one audit row: {audit}");
    assert_eq!(rotations[0]["actor"], "cli");
    assert!(
        !audit.to_string().contains(new_master.trim()),
        "no key in the log"
    );

    // The old master key opens nothing any more.
    let refused = tokio::process::Command::new(env!("CARGO_BIN_EXE_tokenmint"))
        .args([
            "--config",
            app.config_path.to_str().unwrap(),
            "signing-keys",
            "list",
        ])
        .env("TOKENMINT_MASTER_KEY", old_master.trim())
        .output()
        .await
        .unwrap();
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("master key"));

    // The running server reloads the file, so it can open a key sealed under the new master.
    let rotated = app.cli_json(&["signing-keys", "rotate", "--now"]).await;
    let new_kid = rotated["kid"].as_str().unwrap().to_string();
    let switched = app
        .eventually(NOTICE, || async {
            let body = app.token(&key, "grant_type=client_credentials").await;
            jwt_header(&access_token(&body))["kid"] == new_kid.as_str()
        })
        .await;
    assert!(
        switched,
        "the server signs with a key sealed under the new master key"
    );
    app.restart().await;
    let after = access_token(&app.token(&key, "grant_type=client_credentials").await);
    assert!(app.verify(&after, AUDIENCE).await.is_ok());
    assert!(app.verify(&before, AUDIENCE).await.is_ok());
}

backend_tests!(
    master_key_rotation_keeps_tokens_valid_and_retires_the_old_master_key,
    deleted_key_gets_no_new_token_but_issued_tokens_still_verify,
    keys_and_signing_keys_survive_a_restart,
    rotate_now_changes_the_kid_while_old_tokens_still_verify,
    a_staged_rotation_publishes_the_next_kid_before_any_token_carries_it,
    revoke_removes_the_kid_and_switches_signing,
    revoking_an_unknown_kid_is_a_clear_error,
);
