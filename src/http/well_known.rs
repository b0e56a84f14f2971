//! Documents resource servers and clients discover: the JWKS and the RFC 8414 metadata.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use headers::{ETag, HeaderMapExt, IfNoneMatch};
use serde_json::json;

use super::Documents;
use crate::config::Config;
use crate::metrics::Metrics;
use crate::signing::keyring::KeyringHandle;

const JSON: HeaderValue = HeaderValue::from_static("application/json");

/// `GET /.well-known/jwks.json`: the public keys in state next, current or retired (RFC 7517 §5).
/// Rendered once per keyring; `If-None-Match` with the current ETag gets 304 (RFC 9110 §13.1.2).
#[utoipa::path(get, path = "/.well-known/jwks.json", operation_id = "jwks", tag = "discovery",
    responses(
        (status = 200, description = "The JWK Set (RFC 7517 §5)", content_type = "application/json",
            headers(("etag" = String), ("cache-control" = String))),
        (status = 304, description = "Not modified (If-None-Match)"),
    ))]
pub async fn jwks(
    State(documents): State<Documents>,
    State(keyring): State<KeyringHandle>,
    State(metrics): State<Arc<Metrics>>,
    // The request rather than a `HeaderMap`, which would be a copy of every header.
    request: Request,
) -> Response {
    let headers = request.headers();
    let keyring = keyring.get();
    let jwks = &keyring.jwks;
    let etag = HeaderValue::from_str(&jwks.etag).unwrap_or(HeaderValue::from_static("\"\""));
    let cache = documents.jwks_cache_control;
    let not_modified = not_modified(headers, &jwks.etag);
    let counter = if not_modified {
        &metrics.hot.jwks_not_modified
    } else {
        &metrics.hot.jwks_ok
    };
    counter.inc();
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

/// RFC 9110 §13.1.2: `If-None-Match` fails (304) when it is `*` or lists a tag that matches
/// `etag` by weak comparison; the headers crate reads the field (every line of it) and compares.
fn not_modified(headers: &HeaderMap, etag: &str) -> bool {
    if !headers.contains_key(header::IF_NONE_MATCH) {
        return false;
    }
    let Ok(etag) = etag.parse::<ETag>() else {
        return false;
    };
    headers
        .typed_get::<IfNoneMatch>()
        .is_some_and(|condition| !condition.precondition_passes(&etag))
}

/// `GET /.well-known/oauth-authorization-server` (RFC 8414 §3).
#[utoipa::path(get, path = "/.well-known/oauth-authorization-server", operation_id = "authorization_server_metadata", tag = "discovery",
    responses((status = 200, description = "Authorization server metadata (RFC 8414 §2)", content_type = "application/json")))]
pub async fn metadata(State(documents): State<Documents>) -> Response {
    let headers = [
        (header::CONTENT_TYPE, JSON),
        (
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=300"),
        ),
    ];
    (headers, documents.metadata).into_response()
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

#[cfg(test)]
mod tests {
    use super::*;

    fn asking(lines: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for line in lines {
            headers.append(header::IF_NONE_MATCH, HeaderValue::from_str(line).unwrap());
        }
        headers
    }

    #[test]
    fn a_matching_tag_weak_or_strong_is_not_modified() {
        assert!(not_modified(&asking(&["\"abc\""]), "\"abc\""));
        assert!(not_modified(&asking(&["W/\"abc\""]), "\"abc\""));
        assert!(!not_modified(&asking(&["\"abd\""]), "\"abc\""));
        assert!(!not_modified(&asking(&[]), "\"abc\""));
    }

    #[test]
    fn a_list_matches_when_any_member_does() {
        assert!(not_modified(&asking(&["\"x\", W/\"abc\""]), "\"abc\""));
        assert!(not_modified(&asking(&["\"x\"", "\"abc\""]), "\"abc\""));
        assert!(!not_modified(&asking(&["\"x\", \"y\""]), "\"abc\""));
    }

    #[test]
    fn a_star_matches_any_current_representation() {
        assert!(not_modified(&asking(&["*"]), "\"abc\""));
    }

    #[test]
    fn an_unreadable_field_is_ignored() {
        assert!(!not_modified(&asking(&["abc"]), "\"abc\""));
    }
}
