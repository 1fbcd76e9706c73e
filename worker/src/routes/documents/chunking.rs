//! The `chunking` object of `/documents/text(s)`: `{strategy, params}` with LightRAG's
//! strict validation (unknown keys and wrong types are 422). The fixed-token strategy
//! is served; the others need parts this server does not have and are refused with
//! LightRAG's "Invalid chunking configuration" 422.

use lightrag_engine::chunking::MAX_CHUNK_TOKENS;
use lightrag_engine::storage::ChunkingRequest;
use serde_json::{Map, Value};

use crate::error::ApiError;

const FIXED_TOKEN_KEYS: &[&str] = &[
    "chunk_token_size",
    "chunk_overlap_token_size",
    "split_by_character",
    "split_by_character_only",
];
/// Strategies LightRAG knows but this server cannot run.
const UNAVAILABLE: &[&str] = &[
    "recursive_character",
    "semantic_vector",
    "paragraph_semantic",
    "custom",
];

fn error(path: &[&str], kind: &'static str, msg: &str, input: &Value) -> ApiError {
    let mut loc = vec![Value::from("body"), Value::from("chunking")];
    loc.extend(path.iter().map(|p| Value::from(*p)));
    ApiError::invalid(loc, kind, msg, input.clone())
}

/// The validated chunking parameters (`None`: the server's chunking).
pub fn parse(body: &Map<String, Value>) -> Result<Option<ChunkingRequest>, ApiError> {
    let Some(value) = body.get("chunking").filter(|v| !v.is_null()) else {
        return Ok(None);
    };
    let Some(object) = value.as_object() else {
        return Err(error(
            &[],
            "model_type",
            "Input should be a valid dictionary",
            value,
        ));
    };
    if let Some(key) = object
        .keys()
        .find(|k| !["strategy", "params"].contains(&k.as_str()))
    {
        return Err(error(
            &[key],
            "extra_forbidden",
            "Extra inputs are not permitted",
            &object[key],
        ));
    }
    let strategy = match object.get("strategy") {
        None => "fixed_token",
        Some(Value::String(s)) => s.as_str(),
        Some(other) => {
            return Err(error(
                &["strategy"],
                "string_type",
                "Input should be a valid string",
                other,
            ));
        }
    };
    if UNAVAILABLE.contains(&strategy) {
        return Err(error(
            &["strategy"],
            "value_error",
            &format!(
                "Invalid chunking configuration: strategy '{strategy}' is not available on this server"
            ),
            value,
        ));
    }
    if strategy != "fixed_token" {
        return Err(error(
            &["strategy"],
            "literal_error",
            "Input should be 'fixed_token', 'recursive_character', 'semantic_vector', 'paragraph_semantic' or 'custom'",
            value,
        ));
    }
    let empty = Map::new();
    let params = match object.get("params") {
        None | Some(Value::Null) => &empty,
        Some(Value::Object(p)) => p,
        Some(other) => {
            return Err(error(
                &["params"],
                "model_type",
                "Input should be a valid dictionary",
                other,
            ));
        }
    };
    if let Some(key) = params
        .keys()
        .find(|k| !FIXED_TOKEN_KEYS.contains(&k.as_str()))
    {
        return Err(error(
            &["params", key],
            "extra_forbidden",
            "Extra inputs are not permitted",
            &params[key],
        ));
    }
    // Bounded as CHUNK_SIZE is: sizes near u64::MAX overflowed the chunker.
    let int = |key: &str, min: u64| -> Result<Option<usize>, ApiError> {
        let max = MAX_CHUNK_TOKENS as u64;
        match params.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => match v.as_u64() {
                Some(n) if (min..=max).contains(&n) => Ok(Some(n as usize)),
                Some(n) if n > max => Err(error(
                    &["params", key],
                    "less_than_equal",
                    &format!("Input should be less than or equal to {max}"),
                    v,
                )),
                _ if v.is_i64() || v.is_u64() => Err(error(
                    &["params", key],
                    "greater_than_equal",
                    &format!("Input should be greater than or equal to {min}"),
                    v,
                )),
                _ => Err(error(
                    &["params", key],
                    "int_type",
                    "Input should be a valid integer",
                    v,
                )),
            },
        }
    };
    let size = int("chunk_token_size", 1)?;
    let overlap = int("chunk_overlap_token_size", 0)?;
    if let (Some(size), Some(overlap)) = (size, overlap)
        && overlap >= size
    {
        return Err(error(
            &["params"],
            "value_error",
            "Invalid chunking configuration: chunk_overlap_token_size must be smaller than chunk_token_size",
            value,
        ));
    }
    let split = match params.get("split_by_character") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        Some(other) => {
            return Err(error(
                &["params", "split_by_character"],
                "string_type",
                "Input should be a non-empty string",
                other,
            ));
        }
    };
    let only = match params.get("split_by_character_only") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(other) => {
            return Err(error(
                &["params", "split_by_character_only"],
                "bool_type",
                "Input should be a valid boolean",
                other,
            ));
        }
    };
    Ok(Some(ChunkingRequest {
        chunk_token_size: size,
        chunk_overlap_token_size: overlap,
        split_by_character: split,
        split_by_character_only: only,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn check(chunking: Value) -> Result<Option<ChunkingRequest>, String> {
        let body = json!({"chunking": chunking});
        parse(body.as_object().unwrap())
            .map_err(|e| e.detail[0]["type"].as_str().unwrap().to_owned())
    }

    #[test]
    fn fixed_token_parameters_are_strict() {
        assert_eq!(check(Value::Null), Ok(None));
        let ok = check(json!({"params": {"chunk_token_size": 200, "chunk_overlap_token_size": 20, "split_by_character": "\n\n"}})).unwrap().unwrap();
        assert_eq!(ok.chunk_token_size, Some(200));
        assert!(!ok.split_by_character_only);
        assert_eq!(
            check(json!({"strategy": "fixed_token", "params": {"size": 1}})),
            Err("extra_forbidden".into())
        );
        assert_eq!(
            check(json!({"params": {"chunk_token_size": "200"}})),
            Err("int_type".into())
        );
        assert_eq!(
            check(json!({"params": {"chunk_token_size": 0}})),
            Err("greater_than_equal".into())
        );
        assert_eq!(
            check(json!({"params": {"chunk_token_size": -1}})),
            Err("greater_than_equal".into())
        );
        for huge in [json!(u64::MAX), json!(MAX_CHUNK_TOKENS + 1)] {
            assert_eq!(
                check(json!({"params": {"chunk_token_size": huge}})),
                Err("less_than_equal".into())
            );
            assert_eq!(
                check(json!({"params": {"chunk_overlap_token_size": huge}})),
                Err("less_than_equal".into())
            );
        }
        assert_eq!(
            check(json!({"params": {"chunk_token_size": 1e30}})),
            Err("int_type".into())
        );
        assert_eq!(
            check(json!({"params": {"chunk_token_size": 10, "chunk_overlap_token_size": 10}})),
            Err("value_error".into())
        );
        assert_eq!(
            check(json!({"strategy": "custom"})),
            Err("value_error".into())
        );
        assert_eq!(
            check(json!({"strategy": "magic"})),
            Err("literal_error".into())
        );
        assert_eq!(
            check(json!({"strategy": "fixed_token", "extra": 1})),
            Err("extra_forbidden".into())
        );
    }

    /// Any JSON number, near the edges of every integer type included.
    fn number() -> impl Strategy<Value = Value> {
        prop_oneof![
            any::<u64>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            (0u64..16).prop_map(|d| Value::from(u64::MAX - d)),
            (0u64..2_000_000).prop_map(Value::from),
            any::<f64>().prop_map(|f| json!(f)),
        ]
    }

    fn param() -> impl Strategy<Value = Value> {
        prop_oneof![
            number(),
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            ".{0,4}".prop_map(Value::from),
            Just(json!([1, 2])),
            Just(json!({"a": 1})),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..Default::default() })]

        /// Whatever the parameters, the answer is a 422 or options the chunker runs
        /// without overflowing.
        #[test]
        fn any_parameters_are_refused_or_chunk(
            size in param(),
            overlap in param(),
            split in param(),
            only in param(),
            strategy in prop_oneof![
                Just(Value::Null),
                Just(Value::from("fixed_token")),
                ".{0,6}".prop_map(Value::from),
            ],
        ) {
                let mut params = Map::new();
            for (key, value) in [
                ("chunk_token_size", size),
                ("chunk_overlap_token_size", overlap),
                ("split_by_character", split),
                ("split_by_character_only", only),
            ] {
                params.insert(key.to_owned(), value);
            }
            let mut chunking = json!({"params": params});
            if !strategy.is_null() {
                chunking["strategy"] = strategy;
            }
            let body = json!({"chunking": chunking});
            match parse(body.as_object().unwrap()) {
                Err(e) => prop_assert_eq!(e.status.as_u16(), 422),
                Ok(request) => {
                    let options = request
                        .unwrap_or_default()
                        .over(&lightrag_engine::chunking::ChunkingOptions::default());
                    prop_assert!(options.chunk_token_size <= MAX_CHUNK_TOKENS);
                    let tokenizer = lightrag_engine::chunking::Tokenizer::o200k();
                    let _ = lightrag_engine::chunking::chunk(&tokenizer, "Maize genetics. Jumping genes.", &options);
                }
            }
        }
    }
}
