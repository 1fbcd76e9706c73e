//! Reading what a client sends, every refusal in LightRAG's JSON shapes: bodies under
//! the route's ceiling (an overflow found while streaming is the same 413 as one
//! declared in Content-Length, see [`crate::body_limit`]), query strings and path
//! parameters with FastAPI's 422s (axum's own extractors answer plain text).

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use http::StatusCode;
use http::request::Parts;
use serde_json::Value;

use crate::body_limit::BodyCeiling;
use crate::error::{ApiError, FieldError};

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

/// A query string read as Starlette does: percent-decoded leniently, and a parameter
/// given twice keeps its last value (FastAPI's scalar parameters), so no query string
/// is refused as such; only a parameter's value can be.
pub struct QueryParams(Vec<(String, String)>);

impl<S: Send + Sync> FromRequestParts<S> for QueryParams {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        Ok(QueryParams::parse(parts.uri.query().unwrap_or_default()))
    }
}

impl QueryParams {
    pub fn parse(query: &str) -> QueryParams {
        QueryParams(
            form_urlencoded::parse(query.as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    /// The last value given for `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// A parameter that must be present.
    pub fn required(&self, name: &str) -> Result<&str, ApiError> {
        self.get(name)
            .ok_or_else(|| ApiError::validation(vec![FieldError::missing("query", name)]))
    }

    /// An integer parameter within `min..=max` (no upper bound when `max` is `None`),
    /// `default` when absent.
    pub fn integer(
        &self,
        name: &str,
        default: usize,
        min: usize,
        max: Option<usize>,
    ) -> Result<usize, ApiError> {
        let Some(raw) = self.get(name) else {
            return Ok(default);
        };
        let refuse = |kind, msg: String| {
            ApiError::invalid(vec!["query".into(), name.into()], kind, msg, raw.into())
        };
        let n = big_integer(raw.trim()).ok_or_else(|| {
            refuse(
                "int_parsing",
                "Input should be a valid integer, unable to parse string as an integer".into(),
            )
        })?;
        if n < min as i128 {
            return Err(refuse(
                "greater_than_equal",
                format!("Input should be greater than or equal to {min}"),
            ));
        }
        if let Some(max) = max.filter(|max| n > *max as i128) {
            return Err(refuse(
                "less_than_equal",
                format!("Input should be less than or equal to {max}"),
            ));
        }
        Ok(usize::try_from(n).unwrap_or(usize::MAX))
    }
}

/// An integer of any size, as Python reads one: beyond `i128` it saturates (it is out
/// of every range then).
fn big_integer(text: &str) -> Option<i128> {
    if let Ok(n) = text.parse() {
        return Some(n);
    }
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    (!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())).then_some(if negative {
        i128::MIN
    } else {
        i128::MAX
    })
}

/// A path parameter as text: one that is not UTF-8 once percent-decoded is FastAPI's
/// 422, not axum's plain-text 400.
pub struct PathText(pub String);

impl<S: Send + Sync> FromRequestParts<S> for PathText {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match axum::extract::Path::<String>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(text)) => Ok(PathText(text)),
            Err(rejection) => Err(ApiError::invalid(
                vec!["path".into()],
                "string_unicode",
                "Input should be a valid string, unable to parse raw data as a unicode string",
                Value::String(rejection.body_text()),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(error: ApiError) -> String {
        error.detail[0]["type"].as_str().unwrap().to_owned()
    }

    #[test]
    fn query_strings_are_read_as_starlette_does() {
        let q = QueryParams::parse(
            "limit=5&limit=7&name=a%20b&bad=%ZZ&neg=-3&big=999999999999999999999999999999999999999999&huge=-999999999999999999999999999999999999999999",
        );
        assert_eq!(q.get("limit"), Some("7"), "the last value wins");
        assert_eq!(q.get("name"), Some("a b"));
        assert_eq!(q.get("bad"), Some("%ZZ"), "lenient decoding");
        assert_eq!(q.integer("limit", 1, 1, Some(10)).unwrap(), 7);
        assert_eq!(q.integer("absent", 3, 1, None).unwrap(), 3);
        assert_eq!(
            kind(q.integer("name", 1, 1, None).unwrap_err()),
            "int_parsing"
        );
        assert_eq!(
            kind(q.integer("neg", 1, 1, None).unwrap_err()),
            "greater_than_equal"
        );
        assert_eq!(
            kind(q.integer("limit", 1, 1, Some(5)).unwrap_err()),
            "less_than_equal"
        );
        assert_eq!(q.integer("big", 1, 1, None).unwrap(), usize::MAX);
        assert_eq!(
            kind(q.integer("huge", 1, 1, None).unwrap_err()),
            "greater_than_equal"
        );
        assert_eq!(kind(q.required("absent").unwrap_err()), "missing");
        let error = q.integer("neg", 1, 1, None).unwrap_err();
        assert_eq!(error.detail[0]["loc"], serde_json::json!(["query", "neg"]));
        assert_eq!(error.detail[0]["input"], "-3");
    }
}
