//! axum integration, answering as RFC 6750 §3 says.
//!
//! - [`AuthLayer`] checks the bearer token of every request it wraps: 401 with
//!   `WWW-Authenticate: Bearer …` when there is none (no error code) or it fails a check
//!   (`error="invalid_token"`), 503 when the issuer's keys cannot be loaded; otherwise the
//!   request goes on with its [`Authenticated`] claims.
//! - [`require_scope`] and [`require_team`] are layers that answer 403 — `insufficient_scope`
//!   naming the scope, or a team mismatch — for a valid token that may not pass.
//! - [`Authenticated`] is the extractor for the claims; its [`Authenticated::require_team`] is
//!   the check for resources that belong to a team (a monitor of another team: 403).
//!
//! ```no_run
//! # async fn run(verifier: tokenmint_client::Verifier) {
//! use axum::{Router, routing::get};
//! use tokenmint_client::axum::{AuthLayer, Authenticated, require_scope};
//!
//! async fn whoami(Authenticated(claims): Authenticated) -> String {
//!     format!("{} of {}", claims.client_id, claims.team)
//! }
//!
//! let app: Router = Router::new()
//!     .route("/whoami", get(whoami))
//!     .route_layer(require_scope("monitors:read"))
//!     .layer(AuthLayer::new(verifier));
//! # }
//! ```

mod layer;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::claims::AccessClaims;
use crate::error::VerifyError;
pub use layer::{Auth, AuthLayer, Require, RequireLayer, require_scope, require_team};

/// The claims of the request's verified token; put there by [`AuthLayer`].
#[derive(Debug, Clone)]
pub struct Authenticated(pub AccessClaims);

impl std::ops::Deref for Authenticated {
    type Target = AccessClaims;
    fn deref(&self) -> &AccessClaims {
        &self.0
    }
}

impl Authenticated {
    /// `Ok` when the token holds `scope`, else the 403 `insufficient_scope` answer.
    pub fn require_scope(&self, scope: &str) -> Result<(), AuthError> {
        if self.has_scope(scope) {
            Ok(())
        } else {
            Err(AuthError::InsufficientScope(scope.to_string()))
        }
    }

    /// `Ok` when the token belongs to `team`, else the 403 answer: for a resource of another
    /// team (say, a monitor), compare with its owner.
    pub fn require_team(&self, team: &str) -> Result<(), AuthError> {
        if self.is_team(team) {
            Ok(())
        } else {
            Err(AuthError::OtherTeam)
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Authenticated {
    type Rejection = AuthError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, AuthError> {
        parts
            .extensions
            .get::<Authenticated>()
            .cloned()
            .ok_or(AuthError::LayerMissing)
    }
}

/// A refused request, as the response RFC 6750 asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthError {
    /// 401, or 503 for [`VerifyError::JwksUnavailable`].
    Token(VerifyError),
    /// 403 `insufficient_scope`, naming the scope needed.
    InsufficientScope(String),
    /// 403: the token's team does not own the resource.
    OtherTeam,
    /// 500: the route reads claims but no [`AuthLayer`] wraps it (fails closed).
    LayerMissing,
}

impl AuthError {
    /// The HTTP status of the answer.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Token(VerifyError::JwksUnavailable(_)) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Token(_) => StatusCode::UNAUTHORIZED,
            Self::InsufficientScope(_) | Self::OtherTeam => StatusCode::FORBIDDEN,
            Self::LayerMissing => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The `WWW-Authenticate` challenge (RFC 6750 §3), for 401 and `insufficient_scope`.
    pub fn challenge(&self, realm: &str) -> Option<String> {
        let realm = format!("Bearer realm=\"{}\"", quotable(realm));
        match self {
            Self::Token(VerifyError::Missing) => Some(realm),
            Self::Token(VerifyError::JwksUnavailable(_)) => None,
            Self::Token(e) => Some(format!(
                "{realm}, error=\"invalid_token\", error_description=\"{}\"",
                e.description()
            )),
            Self::InsufficientScope(scope) => Some(format!(
                "{realm}, error=\"insufficient_scope\", scope=\"{}\"",
                quotable(scope)
            )),
            Self::OtherTeam | Self::LayerMissing => None,
        }
    }

    fn body(&self) -> serde_json::Value {
        let (error, description) = match self {
            Self::Token(VerifyError::JwksUnavailable(_)) => (
                "temporarily_unavailable",
                "the signing keys cannot be loaded".to_string(),
            ),
            Self::Token(e) => ("invalid_token", e.description().to_string()),
            Self::InsufficientScope(scope) => (
                "insufficient_scope",
                format!("the token lacks the scope {scope}"),
            ),
            Self::OtherTeam => (
                "forbidden",
                "the resource belongs to another team".to_string(),
            ),
            Self::LayerMissing => (
                "server_error",
                "authentication is not configured".to_string(),
            ),
        };
        serde_json::json!({ "error": error, "error_description": description })
    }

    /// The full response, with `realm` in the challenge.
    pub fn into_response_with_realm(self, realm: &str) -> Response {
        if let Self::LayerMissing = self {
            tracing::error!("a route reads Authenticated but no AuthLayer wraps it");
        }
        let mut response = (self.status(), axum::Json(self.body())).into_response();
        if let Some(value) = self
            .challenge(realm)
            .and_then(|c| HeaderValue::try_from(c).ok())
        {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, value);
        }
        response
    }
}

/// The realm a challenge names when none is configured.
pub const DEFAULT_REALM: &str = "api";

impl IntoResponse for AuthError {
    fn into_response(self) -> Response {
        self.into_response_with_realm(DEFAULT_REALM)
    }
}

impl From<VerifyError> for AuthError {
    fn from(error: VerifyError) -> Self {
        Self::Token(error)
    }
}

/// A value safe inside an RFC 7230 quoted-string: `"` and `\` and controls dropped.
fn quotable(value: &str) -> String {
    value
        .chars()
        .filter(|c| *c != '"' && *c != '\\' && !c.is_control())
        .collect()
}
