//! The command line: JSON shapes, and clear errors with a non-zero exit.

use serde_json::Value;

use crate::helpers::TestApp;

async fn stderr_of_failure(app: &TestApp, args: &[&str]) -> String {
    let out = app.cli(args).await;
    assert!(!out.status.success(), "tokenmint {args:?} should fail");
    assert!(out.stdout.is_empty(), "errors go to stderr only");
    String::from_utf8_lossy(&out.stderr).to_string()
}

async fn keys_create_and_list_print_the_documented_json(app: TestApp) {
    let key = app.create_key(&["--expires-in", "90d"]).await;
    let mut fields: Vec<&str> = key
        .json
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    fields.sort_unstable();
    assert_eq!(
        fields,
        [
            "client_id",
            "client_secret",
            "created_at",
            "env",
            "expires_at",
            "label",
            "scopes",
            "team",
            "token_requests_per_second",
            "token_ttl"
        ],
        "DESIGN.md's fields, env (live or test), and the key's own limits (null: the issuer's)"
    );
    assert_eq!(key.json["env"], "live");
    assert!(key.client_secret.starts_with("dh_secret_"));
    let created =
        chrono::DateTime::parse_from_rfc3339(key.json["created_at"].as_str().unwrap()).unwrap();
    let expires =
        chrono::DateTime::parse_from_rfc3339(key.json["expires_at"].as_str().unwrap()).unwrap();
    assert_eq!((expires - created).num_days(), 90);

    let listed = app.cli_json(&["keys", "list", "--team", "acme"]).await;
    let listed = listed.as_array().unwrap();
    assert_eq!(listed.len(), 1);
    let entry = &listed[0];
    assert_eq!(entry["client_id"], key.json["client_id"]);
    assert_eq!(entry["created_at"], key.json["created_at"]);
    assert!(entry.get("client_secret").is_none());
    assert_eq!(entry["env"], "live");
    assert_eq!(entry["last_used_at"], Value::Null);
    let text = app.cli_ok(&["keys", "list", "--team", "acme"]).await;
    assert!(!text.contains(&key.client_secret) && text.contains(&key.client_id));
}

async fn teams_list_prints_json(app: TestApp) {
    app.cli_ok(&["teams", "create", "acme", "--name", "Acme Inc."])
        .await;
    app.cli_ok(&["teams", "create", "beta"]).await;
    let teams = app.cli_json(&["teams", "list"]).await;
    assert_eq!(teams[0]["slug"], "acme");
    assert_eq!(teams[0]["name"], "Acme Inc.");
    assert_eq!(teams[1]["slug"], "beta");
}

async fn signing_keys_list_prints_json(app: TestApp) {
    let keys = app.cli_json(&["signing-keys", "list"]).await;
    let key = &keys[0];
    assert_eq!(key["alg"], "ES256");
    assert_eq!(key["state"], "current");
    for field in ["kid", "created_at", "activates_at"] {
        assert!(key[field].is_string(), "{field}");
    }
    for field in ["retired_at", "removed_after", "revoked_at"] {
        assert!(key[field].is_null(), "{field}");
    }
}

async fn bad_input_gets_a_message_naming_the_problem(app: TestApp) {
    app.cli_ok(&["teams", "create", "acme"]).await;
    let cases: [(&[&str], &str); 7] = [
        (&["teams", "create", "Bad_Slug"], "invalid team slug"),
        (&["teams", "create", "acme"], "already exists"),
        (
            &["keys", "create", "--team", "nobody", "--label", "x"],
            "no team has slug \"nobody\"",
        ),
        (
            &[
                "keys",
                "create",
                "--team",
                "acme",
                "--label",
                "x",
                "--scope",
                "admin:all",
            ],
            "unknown scope \"admin:all\"",
        ),
        (
            &[
                "keys",
                "create",
                "--team",
                "acme",
                "--label",
                "x",
                "--expires-in",
                "soon",
            ],
            "not a duration",
        ),
        (&["keys", "list", "--team", "nobody"], "no team has slug"),
        (
            &["keys", "delete", "dh_live_doesnotexist0000000000"],
            "no API key has Client ID",
        ),
    ];
    for (args, expected) in cases {
        let stderr = stderr_of_failure(&app, args).await;
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
    }
}

async fn a_bad_config_is_refused_naming_the_setting(app: TestApp) {
    let bad = app.dir.path().join("bad.toml");
    std::fs::write(&bad, "[token]\nttl = \"forever\"\n").unwrap();
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_tokenmint"))
        .args(["--config", bad.to_str().unwrap(), "teams", "list"])
        .output()
        .await
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("token.ttl"), "{stderr}");
}

/// Every command that changes something prints one JSON document with `--json`.
async fn changes_print_json_when_asked(app: TestApp) {
    assert_eq!(
        app.cli_json(&["migrate"]).await,
        serde_json::json!({"schema": "up_to_date"})
    );
    let team = app
        .cli_json(&["teams", "create", "acme", "--name", "Acme"])
        .await;
    assert_eq!(
        (&team["slug"], &team["name"]),
        (&"acme".into(), &"Acme".into())
    );
    assert!(team["created_at"].is_string());
    let key = app.create_key(&[]).await;
    let deleted = app.cli_json(&["keys", "delete", &key.client_id]).await;
    assert_eq!(
        deleted,
        serde_json::json!({"client_id": key.client_id, "deleted": true})
    );
    app.cli_ok(&["signing-keys", "rotate"]).await;
    let keys = app.cli_json(&["signing-keys", "list"]).await;
    let pending = keys
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["state"] != "current")
        .expect("the rotation's new key");
    let kid = pending["kid"].as_str().unwrap();
    let out = app
        .cli_ok(&["signing-keys", "revoke", "--json", "--", kid])
        .await;
    let revoked: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(revoked["revoked"]["kid"], kid);
    assert!(revoked["revoked"]["revoked_at"].is_string(), "{revoked}");
    assert_eq!(revoked["current"]["state"], "current");
}

/// Completions and the man page come from the same definitions as `--help`, and need no
/// configuration (not even a readable one).
#[tokio::test]
async fn completions_and_the_man_page_need_no_configuration() {
    let run = |args: &'static [&'static str]| async move {
        let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_tokenmint"))
            .args(["--config", "/nonexistent/tokenmint.toml"])
            .args(args)
            .output()
            .await
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let bash = run(&["completions", "bash"]).await;
    assert!(
        bash.contains("_tokenmint()") && bash.contains("revoke-leaked"),
        "{bash}"
    );
    assert!(
        run(&["completions", "zsh"])
            .await
            .starts_with("#compdef tokenmint")
    );
    assert!(
        run(&["completions", "fish"])
            .await
            .contains("complete -c tokenmint")
    );
    let man = run(&["man"]).await;
    assert!(man.contains(".TH tokenmint 1"), "{man}");
    assert!(man.contains("signing\\-keys"), "subcommands listed: {man}");
    let refused = tokio::process::Command::new(env!("CARGO_BIN_EXE_tokenmint"))
        .args(["completions", "tcsh"])
        .output()
        .await
        .unwrap();
    assert_eq!(refused.status.code(), Some(2), "a usage error exits 2");
}

backend_tests!(
    changes_print_json_when_asked,
    keys_create_and_list_print_the_documented_json,
    teams_list_prints_json,
    signing_keys_list_prints_json,
    bad_input_gets_a_message_naming_the_problem,
    a_bad_config_is_refused_naming_the_setting,
);
