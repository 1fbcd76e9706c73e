//! SEND_TIMEOUT. A client that stops reading a streamed answer would otherwise hold its
//! connection, the response, and the model call (and its MAX_ASYNC permit) feeding that
//! response, for ever: two such sockets starve every query of every worker. So every
//! connection's socket is wrapped: a write the socket does not take within SEND_TIMEOUT
//! fails with `TimedOut`, hyper closes the connection and drops the response body, and
//! dropping the body stops the answer and returns its permit (see `routes::ndjson`).
//!
//! The clock runs only while a write is pending, so a slow reader that keeps taking
//! bytes is never cut, and an idle connection is the keep-alive timeout's business.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Sleep;

/// A socket whose writes fail once one has been pending for `timeout`.
pub struct SendDeadline<T> {
    inner: T,
    timeout: Duration,
    peer: SocketAddr,
    /// Armed when a write first finds the socket full; disarmed when one completes.
    stalled: Option<Pin<Box<Sleep>>>,
}

impl<T> SendDeadline<T> {
    pub fn new(inner: T, timeout: Duration, peer: SocketAddr) -> Self {
        SendDeadline {
            inner,
            timeout,
            peer,
            stalled: None,
        }
    }
}

impl<T: Unpin> SendDeadline<T> {
    fn poll_timed<R>(
        &mut self,
        cx: &mut Context<'_>,
        write: impl FnOnce(Pin<&mut T>, &mut Context<'_>) -> Poll<io::Result<R>>,
    ) -> Poll<io::Result<R>> {
        if let Poll::Ready(done) = write(Pin::new(&mut self.inner), cx) {
            self.stalled = None;
            return Poll::Ready(done);
        }
        let timeout = self.timeout;
        let stalled = self
            .stalled
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
        if stalled.as_mut().poll(cx).is_pending() {
            return Poll::Pending;
        }
        tracing::info!(
            peer = %self.peer,
            timeout_s = timeout.as_secs(),
            "the client accepted no response bytes within SEND_TIMEOUT; closing the connection"
        );
        Poll::Ready(Err(io::Error::new(
            io::ErrorKind::TimedOut,
            "the client stopped reading the response",
        )))
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for SendDeadline<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for SendDeadline<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.get_mut()
            .poll_timed(cx, |inner, cx| inner.poll_write(cx, buf))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.get_mut()
            .poll_timed(cx, |inner, cx| inner.poll_write_vectored(cx, bufs))
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut()
            .poll_timed(cx, |inner, cx| inner.poll_flush(cx))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut()
            .poll_timed(cx, |inner, cx| inner.poll_shutdown(cx))
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::AsyncWriteExt;

    use super::*;

    fn peer() -> SocketAddr {
        "127.0.0.1:1".parse().unwrap()
    }

    #[tokio::test]
    async fn a_write_the_reader_never_takes_fails_after_the_timeout() {
        let (near, _far) = tokio::io::duplex(16);
        let mut io = SendDeadline::new(near, Duration::from_millis(100), peer());
        io.write_all(&[0; 16]).await.unwrap();
        let e = io.write_all(&[0; 1]).await.unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::TimedOut);
    }

    #[tokio::test]
    async fn a_slow_reader_that_keeps_reading_is_not_cut() {
        use tokio::io::AsyncReadExt;
        let (near, mut far) = tokio::io::duplex(16);
        let reader = tokio::spawn(async move {
            let mut buf = [0; 16];
            let mut total = 0;
            while total < 256 {
                tokio::time::sleep(Duration::from_millis(50)).await;
                total += far.read(&mut buf).await.unwrap();
            }
        });
        // 16 pauses of 50 ms: far longer in all than the timeout, never once.
        let mut io = SendDeadline::new(near, Duration::from_millis(300), peer());
        io.write_all(&[0; 256]).await.unwrap();
        drop(io);
        reader.await.unwrap();
    }
}
