//! One token request (RFC 6749 §4.4 with `client_secret_basic`), retried with backoff when the
//! issuer is busy (429, 503 — honoring `Retry-After`) or unreachable.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use reqwest::StatusCode;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, RETRY_AFTER};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

/// Why no token could be had. Never holds the client secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// The issuer refused the request (RFC 6749 §5.2): `invalid_client` for a wrong, deleted or
    /// expired key, `invalid_scope`, `invalid_target`, …
    #[error("token request refused ({status}): {error}: {description}")]
    Refused {
        /// The HTTP status.
        status: u16,
        /// The RFC 6749 error code.
        error: String,
        /// The issuer's `error_description`, if any.
        description: String,
    },
    /// Still busy (429/503) or unreachable after every attempt.
    #[error("token endpoint unavailable after {attempts} attempts: {last}")]
    Unavailable {
        /// Attempts made.
        attempts: u32,
        /// What the last one met.
        last: String,
    },
    /// A 200 whose body is not an RFC 6749 §5.1 token response.
    #[error("unexpected token response: {0}")]
    Malformed(String),
}

/// The retry policy for busy or unreachable issuers.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Backoff {
    pub(crate) attempts: u32,
    pub(crate) first_wait: Duration,
    pub(crate) longest_wait: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            attempts: 4,
            first_wait: Duration::from_millis(500),
            longest_wait: Duration::from_secs(30),
        }
    }
}

pub(crate) struct TokenRequest {
    pub(crate) http: reqwest::Client,
    pub(crate) token_url: url::Url,
    pub(crate) client_id: String,
    pub(crate) client_secret: SecretString,
    pub(crate) scope: Option<String>,
    pub(crate) resource: Option<String>,
    pub(crate) backoff: Backoff,
}

/// RFC 6749 §5.1, the fields used.
#[derive(Deserialize)]
pub(crate) struct Issued {
    pub(crate) access_token: String,
    #[serde(deserialize_with = "seconds")]
    pub(crate) expires_in: Duration,
}

#[derive(Deserialize)]
struct Refusal {
    error: String,
    #[serde(default)]
    error_description: String,
}

/// What one attempt came to.
enum Attempt {
    Done(Result<Issued, TokenError>),
    Retry { why: String, wait: Option<Duration> },
}

impl TokenRequest {
    /// Sends the request, retrying as the backoff allows; `counter` counts every attempt.
    pub(crate) async fn send(&self, counter: &AtomicU64) -> Result<Issued, TokenError> {
        let mut wait = self.backoff.first_wait;
        let mut attempt = 0;
        loop {
            attempt += 1;
            counter.fetch_add(1, Ordering::Relaxed);
            let (why, asked) = match self.attempt().await {
                Attempt::Done(result) => return result,
                Attempt::Retry { why, wait } => (why, wait),
            };
            let pause = asked.unwrap_or(wait);
            if attempt >= self.backoff.attempts || pause > self.backoff.longest_wait {
                return Err(TokenError::Unavailable {
                    attempts: attempt,
                    last: why,
                });
            }
            tracing::debug!(attempt, ?pause, reason = %why, "token request retried");
            tokio::time::sleep(pause).await;
            wait = wait.saturating_mul(2).min(self.backoff.longest_wait);
        }
    }

    async fn attempt(&self) -> Attempt {
        let body = self.form();
        let sent = self
            .http
            .post(self.token_url.clone())
            .header(AUTHORIZATION, self.basic())
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await;
        let response = match sent {
            Ok(response) => response,
            Err(e) => {
                return Attempt::Retry {
                    why: e.without_url().to_string(),
                    wait: None,
                };
            }
        };
        let status = response.status();
        if status == StatusCode::TOO_MANY_REQUESTS || status == StatusCode::SERVICE_UNAVAILABLE {
            let wait = retry_after(response.headers().get(RETRY_AFTER));
            return Attempt::Retry {
                why: format!("the issuer answered {status}"),
                wait,
            };
        }
        Attempt::Done(read(status, response).await)
    }

    fn form(&self) -> String {
        let mut form = url::form_urlencoded::Serializer::new(String::new());
        form.append_pair("grant_type", "client_credentials");
        if let Some(scope) = &self.scope {
            form.append_pair("scope", scope);
        }
        if let Some(resource) = &self.resource {
            form.append_pair("resource", resource);
        }
        form.finish()
    }

    /// RFC 6749 §2.3.1: id and secret are form-urlencoded before the Basic encoding.
    fn basic(&self) -> String {
        let encode =
            |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
        let pair = format!(
            "{}:{}",
            encode(&self.client_id),
            encode(self.client_secret.expose_secret())
        );
        format!("Basic {}", STANDARD.encode(pair))
    }
}

async fn read(status: StatusCode, response: reqwest::Response) -> Result<Issued, TokenError> {
    let body = response
        .bytes()
        .await
        .map_err(|e| TokenError::Malformed(e.without_url().to_string()))?;
    if status == StatusCode::OK {
        return serde_json::from_slice(&body).map_err(|e| TokenError::Malformed(e.to_string()));
    }
    let refusal: Refusal = serde_json::from_slice(&body).unwrap_or(Refusal {
        error: "unexpected_status".into(),
        error_description: String::new(),
    });
    Err(TokenError::Refused {
        status: status.as_u16(),
        error: refusal.error,
        description: refusal.error_description,
    })
}

/// RFC 9110 §10.2.3: `Retry-After` in seconds. (The HTTP-date form falls back to the backoff.)
fn retry_after(value: Option<&reqwest::header::HeaderValue>) -> Option<Duration> {
    let seconds: u64 = value?.to_str().ok()?.trim().parse().ok()?;
    Some(Duration::from_secs(seconds))
}

fn seconds<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
    let seconds = u64::deserialize(deserializer)?;
    Ok(Duration::from_secs(seconds))
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn retry_after_reads_seconds_only() {
        let value = |s: &'static str| Some(HeaderValue::from_static(s));
        assert_eq!(
            retry_after(value("3").as_ref()),
            Some(Duration::from_secs(3))
        );
        assert_eq!(
            retry_after(value("Wed, 21 Oct 2015 07:28:00 GMT").as_ref()),
            None
        );
        assert_eq!(retry_after(value("-1").as_ref()), None);
        assert_eq!(retry_after(None), None);
    }

    #[test]
    fn basic_credentials_are_form_encoded_first() {
        let request = TokenRequest {
            http: reqwest::Client::new(),
            token_url: url::Url::parse("http://x/").unwrap(),
            client_id: "id one".into(),
            client_secret: SecretString::from("s:e/c".to_string()),
            scope: None,
            resource: None,
            backoff: Backoff::default(),
        };
        let expected = format!("Basic {}", STANDARD.encode("id+one:s%3Ae%2Fc"));
        assert_eq!(request.basic(), expected);
    }
}
