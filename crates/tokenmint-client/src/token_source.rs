//! [`TokenSource`]: access tokens for an API client, fetched with `client_secret_basic` and
//! cached until shortly before they expire. However many tasks ask at once, one token request
//! is made per token lifetime: the first caller fetches while the others wait for its result.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use tokenmint_client::{BearerAuth, TokenSource};
//!
//! let tokens = TokenSource::builder(
//!     "http://127.0.0.1:8080/api/oauth/token",
//!     std::env::var("CLIENT_ID")?,
//!     std::env::var("CLIENT_SECRET")?,
//! )
//! .scope("monitors:read")
//! .build()?;
//! let http = reqwest::Client::new();
//! let monitors = http
//!     .get("http://127.0.0.1:3000/monitors")
//!     .bearer_from(&tokens)
//!     .await?
//!     .send()
//!     .await?;
//! # Ok(())
//! # }
//! ```

mod request;

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use secrecy::SecretString;
use tokio::time::Instant;

use crate::error::SetupError;
pub use request::TokenError;
use request::{Backoff, TokenRequest};

/// A cached, self-refreshing access token for one API key. Cheap to clone (one shared cache).
#[derive(Clone)]
pub struct TokenSource {
    inner: Arc<Inner>,
}

struct Inner {
    request: TokenRequest,
    margin: Duration,
    // tokio's mutex, held across the token request: that is the single flight.
    state: tokio::sync::Mutex<State>,
    requests: AtomicU64,
}

/// How long a failed request's error is handed to the callers that waited for it, instead of
/// each of them sending its own request to an issuer that just refused or failed.
const FAILURE_SHARED_FOR: Duration = Duration::from_secs(1);

/// The longest a token is cached, whatever `expires_in` says.
const MAX_LIFETIME: Duration = Duration::from_secs(7 * 24 * 3600);

#[derive(Default)]
struct State {
    cached: Option<Cached>,
    failed: Option<(Instant, TokenError)>,
}

struct Cached {
    token: AccessToken,
    refresh_at: Instant,
}

/// An access token. Its Debug output is redacted; [`AccessToken::as_str`] gives the JWT.
#[derive(Clone)]
pub struct AccessToken(Arc<str>);

impl AccessToken {
    /// The JWT, for an `Authorization: Bearer` header.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AccessToken([redacted])")
    }
}

impl fmt::Debug for TokenSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenSource")
            .field("token_url", &self.inner.request.token_url.as_str())
            .field("client_id", &self.inner.request.client_id)
            .field("client_secret", &"[redacted]")
            .field("margin", &self.inner.margin)
            .finish_non_exhaustive()
    }
}

impl TokenSource {
    /// A token source for the API key `client_id`/`client_secret` at `token_url`
    /// (tokenmint's `…/api/oauth/token`).
    pub fn builder(
        token_url: &str,
        client_id: impl Into<String>,
        client_secret: impl Into<String>,
    ) -> TokenSourceBuilder {
        TokenSourceBuilder {
            token_url: token_url.to_string(),
            client_id: client_id.into(),
            client_secret: SecretString::from(client_secret.into()),
            scope: None,
            resource: None,
            margin: Duration::from_secs(60),
            backoff: Backoff::default(),
            http: None,
        }
    }

    /// Like [`TokenSource::builder`], with the token endpoint from the issuer's RFC 8414 metadata.
    pub async fn discover(
        issuer: &str,
        client_id: impl Into<String>,
        client_secret: impl Into<String>,
    ) -> Result<TokenSourceBuilder, SetupError> {
        let http = crate::jwks::fetch_client()?;
        let metadata = crate::discovery::fetch(&http, issuer).await?;
        let token_url = metadata
            .token_endpoint
            .ok_or(SetupError::Missing("token_endpoint"))?;
        Ok(Self::builder(&token_url, client_id, client_secret).http_client(http))
    }

    /// A valid access token: the cached one, or a new one when it is within the margin of its
    /// expiry. Concurrent callers share one request.
    pub async fn token(&self) -> Result<AccessToken, TokenError> {
        let mut state = self.inner.state.lock().await;
        let now = Instant::now();
        if let Some(c) = state.cached.as_ref().filter(|c| now < c.refresh_at) {
            return Ok(c.token.clone());
        }
        if let Some((_, error)) = state
            .failed
            .as_ref()
            .filter(|(at, _)| now < *at + FAILURE_SHARED_FOR)
        {
            return Err(error.clone());
        }
        let issued = match self.inner.request.send(&self.inner.requests).await {
            Ok(issued) => issued,
            Err(error) => {
                state.failed = Some((Instant::now(), error.clone()));
                return Err(error);
            }
        };
        // The issuer's word, bounded: no `expires_in` can overflow the clock arithmetic below.
        let lifetime = issued.expires_in.min(MAX_LIFETIME);
        // Keep the margin, but never refresh sooner than half a lifetime (short-lived tokens).
        let keep = lifetime.saturating_sub(self.inner.margin).max(lifetime / 2);
        let token = AccessToken(issued.access_token.into());
        state.failed = None;
        state.cached = Some(Cached {
            token: token.clone(),
            refresh_at: now + keep,
        });
        Ok(token)
    }

    /// Forgets the cached token, so the next [`TokenSource::token`] fetches a new one (after a
    /// resource server refused it, say).
    pub async fn invalidate(&self) {
        let mut state = self.inner.state.lock().await;
        state.cached = None;
        state.failed = None;
    }

    /// Token requests sent so far (retries included), for metrics and tests.
    pub fn request_count(&self) -> u64 {
        self.inner.requests.load(Ordering::Relaxed)
    }
}

/// Adds `Authorization: Bearer` from a [`TokenSource`] to a reqwest request.
pub trait BearerAuth: Sized {
    /// This request with a current access token from `source`.
    fn bearer_from(
        self,
        source: &TokenSource,
    ) -> impl Future<Output = Result<Self, TokenError>> + Send;
}

impl BearerAuth for reqwest::RequestBuilder {
    async fn bearer_from(self, source: &TokenSource) -> Result<Self, TokenError> {
        let token = source.token().await?;
        Ok(self.bearer_auth(token.as_str()))
    }
}

/// Settings of a [`TokenSource`]; from [`TokenSource::builder`].
#[must_use = "a builder does nothing until build() is called"]
pub struct TokenSourceBuilder {
    token_url: String,
    client_id: String,
    client_secret: SecretString,
    scope: Option<String>,
    resource: Option<String>,
    margin: Duration,
    backoff: Backoff,
    http: Option<reqwest::Client>,
}

impl fmt::Debug for TokenSourceBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenSourceBuilder")
            .field("token_url", &self.token_url)
            .field("client_id", &self.client_id)
            .field("client_secret", &"[redacted]")
            .finish_non_exhaustive()
    }
}

impl TokenSourceBuilder {
    /// The scopes to ask for, space-separated (default: all of the key's scopes).
    pub fn scope(mut self, scope: impl Into<String>) -> Self {
        self.scope = Some(scope.into());
        self
    }

    /// The audience to ask for (RFC 8707 `resource`; default: the issuer's `token.audience`).
    pub fn resource(mut self, resource: impl Into<String>) -> Self {
        self.resource = Some(resource.into());
        self
    }

    /// How long before its expiry a token is replaced (default 60 s; at most half its lifetime).
    pub fn margin(mut self, margin: Duration) -> Self {
        self.margin = margin;
        self
    }

    /// Attempts per token on 429, 503 or a connection failure (default 4), and the longest wait
    /// between two (default 30 s; a longer `Retry-After` ends the attempts).
    pub fn retries(mut self, attempts: u32, longest_wait: Duration) -> Self {
        self.backoff = Backoff {
            attempts: attempts.max(1),
            longest_wait,
            ..self.backoff
        };
        self
    }

    /// The HTTP client for token requests (default: rustls, 10 s timeout).
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.http = Some(client);
        self
    }

    /// The token source. Nothing is requested until the first [`TokenSource::token`].
    pub fn build(self) -> Result<TokenSource, SetupError> {
        let token_url = url::Url::parse(&self.token_url).map_err(|e| SetupError::Url {
            url: self.token_url.clone(),
            reason: e.to_string(),
        })?;
        let http = match self.http {
            Some(http) => http,
            None => crate::jwks::fetch_client()?,
        };
        let request = TokenRequest {
            http,
            token_url,
            client_id: self.client_id,
            client_secret: self.client_secret,
            scope: self.scope,
            resource: self.resource,
            backoff: self.backoff,
        };
        Ok(TokenSource {
            inner: Arc::new(Inner {
                request,
                margin: self.margin,
                state: tokio::sync::Mutex::new(State::default()),
                requests: AtomicU64::new(0),
            }),
        })
    }
}
