//! LightRAG's `QueryRequest`, validated field by field the way pydantic reports it
//! (type, location, message, input), with the limits of the reference: lengths, list
//! sizes, ranges, the query "weight" and the aggregate size.

use lightrag_engine::llm::{Message, Role};
use lightrag_engine::query::{Mode, query_weight};
use serde_json::{Map, Value};

use crate::error::FieldError;

const MAX_QUERY_CHARS: usize = 65_536;
const MAX_MESSAGE_CHARS: usize = 32_768;
const MAX_TOTAL_CHARS: usize = 131_072;
const MAX_MESSAGES: usize = 128;
const MAX_ROLE_CHARS: usize = 64;
const MAX_KEYWORDS: usize = 64;
const MAX_KEYWORD_CHARS: usize = 512;
const MAX_RESPONSE_TYPE_CHARS: usize = 256;
const MAX_TOP_K: u64 = 1000;
const MAX_TOKENS: u64 = 1_000_000;
/// A RAG query must weigh at least this much (CJK characters weigh 2).
const MIN_QUERY_WEIGHT: usize = 3;

/// A validated request; `None` where the client left the server default.
#[derive(Debug, Clone)]
pub struct QueryRequest {
    pub query: String,
    pub mode: Mode,
    pub only_need_context: bool,
    pub only_need_prompt: bool,
    pub response_type: Option<String>,
    pub top_k: Option<usize>,
    pub chunk_top_k: Option<usize>,
    pub max_entity_tokens: Option<usize>,
    pub max_relation_tokens: Option<usize>,
    pub max_total_tokens: Option<usize>,
    pub hl_keywords: Vec<String>,
    pub ll_keywords: Vec<String>,
    pub conversation_history: Vec<Message>,
    pub user_prompt: Option<String>,
    pub disable_user_prompt_prefix: bool,
    pub include_references: bool,
    pub include_chunk_content: bool,
    pub include_progress: bool,
    pub stream: Option<bool>,
    /// `None`: RERANK_BY_DEFAULT decides.
    pub enable_rerank: Option<bool>,
}

impl QueryRequest {
    /// A request built by another front end (the Ollama chat emulation): the given
    /// query, mode and history, server defaults for everything else.
    pub fn from_chat(
        query: String,
        mode: Mode,
        only_need_context: bool,
        conversation_history: Vec<Message>,
        user_prompt: Option<String>,
    ) -> QueryRequest {
        QueryRequest {
            query,
            mode,
            only_need_context,
            only_need_prompt: false,
            response_type: None,
            top_k: None,
            chunk_top_k: None,
            max_entity_tokens: None,
            max_relation_tokens: None,
            max_total_tokens: None,
            hl_keywords: Vec::new(),
            ll_keywords: Vec::new(),
            conversation_history,
            user_prompt,
            disable_user_prompt_prefix: false,
            include_references: false,
            include_chunk_content: false,
            include_progress: false,
            stream: None,
            enable_rerank: None,
        }
    }
}

struct Fields<'a> {
    body: &'a Map<String, Value>,
    errors: Vec<FieldError>,
}

fn error(loc: &[&str], kind: &'static str, msg: impl Into<String>, input: &Value) -> FieldError {
    let mut full = vec![Value::from("body")];
    full.extend(loc.iter().map(|l| match l.parse::<u64>() {
        Ok(index) => Value::from(index),
        Err(_) => Value::from(*l),
    }));
    FieldError::new(full, kind, msg, input.clone())
}

/// Pydantic's lax booleans.
fn as_bool(value: &Value) -> Option<bool> {
    match value {
        Value::Bool(b) => Some(*b),
        Value::Number(n) => match n.as_f64() {
            Some(0.0) => Some(false),
            Some(1.0) => Some(true),
            _ => None,
        },
        Value::String(s) => match s.to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" | "t" | "y" => Some(true),
            "false" | "0" | "no" | "off" | "f" | "n" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

impl<'a> Fields<'a> {
    fn present(&self, name: &str) -> Option<&'a Value> {
        self.body.get(name).filter(|v| !v.is_null())
    }

    fn boolean(&mut self, name: &str, default: bool) -> bool {
        match self.present(name) {
            None => default,
            Some(v) => as_bool(v).unwrap_or_else(|| {
                self.errors.push(error(
                    &[name],
                    "bool_type",
                    "Input should be a valid boolean",
                    v,
                ));
                default
            }),
        }
    }

    fn string(&mut self, name: &str, min: usize, max: usize) -> Option<String> {
        let value = self.present(name)?;
        let Some(s) = value.as_str() else {
            self.errors.push(error(
                &[name],
                "string_type",
                "Input should be a valid string",
                value,
            ));
            return None;
        };
        let chars = s.chars().count();
        if chars < min {
            self.errors.push(error(
                &[name],
                "string_too_short",
                format!(
                    "String should have at least {min} character{}",
                    if min == 1 { "" } else { "s" }
                ),
                value,
            ));
        } else if chars > max {
            self.errors.push(error(
                &[name],
                "string_too_long",
                format!("String should have at most {max} characters"),
                value,
            ));
        }
        Some(s.to_owned())
    }

    fn integer(&mut self, name: &str, max: u64) -> Option<usize> {
        let value = self.present(name)?;
        let Some(n) = value.as_i64().or_else(|| {
            value
                .as_f64()
                .filter(|f| f.fract() == 0.0 && f.abs() < 1e15)
                .map(|f| f as i64)
        }) else {
            self.errors.push(error(
                &[name],
                "int_type",
                "Input should be a valid integer",
                value,
            ));
            return None;
        };
        if n < 1 {
            self.errors.push(error(
                &[name],
                "greater_than_equal",
                "Input should be greater than or equal to 1",
                value,
            ));
            return None;
        }
        if n as u64 > max {
            self.errors.push(error(
                &[name],
                "less_than_equal",
                format!("Input should be less than or equal to {max}"),
                value,
            ));
            return None;
        }
        Some(n as usize)
    }

    /// The items of an optional list field of at most `max` items; `None` when absent
    /// or refused (the error recorded).
    fn list(&mut self, name: &str, max: usize) -> Option<&'a Vec<Value>> {
        let value = self.present(name)?;
        let Some(items) = value.as_array() else {
            self.errors.push(error(
                &[name],
                "list_type",
                "Input should be a valid list",
                value,
            ));
            return None;
        };
        if items.len() > max {
            self.errors.push(error(
                &[name],
                "too_long",
                format!(
                    "List should have at most {max} items after validation, not {}",
                    items.len()
                ),
                value,
            ));
            return None;
        }
        Some(items)
    }

    fn keywords(&mut self, name: &str) -> Vec<String> {
        let Some(items) = self.list(name, MAX_KEYWORDS) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let index = i.to_string();
            match item.as_str() {
                None => self.errors.push(error(
                    &[name, &index],
                    "string_type",
                    "Input should be a valid string",
                    item,
                )),
                Some(s) if s.chars().count() > MAX_KEYWORD_CHARS => self.errors.push(error(
                    &[name, &index],
                    "string_too_long",
                    format!("String should have at most {MAX_KEYWORD_CHARS} characters"),
                    item,
                )),
                Some(s) => out.push(s.to_owned()),
            }
        }
        out
    }

    fn history(&mut self) -> Vec<Message> {
        let name = "conversation_history";
        let Some(items) = self.list(name, MAX_MESSAGES) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let index = i.to_string();
            let Some(message) = item.as_object() else {
                self.errors.push(error(
                    &[name, &index],
                    "dict_type",
                    "Input should be a valid dictionary",
                    item,
                ));
                continue;
            };
            let role = message.get("role").and_then(Value::as_str);
            let content = message.get("content").and_then(Value::as_str);
            match role {
                Some(r) if !r.trim().is_empty() && r.chars().count() <= MAX_ROLE_CHARS => {}
                _ => {
                    self.errors.push(error(
                        &[name, &index, "role"],
                        "value_error",
                        format!("Value error, role must be a non-empty string of at most {MAX_ROLE_CHARS} characters"),
                        item,
                    ));
                    continue;
                }
            }
            match content {
                Some(c) if c.chars().count() <= MAX_MESSAGE_CHARS => {}
                _ => {
                    self.errors.push(error(
                        &[name, &index, "content"],
                        "value_error",
                        format!("Value error, content must be a string of at most {MAX_MESSAGE_CHARS} characters"),
                        item,
                    ));
                    continue;
                }
            }
            let role = match role.unwrap_or_default() {
                "system" => Role::System,
                "assistant" => Role::Assistant,
                _ => Role::User,
            };
            out.push(Message::new(role, content.unwrap_or_default()));
        }
        out
    }
}

/// Validates a request body; every problem found is reported at once.
pub fn parse(body: &Map<String, Value>) -> Result<QueryRequest, Vec<FieldError>> {
    let mut f = Fields {
        body,
        errors: Vec::new(),
    };
    let query = match body.get("query") {
        None => {
            f.errors.push(FieldError::missing_in(body, "query"));
            String::new()
        }
        Some(_) => f.string("query", 0, MAX_QUERY_CHARS).unwrap_or_default(),
    };
    let mode = match f.present("mode") {
        None => Mode::Mix,
        Some(v) => v.as_str().and_then(Mode::parse).unwrap_or_else(|| {
            f.errors.push(error(
                &["mode"],
                "literal_error",
                "Input should be 'local', 'global', 'hybrid', 'naive', 'mix' or 'bypass'",
                v,
            ));
            Mode::Mix
        }),
    };
    let request = QueryRequest {
        mode,
        only_need_context: f.boolean("only_need_context", false),
        only_need_prompt: f.boolean("only_need_prompt", false),
        response_type: f.string("response_type", 1, MAX_RESPONSE_TYPE_CHARS),
        top_k: f.integer("top_k", MAX_TOP_K),
        chunk_top_k: f.integer("chunk_top_k", MAX_TOP_K),
        max_entity_tokens: f.integer("max_entity_tokens", MAX_TOKENS),
        max_relation_tokens: f.integer("max_relation_tokens", MAX_TOKENS),
        max_total_tokens: f.integer("max_total_tokens", MAX_TOKENS),
        hl_keywords: f.keywords("hl_keywords"),
        ll_keywords: f.keywords("ll_keywords"),
        conversation_history: f.history(),
        user_prompt: f.string("user_prompt", 0, MAX_QUERY_CHARS),
        disable_user_prompt_prefix: f.boolean("disable_user_prompt_prefix", false),
        include_references: f.boolean("include_references", true),
        include_chunk_content: f.boolean("include_chunk_content", false),
        include_progress: f.boolean("include_progress", false),
        stream: f.present("stream").map(|_| f.boolean("stream", false)),
        enable_rerank: f
            .present("enable_rerank")
            .map(|_| f.boolean("enable_rerank", true)),
        query: query.trim().to_owned(),
    };
    if body.contains_key("query")
        && f.errors
            .iter()
            .all(|e| e.loc.get(1) != Some(&Value::from("query")))
    {
        let input = body.get("query").cloned().unwrap_or_default();
        if request.query.is_empty() {
            f.errors.push(error(
                &["query"],
                "value_error",
                "Value error, Query cannot be empty",
                &input,
            ));
        } else if mode != Mode::Bypass && query_weight(&request.query) < MIN_QUERY_WEIGHT {
            f.errors.push(error(
                &["query"],
                "value_error",
                "Value error, RAG query is too short. Please provide a more specific question (at least 3 characters, or 2 CJK characters).",
                &input,
            ));
        }
    }
    let history_chars = body
        .get("conversation_history")
        .map_or(0, |h| h.to_string().chars().count());
    let total = request.query.chars().count()
        + request
            .user_prompt
            .as_deref()
            .map_or(0, |p| p.chars().count())
        + history_chars;
    if f.errors.is_empty() && total > MAX_TOTAL_CHARS {
        f.errors.push(FieldError::new(
            vec!["body".into()],
            "value_error",
            format!("Value error, the query, user_prompt and conversation_history together exceed {MAX_TOTAL_CHARS} characters"),
            Value::Null,
        ));
    }
    if f.errors.is_empty() {
        Ok(request)
    } else {
        Err(f.errors)
    }
}

#[cfg(test)]
mod fuzz;

#[cfg(test)]
mod tests {
    use super::*;

    fn check(body: Value) -> Result<QueryRequest, Vec<(String, &'static str)>> {
        parse(body.as_object().unwrap()).map_err(|errors| {
            errors
                .into_iter()
                .map(|e| {
                    let loc: Vec<String> = e
                        .loc
                        .iter()
                        .map(|l| l.to_string().trim_matches('"').to_owned())
                        .collect();
                    (loc.join("."), e.kind)
                })
                .collect()
        })
    }

    #[test]
    fn defaults_and_stripping() {
        let r = check(serde_json::json!({"query": "  What is LightRAG?  "})).unwrap();
        assert_eq!(r.query, "What is LightRAG?");
        assert_eq!(r.mode, Mode::Mix);
        assert!(r.include_references && !r.include_chunk_content && !r.only_need_context);
        assert_eq!((r.top_k, r.stream), (None, None));
    }

    #[test]
    fn every_limit_is_a_field_error() {
        let cases = [
            (serde_json::json!({}), "body.query", "missing"),
            (
                serde_json::json!({"query": "   "}),
                "body.query",
                "value_error",
            ),
            (
                serde_json::json!({"query": "ab"}),
                "body.query",
                "value_error",
            ),
            (
                serde_json::json!({"query": "x".repeat(65_537)}),
                "body.query",
                "string_too_long",
            ),
            (
                serde_json::json!({"query": "hello", "mode": "deep"}),
                "body.mode",
                "literal_error",
            ),
            (
                serde_json::json!({"query": "hello", "top_k": 0}),
                "body.top_k",
                "greater_than_equal",
            ),
            (
                serde_json::json!({"query": "hello", "chunk_top_k": 1001}),
                "body.chunk_top_k",
                "less_than_equal",
            ),
            (
                serde_json::json!({"query": "hello", "max_total_tokens": 1_000_001}),
                "body.max_total_tokens",
                "less_than_equal",
            ),
            (
                serde_json::json!({"query": "hello", "top_k": "many"}),
                "body.top_k",
                "int_type",
            ),
            (
                serde_json::json!({"query": "hello", "response_type": ""}),
                "body.response_type",
                "string_too_short",
            ),
            (
                serde_json::json!({"query": "hello", "hl_keywords": vec!["k"; 65]}),
                "body.hl_keywords",
                "too_long",
            ),
            (
                serde_json::json!({"query": "hello", "ll_keywords": ["x".repeat(513)]}),
                "body.ll_keywords.0",
                "string_too_long",
            ),
            (
                serde_json::json!({"query": "hello", "conversation_history": [{"role": "", "content": "x"}]}),
                "body.conversation_history.0.role",
                "value_error",
            ),
            (
                serde_json::json!({"query": "hello", "conversation_history": [{"role": "user", "content": "x".repeat(32_769)}]}),
                "body.conversation_history.0.content",
                "value_error",
            ),
            (
                serde_json::json!({"query": "hello", "conversation_history": vec![serde_json::json!({"role": "user", "content": "x"}); 129]}),
                "body.conversation_history",
                "too_long",
            ),
            (
                serde_json::json!({"query": "hello", "include_references": "maybe"}),
                "body.include_references",
                "bool_type",
            ),
            (
                serde_json::json!({"query": "x".repeat(65_536), "user_prompt": "y".repeat(65_536), "conversation_history": [{"role": "user", "content": "z"}]}),
                "body",
                "value_error",
            ),
        ];
        for (body, loc, kind) in cases {
            let errors = check(body.clone()).unwrap_err();
            assert!(
                errors.contains(&(loc.to_owned(), kind)),
                "{body:.80}: {errors:?}"
            );
        }
    }

    #[test]
    fn query_weight_counts_cjk_twice() {
        assert!(check(serde_json::json!({"query": "孙悟"})).is_ok());
        assert!(check(serde_json::json!({"query": "孙"})).is_err());
        assert!(check(serde_json::json!({"query": "hi", "mode": "bypass"})).is_ok());
        assert!(
            check(serde_json::json!({"query": "hello", "include_references": "false"}))
                .is_ok_and(|r| !r.include_references)
        );
    }
}
