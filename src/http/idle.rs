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
//!
//! The watchdog costs a request two clock reads and four atomic operations, and is never woken
//! by one. It sleeps until the earliest moment the connection could be due and looks again
//! then; since a connection's deadline only ever moves later (a first byte, a request started
//! or answered), waking at the deadline it last saw can only be early, never late. (Waking it at
//! the end of every request cost a task wake-up and two timer-wheel operations, under the
//! runtime's one timer lock, a request.)

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
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
/// time given (since the connection was accepted). That time is the earliest the connection
/// could be due, whatever it does meanwhile.
pub fn verdict(state: Snapshot, elapsed: Duration, limits: IdleLimits) -> Result<Duration, Cut> {
    let (deadline, cut) = if !state.read_any {
        (limits.first_byte.min(limits.idle), Cut::Silent)
    } else if state.in_flight > 0 {
        // Never cut here; were the request answered this instant, the connection would be due
        // an idle period from now, no sooner.
        return Ok(elapsed.saturating_add(limits.idle));
    } else {
        (state.last_activity.saturating_add(limits.idle), Cut::Idle)
    };
    if elapsed >= deadline {
        Err(cut)
    } else {
        Ok(deadline)
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
}

impl Activity {
    /// A connection accepted now.
    pub fn new() -> Arc<Self> {
        Arc::new(Self {
            accepted: Instant::now(),
            last_ms: AtomicU64::new(0),
            read_any: AtomicBool::new(false),
            in_flight: AtomicUsize::new(0),
        })
    }

    fn touch(&self) {
        let ms = u64::try_from(self.accepted.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_ms.store(ms, Ordering::Relaxed);
    }

    fn snapshot(&self) -> Snapshot {
        Snapshot {
            // First, and Acquire: an HTTP/2 request may end on another thread, and once its
            // end is seen here, so is the time it ended (stored before its Release).
            in_flight: self.in_flight.load(Ordering::Acquire),
            read_any: self.read_any.load(Ordering::Relaxed),
            last_activity: Duration::from_millis(self.last_ms.load(Ordering::Relaxed)),
        }
    }

    /// Requests of the connection in progress now.
    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Acquire)
    }

    /// Marks a request in progress until the guard is dropped.
    pub fn request_started(self: &Arc<Self>) -> RequestInProgress {
        self.touch();
        self.in_flight.fetch_add(1, Ordering::Release);
        RequestInProgress(Arc::clone(self))
    }

    /// Completes when the connection should be cut, and says why.
    pub async fn expired(&self, limits: IdleLimits) -> Cut {
        loop {
            match verdict(self.snapshot(), self.accepted.elapsed(), limits) {
                Err(cut) => return cut,
                // `at` is bounded by the validated timeouts; a sum past the clock sleeps on.
                Ok(at) => match self.accepted.checked_add(at) {
                    Some(deadline) => tokio::time::sleep_until(deadline).await,
                    None => std::future::pending().await,
                },
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
        self.0.in_flight.fetch_sub(1, Ordering::Release);
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
        {
            self.activity.read_any.store(true, Ordering::Relaxed);
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
        assert_eq!(verdict(silent, secs(9), LIMITS), Ok(secs(10)));
        assert_eq!(verdict(silent, secs(10), LIMITS), Err(Cut::Silent));
    }

    #[test]
    fn an_idle_connection_is_cut_idle_timeout_after_its_last_request() {
        let idle = state(true, 0, 5);
        assert_eq!(verdict(idle, secs(64), LIMITS), Ok(secs(65)));
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

    /// What can happen to a connection between two looks of its watchdog.
    #[derive(Debug, Clone, Copy)]
    enum Event {
        Wait(u64),
        FirstByte,
        Start,
        End,
    }

    fn event() -> impl proptest::strategy::Strategy<Value = Event> {
        use proptest::prelude::*;
        prop_oneof![
            (0u64..120_000).prop_map(Event::Wait),
            Just(Event::FirstByte),
            Just(Event::Start),
            Just(Event::End),
        ]
    }

    proptest::proptest! {
        /// The watchdog is never woken by a request, so it is only right if no event can bring
        /// a connection's due time before the moment the watchdog last chose to look again:
        /// otherwise a connection would be cut late.
        #[test]
        fn no_event_brings_a_connection_due_before_the_watchdog_looks_again(
            events in proptest::collection::vec(event(), 1..60),
            first_byte_ms in 1u64..30_000,
            idle_ms in 1u64..120_000,
        ) {
            let limits = IdleLimits {
                first_byte: Duration::from_millis(first_byte_ms),
                idle: Duration::from_millis(idle_ms),
            };
            let mut now = Duration::ZERO;
            let mut state = state(false, 0, 0);
            let mut look_at = match verdict(state, now, limits) {
                Ok(at) => at,
                Err(_) => return Ok(()),
            };
            for event in events {
                match event {
                    Event::Wait(ms) => now += Duration::from_millis(ms),
                    Event::FirstByte => state.read_any = true,
                    Event::Start if state.read_any => {
                        state.in_flight += 1;
                        state.last_activity = now;
                    }
                    Event::End if state.in_flight > 0 => {
                        state.in_flight -= 1;
                        state.last_activity = now;
                    }
                    Event::Start | Event::End => {}
                }
                // The watchdog sleeps until `look_at`; before then, the connection is not due.
                if now < look_at {
                    proptest::prop_assert!(verdict(state, now, limits).is_ok());
                    continue;
                }
                match verdict(state, now, limits) {
                    Ok(at) => look_at = at,
                    Err(_) => return Ok(()),
                }
            }
        }
    }

    #[tokio::test(start_paused = true)]
    async fn the_watchdog_cuts_on_time_though_no_request_wakes_it() {
        let activity = Activity::new();
        // A byte at once, then requests every 30 s for two minutes, then nothing.
        activity.read_any.store(true, Ordering::Relaxed);
        let watchdog = tokio::spawn({
            let activity = Arc::clone(&activity);
            async move { (activity.expired(LIMITS).await, Instant::now()) }
        });
        for _ in 0..4 {
            tokio::time::sleep(secs(30)).await;
            let request = activity.request_started();
            tokio::time::sleep(secs(1)).await;
            drop(request);
        }
        let answered = Instant::now();
        let (cut, at) = watchdog.await.unwrap();
        assert_eq!(cut, Cut::Idle);
        let late = at - answered;
        assert!(
            late >= secs(60) && late < secs(61),
            "cut {late:?} after the last answer, not idle_timeout (60 s)"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_request_in_progress_when_the_watchdog_looks_moves_the_cut_past_its_end() {
        let activity = Activity::new();
        activity.read_any.store(true, Ordering::Relaxed);
        let start = Instant::now();
        let watchdog = tokio::spawn({
            let activity = Arc::clone(&activity);
            async move { (activity.expired(LIMITS).await, Instant::now()) }
        });
        // In progress from 50 s to 130 s: the watchdog looks at 60 s and at 120 s during it.
        tokio::time::sleep(secs(50)).await;
        let request = activity.request_started();
        tokio::time::sleep(secs(80)).await;
        drop(request);
        let (cut, at) = watchdog.await.unwrap();
        assert_eq!(cut, Cut::Idle);
        assert_eq!(
            at - start,
            secs(190),
            "idle_timeout after the answer at 130 s"
        );
    }

    #[test]
    fn a_request_in_progress_is_never_cut_here() {
        assert_eq!(
            verdict(state(true, 1, 0), secs(3600), LIMITS),
            Ok(secs(3660))
        );
    }
}
