//! The OAuth 2.0 client-credentials grant (RFC 6749 §4.4), independent of HTTP.
//!
//! - [`request`]: the token request's parameters, from a form or JSON body (§3.2, §4.4.2).
//! - [`client_auth`]: `client_secret_basic` and `client_secret_post` (§2.3.1).
//! - [`credentials`]: the client secret's format, generation and checksum (the Client ID is a
//!   shared word: [`crate::domain::ClientId`]).
//! - [`rate_limit`]: requests per Client ID and wrong-secret hashes per address, on a monotonic
//!   clock handed in.
//! - [`verifier`]: argon2id hashing on a bounded blocking pool, and the verified-credential cache.
//! - [`scope`]: scope syntax and narrowing (§3.3).
//! - [`grant`]: the checklist that turns a request into an access token (RFC 9068).
//! - [`usage`]: `last_used_at`, recorded off the request path.
//! - [`error`]: the §5.2 error codes.

pub mod client_auth;
pub mod credentials;
pub mod error;
pub mod grant;
pub mod rate_limit;
pub mod request;
pub mod scope;
pub mod usage;
pub mod verifier;

pub use error::OAuthError;

#[cfg(test)]
mod properties;
