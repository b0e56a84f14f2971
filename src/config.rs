//! Configuration: built-in defaults, then a TOML file, then environment variables.
//!
//! Every setting has a default (the same ones `config/default.toml` spells out), so tokenmint runs
//! with no file at all. An unknown key, a malformed duration or URL, or settings that contradict
//! each other are refused at start with a message naming the setting.

mod defaults;
pub mod duration;
pub mod networks;
mod validate;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use figment::Figment;
use figment::providers::{Format, Serialized, Toml};
use figment::value::Value;
use serde::{Deserialize, Serialize};

use crate::domain::Algorithm;

/// Where `--config` points when it is not given.
pub const DEFAULT_CONFIG_PATH: &str = "config/default.toml";

/// Environment variables that override one setting each without the `SECTION__KEY` form.
const SHORT_ENV: [(&str, &str); 3] = [
    ("TOKENMINT_DATABASE_URL", "database.url"),
    ("TOKENMINT_BIND", "server.bind"),
    ("TOKENMINT_ISSUER", "server.issuer"),
];

/// Environment variables tokenmint reads that are not settings of this file.
const OTHER_ENV: [&str; 7] = [
    "TOKENMINT_MASTER_KEY",
    "TOKENMINT_TEST_DATABASE_URL",
    "TOKENMINT_WEBHOOK_SECRET",
    "TOKENMINT_URL",
    "TOKENMINT_CLIENT_ID",
    "TOKENMINT_CLIENT_SECRET",
    "TOKENMINT_TOKEN",
];

/// The whole configuration, one field per TOML section.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub server: ServerConfig,
    pub database: DatabaseConfig,
    pub token: TokenConfig,
    pub keys: KeysConfig,
    pub signing: SigningConfig,
    pub rate_limit: RateLimitConfig,
    pub log: LogConfig,
    pub metrics: MetricsConfig,
    pub webhooks: WebhooksConfig,
    pub console: ConsoleConfig,
    pub secret_scanning: SecretScanningConfig,
}

/// `[server]`: where to listen and who we are.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    pub bind: SocketAddr,
    /// The `iss` claim and the base of every URL in the discovery document (RFC 8414 §2).
    pub issuer: String,
    /// Most open connections (idle keep-alive ones included); more wait until one closes.
    pub max_connections: usize,
    /// Most open connections from one peer (an IPv4 address, an IPv6 /64); past it a new
    /// connection is closed at once. Peers in `rate_limit.trusted_proxies` are exempt; 0: no cap.
    pub max_connections_per_address: usize,
    /// How long a client has to send a request head (HTTP/1.1), and to send its first byte.
    #[serde(with = "duration")]
    pub header_read_timeout: Duration,
    /// How long a connection may stay open with no request in progress and no bytes moving.
    #[serde(with = "duration")]
    pub idle_timeout: Duration,
}

/// `[database]`: the store, chosen by the URL scheme.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseConfig {
    /// `sqlite://path` (created if missing) or `postgres://user@host/db`.
    pub url: String,
    /// The most connections the pool opens.
    pub max_connections: u32,
    /// How long a request waits for the database (a connection, then its answer) before 503.
    #[serde(with = "duration")]
    pub acquire_timeout: Duration,
}

/// `[token]`: what the access tokens say.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TokenConfig {
    #[serde(with = "duration")]
    pub ttl: Duration,
    /// The `aud` of a token when the request names none.
    pub audience: String,
    /// Further audiences a client may ask for with `resource` (RFC 8707) or `audience`.
    pub audiences: Vec<String>,
}

/// `[keys]`: API keys.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KeysConfig {
    /// Client IDs read `{prefix}_live_…`, secrets `{prefix}_secret_…`.
    pub prefix: String,
    /// The scope catalog: every scope a key may hold.
    pub scopes: Vec<String>,
    /// Keys at least this old are due for rotation: counted in
    /// `tokenmint_api_keys_rotation_due` (and flagged in the console at 90 days).
    #[serde(with = "duration")]
    pub rotation_age: Duration,
    /// Keys expiring within this long are counted in `tokenmint_api_keys_expiring_soon`.
    #[serde(with = "duration")]
    pub expiry_warning: Duration,
}

/// `[signing]`: signing keys and their rotation.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SigningConfig {
    pub algorithm: Algorithm,
    /// Automatic rotation period; zero turns it off.
    #[serde(with = "duration")]
    pub rotation_interval: Duration,
    /// How long a new key is published in the JWKS before it signs.
    #[serde(with = "duration")]
    pub publish_ahead: Duration,
    /// `Cache-Control: max-age` of the JWKS; never above `publish_ahead`.
    #[serde(with = "duration")]
    pub jwks_max_age: Duration,
    /// How soon a server sees signing-key changes made elsewhere.
    #[serde(with = "duration")]
    pub refresh: Duration,
    /// How long a retired key stays published after its last token can have expired, for clock
    /// skew between tokenmint and resource servers.
    #[serde(with = "duration")]
    pub retire_leeway: Duration,
    /// The master key's file, used when `TOKENMINT_MASTER_KEY` is not set.
    pub master_key_file: PathBuf,
}

/// `[webhooks]`: the teams' webhook signing secrets.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebhooksConfig {
    /// How long a rotated-away secret keeps signing beside the new one, when the rotation names
    /// no overlap; zero ends it at once.
    #[serde(with = "duration")]
    pub overlap: Duration,
}

/// `[rate_limit]`: limits on the token endpoint.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RateLimitConfig {
    pub enabled: bool,
    pub token_requests_per_second: u32,
    pub failed_auth_per_minute: u32,
    /// Proxies whose `X-Forwarded-For` is believed: CIDRs or single addresses.
    #[serde(with = "networks")]
    pub trusted_proxies: Vec<ipnet::IpNet>,
}

/// `[log]`: how log lines look.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    pub format: LogFormat,
    /// A tracing filter such as `info` or `tokenmint=debug`; `RUST_LOG` overrides it.
    pub level: String,
}

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

/// `[metrics]`: the Prometheus endpoint.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsConfig {
    pub enabled: bool,
    /// Empty: `/metrics` on the main listener.
    pub bind: String,
}

impl MetricsConfig {
    /// Whether `/metrics` is served on the main listener (enabled, and no listener of its own).
    pub fn on_main_listener(&self) -> bool {
        self.enabled && self.bind.is_empty()
    }
}

/// `[console]`: the browser console at `/console` (Settings → API Keys).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConsoleConfig {
    /// Serve the console at `/console`; off, `/console` answers 404 like any unknown route.
    pub enabled: bool,
}

/// `[secret_scanning]`: leaked-secret reports from secret scanners.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SecretScanningConfig {
    /// The scanners' public keys, as GitHub publishes them; empty: reports are off (404).
    pub public_keys_file: PathBuf,
}

/// A configuration that cannot be used, with the setting at fault named in the message.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(String);

impl ConfigError {
    fn setting(name: &str, problem: impl std::fmt::Display) -> Self {
        Self(format!("invalid setting `{name}`: {problem}"))
    }
}

/// A loaded configuration and the environment variables that looked like settings but were not.
#[derive(Debug)]
pub struct Loaded {
    pub config: Config,
    /// `TOKENMINT_*` variables that match no setting (likely misspelled).
    pub ignored_env: Vec<String>,
}

impl Config {
    /// Loads defaults, then the TOML file, then the environment, and validates the result.
    ///
    /// `path` is the file named by `--config`; it must exist. Without it the default path is read
    /// when present, and the built-in defaults alone are used when it is not.
    pub fn load(path: Option<&Path>) -> Result<Loaded, ConfigError> {
        let vars: Vec<(String, String)> = std::env::vars().collect();
        Self::load_from(path, &vars)
    }

    /// [`Config::load`] with the environment passed in, for tests.
    pub fn load_from(
        path: Option<&Path>,
        vars: &[(String, String)],
    ) -> Result<Loaded, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        match path {
            Some(path) if !path.is_file() => {
                return Err(ConfigError(format!(
                    "config file {} does not exist",
                    path.display()
                )));
            }
            Some(path) => figment = figment.merge(Toml::file_exact(path)),
            None if Path::new(DEFAULT_CONFIG_PATH).is_file() => {
                figment = figment.merge(Toml::file_exact(DEFAULT_CONFIG_PATH));
            }
            None => {}
        }
        let (env, ignored_env, env_sources) = environment(vars);
        let config: Config = figment
            .merge(env)
            .extract()
            .map_err(|e| ConfigError(describe_figment_error(e, &env_sources)))?;
        config.validate()?;
        Ok(Loaded {
            config,
            ignored_env,
        })
    }

    /// Parses a TOML document on top of the defaults, with no environment; for tests and checks.
    pub fn from_toml(text: &str) -> Result<Config, ConfigError> {
        let config: Config = Figment::from(Serialized::defaults(Config::default()))
            .merge(Toml::string(text))
            .extract()
            .map_err(|e| ConfigError(describe_figment_error(e, &[])))?;
        config.validate()?;
        Ok(config)
    }

    /// Checks what types alone cannot: URLs, names, and settings that must agree.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.server.validate()?;
        validate::database(&self.database)?;
        self.token.validate()?;
        validate::audiences_apart_from_issuer(&self.token, &self.server.issuer)?;
        self.keys.validate()?;
        self.signing.validate()?;
        self.rate_limit.validate()?;
        self.webhooks.validate()?;
        Ok(())
    }

    /// The configuration as TOML, with any password in `database.url` masked.
    pub fn to_masked_toml(&self) -> Result<String, ConfigError> {
        let mut shown = self.clone();
        let url = &shown.database.url;
        if let Some(masked) = masked_database_url(url).or_else(|| masked_unparsed_credentials(url))
        {
            shown.database.url = masked;
        }
        toml::to_string(&shown)
            .map_err(|e| ConfigError(format!("cannot print the configuration: {e}")))
    }

    /// The issuer without a trailing slash, to which endpoint paths are appended.
    pub fn issuer_base(&self) -> &str {
        self.server.issuer.trim_end_matches('/')
    }
}

/// `url` with its passwords as `****`: the one after the user name, and the value of any query
/// parameter naming a password (`?password=`, which the PostgreSQL driver reads too, or
/// `sslpassword`). `None` when it holds none, or is not a URL.
fn masked_database_url(url: &str) -> Option<String> {
    let mut url = url::Url::parse(url).ok()?;
    let is_password = |name: &str| name.to_ascii_lowercase().contains("password");
    let in_query = url.query_pairs().any(|(name, _)| is_password(&name));
    if url.password().is_none() && !in_query {
        return None;
    }
    if url.password().is_some() {
        let _ = url.set_password(Some("****"));
    }
    if in_query {
        let pairs: Vec<(String, String)> = url
            .query_pairs()
            .map(|(name, value)| {
                let value = if is_password(&name) {
                    "****".into()
                } else {
                    value.into_owned()
                };
                (name.into_owned(), value)
            })
            .collect();
        url.query_pairs_mut().clear().extend_pairs(pairs);
    }
    Some(url.to_string())
}

/// `url` with everything between `://` and its last `@` as `****`, when that holds a `:`
/// (`user:password`): for a URL whose password the URL parser could not find, such as one
/// holding an unencoded `/` (`postgres://u:pa/ss@db/x`), which `config check` would otherwise
/// print as it is.
fn masked_unparsed_credentials(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let (credentials, after) = rest.rsplit_once('@')?;
    credentials
        .contains(':')
        .then(|| format!("{scheme}://****@{after}"))
}

/// Builds the environment provider from the process's variables, and lists the `TOKENMINT_*`
/// variables that match no setting (they would otherwise be silently ignored).
fn environment(vars: &[(String, String)]) -> (Figment, Vec<String>, Vec<(String, String)>) {
    let mut figment = Figment::new();
    let mut ignored = Vec::new();
    let mut sources = Vec::new();
    for (name, value) in vars {
        let Some(rest) = name.strip_prefix("TOKENMINT_") else {
            continue;
        };
        let key = match SHORT_ENV.iter().find(|(short, _)| short == name) {
            Some((_, key)) => (*key).to_string(),
            None if rest.contains("__") => rest.to_ascii_lowercase().replace("__", "."),
            None => {
                if !OTHER_ENV.contains(&name.as_str()) {
                    ignored.push(name.clone());
                }
                continue;
            }
        };
        // Parsed as figment's Env does: numbers, booleans and arrays typed, the rest a string.
        let value: Value = value.parse().unwrap_or_else(|_| Value::from(value.clone()));
        figment = figment.merge(Serialized::default(&key, value));
        sources.push((key, name.clone()));
    }
    (figment, ignored, sources)
}

/// Rewrites figment's error into one line naming the setting and where its value came from
/// (`env_sources` maps settings to the environment variables that set them).
fn describe_figment_error(error: figment::Error, env_sources: &[(String, String)]) -> String {
    error
        .into_iter()
        .map(|e| {
            let path = e.path.join(".");
            let from_env = env_sources
                .iter()
                .find(|(key, _)| *key == path)
                .map(|(_, var)| var);
            let from_file = e.metadata.as_ref().and_then(|m| match &m.source {
                Some(figment::Source::File(file)) => Some(file.display().to_string()),
                _ => None,
            });
            let source = match (from_env, from_file) {
                (Some(var), _) => format!(" (from {var})"),
                (None, Some(file)) => format!(" (from {file})"),
                (None, None) => String::new(),
            };
            if path.is_empty() {
                format!("invalid configuration{source}: {}", e.kind)
            } else {
                format!("invalid setting `{path}`{source}: {}", e.kind)
            }
        })
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests;
