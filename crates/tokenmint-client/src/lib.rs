//! Rust SDK for the two other sides of a [tokenmint](https://github.com/) issuer.
//!
//! - **Resource servers** check access tokens with a [`Verifier`]: it finds the issuer's JWKS
//!   (RFC 8414 discovery, or a JWKS URL), caches it as `Cache-Control` says, picks up a signing-key
//!   rotation by itself, and refuses a token unless every RFC 9068 check passes. With the `axum`
//!   feature (on by default), [`axum`] answers RFC 6750 for you.
//! - **API clients** get tokens from a [`TokenSource`]: `client_secret_basic`, one request per
//!   token lifetime however many tasks ask, backoff on 429/503.
//! - **Webhook receivers** check Standard Webhooks signatures with [`webhook::Webhook`].
//!
//! # Modules
//! - [`verifier`]: [`Verifier`] and its builder; the checklist a token goes through.
//! - `jwks` (private): the JWKS cache — expiry, revalidation, the single-flight refetch.
//! - [`claims`]: [`AccessClaims`], the typed claims tokenmint puts in a token.
//! - [`error`]: [`VerifyError`], which check a token failed.
//! - [`token_source`]: [`TokenSource`] and the reqwest helper [`BearerAuth`].
//! - [`webhook`]: Standard Webhooks v1 signature verification.
//! - [`axum`]: the authentication layer, the `require_scope`/`require_team` guards and the
//!   [`Authenticated`](crate::axum::Authenticated) extractor.
//!
//! # Example
//! ```no_run
//! # async fn run(token: &str) -> Result<(), Box<dyn std::error::Error>> {
//! use tokenmint_client::Verifier;
//!
//! let verifier = Verifier::discover("http://127.0.0.1:8080")
//!     .await?
//!     .audience("https://api.example.com")
//!     .build()?;
//! let claims = verifier.verify(token).await?;
//! println!("{} of team {} may: {}", claims.client_id, claims.team, claims.scope);
//! # Ok(())
//! # }
//! ```

#![deny(missing_docs)]

#[cfg(feature = "axum")]
pub mod axum;
pub mod claims;
mod discovery;
pub mod error;
mod jwks;
pub mod token_source;
pub mod verifier;
pub mod webhook;

pub use claims::{AccessClaims, Environment};
pub use error::VerifyError;

pub use token_source::{AccessToken, BearerAuth, TokenSource, TokenSourceBuilder};
pub use verifier::{Verifier, VerifierBuilder};
