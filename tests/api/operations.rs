//! Commands for production: `tokenmint healthcheck` (a container probe) and `tokenmint backup`
//! (a consistent copy of a live SQLite database, restored by starting a server on it).

use std::process::Output;
use std::time::Duration;

use crate::helpers::TestApp;

/// Runs the binary with the app's config and `env` on top.
async fn tokenmint(app: &TestApp, args: &[&str], env: &[(&str, &str)]) -> Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_tokenmint"))
        .arg("--config")
        .arg(&app.config_path)
        .args(args)
        .current_dir(app.dir.path())
        .env_remove("TOKENMINT_MASTER_KEY")
        .env_remove("RUST_LOG")
        .envs(env.iter().copied())
        .output()
        .await
        .expect("run tokenmint")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn healthcheck_exits_0_for_a_ready_server_and_1_otherwise(app: TestApp) {
    let bind = format!("127.0.0.1:{}", free_port());
    let env = [("TOKENMINT_BIND", bind.as_str())];
    let down = tokenmint(&app, &["healthcheck", "--timeout", "2s"], &env).await;
    assert_eq!(down.status.code(), Some(1), "nothing listens yet");
    assert!(
        String::from_utf8_lossy(&down.stderr).contains("cannot reach tokenmint"),
        "{}",
        String::from_utf8_lossy(&down.stderr)
    );

    let node = app.start_node(&env).await;
    let up = tokenmint(&app, &["healthcheck"], &env).await;
    assert_eq!(
        up.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&up.stderr)
    );
    assert!(String::from_utf8_lossy(&up.stdout).contains("answered 200"));
    // Bound to every address, it is probed on loopback.
    let everywhere = bind.replace("127.0.0.1", "0.0.0.0");
    let wildcard = tokenmint(&app, &["healthcheck"], &[("TOKENMINT_BIND", &everywhere)]).await;
    assert_eq!(wildcard.status.code(), Some(0));
    node.stop().await;

    let gone = tokenmint(&app, &["healthcheck", "--timeout", "1s"], &env).await;
    assert_eq!(gone.status.code(), Some(1), "stopped");
    let no_port = tokenmint(&app, &["healthcheck"], &[("TOKENMINT_BIND", "127.0.0.1:0")]).await;
    assert_eq!(no_port.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&no_port.stderr).contains("port 0"));
}

async fn a_backup_taken_under_load_restores_to_a_working_issuer(app: TestApp) {
    let before = app.create_key(&[]).await;
    let target = app.dir.path().join("backup.db");
    let target_text = target.to_str().unwrap().to_string();
    // Token requests and key creations keep running while the copy is taken.
    let load = async {
        for _ in 0..30 {
            assert_eq!(
                app.post_token(&before, "grant_type=client_credentials")
                    .await
                    .status(),
                200
            );
        }
    };
    let writes = async {
        for _ in 0..3 {
            app.create_key(&[]).await;
        }
    };
    let copy = async {
        tokio::time::sleep(Duration::from_millis(50)).await;
        app.cli(&["backup", &target_text]).await
    };
    let ((), (), copied) = tokio::join!(load, writes, copy);
    assert!(
        copied.status.success(),
        "{}",
        String::from_utf8_lossy(&copied.stderr)
    );
    assert!(String::from_utf8_lossy(&copied.stdout).contains("master key"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&target).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "the copy holds hashes and sealed keys");
    }
    let again = app.cli(&["backup", &target_text]).await;
    assert!(!again.status.success(), "a backup never overwrites");
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));

    // Restore: a server started on the copy, with the same master key, issues a token for the
    // key made before the backup.
    let url = format!("sqlite://{target_text}");
    let restored = app
        .start_node(&[("TOKENMINT_DATABASE__URL", url.as_str())])
        .await;
    let answer = app
        .http
        .post(format!("http://{}/api/oauth/token", restored.addr))
        .basic_auth(&before.client_id, Some(&before.client_secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200, "the restored issuer knows the key");
    restored.stop().await;
}

async fn backup_of_postgres_points_to_pg_dump(app: TestApp) {
    let out = app.cli(&["backup", "/tmp/never-written.db"]).await;
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("pg_dump"));
    assert!(!std::path::Path::new("/tmp/never-written.db").exists());
}

mod sqlite_only {
    use super::{
        a_backup_taken_under_load_restores_to_a_working_issuer,
        healthcheck_exits_0_for_a_ready_server_and_1_otherwise,
    };

    storage_free_tests!(
        healthcheck_exits_0_for_a_ready_server_and_1_otherwise,
        a_backup_taken_under_load_restores_to_a_working_issuer,
    );
}

mod postgres {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[cfg_attr(skip_postgres, ignore = "built with TOKENMINT_SKIP_POSTGRES=1")]
    async fn backup_of_postgres_points_to_pg_dump() {
        let app = crate::helpers::TestApp::spawn_with(crate::helpers::Backend::Postgres, &[]).await;
        super::backup_of_postgres_points_to_pg_dump(app).await;
    }
}
