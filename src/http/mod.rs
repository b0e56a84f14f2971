//! HTTP: routes and handlers. Handlers parse requests and shape responses; decisions belong to
//! [`crate::oauth`] and [`crate::signing`].
//!
//! - [`token`]: `POST /api/oauth/token`.
//! - [`well_known`]: the JWKS and the RFC 8414 metadata document.
//! - [`health`]: `/healthz` and `/readyz`.
//! - [`management`]: the management API (`/api/teams`, `/api/admin`).
//! - [`openapi`]: the OpenAPI document of all of them, at `/openapi.json`.
//! - [`console`]: the browser console at `/console`, a page built into the binary that is a
//!   client of the management API (not an API itself, so not in the OpenAPI document).
//! - [`panic_guard`]: a panic in a handler answers its request 500, and nothing more.
//! - [`middleware`]: the one middleware every request passes: head-size limits, the Host
//!   check, and error bodies of the route's kind.
//! - [`listener`]: the connection loop, with [`peer`] (the per-address cap) and [`idle`]
//!   (cutting silent and idle connections).
//! - `state`: what handlers share ([`AppState`]), in parts each handler takes alone
//!   ([`TokenEndpoint`], [`Management`], [`Documents`]).
//! - [`errors`]: RFC 6749 §5.2 bodies, problem documents for the management API, and a JSON
//!   body for every other error (404, 405, 413…).

pub mod client_ip;
pub mod console;
pub mod errors;
pub mod head_timer;
pub mod health;
pub mod host;
pub mod idle;
pub mod listener;
pub mod management;
pub mod middleware;
pub mod openapi;
pub mod panic_guard;
pub mod peer;
pub mod secret_scanning;
mod state;
pub mod token;
pub mod well_known;

pub use state::{
    AppState, Documents, Management, ManagementParts, Shared, StateParts, TokenEndpoint,
};

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::http::HeaderValue;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use tower::ServiceBuilder;
use tower::util::{BoxCloneSyncService, MapFutureLayer, MapRequestLayer};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::clock::SharedClock;
use crate::config::Config;
use crate::metrics::Metrics;
use crate::signing::keyring::KeyringHandle;

/// Most header fields a request may carry.
pub const MAX_HEADERS: usize = 64;
/// Most bytes of header names and values a request may carry, all fields together.
pub const MAX_HEADER_BYTES: usize = 16 * 1024;
/// Largest request body accepted; larger ones get 413.
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// Longest a request may take before it is answered 408.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// What a listener serves: every request passes it, cloned once per request. Boxed once, here.
pub type HttpService = BoxCloneSyncService<Request<Body>, Response, Infallible>;

/// Every route, inside the limits, error bodies, request ids and request log that apply to all
/// of them. The OpenAPI document is made from the same list of routes.
pub fn router(state: AppState) -> HttpService {
    let mut routes = api_routes(state.management.config.metrics.on_main_listener())
        .split_for_parts()
        .0;
    if state.management.config.console.enabled {
        routes = routes.merge(console::routes());
    }
    let metrics = Arc::clone(&state.metrics);
    // Inside the router (one layer, so one boxed level): what needs the matched route.
    let routed = ServiceBuilder::new()
        .layer(MapRequestLayer::new(record_route))
        .layer(RequestBodyLimitLayer::new(MAX_BODY_BYTES));
    let routes = routes
        .fallback(errors::not_found)
        .layer(routed)
        .with_state(state);
    serve_stack(routes, metrics)
}

/// The layers every request passes, outermost first, around the routes: request ids, the
/// request log, the head checks and error bodies ([`middleware`]), a panic's 500 for its
/// request alone ([`panic_guard`]) and the request timeout. (The body limit is applied inside
/// the router, after the route is named in the request log.)
///
/// They wrap the router as one service rather than each route (`Router::layer`), which would
/// box and clone the whole stack again for every request, about fifty allocations each.
fn serve_stack(routes: Router, metrics: Arc<Metrics>) -> HttpService {
    let stack = ServiceBuilder::new()
        .map_response(IntoResponse::into_response)
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(request_span)
                .on_request(())
                .on_response(log_response)
                .on_failure(()),
        )
        .layer(axum::middleware::from_fn(
            middleware::check_head_and_fill_errors,
        ))
        .map_response(IntoResponse::into_response)
        .layer(panic_guard::layer(metrics))
        .map_response(IntoResponse::into_response)
        .layer(MapFutureLayer::new(answer_within_timeout))
        .service(routes);
    BoxCloneSyncService::new(stack)
}

/// Bounds a request to [`REQUEST_TIMEOUT`]: past it, the request is dropped and answered 408
/// (its body filled in by [`middleware`]).
///
/// `tokio::time::timeout` polls the request before its timer, so a request answered on its
/// first poll — a warm token, a JWKS GET — never enters the runtime's timer wheel.
/// tower-http's `TimeoutLayer` polls the timer first, which inserts and then removes a timer
/// entry (two locks of the timer driver) on every request: about 2% of the server's CPU on the
/// warm token endpoint (`perf`, 2026-12-04).
async fn answer_within_timeout<F>(request: F) -> Result<Response, Infallible>
where
    F: Future<Output = Result<Response, Infallible>>,
{
    match tokio::time::timeout(REQUEST_TIMEOUT, request).await {
        Ok(answered) => answered,
        Err(_elapsed) => Ok(axum::http::StatusCode::REQUEST_TIMEOUT.into_response()),
    }
}

/// Names the route a request matched in its log span (the path itself when none did).
fn record_route(request: Request) -> Request {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| request.uri().path(), |p| p.as_str());
    tracing::Span::current().record("route", route);
    request
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
        .routes(routes!(secret_scanning::report))
        .merge(management::routes());
    if metrics_on_main {
        api.routes(routes!(metrics))
    } else {
        api
    }
}

/// The OpenAPI document a server with `config` serves at `/openapi.json`.
pub fn openapi_document(config: &Config) -> Bytes {
    let doc = api_routes(config.metrics.on_main_listener())
        .split_for_parts()
        .1;
    openapi::render(doc, config)
}

/// `/metrics` alone, for `metrics.bind`.
pub fn metrics_router(state: AppState) -> HttpService {
    BoxCloneSyncService::new(
        Router::new()
            .route("/metrics", axum::routing::get(metrics))
            .with_state(state),
    )
}

/// How long a scrape waits for the database's key counts.
const HYGIENE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

/// `GET /metrics`: Prometheus text format.
#[utoipa::path(get, path = "/metrics", operation_id = "metrics", tag = "operations",
    responses((status = 200, description = "Prometheus text exposition format", content_type = "text/plain")))]
async fn metrics(
    State(metrics): State<Arc<Metrics>>,
    State(keyring): State<KeyringHandle>,
    State(clock): State<SharedClock>,
    State(management): State<Management>,
) -> Response {
    let now = clock.now();
    // The key-hygiene gauges come from the database; a scrape still answers when it does not
    // (the gauges keep their last values, and the failure is logged).
    let hygiene = crate::manage::key_hygiene(management.store.as_ref(), &management.config, now);
    match tokio::time::timeout(HYGIENE_TIMEOUT, hygiene).await {
        Ok(Ok(hygiene)) => metrics.set_key_hygiene(&hygiene),
        Ok(Err(error)) => tracing::warn!(%error, "cannot count API keys for the metrics"),
        Err(_) => tracing::warn!("counting API keys for the metrics timed out"),
    }
    let body = metrics.render(&keyring.get(), now);
    let content_type = [(header::CONTENT_TYPE, "text/plain; version=0.0.4")];
    (health::Quiet, content_type, body).into_response()
}

/// The span every request's log line belongs to: method, route (recorded once routing has
/// matched it), request id, and the client id once the token endpoint learns it. Never the
/// query string, a header value or a body.
fn request_span(request: &Request<Body>) -> tracing::Span {
    let request_id = request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-");
    tracing::info_span!(
        "request",
        method = %request.method(),
        route = tracing::field::Empty,
        request_id,
        client_id = tracing::field::Empty,
    )
}

/// One line per request, when it is answered: info, or debug for a successful probe or scrape
/// ([`health::Quiet`]). The latency is in milliseconds to the microsecond.
fn log_response(response: &Response, latency: Duration, _: &tracing::Span) {
    let latency_ms = latency_ms(latency);
    let status = response.status().as_u16();
    if response.extensions().get::<health::Quiet>().is_some() {
        tracing::debug!(status, latency_ms, "request");
    } else {
        tracing::info!(status, latency_ms, "request");
    }
}

/// Milliseconds, rounded to three decimals (whole microseconds).
fn latency_ms(latency: Duration) -> f64 {
    let micros = u32::try_from(latency.as_micros()).unwrap_or(u32::MAX);
    f64::from(micros) / 1000.0
}

/// RFC 6749 §5.1: token responses, and errors, must not be cached.
pub fn no_store(response: &mut Response) {
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
}

#[cfg(test)]
mod tests {
    use axum::routing::get;
    use serde_json::Value;
    use tower::ServiceExt;

    use super::*;

    fn app() -> HttpService {
        let routes = Router::new()
            .route("/now", get(|| async { "ok" }))
            .route(
                "/slow/{seconds}",
                get(
                    |axum::extract::Path(seconds): axum::extract::Path<u64>| async move {
                        tokio::time::sleep(Duration::from_secs(seconds)).await;
                        "late"
                    },
                ),
            )
            .route(
                "/echo",
                axum::routing::post(|body: Bytes| async move { body }),
            );
        serve_stack(routes, Arc::new(Metrics::new()))
    }

    async fn get_status(app: &HttpService, path: &str) -> (axum::http::StatusCode, Value) {
        send(app, "GET", path, Body::empty()).await
    }

    async fn send(
        app: &HttpService,
        method: &str,
        path: &str,
        body: Body,
    ) -> (axum::http::StatusCode, Value) {
        let request = Request::builder()
            .method(method)
            .uri(path)
            .header("host", "issuer.test")
            .body(body)
            .unwrap();
        let response = app.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let body = axum::body::to_bytes(response.into_body(), 1 << 16)
            .await
            .unwrap();
        (status, serde_json::from_slice(&body).unwrap_or_default())
    }

    /// The clock is paused: tokio moves it straight to the next timer, so the test takes no
    /// real time.
    #[tokio::test(start_paused = true)]
    async fn a_request_past_the_timeout_is_answered_408_and_one_within_it_is_served() {
        let app = app();
        assert_eq!(get_status(&app, "/now").await.0, axum::http::StatusCode::OK);

        let within = REQUEST_TIMEOUT.as_secs() - 1;
        let (status, _) = get_status(&app, &format!("/slow/{within}")).await;
        assert_eq!(
            status,
            axum::http::StatusCode::OK,
            "{within} s is within the limit"
        );

        let started = tokio::time::Instant::now();
        let past = REQUEST_TIMEOUT.as_secs() + 5;
        let (status, body) = get_status(&app, &format!("/slow/{past}")).await;
        assert_eq!(status, axum::http::StatusCode::REQUEST_TIMEOUT);
        assert_eq!(
            body["error"], "invalid_request",
            "a JSON error body: {body}"
        );
        assert_eq!(
            started.elapsed(),
            REQUEST_TIMEOUT,
            "answered when the limit ran out, not when the handler would have"
        );
    }

    /// A slow peer: a body that sends one byte a minute never holds its request past the
    /// timeout.
    #[tokio::test(start_paused = true)]
    async fn a_body_trickled_in_is_cut_off_at_the_timeout() {
        let app = app();
        let trickle = futures::stream::unfold(0_u8, |sent| async move {
            if sent > 0 {
                tokio::time::sleep(Duration::from_secs(60)).await;
            }
            Some((Ok::<_, std::io::Error>(Bytes::from_static(b"x")), sent + 1))
        });
        let started = tokio::time::Instant::now();
        let (status, body) = send(&app, "POST", "/echo", Body::from_stream(trickle)).await;
        assert_eq!(status, axum::http::StatusCode::REQUEST_TIMEOUT, "{body}");
        assert_eq!(started.elapsed(), REQUEST_TIMEOUT);
    }
}
