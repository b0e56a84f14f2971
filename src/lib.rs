//! tokenmint: an OAuth 2.0 client-credentials token issuer.
//!
//! Teams own API keys (a public Client ID and a secret shown once). Clients trade them at
//! `POST /api/oauth/token` for RFC 9068 JWT access tokens, signed with rotating keys published as
//! a JWKS so that resource servers verify tokens on their own.
//!
//! Module map, from the edge inwards:
//! - [`cli`]: the `tokenmint` command line (serve, migrate, teams, keys, signing-keys).
//! - [`config`]: settings from defaults, a TOML file and the environment, validated once,
//!   read into their final types; it depends on [`domain`] alone.
//! - [`domain`]: the shared words (signing algorithm, key environment, scope syntax, base62) and
//!   the typed ids the store is asked about ([`domain::TeamSlug`], [`domain::ClientId`]).
//! - [`app`]: the composition root: builds the server from a config (the store, once; the
//!   services; the handlers' state, [`http::AppState`]; the router) and runs it.
//! - [`http`]: routes and handlers; parses requests and shapes responses, decides nothing.
//! - [`oauth`]: the client-credentials grant: credential formats, client authentication, scopes,
//!   audiences and the access-token claims.
//! - [`manage`]: team and API-key management shared by the CLI and the management API, and who
//!   may do what through that API.
//! - [`clock`]: the current time, passed in rather than read where decisions are made (and a
//!   monotonic clock for rate limits).
//! - [`audit`]: who changed what: the actor of every change the audit log records.
//! - [`metrics`]: the Prometheus metrics a server exports.
//! - [`signing`]: signing keys: generation, sealing under the master key, the rotation lifecycle
//!   and the in-memory keyring that signs tokens and serves the JWKS.
//! - [`webhooks`]: the teams' webhook signing secrets (Standard Webhooks v1): signing for the
//!   platform's delivery workers, rotation with an overlap, the receiver's verification.
//! - [`secret_scanning`]: who may report leaked secrets (a scanner's signed reports).
//! - [`store`]: the storage interface, implemented once over sqlx's database type, with SQLite
//!   and PostgreSQL as its backends (rows apart from the SQL).

pub mod app;
pub mod audit;
pub mod cli;
pub mod clock;
pub mod config;
pub mod domain;
pub mod fuzz_targets;
pub mod http;
pub mod manage;
pub mod metrics;
pub mod oauth;
pub mod secret_scanning;
pub mod signing;
pub mod store;
pub mod webhooks;
