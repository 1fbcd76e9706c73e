//! What happens around every request, before and after the router: the Host check, the
//! size limits, CORS, the body's ceiling and time limit, the panic guard, the in-flight
//! and served counters in the arena slot, the access log, and the max-requests check
//! that asks the master for a replacement.
//!
//! These are plain steps of one function rather than tower layers on the router: axum
//! clones every layer's boxed service on every request and each `from_fn` middleware
//! boxes a future, which cost more than `GET /health` itself. Only authentication stays
//! a route layer ([`crate::routes`]), as it applies to the routes it protects alone.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::DefaultBodyLimit;
use axum::response::IntoResponse;
use futures_util::FutureExt;
use http::{Request, Response};
use hyper::body::Incoming;
use lightrag_config::api::ApiSettings;
use lightrag_supervisor::{SlotState, WorkerSlot};
use tower::{Layer, Service};

use crate::app::{App, ClientAddr};
use crate::arena::metrics::Shard;
use crate::body_deadline::{self, Expired, TimedBody};
use crate::cors::Cors;
use crate::error::{self, ApiError};
use crate::{access_log, body_limit, host_header, limits};

pub struct Shared {
    router: Router,
    cors: Cors,
    slot: &'static WorkerSlot,
    max_requests: Option<u64>,
    metrics: &'static Shard,
    api: ApiSettings,
    body_timeout: Duration,
}

impl Shared {
    pub fn new(
        router: Router,
        cors: Cors,
        app: &App,
        slot: &'static WorkerSlot,
        max_requests: Option<u64>,
    ) -> Arc<Shared> {
        Arc::new(Shared {
            router,
            cors,
            slot,
            max_requests,
            metrics: app.shared.metrics.shard(app.worker_id),
            api: app.settings.api.clone(),
            body_timeout: app.settings.connections.body_timeout,
        })
    }

    /// CORS around the router: a preflight is answered here, every other answer gets
    /// the CORS headers, the 413 of a body over its ceiling included.
    async fn dispatch(
        &self,
        mut req: Request<Incoming>,
        peer: SocketAddr,
        expired: Option<&Expired>,
    ) -> Response<Body> {
        if Cors::is_preflight(req.method()) {
            return self.cors.preflight(req.headers());
        }
        let origin = req.headers().get(http::header::ORIGIN).cloned();
        req.extensions_mut().insert(ClientAddr(peer));
        let mut req = match expired {
            Some(expired) => {
                req.map(|body| Body::new(TimedBody::new(body, self.body_timeout, expired.clone())))
            }
            None => req.map(|_| Body::empty()),
        };
        let mut response = match body_limit::limit(&self.api, &mut req) {
            Ok(()) => self.guarded(req).await,
            Err(too_large) => too_large.into_response(),
        };
        self.cors.apply(origin.as_ref(), response.headers_mut());
        response
    }

    /// The router's answer; a handler that panics is a 500 in LightRAG's shape (the
    /// panic hook has logged it), and the worker carries on. The extractors' own body
    /// limit is off: [`body_limit`] applies the route's.
    async fn guarded(&self, req: Request<Body>) -> Response<Body> {
        let mut router = DefaultBodyLimit::disable().layer(self.router.clone());
        match AssertUnwindSafe(async move { router.call(req).await })
            .catch_unwind()
            .await
        {
            Ok(Ok(response)) => response,
            Ok(Err(never)) => match never {},
            Err(panic) => error::panic_response(panic),
        }
    }
}

/// With LIGHTRAG_API_PREFIX set, a proxy may forward `/prefix/route` or strip the
/// prefix; routes are registered unprefixed, so this is `path` as routed.
fn unprefixed<'a>(path: &'a str, prefix: &str) -> &'a str {
    if prefix.is_empty() {
        return path;
    }
    match path.strip_prefix(prefix) {
        Some("") => "/",
        Some(rest) if rest.starts_with('/') => rest,
        _ => path,
    }
}

fn strip_api_prefix<B>(req: &mut Request<B>, prefix: &str) {
    let rest = unprefixed(req.uri().path(), prefix);
    if rest.len() == req.uri().path().len() {
        return;
    }
    let target = match req.uri().query() {
        Some(q) => format!("{rest}?{q}"),
        None => rest.to_owned(),
    };
    if let Ok(uri) = target.parse() {
        *req.uri_mut() = uri;
    }
}

impl Shared {
    pub fn slot(&self) -> &'static WorkerSlot {
        self.slot
    }
}

/// Counts a request as in flight until finished or, if the client goes away and the
/// request future is cancelled, until dropped.
struct InFlight<'a> {
    slot: &'a WorkerSlot,
}

impl InFlight<'_> {
    /// Returns how many requests this worker has served, this one included.
    fn finish(self) -> u64 {
        let served = self.slot.request_finished();
        std::mem::forget(self);
        served
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.slot.request_finished();
    }
}

pub async fn handle(
    shared: Arc<Shared>,
    peer: SocketAddr,
    mut req: Request<Incoming>,
) -> Result<Response<Body>, Infallible> {
    let started = Instant::now();
    shared.slot.request_started();
    let in_flight = InFlight { slot: shared.slot };
    let method = req.method().clone();
    let version = req.version();
    // Cheap: a Uri shares its bytes.
    let uri = req.uri().clone();
    // A request without a body (most GETs) needs no deadline on it, nor its allocations.
    let expired = (!hyper::body::Body::is_end_stream(req.body())).then(Expired::default);
    let mut response = if let Err(violation) = host_header::check(&req) {
        let mut response = ApiError::bad_request(violation.detail()).into_response();
        close_connection(&mut response);
        response
    } else if let Err(rejection) = limits::check(&req) {
        ApiError::from(rejection).into_response()
    } else {
        strip_api_prefix(&mut req, &shared.api.api_prefix);
        shared.dispatch(req, peer, expired.as_ref()).await
    };
    if expired.is_some_and(|e| e.get()) {
        response = body_timed_out(shared.body_timeout);
    }
    let served = in_flight.finish();
    if shared.max_requests.is_some_and(|limit| served >= limit) {
        retire(&shared, &mut response);
    } else if shared.slot.state() == SlotState::Stopping {
        close_connection(&mut response);
    }
    let elapsed = started.elapsed();
    // Grouped by route, as the router saw it; the access log keeps what the client sent.
    shared.metrics.record(
        unprefixed(uri.path(), &shared.api.api_prefix),
        response.status().as_u16(),
        elapsed,
    );
    access_log::record(access_log::Entry {
        peer,
        method: &method,
        uri: &uri,
        version,
        status: response.status(),
        elapsed,
    });
    Ok(response)
}

/// From the request that reaches the limit on, every response closes its connection
/// (clients must not reuse a connection to a worker about to go) and the first one asks
/// the master for a replacement; the worker keeps accepting new connections until the
/// replacement is ready and the master stops it.
fn retire(shared: &Shared, response: &mut Response<Body>) {
    close_connection(response);
    if shared
        .slot
        .transition(SlotState::Ready, SlotState::Retiring)
    {
        tracing::info!(
            pid = std::process::id(),
            served = shared.max_requests,
            "max requests reached; asking the master for a replacement"
        );
    }
}

/// 408, whatever the handler answered: its body broke the rule of
/// [`crate::body_deadline`]. The rest of that body will not be read.
fn body_timed_out(timeout: Duration) -> Response<Body> {
    let mut response = ApiError::new(
        http::StatusCode::REQUEST_TIMEOUT,
        format!(
            "Request body timed out: it paused for {} s or arrived slower than {} bytes/s",
            timeout.as_secs(),
            body_deadline::MIN_RATE
        ),
    )
    .into_response();
    close_connection(&mut response);
    response
}

/// A stopping or retiring worker must not invite the client to reuse the connection.
fn close_connection(response: &mut Response<Body>) {
    response.headers_mut().insert(
        http::header::CONNECTION,
        http::HeaderValue::from_static("close"),
    );
}
