//! Checks on values that their types alone cannot make: URLs, names, and settings that must agree.

use std::time::Duration;

use super::{
    ConfigError, DatabaseConfig, KeysConfig, RateLimitConfig, ServerConfig, SigningConfig,
    TokenConfig, WebhooksConfig,
};
use crate::domain::scope::{is_management, is_scope_token};

/// Longest `token.ttl`: a year. Access tokens are meant to be short-lived, and a retired signing
/// key stays published for `ttl` after its last token.
pub(super) const MAX_TOKEN_TTL: Duration = Duration::from_secs(365 * 24 * 3600);
/// Longest `signing.rotation_interval`: 10 years.
pub(super) const MAX_ROTATION_INTERVAL: Duration = Duration::from_secs(3650 * 24 * 3600);
/// Longest `signing.publish_ahead` and `signing.retire_leeway`: a year. Every signing-key time is
/// a stored time plus these, and must stay one the databases hold.
pub(super) const MAX_SIGNING_DELAY: Duration = Duration::from_secs(365 * 24 * 3600);
/// Longest `database.acquire_timeout`: 10 minutes (SQLite's busy timeout is an `i32` of
/// milliseconds, about 24 days, and no request should wait anywhere near that).
pub(super) const MAX_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(600);
/// Most `server.max_connections` (tokio's semaphore holds at most `usize::MAX >> 3` permits).
pub(super) const MAX_SERVER_CONNECTIONS: usize = 1_000_000;
/// Shortest and longest a connection may wait for bytes (`server.header_read_timeout`,
/// `server.idle_timeout`): zero would cut every connection at once, a day keeps sockets for
/// nobody.
pub(super) const MIN_CONNECTION_TIMEOUT: Duration = Duration::from_millis(100);
pub(super) const MAX_CONNECTION_TIMEOUT: Duration = Duration::from_secs(24 * 3600);
/// Most `database.max_connections` (the pool allocates a slot for each up front).
pub(super) const MAX_DATABASE_CONNECTIONS: u32 = 10_000;

/// Longest `webhooks.overlap`: 30 days, as for a rotation that names its own.
pub(super) const MAX_WEBHOOK_OVERLAP: Duration = Duration::from_secs(30 * 24 * 3600);

/// `name` = `value` must lie within `min..=max`; the message names both bounds.
fn duration_within(
    name: &str,
    value: Duration,
    min: Duration,
    max: Duration,
) -> Result<(), ConfigError> {
    if (min..=max).contains(&value) {
        return Ok(());
    }
    let shown = |d: Duration| super::duration::format(d);
    Err(ConfigError::setting(
        name,
        format!(
            "{} is out of range: between {} and {}",
            shown(value),
            shown(min),
            shown(max)
        ),
    ))
}

pub(super) fn server(server: &ServerConfig) -> Result<(), ConfigError> {
    if !(1..=MAX_SERVER_CONNECTIONS).contains(&server.max_connections) {
        return Err(ConfigError::setting(
            "server.max_connections",
            format!("must be between 1 and {MAX_SERVER_CONNECTIONS}"),
        ));
    }
    if server.max_connections_per_address > MAX_SERVER_CONNECTIONS {
        return Err(ConfigError::setting(
            "server.max_connections_per_address",
            format!("must be at most {MAX_SERVER_CONNECTIONS} (0 turns the cap off)"),
        ));
    }
    Ok(())
}

/// RFC 8414 §2: the issuer is an https URL (http allowed for local use) with no query or fragment.
pub(super) fn issuer(issuer: &str) -> Result<(), ConfigError> {
    let name = "server.issuer";
    let url = url::Url::parse(issuer).map_err(|e| ConfigError::setting(name, e))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(ConfigError::setting(
            name,
            "the scheme must be https (or http)",
        ));
    }
    if url.host_str().is_none() {
        return Err(ConfigError::setting(name, "the URL has no host"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(ConfigError::setting(
            name,
            "an issuer has no query or fragment (RFC 8414 §2)",
        ));
    }
    Ok(())
}

impl ServerConfig {
    /// A zero timeout would not mean "none" but "cut every connection at once", so it is refused.
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        issuer(&self.issuer)?;
        server(self)?;
        for (name, value) in [
            ("server.header_read_timeout", self.header_read_timeout),
            ("server.idle_timeout", self.idle_timeout),
        ] {
            duration_within(name, value, MIN_CONNECTION_TIMEOUT, MAX_CONNECTION_TIMEOUT)?;
        }
        Ok(())
    }
}

pub(super) fn database(db: &DatabaseConfig) -> Result<(), ConfigError> {
    let scheme = db.url.split_once(':').map(|(s, _)| s).unwrap_or_default();
    if !matches!(scheme, "sqlite" | "postgres" | "postgresql") {
        return Err(ConfigError::setting(
            "database.url",
            "expected sqlite://PATH or postgres://USER@HOST/DB",
        ));
    }
    if !(1..=MAX_DATABASE_CONNECTIONS).contains(&db.max_connections) {
        return Err(ConfigError::setting(
            "database.max_connections",
            format!("must be between 1 and {MAX_DATABASE_CONNECTIONS}"),
        ));
    }
    duration_within(
        "database.acquire_timeout",
        db.acquire_timeout,
        Duration::from_millis(1),
        MAX_ACQUIRE_TIMEOUT,
    )
}

/// The issuer's own audience is the management API's: tokens for it carry management scopes
/// only, so no product audience may share its name.
pub(super) fn audiences_apart_from_issuer(
    token: &TokenConfig,
    issuer: &str,
) -> Result<(), ConfigError> {
    let clash = token.allowed_audiences().position(|a| a == issuer);
    match clash {
        None => Ok(()),
        Some(i) => Err(ConfigError::setting(
            if i == 0 {
                "token.audience"
            } else {
                "token.audiences"
            },
            "must not be server.issuer, which is the management API's own audience",
        )),
    }
}

impl TokenConfig {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        duration_within("token.ttl", self.ttl, Duration::from_secs(1), MAX_TOKEN_TTL)?;
        let audiences = std::iter::once(&self.audience).chain(&self.audiences);
        for (i, audience) in audiences.enumerate() {
            let name = if i == 0 {
                "token.audience"
            } else {
                "token.audiences"
            };
            if audience.is_empty()
                || audience
                    .chars()
                    .any(|c| c.is_whitespace() || c.is_control())
            {
                return Err(ConfigError::setting(
                    name,
                    format!("{audience:?} is not an audience"),
                ));
            }
        }
        Ok(())
    }

    /// Every audience a token may carry: the default first, then the extra ones.
    pub fn allowed_audiences(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.audience.as_str()).chain(self.audiences.iter().map(String::as_str))
    }
}

impl KeysConfig {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        let prefix_ok = (1..=16).contains(&self.prefix.len())
            && self.prefix.starts_with(|c: char| c.is_ascii_lowercase())
            && self
                .prefix
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
        if !prefix_ok {
            return Err(ConfigError::setting(
                "keys.prefix",
                "1 to 16 lowercase letters and digits, starting with a letter",
            ));
        }
        if self.scopes.is_empty() {
            return Err(ConfigError::setting(
                "keys.scopes",
                "the catalog needs at least one scope",
            ));
        }
        for (i, scope) in self.scopes.iter().enumerate() {
            if !is_scope_token(scope) {
                return Err(ConfigError::setting(
                    "keys.scopes",
                    format!("{scope:?} is not a scope token (RFC 6749 §3.3)"),
                ));
            }
            if is_management(scope) {
                return Err(ConfigError::setting(
                    "keys.scopes",
                    format!(
                        "{scope:?} is a built-in management scope; the catalog lists product scopes"
                    ),
                ));
            }
            if self.scopes[..i].contains(scope) {
                return Err(ConfigError::setting(
                    "keys.scopes",
                    format!("{scope:?} is listed twice"),
                ));
            }
        }
        // Each is later taken from or added to the current time: bounded to what a key's own
        // lifetime may be, so the hygiene metrics' arithmetic never leaves the stored years.
        let longest = Duration::from_secs(3650 * 24 * 3600);
        for (name, span) in [
            ("keys.rotation_age", self.rotation_age),
            ("keys.expiry_warning", self.expiry_warning),
        ] {
            if span.is_zero() || span > longest {
                return Err(ConfigError::setting(name, "above zero and at most 3650d"));
            }
        }
        Ok(())
    }
}

impl SigningConfig {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if !self.rotation_interval.is_zero() {
            duration_within(
                "signing.rotation_interval",
                self.rotation_interval,
                Duration::from_secs(1),
                MAX_ROTATION_INTERVAL,
            )?;
        }
        let delays = [
            ("signing.publish_ahead", self.publish_ahead),
            ("signing.retire_leeway", self.retire_leeway),
        ];
        for (name, delay) in delays {
            duration_within(name, delay, Duration::ZERO, MAX_SIGNING_DELAY)?;
        }
        if self.jwks_max_age > self.publish_ahead {
            return Err(ConfigError::setting(
                "signing.jwks_max_age",
                "must not exceed signing.publish_ahead, or resource servers could meet a key \
                 before their cached JWKS has it",
            ));
        }
        duration_within(
            "signing.refresh",
            self.refresh,
            Duration::from_secs(1),
            Duration::from_secs(3600),
        )?;
        if !self.rotation_interval.is_zero() && self.rotation_interval <= self.publish_ahead {
            return Err(ConfigError::setting(
                "signing.rotation_interval",
                "must be longer than signing.publish_ahead (or 0 to turn rotation off)",
            ));
        }
        Ok(())
    }
}

/// Most hashes of wrong secrets an address may cost a minute: more is no limit at all.
pub(super) const MAX_FAILED_AUTH_PER_MINUTE: u32 = 100_000;

impl RateLimitConfig {
    /// The proxies were read into networks already; the numbers are bounded.
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if self.failed_auth_per_minute > MAX_FAILED_AUTH_PER_MINUTE {
            return Err(ConfigError::setting(
                "rate_limit.failed_auth_per_minute",
                format!("must be at most {MAX_FAILED_AUTH_PER_MINUTE} (0 turns it off)"),
            ));
        }
        Ok(())
    }
}

impl WebhooksConfig {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        duration_within(
            "webhooks.overlap",
            self.overlap,
            Duration::ZERO,
            MAX_WEBHOOK_OVERLAP,
        )
    }
}
