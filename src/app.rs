//! The server, assembled: `App::build(config)` is the composition root. It opens the store
//! (once: the token issuer, the signing service and the management API share it), loads (or on
//! first start creates) the master key and signing keys, builds the handlers' state in its
//! parts ([`AppState`]) and binds the listener; `run(shutdown)` serves until the shutdown
//! future completes. Tests bind port 0 and read [`App::local_addr`].

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::http::HeaderValue;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::config::Config;
use crate::http::{
    self, AppState, Documents, Management, ManagementParts, StateParts, TokenEndpoint,
};
use crate::metrics::Metrics;
use crate::oauth::grant::TokenIssuer;
use crate::oauth::usage::UsageRecorder;
use crate::oauth::verifier::SecretVerifier;
use crate::secret_scanning::PartnerKeys;
use crate::signing::keyring::KeyringHandle;
use crate::signing::lifecycle::Policy;
use crate::signing::master_key::{MASTER_KEY_ENV, MasterKey, MasterKeySource};
use crate::signing::service::SigningService;
use crate::store::{self, Store};
use crate::webhooks::WebhookService;

/// How long a token request waits for an argon2 slot before it is answered 503.
const HASH_SLOT_WAIT: Duration = Duration::from_secs(2);
/// How long a background loop that panicked rests before it is started again.
const TASK_RESTART_DELAY: Duration = Duration::from_secs(1);

/// A built server, bound and ready to run.
pub struct App {
    listener: TcpListener,
    connection_limits: http::listener::ConnectionLimits,
    /// `metrics.bind`, when set: `/metrics` alone, apart from the public listener.
    metrics_listener: Option<TcpListener>,
    state: AppState,
    signing: SigningService,
    usage: UsageRecorder,
    refresh: Duration,
}

/// Opens the store and the master key, checking that the key opens what the store holds.
/// Shared by the server and the CLI commands that create signing keys.
pub async fn open_signing_service(config: &Config) -> anyhow::Result<SigningService> {
    let store = store::open(&config.database).await?;
    let set = store.signing_keys().await?;
    let nothing_sealed = set.keys.iter().all(|k| k.sealed_private.is_none())
        && store.webhook_secrets(None).await?.is_empty();
    let env_value = std::env::var(MASTER_KEY_ENV).ok();
    let file = &config.signing.master_key_file;
    let (master, source) = MasterKey::load(env_value.as_deref(), file, nothing_sealed)?;
    if source == MasterKeySource::CreatedFile {
        tracing::info!(file = %file.display(), "created a new master key (mode 0600); back it up: \
            without it the signing keys cannot be opened");
    }
    let signing = SigningService {
        store,
        master: Arc::new(arc_swap::ArcSwap::from_pointee(master)),
        master_file: (source != MasterKeySource::Environment).then(|| file.clone()),
        policy: Policy::from_config(config),
        algorithm: config.signing.algorithm,
    };
    signing.check_master_key(&set)?;
    signing.record_master_check().await?;
    Ok(signing)
}

/// The secret scanners whose leaked-secret reports are trusted: none (reports off) unless
/// `secret_scanning.public_keys_file` is set; a file that cannot be used stops the start.
fn secret_scanners(config: &Config) -> anyhow::Result<Option<PartnerKeys>> {
    let file = &config.secret_scanning.public_keys_file;
    if file.as_os_str().is_empty() {
        return Ok(None);
    }
    let keys = PartnerKeys::load(file)?;
    tracing::info!(file = %file.display(), keys = keys.len(), "leaked-secret reports are on");
    Ok(Some(keys))
}

impl App {
    /// Everything short of serving: store, master key, first signing key, listener.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        // One clock for everything the server decides by the time.
        let clock = crate::clock::system();
        let scanners = secret_scanners(&config)?;
        let signing = open_signing_service(&config).await?;
        let store: Arc<dyn Store> = Arc::clone(&signing.store);
        signing
            .maintain(clock.now())
            .await
            .context("preparing signing keys")?;
        let keyring = KeyringHandle::new(signing.load_keyring(clock.now(), None).await?);
        let slots = std::thread::available_parallelism().map_or(2, |n| n.get());
        let usage = UsageRecorder::default();
        let metrics = Arc::new(Metrics::new());
        let issuer = TokenIssuer::new(
            &config,
            Arc::clone(&store),
            SecretVerifier::new(slots, HASH_SLOT_WAIT)?,
            usage.clone(),
            keyring.clone(),
            Arc::clone(&metrics),
        )
        .with_clock(clock.clone());
        let issuer = Arc::new(issuer);
        let max_age = config.signing.jwks_max_age.as_secs();
        let proxies =
            http::client_ip::TrustedProxies::new(config.rate_limit.trusted_proxies.clone());
        let state = AppState::new(StateParts {
            token: TokenEndpoint {
                issuer: Arc::clone(&issuer),
                proxies: proxies.clone(),
            },
            management: Management::new(ManagementParts {
                store: Arc::clone(&store),
                keys: issuer,
                signing: signing.clone(),
                keyring: keyring.clone(),
                clock: clock.clone(),
                proxies: proxies.clone(),
                config: Arc::new(config.clone()),
                webhooks: Arc::new(WebhookService::new(
                    Arc::clone(&store),
                    signing.clone(),
                    config.webhooks.overlap,
                    config.signing.refresh,
                )),
            }),
            documents: Documents {
                metadata: http::well_known::render_metadata(&config),
                openapi: http::openapi_document(&config),
                jwks_cache_control: HeaderValue::from_str(&format!("public, max-age={max_age}"))?,
            },
            secret_scanning: http::secret_scanning::SecretScanning::new(scanners),
            keyring,
            metrics,
            clock: clock.clone(),
        });
        let metrics_listener = match (config.metrics.enabled, config.metrics.bind.as_str()) {
            (true, bind) if !bind.is_empty() => Some(
                TcpListener::bind(bind)
                    .await
                    .with_context(|| format!("cannot listen on {bind} (metrics.bind)"))?,
            ),
            _ => None,
        };
        let listener = TcpListener::bind(config.server.bind)
            .await
            .with_context(|| format!("cannot listen on {} (server.bind)", config.server.bind))?;
        if store.teams(None, Some(1)).await?.is_empty() {
            tracing::info!(
                "no teams yet. Next: `tokenmint teams create acme`, then \
                `tokenmint keys create --team acme --label my-service` for a Client ID and secret"
            );
        }
        Ok(Self {
            listener,
            connection_limits: connection_limits(&config, &proxies),
            metrics_listener,
            state,
            signing,
            usage,
            refresh: config.signing.refresh,
        })
    }

    /// Where `/metrics` is served on its own (`metrics.bind`), if it is.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_listener
            .as_ref()
            .and_then(|l| l.local_addr().ok())
    }

    /// The address the listener is bound to (port 0 resolved).
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `shutdown` completes, then lets in-flight requests finish, stops the
    /// background tasks and writes the last `last_used_at` times.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let (stop, stopped) = watch::channel(false);
        let metrics = &self.state.metrics;
        let (signing, keyring, refresh, clock) = (
            self.signing.clone(),
            self.state.keyring.clone(),
            self.refresh,
            self.state.clock.clone(),
        );
        let watching = stopped.clone();
        let follow = tokio::spawn(supervise(
            "signing-key refresh",
            Arc::clone(metrics),
            move || {
                signing
                    .clone()
                    .follow(keyring.clone(), refresh, clock.clone(), watching.clone())
            },
        ));
        let (usage, store, watching) = (
            self.usage.clone(),
            Arc::clone(&self.state.management.store),
            stopped.clone(),
        );
        let flush = tokio::spawn(supervise(
            "last-used flush",
            Arc::clone(metrics),
            move || usage.clone().run(Arc::clone(&store), watching.clone()),
        ));
        let issuer = Arc::clone(&self.state.token.issuer);
        let housekeeping = tokio::spawn(supervise(
            "rate-limit housekeeping",
            Arc::clone(metrics),
            move || housekeeping(Arc::clone(&issuer), stopped.clone()),
        ));
        tracing::info!(addr = %self.local_addr()?, "tokenmint listening");
        let metrics = Arc::clone(&self.state.metrics);
        if let Some(listener) = self.metrics_listener {
            tracing::info!(addr = %listener.local_addr()?, "metrics listening");
            let router = http::metrics_router(self.state.clone());
            let limits = self.connection_limits.clone();
            let mut main_stopped = stop.subscribe();
            tokio::spawn(http::listener::serve(
                listener,
                router,
                limits,
                Arc::clone(&metrics),
                async move {
                    let _ = main_stopped.changed().await;
                },
            ));
        }
        let router = http::router(self.state);
        http::listener::serve(
            self.listener,
            router,
            self.connection_limits,
            metrics,
            shutdown,
        )
        .await;
        let _ = stop.send(true);
        let _ = tokio::join!(follow, flush, housekeeping);
        Ok(())
    }
}

/// The connection limits of `[server]`, with the trusted proxies exempt from the per-address cap.
fn connection_limits(
    config: &Config,
    proxies: &http::client_ip::TrustedProxies,
) -> http::listener::ConnectionLimits {
    http::listener::ConnectionLimits {
        max_connections: config.server.max_connections,
        per_address: config.server.max_connections_per_address,
        exempt: proxies.clone(),
        header_read_timeout: config.server.header_read_timeout,
        idle_timeout: config.server.idle_timeout,
    }
}

/// Runs a background loop until it returns (at shutdown). A panic in it is logged at error level,
/// counted in `tokenmint_panics_total{where="task"}`, and the loop restarted a second later, so a
/// bug in one tick never silently ends signing-key refreshes or last-used writes.
async fn supervise<F, Fut>(name: &'static str, metrics: Arc<Metrics>, mut start: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    loop {
        match tokio::spawn(start()).await {
            Ok(()) => return,
            Err(error) if error.is_panic() => {
                metrics.panics.with_label_values(&["task"]).inc();
                let panic = error.into_panic();
                tracing::error!(
                    task = name,
                    panic = http::panic_guard::message(panic.as_ref()),
                    "a background task panicked; restarting it in 1s"
                );
                tokio::time::sleep(TASK_RESTART_DELAY).await;
            }
            Err(error) => {
                tracing::error!(task = name, %error, "a background task was cancelled");
                return;
            }
        }
    }
}

/// Every minute, lets the rate limiters forget idle clients and addresses.
async fn housekeeping(issuer: Arc<TokenIssuer>, mut stopped: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(Duration::from_secs(60));
    loop {
        tokio::select! {
            _ = tick.tick() => issuer.housekeeping(),
            _ = stopped.changed() => return,
        }
    }
}

/// Completes on SIGINT (Ctrl-C) or SIGTERM.
pub async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {}
        () = terminate => {}
    }
    tracing::info!("shutting down: finishing requests in flight");
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    #[tokio::test]
    async fn a_background_task_that_panics_is_logged_counted_and_restarted() {
        let metrics = Arc::new(Metrics::new());
        let runs = Arc::new(AtomicU32::new(0));
        let counted = Arc::clone(&runs);
        supervise("test", Arc::clone(&metrics), move || {
            let run = counted.fetch_add(1, Ordering::SeqCst);
            async move { assert!(run > 0, "deliberate panic on the first run") }
        })
        .await;
        assert_eq!(runs.load(Ordering::SeqCst), 2, "restarted once, then ended");
        assert_eq!(metrics.panics.with_label_values(&["task"]).get(), 1);
    }
}
