//! The access log, in uvicorn's form (`client - "METHOD path HTTP/1.1" status`) plus
//! the duration, with LightRAG's path filter: successful GET/POST polls of the web UI's
//! status endpoints would otherwise drown everything else.
//!
//! The worker holds access lines back and writes them to the master in batches
//! ([`lightrag_supervisor::logging::access`]); [`spawn_flusher`] bounds how long one
//! waits. A line is written straight into the batch, without `fmt` machinery or a
//! buffer of its own, in the very bytes `format!` gave it.

use std::io::Write;
use std::net::SocketAddr;
use std::time::Duration;

use http::{Method, StatusCode, Uri, Version};

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
    lightrag_supervisor::logging::access(|line| entry.write(line));
}

impl Entry<'_> {
    /// `127.0.0.1:54321 - "GET /query HTTP/1.1" 200 12.3ms`.
    fn write(&self, line: &mut Vec<u8>) {
        write_peer(line, self.peer);
        line.extend_from_slice(b" - \"");
        line.extend_from_slice(self.method.as_str().as_bytes());
        line.push(b' ');
        write_uri(line, self.uri);
        line.push(b' ');
        write_version(line, self.version);
        line.extend_from_slice(b"\" ");
        line.extend_from_slice(self.status.as_str().as_bytes());
        line.push(b' ');
        write_millis(line, self.elapsed);
        line.extend_from_slice(b"ms");
    }
}

fn write_peer(line: &mut Vec<u8>, peer: SocketAddr) {
    let SocketAddr::V4(v4) = peer else {
        let _ = write!(line, "{peer}");
        return;
    };
    let mut digits = itoa::Buffer::new();
    for (i, octet) in v4.ip().octets().into_iter().enumerate() {
        if i > 0 {
            line.push(b'.');
        }
        line.extend_from_slice(digits.format(octet).as_bytes());
    }
    line.push(b':');
    line.extend_from_slice(digits.format(v4.port()).as_bytes());
}

/// As `Uri`'s `Display`; a request's origin-form target is its path and query.
fn write_uri(line: &mut Vec<u8>, uri: &Uri) {
    if uri.scheme().is_some() || uri.authority().is_some() {
        let _ = write!(line, "{uri}");
        return;
    }
    line.extend_from_slice(uri.path().as_bytes());
    if let Some(query) = uri.query() {
        line.push(b'?');
        line.extend_from_slice(query.as_bytes());
    }
}

/// As `Version`'s `Debug`.
fn write_version(line: &mut Vec<u8>, version: Version) {
    let name = match version {
        Version::HTTP_11 => "HTTP/1.1",
        Version::HTTP_10 => "HTTP/1.0",
        Version::HTTP_2 => "HTTP/2.0",
        _ => {
            let _ = write!(line, "{version:?}");
            return;
        }
    };
    line.extend_from_slice(name.as_bytes());
}

/// The milliseconds as `format!("{:.1}", elapsed.as_secs_f64() * 1000.0)` writes them,
/// from integers: away from an exact half of a tenth (where the float's rounding
/// decides) and below a day (where the float is within a nanosecond), both round alike.
fn write_millis(line: &mut Vec<u8>, elapsed: Duration) {
    const TENTH: u64 = 100_000;
    let nanos = elapsed.as_secs() * 1_000_000_000 + u64::from(elapsed.subsec_nanos());
    if elapsed.as_secs() >= 86_400 || nanos % TENTH == TENTH / 2 {
        let _ = write!(line, "{:.1}", elapsed.as_secs_f64() * 1000.0);
        return;
    }
    let tenths = (nanos + TENTH / 2) / TENTH;
    line.extend_from_slice(itoa::Buffer::new().format(tenths / 10).as_bytes());
    line.extend_from_slice(&[b'.', b'0' + (tenths % 10) as u8]);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn formatted(entry: &Entry<'_>) -> String {
        format!(
            "{} - \"{} {} {:?}\" {} {:.1}ms",
            entry.peer,
            entry.method,
            entry.uri,
            entry.version,
            entry.status.as_u16(),
            entry.elapsed.as_secs_f64() * 1000.0
        )
    }

    fn written(entry: &Entry<'_>) -> String {
        let mut line = Vec::new();
        entry.write(&mut line);
        String::from_utf8(line).unwrap()
    }

    #[test]
    fn lines_are_the_bytes_format_gives() {
        let targets = [
            "/graph/label/list",
            "/query?workspace=a&x=%20",
            "http://example.com:8080/p?q",
            "example.com:443",
            "*",
        ];
        let peers = ["127.0.0.1:54321", "0.0.0.0:0", "[::1]:8080", "[fe80::1]:1"];
        let versions = [
            Version::HTTP_09,
            Version::HTTP_10,
            Version::HTTP_11,
            Version::HTTP_2,
            Version::HTTP_3,
        ];
        let methods = [Method::GET, Method::from_bytes(b"PURGE").unwrap()];
        for (i, target) in targets.iter().enumerate() {
            let uri: Uri = target.parse().unwrap();
            let entry = Entry {
                peer: peers[i % peers.len()].parse().unwrap(),
                method: &methods[i % methods.len()],
                uri: &uri,
                version: versions[i % versions.len()],
                status: StatusCode::from_u16(200 + i as u16 * 100).unwrap(),
                elapsed: Duration::from_micros(1234),
            };
            assert_eq!(written(&entry), formatted(&entry));
        }
    }

    #[test]
    fn durations_round_as_the_float_does() {
        let uri = Uri::from_static("/");
        let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
        let mut random = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let mut nanos: Vec<u64> = (0..20_000).map(|_| random() % 5_000_000_000).collect();
        // Exact and near halves of a tenth of a millisecond, and a day and more.
        for base in [0_u64, 1_000_000, 1_050_000, 1_150_000, 86_399_999_950_000] {
            nanos.extend((base..base + 3).chain(base.saturating_sub(3)..base));
        }
        nanos.extend([86_400_000_050_000, 90_000_000_000_000]);
        for nanos in nanos {
            let entry = Entry {
                peer: "127.0.0.1:1".parse().unwrap(),
                method: &Method::GET,
                uri: &uri,
                version: Version::HTTP_11,
                status: StatusCode::OK,
                elapsed: Duration::from_nanos(nanos),
            };
            assert_eq!(written(&entry), formatted(&entry), "{nanos} ns");
        }
    }

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
