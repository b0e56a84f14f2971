//! `/api/teams/{team}/keys/{client_id}/roll` and `…/previous-secret`: a new secret on the same
//! Client ID, the old one working until the overlap ends or the roll is finished.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa::ToSchema;

use super::auth::CallerAndOptionalJson;
use super::problem::{Problem, optional_duration};
use crate::http::{Management, no_store};
use crate::manage::access::Caller;
use crate::manage::{self, KeyAuthority, RolledKeyView};

/// What `POST /api/teams/{team}/keys/{client_id}/roll` takes; the body may be omitted.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RollRequest {
    /// How long the old secret keeps working, such as `24h`, at most `30d`; `0s` ends it at
    /// once [default: `24h`].
    pub overlap: Option<String>,
}

/// Gives the key a new secret, shown this once; the old secret keeps working until
/// `previous_secret_expires_at`. Rolling again during an overlap ends the older secret.
#[utoipa::path(post, path = "/api/teams/{team}/keys/{client_id}/roll", operation_id = "roll_api_key_secret", tag = "api keys",
    params(("team" = String, Path, description = "Team slug"), ("client_id" = String, Path, description = "Client ID")),
    request_body(content = Option<RollRequest>, description = "Optional", content_type = "application/json"),
    responses(
        (status = 200, description = "The key and its new secret, shown this once", body = RolledKeyView),
        (status = 400, description = "Invalid overlap", body = super::ProblemBody, content_type = "application/problem+json"),
        (status = 403, description = "The key holds a scope this token does not hold", body = super::ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "No such key in this team", body = super::ProblemBody, content_type = "application/problem+json"),
        (status = 409, description = "The key changed meanwhile; roll again", body = super::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["keys:write", "admin"])))]
pub async fn roll(
    State(state): State<Management>,
    Path((team, client_id)): Path<(String, String)>,
    CallerAndOptionalJson(caller, request): CallerAndOptionalJson<RollRequest>,
) -> Result<Response, Problem> {
    caller.may_write_keys(&team)?;
    let overlap = optional_duration("overlap", request.overlap.as_deref())?;
    let now = state.clock.now();
    let rolled = manage::roll_secret(
        state.store.as_ref(),
        &caller.actor(),
        KeyAuthority::Caller {
            caller: &caller,
            team: &team,
        },
        &state.config,
        &client_id,
        overlap,
        now,
    )
    .await?;
    // The roll waited for the token path's leases after its commit; a deletion of the caller's
    // own key in that time may have returned first, and then the new secret does not leave.
    caller.still_holds(&state.keys, state.clock.now()).await?;
    let mut response = Json(RolledKeyView::at(rolled, now)).into_response();
    no_store(&mut response);
    Ok(response)
}

/// Ends the overlap now: once this answers, on every node, the previous secret gets no token.
#[utoipa::path(delete, path = "/api/teams/{team}/keys/{client_id}/previous-secret", operation_id = "finish_api_key_roll", tag = "api keys",
    params(("team" = String, Path, description = "Team slug"), ("client_id" = String, Path, description = "Client ID")),
    responses(
        (status = 204, description = "The previous secret no longer works, on any node"),
        (status = 403, description = "The key holds a scope this token does not hold", body = super::ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "No such key in this team, or no previous secret", body = super::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["keys:write", "admin"])))]
pub async fn finish(
    State(state): State<Management>,
    caller: Caller,
    Path((team, client_id)): Path<(String, String)>,
) -> Result<StatusCode, Problem> {
    caller.may_write_keys(&team)?;
    manage::finish_roll(
        state.store.as_ref(),
        &caller.actor(),
        KeyAuthority::Caller {
            caller: &caller,
            team: &team,
        },
        &client_id,
        state.clock.now(),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}
