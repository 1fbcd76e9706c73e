//! RFC 9112 §3.2: a server answers 400 to an HTTP/1.1 request without a Host header,
//! and to any request with more than one Host field line or a Host value that is not
//! `uri-host [ ":" port ]` (RFC 3986). HTTP/1.0 may omit Host. hyper checks none of it.

use http::{Request, Version, header};

#[derive(Debug, PartialEq, Eq)]
pub enum HostViolation {
    Missing,
    Repeated,
    Invalid,
}

impl HostViolation {
    pub fn detail(&self) -> &'static str {
        match self {
            HostViolation::Missing => "Bad Request: an HTTP/1.1 request needs a Host header",
            HostViolation::Repeated => "Bad Request: more than one Host header",
            HostViolation::Invalid => "Bad Request: invalid Host header",
        }
    }
}

pub fn check<B>(req: &Request<B>) -> Result<(), HostViolation> {
    let mut hosts = req.headers().get_all(header::HOST).iter();
    match (hosts.next(), hosts.next()) {
        (None, _) if req.version() == Version::HTTP_10 => Ok(()),
        (None, _) => Err(HostViolation::Missing),
        (Some(_), Some(_)) => Err(HostViolation::Repeated),
        (Some(host), None) if valid(host.as_bytes()) => Ok(()),
        (Some(_), None) => Err(HostViolation::Invalid),
    }
}

/// `uri-host [ ":" port ]`; an empty value is valid (a target without authority).
fn valid(value: &[u8]) -> bool {
    let (host, port) = match value.strip_prefix(b"[") {
        Some(rest) => {
            let Some(end) = rest.iter().position(|&b| b == b']') else {
                return false;
            };
            if !ip_literal(&rest[..end]) {
                return false;
            }
            (&b""[..], &rest[end + 1..])
        }
        None => match value.iter().rposition(|&b| b == b':') {
            Some(colon) => (&value[..colon], &value[colon..]),
            None => (value, &b""[..]),
        },
    };
    let port_ok = match port {
        [] => true,
        [b':', digits @ ..] => digits.iter().all(u8::is_ascii_digit),
        _ => false,
    };
    port_ok && reg_name(host)
}

/// IPv6 (hex digits, `:` and a dotted IPv4 tail) or `vX.…` (IPvFuture).
fn ip_literal(inner: &[u8]) -> bool {
    match inner {
        [b'v' | b'V', rest @ ..] => {
            rest.contains(&b'.')
                && rest
                    .iter()
                    .all(|&b| b == b':' || unreserved(b) || sub_delim(b))
        }
        _ => {
            inner.contains(&b':')
                && inner
                    .iter()
                    .all(|&b| b.is_ascii_hexdigit() || b == b':' || b == b'.')
        }
    }
}

/// `*( unreserved / pct-encoded / sub-delims )`, which IPv4 addresses also match.
fn reg_name(host: &[u8]) -> bool {
    let mut i = 0;
    while i < host.len() {
        match host[i] {
            b'%' => {
                let hex = host.get(i + 1..i + 3);
                if !hex.is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit)) {
                    return false;
                }
                i += 3;
            }
            b if unreserved(b) || sub_delim(b) => i += 1,
            _ => return false,
        }
    }
    true
}

fn unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

fn sub_delim(b: u8) -> bool {
    matches!(
        b,
        b'!' | b'$' | b'&' | b'\'' | b'(' | b')' | b'*' | b'+' | b',' | b';' | b'='
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(version: Version, hosts: &[&[u8]]) -> Request<()> {
        let mut req = Request::get("/").version(version).body(()).unwrap();
        for host in hosts {
            req.headers_mut()
                .append(header::HOST, http::HeaderValue::from_bytes(host).unwrap());
        }
        req
    }

    #[test]
    fn http11_needs_exactly_one_valid_host() {
        let v11 = Version::HTTP_11;
        assert_eq!(check(&request(v11, &[])), Err(HostViolation::Missing));
        assert_eq!(check(&request(Version::HTTP_10, &[])), Ok(()));
        assert_eq!(
            check(&request(v11, &[b"a", b"a"])),
            Err(HostViolation::Repeated)
        );
        assert_eq!(
            check(&request(Version::HTTP_10, &[b"a", b"b"])),
            Err(HostViolation::Repeated)
        );
        for good in [
            &b"example.com"[..],
            b"127.0.0.1:9621",
            b"[::1]:80",
            b"[fe80::1]",
            b"x",
            b"",
            b"host:",
            b"a%20b",
        ] {
            assert_eq!(check(&request(v11, &[good])), Ok(()), "{good:?}");
        }
        for bad in [
            &b"a b"[..],
            b"user@host",
            b"host:port",
            b"::1",
            b"[::1",
            b"[::1]x",
            b"a/b",
            b"%zz",
            b"\xc3\xa9.com",
        ] {
            assert_eq!(
                check(&request(v11, &[bad])),
                Err(HostViolation::Invalid),
                "{bad:?}"
            );
        }
    }
}
