//! `/api/admin/signing-keys`: listing, rotating and revoking the keys that sign access tokens.
//! A change made here is loaded by this node at once and by the others within `signing.refresh`.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::pages::Page;
use super::problem::{Problem, parse_json};
use crate::http::AppState;
use crate::manage::access::Caller;
use crate::signing::lifecycle::KeyState;
use crate::signing::operations::SigningKeyInfo;

/// Every signing key and its state.
#[utoipa::path(get, path = "/api/admin/signing-keys", operation_id = "list_signing_keys", tag = "signing keys",
    responses((status = 200, description = "Every signing key", body = Page<SigningKeyInfo>)),
    security(("bearer" = ["admin"])))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Page<SigningKeyInfo>>, Problem> {
    caller.may_administer()?;
    let items = state.signing.list(crate::store::now()).await?;
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

/// The outcome of a rotation.
#[derive(Debug, Serialize, ToSchema)]
pub struct Rotation {
    /// False when a staged rotation was already pending (nothing was changed).
    pub started: bool,
    /// The new key (`next`, or `current` with `now`), or the one already pending.
    pub key: Option<SigningKeyInfo>,
}

/// Starts a rotation: a new key is published now and signs after `signing.publish_ahead`, or
/// at once with `{"now": true}`.
#[utoipa::path(post, path = "/api/admin/signing-keys/rotate", operation_id = "rotate_signing_keys", tag = "signing keys",
    request_body(content = Option<RotateRequest>, description = "Optional", content_type = "application/json"),
    responses((status = 200, description = "The new or pending key", body = Rotation)),
    security(("bearer" = ["admin"])))]
pub async fn rotate(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Rotation>, Problem> {
    caller.may_administer()?;
    let request: RotateRequest = if body.is_empty() {
        RotateRequest::default()
    } else {
        parse_json(&headers, &body)?
    };
    let now = crate::store::now();
    let steps = state
        .signing
        .rotate(now, request.now, &caller.actor())
        .await?;
    reload(&state).await;
    let wanted = if request.now {
        KeyState::Current
    } else {
        KeyState::Next
    };
    let keys = state.signing.list(now).await?;
    Ok(Json(Rotation {
        started: !steps.is_empty(),
        key: keys.into_iter().rev().find(|k| k.state == wanted),
    }))
}

/// The outcome of a revocation.
#[derive(Debug, Serialize, ToSchema)]
pub struct Revocation {
    /// The revoked key.
    pub revoked: Option<SigningKeyInfo>,
    /// The key that signs now (a new one if the revoked key was current).
    pub current: Option<SigningKeyInfo>,
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
    State(state): State<AppState>,
    caller: Caller,
    Path(kid): Path<String>,
) -> Result<Json<Revocation>, Problem> {
    caller.may_administer()?;
    let now = crate::store::now();
    state.signing.revoke(&kid, now, &caller.actor()).await?;
    reload(&state).await;
    let keys = state.signing.list(now).await?;
    Ok(Json(Revocation {
        revoked: keys.iter().find(|k| k.kid == kid).cloned(),
        current: keys.into_iter().find(|k| k.state == KeyState::Current),
    }))
}

/// Loads the change into this node's keyring now rather than at the next refresh tick.
async fn reload(state: &AppState) {
    if let Err(error) = state
        .signing
        .refresh_once(&state.keyring, crate::store::now())
        .await
    {
        tracing::warn!(%error, "signing keys changed but not reloaded yet; the next refresh retries");
    }
}
