//! gunicorn's request-size contract: a request line over 4094 bytes is answered 400, a
//! header line over 8190 bytes 431 (more than 100 headers is refused with 431 by hyper's
//! parser itself, whose default limit is the same). Lengths exclude the CRLF, as gunicorn counts.

use http::Request;

pub const MAX_REQUEST_LINE: usize = 4094;
pub const MAX_HEADER_LINE: usize = 8190;

#[derive(Debug, PartialEq, Eq)]
pub enum Rejection {
    RequestLine(usize),
    HeaderLine(usize),
}

/// Length of `METHOD SP target SP HTTP/x.y` as the client sent it.
fn request_line_len<B>(req: &Request<B>) -> usize {
    let target = match req.uri().path_and_query() {
        Some(pq) if req.uri().scheme().is_none() => pq.as_str().len(),
        _ => req.uri().to_string().len(),
    };
    req.method().as_str().len() + 1 + target + 1 + "HTTP/1.1".len()
}

pub fn check<B>(req: &Request<B>) -> Result<(), Rejection> {
    let line = request_line_len(req);
    if line > MAX_REQUEST_LINE {
        return Err(Rejection::RequestLine(line));
    }
    for (name, value) in req.headers() {
        let len = name.as_str().len() + 2 + value.len();
        if len > MAX_HEADER_LINE {
            return Err(Rejection::HeaderLine(len));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(target: &str) -> Request<()> {
        Request::get(target).body(()).unwrap()
    }

    #[test]
    fn request_line_limit_is_4094_bytes() {
        let overhead = "GET  HTTP/1.1".len();
        let fits = format!("/{}", "a".repeat(MAX_REQUEST_LINE - overhead - 1));
        assert_eq!(check(&get(&fits)), Ok(()));
        let over = format!("{fits}b");
        assert_eq!(check(&get(&over)), Err(Rejection::RequestLine(4095)));
    }

    #[test]
    fn header_line_limit_is_8190_bytes() {
        let mut req = get("/");
        let value = "v".repeat(MAX_HEADER_LINE - "x-big: ".len());
        req.headers_mut().insert("x-big", value.parse().unwrap());
        assert_eq!(check(&req), Ok(()));
        req.headers_mut()
            .insert("x-big", format!("{value}v").parse().unwrap());
        assert_eq!(check(&req), Err(Rejection::HeaderLine(8191)));
    }
}
