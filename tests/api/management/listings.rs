//! Listings: keyset pagination with cursors, and idle keys first.

use reqwest::Method;
use serde_json::Value;

use crate::helpers::TestApp;

async fn listings_page_with_cursors_and_find_idle_keys(app: TestApp) {
    let admin = app.admin_key().await;
    let token = app.management_token(&admin, None).await;
    let mut made = Vec::new();
    for _ in 0..5 {
        made.push(app.create_key_in("acme", &[]).await.client_id);
    }
    let mut listed = Vec::new();
    let mut path = "/api/teams/acme/keys?limit=2".to_string();
    let mut pages = 0;
    loop {
        let page = app.api(Method::GET, &path, Some(&token), None).await;
        assert_eq!(page.status, 200, "{}", page.text);
        pages += 1;
        for item in page.body["items"].as_array().unwrap() {
            assert!(item.get("client_secret").is_none());
            listed.push(item["client_id"].as_str().unwrap().to_string());
        }
        match page.body["next_cursor"].as_str() {
            Some(cursor) => path = format!("/api/teams/acme/keys?limit=2&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(listed, made, "every key once, oldest first");

    // Two keys used: idle keys (never used) come first, then the least recently used.
    let used = [
        app.create_key_in("acme", &[]).await,
        app.create_key_in("acme", &[]).await,
    ];
    for key in &used {
        app.token(key, "grant_type=client_credentials").await;
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let recorded = app
        .eventually(std::time::Duration::from_secs(10), || async {
            let keys = app.cli_json(&["keys", "list", "--team", "acme"]).await;
            keys.as_array()
                .unwrap()
                .iter()
                .filter(|k| !k["last_used_at"].is_null())
                .count()
                == 2
        })
        .await;
    assert!(recorded, "last_used_at is written within seconds");
    let idle = app
        .api(
            Method::GET,
            "/api/teams/acme/keys?sort=last_used_at&limit=3",
            Some(&token),
            None,
        )
        .await;
    let first: Vec<&Value> = idle.body["items"].as_array().unwrap().iter().collect();
    assert!(
        first.iter().all(|k| k["last_used_at"].is_null()),
        "{}",
        idle.text
    );
    let mut order = Vec::new();
    let mut path = "/api/teams/acme/keys?sort=last_used_at&limit=3".to_string();
    loop {
        let page = app.api(Method::GET, &path, Some(&token), None).await;
        for item in page.body["items"].as_array().unwrap() {
            order.push(item["client_id"].as_str().unwrap().to_string());
        }
        match page.body["next_cursor"].as_str() {
            Some(cursor) => {
                path = format!("/api/teams/acme/keys?sort=last_used_at&limit=3&cursor={cursor}")
            }
            None => break,
        }
    }
    assert_eq!(order.len(), 7, "{order:?}");
    assert_eq!(
        &order[5..],
        [used[0].client_id.clone(), used[1].client_id.clone()]
    );
    let cli = app
        .cli_json(&["keys", "list", "--team", "acme", "--sort", "last-used"])
        .await;
    let cli: Vec<&str> = cli
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["client_id"].as_str().unwrap())
        .collect();
    assert_eq!(cli, order);
    let future = "2999-01-01T00:00:00Z";
    let unused = app
        .api(
            Method::GET,
            &format!("/api/teams/acme/keys?unused_since={future}&limit=200"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(unused.body["items"].as_array().unwrap().len(), 7);
    let past = "2000-01-01T00:00:00Z";
    let never = app
        .api(
            Method::GET,
            &format!("/api/teams/acme/keys?unused_since={past}"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(
        never.body["items"].as_array().unwrap().len(),
        5,
        "the five never used"
    );
    let wrong_order = app
        .api(
            Method::GET,
            &format!(
                "/api/teams/acme/keys?sort=created_at&cursor={}",
                idle.body["next_cursor"].as_str().unwrap()
            ),
            Some(&token),
            None,
        )
        .await;
    wrong_order.assert_problem(400, "invalid_request");

    for slug in ["b-team", "c-team", "d-team"] {
        app.cli_ok(&["teams", "create", slug]).await;
    }
    let first = app
        .api(Method::GET, "/api/teams?limit=2", Some(&token), None)
        .await;
    let cursor = first.body["next_cursor"].as_str().unwrap();
    let rest = app
        .api(
            Method::GET,
            &format!("/api/teams?limit=10&cursor={cursor}"),
            Some(&token),
            None,
        )
        .await;
    let slugs: Vec<&str> = first.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .chain(rest.body["items"].as_array().unwrap())
        .map(|t| t["slug"].as_str().unwrap())
        .collect();
    assert_eq!(slugs, ["acme", "b-team", "c-team", "d-team", "ops"]);
    assert!(rest.body["next_cursor"].is_null());
}

backend_tests!(listings_page_with_cursors_and_find_idle_keys,);
