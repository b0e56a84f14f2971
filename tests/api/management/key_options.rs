//! A key's own token lifetime and rate, `keys update` / `PATCH …/keys/{client_id}`, the age
//! and expiry filters of a listing, and the API-key hygiene metrics; over HTTP and the CLI.

use reqwest::Method;
use serde_json::{Value, json};

use super::key_of;
use crate::helpers::{AUDIENCE, Key, TestApp};

/// `exp - iat` of a token issued to `key`, and the response's `expires_in`.
async fn lifetime(app: &TestApp, key: &Key) -> (i64, i64) {
    let issued = app.token(key, "grant_type=client_credentials").await;
    let claims = app
        .verify(issued["access_token"].as_str().unwrap(), AUDIENCE)
        .await
        .expect("the token verifies");
    let lived = claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap();
    (lived, issued["expires_in"].as_i64().unwrap())
}

/// Moves a key's creation back `days` days, on either backend, as if it had been made then.
async fn backdate(app: &TestApp, client_id: &str, days: i64) {
    let then = chrono::Utc::now() - chrono::Duration::days(days);
    let sql = "UPDATE api_keys SET created_at = $1 WHERE client_id = $2";
    let url = app.database_url();
    let changed = if url.starts_with("sqlite:") {
        let pool = sqlx::SqlitePool::connect(url).await.unwrap();
        let done = sqlx::query(sql)
            .bind(then.to_rfc3339())
            .bind(client_id)
            .execute(&pool)
            .await
            .unwrap();
        pool.close().await;
        done.rows_affected()
    } else {
        let pool = sqlx::PgPool::connect(url).await.unwrap();
        let done = sqlx::query(sql)
            .bind(then)
            .bind(client_id)
            .execute(&pool)
            .await
            .unwrap();
        pool.close().await;
        done.rows_affected()
    };
    assert_eq!(changed, 1);
}

async fn a_keys_token_lifetime_shapes_its_tokens(app: TestApp) {
    let hourly = app.create_key(&["--token-ttl", "1h"]).await;
    assert_eq!(hourly.json["token_ttl"], 3600, "{}", hourly.json);
    assert_eq!(lifetime(&app, &hourly).await, (3600, 3600));
    let plain = app.create_key(&[]).await;
    assert_eq!(plain.json["token_ttl"], Value::Null);
    assert_eq!(lifetime(&app, &plain).await, (86_400, 86_400));

    let admin = app.admin_key().await;
    let token = app.management_token(&admin, None).await;
    let create = |body: Value| app.post_api("/api/teams/acme/keys", &token, body);
    for (ttl, secs) in [
        (json!(1800), 1800),
        (json!("90m"), 5400),
        (json!("1d"), 86_400),
    ] {
        let created = create(json!({"label": "ttl", "token_ttl": ttl})).await;
        assert_eq!(created.status, 201, "{}", created.text);
        assert_eq!(created.body["token_ttl"], secs);
        let key = key_of(&created.body);
        assert_eq!(lifetime(&app, &key).await, (secs, secs), "{ttl}");
    }
    // Never past the key's own expiry, however long its token lifetime.
    let body = json!({"label": "short-lived", "token_ttl": "1h", "expires_in": "10m"});
    let short = key_of(&create(body).await.body);
    let (lived, expires_in) = lifetime(&app, &short).await;
    assert!(
        (590..=600).contains(&lived) && lived == expires_in,
        "{lived}"
    );

    for refused in [
        json!("59s"),
        json!("25h"),
        json!(0),
        json!(-1),
        json!(1e30),
        json!(u64::MAX),
        json!("forever"),
        json!(true),
    ] {
        let answer = create(json!({"label": "bad", "token_ttl": refused})).await;
        answer.assert_problem(400, "invalid_request");
    }
    let answer = create(json!({"label": "bad", "token_ttl": "25h"})).await;
    assert!(
        answer.body["detail"]
            .as_str()
            .unwrap()
            .contains("token.ttl"),
        "{}",
        answer.text
    );
    let cli = app
        .cli(&[
            "keys",
            "create",
            "--team",
            "acme",
            "--label",
            "x",
            "--token-ttl",
            "25h",
        ])
        .await;
    let stderr = String::from_utf8_lossy(&cli.stderr);
    assert!(
        !cli.status.success() && stderr.contains("at most token.ttl"),
        "{stderr}"
    );
}

async fn an_update_applies_from_the_next_request_and_only_to_the_teams_own_keys(app: TestApp) {
    let key = app.create_key(&[]).await;
    let admin = app.admin_key().await;
    let token = app.management_token(&admin, None).await;
    let path = format!("/api/teams/acme/keys/{}", key.client_id);
    let patch = |body: Value| app.api(Method::PATCH, &path, Some(&token), Some(body));

    let changed = patch(json!({"token_ttl": 600, "label": "renamed"})).await;
    assert_eq!(changed.status, 200, "{}", changed.text);
    assert_eq!(changed.body["token_ttl"], 600);
    assert_eq!(changed.body["label"], "renamed");
    assert_eq!(
        lifetime(&app, &key).await,
        (600, 600),
        "the very next token"
    );
    let back = patch(json!({"token_ttl": null})).await;
    assert_eq!(back.body["token_ttl"], Value::Null, "{}", back.text);
    assert_eq!(back.body["label"], "renamed", "a field left out stays");
    assert_eq!(lifetime(&app, &key).await, (86_400, 86_400));

    patch(json!({}))
        .await
        .assert_problem(400, "invalid_request");
    patch(json!({"token_requests_per_second": 0}))
        .await
        .assert_problem(400, "invalid_request");
    patch(json!({"colour": "red"}))
        .await
        .assert_problem(400, "invalid_request");

    // Another team's writer: the key does not exist for it.
    let beta = app.create_key_in("beta", &["keys:write"]).await;
    let beta_token = app.management_token(&beta, None).await;
    let foreign = app
        .api(
            Method::PATCH,
            &format!("/api/teams/beta/keys/{}", key.client_id),
            Some(&beta_token),
            Some(json!({"label": "mine now"})),
        )
        .await;
    foreign.assert_problem(404, "not_found");
    let across = app
        .api(
            Method::PATCH,
            &path,
            Some(&beta_token),
            Some(json!({"label": "x"})),
        )
        .await;
    across.assert_problem(403, "insufficient_scope");

    let printed = app
        .cli_json(&[
            "keys",
            "update",
            &key.client_id,
            "--rate",
            "5",
            "--token-ttl",
            "2h",
        ])
        .await;
    assert_eq!(
        (
            printed["token_requests_per_second"].clone(),
            printed["token_ttl"].clone()
        ),
        (json!(5), json!(7200))
    );
    let reset = app
        .cli_json(&["keys", "update", &key.client_id, "--rate", "default"])
        .await;
    assert_eq!(reset["token_requests_per_second"], Value::Null);
    assert_eq!(reset["token_ttl"], 7200, "left as it was");
    let bad = app
        .cli(&["keys", "update", &key.client_id, "--rate", "-3"])
        .await;
    assert!(!bad.status.success());

    let audit = app
        .api(
            Method::GET,
            "/api/teams/acme/audit?limit=100",
            Some(&token),
            None,
        )
        .await;
    let updates = audit.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "api_key.update" && e["target"] == key.client_id.as_str())
        .count();
    assert_eq!(updates, 4, "{}", audit.text);
}

async fn a_key_with_its_own_rate_is_held_to_it(app: TestApp) {
    let slow = app.create_key(&["--rate", "1"]).await;
    assert_eq!(slow.json["token_requests_per_second"], 1);
    let mut refused = 0;
    for _ in 0..6 {
        let response = app.post_token(&slow, "grant_type=client_credentials").await;
        if response.status() == 429 {
            assert!(response.headers().contains_key("retry-after"));
            refused += 1;
        }
    }
    assert!(refused >= 3, "a burst of 2 at 1/s: {refused} of 6 refused");
    // The issuer's rate (20/s here) for a key without its own.
    let plain = app.create_key(&[]).await;
    for _ in 0..6 {
        let response = app
            .post_token(&plain, "grant_type=client_credentials")
            .await;
        assert_eq!(response.status(), 200);
    }
    // Raised, it applies from the next request.
    app.cli_ok(&["keys", "update", &slow.client_id, "--rate", "1000"])
        .await;
    for _ in 0..6 {
        let response = app.post_token(&slow, "grant_type=client_credentials").await;
        assert_eq!(response.status(), 200);
    }
}

async fn listings_show_age_and_filter_by_it_and_the_metrics_count_it(app: TestApp) {
    let old = app.create_key(&[]).await;
    backdate(&app, &old.client_id, 120).await;
    let soon = app.create_key(&["--expires-in", "3d"]).await;
    let later = app.create_key(&["--expires-in", "30d"]).await;
    let admin = app.admin_key().await;
    let token = app.management_token(&admin, None).await;
    let ids = |path: &str| {
        let path = path.to_string();
        let token = token.clone();
        let app = &app;
        async move {
            let page = app.api(Method::GET, &path, Some(&token), None).await;
            assert_eq!(page.status, 200, "{}", page.text);
            page.body["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|k| {
                    (
                        k["client_id"].as_str().unwrap().to_string(),
                        k["age_days"].as_i64().unwrap(),
                    )
                })
                .collect::<Vec<_>>()
        }
    };
    let all = ids("/api/teams/acme/keys").await;
    assert_eq!(all.len(), 3);
    assert!(all.contains(&(old.client_id.clone(), 120)), "{all:?}");
    assert!(all.contains(&(soon.client_id.clone(), 0)));
    assert_eq!(
        ids("/api/teams/acme/keys?older_than=90d").await,
        [(old.client_id.clone(), 120)]
    );
    assert_eq!(
        ids("/api/teams/acme/keys?expiring_within=7d").await,
        [(soon.client_id.clone(), 0)]
    );
    let both = ids("/api/teams/acme/keys?expiring_within=31d&older_than=0s").await;
    assert_eq!(both.len(), 2, "{both:?}");
    assert!(both.iter().any(|(id, _)| *id == later.client_id));
    for bad in [
        "older_than=ninety",
        "older_than=3000000d",
        "expiring_within=-1d",
        "expiring_within=3000000d",
    ] {
        app.api(
            Method::GET,
            &format!("/api/teams/acme/keys?{bad}"),
            Some(&token),
            None,
        )
        .await
        .assert_problem(400, "invalid_request");
    }

    let cli = app
        .cli_json(&["keys", "list", "--team", "acme", "--older-than", "90d"])
        .await;
    assert_eq!(cli.as_array().unwrap().len(), 1, "{cli}");
    assert_eq!(cli[0]["client_id"], old.client_id.as_str());
    assert_eq!(cli[0]["age_days"], 120);
    let table = app
        .cli_ok(&["keys", "list", "--team", "acme", "--expiring-within", "7d"])
        .await;
    assert!(
        table.contains(&soon.client_id) && !table.contains(&later.client_id),
        "{table}"
    );
    assert!(table.contains("AGE"), "{table}");

    let metrics = app.get("/metrics").await.text().await.unwrap();
    for (hygiene, count) in [
        ("all", 4),
        ("rotation_due", 1),
        ("expiring_soon", 1),
        ("expired", 0),
    ] {
        let line = format!("tokenmint_api_keys{{hygiene=\"{hygiene}\"}} {count}");
        assert!(metrics.contains(&line), "{line} not in\n{metrics}");
    }
}

backend_tests!(
    a_keys_token_lifetime_shapes_its_tokens,
    an_update_applies_from_the_next_request_and_only_to_the_teams_own_keys,
    a_key_with_its_own_rate_is_held_to_it,
    listings_show_age_and_filter_by_it_and_the_metrics_count_it,
);
