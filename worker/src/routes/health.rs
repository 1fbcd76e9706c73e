//! `GET /health`: liveness for load balancers and the web UI's poll.

use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;

/// LightRAG's API version string, which clients compare against.
pub const API_VERSION: &str = "0344";

#[derive(Serialize)]
struct Health {
    status: &'static str,
    core_version: &'static str,
    api_version: &'static str,
}

async fn health() -> Json<Health> {
    Json(Health {
        status: "healthy",
        core_version: env!("CARGO_PKG_VERSION"),
        api_version: API_VERSION,
    })
}

pub fn routes() -> Router {
    Router::new().route("/health", get(health))
}
