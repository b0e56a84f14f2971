//! Several tokenmint nodes on one PostgreSQL database, as real `tokenmint serve` processes, and
//! how a node behaves when the database goes away.

use std::time::Duration;

use serde_json::Value;

use crate::helpers::{
    AUDIENCE, Backend, CuttableProxy, Key, ServeProcess, TestApp, basic, verify_with,
};

/// `signing.refresh` in the test config, plus slack for a loaded CI machine.
const REFRESH_SLACK: Duration = Duration::from_secs(4);

async fn postgres_app() -> TestApp {
    TestApp::spawn(Backend::Postgres).await
}

pub(crate) async fn token_status(
    http: &reqwest::Client,
    addr: &str,
    key: &Key,
) -> reqwest::Response {
    http.post(format!("http://{addr}/api/oauth/token"))
        .header("authorization", basic(&key.client_id, &key.client_secret))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=client_credentials")
        .send()
        .await
        .expect("token request")
}

async fn jwks_of(http: &reqwest::Client, addr: &str) -> Value {
    http.get(format!("http://{addr}/.well-known/jwks.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// The in-process server and two more processes on the same database.
async fn three_nodes(app: &TestApp) -> (Vec<String>, Vec<ServeProcess>) {
    let others = vec![app.start_node(&[]).await, app.start_node(&[]).await];
    let mut addrs = vec![app.base.trim_start_matches("http://").to_string()];
    addrs.extend(others.iter().map(|n| n.addr.clone()));
    (addrs, others)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(skip_postgres, ignore = "built with TOKENMINT_SKIP_POSTGRES=1")]
async fn a_key_works_on_every_node_at_once_and_its_deletion_too() {
    let app = postgres_app().await;
    let (addrs, _nodes) = three_nodes(&app).await;
    let key = app.create_key(&[]).await;
    for addr in &addrs {
        let response = token_status(&app.http, addr, &key).await;
        assert_eq!(
            response.status(),
            200,
            "node {addr} serves a key created elsewhere at once"
        );
        let body: Value = response.json().await.unwrap();
        let jwks = serde_json::from_value(jwks_of(&app.http, addr).await).unwrap();
        verify_with(&jwks, body["access_token"].as_str().unwrap(), AUDIENCE).expect("verifies");
    }
    app.cli_ok(&["keys", "delete", &key.client_id]).await;
    for addr in &addrs {
        let response = token_status(&app.http, addr, &key).await;
        assert_eq!(
            response.status(),
            401,
            "node {addr} refuses a deleted key on the very next request"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(skip_postgres, ignore = "built with TOKENMINT_SKIP_POSTGRES=1")]
async fn simultaneous_rotations_make_exactly_one_new_key() {
    let app = postgres_app().await;
    let (addrs, _nodes) = three_nodes(&app).await;
    let rotations: Vec<_> = (0..4)
        .map(|_| app.cli(&["signing-keys", "rotate", "--json"]))
        .collect();
    let outputs = futures::future::join_all(rotations).await;
    let mut kids: Vec<String> = outputs
        .iter()
        .map(|out| {
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            let v: Value = serde_json::from_slice(&out.stdout).unwrap();
            v["kid"].as_str().unwrap().to_string()
        })
        .collect();
    kids.dedup();
    assert_eq!(
        kids.len(),
        1,
        "four simultaneous rotations agree on one next key: {kids:?}"
    );
    let listed = app.cli_json(&["signing-keys", "list"]).await;
    assert_eq!(
        listed.as_array().unwrap().len(),
        2,
        "one current and exactly one next key: {listed}"
    );
    // Every node serves the same JWKS, with the new key, within signing.refresh.
    let next_kid = kids[0].clone();
    let same = app
        .eventually(REFRESH_SLACK, || async {
            let mut documents = Vec::new();
            for addr in &addrs {
                documents.push(jwks_of(&app.http, addr).await);
            }
            documents.windows(2).all(|w| w[0] == w[1])
                && documents[0].to_string().contains(&next_kid)
        })
        .await;
    assert!(
        same,
        "every node serves the same JWKS within the refresh interval"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(skip_postgres, ignore = "built with TOKENMINT_SKIP_POSTGRES=1")]
async fn a_node_started_later_joins_with_no_set_up() {
    let app = postgres_app().await;
    let key = app.create_key(&[]).await;
    app.cli_ok(&["signing-keys", "rotate", "--now"]).await;
    let late = app.start_node(&[]).await;
    assert_eq!(
        token_status(&app.http, &late.addr, &key).await.status(),
        200
    );
    let in_sync = app
        .eventually(REFRESH_SLACK, || async {
            jwks_of(&app.http, &late.addr).await
                == jwks_of(&app.http, app.base.trim_start_matches("http://")).await
        })
        .await;
    assert!(in_sync);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(skip_postgres, ignore = "built with TOKENMINT_SKIP_POSTGRES=1")]
async fn a_database_outage_gives_503_with_retry_after_and_service_recovers() {
    let app = postgres_app().await;
    let key = app.create_key(&[]).await;
    let (proxy, proxied) = database_through_a_proxy(&app).await;
    let node = app
        .start_node(&[
            ("TOKENMINT_DATABASE_URL", &proxied),
            ("TOKENMINT_DATABASE__ACQUIRE_TIMEOUT", "1s"),
        ])
        .await;
    assert_eq!(
        token_status(&app.http, &node.addr, &key).await.status(),
        200
    );

    proxy.cut();
    // A node shares a credential read for a moment (its lease, far shorter than any deletion
    // waits): past it, the node must read again, and cannot.
    tokio::time::sleep(tokenmint::oauth::grant::CREDENTIAL_FRESHNESS).await;
    let started = std::time::Instant::now();
    let response = token_status(&app.http, &node.addr, &key).await;
    let elapsed = started.elapsed();
    if response.status() != 503 {
        panic!(
            "expected 503, got {}; node log:\n{}",
            response.status(),
            node.stop().await
        );
    }
    assert!(response.headers().contains_key("retry-after"));
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "temporarily_unavailable");
    assert!(
        elapsed < Duration::from_secs(5),
        "answered in bounded time, not hung: {elapsed:?}"
    );
    let ready = app
        .http
        .get(format!("http://{}/readyz", node.addr))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 503);

    proxy.restore();
    let recovered = app
        .eventually(Duration::from_secs(15), || async {
            token_status(&app.http, &node.addr, &key).await.status() == 200
        })
        .await;
    assert!(
        recovered,
        "the node recovers on its own when the database returns"
    );
    let ready = app
        .http
        .get(format!("http://{}/readyz", node.addr))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 200);
    let log = node.stop().await;
    assert!(!log.contains("panicked"), "{log}");
}

/// A proxy in front of the test PostgreSQL that a test can cut, and `app`'s database URL
/// through it (for a node started with it as `TOKENMINT_DATABASE_URL`).
pub(crate) async fn database_through_a_proxy(app: &TestApp) -> (CuttableProxy, String) {
    let upstream = postgres_socket_addr();
    let proxy = CuttableProxy::start(upstream).await;
    let proxied = app.database_url().replacen(
        &format!("{}:{}", upstream.ip(), upstream.port()),
        &format!("127.0.0.1:{}", proxy.port),
        1,
    );
    assert_ne!(
        proxied,
        app.database_url(),
        "the node goes through the proxy"
    );
    (proxy, proxied)
}

/// Where the test PostgreSQL listens, from its URL.
fn postgres_socket_addr() -> std::net::SocketAddr {
    let url = url::Url::parse(&crate::helpers::postgres_url()).expect("postgres URL");
    let host = url.host_str().unwrap_or("127.0.0.1");
    let port = url.port().unwrap_or(5432);
    std::net::ToSocketAddrs::to_socket_addrs(&(host, port))
        .unwrap()
        .next()
        .unwrap()
}
