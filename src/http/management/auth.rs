//! The management API's caller, from the request: the one `Authorization: Bearer` header
//! (RFC 6750 §2.1) and the client's address. Who the token stands for is decided by
//! [`access::caller_of`].
//!
//! A request with a body is judged once the whole body has arrived ([`CallerAndJson`],
//! [`CallerAndOptionalJson`]): a client cannot send its headers before its key is deleted and
//! trickle the body in after the deletion returned, to act with a key that no longer exists.
//! [`Caller`] alone, judged on the head, is for routes that take no body.

use std::net::SocketAddr;

use super::problem::{Problem, parse_json, parse_optional_json};
use crate::http::Management;
use crate::manage::access::{self, Caller, NotACaller};
use crate::oauth::OAuthError;
use axum::extract::{ConnectInfo, FromRef, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use bytes::Bytes;
use serde::de::DeserializeOwned;

impl<S> FromRequestParts<S> for Caller
where
    S: Send + Sync,
    Management: FromRef<S>,
{
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Problem> {
        let state = Management::from_ref(state);
        let token = bearer_token(parts)?;
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map_or([127, 0, 0, 1].into(), |c| c.0.ip());
        let ip = state.proxies.client_ip(peer, &parts.headers);
        let issuer = &state.config.server.issuer;
        let verifier = &state.keyring.get().verifier;
        let now = state.clock.now();
        let caller = access::caller_of(&state.keys, verifier, issuer, token, ip, now).await?;
        tracing::Span::current().record("client_id", caller.client_id.as_str());
        Ok(caller)
    }
}

impl From<NotACaller> for Problem {
    fn from(refusal: NotACaller) -> Self {
        match refusal {
            NotACaller::InvalidToken(reason) => Problem::invalid_token(reason),
            NotACaller::Unreadable(OAuthError::TemporarilyUnavailable(detail)) => Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "temporarily_unavailable",
                detail,
            ),
            NotACaller::Unreadable(error) => super::problem::internal(&error),
        }
    }
}

/// The caller and the JSON body of a request that has one, the caller checked only once the
/// body is complete (see the module doc). The answers keep their order: 401 for the token
/// before 413, 415 or 400 for the body.
pub struct CallerAndJson<T>(pub Caller, pub T);

impl<S, T> FromRequest<S> for CallerAndJson<T>
where
    S: Send + Sync,
    Management: FromRef<S>,
    T: DeserializeOwned,
{
    type Rejection = Problem;

    async fn from_request(request: Request, state: &S) -> Result<Self, Problem> {
        let (caller, parts, bytes) = caller_after_body(request, state).await?;
        Ok(Self(caller, parse_json(&parts.headers, &bytes)?))
    }
}

/// Like [`CallerAndJson`], for a body that may be left out: `T::default()` when it is empty.
pub struct CallerAndOptionalJson<T>(pub Caller, pub T);

impl<S, T> FromRequest<S> for CallerAndOptionalJson<T>
where
    S: Send + Sync,
    Management: FromRef<S>,
    T: DeserializeOwned + Default,
{
    type Rejection = Problem;

    async fn from_request(request: Request, state: &S) -> Result<Self, Problem> {
        let (caller, parts, bytes) = caller_after_body(request, state).await?;
        Ok(Self(caller, parse_optional_json(&parts.headers, &bytes)?))
    }
}

/// Reads the whole body, then judges the caller: a 401 before a body's 413 or 400.
async fn caller_after_body<S>(
    request: Request,
    state: &S,
) -> Result<(Caller, Parts, Bytes), Problem>
where
    S: Send + Sync,
    Management: FromRef<S>,
{
    let (mut parts, body) = request.into_parts();
    // The body limit layer bounds what is read here.
    let body = axum::body::to_bytes(body, usize::MAX).await;
    let caller = Caller::from_request_parts(&mut parts, state).await?;
    let bytes = body.map_err(|error| super::problem::unreadable_body(&error))?;
    Ok((caller, parts, bytes))
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
            if token.is_empty() || !all_token68(token.as_bytes()) {
                return Err(Problem::invalid_token("the bearer token is malformed"));
            }
            Ok(token)
        }
        _ => Err(Problem::no_token()),
    }
}

/// Whether every byte is an RFC 6750 §2.1 `b64token` character. It looks at every byte rather
/// than stopping at the first stranger, so the compiler checks 16 at a time (SSE2): a bearer
/// token is some 700 bytes, and a byte at a time was 1% of a webhook signing request.
fn all_token68(bytes: &[u8]) -> bool {
    bytes.iter().fold(true, |all, &b| all & is_token68(b))
}

/// RFC 6750 §2.1 `b64token` characters.
fn is_token68(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/' | b'=')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_byte_of_a_bearer_token_is_checked_wherever_it_sits() {
        let alphabet = b"ABCXYZabcxyz0189-._~+/=";
        let token: Vec<u8> = alphabet.iter().copied().cycle().take(700).collect();
        assert!(all_token68(&token));
        for stranger in (0..=255u8).filter(|&b| !is_token68(b)) {
            for at in [0, 1, 15, 16, 17, 31, 32, 350, 698, 699] {
                let mut bad = token.clone();
                bad[at] = stranger;
                assert!(!all_token68(&bad), "byte {stranger:#04x} at {at}");
            }
        }
        assert_eq!(
            (0..=255u8).filter(|&b| is_token68(b)).count(),
            26 + 26 + 10 + 7,
            "RFC 6750 §2.1: ALPHA, DIGIT and -._~+/ with = padding"
        );
    }
}
