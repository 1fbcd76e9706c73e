//! `GET /metrics`: Prometheus text, aggregated over all workers from the arena.

use std::sync::Arc;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::header;

use crate::app::App;

/// Counters of every worker: requests by route group and status class, durations,
/// in flight, workers alive, restarts and timeouts.
#[utoipa::path(get, path = "/metrics", tag = "server",
    responses((status = 200, description = "Prometheus text format", content_type = "text/plain")))]
pub async fn metrics(State(app): State<Arc<App>>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        app.shared.metrics.render(app.arena),
    )
        .into_response()
}
