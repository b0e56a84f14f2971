//! `tokenmint webhooks …`: a team's webhook signing secret, signing a payload as the platform
//! does, and verifying a delivery as a receiver does.

use std::io::Read;

use anyhow::{Context, bail};
use chrono::{DateTime, Utc};

use super::args::{WebhookSecretCommand, WebhooksCommand};
use super::print::print_json;
use crate::app::open_signing_service;
use crate::audit::Actor;
use crate::config::Config;
use crate::webhooks::secret::NotASecret;
use crate::webhooks::{SignedHeaders, WebhookSecret, WebhookSecretView, WebhookService, verify};

/// The largest payload read from stdin (a webhook is far smaller).
const MAX_PAYLOAD_BYTES: u64 = 16 * 1024 * 1024;

pub(super) async fn run(
    config: &Config,
    command: WebhooksCommand,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    match command {
        WebhooksCommand::Secret(command) => secret(config, command, now).await,
        WebhooksCommand::Sign {
            team,
            id,
            timestamp,
            json,
        } => {
            let payload = read_payload()?;
            let service = open(config).await?;
            let headers = service
                .sign(&team, id, timestamp, &payload, &Actor::Cli, now)
                .await?;
            print_headers(&headers, json.json)
        }
        WebhooksCommand::Verify {
            secret,
            tolerance,
            id,
            timestamp,
            signature,
        } => {
            let secret =
                WebhookSecret::parse(&secret).map_err(|e: NotASecret| anyhow::anyhow!(e))?;
            let payload = read_payload()?;
            verify(
                &secret,
                &id,
                &timestamp,
                &signature,
                &payload,
                now.timestamp(),
                tolerance,
            )
            .context("the delivery does not verify")?;
            println!("verified: the payload was signed with this secret at {timestamp}");
            Ok(())
        }
    }
}

async fn secret(
    config: &Config,
    command: WebhookSecretCommand,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    let service = open(config).await?;
    let (state, as_json) = match command {
        WebhookSecretCommand::Show { team, json } => {
            (service.reveal(&team, &Actor::Cli, now).await?, json.json)
        }
        WebhookSecretCommand::Rotate {
            team,
            overlap,
            json,
        } => (
            service.rotate(&team, overlap, &Actor::Cli, now).await?,
            json.json,
        ),
        WebhookSecretCommand::RevokePrevious { team } => {
            service.revoke_previous(&team, &Actor::Cli, now).await?;
            println!(
                "revoked the previous webhook secret of team {team}: from now on deliveries \
                 carry the current secret's signature only (other servers follow within \
                 signing.refresh)"
            );
            return Ok(());
        }
    };
    let view = WebhookSecretView::at(&state, now);
    if as_json {
        return print_json(&view);
    }
    println!("Webhook signing secret of team {}:", view.team);
    println!();
    println!("  Secret:           {}", view.secret);
    println!("  Created:          {}", view.created_at.to_rfc3339());
    if let (Some(previous), Some(until)) = (&view.previous_secret, view.previous_until) {
        println!("  Previous secret:  {previous}");
        println!("  Previous until:   {}", until.to_rfc3339());
        println!();
        println!("Deliveries carry both signatures until then: update your receiver to the new");
        println!(
            "secret, then `tokenmint webhooks secret revoke-previous --team {}`.",
            view.team
        );
    }
    Ok(())
}

async fn open(config: &Config) -> anyhow::Result<WebhookService> {
    let signing = open_signing_service(config).await?;
    Ok(WebhookService::new(
        signing.store.clone(),
        signing,
        config.webhooks.overlap,
        config.signing.refresh,
    ))
}

pub(super) fn read_payload() -> anyhow::Result<Vec<u8>> {
    let mut payload = Vec::new();
    std::io::stdin()
        .take(MAX_PAYLOAD_BYTES + 1)
        .read_to_end(&mut payload)
        .context("reading the payload from stdin")?;
    if payload.len() as u64 > MAX_PAYLOAD_BYTES {
        bail!("the payload on stdin is larger than {MAX_PAYLOAD_BYTES} bytes");
    }
    Ok(payload)
}

fn print_headers(headers: &SignedHeaders, as_json: bool) -> anyhow::Result<()> {
    if as_json {
        return print_json(headers);
    }
    println!("webhook-id: {}", headers.id);
    println!("webhook-timestamp: {}", headers.timestamp);
    println!("webhook-signature: {}", headers.signature);
    Ok(())
}
