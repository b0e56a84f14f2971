//! A webhook signing secret in the Standard Webhooks form: `whsec_` followed by the standard
//! base64 (with padding) of the HMAC key's bytes.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ring::rand::{SecureRandom, SystemRandom};
use zeroize::Zeroizing;

/// The prefix every secret is shown with.
pub const PREFIX: &str = "whsec_";
/// Bytes of a secret tokenmint makes: HMAC-SHA256's block-sized key strength (256 bits).
pub const GENERATED_BYTES: usize = 32;
/// Bytes a secret given to `webhooks verify` may have (the Standard Webhooks range).
const ACCEPTED_BYTES: std::ops::RangeInclusive<usize> = 24..=64;

/// The HMAC key of a webhook signing secret. Its `Debug` never shows the key; the `whsec_`
/// text exists only when [`WebhookSecret::reveal`] is asked for it.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookSecret {
    bytes: Zeroizing<Vec<u8>>,
}

/// Why a text is not a webhook secret (the text itself is never repeated).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a webhook signing secret: expected whsec_ followed by the base64 of 24 to 64 bytes")]
pub struct NotASecret;

impl WebhookSecret {
    /// A new secret from the system's random generator.
    pub fn generate() -> Result<Self, ring::error::Unspecified> {
        let mut bytes = Zeroizing::new(vec![0u8; GENERATED_BYTES]);
        SystemRandom::new().fill(&mut bytes)?;
        Ok(Self { bytes })
    }

    /// Reads `whsec_…` (or the bare base64, as the Standard Webhooks libraries also accept).
    pub fn parse(text: &str) -> Result<Self, NotASecret> {
        let encoded = text.trim().strip_prefix(PREFIX).unwrap_or(text.trim());
        let bytes = Zeroizing::new(STANDARD.decode(encoded).map_err(|_| NotASecret)?);
        if !ACCEPTED_BYTES.contains(&bytes.len()) {
            return Err(NotASecret);
        }
        Ok(Self { bytes })
    }

    /// Rebuilds a secret from the bytes the store kept sealed.
    pub fn from_bytes(bytes: Zeroizing<Vec<u8>>) -> Result<Self, NotASecret> {
        if !ACCEPTED_BYTES.contains(&bytes.len()) {
            return Err(NotASecret);
        }
        Ok(Self { bytes })
    }

    /// The key's bytes, to seal or to sign with.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The `whsec_…` text a customer copies into their receiver.
    pub fn reveal(&self) -> Zeroizing<String> {
        Zeroizing::new(format!(
            "{PREFIX}{}",
            STANDARD.encode(self.bytes.as_slice())
        ))
    }
}

impl fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebhookSecret([redacted])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_secrets_are_whsec_and_32_bytes_and_read_back() {
        let secret = WebhookSecret::generate().unwrap();
        let text = secret.reveal();
        assert!(text.starts_with("whsec_"));
        assert_eq!(secret.bytes().len(), 32);
        assert_eq!(WebhookSecret::parse(&text).unwrap(), secret);
        assert_ne!(WebhookSecret::generate().unwrap(), secret);
    }

    #[test]
    fn bare_base64_is_accepted_and_bad_texts_are_refused() {
        let secret = WebhookSecret::generate().unwrap();
        let bare = secret.reveal().trim_start_matches(PREFIX).to_string();
        assert_eq!(WebhookSecret::parse(&bare).unwrap(), secret);
        for bad in [
            "",
            "whsec_",
            "whsec_!!!!",
            "whsec_AAAA",
            &format!("whsec_{}", "A".repeat(200)),
        ] {
            assert_eq!(WebhookSecret::parse(bad), Err(NotASecret), "{bad}");
        }
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let secret = WebhookSecret::generate().unwrap();
        let shown = format!("{secret:?}");
        assert!(!shown.contains(secret.reveal().trim_start_matches(PREFIX)));
        assert_eq!(shown, "WebhookSecret([redacted])");
    }
}
