//! Waking workers when a job is pushed, instead of at their next poll.
//!
//! - In the process that pushed: [`Wakeups::wake`] right after the push.
//! - Across processes: PostgreSQL's `LISTEN` on the channel apalis's insert
//!   trigger notifies, or a Redis pub/sub channel the pusher publishes on;
//!   each worker process forwards what it hears to its local workers.
//! - Polling every `poll` remains as the fallback (SQLite across
//!   processes, a notification lost while reconnecting).

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use futures::Stream;
use tokio::sync::mpsc;

/// The Redis channel a pusher publishes on after every push.
pub(crate) const REDIS_WAKE_CHANNEL: &str = "vidcache.generate_video:wake";

/// The PostgreSQL channel apalis's insert trigger notifies.
pub(crate) const POSTGRES_WAKE_CHANNEL: &str = "apalis::job::insert";

/// The workers of this process that wait for work.
#[derive(Clone, Default)]
pub(crate) struct Wakeups {
    workers: Arc<Mutex<Vec<mpsc::UnboundedSender<()>>>>,
}

impl Wakeups {
    /// Wakes every waiting worker of this process.
    pub(crate) fn wake(&self) {
        let mut workers = self.workers.lock().unwrap_or_else(PoisonError::into_inner);
        workers.retain(|worker| worker.send(()).is_ok());
    }

    /// A stream that yields on every wake, and at least every `poll`.
    pub(crate) fn subscribe(&self, poll: Duration) -> WakeStream {
        let (tx, rx) = mpsc::unbounded_channel();
        self.workers.lock().unwrap_or_else(PoisonError::into_inner).push(tx);
        let mut interval = tokio::time::interval(poll.max(Duration::from_millis(10)));
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        WakeStream { rx, interval, echo: None }
    }
}

/// A wake-up can land while the worker's fetch is already under way: the
/// fetch misses the new job and the wake-up is spent. So every wake-up is
/// echoed once, this much later, to fetch again.
const ECHO: Duration = Duration::from_millis(40);

/// What a worker's poll strategy listens to.
pub(crate) struct WakeStream {
    rx: mpsc::UnboundedReceiver<()>,
    interval: tokio::time::Interval,
    echo: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl Stream for WakeStream {
    type Item = ();

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<()>> {
        if let Poll::Ready(Some(())) = self.rx.poll_recv(cx) {
            // Coalesce a burst of pushes into one fetch (and one echo).
            while let Ok(()) = self.rx.try_recv() {}
            self.echo = Some(Box::pin(tokio::time::sleep(ECHO)));
            return Poll::Ready(Some(()));
        }
        if let Some(echo) = self.echo.as_mut()
            && echo.as_mut().poll(cx).is_ready()
        {
            self.echo = None;
            return Poll::Ready(Some(()));
        }
        match self.interval.poll_tick(cx) {
            Poll::Ready(_) => Poll::Ready(Some(())),
            Poll::Pending => Poll::Pending,
        }
    }
}

#[cfg(test)]
mod tests {
    use futures::StreamExt;

    use super::*;

    #[tokio::test]
    async fn a_wake_reaches_every_subscriber_at_once() {
        let wakeups = Wakeups::default();
        let mut a = wakeups.subscribe(Duration::from_secs(3600));
        let mut b = wakeups.subscribe(Duration::from_secs(3600));
        // the interval's first tick is immediate
        assert_eq!(a.next().await, Some(()));
        assert_eq!(b.next().await, Some(()));
        wakeups.wake();
        wakeups.wake();
        let woke = tokio::time::timeout(Duration::from_secs(1), async { (a.next().await, b.next().await) }).await;
        assert_eq!(woke.ok(), Some((Some(()), Some(()))));
        // the two wakes were coalesced into one, echoed once a little later
        let started = tokio::time::Instant::now();
        assert_eq!(a.next().await, Some(()));
        assert!(started.elapsed() >= ECHO - Duration::from_millis(5), "the echo came after {:?}", started.elapsed());
        let more = tokio::time::timeout(ECHO * 3, a.next()).await;
        assert!(more.is_err(), "no further wake-up was queued");
    }

    #[tokio::test(start_paused = true)]
    async fn polling_remains_the_fallback() {
        let wakeups = Wakeups::default();
        let mut stream = wakeups.subscribe(Duration::from_secs(1));
        assert_eq!(stream.next().await, Some(()));
        let started = tokio::time::Instant::now();
        assert_eq!(stream.next().await, Some(()));
        assert_eq!(started.elapsed(), Duration::from_secs(1));
    }
}
