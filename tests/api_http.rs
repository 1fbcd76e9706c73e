//! The API's HTTP behaviour: CORS, body ceilings, error shapes, docs, metrics.

#![cfg(feature = "testing")]

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::{Server, send};

#[test]
fn cors_preflight_and_exposed_headers() {
    let server = Server::builder("cors-any").start();
    let r = send(
        server.port,
        "OPTIONS",
        "/metrics",
        &[
            ("Origin", "http://ui.example"),
            ("Access-Control-Request-Method", "GET"),
        ],
        b"",
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));
    let r = send(
        server.port,
        "GET",
        "/health",
        &[("Origin", "http://ui.example")],
        b"",
    );
    assert_eq!(
        r.header("access-control-expose-headers"),
        Some("x-new-token")
    );
    assert!(r.header("access-control-allow-credentials").is_none());

    let listed = Server::builder("cors-list")
        .env("CORS_ORIGINS", "http://a.example,http://b.example")
        .start();
    let r = send(
        listed.port,
        "GET",
        "/health",
        &[("Origin", "http://b.example")],
        b"",
    );
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("http://b.example")
    );
    assert_eq!(r.header("access-control-allow-credentials"), Some("true"));
    let r = send(
        listed.port,
        "GET",
        "/health",
        &[("Origin", "http://evil.example")],
        b"",
    );
    assert!(r.header("access-control-allow-origin").is_none());
}

#[test]
fn oversized_bodies_are_413_by_header_and_by_streamed_size() {
    let server = Server::builder("body-limit")
        .args(&["--max-request-body-bytes", "1000"])
        .start();
    let expected = "Request body too large. This endpoint accepts at most 1000 bytes.";
    // Declared too large: refused before the body is sent.
    let mut stream = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    stream
        .write_all(b"POST /login HTTP/1.1\r\nHost: x\r\nContent-Length: 5000000\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut buf = Vec::new();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let _ = stream.read_to_end(&mut buf);
    let r = common::parse(&buf).unwrap();
    assert_eq!(r.status, 413);
    assert_eq!(r.json()["detail"], expected);
    // Streamed (chunked, no length): counted while reading.
    let chunk = format!("{:x}\r\n{}\r\n", 600, "a".repeat(600));
    let raw = format!(
        "POST /login HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Type: application/x-www-form-urlencoded\r\nConnection: close\r\n\r\n{chunk}{chunk}0\r\n\r\n"
    );
    let r = common::request(server.port, raw.as_bytes()).unwrap();
    assert_eq!(r.status, 413);
    assert_eq!(r.json()["detail"], expected);
    assert_eq!(server.get("/health").status, 200);
}

#[test]
fn a_panicking_handler_is_a_500_with_an_error_id_and_the_worker_survives() {
    let server = Server::builder("panic500")
        .args(&["--workers", "1"])
        .start();
    let pid = server.answering_pid();
    let r = server.get("/debug/panic");
    assert_eq!(r.status, 500);
    let detail = r.json()["detail"].as_str().unwrap().to_owned();
    let id = detail
        .strip_prefix("Internal server error (error_id: ")
        .and_then(|s| s.strip_suffix(')'))
        .unwrap_or_else(|| panic!("{detail}"));
    assert_eq!(id.len(), 12);
    assert!(id.chars().all(|c| c.is_ascii_hexdigit()));
    assert!(
        !r.body.contains("deliberate"),
        "cause stays out of the response"
    );
    assert!(server.wait_output(&format!("error_id=\"{id}\""), Duration::from_secs(2)));
    assert_eq!(server.answering_pid(), pid, "same worker still serving");
}

#[test]
fn docs_openapi_and_root_redirect() {
    let server = Server::builder("docs").start();
    let r = server.get("/");
    assert_eq!((r.status, r.header("location")), (307, Some("/docs")));
    let doc = server.get("/openapi.json").json();
    assert_eq!(doc["info"]["title"], "LightRAG Server API");
    for path in [
        "/login",
        "/auth-status",
        "/auth/verify",
        "/health",
        "/metrics",
        "/",
        "/ui/customization",
    ] {
        assert!(
            doc["paths"].get(path).is_some(),
            "{path} missing from OpenAPI"
        );
    }
    let html = server.get("/docs/");
    assert_eq!(html.status, 200);
    assert!(html.body.contains("swagger"), "{}", html.body);
    let custom = server.get("/ui/customization");
    assert_eq!(custom.header("cache-control"), Some("no-store"));
    assert_eq!(custom.json()["customized"], false);

    let off = Server::builder("docs-off")
        .env("ENABLE_API_DOCS", "false")
        .start();
    assert_eq!(off.get("/docs").status, 404);
    assert_eq!(off.get("/openapi.json").status, 404);
    let root = off.get("/");
    assert_eq!(root.status, 200);
    assert_eq!(root.json()["service"], "LightRAG Server");
    assert_eq!(off.get("/health").json()["api_docs_available"], false);
}

#[test]
fn metrics_aggregate_every_worker() {
    let server = Server::builder("metrics").args(&["--workers", "2"]).start();
    for _ in 0..40 {
        server.get("/no/such/route");
    }
    let text = server.get("/metrics").body;
    let count = text
        .lines()
        .find(|l| l.starts_with("lightrag_http_requests_total{group=\"other\",status=\"4xx\"}"))
        .and_then(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .unwrap();
    assert_eq!(count, 40, "{text}");
    assert!(text.contains("lightrag_workers_alive 2"));
    assert!(text.contains("# TYPE lightrag_http_request_duration_seconds histogram"));
}

fn requests_total(metrics: &str, group: &str, class: &str) -> u64 {
    let series = format!("lightrag_http_requests_total{{group=\"{group}\",status=\"{class}\"}} ");
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(&series)?.parse().ok())
        .unwrap_or_else(|| panic!("no {series} in\n{metrics}"))
}

#[test]
fn metrics_group_routes_behind_the_api_prefix() {
    let server = Server::builder("metrics-prefix")
        .args(&["--workers", "1"])
        .env("LIGHTRAG_API_PREFIX", "/rag")
        .start();
    let counts = || {
        let text = server.get("/rag/metrics").body;
        ["health", "documents", "other"].map(|group| requests_total(&text, group, "2xx"))
    };
    let before = counts();
    for path in [
        "/rag/health",
        "/rag/health",
        "/health",
        "/rag/documents/pipeline_status",
    ] {
        assert_eq!(server.get(path).status, 200, "{path}");
    }
    let after = counts();
    let grown = [0, 1, 2].map(|i| after[i] - before[i]);
    assert_eq!(
        grown,
        [3, 1, 0],
        "health, documents, other: {before:?} -> {after:?}"
    );
}
