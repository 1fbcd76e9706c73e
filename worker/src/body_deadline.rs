//! BODY_TIMEOUT. A request body must keep arriving, or a client sending it a byte at a
//! time (slowloris) would hold its connection and the handler reading it for ever. From
//! the handler's first read, the body may pause at most BODY_TIMEOUT between two pieces,
//! and `t` seconds in it must have delivered at least `(t - BODY_TIMEOUT) × MIN_RATE`
//! bytes (Apache's mod_reqtimeout rule). Otherwise reading fails; [`crate::service`]
//! then answers 408 and closes the connection, whatever the handler made of the failure.
//! The whole body is so bounded by `BODY_TIMEOUT + ceiling / MIN_RATE`.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::BoxError;
use axum::body::Bytes;
use hyper::body::{Body, Frame, Incoming, SizeHint};
use tokio::time::{Instant, Sleep};

/// The slowest average a body may keep up after its first BODY_TIMEOUT, bytes a second.
pub const MIN_RATE: u64 = 1024;

/// Set once a request's body has run out of time.
#[derive(Clone, Default)]
pub struct Expired(Arc<AtomicBool>);

impl Expired {
    pub fn get(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }
}

/// A request body that fails once it breaks the rule above.
pub struct TimedBody {
    inner: Incoming,
    timeout: Duration,
    /// When the handler first read, and when the last piece came.
    started: Option<(Instant, Instant)>,
    received: u64,
    timer: Option<Pin<Box<Sleep>>>,
    expired: Expired,
}

impl TimedBody {
    pub fn new(inner: Incoming, timeout: Duration, expired: Expired) -> Self {
        TimedBody {
            inner,
            timeout,
            started: None,
            received: 0,
            timer: None,
            expired,
        }
    }
}

/// When a body that started at `started`, last delivered at `last` and has delivered
/// `received` bytes runs out of time.
fn deadline(started: Instant, last: Instant, received: u64, timeout: Duration) -> Instant {
    let earned = Duration::from_secs_f64(received as f64 / MIN_RATE as f64);
    (last + timeout).min(started + timeout + earned)
}

impl Body for TimedBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        if this.expired.get() {
            return Poll::Ready(Some(Err("request body timed out".into())));
        }
        let now = Instant::now();
        let (started, last) = *this.started.get_or_insert((now, now));
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    this.received += data.len() as u64;
                }
                this.started = Some((started, now));
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(other) => Poll::Ready(other.map(|r| r.map_err(BoxError::from))),
            Poll::Pending => {
                let due = deadline(started, last, this.received, this.timeout);
                let timer = this
                    .timer
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(due)));
                if timer.deadline() != due {
                    timer.as_mut().reset(due);
                }
                if timer.as_mut().poll(cx).is_pending() {
                    return Poll::Pending;
                }
                this.expired.0.store(true, Ordering::Release);
                tracing::info!(
                    received = this.received,
                    timeout_s = this.timeout.as_secs(),
                    "request body stalled or too slow; answering 408"
                );
                Poll::Ready(Some(Err("request body timed out".into())))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pause_or_a_trickle_runs_out_a_steady_body_does_not() {
        let t0 = Instant::now();
        let timeout = Duration::from_secs(30);
        let s = Duration::from_secs;
        // Nothing yet: the first BODY_TIMEOUT.
        assert_eq!(deadline(t0, t0, 0, timeout), t0 + s(30));
        // 100 KiB by t = 60 s: 100 s earned, but a pause is still at most 30 s.
        assert_eq!(deadline(t0, t0 + s(60), 100 * 1024, timeout), t0 + s(90));
        // One byte every 29 s never pauses too long, but earns almost nothing.
        let trickle = deadline(t0, t0 + s(290), 10, timeout);
        assert!(trickle < t0 + s(31), "{:?}", trickle - t0);
    }
}
