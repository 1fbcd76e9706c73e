//! The HTTP contract every worker keeps: JSON errors, size limits, keep-alive timeout.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::Server;

#[test]
fn health_and_json_errors() {
    let server = Server::builder("http-basic")
        .args(&["--workers", "1"])
        .start();
    let health = server.get("/health");
    assert_eq!(health.status, 200);
    assert_eq!(health.header("content-type"), Some("application/json"));
    assert_eq!(health.json()["status"], "healthy");
    let missing = server.get("/no/such/route");
    assert_eq!(missing.status, 404);
    assert_eq!(missing.body, r#"{"detail":"Not Found"}"#);
    let wrong = common::request(
        server.port,
        b"DELETE /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .unwrap();
    assert_eq!(wrong.status, 405);
    assert_eq!(wrong.body, r#"{"detail":"Method Not Allowed"}"#);

    // Access log: uvicorn's line plus the duration; successful /health polls are filtered.
    std::thread::sleep(Duration::from_millis(200));
    let log = server.log_file();
    let line = log
        .lines()
        .find(|l| l.contains("\"GET /no/such/route HTTP/1.1\" 404"))
        .unwrap_or_else(|| panic!("no access line in\n{log}"));
    assert!(
        line.contains("[INFO] access: 127.0.0.1:") && line.ends_with("ms"),
        "{line}"
    );
    assert!(log.contains("\"DELETE /health HTTP/1.1\" 405"));
    assert!(!log.contains("\"GET /health HTTP/1.1\" 200"));
}

fn raw_get(port: u16, target: &str, extra_headers: &str) -> u16 {
    let raw =
        format!("GET {target} HTTP/1.1\r\nHost: x\r\n{extra_headers}Connection: close\r\n\r\n");
    common::request(port, raw.as_bytes()).unwrap().status
}

#[test]
fn request_line_over_4094_bytes_is_400() {
    let server = Server::builder("http-line")
        .args(&["--workers", "1"])
        .start();
    // "GET " + target + " HTTP/1.1" must stay within 4094 bytes.
    let fits = format!(
        "/health?{}",
        "a".repeat(4094 - "GET  HTTP/1.1".len() - "/health?".len())
    );
    assert_eq!(raw_get(server.port, &fits, ""), 200);
    let over = format!("{fits}b");
    let response = common::request(
        server.port,
        format!("GET {over} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .unwrap();
    assert_eq!(response.status, 400);
    assert!(
        response.json()["detail"]
            .as_str()
            .unwrap()
            .contains("4095 > 4094")
    );
}

#[test]
fn too_many_or_too_large_headers_are_431() {
    let server = Server::builder("http-headers")
        .args(&["--workers", "1"])
        .start();
    // Host and Connection count too: 98 more makes exactly 100.
    let headers = |n: usize| (0..n).map(|i| format!("X-H{i}: v\r\n")).collect::<String>();
    assert_eq!(raw_get(server.port, "/health", &headers(98)), 200);
    assert_eq!(raw_get(server.port, "/health", &headers(99)), 431);
    let line = |len: usize| format!("X-Big: {}\r\n", "v".repeat(len - "X-Big: ".len()));
    assert_eq!(raw_get(server.port, "/health", &line(8190)), 200);
    assert_eq!(raw_get(server.port, "/health", &line(8191)), 431);
    assert_eq!(server.get("/health").status, 200, "worker unharmed");
}

#[test]
fn idle_keep_alive_connections_close_after_keepalive_seconds() {
    let server = Server::builder("http-keepalive")
        .args(&["--workers", "1", "--keepalive", "1"])
        .start();
    let mut stream = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    stream
        .write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    assert_eq!(common::read_one(&mut stream).unwrap().status, 200);
    // Still open shortly after, for a second request.
    std::thread::sleep(Duration::from_millis(300));
    stream
        .write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    assert_eq!(common::read_one(&mut stream).unwrap().status, 200);
    // Then closed by the server (end of stream), long before the read would time out.
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut buf = [0u8; 1];
    match stream.read(&mut buf) {
        Ok(0) => {}
        other => panic!("expected the server to close the idle connection: {other:?}"),
    }
}
