//! `lightrag-master healthcheck [FLAGS]`: exit 0 when `GET /health` on this machine
//! answers 200, 1 otherwise. For container HEALTHCHECKs, where no curl is installed.
//! It reads the same settings as the server (flags, environment, `.env`), so it probes
//! the port, API prefix and scheme the server uses; with SSL on it speaks HTTPS and
//! trusts exactly the configured certificate.

use std::ffi::OsString;
use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use lightrag_config::{Environment, Settings};

const TIMEOUT: Duration = Duration::from_secs(5);

pub fn run(args: &[OsString]) -> ExitCode {
    match probe(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(reason) => {
            eprintln!("unhealthy: {reason}");
            ExitCode::FAILURE
        }
    }
}

fn probe(args: &[OsString]) -> Result<(), String> {
    let cwd = std::env::current_dir().map_err(|e| e.to_string())?;
    let env = Environment::capture(&cwd).map_err(|e| e.to_string())?;
    let argv = std::iter::once(OsString::from("lightrag-master")).chain(args.iter().cloned());
    let settings = Settings::load(argv, &env).map_err(|e| e.to_string())?;
    // A wildcard address is reachable on loopback.
    let host = match settings.host.as_str() {
        "0.0.0.0" | "" => "127.0.0.1",
        "::" | "[::]" => "::1",
        other => other,
    };
    let addr = (host.trim_matches(['[', ']']), settings.port)
        .to_socket_addrs()
        .map_err(|e| e.to_string())?
        .next()
        .ok_or("the address resolves to nothing")?;
    let mut stream =
        TcpStream::connect_timeout(&addr, TIMEOUT).map_err(|e| format!("{addr}: {e}"))?;
    stream
        .set_read_timeout(Some(TIMEOUT))
        .map_err(|e| e.to_string())?;
    // RFC 9112: an IPv6 address is bracketed in Host.
    let host_header = match addr {
        std::net::SocketAddr::V6(_) => format!("[{}]", addr.ip()),
        std::net::SocketAddr::V4(_) => addr.ip().to_string(),
    };
    let request = format!(
        "GET {}/health HTTP/1.1\r\nHost: {host_header}\r\nConnection: close\r\n\r\n",
        settings.api.api_prefix
    );
    let Some(files) = &settings.connections.tls else {
        return exchange(&mut stream, &request);
    };
    let config =
        lightrag_supervisor::tls::pinned_client_config(files).map_err(|e| e.to_string())?;
    let name = rustls::pki_types::ServerName::from(addr.ip());
    let connection =
        rustls::ClientConnection::new(Arc::clone(&config), name).map_err(|e| e.to_string())?;
    exchange(&mut rustls::StreamOwned::new(connection, stream), &request)
}

/// Sends `request` and expects a 200.
fn exchange(stream: &mut (impl Read + Write), request: &str) -> Result<(), String> {
    stream
        .write_all(request.as_bytes())
        .map_err(|e| e.to_string())?;
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).map_err(|e| e.to_string())?;
    if head.starts_with(b"HTTP/1.1 200") {
        Ok(())
    } else {
        Err(format!("answered {}", String::from_utf8_lossy(&head)))
    }
}
