//! HTTP: routes and handlers. Handlers parse requests and shape responses; decisions belong to
//! [`crate::oauth`] and [`crate::signing`].
//!
//! - [`token`]: `POST /api/oauth/token`.
//! - [`well_known`]: the JWKS and the RFC 8414 metadata document.
//! - [`health`]: `/healthz` and `/readyz`.
//! - [`manage`]: the management API (`/api/teams`, `/api/admin`).
//! - [`openapi`]: the OpenAPI document of all of them, at `/openapi.json`.
//! - [`edge`]: head-size limits and error bodies, around every route.
//! - [`errors`]: RFC 6749 §5.2 bodies, problem documents for the management API, and a JSON
//!   body for every other error (404, 405, 413…).

pub mod client_ip;
pub mod edge;
pub mod errors;
pub mod health;
pub mod listener;
pub mod manage;
pub mod openapi;
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
use bytes::Bytes;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::config::Config;
use crate::metrics::Metrics;
use crate::oauth::grant::TokenIssuer;
use crate::signing::keyring::KeyringHandle;
use crate::signing::operations::SigningKeys;
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
    pub config: Arc<Config>,
    /// Rotation and revocation for the management API.
    pub signing: SigningKeys,
    /// The OpenAPI document, rendered by [`router`].
    pub openapi: Bytes,
}

/// Every route, with the limits, error bodies, request ids and request log that apply to all
/// of them. The OpenAPI document is made from the same list of routes.
pub fn router(mut state: AppState) -> Router {
    let (routes, doc) = api_routes(state.metrics_on_main).split_for_parts();
    state.openapi = openapi::render(doc, &state.config);
    routes
        .fallback(errors::not_found)
        .layer(RequestBodyLimitLayer::new(MAX_BODY_BYTES))
        .layer(TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            REQUEST_TIMEOUT,
        ))
        .layer(axum::middleware::from_fn(edge::edge))
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

/// Every route with its OpenAPI description; `/metrics` only when it is served here.
fn api_routes(metrics_on_main: bool) -> OpenApiRouter<AppState> {
    let api = OpenApiRouter::with_openapi(openapi::base())
        .routes(routes!(token::issue))
        .routes(routes!(well_known::jwks))
        .routes(routes!(well_known::metadata))
        .routes(routes!(health::live))
        .routes(routes!(health::ready))
        .routes(routes!(openapi::document))
        .merge(manage::routes());
    if metrics_on_main {
        api.routes(routes!(metrics))
    } else {
        api
    }
}

/// The OpenAPI document a server with `config` serves at `/openapi.json`.
pub fn openapi_document(config: &Config) -> Bytes {
    let metrics_on_main = config.metrics.enabled && config.metrics.bind.is_empty();
    openapi::render(api_routes(metrics_on_main).split_for_parts().1, config)
}

/// `/metrics` alone, for `metrics.bind`.
pub fn metrics_router(state: AppState) -> Router {
    Router::new()
        .route("/metrics", axum::routing::get(metrics))
        .with_state(state)
}

/// `GET /metrics`: Prometheus text format.
#[utoipa::path(get, path = "/metrics", operation_id = "metrics", tag = "operations",
    responses((status = 200, description = "Prometheus text exposition format", content_type = "text/plain")))]
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
