//! Hostile connections are bounded (issue 14, items 11 to 13): a client that stops
//! reading a streamed answer is cut after SEND_TIMEOUT and its model permit returns; a
//! worker at WORKER_CONNECTIONS stops accepting and serves the waiting connections once
//! others close; a stalled or trickling request body is answered 408, a trickled head
//! is closed after KEEPALIVE; a request whose Host header breaks RFC 9112 §3.2 is
//! answered 400.

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::fake_provider::FakeProvider;
use common::{Server, read_one};
use serde_json::json;

/// A streamed /api/generate whose client never reads: with MAX_ASYNC=1 it holds the only
/// model permit, so the second question can only be answered once SEND_TIMEOUT has cut
/// the stalled connection and the permit has come back.
#[test]
fn a_client_that_stops_reading_loses_its_connection_and_its_model_permit() {
    // 4 words a repetition: 100 000 lines (~10 MB), far more than the sockets buffer.
    let fake = FakeProvider::start(
        "stalled-reader",
        json!({"words": 25_000, "piece_delay": 0.0}),
    );
    let server = Server::builder("stalled-reader-server")
        .env("WORKERS", "2")
        .env("LLM_BINDING", "ollama")
        .env("LLM_BINDING_HOST", &fake.url(""))
        .env("MAX_ASYNC", "1")
        .env("SEND_TIMEOUT", "1")
        .start();
    let body = json!({"model": "lightrag:latest", "prompt": "x", "stream": true}).to_string();
    let mut stalled = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    write!(
        stalled,
        "POST /api/generate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    // The stalled answer holds the permit once the provider has been asked.
    let deadline = Instant::now() + Duration::from_secs(20);
    while fake.requests().is_empty() {
        assert!(Instant::now() < deadline, "the provider was never asked");
        std::thread::sleep(Duration::from_millis(20));
    }
    let answered = common::call(
        &server,
        "POST",
        "/api/generate",
        &json!({"model": "lightrag:latest", "prompt": "y", "stream": false}),
    );
    assert_eq!(answered.status, 200, "{}", answered.body);
    assert!(
        answered.json()["response"]
            .as_str()
            .unwrap()
            .starts_with("Fake answer to: y"),
        "{}",
        answered.body
    );
    assert!(
        server.wait_output(
            "accepted no response bytes within SEND_TIMEOUT",
            Duration::from_secs(5)
        ),
        "{}",
        server.output()
    );
    assert!(
        server.wait_output(
            "client disconnected; generation stopped",
            Duration::from_secs(5)
        ),
        "{}",
        server.output()
    );
    // What the stalled client finally reads ends: the server closed the connection.
    stalled
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut sink = [0u8; 65536];
    loop {
        match stalled.read(&mut sink) {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
    }
}

/// The length of the accept queue of the listening socket on `port`
/// (`/proc/net/tcp`'s rx_queue for a socket in LISTEN state).
fn accept_queue(port: u16) -> u64 {
    let table = std::fs::read_to_string("/proc/net/tcp").unwrap();
    table
        .lines()
        .skip(1)
        .find_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let local_port = u16::from_str_radix(fields[1].rsplit(':').next()?, 16).ok()?;
            let listening = fields[3] == "0A";
            let rx = fields[4].split(':').nth(1)?;
            (local_port == port && listening).then(|| u64::from_str_radix(rx, 16).unwrap())
        })
        .expect("the listening socket")
}

fn health_on(stream: &mut TcpStream) -> u16 {
    stream
        .write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    read_one(stream).unwrap().status
}

#[test]
fn at_worker_connections_new_connections_wait_in_the_backlog_until_one_closes() {
    let server = Server::builder("worker-connections")
        .env("WORKERS", "1")
        .env("WORKER_CONNECTIONS", "2")
        .env("KEEPALIVE", "60")
        .start();
    let worker = server.workers();
    let mut first = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    let mut second = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    assert_eq!(health_on(&mut first), 200);
    assert_eq!(health_on(&mut second), 200);

    let mut third = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    third
        .write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while accept_queue(server.port) != 1 {
        assert!(
            Instant::now() < deadline,
            "the third connection was not queued"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    third
        .set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let mut byte = [0u8; 1];
    let waited = third.read(&mut byte).unwrap_err();
    assert!(
        matches!(waited.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut),
        "{waited}"
    );
    assert_eq!(accept_queue(server.port), 1, "still waiting to be accepted");
    assert!(server.output().contains("WORKER_CONNECTIONS reached"));

    drop(first);
    third
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    assert_eq!(read_one(&mut third).unwrap().status, 200);
    assert_eq!(health_on(&mut second), 200);
    assert_eq!(server.workers(), worker, "backpressure, not a crash");
}

/// Starts a POST /query that declares 1000 bytes and sends `sent` of them.
fn partial_body(server: &Server, sent: &[u8]) -> TcpStream {
    let mut stream = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    stream
        .write_all(
            b"POST /query HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
              Content-Length: 1000\r\n\r\n",
        )
        .unwrap();
    stream.write_all(sent).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    stream
}

/// The whole answer, up to the server's close (a reset once the rest of the body
/// arrives at the closed socket ends it too).
fn answer(stream: &mut TcpStream) -> common::Response {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        match stream.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == ErrorKind::ConnectionReset && !buf.is_empty() => break,
            Err(e) => panic!("{e}: {:?}", String::from_utf8_lossy(&buf)),
        }
    }
    common::parse(&buf).unwrap_or_else(|| panic!("{:?}", String::from_utf8_lossy(&buf)))
}

#[test]
fn a_stalled_or_trickling_body_is_answered_408_and_closed() {
    let server = Server::builder("body-timeout")
        .env("BODY_TIMEOUT", "1")
        .start();
    let mut stalled = partial_body(&server, b"{\"query\": ");
    let r = answer(&mut stalled);
    assert_eq!(r.status, 408, "{}", r.body);
    assert_eq!(r.header("connection"), Some("close"));
    assert!(
        r.json()["detail"]
            .as_str()
            .unwrap()
            .starts_with("Request body timed out")
    );

    // A byte every 200 ms never pauses for BODY_TIMEOUT, but stays far below 1 KiB/s.
    let mut trickle = partial_body(&server, b"{");
    let mut writer = trickle.try_clone().unwrap();
    let feeding = std::thread::spawn(move || {
        for _ in 0..200 {
            std::thread::sleep(Duration::from_millis(200));
            if writer.write_all(b" ").is_err() {
                return;
            }
        }
    });
    let r = answer(&mut trickle);
    assert_eq!(r.status, 408, "{}", r.body);
    feeding.join().unwrap();
    assert_eq!(server.get("/health").status, 200);
}

#[test]
fn host_header_violations_are_answered_400() {
    let server = Server::builder("host-header").start();
    let raw = |request: &str| common::request(server.port, request.as_bytes()).unwrap();
    for (request, detail) in [
        (
            "GET /health HTTP/1.1\r\nConnection: close\r\n\r\n",
            "Bad Request: an HTTP/1.1 request needs a Host header",
        ),
        (
            "GET /health HTTP/1.1\r\nHost: a\r\nHost: b\r\nConnection: close\r\n\r\n",
            "Bad Request: more than one Host header",
        ),
        (
            "GET /health HTTP/1.1\r\nHost: a b\r\nConnection: close\r\n\r\n",
            "Bad Request: invalid Host header",
        ),
        (
            "GET /health HTTP/1.1\r\nHost: user@host\r\nConnection: close\r\n\r\n",
            "Bad Request: invalid Host header",
        ),
        (
            "GET /health HTTP/1.0\r\nHost: a\r\nHost: a\r\n\r\n",
            "Bad Request: more than one Host header",
        ),
    ] {
        let r = raw(request);
        assert_eq!(r.status, 400, "{request:?}: {}", r.body);
        assert_eq!(r.json()["detail"], detail, "{request:?}");
    }
    // HTTP/1.0 may leave Host out; a port and an IPv6 literal are fine.
    assert_eq!(raw("GET /health HTTP/1.0\r\n\r\n").status, 200);
    for host in ["127.0.0.1:9621", "[::1]:80", "example.com"] {
        let r = raw(&format!(
            "GET /health HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
        ));
        assert_eq!(r.status, 200, "{host}: {}", r.body);
    }
}

/// hyper's header-read timeout (KEEPALIVE) bounds a head sent a line at a time.
#[test]
fn a_trickled_request_head_is_closed_after_keepalive_seconds() {
    let server = Server::builder("head-timeout")
        .env("KEEPALIVE", "1")
        .start();
    let mut stream = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    stream
        .write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    let mut reader = stream.try_clone().unwrap();
    let feeding = std::thread::spawn(move || {
        for _ in 0..300 {
            std::thread::sleep(Duration::from_millis(200));
            if stream.write_all(b"X-Slow: 1\r\n").is_err() {
                return true;
            }
        }
        false
    });
    reader
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut buf = Vec::new();
    let _ = reader.read_to_end(&mut buf);
    assert!(
        !String::from_utf8_lossy(&buf).contains(" 200 "),
        "never answered: {buf:?}"
    );
    assert!(feeding.join().unwrap(), "the server closed the connection");
    assert_eq!(server.get("/health").status, 200);
}
