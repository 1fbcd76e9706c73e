//! Request body ceilings (LightRAG's body-limit middleware): MAX_REQUEST_BODY_BYTES for
//! ordinary routes, 50 MiB for `/documents/text(s)` unless that setting was given,
//! MAX_UPLOAD_SIZE + 1 MiB for uploads; 0 disables them all. A declared Content-Length
//! over the ceiling is refused before reading; a streamed body is counted as it is read.

use axum::body::Body;
use http::Request;
use lightrag_config::api::ApiSettings;

use crate::error::ApiError;

const MIB: u64 = 1 << 20;
const TEXT_CEILING: u64 = 50 * MIB;

/// The ceiling for requests to `path`, stored in the request for the extractors that
/// report a streamed overflow.
#[derive(Debug, Clone, Copy)]
pub struct BodyCeiling(pub u64);

pub fn ceiling(api: &ApiSettings, path: &str) -> Option<u64> {
    if api.max_request_body_bytes == 0 {
        return None;
    }
    match path {
        "/documents/text" | "/documents/texts" if !api.max_request_body_explicit => {
            Some(TEXT_CEILING)
        }
        "/documents/upload" => api.max_upload_size.map(|n| n + MIB),
        _ => Some(api.max_request_body_bytes),
    }
}

/// Puts `path`'s ceiling on `req`, after the API prefix is removed: a declared
/// Content-Length over it is refused before anything is read, and a body is counted as
/// it is read. A request without a body has nothing to count.
pub fn limit(api: &ApiSettings, req: &mut Request<Body>) -> Result<(), ApiError> {
    let Some(limit) = ceiling(api, req.uri().path()) else {
        return Ok(());
    };
    let declared = req
        .headers()
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(ApiError::body_too_large(limit));
    }
    if !hyper::body::Body::is_end_stream(req.body()) {
        req.extensions_mut().insert(BodyCeiling(limit));
        let body = std::mem::take(req.body_mut());
        *req.body_mut() = Body::new(http_body_util::Limited::new(body, limit as usize));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(max: u64, explicit: bool, upload: Option<u64>) -> ApiSettings {
        let mut settings = lightrag_config::Settings::load(["x"], &Default::default())
            .unwrap()
            .api;
        settings.max_request_body_bytes = max;
        settings.max_request_body_explicit = explicit;
        settings.max_upload_size = upload;
        settings
    }

    #[test]
    fn ceilings_by_route() {
        let a = api(MIB, false, Some(100 * MIB));
        assert_eq!(ceiling(&a, "/login"), Some(MIB));
        assert_eq!(ceiling(&a, "/documents/text"), Some(TEXT_CEILING));
        assert_eq!(ceiling(&a, "/documents/upload"), Some(101 * MIB));
        assert_eq!(ceiling(&api(10, true, None), "/documents/texts"), Some(10));
        assert_eq!(ceiling(&api(10, true, None), "/documents/upload"), None);
        assert_eq!(ceiling(&api(0, true, Some(1)), "/login"), None);
    }

    fn request(declared: Option<u64>, body: &'static str) -> Request<Body> {
        let mut req = Request::builder().uri("/login");
        if let Some(n) = declared {
            req = req.header(http::header::CONTENT_LENGTH, n);
        }
        req.body(Body::from(body)).unwrap()
    }

    #[tokio::test]
    async fn refuses_a_declared_length_and_counts_a_streamed_body() {
        let a = api(10, true, None);
        let refused = limit(&a, &mut request(Some(11), "")).unwrap_err();
        assert_eq!(refused.status, http::StatusCode::PAYLOAD_TOO_LARGE);

        let mut over = request(None, "more than ten bytes");
        limit(&a, &mut over).unwrap();
        assert!(matches!(
            over.extensions().get::<BodyCeiling>(),
            Some(BodyCeiling(10))
        ));
        let read = axum::body::to_bytes(over.into_body(), usize::MAX).await;
        assert!(read.is_err(), "counted while read");

        let mut within = request(Some(4), "four");
        limit(&a, &mut within).unwrap();
        let read = axum::body::to_bytes(within.into_body(), usize::MAX).await;
        assert_eq!(read.unwrap(), "four");

        // Nothing to count without a body, and no ceiling at 0.
        let mut empty = request(None, "");
        limit(&a, &mut empty).unwrap();
        assert!(empty.extensions().get::<BodyCeiling>().is_none());
        let mut unlimited = request(Some(1 << 40), "");
        limit(&api(0, true, None), &mut unlimited).unwrap();
    }
}
