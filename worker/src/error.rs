//! Turning failures into LightRAG's JSON error shape, `{"detail": ...}`, in one place.

use axum::Json;
use axum::response::{IntoResponse, Response};
use http::StatusCode;

use crate::limits::Rejection;

/// An HTTP error answered as `{"detail": message}`.
#[derive(Debug, thiserror::Error)]
#[error("{status}: {detail}")]
pub struct ApiError {
    pub status: StatusCode,
    pub detail: String,
}

impl ApiError {
    pub fn new(status: StatusCode, detail: impl Into<String>) -> ApiError {
        ApiError {
            status,
            detail: detail.into(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(serde_json::json!({ "detail": self.detail })),
        )
            .into_response()
    }
}

impl From<Rejection> for ApiError {
    fn from(rejection: Rejection) -> ApiError {
        match rejection {
            Rejection::RequestLine(len) => ApiError::new(
                StatusCode::BAD_REQUEST,
                format!(
                    "Request Line is too large ({len} > {})",
                    crate::limits::MAX_REQUEST_LINE
                ),
            ),
            Rejection::HeaderLine(len) => ApiError::new(
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                format!(
                    "Request header field is too large ({len} > {})",
                    crate::limits::MAX_HEADER_LINE
                ),
            ),
        }
    }
}

pub async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "Not Found")
}

pub async fn method_not_allowed() -> ApiError {
    ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed")
}
