//! A team's webhook secrets once opened: what signs, and until when.

use chrono::{DateTime, Utc};

use super::WebhookSecret;

/// A team's opened secrets.
#[derive(Debug)]
pub struct SecretState {
    pub team: String,
    pub version: i64,
    pub current: LiveSecret,
    pub previous: Option<PreviousSecret>,
}

/// An opened secret and when it was made.
#[derive(Debug)]
pub struct LiveSecret {
    pub secret: WebhookSecret,
    pub created_at: DateTime<Utc>,
}

/// The secret a rotation replaced, signing until `until`.
#[derive(Debug)]
pub struct PreviousSecret {
    pub secret: LiveSecret,
    pub until: DateTime<Utc>,
}

impl SecretState {
    /// The previous secret if its overlap has not ended at `now`.
    pub fn live_previous(&self, now: DateTime<Utc>) -> Option<&PreviousSecret> {
        self.previous.as_ref().filter(|p| p.until > now)
    }

    /// The secrets that sign at `now`: the current one first.
    pub fn signing_secrets(&self, now: DateTime<Utc>) -> Vec<&WebhookSecret> {
        let previous = self.live_previous(now).map(|p| &p.secret.secret);
        std::iter::once(&self.current.secret)
            .chain(previous)
            .collect()
    }
}
