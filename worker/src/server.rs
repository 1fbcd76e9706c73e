//! The accept loop. `axum::serve` has no header-read or keep-alive timeout and exposes no
//! HTTP/1 settings, so each worker runs its own loop over the inherited listener with a
//! configured hyper builder, and tracks every connection for graceful shutdown.
//!
//! hyper's header-read timeout is also its only idle timeout: it closes a kept-alive
//! connection that sends nothing for KEEPALIVE seconds, which is the keep-alive timeout.
//! A TLS handshake gets the same time.
//!
//! WORKER_CONNECTIONS (gunicorn's `worker_connections`) caps the connections a worker
//! serves at once: at the cap the loop stops accepting, so further connections wait in
//! the kernel's listen backlog (or go to another worker) until one closes. Every
//! socket's writes are bounded by SEND_TIMEOUT ([`crate::send_deadline`]).
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use lightrag_config::Settings;
use lightrag_supervisor::SlotState;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_rustls::TlsAcceptor;

use crate::lifecycle::GracefulStop;
use crate::send_deadline::SendDeadline;
use crate::service::{self, Shared};

/// After a stop signal, how long connections already accepted get to deliver their
/// request before idle ones are closed. hyper's graceful shutdown closes a connection
/// whose request bytes it has not read yet; this pause turns that race into a served
/// request (answered with `Connection: close`).
const DRAIN_GRACE: Duration = Duration::from_millis(250);

/// Pause after an accept error (EMFILE and friends) so the loop does not spin.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(50);

/// hyper's parser already refuses more than 100 headers
/// with 431 by default; setting the same limit explicitly would move header storage to
/// the heap for every request.
fn builder(settings: &Settings) -> http1::Builder {
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(settings.keepalive)
        .keep_alive(true);
    builder
}

/// What every connection of this worker is served with.
struct Connections {
    builder: http1::Builder,
    shared: Arc<Shared>,
    tls: Option<TlsAcceptor>,
    handshake_timeout: Duration,
    send_timeout: Duration,
}

impl Connections {
    /// Serves one accepted connection; `held` is its place under WORKER_CONNECTIONS.
    async fn serve(
        self: Arc<Self>,
        stream: TcpStream,
        peer: SocketAddr,
        watcher: Watcher,
        held: OwnedSemaphorePermit,
    ) {
        let io = SendDeadline::new(stream, self.send_timeout, peer);
        match &self.tls {
            None => self.http(io, peer, watcher).await,
            Some(acceptor) => {
                match tokio::time::timeout(self.handshake_timeout, acceptor.accept(io)).await {
                    Ok(Ok(tls)) => self.http(tls, peer, watcher).await,
                    Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                    Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                }
            }
        }
        drop(held);
    }

    async fn http<I>(&self, io: I, peer: SocketAddr, watcher: Watcher)
    where
        I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let shared = self.shared.clone();
        let service = service_fn(move |req| service::handle(shared.clone(), peer, req));
        let conn = watcher.watch(self.builder.serve_connection(TokioIo::new(io), service));
        if let Err(e) = conn.await {
            tracing::debug!(%peer, error = %e, "connection ended with an error");
        }
    }
}

/// Serves until a graceful stop, then drains in-flight requests for at most the
/// graceful timeout. Responses finished during the drain carry `Connection: close`.
pub async fn serve(
    listener: TcpListener,
    shared: Arc<Shared>,
    settings: &Settings,
    tls: Option<TlsAcceptor>,
    stop: GracefulStop,
) {
    let limit = settings.connections.worker_connections;
    let open = Arc::new(Semaphore::new(limit));
    let connections = Arc::new(Connections {
        builder: builder(settings),
        shared: shared.clone(),
        tls,
        handshake_timeout: settings.keepalive,
        send_timeout: settings.connections.send_timeout,
    });
    let graceful = GracefulShutdown::new();
    let mut at_cap = false;
    tokio::pin!(stop);
    loop {
        let held = tokio::select! {
            biased;
            _ = &mut stop => break,
            held = open.clone().acquire_owned() => held.expect("the semaphore is never closed"),
        };
        let accepted = tokio::select! {
            biased;
            _ = &mut stop => break,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((stream, peer)) => {
                let _ = stream.set_nodelay(true);
                let full = open.available_permits() == 0;
                if full && !at_cap {
                    tracing::info!(
                        limit,
                        "WORKER_CONNECTIONS reached: not accepting until a connection closes"
                    );
                }
                at_cap = full;
                let watcher = graceful.watcher();
                tokio::spawn(connections.clone().serve(stream, peer, watcher, held));
            }
            Err(e) => {
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
            }
        }
    }
    drop(listener);
    shared.slot().set_state(SlotState::Stopping);
    tracing::info!(
        pid = std::process::id(),
        "graceful stop: finishing in-flight requests"
    );
    let drain = async {
        tokio::time::sleep(DRAIN_GRACE).await;
        graceful.shutdown().await;
    };
    if tokio::time::timeout(settings.graceful_timeout, drain)
        .await
        .is_err()
    {
        tracing::warn!("graceful timeout reached with requests still in flight");
    }
}
