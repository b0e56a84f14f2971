//! The CLI over a running server (`--url` / `TOKENMINT_URL`): the same commands, the same
//! `--json` documents as on the database host, the management API's refusals as messages.

use std::process::Output;

use serde_json::Value;

use crate::helpers::{Key, TestApp};

const GRANT: &str = "grant_type=client_credentials";

/// Runs the CLI against `app`'s server with `env` (credentials) and `args`.
async fn remote(app: &TestApp, env: &[(&str, &str)], args: &[&str]) -> Output {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_tokenmint"));
    command
        .args(args)
        .current_dir(app.dir.path())
        .env("TOKENMINT_URL", &app.base)
        .env_remove("TOKENMINT_CLIENT_ID")
        .env_remove("TOKENMINT_CLIENT_SECRET")
        .env_remove("TOKENMINT_TOKEN")
        .env_remove("TOKENMINT_DATABASE_URL")
        .env_remove("RUST_LOG");
    for (name, value) in env {
        command.env(name, value);
    }
    command.output().await.unwrap()
}

fn credentials(key: &Key) -> [(&'static str, &str); 2] {
    [
        ("TOKENMINT_CLIENT_ID", key.client_id.as_str()),
        ("TOKENMINT_CLIENT_SECRET", key.client_secret.as_str()),
    ]
}

async fn remote_json(app: &TestApp, key: &Key, args: &[&str]) -> Value {
    let mut args = args.to_vec();
    args.push("--json");
    let out = remote(app, &credentials(key), &args).await;
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

async fn an_admin_runs_the_cli_remotely_with_the_same_json(app: TestApp) {
    let admin = app.admin_key().await;
    let team = remote_json(&app, &admin, &["teams", "create", "beta", "--name", "Beta"]).await;
    assert_eq!(
        (&team["slug"], &team["name"]),
        (&"beta".into(), &"Beta".into())
    );
    assert_eq!(
        remote_json(&app, &admin, &["teams", "list"]).await,
        app.cli_json(&["teams", "list"]).await,
        "teams list: the same document both ways"
    );

    let created = remote_json(
        &app,
        &admin,
        &[
            "keys",
            "create",
            "--team",
            "beta",
            "--label",
            "remote",
            "--token-ttl",
            "1h",
        ],
    )
    .await;
    let key = Key::from_json(created.clone());
    assert_eq!(created["token_ttl"], 3600);
    assert_eq!(app.post_token(&key, GRANT).await.status(), 200);
    // `last_used_at` is written in the background, so it may move between the two reads.
    let without_use = |mut keys: Value| {
        keys.as_array_mut()
            .unwrap()
            .iter_mut()
            .for_each(|k| drop(k.as_object_mut().unwrap().remove("last_used_at")));
        keys
    };
    let listed = remote_json(&app, &admin, &["keys", "list", "--team", "beta"]).await;
    assert_eq!(
        without_use(listed.clone()),
        without_use(app.cli_json(&["keys", "list", "--team", "beta"]).await)
    );
    assert_eq!(listed[0]["client_id"], key.client_id.as_str());
    assert!(!listed.to_string().contains(&key.client_secret));

    let deleted = remote_json(
        &app,
        &admin,
        &["keys", "delete", &key.client_id, "--team", "beta"],
    )
    .await;
    assert_eq!(
        deleted,
        serde_json::json!({"client_id": key.client_id, "deleted": true})
    );
    assert_eq!(
        app.post_token(&key, GRANT).await.status(),
        401,
        "final on return"
    );

    let rotated = remote_json(&app, &admin, &["signing-keys", "rotate"]).await;
    assert_eq!(rotated["state"], "next");
    assert_eq!(
        remote_json(&app, &admin, &["signing-keys", "list"]).await,
        app.cli_json(&["signing-keys", "list"]).await
    );
    let audit = remote_json(&app, &admin, &["audit", "--team", "beta"]).await;
    let deletion = audit
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "api_key.delete")
        .expect("the deletion is audited");
    assert_eq!(
        deletion["actor"],
        admin.client_id.as_str(),
        "by the remote caller"
    );

    // The team's webhook signing secret: the same one both ways; a remote signature verifies.
    let shown = remote_json(
        &app,
        &admin,
        &["webhooks", "secret", "show", "--team", "beta"],
    )
    .await;
    let local = app
        .cli_json(&["webhooks", "secret", "show", "--team", "beta"])
        .await;
    assert_eq!(shown["secret"], local["secret"]);
    let secret = shown["secret"].as_str().unwrap();
    let signed = remote_json(&app, &admin, &["webhooks", "sign", "--team", "beta"]).await;
    let field = |name: &str| signed[name].as_str().unwrap().to_string();
    let (id, timestamp, signature) = (
        field("webhook-id"),
        field("webhook-timestamp"),
        field("webhook-signature"),
    );
    let out = app
        .cli(&[
            "webhooks",
            "verify",
            "--secret",
            secret,
            "--id",
            &id,
            "--timestamp",
            &timestamp,
            "--signature",
            &signature,
        ])
        .await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // The table output names the key too.
    let out = remote(
        &app,
        &credentials(&admin),
        &["keys", "list", "--team", "beta"],
    )
    .await;
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(table.starts_with("CLIENT ID"), "{table}");
}

/// A team's own `keys:write` key works on its team without naming it, and nothing else.
async fn a_team_key_deletes_its_own_keys_and_is_refused_elsewhere(app: TestApp) {
    let writer = app.create_key_in("acme", &["keys:write"]).await;
    let victim = app.create_key(&[]).await;
    let id = victim.client_id.as_str();
    let updated = remote_json(&app, &writer, &["keys", "update", id, "--rate", "5"]).await;
    assert_eq!(updated["token_requests_per_second"], 5);
    let rolled = remote_json(&app, &writer, &["keys", "roll", id, "--overlap", "1h"]).await;
    let new = Key {
        client_secret: rolled["client_secret"].as_str().unwrap().to_string(),
        ..victim.clone()
    };
    assert_eq!(
        app.post_token(&victim, GRANT).await.status(),
        200,
        "old, in the overlap"
    );
    assert_eq!(app.post_token(&new, GRANT).await.status(), 200, "new");
    let out = remote(
        &app,
        &credentials(&writer),
        &["keys", "roll", id, "--finish"],
    )
    .await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        app.post_token(&victim, GRANT).await.status(),
        401,
        "old, finished"
    );
    let victim = new;
    let out = remote(
        &app,
        &credentials(&writer),
        &["keys", "delete", &victim.client_id],
    )
    .await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(app.post_token(&victim, GRANT).await.status(), 401);

    let other = app.create_key_in("globex", &[]).await;
    let out = remote(
        &app,
        &credentials(&writer),
        &["keys", "list", "--team", "globex"],
    )
    .await;
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("403"), "{stderr}");
    let out = remote(
        &app,
        &credentials(&writer),
        &["keys", "delete", &other.client_id, "--team", "globex"],
    )
    .await;
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(app.post_token(&other, GRANT).await.status(), 200);
}

/// The environment, the arguments, and what the message must say.
type Refusal<'a> = (Vec<(&'a str, &'a str)>, Vec<&'a str>, &'a str);

/// Missing or wrong credentials, and commands that need the database, are clear refusals.
async fn remote_refusals_say_what_to_do(app: TestApp) {
    let admin = app.admin_key().await;
    let cases: Vec<Refusal<'_>> = vec![
        (vec![], vec!["teams", "list"], "needs credentials"),
        (
            vec![
                ("TOKENMINT_CLIENT_ID", admin.client_id.as_str()),
                ("TOKENMINT_CLIENT_SECRET", "dh_secret_wrong"),
            ],
            vec!["teams", "list"],
            "refused TOKENMINT_CLIENT_ID",
        ),
        (
            vec![("TOKENMINT_TOKEN", "not-a-token")],
            vec!["teams", "list"],
            "401",
        ),
        (
            credentials(&admin).to_vec(),
            vec!["backup", "copy.db"],
            "database host only",
        ),
    ];
    for (env, args, expected) in cases {
        let out = remote(&app, &env, &args).await;
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
        assert!(!stderr.contains(&admin.client_secret));
    }
}

backend_tests!(
    an_admin_runs_the_cli_remotely_with_the_same_json,
    a_team_key_deletes_its_own_keys_and_is_refused_elsewhere,
    remote_refusals_say_what_to_do,
);
