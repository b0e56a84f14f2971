//! `keys revoke-leaked`: an in-house scanner's findings, one secret per line on stdin, revoked as
//! a secret scanner's report would revoke them. What is printed names keys, never secrets.

use std::io::BufRead;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::audit::Actor;
use crate::manage::{self, Leak, LeakVerdict};
use crate::store::Store;

/// The longest line read as a secret (a tokenmint secret is under 100 characters).
const MAX_LINE: usize = 4096;

/// What became of one line, for `--json`.
#[derive(Serialize)]
struct LineVerdict {
    line: usize,
    #[serde(flatten)]
    verdict: LeakVerdict,
}

pub(super) async fn revoke_from_stdin(
    store: &dyn Store,
    url: Option<&str>,
    now: DateTime<Utc>,
    as_json: bool,
) -> anyhow::Result<()> {
    let mut lines = Vec::new();
    for (number, line) in std::io::stdin().lock().lines().enumerate() {
        let line = line.map_err(|e| anyhow::anyhow!("reading stdin, line {}: {e}", number + 1))?;
        let text = line.trim();
        if !text.is_empty() {
            // An overlong line is no secret; it is kept short so it cannot cost much.
            let kept: String = text.chars().take(MAX_LINE).collect();
            lines.push((number + 1, kept));
        }
    }
    let leaks: Vec<Leak<'_>> = lines
        .iter()
        .map(|(_, text)| Leak {
            text,
            url,
            source: Some("cli"),
        })
        .collect();
    let verdicts = manage::revoke_leaked(store, &Actor::Cli, &leaks, now).await?;
    let report: Vec<LineVerdict> = lines
        .iter()
        .zip(verdicts)
        .map(|((line, _), verdict)| LineVerdict {
            line: *line,
            verdict,
        })
        .collect();
    if as_json {
        return super::print::print_json(&report);
    }
    for entry in &report {
        println!("line {}: {}", entry.line, describe(&entry.verdict));
    }
    let revoked = report.iter().filter(|e| e.verdict.revoked()).count();
    println!(
        "{} line(s) read, {revoked} secret(s) revoked: they get no new token from now on",
        report.len()
    );
    Ok(())
}

fn describe(verdict: &LeakVerdict) -> String {
    match verdict {
        LeakVerdict::KeyDeleted { client_id, team } => {
            format!("the secret of {client_id} (team {team}): key deleted")
        }
        LeakVerdict::PreviousSecretEnded { client_id, team } => {
            format!("the previous secret of {client_id} (team {team}): it no longer works")
        }
        LeakVerdict::AlreadyEnded { client_id, team } => {
            format!("a secret of {client_id} (team {team}) that no longer worked")
        }
        LeakVerdict::NotOurs => "not a secret of any key".to_string(),
    }
}
