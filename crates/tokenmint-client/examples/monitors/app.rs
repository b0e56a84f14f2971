//! The monitors API in miniature, behind tokenmint tokens: every route needs a valid token
//! (401 otherwise), reading needs `monitors:read` and creating `monitors:write` (403
//! `insufficient_scope` otherwise), and a monitor of another team is 403.
//!
//! A separate file so that tokenmint's integration tests run this very router.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Path, State};
use axum::handler::Handler;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use tokenmint_client::Verifier;
use tokenmint_client::axum::{AuthLayer, Authenticated, require_scope};

/// A monitor: a URL the product watches, owned by a team.
#[derive(Debug, Clone, Serialize)]
pub struct Monitor {
    pub id: u64,
    pub team: String,
    pub name: String,
    pub url: String,
}

/// What `POST /monitors` takes.
#[derive(Debug, Deserialize)]
pub struct NewMonitor {
    pub name: String,
    pub url: String,
}

/// The monitors, in memory (a real service has a database here).
#[derive(Debug, Clone, Default)]
pub struct Monitors {
    // A std mutex: held for a map operation, never across an await.
    by_id: Arc<Mutex<BTreeMap<u64, Monitor>>>,
}

impl Monitors {
    /// Adds a monitor owned by `team` and returns it.
    pub fn add(&self, team: &str, new: NewMonitor) -> Monitor {
        let mut by_id = self.by_id.lock().unwrap_or_else(|p| p.into_inner());
        let id = by_id
            .keys()
            .next_back()
            .map_or(1, |last| last.saturating_add(1));
        let monitor = Monitor {
            id,
            team: team.to_string(),
            name: new.name,
            url: new.url,
        };
        by_id.insert(id, monitor.clone());
        monitor
    }

    fn of_team(&self, team: &str) -> Vec<Monitor> {
        let by_id = self.by_id.lock().unwrap_or_else(|p| p.into_inner());
        by_id.values().filter(|m| m.team == team).cloned().collect()
    }

    fn get(&self, id: u64) -> Option<Monitor> {
        self.by_id
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&id)
            .cloned()
    }
}

/// The router: `GET /monitors`, `GET /monitors/{id}`, `POST /monitors`.
pub fn app(verifier: Verifier, monitors: Monitors) -> Router {
    Router::new()
        .route(
            "/monitors",
            get(list.layer(require_scope("monitors:read")))
                .post(create.layer(require_scope("monitors:write"))),
        )
        .route(
            "/monitors/{id}",
            get(show.layer(require_scope("monitors:read"))),
        )
        .with_state(monitors)
        .layer(AuthLayer::new(verifier).realm("monitors"))
}

async fn list(caller: Authenticated, State(monitors): State<Monitors>) -> Json<Vec<Monitor>> {
    Json(monitors.of_team(&caller.team))
}

async fn show(
    caller: Authenticated,
    State(monitors): State<Monitors>,
    Path(id): Path<u64>,
) -> Response {
    let Some(monitor) = monitors.get(id) else {
        return (
            StatusCode::NOT_FOUND,
            Json(serde_json::json!({"error": "not_found"})),
        )
            .into_response();
    };
    // The token is valid, but this monitor is another team's: 403, not 404.
    match caller.require_team(&monitor.team) {
        Ok(()) => Json(monitor).into_response(),
        Err(refusal) => refusal.into_response(),
    }
}

async fn create(
    caller: Authenticated,
    State(monitors): State<Monitors>,
    Json(new): Json<NewMonitor>,
) -> (StatusCode, Json<Monitor>) {
    (StatusCode::CREATED, Json(monitors.add(&caller.team, new)))
}
