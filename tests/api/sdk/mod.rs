//! tokenmint-client against the real server: the verifier inside the example monitors API
//! (the very router of `crates/tokenmint-client/examples/monitors`), key rotation, a JWKS outage,
//! a kid-spray, and the token source under concurrency.

use std::time::Duration;

use tokenmint_client::Verifier;

use crate::helpers::{AUDIENCE, ISSUER, TestApp};

#[path = "../../../crates/tokenmint-client/examples/monitors/app.rs"]
#[allow(dead_code)]
mod monitors_app;

mod jwks_cache;
mod monitors;
mod token_source;

/// A verifier of `app`'s tokens reading the JWKS at `jwks_url`, without clock leeway.
fn verifier_at(jwks_url: &str, refetch_interval: Duration) -> Verifier {
    Verifier::from_jwks_url(jwks_url)
        .unwrap()
        .issuer(ISSUER)
        .audience(AUDIENCE)
        .leeway(Duration::ZERO)
        .refetch_interval(refetch_interval)
        .retry_after_failure(Duration::from_millis(200))
        .build()
        .unwrap()
}

fn jwks_url(app: &TestApp) -> String {
    format!("{}/.well-known/jwks.json", app.base)
}

/// The example monitors API, served on a free port with `verifier`; returns its base URL.
async fn serve_monitors(verifier: Verifier) -> String {
    let monitors = monitors_app::Monitors::default();
    monitors.add(
        "globex",
        monitors_app::NewMonitor {
            name: "globex health".into(),
            url: "https://globex.example".into(),
        },
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let app = monitors_app::app(verifier, monitors);
    tokio::spawn(async move { axum::serve(listener, app).await });
    base
}

/// The sum of every series of counter `name` in `app`'s `/metrics`.
async fn counter(app: &TestApp, name: &str) -> u64 {
    let text = app.get("/metrics").await.text().await.unwrap();
    text.lines()
        .filter(|line| line.starts_with(name))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>() as u64
}

/// An access token for `key` with the form `extra` added to the grant.
async fn token_for(app: &TestApp, key: &crate::helpers::Key, extra: &str) -> String {
    let body = app
        .token(key, &format!("grant_type=client_credentials{extra}"))
        .await;
    body["access_token"].as_str().unwrap().to_string()
}
