//! Checks on values that their types alone cannot make: URLs, names, and settings that must agree.

use std::time::Duration;

use super::{ConfigError, DatabaseConfig, KeysConfig, RateLimitConfig, SigningConfig, TokenConfig};
use crate::oauth::scope::{is_management, is_scope_token};

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

pub(super) fn database(db: &DatabaseConfig) -> Result<(), ConfigError> {
    let scheme = db.url.split_once(':').map(|(s, _)| s).unwrap_or_default();
    if !matches!(scheme, "sqlite" | "postgres" | "postgresql") {
        return Err(ConfigError::setting(
            "database.url",
            "expected sqlite://PATH or postgres://USER@HOST/DB",
        ));
    }
    if db.max_connections == 0 {
        return Err(ConfigError::setting(
            "database.max_connections",
            "must be at least 1",
        ));
    }
    if db.acquire_timeout.is_zero() {
        return Err(ConfigError::setting(
            "database.acquire_timeout",
            "must be above zero",
        ));
    }
    Ok(())
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
        if self.ttl < Duration::from_secs(1) {
            return Err(ConfigError::setting("token.ttl", "must be at least 1s"));
        }
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
        Ok(())
    }
}

impl SigningConfig {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if self.jwks_max_age > self.publish_ahead {
            return Err(ConfigError::setting(
                "signing.jwks_max_age",
                "must not exceed signing.publish_ahead, or resource servers could meet a key \
                 before their cached JWKS has it",
            ));
        }
        if self.refresh.is_zero() || self.refresh > Duration::from_secs(3600) {
            return Err(ConfigError::setting(
                "signing.refresh",
                "must be between 1s and 1h",
            ));
        }
        if !self.rotation_interval.is_zero() && self.rotation_interval <= self.publish_ahead {
            return Err(ConfigError::setting(
                "signing.rotation_interval",
                "must be longer than signing.publish_ahead (or 0 to turn rotation off)",
            ));
        }
        Ok(())
    }
}

impl RateLimitConfig {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        crate::http::client_ip::TrustedProxies::parse(&self.trusted_proxies)
            .map(|_| ())
            .map_err(|e| ConfigError::setting("rate_limit.trusted_proxies", e))
    }
}
