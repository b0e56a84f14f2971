//! The one middleware every request passes: limits on the request head and the Host check
//! (RFC 9112 §3.2), then error bodies of the route's kind for whatever the layers inside
//! produced without one.
//!
//! The head limits sit well inside hyper's own (256 headers, 128 KiB of buffered head, set in
//! [`super::listener`]), so an oversized head gets tokenmint's JSON 431 rather than hyper's
//! bodiless one; only a head past hyper's limits is refused by hyper itself.

use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::errors::{error_body, fill_error_body, is_management_path};
use super::host::host_refusal;
use super::management::problem::Problem;

use super::{MAX_HEADER_BYTES, MAX_HEADERS};

/// Checks the head, runs the request, and fills in any bodiless error.
pub async fn check_head_and_fill_errors(request: Request, next: Next) -> Response {
    let management = is_management_path(request.uri().path());
    if let Some(refusal) = head_refusal(&request) {
        record_unrouted(&request);
        return fill_error_body(refusal.into_response(), management);
    }
    if let Some(description) = host_refusal(request.version(), request.headers()) {
        record_unrouted(&request);
        return if management {
            Problem::bad_request(description).into_response()
        } else {
            error_body(StatusCode::BAD_REQUEST, "invalid_request", description)
        };
    }
    fill_error_body(next.run(request).await, management)
}

/// Names the path in the request log of a request refused before routing (the router names
/// the matched route of every other).
fn record_unrouted(request: &Request) {
    let path = request.uri().path();
    // A target refused for its length is not copied into the log.
    let route = if path.len() > 256 { "(too long)" } else { path };
    tracing::Span::current().record("route", route);
}

/// RFC 6585 §5: 431 when the header fields are too many or too large together; RFC 9110
/// §15.5.15: 414 for a request target longer than the same budget.
fn head_refusal(request: &Request) -> Option<StatusCode> {
    let target = request
        .uri()
        .path_and_query()
        .map_or(0, |t| t.as_str().len());
    if target > MAX_HEADER_BYTES {
        return Some(StatusCode::URI_TOO_LONG);
    }
    let headers = request.headers();
    let bytes: usize = headers
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len())
        .sum();
    (headers.len() > MAX_HEADERS || bytes > MAX_HEADER_BYTES)
        .then_some(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE)
}
