//! hyper's HTTP/1.1 header-read timeout, on one timer a connection.
//!
//! hyper asks its timer for a new sleep each time it waits for a request head, the next one on a
//! kept-alive connection included, and drops it once the head is in. With hyper-util's
//! `TokioTimer` every request therefore registers a timer with the runtime and cancels it again,
//! each under the runtime's one timer lock, which both worker threads and the timer driver share.
//! A connection waits for one head at a time, so [`HeadTimer`] keeps a single tokio `Sleep` for
//! the connection and lends it to each of hyper's sleeps in turn. Moving a registered timer to a
//! later deadline is a compare-and-swap in tokio, so a kept-alive request, whose deadline is
//! always later than the last, takes no lock; the lock is taken once when the connection first
//! waits, once each time the timer's old deadline comes (tokio files it again at the new one,
//! without waking anyone), and when a deadline moves earlier or the timer has fired. A sleep
//! hyper never polled (the next head was already in) is not registered at all, as with
//! `TokioTimer`. Semantics are `TokioTimer`'s: the same deadlines, the runtime's clock (paused in
//! tests).
//!
//! Should hyper ever hold two sleeps of one connection at once, the second gets a fresh tokio
//! `Sleep` of its own, as with `TokioTimer`.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// The connection's tokio timer while no sleep of hyper's holds it, and whether it was ever
/// polled (registered with the runtime).
type Parked = Mutex<Option<(Pin<Box<tokio::time::Sleep>>, bool)>>;

/// One connection's timer, for hyper's HTTP/1.1 settings (`http1().timer(...)`).
#[derive(Debug, Default)]
pub struct HeadTimer {
    /// The connection's tokio timer, between two of hyper's sleeps.
    parked: Arc<Parked>,
}

impl HeadTimer {
    /// A timer for one new connection.
    pub fn new() -> Self {
        Self::default()
    }

    fn lend(&self, deadline: tokio::time::Instant) -> HeadSleep {
        let parked = self
            .parked
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        let (sleep, polled) = match parked {
            // Registered: move it (a compare-and-swap when the deadline is later).
            Some((mut sleep, true)) => {
                if sleep.deadline() != deadline {
                    sleep.as_mut().reset(deadline);
                }
                (sleep, true)
            }
            // Never registered: `reset` would register it at once; a new sleep in the same box
            // stays unregistered until polled.
            Some((mut sleep, false)) => {
                sleep.set(tokio::time::sleep_until(deadline));
                (sleep, false)
            }
            None => (Box::pin(tokio::time::sleep_until(deadline)), false),
        };
        HeadSleep {
            sleep: Some(sleep),
            polled,
            home: Arc::clone(&self.parked),
        }
    }
}

impl hyper::rt::Timer for HeadTimer {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn hyper::rt::Sleep>> {
        let deadline = tokio::time::Instant::now()
            .checked_add(duration)
            .unwrap_or_else(far_future);
        Box::pin(self.lend(deadline))
    }

    fn sleep_until(&self, deadline: Instant) -> Pin<Box<dyn hyper::rt::Sleep>> {
        Box::pin(self.lend(tokio::time::Instant::from_std(deadline)))
    }

    fn now(&self) -> Instant {
        tokio::time::Instant::now().into_std()
    }
}

/// Roughly thirty years from now, as tokio's own `sleep` uses for a duration past the clock.
fn far_future() -> tokio::time::Instant {
    tokio::time::Instant::now() + Duration::from_secs(86_400 * 365 * 30)
}

/// One of hyper's sleeps: the connection's timer, handed back when hyper drops it.
struct HeadSleep {
    /// `Some` until dropped.
    sleep: Option<Pin<Box<tokio::time::Sleep>>>,
    /// Whether the tokio timer was ever polled, and so registered with the runtime.
    polled: bool,
    home: Arc<Parked>,
}

impl Future for HeadSleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.polled = true;
        match self.sleep.as_mut() {
            Some(sleep) => sleep.as_mut().poll(cx),
            None => Poll::Ready(()),
        }
    }
}

impl hyper::rt::Sleep for HeadSleep {}

impl Drop for HeadSleep {
    fn drop(&mut self) {
        let Some(sleep) = self.sleep.take() else {
            return;
        };
        let mut parked = self.home.lock().unwrap_or_else(PoisonError::into_inner);
        // Another sleep may have parked its own meanwhile; then this one is simply dropped.
        if parked.is_none() {
            *parked = Some((sleep, self.polled));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::rt::Timer;

    fn in_secs(n: u64) -> Instant {
        HeadTimer::new().now() + Duration::from_secs(n)
    }

    /// Polls a sleep once, as hyper does while it waits for a head, and says it is still asleep.
    fn still_asleep_after_one_poll(sleep: &mut Pin<Box<dyn hyper::rt::Sleep>>) -> bool {
        let waker = futures::task::noop_waker();
        sleep
            .as_mut()
            .poll(&mut Context::from_waker(&waker))
            .is_pending()
    }

    #[tokio::test(start_paused = true)]
    async fn a_sleep_ends_at_its_deadline_and_not_before() {
        let timer = HeadTimer::new();
        let start = tokio::time::Instant::now();
        timer.sleep_until(in_secs(10)).await;
        assert_eq!(start.elapsed(), Duration::from_secs(10));
        timer.sleep(Duration::from_secs(3)).await;
        assert_eq!(start.elapsed(), Duration::from_secs(13));
    }

    #[tokio::test(start_paused = true)]
    async fn the_connection_timer_is_reused_and_moves_to_each_new_deadline() {
        let timer = HeadTimer::new();
        let start = tokio::time::Instant::now();
        // A head that arrived in time: the sleep is polled, then dropped unfinished.
        let mut first = timer.sleep_until(in_secs(10));
        assert!(still_asleep_after_one_poll(&mut first));
        tokio::time::sleep(Duration::from_secs(4)).await;
        drop(first);
        assert!(timer.parked.lock().unwrap().is_some(), "handed back");
        // The next head's sleep takes the same timer to a later deadline, and ends there, not
        // at the first deadline.
        let second = timer.sleep_until(in_secs(10));
        assert!(timer.parked.lock().unwrap().is_none(), "lent out");
        second.await;
        assert_eq!(start.elapsed(), Duration::from_secs(14));
        // A timer that has fired is taken to a new deadline too.
        let third = timer.sleep_until(in_secs(1));
        third.await;
        assert_eq!(start.elapsed(), Duration::from_secs(15));
    }

    #[tokio::test(start_paused = true)]
    async fn a_deadline_earlier_than_the_timer_last_held_is_kept() {
        let timer = HeadTimer::new();
        let start = tokio::time::Instant::now();
        let mut far = timer.sleep_until(in_secs(20));
        assert!(still_asleep_after_one_poll(&mut far));
        drop(far);
        timer.sleep_until(in_secs(5)).await;
        assert_eq!(start.elapsed(), Duration::from_secs(5));
    }

    #[tokio::test(start_paused = true)]
    async fn a_sleep_never_polled_leaves_the_next_one_unregistered_and_on_time() {
        let timer = HeadTimer::new();
        let start = tokio::time::Instant::now();
        // The next head was already in: hyper drops its sleep without polling it.
        drop(timer.sleep_until(in_secs(10)));
        assert!(matches!(*timer.parked.lock().unwrap(), Some((_, false))));
        let next = timer.sleep_until(in_secs(3));
        assert!(timer.parked.lock().unwrap().is_none(), "lent out");
        next.await;
        assert_eq!(start.elapsed(), Duration::from_secs(3));
        assert!(matches!(*timer.parked.lock().unwrap(), Some((_, true))));
    }

    #[tokio::test(start_paused = true)]
    async fn two_sleeps_at_once_each_keep_their_own_deadline() {
        let timer = HeadTimer::new();
        let start = tokio::time::Instant::now();
        let late = timer.sleep_until(in_secs(20));
        let early = timer.sleep_until(in_secs(5));
        early.await;
        assert_eq!(start.elapsed(), Duration::from_secs(5));
        late.await;
        assert_eq!(start.elapsed(), Duration::from_secs(20));
    }

    #[tokio::test(start_paused = true)]
    async fn a_duration_past_the_clock_sleeps_rather_than_panics() {
        let timer = HeadTimer::new();
        let sleep = timer.sleep(Duration::MAX);
        let waited = tokio::time::timeout(Duration::from_secs(3600), sleep).await;
        assert!(waited.is_err(), "still asleep an hour later");
    }
}
