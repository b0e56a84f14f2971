//! Errors of the management API as RFC 9457 (formerly RFC 7807) problem documents, and the JSON
//! body reader and the query extractor whose every rejection is one.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;
use utoipa::ToSchema;

use crate::manage::ManageError;
use crate::manage::access::Denied;
use crate::signing::lifecycle::LifecycleError;
use crate::signing::service::OperationError;
use crate::store::StoreError;

/// `Content-Type` of every problem document (RFC 9457 §3).
pub const PROBLEM_JSON: &str = "application/problem+json";

/// An RFC 9457 problem document. `error` repeats the problem's code in the OAuth style
/// (`invalid_token`, `insufficient_scope`, …) for clients that look for it there.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProblemBody {
    /// `urn:tokenmint:problem:<error>`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The HTTP status's reason phrase.
    pub title: String,
    pub status: u16,
    /// What went wrong, for a person.
    pub detail: String,
    /// The problem's code: `invalid_request`, `invalid_token`, `insufficient_scope`,
    /// `not_found`, `conflict`, `unsupported_media_type`, `temporarily_unavailable`, …
    pub error: String,
}

/// A problem response, with the challenge or retry hint that goes with it.
#[derive(Debug)]
pub struct Problem {
    status: StatusCode,
    error: &'static str,
    detail: String,
    /// `WWW-Authenticate` (RFC 6750 §3).
    challenge: Option<String>,
}

impl Problem {
    pub fn new(status: StatusCode, error: &'static str, detail: impl Into<String>) -> Self {
        Self {
            status,
            error,
            detail: detail.into(),
            challenge: None,
        }
    }

    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", detail)
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", detail)
    }

    /// RFC 6750 §3.1: no token at all gets the bare challenge, with no error code.
    pub fn no_token() -> Self {
        let mut problem = Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "send an access token for the management API: Authorization: Bearer <token>",
        );
        problem.challenge = Some("Bearer realm=\"tokenmint\"".into());
        problem
    }

    /// RFC 6750 §3.1 `invalid_token`: expired, revoked, malformed or not for this API.
    pub fn invalid_token(detail: impl Into<String>) -> Self {
        let detail = detail.into();
        let mut problem = Self::new(StatusCode::UNAUTHORIZED, "invalid_token", detail.clone());
        problem.challenge = Some(format!(
            "Bearer realm=\"tokenmint\", error=\"invalid_token\", error_description=\"{}\"",
            quoted(&detail)
        ));
        problem
    }

    /// RFC 6750 §3.1 `invalid_request` for a malformed `Authorization` header.
    pub fn invalid_auth_request(detail: impl Into<String>) -> Self {
        let mut problem = Self::bad_request(detail);
        problem.challenge = Some("Bearer realm=\"tokenmint\", error=\"invalid_request\"".into());
        problem
    }

    /// The body, as it is sent.
    fn body(&self) -> ProblemBody {
        ProblemBody {
            kind: format!("urn:tokenmint:problem:{}", self.error),
            title: self
                .status
                .canonical_reason()
                .unwrap_or("Error")
                .to_string(),
            status: self.status.as_u16(),
            detail: self.detail.clone(),
            error: self.error.to_string(),
        }
    }
}

/// A challenge attribute's quoted-string content: no quotes or backslashes, printable ASCII.
fn quoted(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '"' | '\\' => '\'',
            c if c.is_ascii_graphic() || c == ' ' => c,
            _ => '?',
        })
        .collect()
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        #[allow(clippy::expect_used)]
        let body = serde_json::to_vec(&self.body())
            .expect("invariant: a problem document of strings and a number serializes");
        let mut response = (self.status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if let Some(challenge) = self.challenge.and_then(|c| HeaderValue::try_from(c).ok()) {
            headers.insert(header::WWW_AUTHENTICATE, challenge);
        }
        if matches!(
            self.status,
            StatusCode::SERVICE_UNAVAILABLE | StatusCode::TOO_MANY_REQUESTS
        ) {
            headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        response
    }
}

impl From<Denied> for Problem {
    /// RFC 6750 §3.1 `insufficient_scope`, naming the scopes that would do.
    fn from(denied: Denied) -> Self {
        let mut problem = Self::new(StatusCode::FORBIDDEN, "insufficient_scope", denied.reason);
        problem.challenge = Some(format!(
            "Bearer realm=\"tokenmint\", error=\"insufficient_scope\", scope=\"{}\"",
            denied.scope
        ));
        problem
    }
}

impl From<StoreError> for Problem {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Unavailable(_) => {
                tracing::warn!(%error, "database unavailable on the management API");
                Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "temporarily_unavailable",
                    "the issuer's database is unavailable; retry shortly",
                )
            }
            StoreError::Conflict(what) => Self::new(
                StatusCode::CONFLICT,
                "conflict",
                format!("{what} already exists"),
            ),
            StoreError::NotFound(what) => Self::not_found(format!("{what} does not exist")),
            StoreError::ActorGone(_) => Self::invalid_token(
                "the API key this token was issued to was deleted or has expired",
            ),
            other => internal(&other),
        }
    }
}

impl From<ManageError> for Problem {
    fn from(error: ManageError) -> Self {
        match error {
            ManageError::InvalidSlug(_)
            | ManageError::Invalid(_)
            | ManageError::UnknownScope { .. } => Self::bad_request(error.to_string()),
            ManageError::TeamExists(_) | ManageError::Conflict(_) => {
                Self::new(StatusCode::CONFLICT, "conflict", error.to_string())
            }
            ManageError::NoPreviousSecret(_) => Self::not_found(error.to_string()),
            ManageError::UnknownTeam(slug) => Self::not_found(format!("no team has slug {slug:?}")),
            ManageError::UnknownKey(_) => Self::not_found(error.to_string()),
            ManageError::Denied(denied) => denied.into(),
            ManageError::Store(store) => store.into(),
            ManageError::Internal(_) => internal(&error),
        }
    }
}

impl From<OperationError> for Problem {
    fn from(error: OperationError) -> Self {
        match error {
            OperationError::Refused(LifecycleError::UnknownKid(_)) => {
                Self::not_found(error.to_string())
            }
            OperationError::Refused(LifecycleError::AlreadyRevoked(_)) => {
                Self::new(StatusCode::CONFLICT, "conflict", error.to_string())
            }
            OperationError::Contended => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "temporarily_unavailable",
                error.to_string(),
            ),
            OperationError::Signing(crate::signing::SigningError::Store(store)) => store.into(),
            OperationError::Signing(_) => internal(&error),
        }
    }
}

/// Our own failure: logged in full, sent without detail.
pub(super) fn internal(error: &dyn std::error::Error) -> Problem {
    tracing::error!(%error, "management API request failed");
    Problem::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "server_error",
        "the server failed; it has been logged",
    )
}

/// The answer for a body that could not be read: 413 past the limit, else 400.
pub(super) fn unreadable_body(error: &axum::Error) -> Problem {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(error) = cause {
        if error.is::<http_body_util::LengthLimitError>() {
            return too_large();
        }
        cause = error.source();
    }
    Problem::bad_request(format!("the request body cannot be read: {error}"))
}

/// 415 unless the body is declared `application/json` (parameters such as `charset` aside).
fn require_json(headers: &HeaderMap) -> Result<(), Problem> {
    let essence = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase());
    if essence.as_deref() == Some("application/json") {
        return Ok(());
    }
    Err(Problem::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
        "send the request body as application/json",
    ))
}

/// axum's JSON rejection as this API's problem document.
fn json_problem(rejection: JsonRejection) -> Problem {
    match rejection {
        JsonRejection::JsonDataError(e) => invalid_json(&e),
        JsonRejection::JsonSyntaxError(e) => invalid_json(&e),
        other => Problem::bad_request(format!("the request body cannot be read: {other}")),
    }
}

/// The detail of a body that is not JSON, or not of the expected shape: serde's own words.
fn invalid_json(error: &dyn std::error::Error) -> Problem {
    let detail = error
        .source()
        .map_or_else(|| error.to_string(), |e| e.to_string());
    Problem::bad_request(format!("the JSON body is not valid here: {detail}"))
}

fn too_large() -> Problem {
    Problem::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "invalid_request",
        format!(
            "the request body is larger than {} bytes",
            crate::http::MAX_BODY_BYTES
        ),
    )
}

/// Reads a JSON body already in hand, as `T`, through axum's [`Json::from_bytes`], with its
/// rejections as problem documents: a wrong content type is 415, and a body that is not JSON
/// or not of `T`'s shape (an unknown or repeated member included) 400. (A body over the limit
/// is 413 before it gets here: `unreadable_body`.)
///
/// Two choices keep the answers this API has always given: a body of the wrong shape is 400
/// (axum says 422), and only `application/json` itself is JSON here (axum also takes
/// `application/*+json`, which stays 415).
pub fn parse_json<T: DeserializeOwned>(headers: &HeaderMap, body: &[u8]) -> Result<T, Problem> {
    require_json(headers)?;
    let Json(value) = Json::<T>::from_bytes(body).map_err(json_problem)?;
    Ok(value)
}

/// A body that may be omitted: `T::default()` when it is empty, else as [`parse_json`] reads it.
pub fn parse_optional_json<T: DeserializeOwned + Default>(
    headers: &HeaderMap,
    body: &[u8],
) -> Result<T, Problem> {
    if body.is_empty() {
        return Ok(T::default());
    }
    parse_json(headers, body)
}

/// A duration member such as `overlap`, when given; a 400 problem naming the member when it is
/// not a duration.
pub fn optional_duration(
    member: &str,
    text: Option<&str>,
) -> Result<Option<std::time::Duration>, Problem> {
    text.map(crate::config::duration::parse)
        .transpose()
        .map_err(|e| Problem::bad_request(format!("{member}: {e}")))
}

/// Query parameters read into `T`; anything malformed or unknown is a 400 problem.
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> axum::extract::FromRequestParts<S> for ApiQuery<T> {
    type Rejection = Problem;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, Problem> {
        axum::extract::Query::try_from_uri(&parts.uri)
            .map(|q| ApiQuery(q.0))
            .map_err(|e| Problem::bad_request(format!("invalid query: {}", e.body_text())))
    }
}
