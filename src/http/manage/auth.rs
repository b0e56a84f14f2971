//! Who is calling: a Bearer access token (RFC 6750 §2.1) issued by this issuer for its own
//! audience, verified locally against the published signing keys, whose API key still exists.
//!
//! Checking the key on every request costs one indexed read (the token endpoint makes the same
//! one) and means a deleted or expired admin key loses its power at once, not when its tokens
//! run out.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::header;
use axum::http::request::Parts;
use serde_json::Value;

use super::problem::Problem;
use crate::http::AppState;
use crate::manage::access::Caller;

impl FromRequestParts<AppState> for Caller {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Problem> {
        let token = bearer_token(parts)?;
        let issuer = &state.config.server.issuer;
        let claims = state
            .keyring
            .get()
            .verifier
            .verify(token, issuer, issuer)
            .map_err(|e| Problem::invalid_token(e.to_string()))?;
        let client_id = claims
            .get("client_id")
            .and_then(Value::as_str)
            .ok_or_else(|| Problem::invalid_token("the token names no client_id"))?;
        let key = state.store.credential(client_id).await?;
        let now = crate::store::now();
        let Some(key) = key.filter(|k| k.expires_at.is_none_or(|t| t > now)) else {
            return Err(Problem::invalid_token(
                "the API key this token was issued to was deleted or has expired",
            ));
        };
        let scopes = claims
            .get("scope")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .split(' ')
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect();
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map_or([127, 0, 0, 1].into(), |c| c.0.ip());
        tracing::Span::current().record("client_id", client_id);
        Ok(Caller {
            client_id: key.client_id,
            team: key.team,
            scopes,
            ip: state.proxies.client_ip(peer, &parts.headers),
        })
    }
}

/// The token of the one `Authorization: Bearer` header (the scheme is case-insensitive,
/// RFC 9110 §11.1).
fn bearer_token(parts: &Parts) -> Result<&str, Problem> {
    let mut headers = parts.headers.get_all(header::AUTHORIZATION).iter();
    let (Some(value), None) = (headers.next(), headers.next()) else {
        return Err(if parts.headers.contains_key(header::AUTHORIZATION) {
            Problem::invalid_auth_request("send one Authorization header, not several")
        } else {
            Problem::no_token()
        });
    };
    let text = value
        .to_str()
        .map_err(|_| Problem::invalid_auth_request("the Authorization header is not ASCII"))?;
    match text.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => {
            let token = token.trim();
            if token.is_empty() || !token.bytes().all(is_token68) {
                return Err(Problem::invalid_token("the bearer token is malformed"));
            }
            Ok(token)
        }
        _ => Err(Problem::no_token()),
    }
}

/// RFC 6750 §2.1 `b64token` characters.
fn is_token68(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/' | b'=')
}
