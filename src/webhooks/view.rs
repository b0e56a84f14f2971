//! What the management API answers and `--json` prints for a team's webhook secrets.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::service::SecretState;

/// A team's webhook signing secrets, revealed.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct WebhookSecretView {
    pub team: String,
    /// The current secret (`whsec_…`): every signature carries it.
    pub secret: String,
    pub created_at: DateTime<Utc>,
    /// During an overlap, the replaced secret: signatures carry it too until `previous_until`.
    pub previous_secret: Option<String>,
    pub previous_until: Option<DateTime<Utc>>,
}

impl WebhookSecretView {
    /// The secrets that sign at `now` (a previous one only while its overlap lasts).
    pub fn at(state: &SecretState, now: DateTime<Utc>) -> Self {
        let previous = state.live_previous(now);
        Self {
            team: state.team.clone(),
            secret: state.current.secret.reveal().to_string(),
            created_at: state.current.created_at,
            previous_secret: previous.map(|p| p.secret.secret.reveal().to_string()),
            previous_until: previous.map(|p| p.until),
        }
    }
}
