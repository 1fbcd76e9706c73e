//! The access log, in uvicorn's form (`client - "METHOD path HTTP/1.1" status`) plus
//! the duration, with LightRAG's path filter: successful GET/POST polls of the web UI's
//! status endpoints would otherwise drown everything else.
//!
//! The worker holds access lines back and writes them to the master in batches
//! ([`lightrag_supervisor::logging`]); [`spawn_flusher`] bounds how long one waits.

use std::net::SocketAddr;
use std::time::Duration;

/// The longest an access line waits in the worker when traffic is light.
pub const FLUSH_INTERVAL: Duration = Duration::from_millis(100);

/// Writes the held-back lines out every [`FLUSH_INTERVAL`], for the worker's life.
pub fn spawn_flusher() {
    tokio::spawn(async {
        let mut tick = tokio::time::interval(FLUSH_INTERVAL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            lightrag_supervisor::logging::flush_worker();
        }
    });
}

use http::{Method, StatusCode, Uri, Version};

const QUIET_PATHS: &[&str] = &[
    "/health",
    "/documents/paginated",
    "/documents/pipeline_status",
    "/webui/",
];

/// LightRAG's `LightragPathFilter`: true when the line should be dropped.
pub fn is_filtered(method: &Method, path: &str, status: StatusCode) -> bool {
    (method == Method::GET || method == Method::POST)
        && (status == StatusCode::OK || status == StatusCode::NOT_MODIFIED)
        && QUIET_PATHS.contains(&path)
}

pub struct Entry<'a> {
    pub peer: SocketAddr,
    pub method: &'a Method,
    pub uri: &'a Uri,
    pub version: Version,
    pub status: StatusCode,
    pub elapsed: Duration,
}

pub fn record(entry: Entry<'_>) {
    if is_filtered(entry.method, entry.uri.path(), entry.status) {
        return;
    }
    tracing::info!(
        target: "access",
        "{} - \"{} {} {:?}\" {} {:.1}ms",
        entry.peer,
        entry.method,
        entry.uri,
        entry.version,
        entry.status.as_u16(),
        entry.elapsed.as_secs_f64() * 1000.0
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_like_lightrag() {
        assert!(is_filtered(&Method::GET, "/health", StatusCode::OK));
        assert!(is_filtered(
            &Method::POST,
            "/documents/paginated",
            StatusCode::NOT_MODIFIED
        ));
        assert!(is_filtered(&Method::GET, "/webui/", StatusCode::OK));
        assert!(!is_filtered(&Method::GET, "/health", StatusCode::NOT_FOUND));
        assert!(!is_filtered(&Method::DELETE, "/health", StatusCode::OK));
        assert!(!is_filtered(
            &Method::GET,
            "/webui/index.html",
            StatusCode::OK
        ));
        assert!(!is_filtered(&Method::GET, "/query", StatusCode::OK));
    }
}
