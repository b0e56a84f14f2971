//! `/api/admin/signing-keys`: listing, rotating and revoking the keys that sign access tokens.
//! A change made here is loaded by this node at once and by the others within `signing.refresh`.

use axum::Json;
use axum::extract::{Path, State};
use serde::Deserialize;
use utoipa::ToSchema;

use super::auth::CallerAndOptionalJson;
use super::pages::Page;
use super::problem::Problem;
use crate::http::Management;
use crate::manage::access::Caller;

use crate::signing::service::{Revocation, Rotation, SigningKeyInfo};

/// Every signing key and its state.
#[utoipa::path(get, path = "/api/admin/signing-keys", operation_id = "list_signing_keys", tag = "signing keys",
    responses((status = 200, description = "Every signing key", body = Page<SigningKeyInfo>)),
    security(("bearer" = ["admin"])))]
pub async fn list(
    State(state): State<Management>,
    caller: Caller,
) -> Result<Json<Page<SigningKeyInfo>>, Problem> {
    caller.may_administer()?;
    let items = state.signing.list(state.clock.now()).await?;
    caller.still_holds(&state.keys, state.clock.now()).await?;
    Ok(Json(Page {
        items,
        next_cursor: None,
    }))
}

/// What `POST /api/admin/signing-keys/rotate` takes; the body may be empty.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RotateRequest {
    /// Sign with the new key at once (for a suspected leak) instead of after
    /// `signing.publish_ahead`.
    #[serde(default)]
    pub now: bool,
}

/// Starts a rotation: a new key is published now and signs after `signing.publish_ahead`, or
/// at once with `{"now": true}`.
#[utoipa::path(post, path = "/api/admin/signing-keys/rotate", operation_id = "rotate_signing_keys", tag = "signing keys",
    request_body(content = Option<RotateRequest>, description = "Optional", content_type = "application/json"),
    responses((status = 200, description = "The new or pending key", body = Rotation)),
    security(("bearer" = ["admin"])))]
pub async fn rotate(
    State(state): State<Management>,
    CallerAndOptionalJson(caller, request): CallerAndOptionalJson<RotateRequest>,
) -> Result<Json<Rotation>, Problem> {
    caller.may_administer()?;
    let now = state.clock.now();
    let rotation = state
        .signing
        .rotate(now, request.now, &caller.actor())
        .await?;
    reload(&state).await;
    // A rotation with nothing to do (a key already pending) writes nothing, so no transaction
    // checked the caller's key: the answer leaves only while the key is known to exist.
    caller.still_holds(&state.keys, state.clock.now()).await?;
    Ok(Json(rotation))
}

/// Revokes a key: out of the JWKS at once, tokens it signed stop validating; if it was the
/// current key, a new one takes over in the same transaction.
#[utoipa::path(post, path = "/api/admin/signing-keys/{kid}/revoke", operation_id = "revoke_signing_key", tag = "signing keys",
    params(("kid" = String, Path, description = "The key's kid")),
    responses(
        (status = 200, description = "Revoked", body = Revocation),
        (status = 404, description = "No such key", body = super::ProblemBody, content_type = "application/problem+json"),
        (status = 409, description = "Already revoked", body = super::ProblemBody, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["admin"])))]
pub async fn revoke(
    State(state): State<Management>,
    caller: Caller,
    Path(kid): Path<String>,
) -> Result<Json<Revocation>, Problem> {
    caller.may_administer()?;
    let now = state.clock.now();
    let revocation = state.signing.revoke(&kid, now, &caller.actor()).await?;
    reload(&state).await;
    Ok(Json(revocation))
}

/// Loads the change into this node's keyring now rather than at the next refresh tick.
async fn reload(state: &Management) {
    if let Err(error) = state
        .signing
        .refresh_once(&state.keyring, state.clock.now())
        .await
    {
        tracing::warn!(%error, "signing keys changed but not reloaded yet; the next refresh retries");
    }
}
