//! Webhook signing secrets: one per team, used only to sign the platform's outgoing webhooks in
//! the Standard Webhooks v1 format, so a customer's server can verify a delivery came from the
//! platform.
//!
//! - [`secret`]: the secret itself (`whsec_` + base64 of 32 random bytes), which never prints.
//! - [`signature`]: signing (`webhook-id`, `webhook-timestamp`, `webhook-signature`) and the
//!   receiver's verification, with a timestamp tolerance and constant-time comparison.
//! - [`service`]: the per-team lifecycle (created on first use, rotated with an overlap during
//!   which every signature carries both secrets, previous revoked at once), sealed under the
//!   master key in the store, cached per node for at most `signing.refresh`.
//! - [`state`]: a team's secrets once opened, and which of them sign at a given time.
//! - [`view`]: the secrets as the management API and `--json` show them.

pub mod secret;
pub mod service;
pub mod signature;
pub mod state;
pub mod view;

pub use secret::WebhookSecret;
pub use service::{SecretState, WebhookError, WebhookService};
pub use signature::{SignedHeaders, VerifyError, sign, verify};
pub use view::WebhookSecretView;
