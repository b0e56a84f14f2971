//! `POST /api/oauth/token` (RFC 6749 §4.4): reads the body, hands it to the grant, and shapes
//! the §5.1 response or §5.2 error.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequest, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde::Serialize;

use super::TokenEndpoint;
use super::errors::{OAuthErrorBody, error_body, oauth_error};
use super::no_store;
use crate::oauth::OAuthError;
use crate::oauth::grant::IssuedToken;
use crate::oauth::request::TokenParams;

/// Room in a token response for everything but the token and the scope: member names, quotes,
/// `Bearer` and `expires_in` (about 70 bytes).
const RESPONSE_ROOM: usize = 96;

/// RFC 6749 §5.1 successful response: the schema of what [`token_response_json`] writes
/// (its tests check that the two agree).
#[derive(Serialize, utoipa::ToSchema)]
#[cfg_attr(not(test), allow(dead_code))]
struct TokenResponse<'a> {
    /// An RFC 9068 JWT (`typ: at+jwt`).
    access_token: &'a str,
    /// Always `Bearer`.
    token_type: &'static str,
    /// Seconds until `exp`.
    expires_in: i64,
    /// The scopes granted, space-separated.
    scope: &'a str,
}

/// The parameters of a token request (RFC 6749 §4.4.2, RFC 8707 §2), as a form or JSON.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
struct TokenRequest {
    /// Must be `client_credentials`.
    grant_type: String,
    /// Space-separated subset of the key's scopes [default: all it holds for the audience].
    scope: Option<String>,
    /// An audience the token is for; may repeat. The issuer URL asks for a token for the
    /// management API (for keys holding a management scope).
    resource: Option<Vec<String>>,
    /// Like `resource`, once; not with it.
    audience: Option<String>,
    /// `client_secret_post`; otherwise use HTTP Basic (`client_secret_basic`).
    client_id: Option<String>,
    client_secret: Option<String>,
}

/// The token endpoint. It takes the request whole and moves its headers out, where the `Parts`
/// or `HeaderMap` extractors would copy every header (and every extension) of every request.
#[utoipa::path(post, path = "/api/oauth/token", operation_id = "token", tag = "oauth",
    request_body(content(
        (TokenRequest = "application/x-www-form-urlencoded"),
        (TokenRequest = "application/json"),
    )),
    responses(
        (status = 200, description = "An access token (RFC 6749 §5.1)", body = TokenResponse,
            headers(("cache-control" = String, description = "no-store"))),
        (status = 400, description = "invalid_request, invalid_scope, invalid_target or unsupported_grant_type (§5.2)", body = OAuthErrorBody),
        (status = 401, description = "invalid_client: unknown, wrong, deleted or expired key", body = OAuthErrorBody,
            headers(("www-authenticate" = String))),
        (status = 413, description = "Body too large", body = OAuthErrorBody),
        (status = 415, description = "Unsupported content type", body = OAuthErrorBody),
        (status = 429, description = "Rate limited", body = OAuthErrorBody, headers(("retry-after" = String))),
        (status = 503, description = "Busy or database unavailable", body = OAuthErrorBody, headers(("retry-after" = String))),
    ),
    security((), ("client_secret_basic" = [])))]
pub async fn issue(
    State(state): State<TokenEndpoint>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    mut request: Request,
) -> Response {
    let started = std::time::Instant::now();
    let headers = std::mem::take(request.headers_mut());
    let body = match Bytes::from_request(request, &()).await {
        Ok(body) => body,
        Err(rejection) => return rejection.into_response(),
    };
    let client_ip = state.proxies.client_ip(peer.ip(), &headers);
    let (outcome, response) = answer(&state, &headers, &body, client_ip).await;
    let metrics = state.issuer.metrics();
    if outcome == "issued" {
        metrics.hot.tokens_issued.inc();
    } else {
        metrics.token_requests.with_label_values(&[outcome]).inc();
    }
    metrics
        .token_seconds
        .observe(started.elapsed().as_secs_f64());
    response
}

/// The response, and the outcome it is counted under (`issued` or the error code).
async fn answer(
    state: &TokenEndpoint,
    headers: &HeaderMap,
    body: &[u8],
    client_ip: IpAddr,
) -> (&'static str, Response) {
    let params = match read_params(headers, body) {
        Ok(params) => params,
        Err(BodyError::UnsupportedMediaType) => {
            let response = error_body(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "invalid_request",
                "send the parameters as application/x-www-form-urlencoded (or application/json)",
            );
            return ("invalid_request", response);
        }
        Err(BodyError::Invalid(error)) => return (error.code(), oauth_error(&error)),
    };
    let authorization: Vec<&[u8]> = headers
        .get_all(header::AUTHORIZATION)
        .iter()
        .map(|v| v.as_bytes())
        .collect();
    match state.issuer.issue(&params, &authorization, client_ip).await {
        Ok(token) => {
            let json = match token_response_json(&token) {
                Ok(json) => json,
                Err(error) => {
                    tracing::error!(%error, "the token response could not be written");
                    return ("server_error", oauth_error(&OAuthError::ServerError));
                }
            };
            let mut response = (
                [(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                )],
                json,
            )
                .into_response();
            no_store(&mut response);
            ("issued", response)
        }
        Err(error @ OAuthError::RateLimited { .. }) => ("rate_limited", oauth_error(&error)),
        Err(error) => (error.code(), oauth_error(&error)),
    }
}

/// The §5.1 body of `token`, as [`TokenResponse`] serializes, sized up front (where `Json`
/// would start small and grow three times for a token of 600 bytes). The access token is
/// copied as it is: serde_json looks at every byte of a string for one to escape, about 2% of a
/// token request's instructions for 700 bytes that hold none — a JWS in compact serialization
/// is base64url and dots (RFC 7515 §7.1). The scope goes through serde_json.
fn token_response_json(token: &IssuedToken) -> Result<Vec<u8>, serde_json::Error> {
    debug_assert!(
        is_compact_jws(&token.access_token),
        "an access token of {} bytes that is not a compact JWS",
        token.access_token.len()
    );
    let room = token.access_token.len() + token.scope.len() + RESPONSE_ROOM;
    let mut json = Vec::with_capacity(room);
    json.extend_from_slice(br#"{"access_token":""#);
    json.extend_from_slice(token.access_token.as_bytes());
    json.extend_from_slice(br#"","token_type":"Bearer","expires_in":"#);
    serde_json::to_writer(&mut json, &token.expires_in)?;
    json.extend_from_slice(br#","scope":"#);
    serde_json::to_writer(&mut json, &token.scope)?;
    json.push(b'}');
    Ok(json)
}

/// Base64url and dots only: nothing JSON escapes.
fn is_compact_jws(token: &str) -> bool {
    token
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// Why the body could not be read.
enum BodyError {
    UnsupportedMediaType,
    Invalid(OAuthError),
}

/// Reads the parameters from a form (RFC 6749 §4.4.2) or JSON body. An empty body without a
/// content type reads as an empty form, so the client learns which parameter is missing.
fn read_params(headers: &HeaderMap, body: &[u8]) -> Result<TokenParams, BodyError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        });
    let parsed = match content_type.as_deref() {
        Some("application/x-www-form-urlencoded") => TokenParams::from_form(body),
        Some("application/json") => TokenParams::from_json(body),
        None if body.is_empty() => TokenParams::from_form(body),
        _ => return Err(BodyError::UnsupportedMediaType),
    };
    parsed.map_err(BodyError::Invalid)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn issued(access_token: &str, scope: &str, expires_in: i64) -> IssuedToken {
        IssuedToken {
            access_token: access_token.into(),
            expires_in,
            scope: scope.into(),
            client_id: "dh_live_x".into(),
        }
    }

    #[test]
    fn the_token_response_is_what_serde_writes_for_its_schema() {
        let cases = [
            (
                "eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJ4In0.a-b_c",
                "monitors:read logs:read",
                86_400,
            ),
            ("a.b.c", "", 0),
            ("a.b.c", "quote\" back\\slash \u{1} é", i64::MAX),
            ("a.b.c", "x", i64::MIN),
        ];
        for (access_token, scope, expires_in) in cases {
            let written = token_response_json(&issued(access_token, scope, expires_in)).unwrap();
            let schema = TokenResponse {
                access_token,
                token_type: "Bearer",
                expires_in,
                scope,
            };
            let serde = serde_json::to_vec(&schema).unwrap();
            assert_eq!(
                String::from_utf8(written).unwrap(),
                String::from_utf8(serde).unwrap()
            );
        }
    }

    #[test]
    fn only_base64url_and_dots_pass_for_a_compact_jws() {
        assert!(is_compact_jws("eyJh.eyJp.AZaz09-_"));
        for text in ["a\"b", "a\\b", "a b", "a\nb", "é", "a/b+c="] {
            assert!(!is_compact_jws(text), "{text:?}");
        }
    }
}
