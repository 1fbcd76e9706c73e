//! The log file: only the master writes it, so rotation under load from several
//! workers loses, splits and interleaves nothing.

#![cfg(feature = "testing")]

mod common;

use std::collections::HashMap;
use std::time::Duration;

use common::Server;

#[test]
fn rotation_under_load_from_several_workers_keeps_every_line_whole() {
    const MAX_BYTES: u64 = 64 * 1024;
    let mut server = Server::builder("rotation")
        .args(&["--workers", "3", "--threads", "2"])
        .args(&[
            "--log-max-bytes",
            &MAX_BYTES.to_string(),
            "--log-backup-count",
            "500",
        ])
        .start();
    let port = server.port;
    let clients: Vec<_> = (0..6)
        .map(|c| {
            std::thread::spawn(move || {
                for r in 0..5 {
                    let tag = format!("c{c}r{r}");
                    let response =
                        common::get(port, &format!("/debug/log?n=300&tag={tag}&pad=150")).unwrap();
                    assert_eq!(response.status, 200);
                }
            })
        })
        .collect();
    for c in clients {
        c.join().unwrap();
    }
    server.signal(libc::SIGTERM);
    assert!(server.wait_exit(Duration::from_secs(10)).is_some());

    let mut per_tag: HashMap<String, Vec<u64>> = HashMap::new();
    let mut files = 0;
    for entry in std::fs::read_dir(&server.dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if !name.starts_with("lightrag.log") {
            continue;
        }
        files += 1;
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.len() as u64 <= MAX_BYTES,
            "{name} is {} bytes",
            text.len()
        );
        assert!(
            text.is_empty() || text.ends_with('\n'),
            "{name} ends mid-line"
        );
        for line in text.lines().filter(|l| l.contains("loadtest:")) {
            let message = line.split("loadtest: ").nth(1).expect("line intact");
            let mut parts = message.split(' ');
            let tag = parts.next().unwrap().to_owned();
            assert_eq!(parts.next(), Some("line"), "{line}");
            let index: u64 = parts.next().unwrap().parse().unwrap();
            assert_eq!(
                parts.next(),
                Some("x".repeat(150).as_str()),
                "split line: {line}"
            );
            assert_eq!(parts.next(), None, "joined lines: {line}");
            per_tag.entry(tag).or_default().push(index);
        }
    }
    assert!(files > 10, "rotation happened ({files} files)");
    assert_eq!(per_tag.len(), 30);
    for (tag, mut indexes) in per_tag {
        indexes.sort();
        assert_eq!(
            indexes,
            (0..300).collect::<Vec<_>>(),
            "{tag} lost or duplicated lines"
        );
    }
}

/// A client's newline cannot end a log line: a user name carrying a forged "login
/// succeeded" line is logged escaped, inside the one "login failed" line.
#[test]
fn a_newline_in_a_logged_value_cannot_forge_a_line() {
    let server = Server::builder("log-forge")
        .env("AUTH_ACCOUNTS", "admin:admin-pw")
        .env("TOKEN_SECRET", "log-forge-secret")
        .start();
    let forged = "2026-12-01 00:00:00.000 [1] [INFO] lightrag_worker::routes::auth: \
                  login succeeded user=admin";
    let form = format!(
        "username=eve%0A{}%0D%1B&password=x",
        forged.replace(' ', "%20").replace(':', "%3A")
    );
    assert_eq!(common::login(server.port, &form).status, 401);
    assert!(server.wait_output("login failed", Duration::from_secs(5)));
    let log = server.log_file();
    let lines: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("login succeeded"))
        .collect();
    assert_eq!(lines.len(), 1, "{log}");
    assert!(
        lines[0].contains(&format!("login failed user=eve\\n{forged}\\r\\u{{1b}} ")),
        "{}",
        lines[0]
    );
    assert!(!log.contains('\r') && !log.contains('\u{1b}'), "{log}");
}

/// The indexes `n` of the access lines for `GET /auth-status?n=<n>&tag=<tag>` in `text`.
fn access_indexes(text: &str, tag: &str) -> Vec<u64> {
    let needle = format!("&tag={tag} HTTP/1.1\" 200");
    let mut found: Vec<u64> = text
        .lines()
        .filter(|l| l.contains(&needle))
        .filter_map(|l| {
            l.split("/auth-status?n=")
                .nth(1)?
                .split('&')
                .next()?
                .parse()
                .ok()
        })
        .collect();
    found.sort();
    found
}

/// Requests `GET /auth-status?n=<n>&tag=<tag>` for every n in `range` (access-logged).
fn logged_requests(port: u16, tag: &str, range: std::ops::Range<u64>) {
    for n in range {
        let response = common::get(port, &format!("/auth-status?n={n}&tag={tag}")).unwrap();
        assert_eq!(response.status, 200);
    }
}

/// Workers hold access lines back and write them in batches: none may be lost when the
/// server stops gracefully right after serving them.
#[test]
fn access_lines_held_back_by_workers_reach_the_file_on_graceful_stop() {
    let mut server = Server::builder("access-stop")
        .args(&["--workers", "2"])
        .start();
    logged_requests(server.port, "stop", 0..300);
    server.signal(libc::SIGTERM);
    assert!(server.wait_exit(Duration::from_secs(10)).is_some());
    assert_eq!(
        access_indexes(&server.log_file(), "stop"),
        (0..300).collect::<Vec<_>>()
    );
}

/// A worker told to quit at once (QUIT, and TERM for a graceful stop) writes out what it
/// held back before it exits; the master replaces it.
#[test]
fn a_worker_stopped_by_a_signal_writes_out_its_held_back_access_lines() {
    let server = Server::builder("access-worker-exit")
        .args(&["--workers", "1"])
        .start();
    for (signal, tag) in [(libc::SIGQUIT, "quit"), (libc::SIGTERM, "term")] {
        let [worker] = server.wait_workers(1, Duration::from_secs(10))[..] else {
            unreachable!()
        };
        logged_requests(server.port, tag, 0..200);
        assert_eq!(unsafe { libc::kill(worker, signal) }, 0);
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while common::is_alive(worker) || server.workers().is_empty() {
            assert!(std::time::Instant::now() < deadline, "no replacement");
            std::thread::sleep(Duration::from_millis(20));
        }
        server.wait_healthy(Duration::from_secs(10));
        assert_eq!(
            access_indexes(&server.log_file(), tag),
            (0..200).collect::<Vec<_>>(),
            "{tag}"
        );
    }
}

/// logrotate renames the file and sends USR1: the lines served before it are in the
/// renamed file or (written out on USR1) in the reopened one, and every later line is
/// in the reopened one.
#[test]
fn usr1_reopen_loses_no_held_back_access_line() {
    let mut server = Server::builder("access-usr1")
        .args(&["--workers", "2"])
        .start();
    logged_requests(server.port, "before", 0..200);
    let log = server.dir.join("lightrag.log");
    let rotated = server.dir.join("lightrag.log.rotated");
    std::fs::rename(&log, &rotated).unwrap();
    server.signal(libc::SIGUSR1);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !log.exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "the file was not reopened"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    logged_requests(server.port, "after", 0..200);
    server.signal(libc::SIGTERM);
    assert!(server.wait_exit(Duration::from_secs(10)).is_some());
    let both = std::fs::read_to_string(&rotated).unwrap() + &server.log_file();
    assert_eq!(
        access_indexes(&both, "before"),
        (0..200).collect::<Vec<_>>()
    );
    assert_eq!(
        access_indexes(&server.log_file(), "after"),
        (0..200).collect::<Vec<_>>()
    );
}
