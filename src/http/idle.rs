//! Cutting connections that hold a slot without using it. hyper's `header_read_timeout` covers
//! an HTTP/1.1 request head, and in hyper 1.x also the wait for the next head on a kept-alive
//! connection; it does not cover the time before the protocol is known (hyper-util's auto
//! builder waits for the first bytes with no deadline), HTTP/2, nor a response the client stops
//! reading. So every connection is watched here:
//!
//! - a connection that has sent no byte within `header_read_timeout` is cut (`silent`);
//! - a connection with no request in progress for `idle_timeout` since its last request started
//!   or was answered is cut (`idle`). Bytes alone do not count: HTTP/2 PING or SETTINGS frames,
//!   or a response read a few bytes a minute, keep no connection alive. A request in progress
//!   is never cut here: the request timeout bounds it.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::Notify;
use tokio::time::Instant;

/// How long a connection may wait, in each state.
#[derive(Debug, Clone, Copy)]
pub struct IdleLimits {
    /// Until the first byte arrives.
    pub first_byte: Duration,
    /// With no request in progress, since the last one started or was answered.
    pub idle: Duration,
}

/// Why a connection was cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cut {
    /// It sent nothing within `header_read_timeout`.
    Silent,
    /// No request for `idle_timeout`.
    Idle,
}

impl Cut {
    /// The metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            Cut::Silent => "silent",
            Cut::Idle => "idle",
        }
    }
}

/// What a connection has done, as the watchdog sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Snapshot {
    pub read_any: bool,
    pub in_flight: usize,
    /// When a request last started or was answered, since the connection was accepted (zero:
    /// none yet).
    pub last_activity: Duration,
}

/// What to do now, `elapsed` after the connection was accepted: cut it, or look again at the
/// time given (`None`: only when something changes).
pub fn verdict(
    state: Snapshot,
    elapsed: Duration,
    limits: IdleLimits,
) -> Result<Option<Duration>, Cut> {
    let (deadline, cut) = if !state.read_any {
        (limits.first_byte.min(limits.idle), Cut::Silent)
    } else if state.in_flight > 0 {
        return Ok(None);
    } else {
        (state.last_activity.saturating_add(limits.idle), Cut::Idle)
    };
    if elapsed >= deadline {
        Err(cut)
    } else {
        Ok(Some(deadline))
    }
}

/// One connection's activity, shared by its IO, its service and its watchdog.
#[derive(Debug)]
pub struct Activity {
    accepted: Instant,
    /// Milliseconds after `accepted` when a request last started or was answered.
    last_ms: AtomicU64,
    read_any: AtomicBool,
    in_flight: AtomicUsize,
    /// Wakes the watchdog when its deadline may have moved earlier than it sleeps: the first
    /// byte arrived, or the last request in progress ended. Never on each read or write.
    changed: Notify,
}

impl Activity {
    /// A connection accepted now.
    pub fn new() -> Arc<Self> {
        Arc::new(Self {
            accepted: Instant::now(),
            last_ms: AtomicU64::new(0),
            read_any: AtomicBool::new(false),
            in_flight: AtomicUsize::new(0),
            changed: Notify::new(),
        })
    }

    fn touch(&self) {
        let ms = u64::try_from(self.accepted.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_ms.store(ms, Ordering::Relaxed);
    }

    fn snapshot(&self) -> Snapshot {
        Snapshot {
            read_any: self.read_any.load(Ordering::Relaxed),
            in_flight: self.in_flight.load(Ordering::Relaxed),
            last_activity: Duration::from_millis(self.last_ms.load(Ordering::Relaxed)),
        }
    }

    /// Marks a request in progress until the guard is dropped.
    pub fn request_started(self: &Arc<Self>) -> RequestInProgress {
        self.touch();
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        RequestInProgress(Arc::clone(self))
    }

    /// Completes when the connection should be cut, and says why.
    pub async fn expired(&self, limits: IdleLimits) -> Cut {
        loop {
            let next = match verdict(self.snapshot(), self.accepted.elapsed(), limits) {
                Err(cut) => return cut,
                Ok(next) => next,
            };
            match next {
                Some(at) => {
                    tokio::select! {
                        () = tokio::time::sleep_until(self.accepted + at) => {}
                        () = self.changed.notified() => {}
                    }
                }
                None => self.changed.notified().await,
            }
        }
    }
}

/// A request being answered; the connection is not idle while one is.
#[derive(Debug)]
pub struct RequestInProgress(Arc<Activity>);

impl Drop for RequestInProgress {
    fn drop(&mut self) {
        self.0.touch();
        if self.0.in_flight.fetch_sub(1, Ordering::Relaxed) == 1 {
            self.0.changed.notify_one();
        }
    }
}

/// A connection's IO, recording whether any byte has arrived.
#[derive(Debug)]
pub struct WatchedIo<T> {
    inner: T,
    activity: Arc<Activity>,
}

impl<T> WatchedIo<T> {
    /// Wraps `inner`, reporting to `activity`.
    pub fn new(inner: T, activity: Arc<Activity>) -> Self {
        Self { inner, activity }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for WatchedIo<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        // A load first: after the first byte, a read costs no write to the shared flag.
        if matches!(polled, Poll::Ready(Ok(())))
            && buf.filled().len() > before
            && !self.activity.read_any.load(Ordering::Relaxed)
            && !self.activity.read_any.swap(true, Ordering::Relaxed)
        {
            self.activity.changed.notify_one();
        }
        polled
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for WatchedIo<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: IdleLimits = IdleLimits {
        first_byte: Duration::from_secs(10),
        idle: Duration::from_secs(60),
    };

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    fn state(read_any: bool, in_flight: usize, last: u64) -> Snapshot {
        Snapshot {
            read_any,
            in_flight,
            last_activity: secs(last),
        }
    }

    #[test]
    fn a_silent_connection_is_cut_after_the_first_byte_limit() {
        let silent = state(false, 0, 0);
        assert_eq!(verdict(silent, secs(9), LIMITS), Ok(Some(secs(10))));
        assert_eq!(verdict(silent, secs(10), LIMITS), Err(Cut::Silent));
    }

    #[test]
    fn an_idle_connection_is_cut_idle_timeout_after_its_last_request() {
        let idle = state(true, 0, 5);
        assert_eq!(verdict(idle, secs(64), LIMITS), Ok(Some(secs(65))));
        assert_eq!(verdict(idle, secs(65), LIMITS), Err(Cut::Idle));
    }

    #[tokio::test]
    async fn bytes_without_requests_do_not_keep_a_connection() {
        let activity = Activity::new();
        let (client, server) = tokio::io::duplex(64);
        let mut server = WatchedIo::new(server, Arc::clone(&activity));
        let mut client = client;
        for _ in 0..3 {
            tokio::io::AsyncWriteExt::write_all(&mut client, b"ping")
                .await
                .unwrap();
            let mut buf = [0u8; 4];
            tokio::io::AsyncReadExt::read_exact(&mut server, &mut buf)
                .await
                .unwrap();
        }
        let state = activity.snapshot();
        assert!(state.read_any);
        assert_eq!(
            state.last_activity,
            Duration::ZERO,
            "bytes move no deadline"
        );
        let request = activity.request_started();
        drop(request);
        assert_eq!(activity.snapshot().in_flight, 0);
    }

    #[test]
    fn a_request_in_progress_is_never_cut_here() {
        assert_eq!(verdict(state(true, 1, 0), secs(3600), LIMITS), Ok(None));
    }
}
