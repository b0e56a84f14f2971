//! RFC 6749 §5.2 error responses, as values; the HTTP layer gives them a status and a body.

use std::borrow::Cow;

/// The description every failed client authentication shares, so that an unknown, wrong,
/// deleted or expired key cannot be told apart.
pub const CLIENT_AUTH_FAILED: &str = "client authentication failed";

/// A token request refused, with the RFC 6749 §5.2 (or RFC 8707 §2) error code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OAuthError {
    /// Missing, repeated or malformed parameter, or otherwise malformed request.
    #[error("invalid_request: {0}")]
    InvalidRequest(Cow<'static, str>),
    /// Client authentication failed (unknown, wrong, deleted or expired key; no credentials).
    #[error("invalid_client: {0}")]
    InvalidClient(Cow<'static, str>),
    /// A grant type other than `client_credentials`.
    #[error("unsupported_grant_type: {0}")]
    UnsupportedGrantType(Cow<'static, str>),
    /// A scope that is malformed or beyond what the key holds.
    #[error("invalid_scope: {0}")]
    InvalidScope(Cow<'static, str>),
    /// RFC 8707 §2: a `resource` or `audience` this issuer does not serve.
    #[error("invalid_target: {0}")]
    InvalidTarget(Cow<'static, str>),
    /// The issuer cannot answer now (busy, or its database is down); retry after a moment.
    #[error("temporarily_unavailable: {0}")]
    TemporarilyUnavailable(Cow<'static, str>),
    /// Too many requests (per Client ID, or failed authentications per address): 429 with
    /// `Retry-After`. RFC 6749 has no code for it; `temporarily_unavailable` says "retry later".
    #[error("rate limited for {retry_after_secs} s")]
    RateLimited { retry_after_secs: u64 },
    /// Something failed inside tokenmint; the detail is logged, never sent.
    #[error("server_error")]
    ServerError,
}

impl OAuthError {
    /// The `error` code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidRequest(_) => "invalid_request",
            Self::InvalidClient(_) => "invalid_client",
            Self::UnsupportedGrantType(_) => "unsupported_grant_type",
            Self::InvalidScope(_) => "invalid_scope",
            Self::InvalidTarget(_) => "invalid_target",
            Self::TemporarilyUnavailable(_) => "temporarily_unavailable",
            Self::ServerError => "server_error",
            Self::RateLimited { .. } => "temporarily_unavailable",
        }
    }

    /// The `error_description`: human-readable, never holding a secret.
    pub fn description(&self) -> &str {
        match self {
            Self::InvalidRequest(d)
            | Self::InvalidClient(d)
            | Self::UnsupportedGrantType(d)
            | Self::InvalidScope(d)
            | Self::InvalidTarget(d)
            | Self::TemporarilyUnavailable(d) => d,
            Self::ServerError => "the issuer failed to handle the request; it has been logged",
            Self::RateLimited { .. } => "rate limit exceeded; retry after the Retry-After delay",
        }
    }

    /// The one refusal for every failed client authentication.
    pub fn client_auth_failed() -> Self {
        Self::InvalidClient(CLIENT_AUTH_FAILED.into())
    }

    /// A refusal for a limit that frees up after `wait`.
    pub fn rate_limited(wait: std::time::Duration) -> Self {
        Self::RateLimited {
            retry_after_secs: wait.as_secs_f64().ceil().max(1.0) as u64,
        }
    }

    /// Shorthand for an `invalid_request` with a message built at run time.
    pub fn invalid_request(description: impl Into<Cow<'static, str>>) -> Self {
        Self::InvalidRequest(description.into())
    }
}
