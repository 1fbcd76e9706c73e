//! The Ollama API under `/api`, so chat front-ends that speak it (Open WebUI, the
//! `ollama` client libraries) can use the server as a model: `version`, `tags`, `ps`,
//! `generate` (the model alone) and `chat` (RAG, the mode chosen by a prefix of the last
//! message; see [`prefix`]). Answers stream as Ollama's NDJSON by default for chat.

mod prefix;

use std::sync::Arc;
use std::time::Instant;

use axum::Json;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use lightrag_engine::chunking::Tokenizer;
use lightrag_engine::llm::{Message, Role, TextStream, collect};
use lightrag_engine::query::{Mode, query_weight};
use serde_json::{Map, Value, json};

use super::ndjson::{self, Lines, Relayed};
use super::query::{self, QueryRequest};
use crate::app::App;
use crate::error::ApiError;
use crate::extract;
use crate::workspace::Ws;

const VERSION: &str = "0.9.3";
const MODIFIED_AT: &str = "2024-01-15T00:00:00Z";
const SIZE: u64 = 7_365_960_935;
const DIGEST: &str = "sha256:lightrag";
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
const NO_RESPONSE: &str = "No response generated";
const TOO_SHORT: &str = "RAG query is too short. Please provide a more specific question.";

fn created_at() -> String {
    chrono::Utc::now()
        .format("%Y-%m-%dT%H:%M:%S%.6fZ")
        .to_string()
}

/// `GET /api/version`
#[utoipa::path(get, path = "/api/version", tag = "ollama", responses((status = 200)))]
pub async fn version() -> Json<Value> {
    Json(json!({"version": VERSION}))
}

/// `GET /api/tags`: the one emulated model.
#[utoipa::path(get, path = "/api/tags", tag = "ollama", responses((status = 200)))]
pub async fn tags(State(app): State<Arc<App>>) -> Json<Value> {
    let model = &app.settings.api.ollama_model;
    let family = model.split(':').next().unwrap_or_default();
    Json(json!({"models": [{
        "name": model, "model": model, "modified_at": MODIFIED_AT, "size": SIZE, "digest": DIGEST,
        "details": {"parent_model": "", "format": "gguf", "family": family, "families": [family],
                    "parameter_size": "13B", "quantization_level": "Q4_0"},
    }]}))
}

/// `GET /api/ps`: the emulated model, always loaded.
#[utoipa::path(get, path = "/api/ps", tag = "ollama", responses((status = 200)))]
pub async fn ps(State(app): State<Arc<App>>) -> Json<Value> {
    let model = &app.settings.api.ollama_model;
    Json(json!({"models": [{
        "name": model, "model": model, "size": SIZE, "digest": DIGEST,
        "details": {"parent_model": "", "format": "gguf", "family": "llama", "families": ["llama"],
                    "parameter_size": "7.2B", "quantization_level": "Q4_0"},
        "expires_at": "2050-12-31T14:38:31.83753-07:00", "size_vram": SIZE,
    }]}))
}

/// The body as a JSON object, with Ollama's 400s.
async fn body(req: Request) -> Result<Map<String, Value>, ApiError> {
    let bytes = extract::body_bytes(req).await?;
    match serde_json::from_slice::<Value>(&bytes) {
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

/// Which of Ollama's two answer shapes.
#[derive(Clone, Copy)]
enum Shape {
    Generate,
    Chat,
}

/// What is counted for the final line.
struct Timing {
    started: Instant,
    first_piece: Option<Instant>,
    prompt_tokens: usize,
}

impl Timing {
    fn new(prompt: &str) -> Timing {
        Timing {
            started: Instant::now(),
            first_piece: None,
            prompt_tokens: Tokenizer::o200k().count(prompt),
        }
    }

    fn stats(&self, answer: &str) -> Value {
        let total = self.started.elapsed();
        let prompt = self
            .first_piece
            .map_or(total, |first| first.duration_since(self.started));
        json!({
            "total_duration": total.as_nanos() as u64,
            "load_duration": 0,
            "prompt_eval_count": self.prompt_tokens,
            "prompt_eval_duration": prompt.as_nanos() as u64,
            "eval_count": Tokenizer::o200k().count(answer),
            "eval_duration": total.saturating_sub(prompt).as_nanos() as u64,
        })
    }
}

fn piece(shape: Shape, model: &str, text: &str) -> Value {
    match shape {
        Shape::Generate => {
            json!({"model": model, "created_at": created_at(), "response": text, "done": false})
        }
        Shape::Chat => json!({"model": model, "created_at": created_at(),
            "message": {"role": "assistant", "content": text, "images": null}, "done": false}),
    }
}

/// The final line of a stream, or the whole answer when not streaming.
fn finished(shape: Shape, model: &str, text: &str, stats: Value) -> Value {
    let mut line = match shape {
        Shape::Generate => json!({"model": model, "created_at": created_at(), "response": text,
            "done": true, "done_reason": "stop", "context": []}),
        Shape::Chat => json!({"model": model, "created_at": created_at(),
            "message": {"role": "assistant", "content": text, "images": null},
            "done_reason": "stop", "done": true}),
    };
    if let (Some(line), Value::Object(stats)) = (line.as_object_mut(), stats) {
        line.extend(stats);
    }
    line
}

fn error_line(shape: Shape, model: &str, error: &str) -> Value {
    let text = format!("\n\nError: Provider error: {error}");
    let mut line = piece(shape, model, &text);
    line["error"] = Value::from(format!("\n\nError: {error}"));
    line
}

/// Relays an answer in the requested shape, streamed or whole.
async fn respond(
    app: Arc<App>,
    shape: Shape,
    answer: TextStream,
    stream: bool,
    timing: Timing,
    closing: bool,
) -> Result<Response, ApiError> {
    let model = app.settings.api.ollama_model.clone();
    if !stream {
        let text = collect(answer).await.map_err(|e| ApiError::engine(&e))?;
        let text = match (shape, text.trim().is_empty()) {
            (Shape::Generate, true) => NO_RESPONSE.to_owned(),
            _ => text,
        };
        let stats = timing.stats(&text);
        return Ok(Json(finished(shape, &model, &text, stats)).into_response());
    }
    let (lines, response) = ndjson::channel(closing, ndjson::Encoding::Utf8);
    tokio::spawn(relay(shape, model, answer, timing, lines));
    Ok(response)
}

async fn relay(shape: Shape, model: String, answer: TextStream, mut timing: Timing, lines: Lines) {
    let relayed = lines
        .relay(answer, |chunk| {
            timing.first_piece.get_or_insert_with(Instant::now);
            piece(shape, &model, chunk)
        })
        .await;
    let text = match relayed {
        Relayed::Complete(text) => text,
        Relayed::Failed(error, text) => {
            lines
                .send(error_line(shape, &model, &error.to_string()))
                .await;
            text
        }
        Relayed::Gone => {
            tracing::info!("client disconnected; generation stopped");
            return;
        }
    };
    let stats = timing.stats(&text);
    lines.send(finished(shape, &model, "", stats)).await;
}

/// `POST /api/generate`: the prompt (and system prompt) straight to the model.
#[utoipa::path(post, path = "/api/generate", tag = "ollama", responses((status = 200), (status = 400), (status = 413)))]
pub async fn generate(State(app): State<Arc<App>>, req: Request) -> Result<Response, ApiError> {
    let closing = ndjson::closing(req.headers());
    let body = body(req).await?;
    let mut oversized = Vec::new();
    let model = text_field(&body, "model", MAX_MODEL_CHARS, &mut oversized)?;
    let prompt = text_field(&body, "prompt", MAX_PROMPT_CHARS, &mut oversized)?.unwrap_or_default();
    let system = text_field(&body, "system", MAX_SYSTEM_CHARS, &mut oversized)?;
    let stream = stream_flag(&body, false)?;
    let total = [&model, &Some(prompt.clone()), &system]
        .iter()
        .map(|f| f.as_ref().map_or(0, |s| s.chars().count()))
        .sum();
    too_large(oversized, total)?;
    if prompt.trim().is_empty() {
        return Err(ApiError::bad_request("Prompt cannot be empty"));
    }
    let timing = Timing::new(&prompt);
    let messages: Vec<Message> = system
        .map(|s| Message::new(Role::System, s))
        .into_iter()
        .chain([Message::new(Role::User, prompt)])
        .collect();
    let answer = app
        .model
        .chat(messages)
        .await
        .map_err(|e| ApiError::engine(&e))?;
    respond(app, Shape::Generate, answer, stream, timing, closing).await
}

/// The validated messages of a chat request.
fn chat_messages(
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
        let role = match role.as_str() {
            "system" => Role::System,
            "assistant" => Role::Assistant,
            "user" => Role::User,
            _ => Role::User,
        };
        // The last message must really say "user", not just map to it.
        if i + 1 == items.len() && field("role")? != "user" {
            return Err(ApiError::bad_request("Last message must be from user role"));
        }
        messages.push(Message::new(role, content));
    }
    Ok(messages)
}

/// `POST /api/chat`: the last message is the question (its prefix picks the mode), the
/// earlier ones the history.
#[utoipa::path(post, path = "/api/chat", tag = "ollama", responses((status = 200), (status = 400), (status = 413)))]
pub async fn chat(
    State(app): State<Arc<App>>,
    Ws(ws): Ws,
    req: Request,
) -> Result<Response, ApiError> {
    let closing = ndjson::closing(req.headers());
    let body = body(req).await?;
    let mut oversized = Vec::new();
    let model = text_field(&body, "model", MAX_MODEL_CHARS, &mut oversized)?;
    let system = text_field(&body, "system", MAX_SYSTEM_CHARS, &mut oversized)?;
    let stream = stream_flag(&body, true)?;
    let mut messages = chat_messages(&body, &mut oversized)?;
    let total = model.as_ref().map_or(0, |m| m.chars().count())
        + system.as_ref().map_or(0, |s| s.chars().count())
        + messages
            .iter()
            .map(|m| m.content.chars().count())
            .sum::<usize>();
    too_large(oversized, total)?;
    let last = messages.pop().map(|m| m.content).unwrap_or_default();
    let routed = prefix::route(&last);
    if routed.query.trim().is_empty() {
        return Err(ApiError::bad_request("Query cannot be empty"));
    }
    let timing = Timing::new(&routed.query);
    let direct = routed.mode == Mode::Bypass || (!stream && routed.query.contains(OPEN_WEBUI_TASK));
    if direct {
        let conversation: Vec<Message> = system
            .map(|s| Message::new(Role::System, s))
            .into_iter()
            .chain(messages)
            .chain([Message::new(Role::User, routed.query)])
            .collect();
        let answer = app
            .model
            .chat(conversation)
            .await
            .map_err(|e| ApiError::engine(&e))?;
        return respond(app, Shape::Chat, answer, stream, timing, closing).await;
    }
    if query_weight(routed.query.trim()) < 3 {
        return Err(ApiError::bad_request(TOO_SHORT));
    }
    let request = QueryRequest::from_chat(
        routed.query.trim().to_owned(),
        routed.mode,
        routed.only_need_context,
        messages,
        routed.user_prompt,
    );
    tracing::info!(
        mode = %request.mode.as_str(),
        only_need_context = request.only_need_context,
        "rag query"
    );
    let answered = query::answerer(&app, &ws)
        .answer(query::answer_request(&app, &request), |_| {})
        .await
        .map_err(|e| ApiError::engine(&e))?;
    let answer = answered.answer.into_stream();
    respond(app, Shape::Chat, answer, stream, timing, closing).await
}
