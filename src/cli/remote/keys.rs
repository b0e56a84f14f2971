//! `keys` over `--url`: create, list, update, roll and delete through the management API.

use anyhow::bail;
use reqwest::Method;
use serde_json::{Value, json};

use super::{Remote, seconds, segment, show};
use crate::cli::args::{KeysCommand, SortKeys};
use crate::cli::print::{show_table, text};

pub(super) async fn run(remote: &Remote, command: KeysCommand) -> anyhow::Result<()> {
    match command {
        KeysCommand::Create {
            team,
            label,
            scopes,
            expires_in,
            test,
            token_ttl,
            rate,
            json,
        } => {
            let body = json!({
                "label": label,
                "scopes": scopes,
                "expires_in": expires_in.map(seconds),
                "test": test,
                "token_ttl": token_ttl.map(seconds),
                "token_requests_per_second": rate,
            });
            let path = format!("/api/teams/{}/keys", segment(&team));
            let key = remote.call(Method::POST, &path, Some(body)).await?;
            show(&key, json.json, || {
                println!(
                    "Created API key {} for team {}.",
                    key["label"],
                    text(&key["team"])
                );
                println!();
                println!("  Client ID:      {}", text(&key["client_id"]));
                println!("  Client secret:  {}", text(&key["client_secret"]));
                println!();
                println!("Copy the secret now: it is shown only this once.");
            })
        }
        KeysCommand::List {
            team,
            sort,
            older_than,
            expiring_within,
            json,
        } => {
            let mut path = format!("/api/teams/{}/keys?sort=", segment(&team));
            path.push_str(match sort {
                SortKeys::Created => "created_at",
                SortKeys::LastUsed => "last_used_at",
            });
            if let Some(age) = older_than {
                path.push_str(&format!("&older_than={}", seconds(age)));
            }
            if let Some(within) = expiring_within {
                path.push_str(&format!("&expiring_within={}", seconds(within)));
            }
            let keys = remote.all(&path).await?;
            show_table(
                &keys,
                json.json,
                &[
                    ("CLIENT ID", "client_id"),
                    ("LABEL", "label"),
                    ("CREATED", "created_at"),
                    ("LAST USED", "last_used_at"),
                    ("EXPIRES", "expires_at"),
                ],
            )
        }
        KeysCommand::Delete {
            client_id,
            team,
            json,
        } => {
            let path = remote.key_path(team, &client_id)?;
            remote.call(Method::DELETE, &path, None).await?;
            let done = json!({ "client_id": client_id, "deleted": true });
            show(&done, json.json, || {
                println!(
                    "deleted {client_id}: it gets no new token from now on; tokens issued \
                     before stay valid until they expire"
                );
            })
        }
        KeysCommand::Roll {
            client_id,
            team,
            overlap,
            finish,
            json,
        } => {
            let key_path = remote.key_path(team, &client_id)?;
            if finish {
                let path = format!("{key_path}/previous-secret");
                remote.call(Method::DELETE, &path, None).await?;
                println!(
                    "finished the roll of {client_id}: its previous secret gets no new token \
                     from now on"
                );
                return Ok(());
            }
            let body = json!({ "overlap": overlap.map(seconds) });
            let path = format!("{key_path}/roll");
            let rolled = remote.call(Method::POST, &path, Some(body)).await?;
            show(&rolled, json.json, || {
                println!("Rolled the secret of {client_id}.");
                println!();
                println!("  New client secret:  {}", text(&rolled["client_secret"]));
                println!(
                    "  Old secret works until {}",
                    text(&rolled["previous_secret_expires_at"])
                );
                println!();
                println!("Copy the secret now: it is shown only this once.");
            })
        }
        KeysCommand::Update {
            client_id,
            team,
            label,
            token_ttl,
            rate,
            json,
        } => {
            let mut body = serde_json::Map::new();
            if let Some(label) = label {
                body.insert("label".into(), json!(label));
            }
            if let Some(ttl) = token_ttl {
                body.insert("token_ttl".into(), json!(ttl.own().map(|d| d.as_secs())));
            }
            if let Some(rate) = rate {
                body.insert("token_requests_per_second".into(), json!(rate.own()));
            }
            let path = remote.key_path(team, &client_id)?;
            let key = remote
                .call(Method::PATCH, &path, Some(Value::Object(body)))
                .await?;
            show(&key, json.json, || println!("updated {client_id}"))
        }
        KeysCommand::RevokeLeaked { .. } => bail!(
            "`keys revoke-leaked` works on the database host only (a scanner reports leaks over \
             HTTP at /api/secret-scanning/reports)"
        ),
    }
}
