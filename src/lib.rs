//! tokenmint: an OAuth 2.0 client-credentials token issuer.
//!
//! Teams own API keys (a public Client ID and a secret shown once). Clients trade them at
//! `POST /api/oauth/token` for RFC 9068 JWT access tokens, signed with rotating keys published as
//! a JWKS so that resource servers verify tokens on their own.
//!
//! Module map, from the edge inwards:
//! - [`cli`]: the `tokenmint` command line (serve, migrate, teams, keys, signing-keys).
//! - [`config`]: settings from defaults, a TOML file and the environment, validated once.
//! - [`app`]: builds the server from a config (store, keyring, router) and runs it.
//! - [`http`]: routes and handlers; parses requests and shapes responses, decides nothing.
//! - [`oauth`]: the client-credentials grant: credential formats, client authentication, scopes,
//!   audiences and the access-token claims.
//! - [`manage`]: team and API-key management shared by the CLI and the management API, and who
//!   may do what through that API.
//! - [`audit`]: who changed what: the actor of every change the audit log records.
//! - [`metrics`]: the Prometheus metrics a server exports.
//! - [`signing`]: signing keys: generation, sealing under the master key, the rotation lifecycle
//!   and the in-memory keyring that signs tokens and serves the JWKS.
//! - [`store`]: the storage interface and its SQLite and PostgreSQL backends.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod app;
pub mod audit;
pub mod cli;
pub mod config;
pub mod fuzz_targets;
pub mod http;
pub mod manage;
pub mod metrics;
pub mod oauth;
pub mod signing;
pub mod store;
