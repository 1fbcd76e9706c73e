//! Supervision: worker count, respawn, boot failures, heartbeat watchdog, recycling,
//! crash-loop back-off, orphans.

#![cfg(feature = "testing")]

mod common;

use std::collections::HashSet;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::{Server, is_alive};

#[test]
fn starts_the_configured_number_of_workers_all_serving() {
    let server = Server::builder("count").args(&["--workers", "3"]).start();
    let workers: HashSet<i32> = server
        .wait_workers(3, Duration::from_secs(5))
        .into_iter()
        .collect();
    let answering: HashSet<i32> = (0..60).map(|_| server.answering_pid()).collect();
    assert!(
        answering.is_subset(&workers),
        "{answering:?} not in {workers:?}"
    );
}

#[test]
fn a_killed_worker_is_replaced_at_once() {
    let server = Server::builder("respawn").args(&["--workers", "2"]).start();
    let before = server.wait_workers(2, Duration::from_secs(5));
    let victim = before[0];
    unsafe { libc::kill(victim, libc::SIGKILL) };
    let deadline = Instant::now() + Duration::from_secs(2);
    let after = loop {
        let now = server.workers();
        if now.len() == 2 && !now.contains(&victim) {
            break now;
        }
        assert!(Instant::now() < deadline, "not replaced: {now:?}");
        std::thread::sleep(Duration::from_millis(10));
    };
    assert!(after.contains(&before[1]));
    assert!(server.wait_output(
        &format!("Worker (pid:{victim}) was sent SIGKILL! Perhaps out of memory?"),
        Duration::from_secs(2)
    ));
    assert_eq!(server.get("/health").status, 200);
}

#[test]
fn repeated_kills_leave_no_zombies() {
    let server = Server::builder("zombies").args(&["--workers", "2"]).start();
    for _ in 0..20 {
        let workers = server.wait_workers(2, Duration::from_secs(5));
        unsafe { libc::kill(workers[0], libc::SIGKILL) };
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(1500));
    let workers = server.wait_workers(2, Duration::from_secs(5));
    assert!(
        workers.iter().all(|&w| is_alive(w)),
        "a child is a zombie: {workers:?}"
    );
    assert_eq!(server.get("/health").status, 200);
}

/// Built as root (as CI runs), this runs and must be run as root; built otherwise, it is
/// reported ignored: the `as_root` cfg comes from build.rs.
#[test]
#[cfg_attr(not(as_root), ignore = "needs root to switch users")]
fn workers_run_as_worker_user_while_the_master_keeps_root() {
    assert_eq!(
        unsafe { libc::geteuid() },
        0,
        "needs root to switch users (built as root, run without)"
    );
    let builder = Server::builder("user").args(&["--workers", "1", "--user", "nobody"]);
    // The worker user must be able to write WORKING_DIR, as with any dropped privilege.
    let storage = builder.dir().join("rag_storage");
    std::fs::create_dir_all(&storage).unwrap();
    let nobody_uid: u32 = String::from_utf8(
        std::process::Command::new("id")
            .args(["-u", "nobody"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap()
    .trim()
    .parse()
    .unwrap();
    std::os::unix::fs::chown(&storage, Some(nobody_uid), None).unwrap();
    let server = builder.start();
    let uid_of = |pid: i32| -> String {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
        let line = status
            .lines()
            .find(|l| l.starts_with("Uid:"))
            .unwrap()
            .to_owned();
        line.split_whitespace().nth(1).unwrap().to_owned()
    };
    let nobody = nobody_uid.to_string();
    let worker = server.wait_workers(1, Duration::from_secs(5))[0];
    assert_eq!(uid_of(server.pid()), "0");
    assert_eq!(uid_of(worker), nobody);
}

#[test]
fn boot_failure_at_first_start_exits_3_without_a_fork_loop() {
    for (code, message) in [(3, "Worker failed to boot."), (4, "App failed to load.")] {
        let builder = Server::builder("bootfail")
            .args(&["--workers", "2"])
            .no_wait();
        builder.file("test-boot-exit", &code.to_string());
        let mut server = builder.start();
        let status = server
            .wait_exit(Duration::from_secs(5))
            .expect("master exits");
        assert_eq!(status.code(), Some(code), "{}", server.output());
        let output = server.output();
        assert!(output.contains(message), "{output}");
        assert!(output.matches("Booting worker").count() <= 2, "{output}");
    }
}

#[test]
fn a_blocked_worker_is_aborted_and_replaced() {
    let server = Server::builder("timeout")
        .args(&["--workers", "1", "--worker-timeout", "2", "--threads", "1"])
        .start();
    let pid = server.wait_workers(1, Duration::from_secs(5))[0];
    let port = server.port;
    let blocker = std::thread::spawn(move || common::get(port, "/debug/block?s=30"));
    let needle = format!("WORKER TIMEOUT (pid:{pid})");
    assert!(
        server.wait_output(&needle, Duration::from_secs(6)),
        "{}",
        server.output()
    );
    let deadline = Instant::now() + Duration::from_secs(4);
    while is_alive(pid) || server.workers().len() != 1 {
        assert!(
            Instant::now() < deadline,
            "not replaced\n{}",
            server.output()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    server.wait_healthy(Duration::from_secs(3));
    assert_ne!(server.answering_pid(), pid);
    assert!(
        blocker.join().unwrap().is_err(),
        "blocked request cannot complete"
    );
}

#[test]
fn worker_timeout_zero_disables_the_watchdog() {
    let server = Server::builder("timeout0")
        .args(&["--workers", "1", "--worker-timeout", "0", "--threads", "1"])
        .start();
    let pid = server.wait_workers(1, Duration::from_secs(5))[0];
    let response = server.get("/debug/block?s=2.5");
    assert_eq!(response.status, 200);
    assert_eq!(server.workers(), vec![pid]);
    assert!(!server.output().contains("WORKER TIMEOUT"));
}

#[test]
fn max_requests_recycles_make_before_break_with_no_failures() {
    let server = Server::builder("maxreq")
        .args(&["--workers", "1", "--max-requests", "10"])
        .start();
    let mut pids = Vec::new();
    let mut conn: Option<TcpStream> = None;
    let mut served: std::collections::HashMap<i64, u64> = Default::default();
    // Until three generations have served (a replacement boots more slowly on a loaded
    // machine, and the old worker keeps serving until it is up), bounded in time.
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut i = 0;
    while served.len() < 3 || i < 60 {
        assert!(Instant::now() < deadline, "{served:?}");
        i += 1;
        let stream =
            conn.get_or_insert_with(|| TcpStream::connect(("127.0.0.1", server.port)).unwrap());
        stream
            .write_all(b"GET /debug/pid HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        let r = common::read_one(stream).unwrap_or_else(|e| panic!("request {i}: {e}"));
        assert_eq!(r.status, 200, "request {i}");
        let pid = r.json()["pid"].as_i64().unwrap();
        pids.push(pid);
        let count = r.json()["served_before"].as_u64().unwrap() + 1;
        served.insert(pid, count);
        let close = r.header("connection") == Some("close");
        assert_eq!(
            close,
            count >= 10,
            "request {i}: response {count} of pid {pid}"
        );
        if close {
            let mut rest = Vec::new();
            let n = stream.read_to_end(&mut rest).unwrap_or(0);
            assert_eq!(n, 0, "server closes the connection after the last response");
            conn = None;
        }
    }
    // Every worker served at least its limit; recycling kept going all along.
    assert!(served.len() >= 3, "{served:?}");
    let finished = served.len() - 1;
    assert!(
        served.values().filter(|&&n| n >= 10).count() >= finished,
        "{served:?}"
    );
    assert!(server.output().contains("max requests reached"));
}

#[test]
fn a_crash_loop_backs_off_and_the_master_stays_up() {
    let server = Server::builder("crashloop")
        .args(&["--workers", "1"])
        .start();
    for _ in 0..4 {
        let _ = common::get(server.port, "/debug/crash");
        server.wait_healthy(Duration::from_secs(12));
    }
    assert!(
        server.output().contains("delaying the next spawn"),
        "{}",
        server.output()
    );
    assert!(is_alive(server.pid()));
}

#[test]
fn workers_die_with_a_killed_master() {
    let mut server = Server::builder("orphans").args(&["--workers", "2"]).start();
    let workers = server.wait_workers(2, Duration::from_secs(5));
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    let deadline = Instant::now() + Duration::from_secs(1);
    while workers.iter().any(|&w| is_alive(w)) {
        assert!(Instant::now() < deadline, "orphaned workers survive");
        std::thread::sleep(Duration::from_millis(10));
    }
}
