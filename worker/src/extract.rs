//! Reading request bodies under the route's ceiling: an overflow found while streaming
//! is the same 413 as one declared in Content-Length (see [`crate::body_limit`]).

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use http::StatusCode;

use crate::body_limit::BodyCeiling;
use crate::error::ApiError;

pub async fn body_bytes(req: Request) -> Result<Bytes, ApiError> {
    let ceiling = req.extensions().get::<BodyCeiling>().copied();
    Bytes::from_request(req, &())
        .await
        .map_err(|e| match ceiling {
            Some(BodyCeiling(limit)) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                ApiError::body_too_large(limit)
            }
            _ => ApiError::bad_request("Could not read the request body"),
        })
}

/// A JSON object body, or FastAPI's 422 for anything else.
pub async fn json_object(
    req: Request,
) -> Result<serde_json::Map<String, serde_json::Value>, ApiError> {
    json_object_of(&body_bytes(req).await?)
}

/// [`json_object`] of a body already read (large ones are parsed off the reactor).
pub fn json_object_of(body: &[u8]) -> Result<serde_json::Map<String, serde_json::Value>, ApiError> {
    match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(serde_json::Value::Object(map)) => Ok(map),
        Ok(other) => Err(ApiError::invalid(
            vec!["body".into()],
            "model_attributes_type",
            "Input should be a valid dictionary or object to extract fields from",
            other,
        )),
        Err(e) => Err(ApiError::validation(vec![crate::error::FieldError {
            kind: "json_invalid",
            loc: vec!["body".into(), e.column().into()],
            msg: "JSON decode error".to_owned(),
            input: serde_json::json!({}),
            ctx: Some(serde_json::json!({ "error": e.to_string() })),
        }])),
    }
}
