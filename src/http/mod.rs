//! HTTP: routes and handlers. Handlers parse requests and shape responses; decisions belong to
//! [`crate::oauth`] and [`crate::signing`].
//!
//! - [`token`]: `POST /api/oauth/token`.
//! - [`well_known`]: the JWKS and the RFC 8414 metadata document.
//! - [`health`]: `/healthz` and `/readyz`.
//! - [`errors`]: RFC 6749 §5.2 bodies, and JSON bodies for every other error (404, 405, 413…).

pub mod errors;
pub mod health;
pub mod token;
pub mod well_known;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::HeaderValue;
use axum::routing::{get, post};
use bytes::Bytes;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::oauth::grant::TokenIssuer;
use crate::signing::keyring::KeyringHandle;
use crate::store::Store;

/// Largest request body accepted; larger ones get 413.
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// Longest a request may take before it is answered 408.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// What handlers share.
#[derive(Clone)]
pub struct AppState {
    pub issuer: Arc<TokenIssuer>,
    pub keyring: KeyringHandle,
    pub store: Arc<dyn Store>,
    /// The RFC 8414 metadata document, rendered once.
    pub metadata: Bytes,
    /// `Cache-Control` of the JWKS.
    pub jwks_cache_control: HeaderValue,
}

/// Every route, with the limits and JSON error bodies that apply to all of them.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/api/oauth/token", post(token::issue))
        .route("/.well-known/jwks.json", get(well_known::jwks))
        .route(
            "/.well-known/oauth-authorization-server",
            get(well_known::metadata),
        )
        .route("/healthz", get(health::live))
        .route("/readyz", get(health::ready))
        .fallback(errors::not_found)
        .layer(RequestBodyLimitLayer::new(MAX_BODY_BYTES))
        .layer(TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            REQUEST_TIMEOUT,
        ))
        .layer(axum::middleware::map_response(errors::json_error_bodies))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}
