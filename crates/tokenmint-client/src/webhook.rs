//! Standard Webhooks v1 signature verification: the signatures tokenmint puts on webhooks.
//!
//! A webhook carries `webhook-id`, `webhook-timestamp` (Unix seconds) and `webhook-signature`:
//! space-separated `v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{payload}">` entries (several
//! during a secret rotation). The secret is `whsec_` + the base64 of the HMAC key.
//!
//! ```
//! use tokenmint_client::webhook::Webhook;
//!
//! // The test vector of the Standard Webhooks specification.
//! let webhook = Webhook::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
//! let checked = webhook.verify_parts_at(
//!     "msg_p5jXN8AQM9LWM0D4loKWxJek",
//!     "1614265330",
//!     "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
//!     br#"{"test": 2432232314}"#,
//!     1614265330,
//! );
//! assert!(checked.is_ok());
//! ```

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use reqwest::header::HeaderMap;
use ring::hmac;

/// Why a webhook was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WebhookError {
    /// The secret is not `whsec_` + base64 (or plain base64) of a non-empty key.
    #[error("the webhook secret is not whsec_ followed by base64")]
    Secret,
    /// A required header is absent or not visible ASCII.
    #[error("missing or unreadable {0} header")]
    MissingHeader(&'static str),
    /// `webhook-timestamp` is not a whole number of seconds.
    #[error("webhook-timestamp is not Unix seconds")]
    Timestamp,
    /// The timestamp is older than the tolerance allows (a replay, or a very late delivery).
    #[error("the webhook timestamp is too old")]
    TooOld,
    /// The timestamp is further in the future than the tolerance allows.
    #[error("the webhook timestamp is too far in the future")]
    TooNew,
    /// No `v1` signature matches the payload.
    #[error("no webhook signature matches")]
    Signature,
}

/// A webhook verifier for one signing secret.
#[derive(Clone)]
pub struct Webhook {
    key: hmac::Key,
    tolerance: Duration,
}

impl fmt::Debug for Webhook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Webhook")
            .field("secret", &"[redacted]")
            .field("tolerance", &self.tolerance)
            .finish()
    }
}

impl Webhook {
    /// A verifier for `secret` (`whsec_…`, as `tokenmint webhooks secret show` prints it), with a
    /// timestamp tolerance of 5 minutes either way.
    pub fn new(secret: &str) -> Result<Self, WebhookError> {
        let encoded = secret.strip_prefix("whsec_").unwrap_or(secret);
        let bytes = STANDARD.decode(encoded).map_err(|_| WebhookError::Secret)?;
        if bytes.is_empty() {
            return Err(WebhookError::Secret);
        }
        Ok(Self {
            key: hmac::Key::new(hmac::HMAC_SHA256, &bytes),
            tolerance: Duration::from_secs(300),
        })
    }

    /// How far the timestamp may be from now, in either direction.
    pub fn with_tolerance(mut self, tolerance: Duration) -> Self {
        self.tolerance = tolerance;
        self
    }

    /// Checks a received webhook: its three headers against the raw body bytes (before any
    /// JSON parsing), at the current time.
    pub fn verify(&self, headers: &HeaderMap, payload: &[u8]) -> Result<(), WebhookError> {
        let header = |name: &'static str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .ok_or(WebhookError::MissingHeader(name))
        };
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        self.verify_parts_at(
            header("webhook-id")?,
            header("webhook-timestamp")?,
            header("webhook-signature")?,
            payload,
            now,
        )
    }

    /// Checks the header values `id`, `timestamp` and `signatures` against `payload`, with
    /// `now` (Unix seconds) as the current time.
    pub fn verify_parts_at(
        &self,
        id: &str,
        timestamp: &str,
        signatures: &str,
        payload: &[u8],
        now: i64,
    ) -> Result<(), WebhookError> {
        let sent: i64 = timestamp
            .trim()
            .parse()
            .map_err(|_| WebhookError::Timestamp)?;
        let tolerance = i64::try_from(self.tolerance.as_secs()).unwrap_or(i64::MAX);
        if sent < now.saturating_sub(tolerance) {
            return Err(WebhookError::TooOld);
        }
        if sent > now.saturating_add(tolerance) {
            return Err(WebhookError::TooNew);
        }
        let mut message = Vec::with_capacity(id.len() + timestamp.len() + payload.len() + 2);
        message.extend_from_slice(id.as_bytes());
        message.push(b'.');
        message.extend_from_slice(timestamp.as_bytes());
        message.push(b'.');
        message.extend_from_slice(payload);
        let matches = signatures
            .split(' ')
            .filter_map(|entry| entry.strip_prefix("v1,"))
            .filter_map(|sig| STANDARD.decode(sig).ok())
            // ring compares in constant time.
            .any(|sig| hmac::verify(&self.key, &message, &sig).is_ok());
        if matches {
            Ok(())
        } else {
            Err(WebhookError::Signature)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const TS: &str = "1614265330";
    const SIG: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";
    const PAYLOAD: &[u8] = br#"{"test": 2432232314}"#;
    const NOW: i64 = 1614265330;

    fn check(sigs: &str, payload: &[u8], now: i64) -> Result<(), WebhookError> {
        Webhook::new(SECRET)
            .unwrap()
            .verify_parts_at(ID, TS, sigs, payload, now)
    }

    #[test]
    fn the_specification_vector_verifies() {
        assert_eq!(check(SIG, PAYLOAD, NOW), Ok(()));
        let several = format!("v1,bm90LWl0 v2,whatever {SIG}");
        assert_eq!(check(&several, PAYLOAD, NOW), Ok(()));
    }

    #[test]
    fn a_changed_payload_or_signature_is_refused() {
        assert_eq!(
            check(SIG, br#"{"test": 2432232315}"#, NOW),
            Err(WebhookError::Signature)
        );
        let flipped = SIG.replace("g0hM", "g0hN");
        assert_eq!(check(&flipped, PAYLOAD, NOW), Err(WebhookError::Signature));
        // The right bytes under another version tag are not a v1 signature.
        assert_eq!(
            check(&SIG.replace("v1,", "v1a,"), PAYLOAD, NOW),
            Err(WebhookError::Signature)
        );
        assert_eq!(check("", PAYLOAD, NOW), Err(WebhookError::Signature));
    }

    #[test]
    fn timestamps_outside_the_tolerance_are_refused_both_ways() {
        assert_eq!(check(SIG, PAYLOAD, NOW + 300), Ok(()));
        assert_eq!(check(SIG, PAYLOAD, NOW - 300), Ok(()));
        assert_eq!(check(SIG, PAYLOAD, NOW + 301), Err(WebhookError::TooOld));
        assert_eq!(check(SIG, PAYLOAD, NOW - 301), Err(WebhookError::TooNew));
        assert_eq!(check(SIG, PAYLOAD, i64::MAX), Err(WebhookError::TooOld));
        assert_eq!(check(SIG, PAYLOAD, i64::MIN), Err(WebhookError::TooNew));
        let webhook = Webhook::new(SECRET).unwrap();
        let bad = webhook.verify_parts_at(ID, "soon", SIG, PAYLOAD, NOW);
        assert_eq!(bad, Err(WebhookError::Timestamp));
    }

    #[test]
    fn secrets_must_be_base64_keys() {
        assert!(Webhook::new("whsec_").is_err());
        assert!(Webhook::new("whsec_not base64!").is_err());
        assert!(Webhook::new("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").is_ok());
        let debug = format!("{:?}", Webhook::new(SECRET).unwrap());
        assert!(!debug.contains("MfKQ"), "{debug}");
    }

    #[test]
    fn headers_are_read_from_a_header_map() {
        let mut headers = HeaderMap::new();
        headers.insert("webhook-id", ID.parse().unwrap());
        headers.insert("webhook-signature", SIG.parse().unwrap());
        let webhook = Webhook::new(SECRET).unwrap();
        assert_eq!(
            webhook.verify(&headers, PAYLOAD),
            Err(WebhookError::MissingHeader("webhook-timestamp"))
        );
        headers.insert("webhook-timestamp", TS.parse().unwrap());
        // The vector is from 2021: far outside five minutes of now.
        assert_eq!(webhook.verify(&headers, PAYLOAD), Err(WebhookError::TooOld));
    }
}
