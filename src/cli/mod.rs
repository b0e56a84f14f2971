//! The `tokenmint` command line. Every command but `serve` works on the database directly, so
//! the CLI bootstraps a new install and works while servers run (they notice within
//! `signing.refresh` for signing keys, and at the next request for API keys).

mod print;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use chrono::Utc;
use clap::{Args, Parser, Subcommand};

use crate::app::{App, open_signing, shutdown_signal};
use crate::audit::Actor;
use crate::config::{Config, LogFormat, duration};
use crate::manage::{self, NewKeyRequest};
use crate::oauth::credentials::KeyEnv;
use crate::signing::master_key::MasterKey;
use crate::store::{self, ApiKeyOrder, ApiKeyQuery, AuditQuery};

/// An OAuth 2.0 client-credentials token issuer.
#[derive(Debug, Parser)]
#[command(name = "tokenmint", version, about, propagate_version = true)]
pub struct Cli {
    /// TOML configuration file [default: config/default.toml when present]
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the HTTP server (creates the database, master key and first signing key if missing).
    Serve,
    /// Create or upgrade the database schema, then exit.
    Migrate,
    /// Manage teams.
    #[command(subcommand)]
    Teams(TeamsCommand),
    /// Manage API keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Manage the keys that sign access tokens.
    #[command(subcommand)]
    SigningKeys(SigningKeysCommand),
    /// Manage the master key that seals private signing keys.
    #[command(subcommand)]
    MasterKey(MasterKeyCommand),
    /// Inspect the configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Print the OpenAPI 3.1 document the server serves at /openapi.json.
    Openapi,
    /// Show the audit log, newest first: every change to teams, API keys and signing keys.
    Audit {
        /// Only this team's events [default: every event, signing keys included]
        #[arg(long)]
        team: Option<String>,
        /// At most this many events.
        #[arg(long, default_value_t = 100)]
        limit: u32,
        #[command(flatten)]
        json: JsonFlag,
    },
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Print the effective configuration (file, then environment; passwords masked), or say
    /// which setting is wrong and exit non-zero.
    Check,
}

#[derive(Debug, Subcommand)]
enum MasterKeyCommand {
    /// Re-seal every private signing key under a new master key, in one transaction. With a key
    /// file, the file is replaced; with TOKENMINT_MASTER_KEY, the new value is printed.
    Rotate,
}

#[derive(Debug, Subcommand)]
enum TeamsCommand {
    /// Create a team.
    Create {
        /// Immutable slug: 1-63 characters of a-z, 0-9 and -.
        slug: String,
        /// Display name [default: the slug]
        #[arg(long)]
        name: Option<String>,
    },
    /// List teams.
    List(JsonFlag),
}

#[derive(Debug, Subcommand)]
enum KeysCommand {
    /// Create an API key; its secret is printed this once.
    Create {
        #[arg(long)]
        team: String,
        #[arg(long)]
        label: String,
        /// A scope from the catalog; repeat for more [default: every scope]
        #[arg(long = "scope", value_name = "SCOPE")]
        scopes: Vec<String>,
        /// Lifetime of the key, such as 90d or 12h [default: never expires]
        #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
        expires_in: Option<std::time::Duration>,
        /// A test key: dh_test_… and `env: test` in its tokens.
        #[arg(long)]
        test: bool,
        #[command(flatten)]
        json: JsonFlag,
    },
    /// List a team's keys (never their secrets).
    List {
        #[arg(long)]
        team: String,
        /// `created` (oldest first) or `last-used` (idle keys first: never used, then least
        /// recently used).
        #[arg(long, value_enum, default_value = "created")]
        sort: SortKeys,
        #[command(flatten)]
        json: JsonFlag,
    },
    /// Delete a key: it gets no new token from now on; issued tokens run until they expire.
    Delete { client_id: String },
}

#[derive(Debug, Subcommand)]
enum SigningKeysCommand {
    /// List signing keys and their states.
    List(JsonFlag),
    /// Start a rotation: a new key is published now and signs after signing.publish_ahead.
    Rotate {
        /// Sign with the new key at once (for a suspected leak).
        #[arg(long)]
        now: bool,
        #[command(flatten)]
        json: JsonFlag,
    },
    /// Revoke a key: out of the JWKS at once; tokens it signed stop validating.
    Revoke {
        /// The kid (it may begin with `-`: put `--` before it).
        #[arg(allow_hyphen_values = true)]
        kid: String,
    },
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum SortKeys {
    Created,
    LastUsed,
}

#[derive(Debug, Args)]
struct JsonFlag {
    /// Print one JSON document.
    #[arg(long)]
    json: bool,
}

fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    duration::parse(text)
}

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
        Command::Migrate => {
            store::open(&config.database).await?;
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
        TeamsCommand::Create { slug, name } => {
            let team =
                manage::create_team(store.as_ref(), &Actor::Cli, &slug, name.as_deref(), now)
                    .await?;
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
    match command {
        KeysCommand::Create {
            team,
            label,
            scopes,
            expires_in,
            test,
            json,
        } => {
            let env = if test { KeyEnv::Test } else { KeyEnv::Live };
            let request = NewKeyRequest {
                team,
                label,
                scopes,
                expires_in,
                env,
            };
            let created =
                manage::create_api_key(store.as_ref(), &Actor::Cli, config, request, now).await?;
            print::created_key(&created, json.json)?;
        }
        KeysCommand::List { team, sort, json } => {
            let query = ApiKeyQuery {
                order: match sort {
                    SortKeys::Created => ApiKeyOrder::CreatedAt,
                    SortKeys::LastUsed => ApiKeyOrder::LastUsedAt,
                },
                ..ApiKeyQuery::default()
            };
            let keys = manage::list_api_keys(store.as_ref(), &team, &query).await?;
            print::api_keys(&keys, json.json)?;
        }
        KeysCommand::Delete { client_id } => {
            manage::delete_api_key(store.as_ref(), &Actor::Cli, None, &client_id, now).await?;
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
    let signing = open_signing(config).await?;
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
            let steps = signing.rotate(now, immediate, &Actor::Cli).await?;
            print::rotation(&steps, &signing.list(now).await?, immediate, json.json)?;
        }
        SigningKeysCommand::Revoke { kid } => {
            let steps = signing.revoke(&kid, now, &Actor::Cli).await?;
            print::revocation(&kid, &steps, &signing.list(now).await?);
        }
    }
    Ok(())
}

/// Writes the new key beside the old file first, re-seals in the database, then renames it over
/// the old file: a crash in between leaves the new key in `<file>.new`, never lost.
async fn rotate_master_key(config: &Config) -> anyhow::Result<()> {
    let signing = open_signing(config).await?;
    let new = MasterKey::generate()?;
    let Some(file) = signing.master_file.clone() else {
        let resealed = signing.rotate_master(&new, &Actor::Cli).await?;
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
    let resealed = signing.rotate_master(&new, &Actor::Cli).await?;
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
        .with_writer(std::io::stderr);
    let _ = match config.log.format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.try_init(),
    };
}
