//! What handlers share: built once by the composition root ([`crate::app::App::build`]) and
//! handed out in parts. A handler asks for the part it needs (`State<Management>`,
//! `State<TokenEndpoint>`, …; axum's [`FromRef`] takes it out of [`AppState`]), so what a
//! handler can reach is written in its signature.

use std::sync::Arc;

use axum::extract::FromRef;
use axum::http::HeaderValue;
use bytes::Bytes;

use super::client_ip::TrustedProxies;
use crate::clock::SharedClock;
use crate::config::Config;
use crate::metrics::Metrics;
use crate::oauth::grant::TokenIssuer;
use crate::signing::keyring::KeyringHandle;
use crate::signing::service::SigningService;
use crate::store::Store;

/// Parts behind one `Arc`, read through `Deref`: axum clones a state, or the part a handler
/// takes, for every request, and this makes that clone one reference count instead of one per
/// field (and an allocation for the paths some fields hold).
pub struct Shared<T>(Arc<T>);

impl<T> Shared<T> {
    pub fn new(parts: T) -> Self {
        Self(Arc::new(parts))
    }
}

impl<T> Clone for Shared<T> {
    fn clone(&self) -> Self {
        Self(Arc::clone(&self.0))
    }
}

impl<T> std::ops::Deref for Shared<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

/// Every part of the server's state, once.
pub type AppState = Shared<StateParts>;

/// What [`AppState`] holds.
pub struct StateParts {
    pub token: TokenEndpoint,
    pub management: Management,
    pub documents: Documents,
    pub secret_scanning: super::secret_scanning::SecretScanning,
    /// The signing keys in memory: the JWKS, `/readyz` and `/metrics` read them.
    pub keyring: KeyringHandle,
    pub metrics: Arc<Metrics>,
    /// Where handlers read the time (the token issuer holds the same clock).
    pub clock: SharedClock,
}

/// The token endpoint's part: the issuer runs the grant; the proxies say whose
/// `X-Forwarded-For` names the client.
#[derive(Clone)]
pub struct TokenEndpoint {
    pub issuer: Arc<TokenIssuer>,
    pub proxies: TrustedProxies,
}

/// The management API's part (and `/readyz`'s database check). Every management request takes
/// it twice (its caller's check and its handler), so it is shared rather than copied.
pub type Management = Shared<ManagementParts>;

/// The store the services share, and what the management API's callers are checked against.
pub struct ManagementParts {
    /// The one store of the server; the token issuer and the signing service hold the same.
    pub store: Arc<dyn Store>,
    /// Reads the API key behind a caller's token as the token endpoint does (its leases).
    pub keys: Arc<TokenIssuer>,
    /// Rotation and revocation of signing keys.
    pub signing: SigningService,
    /// Verifies management tokens, and takes signing-key changes at once.
    pub keyring: KeyringHandle,
    pub clock: SharedClock,
    pub proxies: TrustedProxies,
    /// The issuer tokens must name, and the key prefix and scope catalog of new API keys.
    pub config: Arc<Config>,
    /// The teams' webhook signing secrets.
    pub webhooks: Arc<crate::webhooks::WebhookService>,
}

/// Documents rendered once at start.
#[derive(Clone)]
pub struct Documents {
    /// The RFC 8414 metadata document.
    pub metadata: Bytes,
    /// The OpenAPI document served at `/openapi.json` ([`super::openapi_document`]).
    pub openapi: Bytes,
    /// `Cache-Control` of the JWKS.
    pub jwks_cache_control: HeaderValue,
}

impl FromRef<AppState> for TokenEndpoint {
    fn from_ref(state: &AppState) -> Self {
        state.token.clone()
    }
}

impl FromRef<AppState> for Management {
    fn from_ref(state: &AppState) -> Self {
        state.management.clone()
    }
}

impl FromRef<AppState> for Documents {
    fn from_ref(state: &AppState) -> Self {
        state.documents.clone()
    }
}

impl FromRef<AppState> for KeyringHandle {
    fn from_ref(state: &AppState) -> Self {
        state.keyring.clone()
    }
}

impl FromRef<AppState> for Arc<Metrics> {
    fn from_ref(state: &AppState) -> Self {
        Arc::clone(&state.metrics)
    }
}

impl FromRef<AppState> for SharedClock {
    fn from_ref(state: &AppState) -> Self {
        state.clock.clone()
    }
}

impl FromRef<AppState> for super::secret_scanning::SecretScanning {
    fn from_ref(state: &AppState) -> Self {
        state.secret_scanning.clone()
    }
}
