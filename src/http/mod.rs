//! HTTP: routes and handlers. Handlers parse requests and shape responses; decisions belong to
//! [`crate::oauth`] and [`crate::signing`].
//!
//! - [`token`]: `POST /api/oauth/token`.
//! - [`well_known`]: the JWKS and the RFC 8414 metadata document.
//! - [`health`]: `/healthz` and `/readyz`.
//! - [`errors`]: RFC 6749 §5.2 bodies, and JSON bodies for every other error (404, 405, 413…).

pub mod client_ip;
pub mod errors;
pub mod health;
pub mod listener;
pub mod token;
pub mod well_known;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::http::HeaderValue;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use bytes::Bytes;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::metrics::Metrics;

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
    pub metrics: Arc<Metrics>,
    /// Whether `/metrics` is served on the main listener.
    pub metrics_on_main: bool,
    /// Whose `X-Forwarded-For` is believed.
    pub proxies: client_ip::TrustedProxies,
}

/// Every route, with the limits, JSON error bodies, request ids and request log that apply to
/// all of them.
pub fn router(state: AppState) -> Router {
    let mut routes = Router::new();
    if state.metrics_on_main {
        routes = routes.route("/metrics", get(metrics));
    }
    routes
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
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(request_span)
                .on_request(())
                .on_response(log_response)
                .on_failure(()),
        )
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        .with_state(state)
}

/// `/metrics` alone, for `metrics.bind`.
pub fn metrics_router(state: AppState) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .with_state(state)
}

/// `GET /metrics`: Prometheus text format.
async fn metrics(State(state): State<AppState>) -> Response {
    let body = state
        .metrics
        .render(&state.keyring.get(), crate::store::now());
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body).into_response()
}

/// The span every request's log line belongs to: method, route, request id, and the client id
/// once the token endpoint learns it. Never the query string, a header value or a body.
fn request_span(request: &Request<Body>) -> tracing::Span {
    let request_id = request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-");
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| request.uri().path(), |p| p.as_str());
    tracing::info_span!(
        "request",
        method = %request.method(),
        route,
        request_id,
        client_id = tracing::field::Empty,
    )
}

/// One info line per request, when it is answered.
fn log_response(response: &Response, latency: Duration, _: &tracing::Span) {
    let latency_ms = latency.as_secs_f64() * 1000.0;
    tracing::info!(status = response.status().as_u16(), latency_ms, "request");
}
