//! Liveness and readiness probes.

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::Management;
use crate::signing::keyring::KeyringHandle;

/// How long `/readyz` waits for the database.
const READY_DB_TIMEOUT: Duration = Duration::from_secs(2);

/// `/healthz`: the process is up and serving.
#[utoipa::path(get, path = "/healthz", operation_id = "healthz", tag = "operations",
    responses((status = 200, description = "The process is up", content_type = "application/json")))]
pub async fn live() -> Response {
    (Quiet, Json(json!({ "status": "ok" }))).into_response()
}

/// Marks an answer that is logged at debug, not info: a probe or a scrape that succeeded, asked
/// every few seconds, which would otherwise bury the requests people read the log for.
#[derive(Debug, Clone, Copy)]
pub struct Quiet;

impl axum::response::IntoResponseParts for Quiet {
    type Error = std::convert::Infallible;

    fn into_response_parts(
        self,
        mut parts: axum::response::ResponseParts,
    ) -> Result<axum::response::ResponseParts, Self::Error> {
        parts.extensions_mut().insert(self);
        Ok(parts)
    }
}

/// `/readyz`: 200 only when the database answers and a current signing key is loaded.
#[utoipa::path(get, path = "/readyz", operation_id = "readyz", tag = "operations",
    responses(
        (status = 200, description = "Ready: the database answers and a signing key is loaded", content_type = "application/json"),
        (status = 503, description = "Not ready", content_type = "application/json"),
    ))]
pub async fn ready(
    State(management): State<Management>,
    State(keyring): State<KeyringHandle>,
) -> Response {
    let database = matches!(
        tokio::time::timeout(READY_DB_TIMEOUT, management.store.ping()).await,
        Ok(Ok(()))
    );
    let signing_key = keyring.can_sign();
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
    if status == StatusCode::OK {
        return (Quiet, Json(body)).into_response();
    }
    (status, Json(body)).into_response()
}
