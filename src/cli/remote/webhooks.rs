//! `webhooks` over `--url`: a team's signing secret (show, rotate, revoke the previous) and
//! signing a payload, through the management API. (`webhooks verify` needs no server: it runs
//! here as it does on the host.)

use reqwest::Method;
use serde_json::json;

use super::{Remote, seconds, segment, show};
use crate::cli::args::{WebhookSecretCommand, WebhooksCommand};
use crate::cli::print::text;

pub(super) async fn run(remote: &Remote, command: WebhooksCommand) -> anyhow::Result<()> {
    match command {
        WebhooksCommand::Secret(command) => secret(remote, command).await,
        WebhooksCommand::Sign {
            team,
            id,
            timestamp,
            json,
        } => {
            let payload =
                String::from_utf8(crate::cli::webhooks::read_payload()?).map_err(|_| {
                    anyhow::anyhow!(
                        "over --url the payload must be UTF-8 text (the API takes a string)"
                    )
                })?;
            let body = json!({ "payload": payload, "id": id, "timestamp": timestamp });
            let path = format!("/api/teams/{}/webhooks/sign", segment(&team));
            let headers = remote.call(Method::POST, &path, Some(body)).await?;
            show(&headers, json.json, || {
                for name in ["webhook-id", "webhook-timestamp", "webhook-signature"] {
                    println!("{name}: {}", text(&headers[name]));
                }
            })
        }
        WebhooksCommand::Verify { .. } => {
            anyhow::bail!("`webhooks verify` needs no server: run it without --url")
        }
    }
}

async fn secret(remote: &Remote, command: WebhookSecretCommand) -> anyhow::Result<()> {
    let (view, as_json) = match command {
        WebhookSecretCommand::Show { team, json } => {
            let path = format!("/api/teams/{}/webhook-secret", segment(&team));
            (remote.call(Method::GET, &path, None).await?, json.json)
        }
        WebhookSecretCommand::Rotate {
            team,
            overlap,
            json,
        } => {
            let path = format!("/api/teams/{}/webhook-secret/rotate", segment(&team));
            let body = json!({ "overlap": overlap.map(seconds) });
            (
                remote.call(Method::POST, &path, Some(body)).await?,
                json.json,
            )
        }
        WebhookSecretCommand::RevokePrevious { team } => {
            let path = format!("/api/teams/{}/webhook-secret/previous", segment(&team));
            remote.call(Method::DELETE, &path, None).await?;
            println!(
                "revoked the previous webhook secret of team {team}: from now on deliveries \
                 carry the current secret's signature only"
            );
            return Ok(());
        }
    };
    show(&view, as_json, || {
        println!("Webhook signing secret of team {}:", text(&view["team"]));
        println!();
        println!("  Secret:           {}", text(&view["secret"]));
        println!("  Created:          {}", text(&view["created_at"]));
        if !view["previous_secret"].is_null() {
            println!("  Previous secret:  {}", text(&view["previous_secret"]));
            println!("  Previous until:   {}", text(&view["previous_until"]));
        }
    })
}
