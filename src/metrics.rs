//! Prometheus metrics, in a registry of the server's own (no global recorder), rendered as text
//! at `GET /metrics` (on the main listener, or on `metrics.bind`).

use prometheus::{
    Encoder, Histogram, HistogramOpts, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
    TextEncoder,
};

use crate::signing::keyring::Keyring;

/// Every metric tokenmint exports.
pub struct Metrics {
    registry: Registry,
    /// Token requests by outcome: `issued` or the RFC 6749 error code.
    pub token_requests: IntCounterVec,
    /// Time to answer a token request, successful or not.
    pub token_seconds: Histogram,
    /// Secret checks: `cache_hit`, `valid`, `invalid`, `busy`.
    pub verifications: IntCounterVec,
    /// Requests waiting for an argon2 slot now.
    pub argon2_waiting: IntGauge,
    /// JWKS requests by status (`200`, `304`).
    pub jwks_requests: IntCounterVec,
    /// Signing keys by state, as of the loaded keyring.
    pub signing_keys: IntGaugeVec,
    /// Seconds since the current signing key started signing.
    pub signing_key_age: IntGauge,
    /// Database failures seen on the request path.
    pub database_errors: IntCounterVec,
}

fn counter(registry: &Registry, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    let metric =
        IntCounterVec::new(Opts::new(name, help), labels).unwrap_or_else(|_| unreachable!());
    let _ = registry.register(Box::new(metric.clone()));
    metric
}

impl Metrics {
    pub fn new() -> Self {
        let registry = Registry::new();
        let token_seconds = Histogram::with_opts(
            HistogramOpts::new(
                "tokenmint_token_request_seconds",
                "Time to answer a token request.",
            )
            .buckets(vec![
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
            ]),
        )
        .unwrap_or_else(|_| unreachable!());
        let _ = registry.register(Box::new(token_seconds.clone()));
        let argon2_waiting = IntGauge::new(
            "tokenmint_argon2_waiting",
            "Token requests waiting for an argon2 slot.",
        )
        .unwrap_or_else(|_| unreachable!());
        let _ = registry.register(Box::new(argon2_waiting.clone()));
        let signing_keys = IntGaugeVec::new(
            Opts::new("tokenmint_signing_keys", "Signing keys by state."),
            &["state"],
        )
        .unwrap_or_else(|_| unreachable!());
        let _ = registry.register(Box::new(signing_keys.clone()));
        let signing_key_age = IntGauge::new(
            "tokenmint_signing_key_age_seconds",
            "Seconds since the current signing key started signing.",
        )
        .unwrap_or_else(|_| unreachable!());
        let _ = registry.register(Box::new(signing_key_age.clone()));
        Self {
            token_requests: counter(
                &registry,
                "tokenmint_token_requests_total",
                "Token requests by outcome.",
                &["outcome"],
            ),
            verifications: counter(
                &registry,
                "tokenmint_credential_verifications_total",
                "Client secret checks by result.",
                &["result"],
            ),
            jwks_requests: counter(
                &registry,
                "tokenmint_jwks_requests_total",
                "JWKS requests by status.",
                &["status"],
            ),
            database_errors: counter(
                &registry,
                "tokenmint_database_errors_total",
                "Database failures on the request path.",
                &["kind"],
            ),
            registry,
            token_seconds,
            argon2_waiting,
            signing_keys,
            signing_key_age,
        }
    }

    /// The Prometheus text exposition, with the signing-key gauges read from `keyring` now.
    pub fn render(&self, keyring: &Keyring, now: chrono::DateTime<chrono::Utc>) -> String {
        for state in ["next", "current", "retired", "expired", "revoked"] {
            let count = keyring.state_counts.iter().filter(|s| **s == state).count();
            self.signing_keys
                .with_label_values(&[state])
                .set(count as i64);
        }
        let age = keyring
            .current_since
            .map_or(0, |since| (now - since).num_seconds());
        self.signing_key_age.set(age);
        let mut out = Vec::new();
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut out);
        String::from_utf8(out).unwrap_or_default()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}
