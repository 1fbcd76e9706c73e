//! What happens around every request, before and after the router: the size limits,
//! the in-flight and served counters in the arena slot, the access log, and the
//! max-requests check that asks the master for a replacement.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::body::Body;
use axum::response::IntoResponse;
use http::{Request, Response};
use hyper::body::Incoming;
use lightrag_supervisor::{SlotState, WorkerSlot};
use tower::Service;

use crate::access_log;
use crate::error::ApiError;
use crate::limits;

pub struct Shared {
    router: Router,
    slot: &'static WorkerSlot,
    max_requests: Option<u64>,
}

impl Shared {
    pub fn new(router: Router, slot: &'static WorkerSlot, max_requests: Option<u64>) -> Arc<Shared> {
        Arc::new(Shared {
            router,
            slot,
            max_requests,
        })
    }
}

impl Shared {
    pub fn slot(&self) -> &'static WorkerSlot {
        self.slot
    }
}

/// Counts a request as in flight until dropped, even if the client goes away and the
/// request future is cancelled.
struct InFlight<'a> {
    shared: &'a Shared,
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        let served = self.shared.slot.request_finished();
        if self.shared.max_requests == Some(served)
            && self.shared.slot.transition(SlotState::Ready, SlotState::Retiring)
        {
            tracing::info!(
                pid = std::process::id(),
                served,
                "max requests reached; asking the master for a replacement"
            );
        }
    }
}

pub async fn handle(
    shared: Arc<Shared>,
    peer: SocketAddr,
    req: Request<Incoming>,
) -> Result<Response<Body>, Infallible> {
    let started = Instant::now();
    shared.slot.request_started();
    let _in_flight = InFlight { shared: &shared };
    let method = req.method().clone();
    let version = req.version();
    let target = req
        .uri()
        .path_and_query()
        .map_or_else(|| req.uri().to_string(), |pq| pq.as_str().to_owned());
    let response = match limits::check(&req) {
        Err(rejection) => ApiError::from(rejection).into_response(),
        Ok(()) => {
            let mut router = shared.router.clone();
            match router.call(req).await {
                Ok(response) => response,
                Err(never) => match never {},
            }
        }
    };
    access_log::record(access_log::Entry {
        peer,
        method: &method,
        path: target.split('?').next().unwrap_or_default(),
        target: &target,
        version,
        status: response.status(),
        elapsed: started.elapsed(),
    });
    Ok(response)
}
