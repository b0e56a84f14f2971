//! Prometheus metrics, in a registry of the server's own (no global recorder), rendered as text
//! at `GET /metrics` (on the main listener, or on `metrics.bind`).

use prometheus::{
    Encoder, Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Registry,
    TextEncoder,
};

use crate::signing::keyring::Keyring;
use crate::store::KeyHygiene;

/// Series of [`Metrics`] that every warm request moves, each looked up once at start rather
/// than by its label on each request (a hash and a lock each time).
pub struct HotCounters {
    /// `tokenmint_token_requests_total{outcome="issued"}`.
    pub tokens_issued: IntCounter,
    /// `tokenmint_credential_verifications_total{result="cache_hit"}`.
    pub secrets_from_cache: IntCounter,
    /// `tokenmint_jwks_requests_total{status="200"}`.
    pub jwks_ok: IntCounter,
    /// `tokenmint_jwks_requests_total{status="304"}`.
    pub jwks_not_modified: IntCounter,
}

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
    /// The series every warm request moves, looked up once.
    pub hot: HotCounters,
    /// Signing keys by state, as of the loaded keyring.
    pub signing_keys: IntGaugeVec,
    /// Seconds since the current signing key started signing.
    pub signing_key_age: IntGauge,
    pub signing_key_since: IntGauge,
    /// Database failures seen on the request path.
    pub database_errors: IntCounterVec,
    /// Token requests that waited so long (for a hash, or during the signature) that their
    /// credential was read again before signing.
    pub credential_rereads: IntCounter,
    /// API keys read from the database by the token endpoint and the management API's token check
    /// (the rest came from a node's lease).
    pub credential_reads: IntCounter,
    /// Panics caught: `request` (answered 500) or `task` (a background loop, restarted).
    pub panics: IntCounterVec,
    /// Connections closed as soon as accepted (`per_address`), and HTTP/2 requests answered
    /// 503 at once for want of a stream slot or a place in their address's count (`streams`).
    pub connections_refused: IntCounterVec,
    /// Connections the server cut, by reason: `silent` (no byte in time), `header_timeout` (no
    /// whole request head in time), `idle` (nothing moved for `server.idle_timeout`).
    pub connections_cut: IntCounterVec,
    /// API keys across every team, by hygiene: `all`, `rotation_due` (older than
    /// `keys.rotation_age`), `expiring_soon` (within `keys.expiry_warning`), `expired`. Read
    /// from the database at each scrape.
    pub api_keys: IntGaugeVec,
}

/// Every outcome of a token request: `issued`, `rate_limited`, or an RFC 6749 error code.
pub const TOKEN_OUTCOMES: [&str; 9] = [
    "issued",
    "invalid_request",
    "invalid_client",
    "unsupported_grant_type",
    "invalid_scope",
    "invalid_target",
    "temporarily_unavailable",
    "server_error",
    "rate_limited",
];

/// Each metric is made and registered once, by prometheus's registration macros; a name or
/// label that the registry refuses is a mistake in this file, so it fails at the first start.
const VALID: &str = "invariant: tokenmint's metric names and labels are valid and unique";

impl Metrics {
    #[allow(clippy::expect_used)]
    pub fn new() -> Self {
        use prometheus::{
            register_histogram_with_registry as histogram,
            register_int_counter_vec_with_registry as counter_vec,
            register_int_counter_with_registry as counter,
            register_int_gauge_vec_with_registry as gauge_vec,
            register_int_gauge_with_registry as gauge,
        };
        let registry = Registry::new();
        let buckets = vec![
            0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
        ];
        let token_requests = counter_vec!(
            "tokenmint_token_requests_total",
            "Token requests by outcome.",
            &["outcome"],
            registry
        )
        .expect(VALID);
        let verifications = counter_vec!(
            "tokenmint_credential_verifications_total",
            "Client secret checks by result.",
            &["result"],
            registry
        )
        .expect(VALID);
        let jwks_requests = counter_vec!(
            "tokenmint_jwks_requests_total",
            "JWKS requests by status.",
            &["status"],
            registry
        )
        .expect(VALID);
        let hot = HotCounters {
            tokens_issued: token_requests.with_label_values(&["issued"]),
            secrets_from_cache: verifications.with_label_values(&["cache_hit"]),
            jwks_ok: jwks_requests.with_label_values(&["200"]),
            jwks_not_modified: jwks_requests.with_label_values(&["304"]),
        };
        let metrics = Self {
            token_requests,
            verifications,
            jwks_requests,
            hot,
            token_seconds: histogram!(
                HistogramOpts::new(
                    "tokenmint_token_request_seconds",
                    "Time to answer a token request.",
                )
                .buckets(buckets),
                registry
            )
            .expect(VALID),
            argon2_waiting: gauge!(
                "tokenmint_argon2_waiting",
                "Token requests waiting for an argon2 slot.",
                registry
            )
            .expect(VALID),
            signing_keys: gauge_vec!(
                "tokenmint_signing_keys",
                "Signing keys by state.",
                &["state"],
                registry
            )
            .expect(VALID),
            signing_key_since: gauge!(
                "tokenmint_signing_key_current_since_timestamp_seconds",
                "When the current signing key started signing (Unix seconds); 0 if none.",
                registry
            )
            .expect(VALID),
            signing_key_age: gauge!(
                "tokenmint_signing_key_age_seconds",
                "Seconds since the current signing key started signing.",
                registry
            )
            .expect(VALID),
            database_errors: counter_vec!(
                "tokenmint_database_errors_total",
                "Database failures on the request path.",
                &["kind"],
                registry
            )
            .expect(VALID),
            credential_rereads: counter!(
                "tokenmint_credential_rereads_total",
                "Token requests whose credential was read again before signing, after a long wait.",
                registry
            )
            .expect(VALID),
            credential_reads: counter!(
                "tokenmint_credential_reads_total",
                "API keys read from the database by the token endpoint and the management API's token check; the other requests used a read shared for a moment (a lease).",
                registry
            )
            .expect(VALID),
            panics: counter_vec!(
                "tokenmint_panics_total",
                "Panics caught, by where: request (answered 500) or task (restarted).",
                &["where"],
                registry
            )
            .expect(VALID),
            connections_refused: counter_vec!(
                "tokenmint_connections_refused_total",
                "Connections closed as soon as accepted (per_address), and HTTP/2 requests refused for want of a slot (streams).",
                &["reason"],
                registry
            )
            .expect(VALID),
            connections_cut: counter_vec!(
                "tokenmint_connections_cut_total",
                "Connections cut by the server for holding a slot unused, by reason.",
                &["reason"],
                registry
            )
            .expect(VALID),
            api_keys: gauge_vec!(
                "tokenmint_api_keys",
                "API keys across every team: all, rotation_due (older than keys.rotation_age), \
                 expiring_soon (within keys.expiry_warning), expired.",
                &["hygiene"],
                registry
            )
            .expect(VALID),
            registry,
        };
        metrics.start_at_zero();
        metrics.describe_the_process();
        metrics
    }

    /// `tokenmint_build_info{version} 1`, and the standard `process_*` metrics (CPU seconds,
    /// resident memory, open file descriptors, start time) from `/proc`.
    #[allow(clippy::expect_used)]
    fn describe_the_process(&self) {
        let build = prometheus::register_int_gauge_vec_with_registry!(
            "tokenmint_build_info",
            "Always 1; the labels say which build is running.",
            &["version"],
            self.registry
        )
        .expect(VALID);
        build.with_label_values(&[env!("CARGO_PKG_VERSION")]).set(1);
        self.registry
            .register(Box::new(
                prometheus::process_collector::ProcessCollector::for_self(),
            ))
            .expect(VALID);
    }

    /// Makes every known series exist from the start, at 0: an alert on a rate of errors must
    /// see its first one (a series born at 1 has no rate), and a dashboard shows 0, not nothing.
    fn start_at_zero(&self) {
        let counters: [(&IntCounterVec, &[&str]); 6] = [
            (&self.token_requests, &TOKEN_OUTCOMES),
            (
                &self.verifications,
                &["cache_hit", "valid", "invalid", "not_admitted", "busy"],
            ),
            (&self.jwks_requests, &["200", "304"]),
            (&self.database_errors, &["unavailable", "timeout", "other"]),
            (&self.panics, &["request", "task"]),
            (&self.connections_cut, &["silent", "header_timeout", "idle"]),
        ];
        for (counter, labels) in counters {
            for label in labels {
                counter.with_label_values(&[label]);
            }
        }
        for reason in ["per_address", "streams"] {
            self.connections_refused.with_label_values(&[reason]);
        }
        self.set_key_hygiene(&KeyHygiene::default());
    }

    /// The Prometheus text exposition, with the signing-key gauges read from `keyring` now.
    pub fn render(&self, keyring: &Keyring, now: chrono::DateTime<chrono::Utc>) -> String {
        for state in ["next", "current", "retired", "expired", "revoked"] {
            let count = keyring.key_states.iter().filter(|s| **s == state).count();
            self.signing_keys
                .with_label_values(&[state])
                .set(count as i64);
        }
        let age = keyring
            .current_since
            .map_or(0, |since| (now - since).num_seconds());
        self.signing_key_age.set(age);
        self.signing_key_since
            .set(keyring.current_since.map_or(0, |since| since.timestamp()));
        let mut out = Vec::new();
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut out);
        String::from_utf8(out).unwrap_or_default()
    }
}

impl Metrics {
    /// Sets the API-key hygiene gauges.
    pub fn set_key_hygiene(&self, hygiene: &KeyHygiene) {
        for (label, count) in [
            ("all", hygiene.total),
            ("rotation_due", hygiene.rotation_due),
            ("expiring_soon", hygiene.expiring_soon),
            ("expired", hygiene.expired),
        ] {
            self.api_keys
                .with_label_values(&[label])
                .set(i64::try_from(count).unwrap_or(i64::MAX));
        }
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}
