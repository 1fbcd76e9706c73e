//! Every failure becomes an HTTP answer here, in LightRAG's (FastAPI's) JSON shapes:
//! `{"detail": "message"}`, `{"detail": [validation errors]}` for 422, and for anything
//! unexpected a 500 whose body carries only an error id; the cause goes to the log.

use axum::Json;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode};
use serde::Serialize;
use serde_json::Value;

use lightrag_engine::error::{ErrorKind, Kind};

use crate::limits::Rejection;

/// An HTTP error answered as `{"detail": ...}`.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub detail: Value,
    retry_after: Option<u64>,
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.status, self.detail)
    }
}

impl std::error::Error for ApiError {}

/// One entry of a 422 answer, as pydantic reports it.
#[derive(Debug, Serialize)]
pub struct FieldError {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub loc: Vec<Value>,
    pub msg: String,
    pub input: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ctx: Option<Value>,
}

impl FieldError {
    pub fn new(
        loc: Vec<Value>,
        kind: &'static str,
        msg: impl Into<String>,
        input: Value,
    ) -> FieldError {
        FieldError {
            kind,
            loc,
            msg: msg.into(),
            input,
            ctx: None,
        }
    }

    /// A required field is absent from a JSON body (pydantic echoes the body).
    pub fn missing_in(body: &serde_json::Map<String, Value>, field: &str) -> FieldError {
        FieldError {
            input: Value::Object(body.clone()),
            ..FieldError::missing("body", field)
        }
    }

    /// A required body field is absent.
    pub fn missing(location: &str, field: &str) -> FieldError {
        FieldError {
            kind: "missing",
            loc: vec![location.into(), field.into()],
            msg: "Field required".to_owned(),
            input: Value::Null,
            ctx: None,
        }
    }
}

impl ApiError {
    pub fn new(status: StatusCode, detail: impl Into<String>) -> ApiError {
        ApiError {
            status,
            detail: Value::String(detail.into()),
            retry_after: None,
        }
    }

    /// A 422 for one field.
    pub fn invalid(
        loc: Vec<Value>,
        kind: &'static str,
        msg: impl Into<String>,
        input: Value,
    ) -> ApiError {
        ApiError::validation(vec![FieldError::new(loc, kind, msg, input)])
    }

    pub fn bad_request(detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, detail)
    }

    pub fn unauthorized(detail: &str) -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, detail)
    }

    pub fn forbidden(detail: &str) -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, detail)
    }

    pub fn too_many_requests(detail: &str, retry_after_secs: u64) -> ApiError {
        ApiError {
            retry_after: Some(retry_after_secs),
            ..ApiError::new(StatusCode::TOO_MANY_REQUESTS, detail)
        }
    }

    pub fn body_too_large(limit: u64) -> ApiError {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("Request body too large. This endpoint accepts at most {limit} bytes."),
        )
    }

    pub fn validation(errors: Vec<FieldError>) -> ApiError {
        ApiError {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            detail: serde_json::to_value(errors).unwrap_or(Value::Null),
            retry_after: None,
        }
    }

    /// An engine failure, answered by its kind: the one place where engine errors get
    /// their HTTP status. Provider and storage failures are the server's (500 with an
    /// error id, the cause in the log), as LightRAG answers them.
    pub fn engine<E: Kind + std::fmt::Display>(error: &E) -> ApiError {
        match error.kind() {
            ErrorKind::BadInput => ApiError::bad_request(error.to_string()),
            ErrorKind::NotFound => ApiError::new(StatusCode::NOT_FOUND, error.to_string()),
            ErrorKind::Conflict => ApiError::new(StatusCode::CONFLICT, error.to_string()),
            // LightRAG's admission control answers with `Retry-After: 30`.
            ErrorKind::Overloaded => ApiError::too_many_requests(&error.to_string(), 30),
            ErrorKind::Provider | ErrorKind::Storage => ApiError::internal(error),
            // The store is down: say so, and when to try again. The outage is logged
            // once as it begins and ends (`outages`), not with every request it meets.
            ErrorKind::Unavailable => {
                tracing::debug!(error = %error, "storage unavailable");
                ApiError {
                    retry_after: Some(5),
                    ..ApiError::new(StatusCode::SERVICE_UNAVAILABLE, error.to_string())
                }
            }
        }
    }

    /// An unexpected failure: the cause is logged under a fresh id; the client sees only
    /// the id.
    pub fn internal(cause: &dyn std::fmt::Display) -> ApiError {
        let error_id = format!("{:012x}", fastrand::u64(..) & 0xffff_ffff_ffff);
        tracing::error!(error_id, "internal error: {cause}");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("Internal server error (error_id: {error_id})"),
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (
            self.status,
            Json(serde_json::json!({ "detail": self.detail })),
        )
            .into_response();
        if let Some(secs) = self.retry_after {
            response
                .headers_mut()
                .insert(http::header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
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

/// A panic in a handler: the worker survives, the client gets a 500 with an error id.
pub fn panic_response(panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let message = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("panic");
    ApiError::internal(&format_args!("handler panicked: {message}")).into_response()
}
