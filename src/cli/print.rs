//! What the CLI prints: a table for people, or one JSON document with `--json`.
//! Times are RFC 3339 in JSON; unset values are `null`.

use chrono::{DateTime, SecondsFormat, Utc};

use crate::manage::CreatedKey;
use crate::signing::lifecycle::Step;
use crate::signing::operations::SigningKeyInfo;
use crate::store::{ApiKey, AuditEvent, Team};

fn time(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn maybe(t: &Option<DateTime<Utc>>) -> String {
    t.as_ref().map_or_else(|| "-".to_string(), time)
}

fn print_json(value: &impl serde::Serialize) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

/// Left-aligned columns, two spaces apart.
fn table(header: &[&str], rows: Vec<Vec<String>>) {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        println!("{}", padded.join("  ").trim_end());
    };
    line(header.iter().map(|h| h.to_string()).collect());
    for row in rows {
        line(row);
    }
}

pub fn teams(teams: &[Team], as_json: bool) -> anyhow::Result<()> {
    if as_json {
        return print_json(&teams);
    }
    let rows = teams
        .iter()
        .map(|t| vec![t.slug.clone(), t.name.clone(), time(&t.created_at)])
        .collect();
    table(&["SLUG", "NAME", "CREATED"], rows);
    Ok(())
}

pub fn created_key(created: &CreatedKey, as_json: bool) -> anyhow::Result<()> {
    let key = &created.key;
    if as_json {
        return print_json(&created.view());
    }
    println!(
        "Created API key {:?} for team {} ({}).",
        key.label,
        key.team,
        key.env.as_str()
    );
    println!();
    println!("  Client ID:      {}", key.client_id);
    println!("  Client secret:  {}", created.secret.expose());
    println!("  Scopes:         {}", key.scopes.join(" "));
    println!(
        "  Expires:        {}",
        key.expires_at.as_ref().map_or("never".to_string(), time)
    );
    println!();
    println!("Copy the secret now: it is shown only this once.");
    Ok(())
}

pub fn api_keys(keys: &[ApiKey], as_json: bool) -> anyhow::Result<()> {
    if as_json {
        return print_json(&keys);
    }
    let rows = keys
        .iter()
        .map(|k| {
            vec![
                k.client_id.clone(),
                k.label.clone(),
                k.scopes.join(" "),
                time(&k.created_at),
                maybe(&k.last_used_at),
                maybe(&k.expires_at),
            ]
        })
        .collect();
    table(
        &[
            "CLIENT ID",
            "LABEL",
            "SCOPES",
            "CREATED",
            "LAST USED",
            "EXPIRES",
        ],
        rows,
    );
    Ok(())
}

pub fn signing_keys(keys: &[SigningKeyInfo], as_json: bool) -> anyhow::Result<()> {
    if as_json {
        return print_json(&keys);
    }
    let rows = keys
        .iter()
        .map(|k| {
            let state = serde_json::to_value(k.state)
                .ok()
                .and_then(|v| v.as_str().map(String::from));
            vec![
                k.kid.clone(),
                k.alg.clone(),
                state.unwrap_or_default(),
                time(&k.created_at),
                time(&k.activates_at),
                maybe(&k.retired_at),
                maybe(&k.removed_after),
            ]
        })
        .collect();
    table(
        &[
            "KID",
            "ALG",
            "STATE",
            "CREATED",
            "SIGNS FROM",
            "RETIRED",
            "REMOVED AFTER",
        ],
        rows,
    );
    Ok(())
}

/// The key a rotation created or promoted, or the one already pending.
pub fn rotation(
    steps: &[Step],
    keys: &[SigningKeyInfo],
    immediate: bool,
    as_json: bool,
) -> anyhow::Result<()> {
    use crate::signing::lifecycle::KeyState;
    let wanted = if immediate {
        KeyState::Current
    } else {
        KeyState::Next
    };
    let key = keys.iter().rev().find(|k| k.state == wanted);
    if as_json {
        return print_json(&key);
    }
    let Some(key) = key else {
        println!(
            "no key is {}",
            if immediate { "current" } else { "pending" }
        );
        return Ok(());
    };
    match (steps.is_empty(), immediate) {
        (true, _) => println!(
            "a rotation is already pending: {} signs from {}",
            key.kid,
            time(&key.activates_at)
        ),
        (false, true) => println!("rotated now: {} ({}) signs new tokens", key.kid, key.alg),
        (false, false) => println!(
            "rotation started: {} ({}) is published now and signs from {}",
            key.kid,
            key.alg,
            time(&key.activates_at)
        ),
    }
    Ok(())
}

pub fn revocation(kid: &str, steps: &[Step], keys: &[SigningKeyInfo]) {
    println!("revoked {kid}: it is out of the JWKS and tokens it signed no longer validate");
    if steps.len() > 1
        && let Some(current) = keys
            .iter()
            .find(|k| k.state == crate::signing::lifecycle::KeyState::Current)
    {
        println!(
            "it was the current key: {} ({}) signs new tokens now",
            current.kid, current.alg
        );
    }
}

pub fn audit(events: &[AuditEvent], as_json: bool) -> anyhow::Result<()> {
    if as_json {
        return print_json(&events);
    }
    let rows = events
        .iter()
        .map(|e| {
            let e = &e.event;
            vec![
                time(&e.at),
                e.actor.clone(),
                e.action.clone(),
                e.team.clone().unwrap_or_else(|| "-".into()),
                e.target.clone(),
                e.source_ip.clone().unwrap_or_else(|| "-".into()),
            ]
        })
        .collect();
    table(&["TIME", "ACTOR", "ACTION", "TEAM", "TARGET", "FROM"], rows);
    Ok(())
}
