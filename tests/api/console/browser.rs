//! The console in Debian's Chromium: `tests/browser/console.mjs` (Playwright, `playwright-core`
//! pointed at `/usr/bin/chromium`, no browser download) drives the page against this server, and
//! this test checks again over HTTP what the page claims to have done.
//!
//! `bash scripts/test` installs Chromium and `tests/browser/node_modules` when they are missing.
//! It runs on SQLite alone: the console is a client of the management API, whose storage is
//! tested on both backends by `management`; a browser run costs about 20 seconds.

use std::path::{Path, PathBuf};
use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{Key, TestApp};

const CHROMIUM: &str = "/usr/bin/chromium";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Fails, naming the fix, when the browser or the Node packages are missing.
fn require_browser_tools(root: &Path) {
    assert!(
        Path::new(CHROMIUM).exists(),
        "{CHROMIUM} is missing: run `bash scripts/test` (it installs Debian's chromium)"
    );
    assert!(
        root.join("tests/browser/node_modules/playwright-core")
            .is_dir(),
        "tests/browser/node_modules is missing: run `bash scripts/test` (it runs npm ci there)"
    );
}

/// Moves a key's creation back `days` days, as if it had been made then.
async fn backdate(app: &TestApp, client_id: &str, days: i64) {
    let pool = sqlx::SqlitePool::connect(app.database_url()).await.unwrap();
    let then = chrono::Utc::now() - chrono::Duration::days(days);
    let done = sqlx::query("UPDATE api_keys SET created_at = ? WHERE client_id = ?")
        .bind(then.to_rfc3339())
        .bind(client_id)
        .execute(&pool)
        .await
        .unwrap();
    assert_eq!(done.rows_affected(), 1);
    pool.close().await;
}

/// The world the browser finds: an admin key (team ops), a keys:read key and an old key of
/// acme, a key of beta, and more than a page of audit events.
async fn world(app: &TestApp) -> Vec<(&'static str, String)> {
    let admin = app.admin_key().await;
    let reader = app.create_key_in("acme", &["keys:read"]).await;
    let old = app.create_key_in("acme", &[]).await;
    let other = app.create_key_in("beta", &[]).await;
    backdate(app, &old.client_id, 120).await;
    let token = app.management_token(&admin, None).await;
    for n in 0..30 {
        let created = app
            .post_api("/api/teams", &token, json!({ "slug": format!("team-{n}") }))
            .await;
        assert_eq!(created.status, 201, "{}", created.text);
    }
    let Key {
        client_id,
        client_secret,
        ..
    } = admin;
    vec![
        ("ADMIN_ID", client_id),
        ("ADMIN_SECRET", client_secret),
        ("READER_ID", reader.client_id),
        ("READER_SECRET", reader.client_secret),
        ("OLD_KEY_ID", old.client_id),
        ("OTHER_TEAM_ID", other.client_id),
    ]
}

async fn the_console_works_in_a_real_browser(app: TestApp) {
    let root = root();
    require_browser_tools(&root);
    let env = world(&app).await;
    let screenshots = root.join("target/screenshots");
    let run = tokio::process::Command::new("node")
        .arg("tests/browser/console.mjs")
        .current_dir(&root)
        .env("CONSOLE_BASE", &app.base)
        .env("SCREENSHOTS", &screenshots)
        .env("CHROMIUM", CHROMIUM)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(240), run)
        .await
        .expect("the browser test finishes within 4 minutes")
        .expect("node runs (is Node.js installed?)");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{stdout}");
    assert!(
        output.status.success(),
        "the browser test failed:\n{stdout}\n{stderr}"
    );
    for step in [
        "ok the dialog shows the new Client ID and secret",
        "ok the deleted key's next token request is refused",
        "ok a keys:read key sees no Delete buttons",
        "ok another team's keys are never shown",
        "ok sign-out forgets the token",
        "ok the API agrees: the new secret signs, the old one until the overlap ends",
        "ok a keys:read key sees no signing secret section",
    ] {
        assert!(stdout.contains(step), "{step} not reported:\n{stdout}");
    }
    let result: Value = stdout
        .lines()
        .find_map(|l| l.strip_prefix("RESULT "))
        .map(|l| serde_json::from_str(l).unwrap())
        .expect("a RESULT line");
    check_over_http(&app, &env, &result).await;
    let performance = &result["performance"];
    std::fs::write(
        screenshots.join("performance.json"),
        performance.to_string(),
    )
    .unwrap();
    println!("console load: {performance}");
    assert!(
        performance["body_bytes"].as_u64().unwrap() < 100_000,
        "{performance}"
    );
}

/// What the page did, seen from outside: the key it created and deleted gets no token, and
/// the audit log names the admin's key as the actor of both changes.
async fn check_over_http(app: &TestApp, env: &[(&str, String)], result: &Value) {
    let deleted = Key::from_json(result["deleted"].clone());
    let response = app
        .post_token(&deleted, "grant_type=client_credentials")
        .await;
    assert_eq!(response.status(), 401);
    let admin_id = &env.iter().find(|(k, _)| *k == "ADMIN_ID").unwrap().1;
    let admin = Key {
        client_id: admin_id.clone(),
        client_secret: env
            .iter()
            .find(|(k, _)| *k == "ADMIN_SECRET")
            .unwrap()
            .1
            .clone(),
        json: Value::Null,
    };
    let token = app.management_token(&admin, None).await;
    let audit = app
        .api(
            Method::GET,
            "/api/teams/acme/audit?limit=200",
            Some(&token),
            None,
        )
        .await;
    let events = audit.body["items"].as_array().unwrap();
    for action in ["api_key.create", "api_key.delete"] {
        assert!(
            events.iter().any(|e| e["action"] == action
                && e["actor"] == admin_id.as_str()
                && e["target"] == deleted.client_id.as_str()),
            "{action} of {} by {admin_id} not in {}",
            deleted.client_id,
            audit.text
        );
    }
    // The signing secret the page rotated to is the team's, and the page's reveal, rotation
    // and revocation are each in the audit log under the admin's key.
    let secret = app
        .api(
            Method::GET,
            "/api/teams/acme/webhook-secret",
            Some(&token),
            None,
        )
        .await;
    assert_eq!(
        secret.body["secret"], result["signing_secret"],
        "{}",
        secret.text
    );
    for action in [
        "webhook_secret.reveal",
        "webhook_secret.rotate",
        "webhook_secret.revoke_previous",
    ] {
        assert!(
            events
                .iter()
                .any(|e| e["action"] == action && e["actor"] == admin_id.as_str()),
            "{action} by {admin_id} not in {}",
            audit.text
        );
    }
}

/// The page's pure rules (ages, the 90-day rotation flag, lifetimes) on Node's test runner.
#[test]
fn the_consoles_format_rules_hold() {
    let output = std::process::Command::new("node")
        .args(["--test", "tests/browser/format.test.mjs"])
        .current_dir(root())
        .output()
        .expect("node runs (is Node.js installed?)");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    assert!(
        stdout.contains("# fail 0") && !stdout.contains("# pass 0"),
        "{stdout}"
    );
}

storage_free_tests!(the_console_works_in_a_real_browser);
