//! The client-credentials grant, top to bottom as RFC 6749 §4.4 and RFC 9068 ask.
//!
//! 1. `grant_type` is `client_credentials` (§4.4.2).
//! 2. The client presented credentials by exactly one method (§2.3).
//! 3. `resource` (RFC 8707 §2) or `audience` names an audience this issuer serves.
//! 4. The Client ID exists, is not expired, and the secret matches (§3.2.1), without the
//!    address spending more hashes than it may (`authenticate`).
//! 5. `scope` is well formed (§3.3), parsed only now so that a stranger's scope list costs
//!    nothing, and held by the key (§4.4.2 → §5.2 `invalid_scope`). The issuer's own
//!    audience (the management API) is granted only to a key holding a management scope, and
//!    its tokens carry the management scopes held unless others are asked for by name; tokens
//!    for every other audience never carry a management scope.
//! 6. The credential is confirmed still valid (read again if its read is no longer fresh: a
//!    deletion is final once acknowledged), the client is within its request rate as the
//!    confirmed read sets it, and the token is signed at once: RFC 9068 claims, `exp` never
//!    past the key's own expiry.

mod authenticate;
mod lease;

use authenticate::ReadCredential;
pub use authenticate::{CREDENTIAL_FRESHNESS, DELETION_SETTLES, KeyRead};

use std::borrow::Cow;
use std::collections::HashSet;
use std::net::IpAddr;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::OAuthError;
use super::client_auth;
use super::credentials::ClientId;
use super::rate_limit::RateLimits;
use super::request::TokenParams;
use super::scope;
use super::usage::UsageRecorder;
use super::verifier::SecretVerifier;
use crate::clock::{self, SharedClock};
use crate::config::Config;
use crate::metrics::Metrics;
use crate::signing::keyring::KeyringHandle;
use crate::store::{Store, StoredCredential};

/// The only grant tokenmint serves.
pub const CLIENT_CREDENTIALS: &str = "client_credentials";

/// How many times a request signs before it gives up on a credential read that keeps going
/// stale during the signature (each attempt after the first reads the credential again).
const SIGNING_ATTEMPTS: u32 = 3;

/// Room for a token's claims as JSON, so that serializing them allocates once.
const CLAIMS_CAPACITY: usize = 512;

/// A signed access token and what the response says about it (§5.1).
#[derive(Debug)]
pub struct IssuedToken {
    pub access_token: String,
    pub expires_in: i64,
    pub scope: String,
    pub client_id: String,
}

/// RFC 9068 §2.2 claims, plus tokenmint's `team` and `env`.
#[derive(Serialize)]
struct AccessTokenClaims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a Audience<'a>,
    exp: i64,
    iat: i64,
    jti: &'a str,
    client_id: &'a str,
    scope: &'a str,
    team: &'a str,
    env: &'a str,
}

/// One audience is a string; several are an array (RFC 7519 §4.1.3).
#[derive(Serialize)]
#[serde(untagged)]
enum Audience<'a> {
    One(&'a str),
    Many(Vec<&'a str>),
}

/// What the token endpoint needs, shared by every request.
pub struct TokenIssuer {
    store: Arc<dyn Store>,
    verifier: SecretVerifier,
    /// Credentials read a moment ago, shared by the requests that follow (lease.rs).
    leases: lease::Leases,
    usage: UsageRecorder,
    keyring: KeyringHandle,
    metrics: Arc<Metrics>,
    limits: RateLimits,
    issuer: String,
    /// The longest the token path waits for the database before answering 503.
    db_timeout: std::time::Duration,
    ttl_secs: i64,
    default_audience: String,
    audiences: HashSet<String>,
    clock: SharedClock,
}

impl TokenIssuer {
    pub fn new(
        config: &Config,
        store: Arc<dyn Store>,
        verifier: SecretVerifier,
        usage: UsageRecorder,
        keyring: KeyringHandle,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            store,
            verifier: verifier.with_waiting_gauge(metrics.argon2_waiting.clone()),
            leases: lease::Leases::default(),
            usage,
            keyring,
            metrics,
            limits: RateLimits::new(&config.rate_limit),
            issuer: config.server.issuer.clone(),
            db_timeout: config.database.acquire_timeout,
            ttl_secs: i64::try_from(config.token.ttl.as_secs()).unwrap_or(i64::MAX),
            default_audience: config.token.audience.clone(),
            audiences: config.token.allowed_audiences().map(String::from).collect(),
            clock: clock::system(),
        }
    }

    /// The same issuer reading the time from `clock`.
    pub fn with_clock(mut self, clock: SharedClock) -> Self {
        self.clock = clock;
        self
    }

    /// Runs the checklist for one request. `authorization` holds every `Authorization` header.
    pub async fn issue(
        &self,
        params: &TokenParams,
        authorization: &[&[u8]],
        client_ip: IpAddr,
    ) -> Result<IssuedToken, OAuthError> {
        check_grant_type(params.grant_type.as_deref())?;
        let presented = client_auth::presented(authorization, params)?;
        // Checked once here: a malformed Client ID fails authentication below without a lookup.
        let client_id = ClientId::parse(&presented.client_id);
        if let Some(id) = &client_id {
            // Public, and what an operator searches the logs by.
            tracing::Span::current().record("client_id", id.as_str());
        }
        let (audience, management) = self.audience(params)?;
        let read = self
            .authenticate(client_id.as_ref(), &presented.client_secret, client_ip)
            .await?;
        let key = &read.key;
        let requested_scope = requested_scope(params.scope.as_deref())?;
        let (grantable, default) = scopes_for_audience(&key.scopes, management)?;
        let granted = match requested_scope.as_deref() {
            Some(asked) if !asked.is_empty() => scope::narrow(Some(asked), &grantable)
                .map_err(|missing| self.scope_refusal(&missing, management))?,
            _ => default.into_owned(),
        };
        let scope = granted.join(" ");
        let read = self.confirm(read).await?;
        // The key's own rate, from the confirmed read: a request that queued for a hash while
        // the key's limits changed is held to the new ones.
        self.check_rate(&read.key)?;
        self.sign_while_fresh(read, &audience, &scope).await
    }

    /// Signs from a confirmed `read` and hands the token out only if the read is still fresh
    /// once the token exists. No await from the confirmation to the signature: however long
    /// the thread was descheduled in between, a token is never handed out from a read older
    /// than a deletion lets pass before it returns. A token whose read went stale meanwhile (a
    /// starved machine) is dropped unseen, and the credential read and signed again, up to
    /// [`SIGNING_ATTEMPTS`] times before the client is told to retry.
    async fn sign_while_fresh(
        &self,
        mut read: ReadCredential,
        audience: &Audience<'_>,
        scope: &str,
    ) -> Result<IssuedToken, OAuthError> {
        let mut attempts = 1;
        loop {
            let now = self.clock.now();
            let token = self.sign(&read.key, audience, scope, now)?;
            match read.still_fresh() {
                Ok(()) => {
                    self.usage.record(&read.client_id, now);
                    return Ok(token);
                }
                Err(stale) if attempts >= SIGNING_ATTEMPTS => return Err(stale),
                Err(_) => {
                    attempts += 1;
                    let limits = read.key.limits;
                    read = self.confirm(read).await?;
                    // Limits changed meanwhile: held to the new rate, as after a hash's wait.
                    if read.key.limits != limits {
                        self.check_rate(&read.key)?;
                    }
                }
            }
        }
    }

    /// One token request against `key`'s rate: its own, else the issuer's.
    fn check_rate(&self, key: &StoredCredential) -> Result<(), OAuthError> {
        self.limits
            .check_client(&key.client_id, key.limits.token_requests_per_second)
            .map_err(OAuthError::rate_limited)
    }

    /// The audiences asked for, each one served here; the default when none is named. The flag
    /// says whether it is the issuer's own audience (the management API), which stands alone.
    fn audience<'p>(&'p self, params: &'p TokenParams) -> Result<(Audience<'p>, bool), OAuthError> {
        let named: Vec<&str> = match (&params.resource[..], &params.audience) {
            ([_, ..], Some(_)) => {
                return Err(OAuthError::invalid_request(
                    "send resource or audience, not both",
                ));
            }
            ([], Some(audience)) => vec![audience.as_str()],
            (resources, None) => resources.iter().map(String::as_str).collect(),
        };
        let mut unique: Vec<&str> = Vec::with_capacity(named.len());
        for mut audience in named {
            if self.is_issuer(audience) {
                audience = &self.issuer;
            } else if !self.audiences.contains(audience) {
                return Err(OAuthError::InvalidTarget(
                    "the requested resource or audience is not served by this issuer".into(),
                ));
            }
            if !unique.contains(&audience) {
                unique.push(audience);
            }
        }
        let management = unique.contains(&self.issuer.as_str());
        if management && unique.len() > 1 {
            return Err(OAuthError::InvalidTarget(
                "a token for the management API (the issuer's own audience) names no other audience"
                    .into(),
            ));
        }
        let audience = match unique.as_slice() {
            [] => Audience::One(&self.default_audience),
            [one] => Audience::One(one),
            _ => Audience::Many(unique),
        };
        Ok((audience, management))
    }

    /// The issuer's own URL, with or without a trailing slash: the management API's audience.
    fn is_issuer(&self, audience: &str) -> bool {
        audience.trim_end_matches('/') == self.issuer.trim_end_matches('/')
    }

    /// `invalid_scope` for scopes asked for but not grantable; a management scope asked for
    /// with a product audience says how to ask for it instead.
    fn scope_refusal(&self, missing: &[String], management: bool) -> OAuthError {
        let description = match missing.iter().find(|s| scope::is_management(s)) {
            Some(scope) if !management => format!(
                "{scope} is a management scope: ask for it with resource={}",
                self.issuer
            ),
            _ => format!("the key does not hold {}", missing.join(" ")),
        };
        OAuthError::InvalidScope(description.into())
    }

    /// Signs the access token with the current key.
    fn sign(
        &self,
        key: &StoredCredential,
        aud: &Audience<'_>,
        scope: &str,
        now: DateTime<Utc>,
    ) -> Result<IssuedToken, OAuthError> {
        let iat = now.timestamp();
        // The key's own lifetime, never above the issuer's.
        let ttl = key
            .limits
            .token_ttl_secs
            .map_or(self.ttl_secs, |own| self.ttl_secs.min(i64::from(own)));
        let mut exp = iat.saturating_add(ttl);
        if let Some(key_expiry) = key.expires_at {
            exp = exp.min(key_expiry.timestamp());
        }
        // The key expired while its request waited: refused like any expired key.
        if exp <= iat {
            return Err(OAuthError::client_auth_failed());
        }
        let mut jti = uuid::Uuid::encode_buffer();
        let claims = AccessTokenClaims {
            iss: &self.issuer,
            sub: &key.client_id,
            aud,
            exp,
            iat,
            jti: uuid::Uuid::new_v4().simple().encode_lower(&mut jti),
            client_id: &key.client_id,
            scope,
            team: &key.team,
            env: key.env.as_str(),
        };
        let keyring = self.keyring.get();
        let Some(active) = keyring.current.as_ref() else {
            return Err(OAuthError::TemporarilyUnavailable(
                "no signing key is loaded yet".into(),
            ));
        };
        // Sized for the claims up front (about 300 bytes; more with long scopes or several
        // audiences), where `to_vec` would start small and grow three times.
        let mut json = Vec::with_capacity(CLAIMS_CAPACITY);
        serde_json::to_writer(&mut json, &claims).map_err(|_| OAuthError::ServerError)?;
        let access_token = active.sign_jwt(&json).map_err(|error| {
            tracing::error!(%error, kid = %active.kid, "signing failed");
            OAuthError::ServerError
        })?;
        Ok(IssuedToken {
            access_token,
            expires_in: exp - iat,
            scope: scope.to_string(),
            client_id: key.client_id.clone(),
        })
    }
}

impl TokenIssuer {
    /// Forgets idle rate-limit state; call it now and then.
    pub fn housekeeping(&self) {
        self.limits.shrink();
    }

    /// The metrics this issuer reports to.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }
}

/// Scopes a token may carry, and those it carries when none are asked for.
type AudienceScopes<'a> = (Cow<'a, [String]>, Cow<'a, [String]>);

/// The scopes a token for this audience may carry, and those it carries when none are asked
/// for. Management API: any scope held, by default the management ones (and the key must hold
/// one). Other audiences: the product scopes held. Borrowed in the common case (a product key,
/// a product audience), so the hot path allocates nothing here.
fn scopes_for_audience(
    held: &[String],
    management: bool,
) -> Result<AudienceScopes<'_>, OAuthError> {
    let holds_management = held.iter().any(|s| scope::is_management(s));
    let only = |wanted: bool| -> Cow<'_, [String]> {
        held.iter()
            .filter(|s| scope::is_management(s) == wanted)
            .cloned()
            .collect::<Vec<_>>()
            .into()
    };
    match (management, holds_management) {
        (true, true) => Ok((Cow::Borrowed(held), only(true))),
        (true, false) => Err(OAuthError::InvalidTarget(
            "this key holds no management scope (keys:read, keys:write or admin), so it gets no \
             token for the management API"
                .into(),
        )),
        (false, false) => Ok((Cow::Borrowed(held), Cow::Borrowed(held))),
        (false, true) => {
            let product = only(false);
            if product.is_empty() {
                return Err(OAuthError::InvalidScope(
                    "this key holds only management scopes: ask for a token for the management \
                     API, with resource set to the issuer"
                        .into(),
                ));
            }
            Ok((product.clone(), product))
        }
    }
}

/// The `scope` parameter's tokens (§3.3), or `None` when it is absent.
fn requested_scope(param: Option<&str>) -> Result<Option<Vec<String>>, OAuthError> {
    let Some(text) = param else { return Ok(None) };
    scope::parse(text)
        .map(Some)
        .map_err(|refusal| OAuthError::InvalidScope(refusal.to_string().into()))
}

/// §4.4.2: `grant_type` is required and must be `client_credentials`.
fn check_grant_type(grant_type: Option<&str>) -> Result<(), OAuthError> {
    match grant_type {
        None => Err(OAuthError::invalid_request("grant_type is required")),
        Some(CLIENT_CREDENTIALS) => Ok(()),
        Some(_) => Err(OAuthError::UnsupportedGrantType(
            "only grant_type=client_credentials is supported".into(),
        )),
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod audience_scope_tests {
    use super::*;

    fn v(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_product_key_keeps_its_scopes_for_product_audiences_only() {
        let held = v(&["logs:read", "monitors:read"]);
        let (grantable, default) = scopes_for_audience(&held, false).unwrap();
        assert_eq!((&*grantable, &*default), (&held[..], &held[..]));
        assert!(matches!(
            scopes_for_audience(&held, true),
            Err(OAuthError::InvalidTarget(_))
        ));
    }

    #[test]
    fn management_scopes_go_only_to_the_management_audience() {
        let held = v(&["admin", "logs:read"]);
        let (grantable, default) = scopes_for_audience(&held, false).unwrap();
        assert_eq!(
            (&*grantable, &*default),
            (&v(&["logs:read"])[..], &v(&["logs:read"])[..])
        );
        let (grantable, default) = scopes_for_audience(&held, true).unwrap();
        assert_eq!(
            &*grantable,
            &held[..],
            "asked for by name, product scopes may come along"
        );
        assert_eq!(&*default, &v(&["admin"])[..]);
        assert!(matches!(
            scopes_for_audience(&v(&["keys:read"]), false),
            Err(OAuthError::InvalidScope(_))
        ));
    }
}
