//! A panic in a handler costs its own request, not the server: it is caught, logged at error
//! level (its message only: never the request's headers or body), counted in
//! `tokenmint_panics_total{where="request"}`, and answered 500 with tokenmint's JSON body (the
//! middleware around it turns that into a problem document on management paths).

use std::any::Any;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{Response, StatusCode};
use tower_http::catch_panic::{CatchPanicLayer, ResponseForPanic};

use super::errors::error_body;
use crate::metrics::Metrics;

/// What a caught panic is answered with.
#[derive(Clone)]
pub struct PanicResponse {
    metrics: Arc<Metrics>,
}

/// The layer that catches panics of the routes inside it.
pub fn layer(metrics: Arc<Metrics>) -> CatchPanicLayer<PanicResponse> {
    CatchPanicLayer::custom(PanicResponse { metrics })
}

impl ResponseForPanic for PanicResponse {
    type ResponseBody = Body;

    fn response_for_panic(&mut self, panic: Box<dyn Any + Send + 'static>) -> Response<Body> {
        self.metrics.panics.with_label_values(&["request"]).inc();
        tracing::error!(
            panic = message(panic.as_ref()),
            "a request handler panicked; answered 500, the server carries on"
        );
        error_body(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            "the server failed; it has been logged",
        )
    }
}

/// A panic's message, when it has one (`panic!` with text or a format string).
pub fn message(panic: &(dyn Any + Send)) -> &str {
    panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(no message)")
}

#[cfg(test)]
mod tests {
    use axum::Router;
    use axum::http::Request;
    use axum::routing::{get, post};
    use serde_json::Value;
    use tower::ServiceExt;

    use super::*;
    use crate::http::HttpService;

    async fn boom() -> &'static str {
        panic!("deliberate test panic")
    }

    fn app(metrics: Arc<Metrics>) -> HttpService {
        let routes = Router::new()
            .route("/api/oauth/token", post(boom))
            .route("/api/teams", get(boom))
            .route("/healthz", get(|| async { "ok" }));
        super::super::serve_stack(routes, metrics)
    }

    async fn send(app: &HttpService, method: &str, path: &str) -> (StatusCode, String, Value) {
        let request = Request::builder()
            .method(method)
            .uri(path)
            .header("host", "issuer.test")
            .header("authorization", "Basic c2VjcmV0")
            .body(Body::from("client_secret=hunter2"))
            .unwrap();
        let response = app.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let content_type = response.headers()["content-type"].to_str().unwrap().into();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 16)
            .await
            .unwrap();
        (
            status,
            content_type,
            serde_json::from_slice(&bytes).unwrap_or_default(),
        )
    }

    #[tokio::test]
    async fn a_panicking_handler_costs_one_request_a_500_and_is_counted() {
        let metrics = Arc::new(Metrics::new());
        let app = app(Arc::clone(&metrics));
        let panics = || metrics.panics.with_label_values(&["request"]).get();

        let (status, content_type, body) = send(&app, "POST", "/api/oauth/token").await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(content_type, "application/json");
        assert_eq!(body["error"], "server_error", "RFC 6749 §5.2 shape: {body}");
        assert!(body["error_description"].is_string());
        assert_eq!(panics(), 1);

        let (status, content_type, body) = send(&app, "GET", "/api/teams").await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(content_type, "application/problem+json");
        assert_eq!(
            (body["status"].as_u64(), &body["error"]),
            (Some(500), &Value::from("server_error"))
        );
        assert_eq!(panics(), 2);

        let (status, _, _) = send(&app, "GET", "/healthz").await;
        assert_eq!(status, StatusCode::OK, "the next request is served");
    }

    #[test]
    fn panic_messages_are_read_from_text_payloads() {
        assert_eq!(message(&"static"), "static");
        assert_eq!(message(&String::from("formatted")), "formatted");
        assert_eq!(message(&42_u8), "(no message)");
    }
}
