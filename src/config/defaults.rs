//! The built-in defaults of every section, the same values `config/default.toml` spells out.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use super::{
    ConsoleConfig, DatabaseConfig, KeysConfig, LogConfig, LogFormat, MetricsConfig,
    RateLimitConfig, ServerConfig, SigningConfig, TokenConfig, WebhooksConfig,
};
use crate::domain::Algorithm;

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            bind: SocketAddr::from(([127, 0, 0, 1], 8080)),
            issuer: "http://127.0.0.1:8080".into(),
            max_connections: 10_000,
            max_connections_per_address: 256,
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
        }
    }
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self {
            url: "sqlite://data/tokenmint.db".into(),
            max_connections: 16,
            acquire_timeout: Duration::from_secs(3),
        }
    }
}

impl Default for TokenConfig {
    fn default() -> Self {
        Self {
            ttl: Duration::from_secs(24 * 3600),
            audience: "https://api.example.com".into(),
            audiences: Vec::new(),
        }
    }
}

impl Default for KeysConfig {
    fn default() -> Self {
        let scopes = [
            "monitors:read",
            "monitors:write",
            "logs:read",
            "settings:read",
            "settings:write",
        ];
        Self {
            prefix: "dh".into(),
            scopes: scopes.map(String::from).to_vec(),
            rotation_age: Duration::from_secs(90 * 24 * 3600),
            expiry_warning: Duration::from_secs(7 * 24 * 3600),
        }
    }
}

impl Default for SigningConfig {
    fn default() -> Self {
        Self {
            algorithm: Algorithm::Es256,
            rotation_interval: Duration::from_secs(30 * 24 * 3600),
            publish_ahead: Duration::from_secs(3600),
            jwks_max_age: Duration::from_secs(300),
            refresh: Duration::from_secs(5),
            retire_leeway: Duration::from_secs(300),
            master_key_file: PathBuf::from("keys/master.key"),
        }
    }
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            token_requests_per_second: 20,
            failed_auth_per_minute: 10,
            trusted_proxies: Vec::new(),
        }
    }
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            format: LogFormat::Text,
            level: "info".into(),
        }
    }
}

impl Default for MetricsConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            bind: String::new(),
        }
    }
}

impl Default for WebhooksConfig {
    fn default() -> Self {
        Self {
            overlap: Duration::from_secs(24 * 3600),
        }
    }
}

impl Default for ConsoleConfig {
    fn default() -> Self {
        Self { enabled: true }
    }
}
