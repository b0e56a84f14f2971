//! A team's webhook signing secrets over time: created on first use, rotated with an overlap,
//! the previous one revoked at once; sealed under the master key in the store.
//!
//! Signing is on a platform's hot path (one call per delivery), so each node keeps the opened
//! secrets of a team for at most `signing.refresh`, as it does the signing keys: a change made
//! on this node is seen by it at once, and by the others within that interval.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::json;
use zeroize::Zeroizing;

use super::WebhookSecret;
use super::signature::{self, BadInput, SignedHeaders};
pub use super::state::{LiveSecret, PreviousSecret, SecretState};
use crate::audit::Actor;
use crate::domain::TeamSlug;
use crate::signing::SigningError;
use crate::signing::service::SigningService;
use crate::store::{
    PreviousWebhookSecret, SealedWebhookSecret, Store, StoreError, StoredWebhookSecrets,
};

/// The longest overlap a rotation may ask for: long enough for any receiver's deploy, short
/// enough that a replaced secret does not sign for months.
pub const MAX_OVERLAP: Duration = Duration::from_secs(30 * 24 * 3600);
/// How many times a write re-reads after losing a race before giving up.
const MAX_ATTEMPTS: usize = 8;

/// What the webhook-secret operations need.
pub struct WebhookService {
    store: Arc<dyn Store>,
    /// The master key the secrets are sealed under, and its recorded check value.
    signing: SigningService,
    /// How long a rotation keeps the previous secret when it names no overlap.
    default_overlap: Duration,
    /// How long a node signs with what it read before reading again.
    cache_for: TimeDelta,
    cache: Mutex<HashMap<String, Cached>>,
}

struct Cached {
    read_at: DateTime<Utc>,
    state: Arc<SecretState>,
}

/// A refused or failed webhook-secret operation.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error("team {0:?} not found")]
    NoTeam(String),
    #[error("team {0:?} has no previous webhook secret (its overlap has ended or was revoked)")]
    NoPrevious(String),
    #[error(transparent)]
    BadInput(#[from] BadInput),
    #[error("the overlap must be at most 30 days")]
    OverlapTooLong,
    #[error("the webhook secrets kept changing under this operation; try again")]
    Contended,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Sealing(#[from] SigningError),
}

impl WebhookService {
    pub fn new(
        store: Arc<dyn Store>,
        signing: SigningService,
        default_overlap: Duration,
        cache_for: Duration,
    ) -> Self {
        Self {
            store,
            signing,
            default_overlap,
            cache_for: TimeDelta::from_std(cache_for).unwrap_or(TimeDelta::MAX),
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// Signs `payload` for `team` with every live secret. `id` defaults to a new message id and
    /// `timestamp` to `now`.
    pub async fn sign(
        &self,
        team: &str,
        id: Option<String>,
        timestamp: Option<i64>,
        payload: &[u8],
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<SignedHeaders, WebhookError> {
        let id = id.unwrap_or_else(signature::new_id);
        signature::check_id(&id)?;
        let timestamp = timestamp.unwrap_or(now.timestamp());
        signature::check_timestamp(timestamp)?;
        let state = self.state(team, actor, now).await?;
        let secrets = state.signing_secrets(now);
        Ok(signature::sign(&id, timestamp, payload, &secrets))
    }

    /// The team's secrets, read from the store (not the cache), with an audit event.
    pub async fn reveal(
        &self,
        team: &str,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<Arc<SecretState>, WebhookError> {
        let state = self.read_or_create(team, actor, now).await?;
        let event = actor.event(
            now,
            "webhook_secret.reveal",
            Some(team),
            "webhook_secret",
            json!({ "previous": state.live_previous(now).is_some() }),
        );
        self.store.append_audit(&event).await?;
        Ok(state)
    }

    /// A new current secret at once; the old one signs beside it until `now + overlap` (the
    /// configured default when `None`). A previous secret still in its overlap is dropped: at
    /// most two secrets sign at a time.
    pub async fn rotate(
        &self,
        team: &str,
        overlap: Option<Duration>,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<Arc<SecretState>, WebhookError> {
        let overlap = overlap.unwrap_or(self.default_overlap);
        let until = TimeDelta::from_std(overlap)
            .ok()
            .filter(|_| overlap <= MAX_OVERLAP)
            .and_then(|overlap| now.checked_add_signed(overlap))
            .ok_or(WebhookError::OverlapTooLong)?;
        self.change(team, actor, now, |stored| {
            let fresh = self.seal_new(team, now)?;
            let previous = (until > now).then(|| PreviousWebhookSecret {
                secret: stored.current.clone(),
                until,
            });
            let detail = json!({ "previous_until": previous.as_ref().map(|p| p.until) });
            Ok(Some((fresh, previous, "webhook_secret.rotate", detail)))
        })
        .await
    }

    /// Ends the previous secret's overlap now.
    pub async fn revoke_previous(
        &self,
        team: &str,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<Arc<SecretState>, WebhookError> {
        self.change(team, actor, now, |stored| {
            match stored.previous.as_ref().filter(|p| p.until > now) {
                None => Err(WebhookError::NoPrevious(team.to_string())),
                Some(_) => Ok(Some((
                    stored.current.clone(),
                    None,
                    "webhook_secret.revoke_previous",
                    json!({}),
                ))),
            }
        })
        .await
    }

    /// The team's secrets from the cache if read within `signing.refresh`, else from the store.
    async fn state(
        &self,
        team: &str,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<Arc<SecretState>, WebhookError> {
        known_slug(team)?;
        if let Some(state) = self.cached(team, now) {
            return Ok(state);
        }
        self.read_or_create(team, actor, now).await
    }

    fn cached(&self, team: &str, now: DateTime<Utc>) -> Option<Arc<SecretState>> {
        let cache = self
            .cache
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let entry = cache.get(team)?;
        let age = now.signed_duration_since(entry.read_at);
        (age >= TimeDelta::zero() && age < self.cache_for).then(|| entry.state.clone())
    }

    fn remember(&self, state: SecretState, now: DateTime<Utc>) -> Arc<SecretState> {
        let state = Arc::new(state);
        let mut cache = self
            .cache
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        cache.insert(
            state.team.clone(),
            Cached {
                read_at: now,
                state: state.clone(),
            },
        );
        state
    }

    /// Reads the team's secrets, making the first one if there is none yet.
    async fn read_or_create(
        &self,
        team: &str,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<Arc<SecretState>, WebhookError> {
        known_slug(team)?;
        for _ in 0..MAX_ATTEMPTS {
            if let Some(stored) = self.read(team).await? {
                return Ok(self.remember(self.open(&stored)?, now));
            }
            self.ensure_master_recorded().await?;
            let first = StoredWebhookSecrets {
                team: team.to_string(),
                version: 1,
                current: self.seal_new(team, now)?,
                previous: None,
            };
            let event = actor.event(
                now,
                "webhook_secret.create",
                Some(team),
                "webhook_secret",
                json!({}),
            );
            if self.write(&first, None, &event).await? {
                tracing::info!(team, "webhook secret created");
                return Ok(self.remember(self.open(&first)?, now));
            }
        }
        Err(WebhookError::Contended)
    }

    /// Applies `plan` to the stored secrets (made first if there are none) with a
    /// compare-and-swap on their version, reading again after a lost race.
    async fn change<F>(
        &self,
        team: &str,
        actor: &Actor,
        now: DateTime<Utc>,
        plan: F,
    ) -> Result<Arc<SecretState>, WebhookError>
    where
        F: Fn(&StoredWebhookSecrets) -> Result<Option<Planned>, WebhookError>,
    {
        known_slug(team)?;
        for _ in 0..MAX_ATTEMPTS {
            let stored = match self.read(team).await? {
                Some(stored) => stored,
                None => {
                    self.read_or_create(team, actor, now).await?;
                    continue;
                }
            };
            self.open(&stored)?;
            let Some((current, previous, action, detail)) = plan(&stored)? else {
                return Ok(self.remember(self.open(&stored)?, now));
            };
            let next = StoredWebhookSecrets {
                team: team.to_string(),
                version: stored.version.saturating_add(1),
                current,
                previous,
            };
            let event = actor.event(now, action, Some(team), "webhook_secret", detail);
            if self.write(&next, Some(stored.version), &event).await? {
                tracing::info!(team, action, "webhook secrets changed");
                return Ok(self.remember(self.open(&next)?, now));
            }
        }
        Err(WebhookError::Contended)
    }

    async fn read(&self, team: &str) -> Result<Option<StoredWebhookSecrets>, WebhookError> {
        Ok(self
            .store
            .webhook_secrets(Some(&known_slug(team)?))
            .await?
            .into_iter()
            .next())
    }

    async fn write(
        &self,
        secrets: &StoredWebhookSecrets,
        expected: Option<i64>,
        event: &crate::store::NewAuditEvent,
    ) -> Result<bool, WebhookError> {
        match self
            .store
            .write_webhook_secrets(secrets, expected, event)
            .await
        {
            Err(StoreError::NotFound(_)) => Err(WebhookError::NoTeam(secrets.team.clone())),
            other => Ok(other?),
        }
    }

    /// A first secret must be sealed under the master key the database records, so a node
    /// still holding a rotated-away master key cannot write one nobody else can open.
    async fn ensure_master_recorded(&self) -> Result<(), WebhookError> {
        let set = self.store.signing_keys().await?;
        Ok(self.signing.ensure_master_matches(&set)?)
    }

    fn seal_new(
        &self,
        team: &str,
        now: DateTime<Utc>,
    ) -> Result<SealedWebhookSecret, WebhookError> {
        let secret = WebhookSecret::generate()
            .map_err(|_| SigningError::MasterKey("the system random generator failed".into()))?;
        let id = format!("whs_{}", uuid::Uuid::new_v4().simple());
        let label = StoredWebhookSecrets::sealing_label(team, &id);
        let sealed = self.signing.master().seal(&label, secret.bytes())?;
        Ok(SealedWebhookSecret {
            id,
            sealed,
            created_at: now,
        })
    }

    fn open(&self, stored: &StoredWebhookSecrets) -> Result<SecretState, WebhookError> {
        let open = |sealed: &SealedWebhookSecret| -> Result<LiveSecret, WebhookError> {
            let label = StoredWebhookSecrets::sealing_label(&stored.team, &sealed.id);
            let bytes: Zeroizing<Vec<u8>> = self.signing.master().open(&label, &sealed.sealed)?;
            let secret = WebhookSecret::from_bytes(bytes)
                .map_err(|_| SigningError::WrongMasterKey { kid: label })?;
            Ok(LiveSecret {
                secret,
                created_at: sealed.created_at,
            })
        };
        let previous = match &stored.previous {
            Some(p) => Some(PreviousSecret {
                secret: open(&p.secret)?,
                until: p.until,
            }),
            None => None,
        };
        Ok(SecretState {
            team: stored.team.clone(),
            version: stored.version,
            current: open(&stored.current)?,
            previous,
        })
    }
}

/// A slug no team can have is refused before it reaches the store.
fn known_slug(team: &str) -> Result<TeamSlug, WebhookError> {
    TeamSlug::parse(team).ok_or_else(|| WebhookError::NoTeam(team.to_string()))
}

/// What a change writes: the current secret, the previous one, the audit action and detail.
type Planned = (
    SealedWebhookSecret,
    Option<PreviousWebhookSecret>,
    &'static str,
    serde_json::Value,
);
