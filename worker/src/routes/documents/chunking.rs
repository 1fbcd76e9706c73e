//! The `chunking` object of `/documents/text(s)`: `{strategy, params}` with LightRAG's
//! strict validation (unknown keys, wrong types and out-of-range values are 422, before
//! anything is stored). Each strategy has its own parameters; `custom` needs a custom
//! chunking function LightRAG lets an application inject, which a server has not, and
//! is refused with LightRAG's "Invalid chunking configuration" 422.

use lightrag_engine::chunking::{
    Breakpoint, ChunkingRequest, MAX_CHUNK_TOKENS, MAX_SEPARATOR_CHARS, MAX_SEPARATORS, Strategy,
};
use serde_json::{Map, Value};

use crate::error::ApiError;

/// Most sentences joined on each side of one by `semantic_vector`: each group is
/// embedded, so the text sent grows with it (LightRAG sets no bound; ours keeps a long
/// document's groups within 41 sentences).
pub const MAX_BUFFER_SIZE: u64 = 20;

fn keys(strategy: Strategy) -> &'static [&'static str] {
    match strategy {
        Strategy::FixedToken => &[
            "chunk_token_size",
            "chunk_overlap_token_size",
            "split_by_character",
            "split_by_character_only",
        ],
        Strategy::RecursiveCharacter => {
            &["chunk_token_size", "chunk_overlap_token_size", "separators"]
        }
        Strategy::SemanticVector => &[
            "chunk_token_size",
            "breakpoint_threshold_type",
            "breakpoint_threshold_amount",
            "buffer_size",
        ],
        Strategy::ParagraphSemantic => &[
            "chunk_token_size",
            "chunk_overlap_token_size",
            "drop_references",
        ],
    }
}

fn error(path: &[&str], kind: &'static str, msg: &str, input: &Value) -> ApiError {
    let mut loc = vec![Value::from("body"), Value::from("chunking")];
    loc.extend(path.iter().map(|p| Value::from(*p)));
    ApiError::invalid(loc, kind, msg, input.clone())
}

/// The validated chunking (`None`: the server's fixed-token chunking).
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
        None => Strategy::FixedToken,
        Some(Value::String(s)) if s == "custom" => {
            return Err(error(
                &["strategy"],
                "value_error",
                "Invalid chunking configuration: strategy 'custom' needs a custom chunking function, and this server has none",
                value,
            ));
        }
        Some(Value::String(s)) => Strategy::from_name(s).ok_or_else(|| {
            error(
                &["strategy"],
                "literal_error",
                "Input should be 'fixed_token', 'recursive_character', 'semantic_vector', 'paragraph_semantic' or 'custom'",
                &object["strategy"],
            )
        })?,
        Some(other) => {
            return Err(error(
                &["strategy"],
                "string_type",
                "Input should be a valid string",
                other,
            ));
        }
    };
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
        .find(|k| !keys(strategy).contains(&k.as_str()))
    {
        return Err(error(
            &["params", key],
            "extra_forbidden",
            "Extra inputs are not permitted",
            &params[key],
        ));
    }
    let p = Params(params);
    let mut request = ChunkingRequest::new(strategy);
    // Bounded as CHUNK_SIZE is: sizes near u64::MAX overflowed the chunker.
    request.chunk_token_size = p.int("chunk_token_size", 1, MAX_CHUNK_TOKENS as u64)?;
    request.chunk_overlap_token_size =
        p.int("chunk_overlap_token_size", 0, MAX_CHUNK_TOKENS as u64)?;
    if let (Some(size), Some(overlap)) =
        (request.chunk_token_size, request.chunk_overlap_token_size)
        && overlap >= size
    {
        return Err(error(
            &["params"],
            "value_error",
            "Value error, chunk_overlap_token_size must be < chunk_token_size",
            &Value::Object(params.clone()),
        ));
    }
    match strategy {
        Strategy::FixedToken => {
            request.split_by_character = p.split_character()?;
            request.split_by_character_only = p.bool("split_by_character_only")?.unwrap_or(false);
        }
        Strategy::RecursiveCharacter => request.separators = p.separators()?,
        Strategy::ParagraphSemantic => request.drop_references = p.bool("drop_references")?,
        Strategy::SemanticVector => {
            request.breakpoint_threshold_type = p.breakpoint_type()?;
            request.breakpoint_threshold_amount =
                p.amount(request.breakpoint_threshold_type.unwrap_or_default())?;
            request.buffer_size = p.int("buffer_size", 1, MAX_BUFFER_SIZE)?;
        }
    }
    Ok(Some(request))
}

/// A strategy's `params`, read field by field; `null` is "not given".
struct Params<'a>(&'a Map<String, Value>);

impl Params<'_> {
    fn get(&self, key: &str) -> Option<&Value> {
        self.0.get(key).filter(|v| !v.is_null())
    }

    fn int(&self, key: &str, min: u64, max: u64) -> Result<Option<usize>, ApiError> {
        let Some(v) = self.get(key) else {
            return Ok(None);
        };
        match v.as_u64() {
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
        }
    }

    fn bool(&self, key: &str) -> Result<Option<bool>, ApiError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(other) => Err(error(
                &["params", key],
                "bool_type",
                "Input should be a valid boolean",
                other,
            )),
        }
    }

    fn split_character(&self) -> Result<Option<String>, ApiError> {
        match self.get("split_by_character") {
            None => Ok(None),
            Some(Value::String(s)) if !s.is_empty() => Ok(Some(s.clone())),
            Some(other) => Err(error(
                &["params", "split_by_character"],
                "string_type",
                "Input should be a non-empty string",
                other,
            )),
        }
    }

    /// At most [`MAX_SEPARATORS`] strings of at most [`MAX_SEPARATOR_CHARS`]
    /// characters (LightRAG's bounds on the cascade).
    fn separators(&self) -> Result<Option<Vec<String>>, ApiError> {
        let Some(v) = self.get("separators") else {
            return Ok(None);
        };
        let Some(items) = v.as_array() else {
            return Err(error(
                &["params", "separators"],
                "list_type",
                "Input should be a valid list",
                v,
            ));
        };
        if items.len() > MAX_SEPARATORS {
            return Err(error(
                &["params", "separators"],
                "too_long",
                &format!(
                    "List should have at most {MAX_SEPARATORS} items after validation, not {}",
                    items.len()
                ),
                v,
            ));
        }
        let mut out = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let index = i.to_string();
            let path = ["params", "separators", index.as_str()];
            match item.as_str() {
                Some(s) if s.chars().count() <= MAX_SEPARATOR_CHARS => out.push(s.to_owned()),
                Some(_) => {
                    return Err(error(
                        &path,
                        "string_too_long",
                        &format!("String should have at most {MAX_SEPARATOR_CHARS} characters"),
                        item,
                    ));
                }
                None => {
                    return Err(error(
                        &path,
                        "string_type",
                        "Input should be a valid string",
                        item,
                    ));
                }
            }
        }
        Ok(Some(out))
    }

    fn breakpoint_type(&self) -> Result<Option<Breakpoint>, ApiError> {
        let Some(v) = self.get("breakpoint_threshold_type") else {
            return Ok(None);
        };
        v.as_str()
            .and_then(Breakpoint::from_name)
            .map(Some)
            .ok_or_else(|| {
                error(
                    &["params", "breakpoint_threshold_type"],
                    "literal_error",
                    "Input should be 'percentile', 'standard_deviation', 'interquartile' or 'gradient'",
                    v,
                )
            })
    }

    /// A finite number above 0, and at most 100 for the percentile-based types.
    fn amount(&self, threshold: Breakpoint) -> Result<Option<f64>, ApiError> {
        let Some(v) = self.get("breakpoint_threshold_amount") else {
            return Ok(None);
        };
        let path = ["params", "breakpoint_threshold_amount"];
        let Some(amount) = v.as_f64().filter(|a| a.is_finite()) else {
            return Err(error(
                &path,
                "float_type",
                "Input should be a valid number",
                v,
            ));
        };
        if amount <= 0.0 {
            return Err(error(
                &["params"],
                "value_error",
                "Value error, breakpoint_threshold_amount must be > 0",
                v,
            ));
        }
        if threshold.is_percentile() && amount > 100.0 {
            return Err(error(
                &["params"],
                "value_error",
                "Value error, breakpoint_threshold_amount must be within (0, 100] for percentile/gradient",
                v,
            ));
        }
        Ok(Some(amount))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lightrag_engine::chunking::{self, ChunkError, ChunkingOptions, Plan, Tokenizer};
    use proptest::prelude::{
        Just, ProptestConfig, any, prop, prop_assert, prop_assert_eq, prop_oneof, proptest,
    };
    use proptest::strategy::Strategy as Generator;
    use serde_json::json;

    fn check(chunking: Value) -> Result<Option<ChunkingRequest>, String> {
        let body = json!({"chunking": chunking});
        parse(body.as_object().unwrap())
            .map_err(|e| e.detail[0]["type"].as_str().unwrap().to_owned())
    }

    fn message(chunking: Value) -> (Value, String) {
        let body = json!({"chunking": chunking});
        let e = parse(body.as_object().unwrap()).unwrap_err();
        (
            e.detail[0]["loc"].clone(),
            e.detail[0]["msg"].as_str().unwrap().to_owned(),
        )
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
            message(json!({"params": {"chunk_token_size": 10, "chunk_overlap_token_size": 10}})),
            (
                json!(["body", "chunking", "params"]),
                "Value error, chunk_overlap_token_size must be < chunk_token_size".to_owned()
            )
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

    #[test]
    fn each_strategy_takes_only_its_own_parameters() {
        let r = check(json!({"strategy": "recursive_character", "params": {"chunk_token_size": 300, "separators": ["\n\n", ""]}})).unwrap().unwrap();
        assert_eq!(r.strategy, Strategy::RecursiveCharacter);
        assert_eq!(
            r.separators.as_deref(),
            Some(&["\n\n".to_owned(), String::new()][..])
        );
        let p = check(json!({"strategy": "paragraph_semantic", "params": {"drop_references": true, "chunk_overlap_token_size": null}})).unwrap().unwrap();
        assert_eq!(
            (p.drop_references, p.chunk_overlap_token_size),
            (Some(true), None)
        );
        let v = check(json!({"strategy": "semantic_vector", "params": {"breakpoint_threshold_type": "interquartile", "breakpoint_threshold_amount": 250, "buffer_size": 2}})).unwrap().unwrap();
        assert_eq!(
            (
                v.breakpoint_threshold_type,
                v.breakpoint_threshold_amount,
                v.buffer_size
            ),
            (Some(Breakpoint::Interquartile), Some(250.0), Some(2))
        );
        for (strategy, key) in [
            ("fixed_token", "separators"),
            ("recursive_character", "drop_references"),
            ("recursive_character", "split_by_character"),
            ("semantic_vector", "chunk_overlap_token_size"),
            ("semantic_vector", "sentence_split_regex"),
            ("paragraph_semantic", "buffer_size"),
        ] {
            assert_eq!(
                check(json!({"strategy": strategy, "params": {key: 1}})),
                Err("extra_forbidden".into()),
                "{strategy} {key}"
            );
        }
        for (params, kind) in [
            (json!({"separators": "\n"}), "list_type"),
            (json!({"separators": [1]}), "string_type"),
            (json!({"separators": vec![" "; 65]}), "too_long"),
            (json!({"separators": ["x".repeat(257)]}), "string_too_long"),
        ] {
            assert_eq!(
                check(json!({"strategy": "recursive_character", "params": params})),
                Err(kind.into())
            );
        }
        assert!(
            check(
                json!({"strategy": "recursive_character", "params": {"separators": vec![" "; 64]}})
            )
            .is_ok()
        );
        assert_eq!(
            check(json!({"strategy": "paragraph_semantic", "params": {"drop_references": "yes"}})),
            Err("bool_type".into())
        );
    }

    #[test]
    fn semantic_vector_thresholds_are_checked_as_lightrag_does() {
        let v = |params: Value| check(json!({"strategy": "semantic_vector", "params": params}));
        assert_eq!(
            v(json!({"breakpoint_threshold_type": "median"})),
            Err("literal_error".into())
        );
        assert_eq!(
            v(json!({"breakpoint_threshold_amount": "95"})),
            Err("float_type".into())
        );
        assert_eq!(
            v(json!({"buffer_size": 0})),
            Err("greater_than_equal".into())
        );
        assert_eq!(v(json!({"buffer_size": 21})), Err("less_than_equal".into()));
        assert_eq!(
            message(
                json!({"strategy": "semantic_vector", "params": {"breakpoint_threshold_amount": 0}})
            )
            .1,
            "Value error, breakpoint_threshold_amount must be > 0"
        );
        for threshold in ["percentile", "gradient"] {
            assert_eq!(
                message(json!({"strategy": "semantic_vector", "params": {"breakpoint_threshold_type": threshold, "breakpoint_threshold_amount": 100.5}})).1,
                "Value error, breakpoint_threshold_amount must be within (0, 100] for percentile/gradient"
            );
        }
        // Without a type the default (percentile) applies.
        assert_eq!(
            v(json!({"breakpoint_threshold_amount": 101})),
            Err("value_error".into())
        );
        assert!(v(json!({"breakpoint_threshold_type": "standard_deviation", "breakpoint_threshold_amount": 101})).is_ok());
    }

    /// Any JSON number, near the edges of every integer type included.
    fn number() -> impl Generator<Value = Value> {
        prop_oneof![
            any::<u64>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            (0u64..16).prop_map(|d| Value::from(u64::MAX - d)),
            (0u64..2_000_000).prop_map(Value::from),
            any::<f64>().prop_map(|f| json!(f)),
        ]
    }

    fn param() -> impl Generator<Value = Value> {
        prop_oneof![
            number(),
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            ".{0,4}".prop_map(Value::from),
            Just(json!([1, 2])),
            Just(json!(["\n", ""])),
            Just(json!({"a": 1})),
            prop::sample::select(Breakpoint::NAMES.to_vec()).prop_map(Value::from),
        ]
    }

    /// Embeddings that depend on the text, so breakpoints vary.
    fn embed(texts: &[String]) -> Result<Vec<Vec<f32>>, ChunkError> {
        Ok(texts
            .iter()
            .map(|t| vec![t.len() as f32, (t.len() % 7) as f32 + 1.0])
            .collect())
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..Default::default() })]

        /// Whatever the parameters, the answer is a 422 or a plan the chunkers run
        /// without overflowing.
        #[test]
        fn any_parameters_are_refused_or_chunk(
            values in prop::collection::vec(param(), 11),
            strategy in prop_oneof![
                Just(Value::Null),
                prop::sample::select(Strategy::ALL.map(|s| s.name()).to_vec()).prop_map(Value::from),
                ".{0,6}".prop_map(Value::from),
            ],
        ) {
            let keys = [
                "chunk_token_size", "chunk_overlap_token_size", "split_by_character",
                "split_by_character_only", "separators", "drop_references",
                "breakpoint_threshold_type", "breakpoint_threshold_amount", "buffer_size",
                "chunk_token_size", "buffer_size",
            ];
            let chosen = strategy.as_str().and_then(Strategy::from_name).unwrap_or_default();
            let mut params = Map::new();
            for (key, value) in keys.iter().zip(values) {
                if super::keys(chosen).contains(key) {
                    params.insert((*key).to_owned(), value);
                }
            }
            let mut chunking = json!({"params": params});
            if !strategy.is_null() {
                chunking["strategy"] = strategy;
            }
            let body = json!({"chunking": chunking});
            match parse(body.as_object().unwrap()) {
                Err(e) => prop_assert_eq!(e.status.as_u16(), 422),
                Ok(request) => {
                    let plan = request.unwrap_or_default().over(&ChunkingOptions::default());
                    if let Plan::FixedToken(o) = &plan {
                        prop_assert!(o.chunk_token_size <= MAX_CHUNK_TOKENS);
                    }
                    let text = "# Maize\nMaize genetics. Jumping genes!\n\n## Transposons\nMcClintock found them.";
                    let _ = chunking::split(&Tokenizer::o200k(), text, &plan, true, embed);
                }
            }
        }
    }
}
