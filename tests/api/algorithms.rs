//! Each signing algorithm issues tokens that jsonwebtoken verifies against the served JWKS, and
//! a change of `signing.algorithm` takes effect at the next rotation.

use serde_json::Value;

use crate::helpers::{AUDIENCE, TestApp, jwt_header};

async fn verified_with(app: &TestApp, alg: &str) -> Value {
    let key = app.create_key(&[]).await;
    let body = app.token(&key, "grant_type=client_credentials").await;
    let token = body["access_token"].as_str().unwrap();
    assert_eq!(jwt_header(token)["alg"], alg);
    app.verify(token, AUDIENCE)
        .await
        .expect("verifies against the JWKS")
}

mod eddsa {
    use super::*;

    async fn eddsa_tokens_verify(app: TestApp) {
        verified_with(&app, "EdDSA").await;
        let jwks = app
            .get("/.well-known/jwks.json")
            .await
            .json::<Value>()
            .await
            .unwrap();
        assert_eq!(jwks["keys"][0]["kty"], "OKP");
        assert_eq!(jwks["keys"][0]["crv"], "Ed25519");
    }

    backend_tests_with!(
        [("TOKENMINT_SIGNING__ALGORITHM", "EdDSA")],
        eddsa_tokens_verify
    );
}

mod rs256 {
    use super::*;

    async fn rs256_tokens_verify(app: TestApp) {
        verified_with(&app, "RS256").await;
        let jwks = app
            .get("/.well-known/jwks.json")
            .await
            .json::<Value>()
            .await
            .unwrap();
        let n = jwks["keys"][0]["n"].as_str().unwrap();
        assert!(n.len() >= 342, "a 2048-bit modulus or more (RFC 7518 §3.3)");
    }

    backend_tests_with!(
        [("TOKENMINT_SIGNING__ALGORITHM", "RS256")],
        rs256_tokens_verify
    );
}

mod change {
    use super::*;

    /// The app starts on ES256; the CLI runs with EdDSA configured, as after a config change.
    async fn a_new_algorithm_applies_at_the_next_rotation(app: TestApp) {
        verified_with(&app, "ES256").await;
        let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_tokenmint"))
            .args([
                "--config",
                app.config_path.to_str().unwrap(),
                "signing-keys",
                "rotate",
                "--now",
                "--json",
            ])
            .env("TOKENMINT_SIGNING__ALGORITHM", "EdDSA")
            .env_remove("TOKENMINT_MASTER_KEY")
            .output()
            .await
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let rotated: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(rotated["alg"], "EdDSA");
        let key = app.create_key(&[]).await;
        let switched = app
            .eventually(std::time::Duration::from_secs(5), || async {
                let body = app.token(&key, "grant_type=client_credentials").await;
                jwt_header(body["access_token"].as_str().unwrap())["alg"] == "EdDSA"
            })
            .await;
        assert!(switched);
        let algs: Vec<String> = app
            .jwks()
            .await
            .keys
            .iter()
            .map(|k| format!("{:?}", k.common.key_algorithm))
            .collect();
        assert_eq!(
            algs.len(),
            2,
            "the JWKS holds keys of both algorithms: {algs:?}"
        );
        verified_with(&app, "EdDSA").await;
    }

    backend_tests!(a_new_algorithm_applies_at_the_next_rotation);
}

mod retirement {
    use super::*;

    /// With a 2 s token lifetime and a 1 s leeway, a retired key leaves the JWKS about 3 s after
    /// it stopped signing, and its tokens verify until then.
    async fn a_retired_key_verifies_its_tokens_until_their_window_ends_then_leaves(app: TestApp) {
        let key = app.create_key(&[]).await;
        let body = app.token(&key, "grant_type=client_credentials").await;
        let old = body["access_token"].as_str().unwrap().to_string();
        let old_kid = jwt_header(&old)["kid"].as_str().unwrap().to_string();
        app.cli_ok(&["signing-keys", "rotate", "--now"]).await;
        // jsonwebtoken allows 60 s of clock leeway on exp, so only the JWKS decides here.
        assert!(
            app.verify(&old, AUDIENCE).await.is_ok(),
            "retired, still published: its tokens verify"
        );
        let listed = app.cli_json(&["signing-keys", "list"]).await;
        let retired = listed
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["kid"] == old_kid.as_str())
            .unwrap();
        assert_eq!(retired["state"], "retired");
        assert!(retired["removed_after"].is_string());
        let left = app
            .eventually(std::time::Duration::from_secs(10), || async {
                !app.jwks_kids().await.contains(&old_kid)
            })
            .await;
        assert!(
            left,
            "the retired kid leaves the JWKS once ttl + leeway have passed"
        );
        let listed = app.cli_json(&["signing-keys", "list"]).await;
        assert!(
            listed
                .as_array()
                .unwrap()
                .iter()
                .all(|k| k["kid"] != old_kid.as_str()),
            "and is deleted from storage: {listed}"
        );
    }

    backend_tests_with!(
        [
            ("TOKENMINT_TOKEN__TTL", "2s"),
            ("TOKENMINT_SIGNING__RETIRE_LEEWAY", "1s")
        ],
        a_retired_key_verifies_its_tokens_until_their_window_ends_then_leaves
    );
}
