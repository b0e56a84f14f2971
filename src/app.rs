//! The server, assembled: `App::build(config)` opens the store, loads (or on first start
//! creates) the master key and signing keys, and binds the listener; `run(shutdown)` serves
//! until the shutdown future completes. Tests bind port 0 and read [`App::local_addr`].

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::http::HeaderValue;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::config::Config;
use crate::http::{self, AppState};
use crate::metrics::Metrics;
use crate::oauth::grant::TokenIssuer;
use crate::oauth::usage::UsageRecorder;
use crate::oauth::verifier::SecretVerifier;
use crate::signing::keyring::KeyringHandle;
use crate::signing::lifecycle::Policy;
use crate::signing::master_key::{MASTER_KEY_ENV, MasterKey, MasterKeySource};
use crate::signing::operations::SigningKeys;
use crate::store::{self, Store};

/// How long a token request waits for an argon2 slot before it is answered 503.
const HASH_SLOT_WAIT: Duration = Duration::from_secs(2);

/// A built server, bound and ready to run.
pub struct App {
    listener: TcpListener,
    max_connections: usize,
    /// `metrics.bind`, when set: `/metrics` alone, apart from the public listener.
    metrics_listener: Option<TcpListener>,
    state: AppState,
    signing: SigningKeys,
    usage: UsageRecorder,
    refresh: Duration,
}

/// Opens the store and the master key, checking that the key opens what the store holds.
/// Shared by the server and the CLI commands that create signing keys.
pub async fn open_signing(config: &Config) -> anyhow::Result<SigningKeys> {
    let store = store::open(&config.database).await?;
    let set = store.signing_keys().await?;
    let nothing_sealed = set.keys.iter().all(|k| k.sealed_private.is_none());
    let env_value = std::env::var(MASTER_KEY_ENV).ok();
    let file = &config.signing.master_key_file;
    let (master, source) = MasterKey::load(env_value.as_deref(), file, nothing_sealed)?;
    if source == MasterKeySource::CreatedFile {
        tracing::info!(file = %file.display(), "created a new master key (mode 0600); back it up: \
            without it the signing keys cannot be opened");
    }
    let signing = SigningKeys {
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

impl App {
    /// Everything short of serving: store, master key, first signing key, listener.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let signing = open_signing(&config).await?;
        let store: Arc<dyn Store> = Arc::clone(&signing.store);
        signing
            .maintain(store::now())
            .await
            .context("preparing signing keys")?;
        let keyring = KeyringHandle::new(signing.load_keyring(store::now(), None).await?);
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
        );
        let max_age = config.signing.jwks_max_age.as_secs();
        let state = AppState {
            issuer: Arc::new(issuer),
            keyring,
            store: Arc::clone(&store),
            metadata: http::well_known::render_metadata(&config),
            jwks_cache_control: HeaderValue::from_str(&format!("public, max-age={max_age}"))?,
            metrics,
            metrics_on_main: config.metrics.enabled && config.metrics.bind.is_empty(),
            proxies: http::client_ip::TrustedProxies::parse(&config.rate_limit.trusted_proxies)
                .map_err(|e| anyhow::anyhow!("rate_limit.trusted_proxies: {e}"))?,
            config: Arc::new(config.clone()),
            signing: signing.clone(),
            openapi: bytes::Bytes::new(),
        };
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
            max_connections: config.server.max_connections,
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
        let follow = tokio::spawn(self.signing.clone().follow(
            self.state.keyring.clone(),
            self.refresh,
            stopped.clone(),
        ));
        let flush = tokio::spawn(
            self.usage
                .clone()
                .run(Arc::clone(&self.state.store), stopped.clone()),
        );
        let housekeeping = tokio::spawn(housekeeping(Arc::clone(&self.state.issuer), stopped));
        tracing::info!(addr = %self.local_addr()?, "tokenmint listening");
        if let Some(listener) = self.metrics_listener {
            tracing::info!(addr = %listener.local_addr()?, "metrics listening");
            let metrics = http::metrics_router(self.state.clone());
            tokio::spawn(async move { axum::serve(listener, metrics).await });
        }
        let router = http::router(self.state);
        // The no-op tap is how axum gives a custom listener's connections their SocketAddr
        // (ConnectInfo is implemented for `TapIo<L, F>` generically, not for arbitrary listeners).
        let listener = axum::serve::ListenerExt::tap_io(
            http::listener::LimitedListener::new(self.listener, self.max_connections),
            |_| {},
        );
        let served = axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(shutdown)
        .await;
        let _ = stop.send(true);
        let _ = tokio::join!(follow, flush, housekeeping);
        served.context("server failed")
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
