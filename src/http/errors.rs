//! Error bodies. The token endpoint answers RFC 6749 §5.2 JSON, and so does every other error
//! outside the management API (unknown route, wrong method, body too large, timeout) rather
//! than axum's plain text. The management API (`/api/…` but `/api/oauth/…`) answers RFC 9457
//! problem documents, for its own errors and for those the layers around it produce.

use axum::Json;
use axum::body::Body;
use axum::http::{HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::management::problem::{PROBLEM_JSON, Problem};
use super::no_store;
use crate::oauth::OAuthError;

/// An RFC 6749 §5.2 error body.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct OAuthErrorBody<'a> {
    /// `invalid_request`, `invalid_client`, `invalid_scope`, `invalid_target`,
    /// `unsupported_grant_type`, `temporarily_unavailable`, `server_error`, …
    pub error: &'a str,
    pub error_description: &'a str,
}

/// Whether `path` belongs to the management API, whose errors are problem documents.
pub fn is_management_path(path: &str) -> bool {
    path.starts_with("/api/") && !path.starts_with("/api/oauth/")
}

/// RFC 6749 §5.2 status for each error: 401 for `invalid_client` (with the challenge §5.2 asks
/// for), 503 with `Retry-After` when busy, 500 for our own failures, else 400.
pub fn oauth_error(error: &OAuthError) -> Response {
    let status = match error {
        OAuthError::InvalidClient(_) => StatusCode::UNAUTHORIZED,
        OAuthError::TemporarilyUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        OAuthError::ServerError => StatusCode::INTERNAL_SERVER_ERROR,
        OAuthError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
        _ => StatusCode::BAD_REQUEST,
    };
    let mut response = error_body(status, error.code(), error.description());
    let headers = response.headers_mut();
    match error {
        OAuthError::InvalidClient(_) => {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"tokenmint\""),
            );
        }
        OAuthError::TemporarilyUnavailable(_) => {
            headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        OAuthError::RateLimited { retry_after_secs } => {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(*retry_after_secs));
        }
        _ => {}
    }
    response
}

/// `{"error","error_description"}` with `Cache-Control: no-store` (RFC 6749 §5.1, §5.2).
pub fn error_body(status: StatusCode, code: &str, description: &str) -> Response {
    let body = OAuthErrorBody {
        error: code,
        error_description: description,
    };
    let mut response = (status, Json(body)).into_response();
    no_store(&mut response);
    response
}

/// The fallback for unknown routes.
pub async fn not_found(method: Method, uri: Uri) -> Response {
    let description = format!("no route for {method} {}", uri.path());
    if is_management_path(uri.path()) {
        return Problem::not_found(description).into_response();
    }
    error_body(StatusCode::NOT_FOUND, "not_found", &description)
}

/// Gives an error response without a body of the right kind one, in the style of the route
/// (problem documents for the management API, RFC 6749 JSON elsewhere); keeps its status and
/// headers (`Allow`, `Retry-After`).
pub fn fill_error_body(response: Response, management: bool) -> Response {
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let wanted: &[u8] = if management {
        PROBLEM_JSON.as_bytes()
    } else {
        b"application/json"
    };
    let has_body = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(wanted));
    if has_body {
        return response;
    }
    let (code, description) = describe(status);
    let replacement = if management {
        Problem::new(status, code, description).into_response()
    } else {
        error_body(status, code, &description)
    };
    let (mut parts, _) = response.into_parts();
    let (new_parts, body) = replacement.into_parts();
    parts.headers.remove(header::CONTENT_LENGTH);
    for (name, value) in &new_parts.headers {
        parts.headers.insert(name, value.clone());
    }
    Response::from_parts(parts, Body::new(body))
}

/// The code and description of an error response that came without a body.
fn describe(status: StatusCode) -> (&'static str, String) {
    match status {
        StatusCode::NOT_FOUND => ("not_found", "no such resource".to_string()),
        StatusCode::METHOD_NOT_ALLOWED => (
            "invalid_request",
            "this method is not allowed here (the Allow header lists those that are)".to_string(),
        ),
        StatusCode::PAYLOAD_TOO_LARGE => (
            "invalid_request",
            format!(
                "the request body is larger than {} bytes",
                super::MAX_BODY_BYTES
            ),
        ),
        StatusCode::REQUEST_TIMEOUT => ("invalid_request", "the request took too long".to_string()),
        StatusCode::URI_TOO_LONG => (
            "invalid_request",
            format!(
                "the request target is longer than {} bytes",
                super::MAX_HEADER_BYTES
            ),
        ),
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE => (
            "invalid_request",
            format!(
                "the request's headers are too large: at most {} headers of {} bytes in all",
                super::MAX_HEADERS,
                super::MAX_HEADER_BYTES
            ),
        ),
        StatusCode::SERVICE_UNAVAILABLE => ("temporarily_unavailable", "retry shortly".to_string()),
        s if s.is_server_error() => (
            "server_error",
            "the server failed; it has been logged".to_string(),
        ),
        s => (
            "invalid_request",
            s.canonical_reason().unwrap_or("bad request").to_lowercase(),
        ),
    }
}
