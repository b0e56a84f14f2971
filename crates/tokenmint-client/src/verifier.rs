//! [`Verifier`]: the checklist an access token goes through on a resource server, in order —
//! RFC 9068 §4 and RFC 8725 (JWT best current practices).
//!
//! 1. three base64url parts whose header is JSON;
//! 2. `typ` is `at+jwt` (RFC 9068 §4), so an ID token or another JWT cannot pass as one;
//! 3. a `kid`, found in the issuer's JWKS (refetched, within limits, when it is missing);
//! 4. `alg` is the algorithm that key is published for: never the token's word alone, never
//!    `none`, never an `HS*` algorithm keyed with the public key;
//! 5. no critical header extensions;
//! 6. the signature, then `iss`, `aud`, `exp`, `nbf` and `iat` with a small leeway;
//! 7. the claims tokenmint issues, typed ([`AccessClaims`]).

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, Validation};
use serde::Deserialize;

use crate::claims::AccessClaims;
use crate::discovery;
use crate::error::{SetupError, VerifyError};
use crate::jwks::keys::VerifyKey;
use crate::jwks::{CachePolicy, JwksCache, fetch_client};

/// Checks tokenmint access tokens against the issuer's published keys.
///
/// Cheap to clone (one shared cache); build one per issuer at start and share it.
#[derive(Clone)]
pub struct Verifier {
    inner: Arc<Inner>,
}

struct Inner {
    jwks: JwksCache,
    issuer: String,
    audiences: Vec<String>,
    leeway: Duration,
}

impl fmt::Debug for Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Verifier")
            .field("issuer", &self.inner.issuer)
            .field("audiences", &self.inner.audiences)
            .field("leeway", &self.inner.leeway)
            .finish_non_exhaustive()
    }
}

/// The JOSE header fields the checklist reads.
#[derive(Deserialize)]
struct Header {
    alg: String,
    #[serde(default)]
    typ: Option<String>,
    #[serde(default)]
    kid: Option<String>,
    #[serde(default)]
    crit: Option<serde_json::Value>,
}

impl Verifier {
    /// Finds the JWKS of `issuer` through its RFC 8414 metadata
    /// (`/.well-known/oauth-authorization-server`). `issuer` is tokenmint's `server.issuer`,
    /// exactly as it appears in the `iss` claim; the metadata must name the same issuer.
    pub async fn discover(issuer: &str) -> Result<VerifierBuilder, SetupError> {
        let http = fetch_client()?;
        let metadata = discovery::fetch(&http, issuer).await?;
        let mut builder = Self::from_jwks_url(&metadata.jwks_uri)?.issuer(issuer);
        builder.http = Some(http);
        Ok(builder)
    }

    /// A verifier for the keys at `jwks_url`; the builder then needs [`VerifierBuilder::issuer`].
    pub fn from_jwks_url(jwks_url: &str) -> Result<VerifierBuilder, SetupError> {
        let url = url::Url::parse(jwks_url).map_err(|e| SetupError::Url {
            url: jwks_url.to_string(),
            reason: e.to_string(),
        })?;
        Ok(VerifierBuilder {
            jwks_url: url,
            issuer: None,
            audiences: Vec::new(),
            leeway: Duration::from_secs(30),
            policy: CachePolicy::default(),
            http: None,
        })
    }

    /// Checks `token` (the bare JWT, without `Bearer `) and returns its claims, or the first
    /// check it failed.
    pub async fn verify(&self, token: &str) -> Result<AccessClaims, VerifyError> {
        let header = header(token)?;
        if !is_access_token_type(header.typ.as_deref()) {
            return Err(VerifyError::Type { found: header.typ });
        }
        let kid = header.kid.as_deref().ok_or(VerifyError::MissingKeyId)?;
        if header.alg == "none" || header.alg.starts_with("HS") {
            return Err(VerifyError::Algorithm {
                token: header.alg,
                key: "-".into(),
            });
        }
        let key = self.inner.jwks.key(kid).await?;
        if !alg_matches(&header.alg, key.alg) {
            return Err(VerifyError::Algorithm {
                token: header.alg,
                key: format!("{:?}", key.alg),
            });
        }
        if header.crit.is_some() {
            return Err(VerifyError::CriticalHeader);
        }
        self.check_signature_and_claims(token, &key)
    }

    /// Fetches the JWKS now unless a fresh copy is cached, so that the first request does not
    /// wait for it; a failure here says the issuer is unreachable.
    pub async fn warm_up(&self) -> Result<(), VerifyError> {
        self.inner.jwks.warm().await
    }

    /// HTTP requests this verifier has made for the JWKS so far (fetches and revalidations), for
    /// metrics and tests.
    pub fn jwks_fetch_count(&self) -> u64 {
        self.inner.jwks.fetch_count()
    }

    /// The issuer tokens must come from.
    pub fn issuer(&self) -> &str {
        &self.inner.issuer
    }

    fn check_signature_and_claims(
        &self,
        token: &str,
        key: &VerifyKey,
    ) -> Result<AccessClaims, VerifyError> {
        let mut validation = Validation::new(key.alg);
        validation.set_issuer(&[&self.inner.issuer]);
        validation.set_audience(&self.inner.audiences);
        validation.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
        validation.validate_nbf = true;
        validation.leeway = self.inner.leeway.as_secs();
        let claims = jsonwebtoken::decode::<AccessClaims>(token, &key.key, &validation)
            .map_err(from_jsonwebtoken)?
            .claims;
        // jsonwebtoken does not look at `iat`; a token issued in the future is not valid yet.
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        let latest = now.saturating_add(self.inner.leeway.as_secs());
        if u64::try_from(claims.iat).is_ok_and(|iat| iat > latest) {
            return Err(VerifyError::NotYetValid);
        }
        Ok(claims)
    }
}

/// The protected header, read without trusting anything in it yet.
fn header(token: &str) -> Result<Header, VerifyError> {
    let malformed = |why: &str| VerifyError::Malformed(why.to_string());
    let mut parts = token.split('.');
    let (Some(header), Some(_), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(malformed("not three dot-separated parts"));
    };
    let bytes = URL_SAFE_NO_PAD
        .decode(header)
        .map_err(|_| malformed("the header is not base64url"))?;
    serde_json::from_slice(&bytes).map_err(|_| malformed("the header is not a JOSE header"))
}

/// RFC 9068 §4 and RFC 7515 §4.1.9: `at+jwt`, or with its `application/` prefix, any case.
fn is_access_token_type(typ: Option<&str>) -> bool {
    let Some(typ) = typ else { return false };
    let typ = typ.to_ascii_lowercase();
    typ == "at+jwt" || typ == "application/at+jwt"
}

fn alg_matches(token_alg: &str, key_alg: Algorithm) -> bool {
    token_alg
        .parse::<Algorithm>()
        .is_ok_and(|alg| alg == key_alg)
}

fn from_jsonwebtoken(error: jsonwebtoken::errors::Error) -> VerifyError {
    match error.into_kind() {
        ErrorKind::InvalidSignature | ErrorKind::Crypto(_) => VerifyError::Signature,
        ErrorKind::ExpiredSignature => VerifyError::Expired,
        ErrorKind::ImmatureSignature => VerifyError::NotYetValid,
        ErrorKind::InvalidIssuer => VerifyError::Issuer,
        ErrorKind::InvalidAudience => VerifyError::Audience,
        ErrorKind::MissingRequiredClaim(claim) => {
            VerifyError::Claims(format!("the {claim} claim is missing"))
        }
        ErrorKind::Json(e) => VerifyError::Claims(e.to_string()),
        ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName => VerifyError::Algorithm {
            token: "?".into(),
            key: "?".into(),
        },
        other => VerifyError::Malformed(format!("{other:?}")),
    }
}

/// Settings of a [`Verifier`]; from [`Verifier::discover`] or [`Verifier::from_jwks_url`].
#[derive(Debug)]
#[must_use = "a builder does nothing until build() is called"]
pub struct VerifierBuilder {
    jwks_url: url::Url,
    issuer: Option<String>,
    audiences: Vec<String>,
    leeway: Duration,
    policy: CachePolicy,
    http: Option<reqwest::Client>,
}

impl VerifierBuilder {
    /// The `iss` tokens must carry (set by [`Verifier::discover`]).
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = Some(issuer.into());
        self
    }

    /// An `aud` this resource server accepts (tokenmint's `token.audience` or one of
    /// `token.audiences`). Call again to accept several; at least one is required.
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audiences.push(audience.into());
        self
    }

    /// Clock skew tolerated on `exp`, `nbf` and `iat` (default 30 s).
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// The least time between two JWKS fetches caused by tokens with an unknown `kid`
    /// (default 60 s). It bounds what a flood of forged `kid`s costs; it is also how long a key
    /// promoted with `signing-keys rotate --now` may be refused after such a flood.
    pub fn refetch_interval(mut self, interval: Duration) -> Self {
        self.policy.refetch_interval = interval;
        self
    }

    /// After a failed fetch of an expired JWKS, how long requests get that failure at once
    /// before the next attempt (default 5 s).
    pub fn retry_after_failure(mut self, delay: Duration) -> Self {
        self.policy.retry_after_failure = delay;
        self
    }

    /// How long a JWKS without `Cache-Control: max-age` is kept (default 5 min).
    pub fn default_max_age(mut self, max_age: Duration) -> Self {
        self.policy.default_max_age = max_age;
        self
    }

    /// The HTTP client for JWKS requests (default: rustls, 10 s timeout).
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.http = Some(client);
        self
    }

    /// The verifier. The JWKS is fetched on first use (or by [`Verifier::warm_up`]).
    pub fn build(self) -> Result<Verifier, SetupError> {
        let issuer = self.issuer.ok_or(SetupError::Missing("issuer"))?;
        if self.audiences.is_empty() {
            return Err(SetupError::Missing("audience"));
        }
        let http = match self.http {
            Some(http) => http,
            None => fetch_client()?,
        };
        let client = crate::jwks::JwksClient {
            http,
            url: self.jwks_url,
        };
        Ok(Verifier {
            inner: Arc::new(Inner {
                jwks: JwksCache::new(client, self.policy),
                issuer,
                audiences: self.audiences,
                leeway: self.leeway,
            }),
        })
    }
}
