//! The master's signal table: TERM, INT/QUIT, HUP, TTIN/TTOU, USR1.

#![cfg(feature = "testing")]

mod common;

use std::collections::HashSet;
use std::io::Write;
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::{Server, is_alive};

#[test]
fn term_finishes_in_flight_requests_then_exits_0() {
    let mut server = Server::builder("term").args(&["--workers", "2"]).start();
    let port = server.port;
    let slow: Vec<_> = (0..6)
        .map(|_| std::thread::spawn(move || common::get(port, "/debug/sleep?s=3")))
        .collect();
    server.wait_in_flight(6, Duration::from_secs(5));
    server.signal(libc::SIGTERM);
    let deadline = Instant::now() + Duration::from_secs(5);
    while TcpStream::connect(("127.0.0.1", port)).is_ok() {
        assert!(Instant::now() < deadline, "new connections are refused");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        slow.iter().any(|h| !h.is_finished()),
        "refused while requests are still in flight"
    );
    for handle in slow {
        let response = handle.join().unwrap().expect("in-flight request answered");
        assert_eq!(response.status, 200);
    }
    let status = server
        .wait_exit(Duration::from_secs(5))
        .expect("master exits");
    assert_eq!(status.code(), Some(0), "{}", server.output());
}

#[test]
fn graceful_timeout_kills_what_does_not_finish() {
    let mut server = Server::builder("gracekill")
        .args(&["--workers", "1", "--graceful-timeout", "1"])
        .start();
    let port = server.port;
    let slow = std::thread::spawn(move || common::get(port, "/debug/sleep?s=30"));
    server.wait_in_flight(1, Duration::from_secs(5));
    server.signal(libc::SIGTERM);
    let status = server
        .wait_exit(Duration::from_secs(5))
        .expect("master exits");
    assert_eq!(status.code(), Some(0));
    assert!(
        server
            .output()
            .contains("graceful timeout reached with requests still in flight"),
        "{}",
        server.output()
    );
    assert!(
        slow.join().unwrap().is_err(),
        "the killed request gets no response"
    );
}

#[test]
fn int_is_a_quick_stop_and_a_second_int_ends_a_graceful_one() {
    let mut server = Server::builder("int").args(&["--workers", "2"]).start();
    let port = server.port;
    let slow = std::thread::spawn(move || common::get(port, "/debug/sleep?s=30"));
    server.wait_in_flight(1, Duration::from_secs(5));
    server.signal(libc::SIGTERM);
    assert!(server.wait_output(
        "graceful stop: finishing in-flight requests",
        Duration::from_secs(3)
    ));
    // The graceful stop would wait GRACEFUL_TIMEOUT (30 s) for the request.
    server.signal(libc::SIGINT);
    let status = server
        .wait_exit(Duration::from_secs(3))
        .expect("quick stop");
    assert_eq!(status.code(), Some(0));
    assert!(
        server.output().contains("worker quick exit"),
        "{}",
        server.output()
    );
    assert!(slow.join().unwrap().is_err());

    let mut server = Server::builder("quit").args(&["--workers", "2"]).start();
    let workers = server.wait_workers(2, Duration::from_secs(5));
    server.signal(libc::SIGQUIT);
    assert!(server.wait_exit(Duration::from_secs(1)).is_some());
    assert!(workers.iter().all(|&w| !is_alive(w)));
}

#[test]
fn ttin_and_ttou_scale_by_one_and_a_burst_of_ten_adds_ten() {
    let server = Server::builder("ttin").args(&["--workers", "1"]).start();
    let first = server.wait_workers(1, Duration::from_secs(5))[0];
    server.signal(libc::SIGTTIN);
    let two = server.wait_workers(2, Duration::from_secs(2));
    // Ten deliveries in a burst. A standard signal sent again before the first was
    // delivered merges in the kernel, so leave the master a moment between them.
    for _ in 0..10 {
        server.signal(libc::SIGTTIN);
        std::thread::sleep(Duration::from_millis(15));
    }
    server.wait_workers(12, Duration::from_secs(5));
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(server.workers().len(), 12, "exactly ten more");

    server.signal(libc::SIGTTOU);
    let eleven = server.wait_workers(11, Duration::from_secs(3));
    assert!(!eleven.contains(&first), "TTOU stops the oldest worker");
    assert!(eleven.contains(&two.into_iter().find(|&p| p != first).unwrap()));
    for _ in 0..15 {
        server.signal(libc::SIGTTOU);
        std::thread::sleep(Duration::from_millis(5));
    }
    server.wait_workers(1, Duration::from_secs(5));
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(server.workers().len(), 1, "never below one");
    assert_eq!(server.get("/health").status, 200);
}

#[test]
fn hup_under_constant_load_replaces_every_worker_with_zero_failures() {
    let server = Server::builder("hupload").args(&["--workers", "2"]).start();
    let mut previous: HashSet<i32> = server
        .wait_workers(2, Duration::from_secs(5))
        .into_iter()
        .collect();
    let load = common::Load::start(server.port, 4, "/debug/pid");
    for round in 0..3 {
        std::thread::sleep(Duration::from_millis(300));
        server.signal(libc::SIGHUP);
        let deadline = Instant::now() + Duration::from_secs(5);
        let current = loop {
            let now: HashSet<i32> = server.workers().into_iter().collect();
            if now.len() == 2 && now.is_disjoint(&previous) {
                break now;
            }
            assert!(
                Instant::now() < deadline,
                "round {round}: {now:?} vs {previous:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        previous = current;
    }
    std::thread::sleep(Duration::from_millis(300));
    let (ok, failures) = load.finish();
    assert!(
        failures.is_empty(),
        "{} failures: {:?}",
        failures.len(),
        &failures[..failures.len().min(5)]
    );
    assert!(ok > 100, "only {ok} requests");
    assert_eq!(server.output().matches("reload complete").count(), 3);
}

#[test]
fn hup_rereads_dotenv_and_applies_the_new_worker_count() {
    // No --workers flag: the command line would win over .env.
    let server = Server::builder("hupenv").start();
    let before: HashSet<i32> = server
        .wait_workers(2, Duration::from_secs(5))
        .into_iter()
        .collect();
    common::write_file(&server.dir, ".env", "WORKERS=3\n");
    server.signal(libc::SIGHUP);
    // Make-before-break: old and new workers overlap for a moment (two old and one new
    // are three too), so wait for three that are all new.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let now: HashSet<i32> = server.workers().into_iter().collect();
        if now.len() == 3 && now.is_disjoint(&before) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "expected 3 new workers, have {now:?} (before: {before:?})\n{}",
            server.output()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn hup_with_a_broken_config_keeps_serving_with_the_old_one() {
    let server = Server::builder("hupbad").start();
    let before = server.wait_workers(2, Duration::from_secs(5));
    common::write_file(&server.dir, ".env", "WORKERS=zero\n");
    server.signal(libc::SIGHUP);
    assert!(
        server.wait_output("reload failed", Duration::from_secs(3)),
        "{}",
        server.output()
    );
    assert!(server.output().contains("\"zero\""));
    std::thread::sleep(Duration::from_millis(200));
    let mut now = server.workers();
    now.sort();
    let mut before = before;
    before.sort();
    assert_eq!(now, before);
    assert_eq!(server.get("/health").status, 200);
}

#[test]
fn hup_whose_new_workers_fail_to_boot_keeps_the_old_generation() {
    let server = Server::builder("hupboot").args(&["--workers", "2"]).start();
    let mut before = server.wait_workers(2, Duration::from_secs(5));
    common::write_file(&server.dir, "test-boot-exit", "3");
    server.signal(libc::SIGHUP);
    assert!(
        server.wait_output("reload failed", Duration::from_secs(5)),
        "{}",
        server.output()
    );
    std::thread::sleep(Duration::from_millis(300));
    let mut now = server.workers();
    now.sort();
    before.sort();
    assert_eq!(now, before, "old generation still serving");
    assert!(is_alive(server.pid()));
    std::fs::remove_file(server.dir.join("test-boot-exit")).unwrap();
    assert_eq!(server.get("/health").status, 200);
    server.signal(libc::SIGHUP);
    assert!(server.wait_output("reload complete", Duration::from_secs(5)));
}

#[test]
fn hup_with_a_new_port_moves_the_server() {
    let server = Server::builder("hupport")
        .args(&["--workers", "1"])
        .address_in_dotenv()
        .start();
    let new_port = common::free_port();
    common::write_file(
        &server.dir,
        ".env",
        &format!("HOST=127.0.0.1\nPORT={new_port}\n"),
    );
    server.signal(libc::SIGHUP);
    assert!(
        server.wait_output("reload complete", Duration::from_secs(5)),
        "{}",
        server.output()
    );
    assert_eq!(common::get(new_port, "/health").unwrap().status, 200);
    let deadline = Instant::now() + Duration::from_secs(3);
    while TcpStream::connect(("127.0.0.1", server.port)).is_ok() {
        assert!(Instant::now() < deadline, "old address still accepts");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn hup_refuses_changing_the_worker_user() {
    let server = Server::builder("hupuser").args(&["--workers", "1"]).start();
    let before = server.wait_workers(1, Duration::from_secs(5));
    common::write_file(&server.dir, ".env", "WORKER_USER=no-such-user-xyz\n");
    server.signal(libc::SIGHUP);
    assert!(server.wait_output("reload failed", Duration::from_secs(3)));
    assert!(server.output().contains("no-such-user-xyz"));
    assert_eq!(server.workers(), before);
    assert_eq!(server.get("/health").status, 200);
}

#[test]
fn usr1_reopens_the_log_file_after_a_rename() {
    let server = Server::builder("usr1").args(&["--workers", "2"]).start();
    server.get("/nope-before");
    assert!(server.wait_log_file("/nope-before", Duration::from_secs(5)));
    std::fs::rename(
        server.dir.join("lightrag.log"),
        server.dir.join("lightrag.log.old"),
    )
    .unwrap();
    server.signal(libc::SIGUSR1);
    assert!(server.wait_output("Handling signal: usr1", Duration::from_secs(2)));
    std::thread::sleep(Duration::from_millis(100));
    for i in 0..20 {
        server.get(&format!("/nope-after-{i}"));
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    while server.log_file().matches("/nope-after-").count() < 20 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let fresh = server.log_file();
    let old = std::fs::read_to_string(server.dir.join("lightrag.log.old")).unwrap();
    assert!(old.contains("/nope-before"));
    assert_eq!(fresh.matches("/nope-after-").count(), 20, "{fresh}");
    assert!(!old.contains("/nope-after-"));
    let workers = server.workers();
    assert_eq!(workers.len(), 2, "workers survive USR1");
}

#[test]
fn keep_alive_response_during_shutdown_carries_connection_close() {
    let mut server = Server::builder("kaclose").args(&["--workers", "1"]).start();
    let mut stream = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    stream
        .write_all(b"GET /debug/sleep?s=1 HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    server.wait_in_flight(1, Duration::from_secs(5));
    server.signal(libc::SIGTERM);
    let response = common::read_one(&mut stream).unwrap();
    assert_eq!(response.status, 200);
    assert_eq!(response.header("connection"), Some("close"));
    assert!(server.wait_exit(Duration::from_secs(5)).is_some());
}

#[test]
fn a_signal_sent_while_a_worker_boots_is_acted_on_once_it_can_be() {
    // post_fork holds each worker in boot for a second, before its handlers exist.
    let mut server = Server::builder("boot-signal")
        .args(&["--workers", "1"])
        .env("LIGHTRAG_HOOK_POST_FORK", "sleep 1")
        .no_wait()
        .start();
    let worker = server.wait_workers(1, Duration::from_secs(5))[0];
    server.signal(libc::SIGQUIT);
    let stopped = server
        .wait_exit(Duration::from_secs(2))
        .expect("master exits");
    assert_eq!(stopped.code(), Some(0));
    assert!(!is_alive(worker), "the booting worker honoured the QUIT");
    assert!(
        server.output().contains("worker quick exit"),
        "{}",
        server.output()
    );
}
