//! Reading fields of a JSON request body the way LightRAG's pydantic models do, with
//! their 422 answers (`{"type", "loc": ["body", field], "msg", "input"}`), so every
//! route validates alike: a missing required field echoes the body, a wrong type names
//! pydantic's error type, and `null` counts as absent for optional fields.

use serde_json::{Map, Value};

use crate::error::{ApiError, FieldError};

/// The fields of one JSON object body.
#[derive(Clone, Copy)]
pub struct Body<'a>(pub &'a Map<String, Value>);

impl<'a> Body<'a> {
    /// A 422 for `field`.
    pub fn invalid(&self, field: &str, kind: &'static str, msg: &str, input: &Value) -> ApiError {
        ApiError::invalid(vec!["body".into(), field.into()], kind, msg, input.clone())
    }

    /// The 422 for a required field that is absent.
    pub fn missing(&self, field: &str) -> ApiError {
        ApiError::validation(vec![FieldError::missing_in(self.0, field)])
    }

    /// A field that must be present (`null` included).
    pub fn required(&self, field: &str) -> Result<&'a Value, ApiError> {
        self.0.get(field).ok_or_else(|| self.missing(field))
    }

    /// An optional field; `null` is absent.
    pub fn optional(&self, field: &str) -> Option<&'a Value> {
        self.0.get(field).filter(|v| !v.is_null())
    }

    /// A boolean, `default` when absent.
    pub fn flag(&self, field: &str, default: bool) -> Result<bool, ApiError> {
        match self.optional(field) {
            None => Ok(default),
            Some(Value::Bool(b)) => Ok(*b),
            Some(other) => {
                Err(self.invalid(field, "bool_type", "Input should be a valid boolean", other))
            }
        }
    }

    /// A non-negative integer within `min..=max`, `default` when absent.
    pub fn integer(
        &self,
        field: &str,
        default: usize,
        min: usize,
        max: usize,
    ) -> Result<usize, ApiError> {
        let Some(value) = self.optional(field) else {
            return Ok(default);
        };
        let below = || {
            self.invalid(
                field,
                "greater_than_equal",
                &format!("Input should be greater than or equal to {min}"),
                value,
            )
        };
        // Pydantic's lax integers: a float without a fraction is one (`5.0`).
        let n = match (value.as_u64(), value.as_f64()) {
            (Some(n), _) => usize::try_from(n).unwrap_or(usize::MAX),
            (None, Some(f)) if f.fract() == 0.0 && f >= 0.0 => f as usize,
            (None, Some(f)) if f.fract() == 0.0 => return Err(below()),
            _ => {
                return Err(self.invalid(
                    field,
                    "int_type",
                    "Input should be a valid integer",
                    value,
                ));
            }
        };
        if n < min {
            return Err(below());
        }
        if n > max {
            return Err(self.invalid(
                field,
                "less_than_equal",
                &format!("Input should be less than or equal to {max}"),
                value,
            ));
        }
        Ok(n)
    }

    /// A required list.
    pub fn list(&self, field: &str) -> Result<&'a [Value], ApiError> {
        let value = self.required(field)?;
        value
            .as_array()
            .map(Vec::as_slice)
            .ok_or_else(|| self.invalid(field, "list_type", "Input should be a valid list", value))
    }

    /// A required dictionary.
    pub fn object(&self, field: &str) -> Result<&'a Map<String, Value>, ApiError> {
        let value = self.required(field)?;
        value.as_object().ok_or_else(|| {
            self.invalid(
                field,
                "dict_type",
                "Input should be a valid dictionary",
                value,
            )
        })
    }

    /// A required string, trimmed; `empty` is the message for a blank one.
    pub fn text(&self, field: &str, empty: &str) -> Result<String, ApiError> {
        let value = self.required(field)?;
        let text = value
            .as_str()
            .ok_or_else(|| {
                self.invalid(
                    field,
                    "string_type",
                    "Input should be a valid string",
                    value,
                )
            })?
            .trim();
        if text.is_empty() {
            return Err(self.invalid(field, "value_error", empty, value));
        }
        Ok(text.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn kind(error: ApiError) -> String {
        error.detail[0]["type"].as_str().unwrap().to_owned()
    }

    #[test]
    fn fields_are_read_as_pydantic_does() {
        let body = json!({"page": 3, "big": 500, "neg": -1, "float": 5.0, "half": 5.5, "huge": 1e300, "on": true, "off": null, "name": "  x ", "blank": " ", "list": [1], "map": {}});
        let body = Body(body.as_object().unwrap());
        assert_eq!(body.integer("page", 1, 1, 10).unwrap(), 3);
        assert_eq!(body.integer("absent", 7, 1, 10).unwrap(), 7);
        assert_eq!(
            kind(body.integer("big", 1, 1, 200).unwrap_err()),
            "less_than_equal"
        );
        assert_eq!(
            kind(body.integer("neg", 1, 1, 200).unwrap_err()),
            "greater_than_equal"
        );
        assert_eq!(body.integer("float", 1, 1, 10).unwrap(), 5);
        assert_eq!(
            kind(body.integer("half", 1, 1, 10).unwrap_err()),
            "int_type"
        );
        assert_eq!(
            kind(body.integer("huge", 1, 1, 10).unwrap_err()),
            "less_than_equal"
        );
        assert_eq!(
            kind(body.integer("page", 1, 5, 200).unwrap_err()),
            "greater_than_equal"
        );
        assert!(body.flag("on", false).unwrap());
        assert!(body.flag("off", true).unwrap(), "null is absent");
        assert_eq!(kind(body.flag("page", false).unwrap_err()), "bool_type");
        assert_eq!(body.text("name", "empty").unwrap(), "x");
        assert_eq!(
            kind(body.text("blank", "empty").unwrap_err()),
            "value_error"
        );
        assert_eq!(kind(body.text("absent", "empty").unwrap_err()), "missing");
        assert_eq!(body.list("list").unwrap().len(), 1);
        assert_eq!(kind(body.list("map").unwrap_err()), "list_type");
        assert_eq!(kind(body.object("list").unwrap_err()), "dict_type");
        assert!(body.object("map").unwrap().is_empty());
    }
}
