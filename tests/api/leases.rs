//! Credential leases under load: nodes that share a credential read between the requests of a
//! moment still sign nothing for a key once its deletion, or new limits, have returned — on
//! every node, and on a node whose database connection is cut while the change is made
//! elsewhere. Each node is hammered by several clients, so its requests do share reads (the
//! tests check that they did: without leases they would prove nothing).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use tokio::task::JoinHandle;

use crate::attacks::metric;
use crate::helpers::{Backend, Key, ServeProcess, TestApp, basic};

/// Clients per node.
const CLIENTS: usize = 4;

/// No per-key or per-address limit gets in the way of the hammering.
const UNLIMITED: &[(&str, &str)] = &[
    ("TOKENMINT_RATE_LIMIT__TOKEN_REQUESTS_PER_SECOND", "1000000"),
    ("TOKENMINT_RATE_LIMIT__FAILED_AUTH_PER_MINUTE", "0"),
    ("TOKENMINT_SERVER__MAX_CONNECTIONS_PER_ADDRESS", "0"),
];

/// One answered token request: when it was sent, its status, and its body.
struct Answer {
    sent: Instant,
    status: u16,
    body: String,
}

/// Clients sending token requests for `key` to `addr` back to back until `stop` is set.
fn hammer(addr: &str, key: &Key, stop: &Arc<AtomicBool>) -> Vec<JoinHandle<Vec<Answer>>> {
    let url = format!("http://{addr}/api/oauth/token");
    let auth = basic(&key.client_id, &key.client_secret);
    hammer_with(stop, move |http| {
        http.post(&url)
            .header("authorization", &auth)
            .header("content-type", "application/x-www-form-urlencoded")
            .body("grant_type=client_credentials")
    })
}

/// Clients sending the request `build` makes, back to back until `stop` is set.
fn hammer_with<F>(stop: &Arc<AtomicBool>, build: F) -> Vec<JoinHandle<Vec<Answer>>>
where
    F: Fn(&reqwest::Client) -> reqwest::RequestBuilder + Clone + Send + 'static,
{
    (0..CLIENTS)
        .map(|_| {
            let stop = Arc::clone(stop);
            let build = build.clone();
            tokio::spawn(async move {
                let http = reqwest::Client::new();
                let mut answers = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    let sent = Instant::now();
                    let Ok(response) = build(&http).timeout(Duration::from_secs(5)).send().await
                    else {
                        continue;
                    };
                    let status = response.status().as_u16();
                    let body = response.text().await.unwrap_or_default();
                    answers.push(Answer { sent, status, body });
                }
                answers
            })
        })
        .collect()
}

async fn collect(clients: Vec<JoinHandle<Vec<Answer>>>) -> Vec<Answer> {
    let mut all = Vec::new();
    for client in clients {
        all.extend(client.await.unwrap());
    }
    all
}

const READS: &str = "tokenmint_credential_reads_total ";
const ISSUED: &str = "tokenmint_token_requests_total{outcome=\"issued\"} ";

/// Asserts that no request sent after `returned` was granted (a token, a signature), and that
/// some before it were.
fn no_token_after(answers: &[Answer], returned: Instant, node: &str) {
    let before = answers.iter().filter(|a| a.sent < returned).count();
    let issued_before = answers
        .iter()
        .filter(|a| a.sent < returned && a.status == 200)
        .count();
    assert!(issued_before > 0, "{node}: granted before the change");
    let late: Vec<_> = answers
        .iter()
        .filter(|a| a.sent >= returned && a.status == 200)
        .map(|a| format!("{:?} after: {}", a.sent - returned, a.body))
        .collect();
    assert!(
        late.is_empty(),
        "{node}: {} granted for requests sent after the change returned ({before} before): {late:?}",
        late.len()
    );
    assert!(
        answers.iter().any(|a| a.sent >= returned),
        "{node}: requests were sent after the change"
    );
}

async fn postgres_nodes(app: &TestApp, count: usize) -> Vec<ServeProcess> {
    let mut nodes = Vec::new();
    for _ in 0..count {
        nodes.push(app.start_node(UNLIMITED).await);
    }
    nodes
}

/// Every node shares reads of a busy key, and every node refuses it from the first request
/// sent after `keys delete` (run elsewhere: the CLI on the database) returned.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(skip_postgres, ignore = "built with TOKENMINT_SKIP_POSTGRES=1")]
async fn a_busy_key_deleted_elsewhere_gets_no_token_on_any_node_after_the_delete_returns() {
    let app = TestApp::spawn_with(Backend::Postgres, UNLIMITED).await;
    let nodes = postgres_nodes(&app, 2).await;
    let key = app.create_key(&[]).await;
    let stop = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = nodes.iter().map(|n| hammer(&n.addr, &key, &stop)).collect();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let mut shared = Vec::new();
    for node in &nodes {
        let base = format!("http://{}", node.addr);
        let reads = metric(&app, &base, READS).await;
        let issued = metric(&app, &base, ISSUED).await;
        shared.push(format!("{}: {issued} tokens from {reads} reads", node.addr));
        assert!(
            issued > 0 && reads < issued,
            "the node's requests share credential reads: {shared:?}"
        );
    }
    // A lease carries the key, never a verdict on a secret: a wrong one is refused on a
    // node serving the key from its lease.
    let mut impostor = key.clone();
    impostor.client_secret = app.create_key(&[]).await.client_secret;
    for node in &nodes {
        let refused = crate::nodes::token_status(&app.http, &node.addr, &impostor).await;
        assert_eq!(refused.status(), 401, "{}: another key's secret", node.addr);
    }
    app.cli_ok(&["keys", "delete", &key.client_id]).await;
    let returned = Instant::now();
    tokio::time::sleep(Duration::from_millis(700)).await;
    stop.store(true, Ordering::Relaxed);
    for (node, clients) in nodes.iter().zip(clients) {
        let answers = collect(clients).await;
        no_token_after(&answers, returned, &node.addr);
        assert!(
            answers
                .iter()
                .filter(|a| a.sent >= returned)
                .all(|a| a.status == 401),
            "{}: a deleted key is invalid_client",
            node.addr
        );
    }
    println!("{shared:?}");
}

/// A webhook delivery worker's management token is checked against its key as the token
/// endpoint checks a secret: its requests share reads of the key on each node, and once the
/// key's deletion (made elsewhere) has returned, no node signs a webhook for it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(skip_postgres, ignore = "built with TOKENMINT_SKIP_POSTGRES=1")]
async fn a_busy_delivery_worker_deleted_elsewhere_signs_nothing_on_any_node_after_the_delete_returns()
 {
    let app = TestApp::spawn_with(Backend::Postgres, UNLIMITED).await;
    let nodes = postgres_nodes(&app, 2).await;
    let worker = app.create_key_in("acme", &["webhooks:sign"]).await;
    let token = format!("Bearer {}", app.management_token(&worker, None).await);
    let stop = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = nodes
        .iter()
        .map(|node| {
            let url = format!("http://{}/api/teams/acme/webhooks/sign", node.addr);
            let token = token.clone();
            hammer_with(&stop, move |http| {
                http.post(&url)
                    .header("authorization", &token)
                    .json(&serde_json::json!({"payload": "{\"type\":\"ping\"}"}))
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let counted = Instant::now();
    let mut reads = Vec::new();
    for node in &nodes {
        reads.push(metric(&app, &format!("http://{}", node.addr), READS).await);
    }
    app.cli_ok(&["keys", "delete", &worker.client_id]).await;
    let returned = Instant::now();
    tokio::time::sleep(Duration::from_millis(700)).await;
    stop.store(true, Ordering::Relaxed);
    for ((node, clients), reads) in nodes.iter().zip(clients).zip(reads) {
        let answers = collect(clients).await;
        let signed = answers
            .iter()
            .filter(|a| a.sent < counted && a.status == 200)
            .count() as u64;
        // A read per request would make the two about equal.
        assert!(
            reads * 4 < signed,
            "{}: {signed} signatures shared {reads} reads of the key",
            node.addr
        );
        no_token_after(&answers, returned, &node.addr);
        let late: Vec<_> = answers.iter().filter(|a| a.sent >= returned).collect();
        assert!(
            late.iter()
                .all(|a| a.status == 401 && a.body.contains("invalid_token")),
            "{}: a deleted key's token is invalid_token",
            node.addr
        );
    }
}

/// A node whose database connections are cut while a deletion is made elsewhere stops
/// signing for the key (its lease runs out and it cannot read again): 503, never a token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(skip_postgres, ignore = "built with TOKENMINT_SKIP_POSTGRES=1")]
async fn a_node_cut_from_the_database_signs_nothing_after_a_deletion_elsewhere() {
    let app = TestApp::spawn_with(Backend::Postgres, UNLIMITED).await;
    let (proxy, proxied) = crate::nodes::database_through_a_proxy(&app).await;
    let mut env = UNLIMITED.to_vec();
    env.push(("TOKENMINT_DATABASE_URL", &proxied));
    env.push(("TOKENMINT_DATABASE__ACQUIRE_TIMEOUT", "1s"));
    let node = app.start_node(&env).await;
    let key = app.create_key(&[]).await;
    let stop = Arc::new(AtomicBool::new(false));
    let clients = hammer(&node.addr, &key, &stop);
    tokio::time::sleep(Duration::from_millis(1000)).await;
    proxy.cut();
    app.cli_ok(&["keys", "delete", &key.client_id]).await;
    let returned = Instant::now();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    stop.store(true, Ordering::Relaxed);
    let answers = collect(clients).await;
    no_token_after(&answers, returned, "the cut node");
    let late: Vec<u16> = answers
        .iter()
        .filter(|a| a.sent >= returned)
        .map(|a| a.status)
        .collect();
    assert!(
        late.iter().all(|s| *s == 503),
        "the cut node answers 503 (database unavailable): {late:?}"
    );
    let log = node.stop().await;
    assert!(!log.contains("panicked"), "{log}");
}

/// New limits apply from the first request after the change returns, on a node serving the
/// key from its lease: a lower token lifetime shapes every later token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(skip_postgres, ignore = "built with TOKENMINT_SKIP_POSTGRES=1")]
async fn new_limits_apply_on_every_node_from_the_first_request_after_the_update() {
    let app = TestApp::spawn_with(Backend::Postgres, UNLIMITED).await;
    let nodes = postgres_nodes(&app, 1).await;
    let key = app.create_key(&[]).await;
    let stop = Arc::new(AtomicBool::new(false));
    let clients = hammer(&nodes[0].addr, &key, &stop);
    tokio::time::sleep(Duration::from_millis(1000)).await;
    app.cli_ok(&["keys", "update", &key.client_id, "--token-ttl", "5m"])
        .await;
    let returned = Instant::now();
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, Ordering::Relaxed);
    let answers = collect(clients).await;
    let lifetime = |a: &Answer| {
        serde_json::from_str::<serde_json::Value>(&a.body).unwrap()["expires_in"]
            .as_i64()
            .unwrap()
    };
    assert!(
        answers
            .iter()
            .any(|a| a.sent < returned && a.status == 200 && lifetime(a) > 300),
        "tokens of the old lifetime before the update"
    );
    let late: Vec<i64> = answers
        .iter()
        .filter(|a| a.sent >= returned)
        .map(|a| {
            assert_eq!(a.status, 200, "{}", a.body);
            lifetime(a)
        })
        .collect();
    assert!(!late.is_empty());
    assert!(
        late.iter().all(|ttl| *ttl <= 300),
        "every token after the update lives 5 minutes at most: {late:?}"
    );
    // Naming the same limit again still waits: a concurrent update may have changed it.
    let admin = app.admin_key().await;
    let token = app.management_token(&admin, None).await;
    let path = format!("/api/teams/acme/keys/{}", key.client_id);
    let started = Instant::now();
    let again = app
        .api(
            reqwest::Method::PATCH,
            &path,
            Some(&token),
            Some(serde_json::json!({ "token_ttl": "5m" })),
        )
        .await;
    assert_eq!(again.status, 200, "{}", again.text);
    assert!(
        started.elapsed() >= tokenmint::oauth::grant::DELETION_SETTLES,
        "an update naming a limit answered after {:?}",
        started.elapsed()
    );
}
