//! The one middleware every request passes: limits on the request head, then error bodies of
//! the route's kind for whatever the layers inside produced without one.
//!
//! The head limits sit well inside hyper's own (100 headers, about 400 KiB of buffered head), so
//! an oversized head gets tokenmint's JSON 431 rather than hyper's bodiless one; only a head past
//! hyper's limits is refused by hyper itself.

use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::errors::{fill_error_body, is_management_path};

/// Most header fields a request may carry.
pub const MAX_HEADERS: usize = 64;
/// Most bytes of header names and values a request may carry, all fields together.
pub const MAX_HEADER_BYTES: usize = 16 * 1024;

/// Checks the head, runs the request, and fills in any bodiless error.
pub async fn edge(request: Request, next: Next) -> Response {
    let management = is_management_path(request.uri().path());
    if let Some(refusal) = head_refusal(&request) {
        return fill_error_body(refusal.into_response(), management);
    }
    fill_error_body(next.run(request).await, management)
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
