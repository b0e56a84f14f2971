//! Leaked-secret reports in GitHub's secret-scanning partner format
//! (`POST /api/secret-scanning/reports`): a report signed by a trusted key revokes the secrets
//! in it at once; anything else is refused with the right status and changes nothing; the
//! reported secret never reaches a log; the CLI's `keys revoke-leaked` does the same from stdin.

mod scanner;
mod setup;

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{Key, TestApp};
use scanner::{Scanner, finding, post, sha256_hex};

const GRANT: &str = "grant_type=client_credentials";
const KEYS_FILE_ENV: &str = "TOKENMINT_SECRET_SCANNING__PUBLIC_KEYS_FILE";
const REPORTS: &str = "/api/secret-scanning/reports";
const FOUND_AT: &str = "https://github.com/acme/app/blob/main/.env";

/// `secret` with one random character changed: the checksum no longer matches.
fn broken_checksum(secret: &str) -> String {
    let mut text = secret.to_string();
    let i = "dh_secret_".len() + 3;
    let replacement = if &text[i..=i] == "a" { "b" } else { "a" };
    text.replace_range(i..=i, replacement);
    text
}

/// A well-formed secret with a good checksum that is no key's: a deleted key's.
async fn unknown_secret(app: &TestApp) -> String {
    let gone = app.create_key(&[]).await;
    app.cli_ok(&["keys", "delete", &gone.client_id]).await;
    gone.client_secret
}

async fn a_signed_report_revokes_the_key_at_once(app: TestApp, scanner: Scanner) {
    let leaked = app.create_key(&[]).await;
    let bystander = app.create_key(&[]).await;
    assert_eq!(app.post_token(&leaked, GRANT).await.status(), 200, "cached");
    let unknown = unknown_secret(&app).await;
    let tokens = [
        leaked.client_secret.clone(),
        unknown.clone(),
        broken_checksum(&bystander.client_secret),
        "ghp_not_a_tokenmint_secret".to_string(),
        leaked.client_secret.clone(),
    ];
    let body = Value::Array(tokens.iter().map(|t| finding(t)).collect()).to_string();
    let (status, answer) = scanner.report(&app, &body).await;
    assert_eq!(status, 200, "{answer}");
    let labels: Vec<&str> = answer
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["label"].as_str().unwrap())
        .collect();
    assert_eq!(
        labels,
        [
            "true_positive",
            "false_positive",
            "false_positive",
            "false_positive",
            "true_positive"
        ]
    );
    for (entry, token) in answer.as_array().unwrap().iter().zip(&tokens) {
        assert_eq!(entry["token_hash"], sha256_hex(token).as_str());
        assert_eq!(entry["token_type"], "tokenmint_client_secret");
    }
    assert!(
        !answer.to_string().contains(&leaked.client_secret),
        "the answer names tokens by hash"
    );

    // Revoked on return: the very next request is refused, cached or not.
    let refused = app.post_token(&leaked, GRANT).await;
    assert_eq!(refused.status(), 401);
    assert_eq!(app.post_token(&bystander, GRANT).await.status(), 200);
    let listed = app.cli_ok(&["keys", "list", "--team", "acme"]).await;
    assert!(!listed.contains(&leaked.client_id), "{listed}");

    let admin = app.admin_key().await;
    let token = app.management_token(&admin, None).await;
    let audit = app
        .api(Method::GET, "/api/admin/audit", Some(&token), None)
        .await;
    let leak_events: Vec<&Value> = audit.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "api_key.leaked")
        .collect();
    assert_eq!(leak_events.len(), 1, "{}", audit.text);
    let event = leak_events[0];
    assert_eq!(event["actor"], "secret-scanning");
    assert_eq!(event["target"], leaked.client_id.as_str());
    assert_eq!(event["detail"]["url"], FOUND_AT);
    assert_eq!(event["detail"]["secret"], "current");
    assert!(!audit.text.contains(&leaked.client_secret));

    // Reported again (a retry, or the same report at another node): the key is gone already,
    // and the answer still waits until no node may sign from a read older than the revocation.
    let again = json!([finding(&leaked.client_secret)]).to_string();
    let started = std::time::Instant::now();
    let (status, answer) = scanner.report(&app, &again).await;
    assert_eq!(
        (status, &answer[0]["label"]),
        (200, &json!("false_positive"))
    );
    assert!(
        started.elapsed() >= tokenmint::oauth::grant::DELETION_SETTLES,
        "answered after {:?}",
        started.elapsed()
    );
}

async fn a_leaked_previous_secret_ends_only_that_secret(app: TestApp, scanner: Scanner) {
    let key = app.create_key(&[]).await;
    let rolled = app.cli_json(&["keys", "roll", &key.client_id]).await;
    let new = Key {
        client_secret: rolled["client_secret"].as_str().unwrap().to_string(),
        ..key.clone()
    };
    assert_eq!(app.post_token(&key, GRANT).await.status(), 200);
    let (status, answer) = scanner
        .report(&app, &json!([finding(&key.client_secret)]).to_string())
        .await;
    assert_eq!(
        (status, &answer[0]["label"]),
        (200, &json!("true_positive"))
    );
    assert_eq!(
        app.post_token(&key, GRANT).await.status(),
        401,
        "old secret"
    );
    assert_eq!(
        app.post_token(&new, GRANT).await.status(),
        200,
        "new secret"
    );

    // Reported again, the ended secret is on record no more (like a deleted key's), and
    // nothing more happens.
    let (_, again) = scanner
        .report(&app, &json!([finding(&key.client_secret)]).to_string())
        .await;
    assert_eq!(again[0]["label"], "false_positive");
    assert_eq!(app.post_token(&new, GRANT).await.status(), 200);

    let (_, answer) = scanner
        .report(&app, &json!([finding(&new.client_secret)]).to_string())
        .await;
    assert_eq!(answer[0]["label"], "true_positive");
    assert_eq!(
        app.post_token(&new, GRANT).await.status(),
        401,
        "key deleted"
    );
}

/// One secret reported many times at once (a scanner retrying, two scanners): every report is
/// answered, the key is deleted once, with one audit row, and refused afterwards.
async fn concurrent_reports_of_one_secret_revoke_it_once(app: TestApp, scanner: Scanner) {
    let key = app.create_key(&[]).await;
    assert_eq!(app.post_token(&key, GRANT).await.status(), 200, "cached");
    let body = json!([finding(&key.client_secret)]).to_string();
    let answers = futures::future::join_all((0..8).map(|_| scanner.report(&app, &body))).await;
    let mut true_positives = 0;
    for (status, answer) in &answers {
        assert_eq!(*status, 200, "{answer}");
        if answer[0]["label"] == "true_positive" {
            true_positives += 1;
        }
    }
    assert!(true_positives >= 1, "{answers:?}");
    assert_eq!(app.post_token(&key, GRANT).await.status(), 401);
    let admin = app.admin_key().await;
    let token = app.management_token(&admin, None).await;
    let audit = app
        .api(Method::GET, "/api/admin/audit", Some(&token), None)
        .await;
    let leaked = audit.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "api_key.leaked")
        .count();
    assert_eq!(leaked, 1, "deleted once: {}", audit.text);
}

/// What a refused report was, its body, key id and signature, and the status it must get.
type Attempt<'a> = (&'a str, String, Option<&'a str>, Option<&'a str>, u16);

/// Every way a report can be wrong: the right status, a problem document, and no key touched.
async fn unsigned_forged_and_malformed_reports_are_refused(app: TestApp, scanner: Scanner) {
    let key = app.create_key(&[]).await;
    let body = json!([finding(&key.client_secret)]).to_string();
    let good = scanner.sign(body.as_bytes());
    let id = scanner.identifier.as_str();
    let other = Scanner::new();
    let forged = other.sign(body.as_bytes());
    let tampered = json!([finding(&unknown_secret(&app).await)]).to_string();
    let cases: Vec<Attempt<'_>> = vec![
        ("no headers", body.clone(), None, None, 401),
        ("no signature", body.clone(), Some(id), None, 401),
        ("no key id", body.clone(), None, Some(&good), 401),
        ("unknown key id", body.clone(), Some("k9"), Some(&good), 401),
        (
            "the other listed key",
            body.clone(),
            Some("an-older-key"),
            Some(&good),
            401,
        ),
        (
            "signed by an untrusted key",
            body.clone(),
            Some(id),
            Some(&forged),
            401,
        ),
        ("another body", tampered, Some(id), Some(&good), 401),
        (
            "signature not base64",
            body.clone(),
            Some(id),
            Some("%%%"),
            400,
        ),
        ("empty signature", body.clone(), Some(id), Some(""), 401),
    ];
    for (what, body, id, signature, expected) in cases {
        let (status, answer) = post(&app, &body, id, signature).await;
        assert_eq!(status, expected, "{what}: {answer}");
        assert!(
            answer["type"]
                .as_str()
                .unwrap()
                .starts_with("urn:tokenmint:problem:")
        );
    }
    for malformed in [
        "",
        "not json",
        "{}",
        r#"{"token": "x"}"#,
        r#"[{"type": "t"}]"#,
        r#"[{"token": 5, "type": "t"}]"#,
        "[",
        r#"[{"token": "x", "type": "t"}] trailing"#,
    ] {
        let (status, answer) = scanner.report(&app, malformed).await;
        assert_eq!(status, 400, "{malformed:?}: {answer}");
    }
    let (status, answer) = scanner.report(&app, "[]").await;
    assert_eq!((status, answer), (200, json!([])));
    assert_eq!(app.post_token(&key, GRANT).await.status(), 200, "untouched");
}

/// Signed reports are limited; unsigned ones cannot use up the scanner's share.
async fn signed_reports_are_rate_limited(app: TestApp, scanner: Scanner) {
    for _ in 0..50 {
        let (status, _) = post(&app, "[]", Some("k9"), Some("AAAA")).await;
        assert_eq!(status, 401);
    }
    let signature = scanner.sign(b"[]");
    let mut statuses = Vec::new();
    for _ in 0..40 {
        let answer = app
            .http
            .post(format!("{}{REPORTS}", app.base))
            .header("content-type", "application/json")
            .header("Github-Public-Key-Identifier", &scanner.identifier)
            .header("Github-Public-Key-Signature", &signature)
            .body("[]")
            .send()
            .await
            .unwrap();
        let status = answer.status().as_u16();
        if status == 429 {
            assert_eq!(answer.headers()["retry-after"], "1");
        }
        statuses.push(status);
    }
    assert_eq!(statuses[..20], [200; 20], "the burst after 50 forgeries");
    assert!(statuses.contains(&429), "{statuses:?}");
}

/// `keys revoke-leaked` revokes what it reads on stdin and prints no secret.
async fn the_cli_revokes_secrets_from_stdin(app: TestApp, _scanner: Scanner) {
    let leaked = app.create_key(&[]).await;
    let kept = app.create_key(&[]).await;
    let input = format!("{}\n\nnot a secret\n", leaked.client_secret);
    let output = app
        .cli_with_stdin(&["keys", "revoke-leaked"], input.as_bytes())
        .await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    assert!(stdout.contains(&leaked.client_id), "{stdout}");
    assert!(stdout.contains("key deleted"), "{stdout}");
    assert!(stdout.contains("line 3: not a secret"), "{stdout}");
    assert!(!stdout.contains(&leaked.client_secret));
    assert_eq!(app.post_token(&leaked, GRANT).await.status(), 401);
    assert_eq!(app.post_token(&kept, GRANT).await.status(), 200);

    let input = format!("{}\n", kept.client_secret);
    let output = app
        .cli_with_stdin(&["keys", "revoke-leaked", "--json"], input.as_bytes())
        .await;
    let verdicts: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(
        verdicts,
        json!([{"line": 1, "verdict": "key_deleted", "client_id": kept.client_id, "team": "acme"}])
    );
}

macro_rules! scanner_tests {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let scanner = super::Scanner::new();
                    let app = scanner.spawn(crate::helpers::Backend::Sqlite).await;
                    super::$name(app, scanner).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                #[cfg_attr(skip_postgres, ignore = "built with TOKENMINT_SKIP_POSTGRES=1")]
                async fn $name() {
                    let scanner = super::Scanner::new();
                    let app = scanner.spawn(crate::helpers::Backend::Postgres).await;
                    super::$name(app, scanner).await;
                }
            )*
        }
    };
}

scanner_tests!(
    a_signed_report_revokes_the_key_at_once,
    a_leaked_previous_secret_ends_only_that_secret,
    unsigned_forged_and_malformed_reports_are_refused,
    signed_reports_are_rate_limited,
    the_cli_revokes_secrets_from_stdin,
    concurrent_reports_of_one_secret_revoke_it_once,
);
