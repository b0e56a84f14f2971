//! Commands for running tokenmint in production: `healthcheck` (a container's probe, with no
//! curl in the image), `backup` (a consistent copy of a live SQLite database), and the shell
//! completions and man page, generated from the clap definitions so they cannot drift.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, bail};
use bytes::Bytes;
use http_body_util::Empty;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use crate::config::Config;

/// Asks the server on `server.bind` for `/readyz`: Ok when it answers 200 within `timeout`.
pub(super) async fn healthcheck(config: &Config, timeout: Duration) -> anyhow::Result<()> {
    let addr = probe_address(config.server.bind)?;
    let uri: hyper::Uri = format!("http://{addr}/readyz")
        .parse()
        .context("the probe's address")?;
    let client = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
    let answer = tokio::time::timeout(timeout, client.get(uri))
        .await
        .map_err(|_| anyhow::anyhow!("no answer from http://{addr}/readyz within {timeout:?}"))?
        .with_context(|| format!("cannot reach tokenmint at http://{addr}/readyz"))?;
    let status = answer.status();
    if !status.is_success() {
        bail!("http://{addr}/readyz answered {status}: not ready");
    }
    println!("ready: http://{addr}/readyz answered {status}");
    Ok(())
}

/// Where a probe on this host reaches a server bound to `bind`: the loopback address of the
/// same family when it listens on every address.
fn probe_address(bind: SocketAddr) -> anyhow::Result<SocketAddr> {
    if bind.port() == 0 {
        bail!("server.bind has port 0 (any free port): there is no fixed port to probe");
    }
    let ip = match bind.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    Ok(SocketAddr::new(ip, bind.port()))
}

/// Copies the SQLite database to `to`, consistently, while servers keep running (SQLite's
/// `VACUUM INTO` reads one snapshot). The copy is made readable by its owner only: it holds
/// the secrets' hashes and the sealed private keys (the master key is not in it; back that up
/// apart). PostgreSQL is backed up with its own tools.
pub(super) async fn backup(config: &Config, to: &Path) -> anyhow::Result<()> {
    let url = &config.database.url;
    if !url.starts_with("sqlite:") {
        bail!(
            "backup copies a SQLite database; with PostgreSQL use its tools, for example \
             `pg_dump --format=custom --file=tokenmint.dump \"$DATABASE_URL\"` (and keep the \
             master key apart)"
        );
    }
    let size = crate::store::backup_sqlite(&config.database, to)
        .await
        .with_context(|| format!("backup to {}", to.display()))?;
    println!(
        "backed up the database to {} ({size} bytes); keep the master key ({}) apart from it",
        to.display(),
        config.signing.master_key_file.display()
    );
    Ok(())
}

/// Writes the completion script for `shell` to stdout.
pub(super) fn completions(shell: clap_complete::Shell) -> anyhow::Result<()> {
    let mut command = <super::Cli as clap::CommandFactory>::command();
    // Into memory first: clap_complete panics on a failed write (a closed pipe, say).
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut command, "tokenmint", &mut script);
    std::io::Write::write_all(&mut std::io::stdout(), &script)
        .context("writing the completion script")
}

/// Writes the man page, in roff, to stdout.
pub(super) fn man_page() -> anyhow::Result<()> {
    let command = <super::Cli as clap::CommandFactory>::command();
    clap_mangen::Man::new(command)
        .render(&mut std::io::stdout())
        .context("writing the man page")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_probe_goes_to_loopback_when_the_server_listens_everywhere() {
        let probe = |bind: &str| probe_address(bind.parse().unwrap()).map(|a| a.to_string());
        assert_eq!(probe("0.0.0.0:8080").unwrap(), "127.0.0.1:8080");
        assert_eq!(probe("[::]:9000").unwrap(), "[::1]:9000");
        assert_eq!(probe("10.1.2.3:8080").unwrap(), "10.1.2.3:8080");
        assert!(probe("127.0.0.1:0").is_err());
    }
}
