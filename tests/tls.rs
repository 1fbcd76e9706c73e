//! TLS as LightRAG offers it (`--ssl`, `--ssl-certfile`, `--ssl-keyfile`): the workers
//! serve HTTPS on the inherited socket; a bad certificate stops start-up with one line;
//! HUP serves a renewed certificate, and keeps the current one when the new one is bad.
//! Certificates are made by `openssl` for each test; `curl --cacert` is the client.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::Server;

/// A self-signed certificate for 127.0.0.1 and its key, written to `cert` and `key`.
fn certificate(cert: &Path, key: &Path) {
    let out = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
        ])
        .args(["-nodes", "-days", "2", "-subj", "/CN=127.0.0.1"])
        .args(["-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"])
        .arg("-keyout")
        .arg(key)
        .arg("-out")
        .arg(cert)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
}

/// `GET /health` over HTTPS trusting only `ca`: the status, or curl's complaint.
fn https_health(port: u16, ca: &Path) -> Result<u16, String> {
    let out = Command::new("curl")
        .args([
            "-sS",
            "--max-time",
            "10",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
        ])
        .arg("--cacert")
        .arg(ca)
        .arg(format!("https://127.0.0.1:{port}/health"))
        .output()
        .unwrap();
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).parse().unwrap())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

fn tls_server(name: &str, cert: &str, key: &str) -> common::Builder {
    Server::builder(name)
        .args(&["--ssl", "--ssl-certfile", cert, "--ssl-keyfile", key])
        .no_wait()
}

fn ready(server: &Server) {
    assert!(
        server.wait_output("all workers ready", Duration::from_secs(20)),
        "{}",
        server.output()
    );
}

/// Polls until `check` holds (new connections may reach an old worker for a moment
/// after a reload).
fn eventually(what: &str, check: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !check() {
        assert!(Instant::now() < deadline, "{what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn https_is_served_with_the_configured_certificate() {
    let builder = tls_server("tls-serve", "cert.pem", "key.pem");
    let dir = builder.dir().to_owned();
    certificate(&dir.join("cert.pem"), &dir.join("key.pem"));
    let server = builder.start();
    ready(&server);
    assert_eq!(https_health(server.port, &dir.join("cert.pem")), Ok(200));
    assert!(
        server
            .output()
            .contains(&format!("Listening at: https://127.0.0.1:{}", server.port))
    );
    // The healthcheck command reads the same settings, so it speaks HTTPS.
    let probe = Command::new(common::BIN)
        .current_dir(&dir)
        .args([
            "healthcheck",
            "--host",
            "127.0.0.1",
            "--port",
            &server.port.to_string(),
        ])
        .args([
            "--ssl",
            "--ssl-certfile",
            "cert.pem",
            "--ssl-keyfile",
            "key.pem",
        ])
        .output()
        .unwrap();
    assert!(probe.status.success(), "{probe:?}");
    // Plain HTTP on the TLS port gets no answer, and the workers live on.
    assert!(common::get(server.port, "/health").is_err());
    let other = dir.join("other");
    std::fs::create_dir_all(&other).unwrap();
    certificate(&other.join("cert.pem"), &other.join("key.pem"));
    let refused = https_health(server.port, &other.join("cert.pem")).unwrap_err();
    assert!(refused.contains("certificate"), "{refused}");
    assert_eq!(https_health(server.port, &dir.join("cert.pem")), Ok(200));
}

#[test]
fn a_bad_certificate_or_key_stops_start_up_with_one_line() {
    let dir = common::temp_dir("tls-bad-files");
    certificate(&dir.join("a.pem"), &dir.join("a.key"));
    certificate(&dir.join("b.pem"), &dir.join("b.key"));
    std::fs::write(dir.join("junk.pem"), "not a certificate\n").unwrap();
    for (cert, key, says) in [
        (
            "a.pem",
            "b.key",
            "SSL_CERTFILE a.pem with SSL_KEYFILE b.key:",
        ),
        (
            "junk.pem",
            "a.key",
            "SSL_CERTFILE junk.pem: no PEM certificate",
        ),
        ("missing.pem", "a.key", "SSL_CERTFILE"),
    ] {
        let out = Command::new(common::BIN)
            .current_dir(&dir)
            .args([
                "--host",
                "127.0.0.1",
                "--port",
                &common::free_port().to_string(),
            ])
            .args(["--ssl", "--ssl-certfile", cert, "--ssl-keyfile", key])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{cert} {key}: {stderr}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
        assert!(
            stderr.starts_with("Error: ") && stderr.contains(says),
            "{stderr}"
        );
        assert!(out.stdout.is_empty(), "nothing started");
    }
}

#[test]
fn hup_serves_a_renewed_certificate_and_keeps_it_when_the_next_is_bad() {
    let builder = tls_server("tls-reload", "cert.pem", "key.pem").env("WORKERS", "2");
    let dir = builder.dir().to_owned();
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    certificate(&cert, &key);
    let first = dir.join("first.pem");
    std::fs::copy(&cert, &first).unwrap();
    let server = builder.start();
    ready(&server);
    assert_eq!(https_health(server.port, &first), Ok(200));

    certificate(&cert, &key);
    let renewed = dir.join("renewed.pem");
    std::fs::copy(&cert, &renewed).unwrap();
    server.signal(libc::SIGHUP);
    assert!(
        server.wait_output("reload complete", Duration::from_secs(20)),
        "{}",
        server.output()
    );
    eventually("the renewed certificate is served", || {
        https_health(server.port, &renewed) == Ok(200) && https_health(server.port, &first).is_err()
    });

    std::fs::write(
        &cert,
        "-----BEGIN CERTIFICATE-----\nbroken\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    server.signal(libc::SIGHUP);
    assert!(
        server.wait_output("reload failed: SSL_CERTFILE", Duration::from_secs(20)),
        "{}",
        server.output()
    );
    assert_eq!(https_health(server.port, &renewed), Ok(200));
}
