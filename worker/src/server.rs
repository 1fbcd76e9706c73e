//! The accept loop. `axum::serve` has no header-read or keep-alive timeout and exposes no
//! HTTP/1 settings, so each worker runs its own loop over the inherited listener with a
//! configured hyper builder, and tracks every connection for graceful shutdown.
//!
//! hyper's header-read timeout is also its only idle timeout: it closes a kept-alive
//! connection that sends nothing for KEEPALIVE seconds, which is the keep-alive timeout.

use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use lightrag_config::Settings;
use lightrag_supervisor::SlotState;
use tokio::net::TcpListener;

use crate::lifecycle::GracefulStop;
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

/// Serves until a graceful stop, then drains in-flight requests for at most the
/// graceful timeout. Responses finished during the drain carry `Connection: close`.
pub async fn serve(
    listener: TcpListener,
    shared: Arc<Shared>,
    settings: &Settings,
    stop: GracefulStop,
) {
    let builder = builder(settings);
    let graceful = GracefulShutdown::new();
    tokio::pin!(stop);
    loop {
        tokio::select! {
            biased;
            _ = &mut stop => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let _ = stream.set_nodelay(true);
                    let shared = shared.clone();
                    let service = service_fn(move |req| service::handle(shared.clone(), peer, req));
                    let conn = graceful.watch(builder.serve_connection(TokioIo::new(stream), service));
                    tokio::spawn(async move {
                        if let Err(e) = conn.await {
                            tracing::debug!(%peer, error = %e, "connection ended with an error");
                        }
                    });
                }
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
                }
            },
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
