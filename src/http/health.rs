//! Liveness and readiness probes.

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::AppState;

/// How long `/readyz` waits for the database.
const READY_DB_TIMEOUT: Duration = Duration::from_secs(2);

/// `/healthz`: the process is up and serving.
#[utoipa::path(get, path = "/healthz", operation_id = "healthz", tag = "operations",
    responses((status = 200, description = "The process is up", content_type = "application/json")))]
pub async fn live() -> Response {
    Json(json!({ "status": "ok" })).into_response()
}

/// `/readyz`: 200 only when the database answers and a current signing key is loaded.
#[utoipa::path(get, path = "/readyz", operation_id = "readyz", tag = "operations",
    responses(
        (status = 200, description = "Ready: the database answers and a signing key is loaded", content_type = "application/json"),
        (status = 503, description = "Not ready", content_type = "application/json"),
    ))]
pub async fn ready(State(state): State<AppState>) -> Response {
    let database = matches!(
        tokio::time::timeout(READY_DB_TIMEOUT, state.store.ping()).await,
        Ok(Ok(()))
    );
    let signing_key = state.keyring.can_sign();
    let status = if database && signing_key {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = json!({
        "status": if status == StatusCode::OK { "ready" } else { "unavailable" },
        "database": if database { "ok" } else { "unreachable" },
        "signing_key": if signing_key { "loaded" } else { "missing" },
    });
    (status, Json(body)).into_response()
}
