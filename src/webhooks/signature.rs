//! Standard Webhooks v1 signatures: `webhook-signature: v1,<base64 HMAC-SHA256>` over
//! `"{webhook-id}.{webhook-timestamp}.{payload}"`, several signatures separated by spaces.
//!
//! The HMAC is ring's; the comparison on the receiving side is `ring::hmac::verify`, which is
//! constant-time.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ring::hmac;
use serde::Serialize;
use subtle::ConstantTimeEq;

use super::WebhookSecret;

/// The version tag of every signature tokenmint makes and accepts.
const VERSION: &str = "v1";
/// The longest `webhook-id` accepted: ids are the sender's message ids, never this long.
pub const MAX_ID_LEN: usize = 256;
/// The latest `webhook-timestamp` accepted: 9999-12-31T23:59:59Z, as every time from input.
pub const MAX_TIMESTAMP: i64 = 253_402_300_799;
/// How far a receiver lets a timestamp be from its clock, either way (the Standard Webhooks
/// libraries' default).
pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(5 * 60);

/// The three headers of a signed delivery, named as they are sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct SignedHeaders {
    #[serde(rename = "webhook-id")]
    #[schema(rename = "webhook-id")]
    pub id: String,
    /// Unix seconds.
    #[serde(rename = "webhook-timestamp")]
    #[schema(rename = "webhook-timestamp")]
    pub timestamp: String,
    /// `v1,<base64>` for each live secret, newest first, separated by spaces.
    #[serde(rename = "webhook-signature")]
    #[schema(rename = "webhook-signature")]
    pub signature: String,
}

/// Why a `webhook-id` or `webhook-timestamp` given to sign cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BadInput {
    #[error("the webhook id must be 1 to {MAX_ID_LEN} visible ASCII characters, without spaces")]
    Id,
    #[error("the webhook timestamp must be Unix seconds from 0 to {MAX_TIMESTAMP}")]
    Timestamp,
}

/// Checks a `webhook-id` before it goes into a header and the signed content.
pub fn check_id(id: &str) -> Result<(), BadInput> {
    let visible = id.bytes().all(|b| b.is_ascii_graphic());
    if id.is_empty() || id.len() > MAX_ID_LEN || !visible {
        return Err(BadInput::Id);
    }
    Ok(())
}

/// Checks a `webhook-timestamp` (Unix seconds) before it is signed.
pub fn check_timestamp(timestamp: i64) -> Result<(), BadInput> {
    if !(0..=MAX_TIMESTAMP).contains(&timestamp) {
        return Err(BadInput::Timestamp);
    }
    Ok(())
}

/// A new message id: `msg_` and 32 random hex digits.
pub fn new_id() -> String {
    format!("msg_{}", uuid::Uuid::new_v4().simple())
}

/// Signs `payload` with every secret in `secrets` (the current one first). The caller has
/// checked `id` and `timestamp` ([`check_id`], [`check_timestamp`]).
pub fn sign(id: &str, timestamp: i64, payload: &[u8], secrets: &[&WebhookSecret]) -> SignedHeaders {
    let timestamp = timestamp.to_string();
    let signatures: Vec<String> = secrets
        .iter()
        .map(|secret| {
            let tag = tag(secret, id, &timestamp, payload);
            format!("{VERSION},{}", STANDARD.encode(tag.as_ref()))
        })
        .collect();
    SignedHeaders {
        id: id.to_string(),
        timestamp,
        signature: signatures.join(" "),
    }
}

/// Why a delivery does not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("webhook-timestamp is not Unix seconds")]
    BadTimestamp,
    #[error("webhook-timestamp is {0} s away from now, more than the tolerance allows")]
    OutsideTolerance(i128),
    #[error("no v1 signature in webhook-signature matches the payload under this secret")]
    NoMatch,
}

/// A receiver's check of one delivery: the timestamp within `tolerance` of `now` (Unix
/// seconds), then any `v1` signature in `signatures` matching under `secret`. The timestamp
/// is checked first so a replay outside the window fails whatever it carries; remembering the
/// ids seen within the window is the receiver's part.
pub fn verify(
    secret: &WebhookSecret,
    id: &str,
    timestamp: &str,
    signatures: &str,
    payload: &[u8],
    now: i64,
    tolerance: Duration,
) -> Result<(), VerifyError> {
    let sent: i64 = match timestamp.bytes().all(|b| b.is_ascii_digit()) {
        true => timestamp.parse().map_err(|_| VerifyError::BadTimestamp)?,
        false => return Err(VerifyError::BadTimestamp),
    };
    let away = i128::from(now) - i128::from(sent);
    if away.unsigned_abs() > u128::from(tolerance.as_secs()) {
        return Err(VerifyError::OutsideTolerance(away));
    }
    let expected = tag(secret, id, timestamp, payload);
    let matches = signatures
        .split(' ')
        .filter_map(|signature| signature.strip_prefix("v1,"))
        .filter_map(|tag| STANDARD.decode(tag).ok())
        .any(|tag| bool::from(expected.as_ref().ct_eq(tag.as_slice())));
    if matches {
        Ok(())
    } else {
        Err(VerifyError::NoMatch)
    }
}

/// The HMAC-SHA256 of the signed content, `{id}.{timestamp}.{payload}`, fed to the HMAC in
/// parts rather than copied into one buffer first (the payload is most of a delivery).
fn tag(secret: &WebhookSecret, id: &str, timestamp: &str, payload: &[u8]) -> hmac::Tag {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.bytes());
    let mut context = hmac::Context::with_key(&key);
    for part in [id.as_bytes(), b".", timestamp.as_bytes(), b".", payload] {
        context.update(part);
    }
    context.sign()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of the Standard Webhooks specification.
    const SPEC_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const SPEC_ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const SPEC_TIMESTAMP: i64 = 1_614_265_330;
    const SPEC_PAYLOAD: &[u8] = br#"{"test": 2432232314}"#;
    const SPEC_SIGNATURE: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    fn spec_secret() -> WebhookSecret {
        WebhookSecret::parse(SPEC_SECRET).unwrap()
    }

    fn check(
        signatures: &str,
        id: &str,
        timestamp: &str,
        payload: &[u8],
    ) -> Result<(), VerifyError> {
        let now = SPEC_TIMESTAMP + 10;
        verify(
            &spec_secret(),
            id,
            timestamp,
            signatures,
            payload,
            now,
            DEFAULT_TOLERANCE,
        )
    }

    #[test]
    fn signs_the_specification_example() {
        let headers = sign(SPEC_ID, SPEC_TIMESTAMP, SPEC_PAYLOAD, &[&spec_secret()]);
        assert_eq!(headers.signature, SPEC_SIGNATURE);
        assert_eq!(headers.timestamp, "1614265330");
        assert_eq!(
            check(SPEC_SIGNATURE, SPEC_ID, "1614265330", SPEC_PAYLOAD),
            Ok(())
        );
    }

    #[test]
    fn two_secrets_give_two_signatures_and_either_verifies() {
        let new = WebhookSecret::generate().unwrap();
        let old = spec_secret();
        let headers = sign(SPEC_ID, SPEC_TIMESTAMP, SPEC_PAYLOAD, &[&new, &old]);
        let parts: Vec<&str> = headers.signature.split(' ').collect();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[1], SPEC_SIGNATURE);
        for secret in [&new, &old] {
            let result = verify(
                secret,
                SPEC_ID,
                &headers.timestamp,
                &headers.signature,
                SPEC_PAYLOAD,
                SPEC_TIMESTAMP,
                DEFAULT_TOLERANCE,
            );
            assert_eq!(result, Ok(()));
        }
    }

    #[test]
    fn tampering_and_foreign_secrets_fail() {
        let ts = "1614265330";
        assert_eq!(
            check(SPEC_SIGNATURE, SPEC_ID, ts, b"{\"test\": 1}"),
            Err(VerifyError::NoMatch)
        );
        assert_eq!(
            check(SPEC_SIGNATURE, "msg_other", ts, SPEC_PAYLOAD),
            Err(VerifyError::NoMatch)
        );
        assert_eq!(
            check(SPEC_SIGNATURE, SPEC_ID, "1614265331", SPEC_PAYLOAD),
            Err(VerifyError::NoMatch)
        );
        assert_eq!(
            check("v2,abc v1,!!!", SPEC_ID, ts, SPEC_PAYLOAD),
            Err(VerifyError::NoMatch)
        );
        assert_eq!(
            check("", SPEC_ID, ts, SPEC_PAYLOAD),
            Err(VerifyError::NoMatch)
        );
        let foreign = WebhookSecret::generate().unwrap();
        let result = verify(
            &foreign,
            SPEC_ID,
            ts,
            SPEC_SIGNATURE,
            SPEC_PAYLOAD,
            SPEC_TIMESTAMP,
            DEFAULT_TOLERANCE,
        );
        assert_eq!(result, Err(VerifyError::NoMatch));
    }

    #[test]
    fn timestamps_outside_the_tolerance_or_malformed_fail() {
        let secret = spec_secret();
        let run = |now: i64, ts: &str| {
            verify(
                &secret,
                SPEC_ID,
                ts,
                SPEC_SIGNATURE,
                SPEC_PAYLOAD,
                now,
                DEFAULT_TOLERANCE,
            )
        };
        assert_eq!(run(SPEC_TIMESTAMP + 300, "1614265330"), Ok(()));
        assert_eq!(
            run(SPEC_TIMESTAMP + 301, "1614265330"),
            Err(VerifyError::OutsideTolerance(301))
        );
        assert_eq!(
            run(SPEC_TIMESTAMP - 301, "1614265330"),
            Err(VerifyError::OutsideTolerance(-301))
        );
        for bad in ["", "-1", "+1614265330", "1e9", "99999999999999999999999"] {
            assert_eq!(
                run(SPEC_TIMESTAMP, bad),
                Err(VerifyError::BadTimestamp),
                "{bad}"
            );
        }
        assert!(run(i64::MIN, "9223372036854775807").is_err());
    }

    #[test]
    fn ids_and_timestamps_to_sign_are_checked() {
        assert_eq!(check_id("msg_1"), Ok(()));
        for bad in ["", "a b", "a\nb", "é", &"x".repeat(MAX_ID_LEN + 1)] {
            assert_eq!(check_id(bad), Err(BadInput::Id), "{bad:?}");
        }
        assert_eq!(check_timestamp(0), Ok(()));
        assert_eq!(check_timestamp(MAX_TIMESTAMP), Ok(()));
        for bad in [-1, MAX_TIMESTAMP + 1, i64::MAX, i64::MIN] {
            assert_eq!(check_timestamp(bad), Err(BadInput::Timestamp));
        }
    }
}
