//! Request body ceilings (LightRAG's body-limit middleware): MAX_REQUEST_BODY_BYTES for
//! ordinary routes, 50 MiB for `/documents/text(s)` unless that setting was given,
//! MAX_UPLOAD_SIZE + 1 MiB for uploads; 0 disables them all. A declared Content-Length
//! over the ceiling is refused before reading; a streamed body is counted as it is read.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use lightrag_config::api::ApiSettings;
use std::sync::Arc;

use crate::app::App;
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

pub async fn enforce(State(app): State<Arc<App>>, req: Request, next: Next) -> Response {
    let Some(limit) = ceiling(&app.settings.api, req.uri().path()) else {
        return next.run(req).await;
    };
    let declared = req
        .headers()
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit) {
        return ApiError::body_too_large(limit).into_response();
    }
    let (mut parts, body) = req.into_parts();
    parts.extensions.insert(BodyCeiling(limit));
    let limited = Body::new(http_body_util::Limited::new(body, limit as usize));
    next.run(Request::from_parts(parts, limited)).await
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
}
