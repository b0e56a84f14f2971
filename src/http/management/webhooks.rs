//! `/api/teams/{team}/webhook-secret` and `/api/teams/{team}/webhooks/sign`: a team's webhook
//! signing secrets, and signing with them for the platform's delivery workers.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa::ToSchema;

use super::auth::{CallerAndJson, CallerAndOptionalJson};
use super::problem::{Problem, optional_duration};
use crate::http::{Management, no_store};
use crate::manage::access::Caller;
use crate::webhooks::{SignedHeaders, WebhookError, WebhookSecretView};

/// Reveals the team's webhook signing secret (made on first use), and the previous one during
/// an overlap. Every reveal is in the audit log.
#[utoipa::path(get, path = "/api/teams/{team}/webhook-secret", operation_id = "get_webhook_secret", tag = "webhook secrets",
    params(("team" = String, Path, description = "Team slug")),
    responses(
        (status = 200, description = "The secrets that sign now", body = WebhookSecretView),
        (status = 404, description = "No such team", body = super::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["webhooks:read", "webhooks:write", "admin"])))]
pub async fn reveal(
    State(state): State<Management>,
    caller: Caller,
    Path(team): Path<String>,
) -> Result<Response, Problem> {
    caller.may_read_webhook_secret(&team)?;
    let now = state.clock.now();
    let secrets = state.webhooks.reveal(&team, &caller.actor(), now).await?;
    Ok(secret_response(WebhookSecretView::at(&secrets, now)))
}

/// What `POST /api/teams/{team}/webhook-secret/rotate` takes; the body may be omitted.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RotateSecret {
    /// How long the replaced secret keeps signing beside the new one, such as `24h`, at most
    /// `30d`; `0s` ends it at once [default: `webhooks.overlap`].
    pub overlap: Option<String>,
}

/// A new secret signs from now on; the replaced one signs beside it until the overlap ends, so
/// receivers holding either verify every delivery.
#[utoipa::path(post, path = "/api/teams/{team}/webhook-secret/rotate", operation_id = "rotate_webhook_secret", tag = "webhook secrets",
    params(("team" = String, Path, description = "Team slug")),
    request_body(content = Option<RotateSecret>, description = "Optional", content_type = "application/json"),
    responses(
        (status = 200, description = "The new secret and the previous one", body = WebhookSecretView),
        (status = 400, description = "Invalid overlap", body = super::ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "No such team", body = super::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["webhooks:write", "admin"])))]
pub async fn rotate(
    State(state): State<Management>,
    Path(team): Path<String>,
    CallerAndOptionalJson(caller, request): CallerAndOptionalJson<RotateSecret>,
) -> Result<Response, Problem> {
    caller.may_write_webhook_secret(&team)?;
    let overlap = optional_duration("overlap", request.overlap.as_deref())?;
    let now = state.clock.now();
    let secrets = state
        .webhooks
        .rotate(&team, overlap, &caller.actor(), now)
        .await?;
    Ok(secret_response(WebhookSecretView::at(&secrets, now)))
}

/// Ends the previous secret's overlap now: from this answer on, signatures carry the current
/// secret only.
#[utoipa::path(delete, path = "/api/teams/{team}/webhook-secret/previous", operation_id = "revoke_previous_webhook_secret", tag = "webhook secrets",
    params(("team" = String, Path, description = "Team slug")),
    responses(
        (status = 204, description = "Revoked"),
        (status = 404, description = "No such team, or no previous secret", body = super::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["webhooks:write", "admin"])))]
pub async fn revoke_previous(
    State(state): State<Management>,
    caller: Caller,
    Path(team): Path<String>,
) -> Result<StatusCode, Problem> {
    caller.may_write_webhook_secret(&team)?;
    state
        .webhooks
        .revoke_previous(&team, &caller.actor(), state.clock.now())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// What `POST /api/teams/{team}/webhooks/sign` takes.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignRequest {
    /// The exact payload the delivery will send, as text.
    pub payload: String,
    /// The delivery's `webhook-id`, 1 to 256 visible ASCII characters [default: a new `msg_…`].
    /// Retries of one message keep its id.
    pub id: Option<String>,
    /// The delivery's `webhook-timestamp`, Unix seconds [default: now].
    pub timestamp: Option<i64>,
}

/// Signs a delivery with the team's secrets (both during an overlap) and answers the three
/// Standard Webhooks headers to send with it. The caller never sees a secret. A signature
/// leaves only while the caller's key is known to exist, as a token does (see
/// [`Caller::still_holds`]): once a deletion of the worker's key has returned, it signs nothing.
#[utoipa::path(post, path = "/api/teams/{team}/webhooks/sign", operation_id = "sign_webhook", tag = "webhook secrets",
    params(("team" = String, Path, description = "Team slug")),
    request_body = SignRequest,
    responses(
        (status = 200, description = "The headers to send", body = SignedHeaders),
        (status = 400, description = "Invalid id or timestamp", body = super::ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "No such team", body = super::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["webhooks:sign", "admin"])))]
pub async fn sign(
    State(state): State<Management>,
    Path(team): Path<String>,
    CallerAndJson(caller, body): CallerAndJson<SignRequest>,
) -> Result<Json<SignedHeaders>, Problem> {
    caller.may_sign_webhooks(&team)?;
    let headers = state
        .webhooks
        .sign(
            &team,
            body.id,
            body.timestamp,
            body.payload.as_bytes(),
            &caller.actor(),
            state.clock.now(),
        )
        .await?;
    caller.still_holds(&state.keys, state.clock.now()).await?;
    Ok(Json(headers))
}

/// A response that holds a secret: never stored by a cache.
fn secret_response(view: WebhookSecretView) -> Response {
    let mut response = Json(view).into_response();
    no_store(&mut response);
    response
}

impl From<WebhookError> for Problem {
    fn from(error: WebhookError) -> Self {
        match error {
            WebhookError::NoTeam(slug) => Problem::not_found(format!("no team has slug {slug:?}")),
            WebhookError::NoPrevious(_) => Problem::not_found(error.to_string()),
            WebhookError::BadInput(_) | WebhookError::OverlapTooLong => {
                Problem::bad_request(error.to_string())
            }
            WebhookError::Store(store) => store.into(),
            WebhookError::Sealing(crate::signing::SigningError::Store(store)) => store.into(),
            WebhookError::Contended => Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "temporarily_unavailable",
                error.to_string(),
            ),
            WebhookError::Sealing(_) => super::problem::internal(&error),
        }
    }
}
