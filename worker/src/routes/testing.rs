//! Routes that misbehave on purpose, compiled only with the `testing` feature so the
//! black-box tests can exercise supervision: which worker answered, slow requests,
//! a blocked runtime, a crash, log volume, and a boot failure: a file `test-boot-exit`
//! in the working directory holding 3 or 4 makes every worker booted while it exists
//! fail with that exit code (a file, so a test can break a reload's new generation).

use std::time::Duration;

use axum::extract::Query;
use axum::routing::get;
use axum::{Json, Router};
use lightrag_supervisor::WorkerContext;
use serde::Deserialize;

use super::AppError;

#[derive(Deserialize)]
struct Seconds {
    s: f64,
}

fn duration(q: &Seconds) -> Duration {
    Duration::from_secs_f64(q.s.clamp(0.0, 600.0))
}

pub fn routes(ctx: &WorkerContext) -> Result<Router<std::sync::Arc<crate::app::App>>, AppError> {
    match std::fs::read_to_string("test-boot-exit")
        .as_deref()
        .map(str::trim)
    {
        Ok("4") => return Err(AppError::InjectedFailure),
        Ok("3") => std::process::exit(lightrag_supervisor::WORKER_BOOT_ERROR),
        _ => {}
    }
    let (worker, generation, slot) = (ctx.id, ctx.generation, ctx.slot);
    Ok(Router::new()
        .route(
            "/debug/pid",
            get(move || async move {
                Json(serde_json::json!({
                    "pid": std::process::id(),
                    "worker": worker,
                    "generation": generation,
                    "served_before": slot.requests_served(),
                }))
            }),
        )
        .route(
            "/debug/sleep",
            get(|Query(q): Query<Seconds>| async move {
                tokio::time::sleep(duration(&q)).await;
                Json(serde_json::json!({ "slept": q.s, "pid": std::process::id() }))
            }),
        )
        .route(
            "/debug/block",
            get(|Query(q): Query<Seconds>| async move {
                std::thread::sleep(duration(&q));
                Json(serde_json::json!({ "blocked": q.s, "pid": std::process::id() }))
            }),
        )
        .route("/debug/crash", get(crash))
        .route("/debug/panic", get(panic))
        .route(
            "/debug/env",
            get(|Query(q): Query<EnvName>| async move {
                Json(serde_json::json!({ "value": std::env::var(&q.name).ok() }))
            }),
        )
        .route(
            "/debug/log",
            get(|Query(q): Query<LogLines>| async move {
                for i in 0..q.n.min(100_000) {
                    tracing::info!(target: "loadtest", "{} line {i} {}", q.tag, "x".repeat(q.pad.min(4000)));
                }
                Json(serde_json::json!({ "pid": std::process::id() }))
            }),
        ))
}

#[derive(Deserialize)]
struct EnvName {
    name: String,
}

#[derive(Deserialize)]
struct LogLines {
    n: u64,
    tag: String,
    #[serde(default)]
    pad: usize,
}

async fn crash() -> &'static str {
    std::process::abort()
}

async fn panic() -> &'static str {
    panic!("deliberate panic for the tests")
}
