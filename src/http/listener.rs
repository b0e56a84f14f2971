//! The connection loop: accepts, admits, serves HTTP/1.1 and h2c (prior knowledge) with
//! hyper-util, and cuts connections that hold a slot without using it.
//!
//! `axum::serve` sets no hyper timer, so a connection that sends nothing, or one byte of its
//! head a second, would stay open forever; a few thousand such sockets would fill every slot.
//! Here each connection:
//! - first passes the per-address cap ([`super::peer`]): past it, it is closed at once, before
//!   it takes one of the `server.max_connections` slots;
//! - then waits for a slot; while every slot is taken, nothing more is accepted and new
//!   connections wait in the kernel's backlog (idle keep-alive connections count, which is the
//!   point of the cap);
//! - is served with hyper's `header_read_timeout` (on a timer of its own, [`super::head_timer`]),
//!   and watched by [`super::idle`] for silence;
//! - over HTTP/2, takes a stream slot, and one more place in its address's count, for each
//!   request in flight beyond its first, or answers that request 503 at once. A connection
//!   carries one request at a time over HTTP/1.1 and up to 200 over HTTP/2, each holding up
//!   to 64 KiB of body: without this, one address's connections could hold 200 times the
//!   bodies (3.2 GiB) that the slots and the per-address cap allow over HTTP/1.1 (16 MiB).
//!   Stream slots are as many as connection slots, apart from them: a flood of connections
//!   does not refuse the requests of open HTTP/2 connections (a proxy's), nor can those
//!   requests keep new connections waiting. A stream's flow-control window is the body limit,
//!   so what a stream holds before its handler reads it is bounded the same way.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderValue, Request, StatusCode, header};
use axum::response::{IntoResponse, Response};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tower::ServiceExt;

use super::HttpService;
use super::client_ip::TrustedProxies;
use super::errors::{fill_error_body, is_management_path};
use super::head_timer::HeadTimer;
use super::idle::{Activity, IdleLimits, WatchedIo};
use super::peer::{Admission, PeerCounts, PeerSlot};
use crate::metrics::Metrics;

/// hyper's own HTTP/1.1 head limits, set well above tokenmint's ([`super::middleware`]: 64 headers,
/// 16 KiB), so that a head up to 256 header lines and 128 KiB reaches the middleware and gets
/// tokenmint's JSON 431 or 414. Only a head past these is refused by hyper itself, with a
/// bodiless 431 and a closed connection. 128 KiB, below hyper's default of about 400 KiB, also
/// bounds what a connection's read buffer can grow to.
const HYPER_MAX_HEADERS: usize = 256;
const HYPER_MAX_BUF_BYTES: usize = 128 * 1024;

/// An HTTP/2 stream's flow-control window: room for the largest body tokenmint reads and a
/// byte more (so that a larger one is refused with 413), where hyper's default is 1 MiB.
const STREAM_WINDOW_BYTES: u32 = super::MAX_BODY_BYTES as u32 + 1024;

/// After shutdown, how long requests in flight may take to finish: the request timeout, plus
/// time to write the answer. Connections still open then are dropped.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(super::REQUEST_TIMEOUT.as_secs() + 5);

/// The limits on a listener's connections, from `[server]`.
#[derive(Debug, Clone)]
pub struct ConnectionLimits {
    /// `server.max_connections`.
    pub max_connections: usize,
    /// `server.max_connections_per_address` (0: no cap).
    pub per_address: usize,
    /// Peers exempt from the per-address cap: `rate_limit.trusted_proxies`.
    pub exempt: TrustedProxies,
    /// `server.header_read_timeout`.
    pub header_read_timeout: Duration,
    /// `server.idle_timeout`.
    pub idle_timeout: Duration,
}

/// What every connection task of one listener shares.
struct Shared {
    router: HttpService,
    builder: Builder<TokioExecutor>,
    idle: IdleLimits,
    metrics: Arc<Metrics>,
    /// One per HTTP/2 request in flight beyond its connection's first, as many as
    /// `server.max_connections` (connections have their own).
    stream_slots: Arc<Semaphore>,
    /// `server.max_connections_per_address`, counted the same way.
    peers: Arc<PeerCounts>,
}

/// Serves `router` on `listener` until `shutdown` completes; then stops accepting, lets
/// requests in flight finish (for at most `SHUTDOWN_GRACE`) and closes every connection.
pub async fn serve(
    listener: TcpListener,
    router: HttpService,
    limits: ConnectionLimits,
    metrics: Arc<Metrics>,
    shutdown: impl Future<Output = ()>,
) {
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let peers = PeerCounts::new(limits.per_address, limits.exempt.clone());
    let shared = Arc::new(Shared {
        router,
        builder: http_builder(&limits),
        idle: IdleLimits {
            first_byte: limits.header_read_timeout,
            idle: limits.idle_timeout,
        },
        metrics,
        stream_slots: Arc::new(Semaphore::new(limits.max_connections.max(1))),
        peers: Arc::clone(&peers),
    });
    let graceful = GracefulShutdown::new();
    let mut tasks = JoinSet::new();
    let mut shutdown = pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = accept(&listener) => match accepted {
                Some(accepted) => accepted,
                None => continue,
            },
        };
        let peer_slot = match peers.admit(peer.ip()) {
            Admission::Counted(slot) => Some(slot),
            Admission::Exempt => None,
            Admission::Refused => {
                // Dropping the stream closes it; it never took a slot.
                refused(&shared.metrics, peer);
                continue;
            }
        };
        let slot = tokio::select! {
            () = &mut shutdown => break,
            slot = Arc::clone(&slots).acquire_owned() => match slot {
                Ok(slot) => slot,
                // The semaphore is never closed; should it be, stop serving rather than spin.
                Err(_) => break,
            },
        };
        // Reap finished tasks, so the set holds open connections only.
        while tasks.try_join_next().is_some() {}
        let held = (slot, peer_slot);
        let task = connection(Arc::clone(&shared), stream, peer, graceful.watcher(), held);
        tasks.spawn(task);
    }
    drop(listener);
    if tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("requests still in flight after the shutdown grace period; closing");
    }
    tasks.shutdown().await;
}

/// The next connection; `None` after an error, which is logged (and, when it is not about one
/// connection — out of file descriptors — waited out for a second rather than spun on).
async fn accept(listener: &TcpListener) -> Option<(TcpStream, SocketAddr)> {
    match listener.accept().await {
        Ok(accepted) => Some(accepted),
        Err(error) if is_connection_error(&error) => None,
        Err(error) => {
            tracing::error!(%error, "accepting a connection failed; retrying in 1s");
            tokio::time::sleep(Duration::from_secs(1)).await;
            None
        }
    }
}

fn is_connection_error(error: &std::io::Error) -> bool {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    matches!(
        error.kind(),
        ConnectionRefused | ConnectionAborted | ConnectionReset
    )
}

fn refused(metrics: &Metrics, peer: SocketAddr) {
    metrics
        .connections_refused
        .with_label_values(&["per_address"])
        .inc();
    tracing::debug!(%peer, "connection refused: too many open from this address");
}

/// hyper's settings: HTTP/1.1 and h2c by prior knowledge, with a timer (without one hyper has
/// no timeouts at all) and the head limits above. Each connection replaces the HTTP/1.1 timer
/// with one of its own ([`HeadTimer`]).
fn http_builder(limits: &ConnectionLimits) -> Builder<TokioExecutor> {
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_headers(HYPER_MAX_HEADERS)
        .max_buf_size(HYPER_MAX_BUF_BYTES);
    builder
        .http2()
        .timer(TokioTimer::new())
        .initial_stream_window_size(STREAM_WINDOW_BYTES);
    builder
}

/// Serves one connection until it closes, is cut, or shutdown ends it; its slots (`_held`) are
/// given back when this returns.
async fn connection(
    shared: Arc<Shared>,
    stream: TcpStream,
    peer: SocketAddr,
    watcher: Watcher,
    _held: (OwnedSemaphorePermit, Option<PeerSlot>),
) {
    // Without TCP_NODELAY, Nagle's algorithm holds a small write back until the peer has
    // acknowledged the one before, and peers delay their ACKs by up to 40 ms: an h2c answer
    // written after the connection's SETTINGS frame waited that long on about half of fresh
    // connections.
    if let Err(error) = stream.set_nodelay(true) {
        tracing::debug!(%peer, %error, "TCP_NODELAY could not be set");
    }
    let activity = Activity::new();
    let io = TokioIo::new(WatchedIo::new(stream, Arc::clone(&activity)));
    let service = service(Arc::clone(&shared), peer, Arc::clone(&activity));
    let mut builder = shared.builder.clone();
    builder.http1().timer(HeadTimer::new());
    let served = watcher.watch(builder.serve_connection(io, service));
    let reason = tokio::select! {
        result = served => match result {
            Err(error) if is_timeout(error.as_ref()) => "header_timeout",
            Err(error) => {
                tracing::debug!(%peer, %error, "connection ended with an error");
                return;
            }
            Ok(()) => return,
        },
        cut = activity.expired(shared.idle) => cut.as_str(),
    };
    shared
        .metrics
        .connections_cut
        .with_label_values(&[reason])
        .inc();
    tracing::debug!(%peer, reason, "connection cut");
}

fn is_timeout(error: &(dyn std::error::Error + Send + Sync + 'static)) -> bool {
    error
        .downcast_ref::<hyper::Error>()
        .is_some_and(hyper::Error::is_timeout)
}

/// The router as a hyper service: each request gets the peer's address (for handlers taking
/// `ConnectInfo<SocketAddr>`) and counts as in progress until its answer is ready; a request
/// beyond the first in flight on its connection (HTTP/2) holds slots of its own meanwhile, or
/// is answered 503 without reaching the router.
fn service(
    shared: Arc<Shared>,
    peer: SocketAddr,
    activity: Arc<Activity>,
) -> impl hyper::service::Service<
    Request<Incoming>,
    Response = Response,
    Error = Infallible,
    Future = impl Future<Output = Result<Response, Infallible>> + Send + 'static,
> {
    hyper::service::service_fn(move |mut request: Request<Incoming>| {
        let extra = if activity.in_flight() > 0 {
            extra_slots(&shared, peer).map(Some)
        } else {
            Ok(None)
        };
        let answer = match extra {
            Ok(extra) => {
                request.extensions_mut().insert(ConnectInfo(peer));
                let in_progress = activity.request_started();
                let answer = shared.router.clone().oneshot(request.map(Body::new));
                Ok((answer, in_progress, extra))
            }
            Err(full) => Err(no_slot_for(
                request.uri().path(),
                peer,
                full,
                &shared.metrics,
            )),
        };
        async move {
            match answer {
                Ok((answer, in_progress, extra)) => {
                    let response = answer.await;
                    drop((in_progress, extra));
                    response
                }
                Err(refusal) => Ok(refusal),
            }
        }
    })
}

/// A slot and a place in the peer's count for one more request in flight, if both are free;
/// else which of the two limits is reached (for the log).
fn extra_slots(
    shared: &Shared,
    peer: SocketAddr,
) -> Result<(OwnedSemaphorePermit, Option<PeerSlot>), &'static str> {
    let place = match shared.peers.admit(peer.ip()) {
        Admission::Counted(place) => Some(place),
        Admission::Exempt => None,
        Admission::Refused => return Err("server.max_connections_per_address"),
    };
    let slot = Arc::clone(&shared.stream_slots)
        .try_acquire_owned()
        .map_err(|_| "server.max_connections (stream slots)")?;
    Ok((slot, place))
}

/// 503 with `Retry-After`, in the error format of the route asked for. `full` names the limit
/// that was reached.
fn no_slot_for(path: &str, peer: SocketAddr, full: &str, metrics: &Metrics) -> Response {
    // A target past the head limits is not copied into the log.
    let shown = if path.len() > 256 { "(too long)" } else { path };
    tracing::debug!(%peer, path = shown, limit = full, "HTTP/2 request refused: a request beyond the first in flight on its connection found its limit reached");
    metrics
        .connections_refused
        .with_label_values(&["streams"])
        .inc();
    let mut busy = StatusCode::SERVICE_UNAVAILABLE.into_response();
    busy.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    fill_error_body(busy, is_management_path(path))
}
