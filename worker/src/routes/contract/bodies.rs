//! The request bodies the handlers read, as JSON Schema: required fields, types,
//! ranges, lengths, patterns and enums, each as the handler checks it (the handler is
//! named beside its schema).

use lightrag_engine::chunking::MAX_CHUNK_TOKENS;
use serde_json::{Map, Value, json};

/// Characters `str::trim` removes (Unicode White_Space), as a regex class body: a
/// pattern built on it agrees with the server's trimming, where `\s` would not.
const BLANK: &str = r"\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000";
/// Control characters (`char::is_control`).
const CONTROL: &str = r"\x00-\x1f\x7f-\x9f";
/// Characters a query's weight counts twice (`lightrag_engine::query::query_weight`;
/// the supplementary planes are left out, ECMA-262 patterns cannot name them).
const WIDE: &str =
    r"\u1100-\u11ff\u2e80-\u9fff\ua960-\ua97f\uac00-\ud7ff\uf900-\ufaff\ufe30-\ufe4f\uff00-\uffef";

/// A string with something left once trimmed.
pub(super) fn non_blank() -> Value {
    json!({"type": "string", "pattern": format!("[^{BLANK}]")})
}

/// A file source whose base name is usable: no control character, and a last path
/// segment with something left once trimmed.
fn file_source() -> Value {
    json!({
        "type": "string",
        "pattern": format!(r"^[^{CONTROL}]*[^{CONTROL}{BLANK}/\\][^{CONTROL}/\\]*$"),
    })
}

/// A query worth retrieving for: at least three characters once trimmed, or two of
/// which one is wide (CJK, Hangul, fullwidth).
fn rag_query() -> Value {
    let edge = format!("[^{BLANK}]");
    json!({
        "type": "string",
        "maxLength": 65_536,
        "pattern": format!(
            r"^[{BLANK}]*({edge}[\s\S]+{edge}|[{WIDE}]{edge}|{edge}[{WIDE}])[{BLANK}]*$"
        ),
    })
}

fn nullable(schema: Value) -> Value {
    json!({"anyOf": [schema, {"type": "null"}]})
}

/// A strict boolean (`validate::Body::flag`); `null` is absent.
fn flag() -> Value {
    json!({"type": ["boolean", "null"]})
}

/// Pydantic's lax booleans (the query request): `true`/`false`, 0 and 1, and the words
/// it reads, in any case.
fn lax_flag() -> Value {
    let words = [
        "true", "1", "yes", "on", "t", "y", "false", "0", "no", "off", "f", "n",
    ]
    .map(|word| {
        word.chars()
            .map(|c| match c.is_ascii_alphabetic() {
                true => format!("[{}{}]", c.to_ascii_uppercase(), c),
                false => c.to_string(),
            })
            .collect::<String>()
    })
    .join("|");
    json!({"anyOf": [
        {"type": ["boolean", "null"]},
        {"enum": [0, 1]},
        {"type": "string", "pattern": format!("^({words})$")},
    ]})
}

fn integer(min: u64, max: Option<u64>) -> Value {
    let mut schema = json!({"type": ["integer", "null"], "minimum": min});
    if let Some(max) = max {
        schema["maximum"] = max.into();
    }
    schema
}

fn text(max: usize) -> Value {
    json!({"type": ["string", "null"], "maxLength": max})
}

fn object(required: &[&str], properties: Value) -> Value {
    json!({"type": "object", "required": required, "properties": properties})
}

const STATUSES: [&str; 7] = [
    "pending",
    "parsing",
    "analyzing",
    "processing",
    "preprocessed",
    "processed",
    "failed",
];

/// `/query`, `/query/stream` and `/query/data` (`query::request`).
fn query_request() -> Value {
    let keywords = nullable(json!({
        "type": "array", "maxItems": 64, "items": {"type": "string", "maxLength": 512},
    }));
    let tokens = integer(1, Some(1_000_000));
    let mut role = non_blank();
    role["maxLength"] = 64.into();
    object(
        &["query"],
        json!({
            "query": rag_query(),
            "mode": {"enum": ["local", "global", "hybrid", "naive", "mix", "bypass", null]},
            "only_need_context": lax_flag(),
            "only_need_prompt": lax_flag(),
            "response_type": nullable(json!({"type": "string", "minLength": 1, "maxLength": 256})),
            "top_k": integer(1, Some(1000)),
            "chunk_top_k": integer(1, Some(1000)),
            "max_entity_tokens": tokens,
            "max_relation_tokens": tokens,
            "max_total_tokens": tokens,
            "hl_keywords": keywords,
            "ll_keywords": keywords,
            "conversation_history": nullable(json!({
                "type": "array", "maxItems": 128,
                "items": object(&["role", "content"], json!({
                    "role": role,
                    "content": {"type": "string", "maxLength": 32_768},
                })),
            })),
            "user_prompt": text(65_536),
            "disable_user_prompt_prefix": lax_flag(),
            "include_references": lax_flag(),
            "include_chunk_content": lax_flag(),
            "include_progress": lax_flag(),
            "enable_rerank": lax_flag(),
            "stream": lax_flag(),
        }),
    )
}

/// The `chunking` object of the text inserts (`documents::chunking`): only the fixed
/// token strategy is served.
fn chunking() -> Value {
    let params = json!({
        "type": ["object", "null"],
        "additionalProperties": false,
        "properties": {
            "chunk_token_size": integer(1, Some(MAX_CHUNK_TOKENS as u64)),
            "chunk_overlap_token_size": integer(0, Some(MAX_CHUNK_TOKENS as u64)),
            "split_by_character": nullable(json!({"type": "string", "minLength": 1})),
            "split_by_character_only": flag(),
        },
    });
    json!({
        "type": ["object", "null"],
        "additionalProperties": false,
        "description": "chunk_overlap_token_size must be smaller than chunk_token_size",
        "properties": {"strategy": {"enum": ["fixed_token"]}, "params": params},
    })
}

/// An entity or relation name (`graph::edit::name`): trimmed, it must not be empty.
fn entity_name() -> Value {
    non_blank()
}

/// The list ceilings of the document routes (`MAX_TEXTS_PER_REQUEST`,
/// `MAX_DELETE_IDS_PER_REQUEST`; 0 is none).
#[derive(Debug, Clone, Copy)]
pub(super) struct Ceilings {
    pub texts: usize,
    pub delete_ids: usize,
}

/// `list` with at most `max` items, unless `max` is 0.
fn at_most(mut list: Value, max: usize) -> Value {
    if max > 0 {
        list["maxItems"] = max.into();
    }
    list
}

/// The JSON request bodies, by operation.
pub(super) fn bodies(ceilings: Ceilings) -> Vec<(&'static str, &'static str, Value)> {
    let texts = at_most(
        json!({"type": "array", "minItems": 1, "items": non_blank()}),
        ceilings.texts,
    );
    let doc_ids = at_most(
        json!({"type": "array", "minItems": 1, "uniqueItems": true, "items": non_blank()}),
        ceilings.delete_ids,
    );
    let status = json!({"enum": STATUSES});
    let binary = json!({"type": "string", "format": "binary"});
    vec![
        ("post", "/query", query_request()),
        ("post", "/query/stream", query_request()),
        ("post", "/query/data", query_request()),
        (
            "post",
            "/documents/text",
            object(
                &["text", "file_source"],
                json!({"text": non_blank(), "file_source": file_source(), "chunking": chunking()}),
            ),
        ),
        (
            "post",
            "/documents/texts",
            object(
                &["texts", "file_sources"],
                json!({
                    "texts": texts,
                    "file_sources": {
                        "type": "array", "items": file_source(),
                        "description": "one per text, their base names unique",
                    },
                    "chunking": chunking(),
                }),
            ),
        ),
        (
            "post",
            "/documents/paginated",
            object(
                &[],
                json!({
                    "page": integer(1, None),
                    "page_size": integer(10, Some(200)),
                    "status_filter": {"description": "ignored when status_filters is given"},
                    "status_filters": nullable(json!({"type": "array", "items": status})),
                    "sort_field": {"enum": ["created_at", "updated_at", "id", "file_path"]},
                    "sort_direction": {"enum": ["asc", "desc"]},
                }),
            )
            .with("anyOf", json!([
                {"required": ["status_filters"], "properties": {"status_filters": {"type": "array"}}},
                {"properties": {"status_filter": nullable(status.clone())}},
            ])),
        ),
        (
            "delete",
            "/documents/delete_document",
            object(
                &["doc_ids"],
                json!({
                    "doc_ids": doc_ids,
                    "delete_file": flag(),
                    "delete_llm_cache": flag(),
                }),
            ),
        ),
        ("post", "/documents/clear_cache", json!({"type": "object"})),
        ("post", "/documents/source_conflicts/repair", repair()),
        (
            "post",
            "/documents/recovery/force_reset",
            object(&["confirm"], json!({"confirm": {"const": true}})),
        ),
        (
            "post",
            "/graph/entity/edit",
            object(
                &["entity_name", "updated_data"],
                json!({
                    "entity_name": entity_name(),
                    "updated_data": updates(&["entity_name", "entity_type", "description", "source_id", "file_path"], false),
                    "allow_rename": flag(),
                    "allow_merge": flag(),
                }),
            ),
        ),
        (
            "post",
            "/graph/relation/edit",
            object(
                &["source_id", "target_id", "updated_data"],
                json!({
                    "source_id": entity_name(),
                    "target_id": entity_name(),
                    "updated_data": updates(&["description", "keywords", "source_id", "file_path"], true),
                }),
            ),
        ),
        (
            "post",
            "/graph/entity/create",
            object(
                &["entity_name", "entity_data"],
                json!({"entity_name": entity_name(), "entity_data": {"type": "object"}}),
            ),
        ),
        (
            "post",
            "/graph/relation/create",
            object(
                &["source_entity", "target_entity", "relation_data"],
                json!({
                    "source_entity": entity_name(),
                    "target_entity": entity_name(),
                    "relation_data": {"type": "object"},
                }),
            ),
        ),
        (
            "post",
            "/graph/entities/merge",
            object(
                &["entities_to_change", "entity_to_change_into"],
                json!({
                    "entities_to_change": {"type": "array", "minItems": 1, "items": non_blank()},
                    "entity_to_change_into": entity_name(),
                }),
            ),
        ),
        (
            "delete",
            "/graph/entity/delete",
            object(&["entity_name"], json!({"entity_name": entity_name()})),
        ),
        (
            "delete",
            "/graph/relation/delete",
            object(
                &["source_entity", "target_entity"],
                json!({"source_entity": entity_name(), "target_entity": entity_name()}),
            ),
        ),
        ("post", "/api/generate", ollama_generate()),
        ("post", "/api/chat", ollama_chat()),
        (
            "post",
            "/login",
            object(
                &["username", "password"],
                json!({
                    "username": {"type": "string"},
                    "password": {"type": "string"},
                    "grant_type": {"type": "string", "pattern": "^password$"},
                    "scope": {"type": "string"},
                    "client_id": {"type": "string"},
                    "client_secret": {"type": "string"},
                }),
            )
            .with("x-content-type", "application/x-www-form-urlencoded".into()),
        ),
        (
            "post",
            "/documents/upload",
            object(&["file"], json!({"file": binary}))
                .with("description", "the file's name must be usable and of a supported type (400 otherwise, see /documents/supported_file_types)".into())
                .with("x-content-type", "multipart/form-data".into()),
        ),
    ]
}

/// Adds one keyword to a schema.
trait With {
    fn with(self, keyword: &str, value: Value) -> Value;
}

impl With for Value {
    fn with(mut self, keyword: &str, value: Value) -> Value {
        self[keyword] = value;
        self
    }
}

/// `updated_data` of the graph edits: only the editable fields, as strings (a
/// relation's `weight`: a number).
fn updates(text_fields: &[&str], weight: bool) -> Value {
    let mut properties = Map::new();
    for field in text_fields {
        properties.insert((*field).to_owned(), json!({"type": "string"}));
    }
    if weight {
        properties.insert("weight".to_owned(), json!({"type": "number"}));
    }
    json!({"type": "object", "additionalProperties": false, "properties": properties})
}

/// A repair commits (`dry_run: false`) only with the expected candidates.
fn repair() -> Value {
    object(
        &["canonical_source_key", "primary_doc_id"],
        json!({
            "canonical_source_key": {"type": "string", "minLength": 1},
            "primary_doc_id": {"type": "string", "minLength": 1},
            "expected_candidate_count": integer(0, None),
            "expected_candidate_fingerprint": {"type": ["string", "null"]},
            "dry_run": flag(),
        }),
    )
    .with(
        "anyOf",
        json!([
            {"properties": {"dry_run": {"enum": [true, null]}}},
            {"required": ["expected_candidate_count", "expected_candidate_fingerprint"],
             "properties": {
                "expected_candidate_count": {"type": "integer"},
                "expected_candidate_fingerprint": {"type": "string"},
             }},
        ]),
    )
}

/// Ollama's generate request (`ollama::generate`); over-long fields are 413.
fn ollama_generate() -> Value {
    object(
        &["prompt"],
        json!({
            "model": text(256),
            "prompt": {"type": "string", "maxLength": 65_536, "pattern": format!("[^{BLANK}]")},
            "system": text(32_768),
            "stream": flag(),
        }),
    )
}

/// Ollama's chat request (`ollama::chat`). The last message must be the user's, and
/// its query (after a mode prefix such as `/local`) weigh enough: rules on the last item
/// only, which JSON Schema cannot state; they answer 400.
fn ollama_chat() -> Value {
    let message = object(
        &["role", "content"],
        json!({
            "role": {"type": "string", "maxLength": 64},
            "content": {"type": "string", "maxLength": 32_768},
            "images": nullable(json!({"type": "array", "maxItems": 16})),
        }),
    );
    object(
        &["messages"],
        json!({
            "model": text(256),
            "system": text(32_768),
            "stream": flag(),
            "messages": {"type": "array", "minItems": 1, "maxItems": 128, "items": message},
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lax_booleans_name_every_case_of_the_words() {
        let pattern = lax_flag()["anyOf"][2]["pattern"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(
            pattern.starts_with("^([Tt][Rr][Uu][Ee]|1|[Yy][Ee][Ss]|"),
            "{pattern}"
        );
        assert!(pattern.ends_with("|[Nn])$"), "{pattern}");
    }

    #[test]
    fn bodies_carry_their_content_type() {
        let bodies = bodies(Ceilings {
            texts: 0,
            delete_ids: 0,
        });
        let login = bodies.iter().find(|(_, p, _)| *p == "/login").unwrap();
        assert_eq!(
            login.2["x-content-type"],
            "application/x-www-form-urlencoded"
        );
        let texts = bodies
            .iter()
            .find(|(_, p, _)| *p == "/documents/texts")
            .unwrap();
        assert!(
            texts.2["properties"]["texts"]["maxItems"].is_null(),
            "0 is no ceiling"
        );
        let ceilings = Ceilings {
            texts: 7,
            delete_ids: 9,
        };
        assert_eq!(
            body_of(ceilings, "/documents/texts")["properties"]["texts"]["maxItems"],
            7
        );
        assert_eq!(
            body_of(ceilings, "/documents/delete_document")["properties"]["doc_ids"]["maxItems"],
            9
        );
    }

    fn body_of(ceilings: Ceilings, path: &str) -> Value {
        bodies(ceilings)
            .into_iter()
            .find(|(_, p, _)| *p == path)
            .unwrap()
            .2
    }
}
