//! The `tokenmint` command line. Every command but `serve` works on the database directly, so
//! the CLI bootstraps a new install and works while servers run (they notice within
//! `signing.refresh` for signing keys, and at the next request for API keys). With `--url`, the
//! management commands go through a running server's API instead (`remote`).

mod args;
mod leaked;
mod operations;
mod print;
mod remote;
mod webhooks;

pub use args::Cli;
use args::{
    Command, ConfigCommand, KeysCommand, MasterKeyCommand, Setting, SigningKeysCommand, SortKeys,
    TeamsCommand,
};

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use chrono::Utc;
use clap::Parser;

use crate::app::{App, open_signing_service, shutdown_signal};
use crate::audit::Actor;
use crate::config::{Config, LogFormat};
use crate::manage::{self, NewKeyRequest};
use crate::oauth::credentials::KeyEnv;
use crate::signing::master_key::MasterKey;
use crate::store::{self, ApiKeyOrder, ApiKeyQuery, AuditQuery};

/// Parses arguments, runs the command, and turns any error into a message and exit code 1.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Completions { shell } => return operations::completions(shell),
        Command::Man => return operations::man_page(),
        _ => {}
    }
    let verify = matches!(
        cli.command,
        Command::Webhooks(args::WebhooksCommand::Verify { .. })
    );
    if let Some(url) = cli.url.filter(|_| !verify) {
        return remote::run(url, cli.command).await;
    }
    let loaded = Config::load(cli.config.as_deref())?;
    let config = loaded.config;
    let serving = matches!(cli.command, Command::Serve);
    init_tracing(&config, serving);
    for name in &loaded.ignored_env {
        tracing::warn!(variable = %name, "ignored: no setting has this name (TOKENMINT_<SECTION>__<KEY>)");
    }
    let now = store::now();
    match cli.command {
        Command::Serve => {
            let app = App::build(config).await?;
            app.run(shutdown_signal()).await
        }
        Command::Migrate(flag) => {
            store::open(&config.database).await?;
            if flag.json {
                return print::print_json(&serde_json::json!({ "schema": "up_to_date" }));
            }
            println!("database schema is up to date");
            Ok(())
        }
        Command::Teams(command) => teams(&config, command, now).await,
        Command::Keys(command) => keys(&config, command, now).await,
        Command::SigningKeys(command) => signing_keys(&config, command, now).await,
        Command::MasterKey(MasterKeyCommand::Rotate) => rotate_master_key(&config).await,
        Command::Openapi => {
            println!(
                "{}",
                String::from_utf8_lossy(&crate::http::openapi_document(&config))
            );
            Ok(())
        }
        Command::Audit { team, limit, json } => {
            let store = store::open(&config.database).await?;
            let query = AuditQuery {
                team,
                before_id: None,
                limit: Some(limit),
            };
            print::audit(
                &manage::list_audit(store.as_ref(), &query).await?,
                json.json,
            )
        }
        Command::Webhooks(command) => webhooks::run(&config, command, now).await,
        Command::Healthcheck { timeout } => operations::healthcheck(&config, timeout).await,
        Command::Backup { file } => operations::backup(&config, &file).await,
        Command::Completions { .. } | Command::Man => Ok(()),
        Command::Config(ConfigCommand::Check) => {
            print!("{}", config.to_masked_toml()?);
            eprintln!("configuration is valid");
            Ok(())
        }
    }
}

async fn teams(
    config: &Config,
    command: TeamsCommand,
    now: chrono::DateTime<Utc>,
) -> anyhow::Result<()> {
    let store = store::open(&config.database).await?;
    match command {
        TeamsCommand::Create { slug, name, json } => {
            let team =
                manage::create_team(store.as_ref(), &Actor::Cli, &slug, name.as_deref(), now)
                    .await?;
            if json.json {
                return print::print_json(&manage::TeamView::from(team));
            }
            println!("created team {} ({})", team.slug, team.name);
        }
        TeamsCommand::List(flag) => {
            let teams = manage::list_teams(store.as_ref(), None, None).await?;
            print::teams(&teams, flag.json)?;
        }
    }
    Ok(())
}

async fn keys(
    config: &Config,
    command: KeysCommand,
    now: chrono::DateTime<Utc>,
) -> anyhow::Result<()> {
    let store = store::open(&config.database).await?;
    if let Some((team, client_id)) = command.named_key() {
        manage::get_api_key(store.as_ref(), team, client_id).await?;
    }
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
            let env = if test { KeyEnv::Test } else { KeyEnv::Live };
            let request = NewKeyRequest {
                team,
                label,
                scopes,
                expires_in,
                env,
                token_ttl,
                token_requests_per_second: rate,
            };
            let created =
                manage::create_api_key(store.as_ref(), &Actor::Cli, config, request, now).await?;
            print::created_key(&created, json.json)?;
        }
        KeysCommand::List {
            team,
            sort,
            older_than,
            expiring_within,
            json,
        } => {
            let (created_before, expiring_before) =
                manage::age_filters(now, older_than, expiring_within)?;
            let query = ApiKeyQuery {
                order: match sort {
                    SortKeys::Created => ApiKeyOrder::CreatedAt,
                    SortKeys::LastUsed => ApiKeyOrder::LastUsedAt,
                },
                created_before,
                expiring_before,
                ..ApiKeyQuery::default()
            };
            let keys = manage::list_api_keys(store.as_ref(), &team, &query).await?;
            print::api_keys(&keys, now, json.json)?;
        }
        KeysCommand::Roll {
            client_id,
            finish: true,
            ..
        } => {
            manage::finish_roll(
                store.as_ref(),
                &Actor::Cli,
                manage::KeyAuthority::Operator,
                &client_id,
                now,
            )
            .await?;
            println!(
                "finished the roll of {client_id}: its previous secret gets no new token from \
                 now on"
            );
        }
        KeysCommand::Roll {
            client_id,
            overlap,
            json,
            ..
        } => {
            let rolled = manage::roll_secret(
                store.as_ref(),
                &Actor::Cli,
                manage::KeyAuthority::Operator,
                config,
                &client_id,
                overlap,
                now,
            )
            .await?;
            print::rolled_key(rolled, now, json.json)?;
        }
        KeysCommand::Update {
            client_id,
            label,
            token_ttl,
            rate,
            json,
            ..
        } => {
            let update = manage::KeyUpdate {
                label,
                token_ttl: token_ttl.map(Setting::own),
                token_requests_per_second: rate.map(Setting::own),
            };
            let key = manage::update_api_key(
                store.as_ref(),
                &Actor::Cli,
                manage::KeyAuthority::Operator,
                config,
                &client_id,
                update,
                now,
            )
            .await?;
            print::updated_key(&key, now, json.json)?;
        }
        KeysCommand::RevokeLeaked { url, json } => {
            leaked::revoke_from_stdin(store.as_ref(), url.as_deref(), now, json.json).await?;
        }
        KeysCommand::Delete {
            client_id, json, ..
        } => {
            manage::delete_api_key(
                store.as_ref(),
                &Actor::Cli,
                manage::KeyAuthority::Operator,
                &client_id,
                now,
            )
            .await?;
            if json.json {
                return print::print_json(
                    &serde_json::json!({ "client_id": client_id, "deleted": true }),
                );
            }
            println!(
                "deleted {client_id}: it gets no new token from now on; tokens issued before \
                 stay valid until they expire"
            );
        }
    }
    Ok(())
}

async fn signing_keys(
    config: &Config,
    command: SigningKeysCommand,
    now: chrono::DateTime<Utc>,
) -> anyhow::Result<()> {
    let signing = open_signing_service(config).await?;
    match command {
        SigningKeysCommand::List(flag) => {
            signing
                .maintain(now)
                .await
                .context("preparing signing keys")?;
            print::signing_keys(&signing.list(now).await?, flag.json)?;
        }
        SigningKeysCommand::Rotate {
            now: immediate,
            json,
        } => {
            let rotation = signing.rotate(now, immediate, &Actor::Cli).await?;
            print::rotation(&rotation, immediate, json.json)?;
        }
        SigningKeysCommand::Revoke { kid, json } => {
            let revocation = signing.revoke(&kid, now, &Actor::Cli).await?;
            if json.json {
                return print::print_json(&revocation);
            }
            print::revocation(&kid, &revocation);
        }
    }
    Ok(())
}

/// Writes the new key beside the old file first, re-seals in the database, then renames it over
/// the old file: a crash in between leaves the new key in `<file>.new`, never lost.
async fn rotate_master_key(config: &Config) -> anyhow::Result<()> {
    let signing = open_signing_service(config).await?;
    let new = MasterKey::generate()?;
    let Some(file) = signing.master_file.clone() else {
        let resealed = signing
            .rotate_master(&new, &Actor::Cli, store::now())
            .await?;
        println!("{}", new.to_base64().as_str());
        eprintln!(
            "master key rotated: {resealed} signing keys re-sealed. The new key is printed above: \
             set TOKENMINT_MASTER_KEY to it on every node and restart them; the old value opens \
             nothing any more."
        );
        return Ok(());
    };
    let mut pending = file.clone().into_os_string();
    pending.push(".new");
    let pending = PathBuf::from(pending);
    new.write_new_file(&pending).with_context(|| {
        format!(
            "{} exists: a rotation may have been interrupted; see keys/README.md",
            pending.display()
        )
    })?;
    let resealed = signing
        .rotate_master(&new, &Actor::Cli, store::now())
        .await?;
    std::fs::rename(&pending, &file).with_context(|| {
        format!(
            "re-sealed, but could not move {} over {}",
            pending.display(),
            file.display()
        )
    })?;
    println!(
        "master key rotated: {resealed} signing keys re-sealed under the new key in {}; running \
         servers reading that file pick it up within signing.refresh. The old key opens nothing.",
        file.display()
    );
    Ok(())
}

/// Colour codes only for a person at a terminal: never into a file, a pipe or journald, and
/// never when `NO_COLOR` is set to anything (no-color.org).
fn colour_on_stderr() -> bool {
    use std::io::IsTerminal;
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    std::io::stderr().is_terminal() && !no_color
}

/// Logs go to stderr: human text or JSON for `serve`; warnings only for one-shot commands,
/// whose results are printed on stdout.
fn init_tracing(config: &Config, serving: bool) {
    use tracing_subscriber::EnvFilter;
    let default = if serving {
        config.log.level.as_str()
    } else {
        "warn"
    };
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(default))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(colour_on_stderr())
        .with_writer(std::io::stderr);
    let _ = match config.log.format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.try_init(),
    };
}
