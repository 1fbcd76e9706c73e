//! The bodies of `/api/generate` and `/api/chat`, checked the way Ollama answers a bad
//! one: 400 for what is malformed, 413 for what is too large. Kept apart from the
//! handlers so that the checks are plain functions of the body (and fuzzed as such).

use http::StatusCode;
use lightrag_engine::llm::{Message, Role};
use lightrag_engine::query::{Mode, query_weight};
use serde_json::{Map, Value};

use super::prefix::{self, Routed};
use crate::error::ApiError;

const MAX_MODEL_CHARS: usize = 256;
const MAX_PROMPT_CHARS: usize = 65_536;
const MAX_SYSTEM_CHARS: usize = 32_768;
const MAX_MESSAGE_CHARS: usize = 32_768;
const MAX_ROLE_CHARS: usize = 64;
const MAX_MESSAGES: usize = 128;
const MAX_IMAGES: usize = 16;
const MAX_TOTAL_CHARS: usize = 131_072;
/// Open WebUI's title and tag requests carry the chat in this form; they go straight
/// to the model.
const OPEN_WEBUI_TASK: &str = "\n<chat_history>\nUSER:";
const TOO_SHORT: &str = "RAG query is too short. Please provide a more specific question.";

/// A `/api/generate` body: the prompt for the model alone.
#[derive(Debug)]
pub struct Generate {
    pub prompt: String,
    pub system: Option<String>,
    pub stream: bool,
}

/// A `/api/chat` body: the question routed by its prefix, and the earlier messages.
#[derive(Debug)]
pub struct Chat {
    pub system: Option<String>,
    pub stream: bool,
    pub history: Vec<Message>,
    pub routed: Routed,
    /// Straight to the model (bypass mode, or an Open WebUI task), not a RAG query.
    pub direct: bool,
}

/// The body as a JSON object, with Ollama's 400s.
pub fn object(bytes: &[u8]) -> Result<Map<String, Value>, ApiError> {
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(ApiError::bad_request(
            "Invalid request body: expected a JSON object",
        )),
        Err(_) => Err(ApiError::bad_request("Invalid JSON in request body")),
    }
}

/// A string field: absent is `None`, another type is a 400, too long is noted for 413.
fn text_field(
    body: &Map<String, Value>,
    name: &str,
    max: usize,
    oversized: &mut Vec<String>,
) -> Result<Option<String>, ApiError> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => {
            if s.chars().count() > max {
                oversized.push(name.to_owned());
            }
            Ok(Some(s.clone()))
        }
        Some(_) => Err(ApiError::bad_request(format!(
            "Invalid request body: {name} must be a string"
        ))),
    }
}

fn stream_flag(body: &Map<String, Value>, default: bool) -> Result<bool, ApiError> {
    match body.get("stream") {
        None | Some(Value::Null) => Ok(default),
        Some(Value::Bool(b)) => Ok(*b),
        Some(_) => Err(ApiError::bad_request(
            "Invalid request body: stream must be a boolean",
        )),
    }
}

fn too_large(mut fields: Vec<String>, total: usize) -> Result<(), ApiError> {
    if total > MAX_TOTAL_CHARS {
        fields.push("total".to_owned());
    }
    if fields.is_empty() {
        return Ok(());
    }
    Err(ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!(
            "Request payload exceeds the allowed size ({}).",
            fields.join(", ")
        ),
    ))
}

fn chars(field: &Option<String>) -> usize {
    field.as_ref().map_or(0, |s| s.chars().count())
}

/// Checks a `/api/generate` body.
pub fn generate(body: &Map<String, Value>) -> Result<Generate, ApiError> {
    let mut oversized = Vec::new();
    let model = text_field(body, "model", MAX_MODEL_CHARS, &mut oversized)?;
    let prompt = text_field(body, "prompt", MAX_PROMPT_CHARS, &mut oversized)?.unwrap_or_default();
    let system = text_field(body, "system", MAX_SYSTEM_CHARS, &mut oversized)?;
    let stream = stream_flag(body, false)?;
    too_large(
        oversized,
        chars(&model) + prompt.chars().count() + chars(&system),
    )?;
    if prompt.trim().is_empty() {
        return Err(ApiError::bad_request("Prompt cannot be empty"));
    }
    Ok(Generate {
        prompt,
        system,
        stream,
    })
}

/// The validated messages of a chat request.
fn messages(
    body: &Map<String, Value>,
    oversized: &mut Vec<String>,
) -> Result<Vec<Message>, ApiError> {
    let items = match body.get("messages") {
        None | Some(Value::Null) => return Err(ApiError::bad_request("No messages provided")),
        Some(Value::Array(items)) => items,
        Some(_) => {
            return Err(ApiError::bad_request(
                "Invalid request body: messages must be a list",
            ));
        }
    };
    if items.is_empty() {
        return Err(ApiError::bad_request("No messages provided"));
    }
    if items.len() > MAX_MESSAGES {
        oversized.push("messages".to_owned());
    }
    let mut messages = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let Some(message) = item.as_object() else {
            return Err(ApiError::bad_request(format!(
                "Invalid request body: messages[{i}] must be an object"
            )));
        };
        let field = |name: &str| match message.get(name) {
            Some(Value::String(s)) => Ok(s.clone()),
            _ => Err(ApiError::bad_request(format!(
                "Invalid request body: messages[{i}].{name} is required"
            ))),
        };
        let (role, content) = (field("role")?, field("content")?);
        if role.chars().count() > MAX_ROLE_CHARS {
            oversized.push(format!("messages[{i}].role"));
        }
        if content.chars().count() > MAX_MESSAGE_CHARS {
            oversized.push(format!("messages[{i}].content"));
        }
        if message
            .get("images")
            .and_then(Value::as_array)
            .is_some_and(|images| images.len() > MAX_IMAGES)
        {
            oversized.push(format!("messages[{i}].images"));
        }
        // The last message must really say "user", not just map to it.
        if i + 1 == items.len() && role != "user" {
            return Err(ApiError::bad_request("Last message must be from user role"));
        }
        let role = match role.as_str() {
            "system" => Role::System,
            "assistant" => Role::Assistant,
            _ => Role::User,
        };
        messages.push(Message::new(role, content));
    }
    Ok(messages)
}

/// Checks a `/api/chat` body: the last message is the question (its prefix picks the
/// mode), the earlier ones the history.
pub fn chat(body: &Map<String, Value>) -> Result<Chat, ApiError> {
    let mut oversized = Vec::new();
    let model = text_field(body, "model", MAX_MODEL_CHARS, &mut oversized)?;
    let system = text_field(body, "system", MAX_SYSTEM_CHARS, &mut oversized)?;
    let stream = stream_flag(body, true)?;
    let mut history = messages(body, &mut oversized)?;
    let total = chars(&model)
        + chars(&system)
        + history
            .iter()
            .map(|m| m.content.chars().count())
            .sum::<usize>();
    too_large(oversized, total)?;
    let last = history.pop().map(|m| m.content).unwrap_or_default();
    let routed = prefix::route(&last);
    if routed.query.trim().is_empty() {
        return Err(ApiError::bad_request("Query cannot be empty"));
    }
    let direct = routed.mode == Mode::Bypass || (!stream && routed.query.contains(OPEN_WEBUI_TASK));
    if !direct && query_weight(routed.query.trim()) < 3 {
        return Err(ApiError::bad_request(TOO_SHORT));
    }
    Ok(Chat {
        system,
        stream,
        history,
        routed,
        direct,
    })
}

#[cfg(test)]
mod fuzz;
