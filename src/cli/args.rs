//! The command line's arguments, as clap reads them: the commands DESIGN.md names.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::config::duration;

/// An OAuth 2.0 client-credentials token issuer.
#[derive(Debug, Parser)]
#[command(name = "tokenmint", version, about, propagate_version = true)]
pub struct Cli {
    /// TOML configuration file [default: config/default.toml when present]
    #[arg(long, global = true, value_name = "FILE")]
    pub(super) config: Option<PathBuf>,
    /// Work through a running server's management API instead of the database, such as
    /// `https://auth.example.com` (teams, keys except revoke-leaked, signing-keys, webhooks,
    /// audit).
    /// Credentials: TOKENMINT_CLIENT_ID and TOKENMINT_CLIENT_SECRET of a key holding a
    /// management scope, or TOKENMINT_TOKEN.
    #[arg(long, global = true, env = "TOKENMINT_URL", value_name = "URL")]
    pub(super) url: Option<url::Url>,
    #[command(subcommand)]
    pub(super) command: Command,
}

#[derive(Debug, Subcommand)]
pub(super) enum Command {
    /// Run the HTTP server (creates the database, master key and first signing key if missing).
    Serve,
    /// Create or upgrade the database schema, then exit.
    Migrate(JsonFlag),
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
    /// Webhook signing secrets (Standard Webhooks v1): show, rotate, sign, verify.
    #[command(subcommand)]
    Webhooks(WebhooksCommand),
    /// Inspect the configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Print the OpenAPI 3.1 document the server serves at /openapi.json.
    Openapi,
    /// Ask the server on server.bind whether it is ready (GET /readyz): exit 0 when it answers
    /// 200, 1 otherwise. For container health checks; needs no curl.
    Healthcheck {
        /// How long to wait for the answer.
        #[arg(long, value_name = "DURATION", default_value = "3s", value_parser = parse_duration)]
        timeout: std::time::Duration,
    },
    /// Copy the SQLite database to a new FILE, consistently, while servers keep running. Back up
    /// the master key apart. With PostgreSQL, use pg_dump.
    Backup {
        /// Where to write the copy; it must not exist.
        file: std::path::PathBuf,
    },
    /// Print a shell completion script, e.g. `tokenmint completions bash >
    /// /etc/bash_completion.d/tokenmint`. Reads no configuration.
    Completions { shell: clap_complete::Shell },
    /// Print the man page (roff), e.g. `tokenmint man > /usr/local/share/man/man1/tokenmint.1`.
    /// Reads no configuration.
    Man,
    /// Show the audit log, newest first: every change to teams, API keys and signing keys.
    Audit {
        /// Only this team's events [default: every event, signing keys included]
        #[arg(long)]
        team: Option<String>,
        /// At most this many events (at least 1).
        #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..))]
        limit: u32,
        #[command(flatten)]
        json: JsonFlag,
    },
}

#[derive(Debug, Subcommand)]
pub(super) enum ConfigCommand {
    /// Print the effective configuration (file, then environment; passwords masked), or say
    /// which setting is wrong and exit non-zero.
    Check,
}

#[derive(Debug, Subcommand)]
pub(super) enum MasterKeyCommand {
    /// Re-seal every private signing key under a new master key, in one transaction. With a key
    /// file, the file is replaced; with TOKENMINT_MASTER_KEY, the new value is printed.
    Rotate,
}

#[derive(Debug, Subcommand)]
pub(super) enum TeamsCommand {
    /// Create a team.
    Create {
        /// Immutable slug: 1-63 characters of a-z, 0-9 and -.
        slug: String,
        /// Display name [default: the slug]
        #[arg(long)]
        name: Option<String>,
        #[command(flatten)]
        json: JsonFlag,
    },
    /// List teams.
    List(JsonFlag),
}

#[derive(Debug, Subcommand)]
pub(super) enum KeysCommand {
    /// Create an API key; its secret is printed this once.
    Create {
        #[arg(long)]
        team: String,
        #[arg(long)]
        label: String,
        /// A scope from the catalog; repeat for more [default: every scope]
        #[arg(long = "scope", value_name = "SCOPE")]
        scopes: Vec<String>,
        /// Lifetime of the key, such as 90d or 12h, at most 3650d (10 years) [default: never expires]
        #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
        expires_in: Option<std::time::Duration>,
        /// A test key: dh_test_… and `env: test` in its tokens.
        #[arg(long)]
        test: bool,
        /// The longest the key's tokens live, such as 1h, at least 1m and at most token.ttl
        /// [default: token.ttl]
        #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
        token_ttl: Option<std::time::Duration>,
        /// The key's token requests per second [default: rate_limit.token_requests_per_second]
        #[arg(long, value_name = "N")]
        rate: Option<u32>,
        #[command(flatten)]
        json: JsonFlag,
    },
    /// Change a key's label, token lifetime or rate; from its next token request, on every
    /// node. `default` returns a limit to the issuer's setting.
    Update {
        client_id: String,
        /// The key's team: the key is changed only if it belongs to it [with --url, default:
        /// the team of the credentials' key]
        #[arg(long)]
        team: Option<String>,
        #[arg(long)]
        label: Option<String>,
        /// The longest the key's tokens live, such as 1h, or `default`
        #[arg(long, value_name = "DURATION|default", value_parser = parse_ttl_setting)]
        token_ttl: Option<Setting<std::time::Duration>>,
        /// The key's token requests per second, or `default`
        #[arg(long, value_name = "N|default", value_parser = parse_rate_setting)]
        rate: Option<Setting<u32>>,
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
        /// Only keys created at least this long ago, such as 90d (rotation candidates)
        #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
        older_than: Option<std::time::Duration>,
        /// Only keys that expire within this long, such as 7d (and keys already expired)
        #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
        expiring_within: Option<std::time::Duration>,
        #[command(flatten)]
        json: JsonFlag,
    },
    /// Delete a key: it gets no new token from now on; issued tokens run until they expire.
    Delete {
        client_id: String,
        /// The key's team: the key is changed only if it belongs to it [with --url, default:
        /// the team of the credentials' key]
        #[arg(long)]
        team: Option<String>,
        #[command(flatten)]
        json: JsonFlag,
    },
    /// Give a key a new secret on the same Client ID, printed this once; the old secret keeps
    /// working until the overlap ends. With --finish, end the overlap now.
    Roll {
        client_id: String,
        /// The key's team: the key is changed only if it belongs to it [with --url, default:
        /// the team of the credentials' key]
        #[arg(long)]
        team: Option<String>,
        /// How long the old secret keeps working, such as 24h, at most 30d; 0s ends it at once
        /// [default: 24h]
        #[arg(long, value_name = "DURATION", value_parser = parse_duration, conflicts_with = "finish")]
        overlap: Option<std::time::Duration>,
        /// End the overlap now: from when this returns, only the new secret gets a token.
        #[arg(long)]
        finish: bool,
        #[command(flatten)]
        json: JsonFlag,
    },
    /// Revoke leaked secrets read from stdin, one per line (an in-house scanner's findings):
    /// a key's current secret deletes the key, a rolled key's previous secret stops working.
    /// Lines that are no key's secret are reported as such; no secret is printed.
    RevokeLeaked {
        /// Where the secrets were found, recorded in the audit log.
        #[arg(long, value_name = "URL")]
        url: Option<String>,
        #[command(flatten)]
        json: JsonFlag,
    },
}

impl KeysCommand {
    /// The team and key a command that changes one key names with `--team`.
    pub(super) fn named_key(&self) -> Option<(&str, &str)> {
        match self {
            Self::Delete {
                client_id, team, ..
            }
            | Self::Roll {
                client_id, team, ..
            }
            | Self::Update {
                client_id, team, ..
            } => team.as_deref().map(|team| (team, client_id.as_str())),
            _ => None,
        }
    }
}

#[derive(Debug, Subcommand)]
pub(super) enum SigningKeysCommand {
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
        #[command(flatten)]
        json: JsonFlag,
    },
}

#[derive(Debug, Subcommand)]
pub(super) enum WebhooksCommand {
    /// A team's webhook signing secret.
    #[command(subcommand)]
    Secret(WebhookSecretCommand),
    /// Sign the payload on stdin with the team's secrets and print the three headers to send.
    Sign {
        #[arg(long)]
        team: String,
        /// The delivery's webhook-id [default: a new msg_…]
        #[arg(long)]
        id: Option<String>,
        /// The delivery's webhook-timestamp, Unix seconds [default: now]
        #[arg(long, allow_hyphen_values = true)]
        timestamp: Option<i64>,
        #[command(flatten)]
        json: JsonFlag,
    },
    /// Check a delivery as a receiver would: the payload on stdin, its headers as options.
    /// Exits 0 when it verifies, 1 when it does not (saying why).
    Verify {
        /// The receiver's secret (whsec_…); or set TOKENMINT_WEBHOOK_SECRET.
        #[arg(long, env = "TOKENMINT_WEBHOOK_SECRET", hide_env_values = true)]
        secret: String,
        /// How far webhook-timestamp may be from now, either way.
        #[arg(long, default_value = "5m", value_parser = parse_duration)]
        tolerance: std::time::Duration,
        /// The webhook-id header.
        #[arg(long)]
        id: String,
        /// The webhook-timestamp header.
        #[arg(long, allow_hyphen_values = true)]
        timestamp: String,
        /// The webhook-signature header (one or more `v1,…` separated by spaces).
        #[arg(long)]
        signature: String,
    },
}

#[derive(Debug, Subcommand)]
pub(super) enum WebhookSecretCommand {
    /// Print the team's secret (made on first use), and the previous one during an overlap.
    Show {
        #[arg(long)]
        team: String,
        #[command(flatten)]
        json: JsonFlag,
    },
    /// A new secret signs at once; the old one signs beside it until the overlap ends.
    Rotate {
        #[arg(long)]
        team: String,
        /// How long the old secret keeps signing, at most 30d; 0s ends it at once
        /// [default: webhooks.overlap]
        #[arg(long, value_parser = parse_duration)]
        overlap: Option<std::time::Duration>,
        #[command(flatten)]
        json: JsonFlag,
    },
    /// End the previous secret's overlap now.
    RevokePrevious {
        #[arg(long)]
        team: String,
    },
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub(super) enum SortKeys {
    Created,
    LastUsed,
}

#[derive(Debug, Args)]
pub(super) struct JsonFlag {
    /// Print one JSON document.
    #[arg(long)]
    pub(super) json: bool,
}

pub(super) fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    duration::parse(text)
}

/// A key's limit as `keys update` sets it: its own value, or back to the issuer's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Setting<T> {
    IssuerDefault,
    Own(T),
}

impl<T> Setting<T> {
    /// `None` for the issuer's setting, as the update takes it.
    pub(super) fn own(self) -> Option<T> {
        match self {
            Self::IssuerDefault => None,
            Self::Own(value) => Some(value),
        }
    }
}

fn parse_ttl_setting(text: &str) -> Result<Setting<std::time::Duration>, String> {
    match text {
        "default" => Ok(Setting::IssuerDefault),
        _ => duration::parse(text).map(Setting::Own),
    }
}

fn parse_rate_setting(text: &str) -> Result<Setting<u32>, String> {
    match text {
        "default" => Ok(Setting::IssuerDefault),
        _ => text.parse().map(Setting::Own).map_err(|_| {
            format!("{text:?} is not a whole number of requests per second (or `default`)")
        }),
    }
}
