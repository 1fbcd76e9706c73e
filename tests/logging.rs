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
