//! `POST /api/secret-scanning/reports`: leaked-secret reports from a secret scanner, in GitHub's
//! secret-scanning partner format. The body is a JSON array of `{token, type, url, source}`,
//! signed as [`crate::secret_scanning`] describes; the answer labels each token
//! `true_positive` (a tokenmint secret, now revoked) or `false_positive`, naming it by its
//! SHA-256 (`token_hash`) so the answer carries no secret.
//!
//! The signature is checked before anything else, and before the rate limit: a flood of
//! unsigned requests costs one ECDSA check each and cannot use up the scanner's share.

use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::management::problem::{Problem, parse_json};
use crate::audit::Actor;
use crate::http::Management;
use crate::manage::{self, Leak, LeakVerdict};
use crate::secret_scanning::{PartnerKeys, SignatureError};

/// Signed reports accepted per second, and in a burst.
const REPORTS_PER_SECOND: u32 = 10;
const REPORT_BURST: u32 = 20;
/// Most tokens in one report (a 64 KiB body holds a few hundred).
const MAX_TOKENS: usize = 1000;

/// The part of the state this route needs: the trusted keys (none: reports are off) and the
/// limit on signed reports.
#[derive(Clone)]
pub struct SecretScanning {
    pub keys: Option<Arc<PartnerKeys>>,
    pub limiter: Arc<DefaultDirectRateLimiter>,
}

impl SecretScanning {
    pub fn new(keys: Option<PartnerKeys>) -> Self {
        let per_second = NonZeroU32::new(REPORTS_PER_SECOND).unwrap_or(NonZeroU32::MIN);
        let burst = NonZeroU32::new(REPORT_BURST).unwrap_or(NonZeroU32::MIN);
        Self {
            keys: keys.map(Arc::new),
            limiter: Arc::new(RateLimiter::direct(
                Quota::per_second(per_second).allow_burst(burst),
            )),
        }
    }
}

/// One token a scanner found.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ReportedToken {
    /// The text found, which may or may not be a tokenmint client secret.
    pub token: String,
    /// The scanner's name for the secret's format.
    #[serde(rename = "type")]
    pub kind: String,
    /// Where it was found.
    #[serde(default)]
    pub url: Option<String>,
    /// What kind of place: `content`, `commit`, `pull_request_comment`, `npm`, …
    #[serde(default)]
    pub source: Option<String>,
}

/// The verdict on one reported token.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenLabel {
    /// SHA-256 of the token as reported, in hex.
    pub token_hash: String,
    /// The `type` of the report.
    pub token_type: String,
    /// `true_positive`: a tokenmint client secret (now revoked, if it still worked);
    /// `false_positive`: not one.
    pub label: &'static str,
}

/// Revokes the tokenmint client secrets in a scanner's signed report; answers each token's
/// label. Off (404) unless `secret_scanning.public_keys_file` is set.
#[utoipa::path(post, path = "/api/secret-scanning/reports", operation_id = "report_leaked_secrets", tag = "secret scanning",
    params(
        ("Github-Public-Key-Identifier" = String, Header, description = "The identifier of the scanner's key that signed the body"),
        ("Github-Public-Key-Signature" = String, Header, description = "ECDSA P-256 SHA-256 signature of the raw body, DER in base64"),
    ),
    request_body(content = Vec<ReportedToken>, content_type = "application/json"),
    responses(
        (status = 200, description = "One label per reported token, in order", body = Vec<TokenLabel>),
        (status = 400, description = "Not a JSON array of reported tokens, or a signature that is not base64", body = crate::http::management::ProblemBody, content_type = "application/problem+json"),
        (status = 401, description = "Unsigned, or signed by no trusted key", body = crate::http::management::ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "Reports are off on this issuer", body = crate::http::management::ProblemBody, content_type = "application/problem+json"),
        (status = 429, description = "Too many reports; retry after a second", body = crate::http::management::ProblemBody, content_type = "application/problem+json"),
    ))]
pub async fn report(
    State(scanning): State<SecretScanning>,
    State(management): State<Management>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Vec<TokenLabel>>, Problem> {
    let Some(keys) = &scanning.keys else {
        return Err(Problem::not_found(
            "leaked-secret reports are off on this issuer (secret_scanning.public_keys_file)",
        ));
    };
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    keys.verify(
        header(crate::secret_scanning::KEY_IDENTIFIER_HEADER),
        header(crate::secret_scanning::SIGNATURE_HEADER),
        &body,
    )
    .map_err(refused)?;
    if scanning.limiter.check().is_err() {
        return Err(Problem::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            "too many leaked-secret reports; retry after a second",
        ));
    }
    let reported: Vec<ReportedToken> = parse_json(&headers, &body)?;
    if reported.len() > MAX_TOKENS {
        return Err(Problem::bad_request(format!(
            "a report holds at most {MAX_TOKENS} tokens"
        )));
    }
    let actor = Actor::SecretScanner {
        ip: management.proxies.client_ip(peer.ip(), &headers),
    };
    let leaks: Vec<Leak<'_>> = reported
        .iter()
        .map(|r| Leak {
            text: &r.token,
            url: r.url.as_deref(),
            source: r.source.as_deref(),
        })
        .collect();
    let now = management.clock.now();
    let verdicts = manage::revoke_leaked(management.store.as_ref(), &actor, &leaks, now).await?;
    log_revocations(&verdicts);
    Ok(Json(
        reported
            .iter()
            .zip(&verdicts)
            .map(|(token, verdict)| TokenLabel {
                token_hash: sha256_hex(&token.token),
                token_type: token.kind.clone(),
                label: if verdict.is_ours() {
                    "true_positive"
                } else {
                    "false_positive"
                },
            })
            .collect(),
    ))
}

/// A signature refused: 400 for one that cannot be read, 401 for one that does not verify.
fn refused(error: SignatureError) -> Problem {
    match error {
        SignatureError::NotBase64 => Problem::bad_request(error.to_string()),
        _ => Problem::new(
            StatusCode::UNAUTHORIZED,
            "invalid_signature",
            error.to_string(),
        ),
    }
}

/// One warning per revoked key, by Client ID (the secret is never logged).
fn log_revocations(verdicts: &[LeakVerdict]) {
    for verdict in verdicts {
        match verdict {
            LeakVerdict::KeyDeleted { client_id, team } => {
                tracing::warn!(%client_id, %team, "leaked secret reported: API key deleted");
            }
            LeakVerdict::PreviousSecretEnded { client_id, team } => {
                tracing::warn!(%client_id, %team, "leaked previous secret reported: it no longer works");
            }
            _ => {}
        }
    }
}

fn sha256_hex(text: &str) -> String {
    ring::digest::digest(&ring::digest::SHA256, text.as_bytes())
        .as_ref()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}
