//! What the CLI prints: a table for people, or one JSON document with `--json`.
//! Times are RFC 3339 in JSON; unset values are `null`.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::Value;

use crate::manage::CreatedKey;
use crate::manage::views::views;
use crate::manage::{ApiKeyView, AuditEventView, RolledKey, RolledKeyView, TeamView};

use crate::manage::views::age_days;
use crate::signing::service::{Revocation, Rotation, SigningKeyInfo};
use crate::store::{ApiKey, AuditEvent, KeyLimits, Team};

fn time(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn maybe(t: &Option<DateTime<Utc>>) -> String {
    t.as_ref().map_or_else(|| "-".to_string(), time)
}

pub(super) fn print_json(value: &impl serde::Serialize) -> anyhow::Result<()> {
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
        return print_json(&views::<_, TeamView>(teams.to_vec()));
    }
    let rows = teams
        .iter()
        .map(|t| vec![t.slug.clone(), t.name.clone(), time(&t.created_at)])
        .collect();
    table(&["SLUG", "NAME", "CREATED"], rows);
    Ok(())
}

/// A JSON string as text (`-` for null).
pub(super) fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => "-".into(),
        other => other.to_string(),
    }
}

/// The documents with `--json`, else a table of the named fields.
pub(super) fn show_table(
    documents: &[Value],
    as_json: bool,
    columns: &[(&str, &str)],
) -> anyhow::Result<()> {
    if as_json {
        return print_json(&documents);
    }
    let header: Vec<&str> = columns.iter().map(|(title, _)| *title).collect();
    let rows = documents
        .iter()
        .map(|d| columns.iter().map(|(_, field)| text(&d[*field])).collect())
        .collect();
    table(&header, rows);
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
    if key.limits != KeyLimits::default() {
        println!("  Limits:         {}", limits(&key.limits));
    }
    println!();
    println!("Copy the secret now: it is shown only this once.");
    Ok(())
}

pub fn api_keys(keys: &[ApiKey], now: DateTime<Utc>, as_json: bool) -> anyhow::Result<()> {
    if as_json {
        let views: Vec<ApiKeyView> = keys
            .iter()
            .map(|k| ApiKeyView::at(k.clone(), now))
            .collect();
        return print_json(&views);
    }
    let rows = keys
        .iter()
        .map(|k| {
            vec![
                k.client_id.clone(),
                k.label.clone(),
                k.scopes.join(" "),
                time(&k.created_at),
                format!("{}d", age_days(k.created_at, now)),
                maybe(&k.last_used_at),
                maybe(&k.expires_at),
                limits(&k.limits),
                maybe(&k.previous_secret_until.filter(|until| *until > now)),
            ]
        })
        .collect();
    table(
        &[
            "CLIENT ID",
            "LABEL",
            "SCOPES",
            "CREATED",
            "AGE",
            "LAST USED",
            "EXPIRES",
            "LIMITS",
            "OLD SECRET UNTIL",
        ],
        rows,
    );
    Ok(())
}

/// A key's own limits, `-` when it has the issuer's.
fn limits(limits: &KeyLimits) -> String {
    let mut parts = Vec::new();
    if let Some(ttl) = limits.token_ttl_secs {
        let ttl = std::time::Duration::from_secs(u64::from(ttl));
        parts.push(format!("ttl {}", crate::config::duration::format(ttl)));
    }
    if let Some(rate) = limits.token_requests_per_second {
        parts.push(format!("{rate}/s"));
    }
    if parts.is_empty() {
        return "-".into();
    }
    parts.join(", ")
}

/// A rolled key and its new secret, shown this once.
pub fn rolled_key(rolled: RolledKey, now: DateTime<Utc>, as_json: bool) -> anyhow::Result<()> {
    let view = RolledKeyView::at(rolled, now);
    if as_json {
        return print_json(&view);
    }
    println!(
        "Rolled the secret of API key {:?} ({}).",
        view.key.label, view.key.client_id
    );
    println!();
    println!("  Client ID:          {}", view.key.client_id);
    println!("  New client secret:  {}", view.client_secret);
    match view.key.previous_secret_expires_at {
        Some(until) => println!("  Old secret works until {}", time(&until)),
        None => println!("  The old secret no longer works."),
    }
    println!();
    println!("Copy the new secret now: it is shown only this once. Move every client to it, then");
    println!(
        "end the overlap early with `tokenmint keys roll --finish {}`.",
        view.key.client_id
    );
    Ok(())
}

/// A key after `keys update`.
pub fn updated_key(key: &ApiKey, now: DateTime<Utc>, as_json: bool) -> anyhow::Result<()> {
    if as_json {
        return print_json(&ApiKeyView::at(key.clone(), now));
    }
    println!(
        "updated {} ({:?}): limits {}",
        key.client_id,
        key.label,
        limits(&key.limits)
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
pub fn rotation(rotation: &Rotation, immediate: bool, as_json: bool) -> anyhow::Result<()> {
    if as_json {
        return print_json(&rotation.key);
    }
    let Some(key) = &rotation.key else {
        println!(
            "no key is {}",
            if immediate { "current" } else { "pending" }
        );
        return Ok(());
    };
    match (rotation.started, immediate) {
        (false, _) => println!(
            "a rotation is already pending: {} signs from {}",
            key.kid,
            time(&key.activates_at)
        ),
        (true, true) => println!("rotated now: {} ({}) signs new tokens", key.kid, key.alg),
        (true, false) => println!(
            "rotation started: {} ({}) is published now and signs from {}",
            key.kid,
            key.alg,
            time(&key.activates_at)
        ),
    }
    Ok(())
}

pub fn revocation(kid: &str, revocation: &Revocation) {
    println!("revoked {kid}: it is out of the JWKS and tokens it signed no longer validate");
    if revocation.took_over
        && let Some(current) = &revocation.current
    {
        println!(
            "it was the current key: {} ({}) signs new tokens now",
            current.kid, current.alg
        );
    }
}

pub fn audit(events: &[AuditEvent], as_json: bool) -> anyhow::Result<()> {
    if as_json {
        return print_json(&views::<_, AuditEventView>(events.to_vec()));
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
