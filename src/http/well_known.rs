//! Documents resource servers and clients discover: the JWKS and the RFC 8414 metadata.

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde_json::json;

use super::AppState;
use crate::config::Config;

const JSON: HeaderValue = HeaderValue::from_static("application/json");

/// `GET /.well-known/jwks.json`: the public keys in state next, current or retired (RFC 7517 §5).
/// Rendered once per keyring; `If-None-Match` with the current ETag gets 304 (RFC 9110 §13.1.2).
#[utoipa::path(get, path = "/.well-known/jwks.json", operation_id = "jwks", tag = "discovery",
    responses(
        (status = 200, description = "The JWK Set (RFC 7517 §5)", content_type = "application/json",
            headers(("etag" = String), ("cache-control" = String))),
        (status = 304, description = "Not modified (If-None-Match)"),
    ))]
pub async fn jwks(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let keyring = state.keyring.get();
    let jwks = &keyring.jwks;
    let etag = HeaderValue::from_str(&jwks.etag).unwrap_or(HeaderValue::from_static("\"\""));
    let cache = state.jwks_cache_control.clone();
    let not_modified = if_none_match(&headers, &jwks.etag);
    let status = if not_modified { "304" } else { "200" };
    state
        .metrics
        .jwks_requests
        .with_label_values(&[status])
        .inc();
    if not_modified {
        return (
            StatusCode::NOT_MODIFIED,
            [(header::ETAG, etag), (header::CACHE_CONTROL, cache)],
        )
            .into_response();
    }
    let headers = [
        (header::CONTENT_TYPE, JSON),
        (header::ETAG, etag),
        (header::CACHE_CONTROL, cache),
    ];
    (headers, jwks.body.clone()).into_response()
}

/// RFC 9110 §13.1.2: `*` or any listed entity tag matches (weak comparison).
fn if_none_match(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|value| {
            value
                .split(',')
                .map(|tag| tag.trim().trim_start_matches("W/"))
                .any(|tag| tag == "*" || tag == etag)
        })
}

/// `GET /.well-known/oauth-authorization-server` (RFC 8414 §3).
#[utoipa::path(get, path = "/.well-known/oauth-authorization-server", operation_id = "authorization_server_metadata", tag = "discovery",
    responses((status = 200, description = "Authorization server metadata (RFC 8414 §2)", content_type = "application/json")))]
pub async fn metadata(State(state): State<AppState>) -> Response {
    let headers = [
        (header::CONTENT_TYPE, JSON),
        (
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=300"),
        ),
    ];
    (headers, state.metadata.clone()).into_response()
}

/// The RFC 8414 §2 metadata document for `config`.
pub fn render_metadata(config: &Config) -> Bytes {
    let base = config.issuer_base();
    let document = json!({
        "issuer": config.server.issuer,
        "token_endpoint": format!("{base}/api/oauth/token"),
        "jwks_uri": format!("{base}/.well-known/jwks.json"),
        "grant_types_supported": ["client_credentials"],
        "response_types_supported": [],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "scopes_supported": config
            .keys
            .scopes
            .iter()
            .map(String::as_str)
            .chain(crate::oauth::scope::MANAGEMENT_SCOPES)
            .collect::<Vec<_>>(),
    });
    Bytes::from(document.to_string())
}
