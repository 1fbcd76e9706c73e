//! The Ollama API under `/api`, so chat front-ends that speak it (Open WebUI, the
//! `ollama` client libraries) can use the server as a model: `version`, `tags`, `ps`,
//! `generate` (the model alone) and `chat` (RAG, the mode chosen by a prefix of the last
//! message; see [`prefix`]). Answers stream as Ollama's NDJSON by default for chat.

mod prefix;
mod request;

use std::sync::Arc;
use std::time::Instant;

use axum::Json;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use lightrag_engine::chunking::Tokenizer;
use lightrag_engine::llm::{Message, Role, TextStream, collect};
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
const NO_RESPONSE: &str = "No response generated";

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
    request::object(&extract::body_bytes(req).await?)
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
    let request::Generate {
        prompt,
        system,
        stream,
    } = request::generate(&body(req).await?)?;
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

/// `POST /api/chat`: the last message is the question (its prefix picks the mode), the
/// earlier ones the history.
#[utoipa::path(post, path = "/api/chat", tag = "ollama", responses((status = 200), (status = 400), (status = 413)))]
pub async fn chat(
    State(app): State<Arc<App>>,
    Ws(ws): Ws,
    req: Request,
) -> Result<Response, ApiError> {
    let closing = ndjson::closing(req.headers());
    let request::Chat {
        system,
        stream,
        history: messages,
        routed,
        direct,
    } = request::chat(&body(req).await?)?;
    let timing = Timing::new(&routed.query);
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
