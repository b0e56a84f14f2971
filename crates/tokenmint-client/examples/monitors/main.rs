//! An example resource server: the monitors API, protected by tokens of a tokenmint issuer.
//!
//! ```sh
//! cargo run -p tokenmint-client --example monitors -- --issuer http://127.0.0.1:8080
//! ```
//!
//! It finds the issuer's JWKS through its metadata, listens on 127.0.0.1:3000, and starts with
//! one monitor (id 1) owned by team `globex`, so a token of any other team gets 403 for it.

mod app;

use clap::Parser;
use tokenmint_client::Verifier;

#[derive(Parser)]
#[command(about = "An example resource server for tokenmint tokens")]
struct Args {
    /// The issuer: tokenmint's `server.issuer`, exactly as tokens carry it in `iss`.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    issuer: String,
    /// The audience this API accepts (tokenmint's `token.audience`).
    #[arg(long, default_value = "https://api.example.com")]
    audience: String,
    /// Where to listen.
    #[arg(long, default_value = "127.0.0.1:3000")]
    bind: String,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let verifier = Verifier::discover(&args.issuer)
        .await?
        .audience(&args.audience)
        .build()?;
    verifier.warm_up().await?;
    let monitors = app::Monitors::default();
    monitors.add(
        "globex",
        app::NewMonitor {
            name: "globex health".into(),
            url: "https://globex.example/health".into(),
        },
    );
    let listener = tokio::net::TcpListener::bind(&args.bind).await?;
    println!(
        "monitors API on http://{} (issuer {})",
        listener.local_addr()?,
        args.issuer
    );
    axum::serve(listener, app::app(verifier, monitors)).await?;
    Ok(())
}
