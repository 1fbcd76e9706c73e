//! `POST /query`, `/query/stream` and `/query/data`. Retrieval runs on a blocking
//! thread (it reads SQLite and the vector caches); generation streams from the model on
//! the runtime. A streamed answer stops, and its model call with it, as soon as the
//! client goes away.

mod request;

pub(crate) use request::QueryRequest;

use std::sync::Arc;
use std::time::Instant;

use axum::Json;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use lightrag_engine::ids;
use lightrag_engine::llm::{ModelError, TextStream, collect, prompts, wait};
use lightrag_engine::query::context::{messages, prompt_text, render_context, system_prompt};
use lightrag_engine::query::{
    ChunkPick, Mode, QueryEngine, QueryParams, Retrieval, RetrievalSettings,
};
use lightrag_engine::storage::KvNamespace;
use serde_json::{Value, json};

use super::ndjson::{self, Lines, Relayed};
use crate::app::App;
use crate::error::ApiError;
use crate::extract;
use crate::workspace::Ws;
use lightrag_engine::workspace::Workspace;

/// LightRAG's answer when the model returned nothing.
const EMPTY_ANSWER: &str = "No relevant context found for the query.";
const DEFAULT_RESPONSE_TYPE: &str = "Multiple Paragraphs";
/// Progress step announced before generation.
const PROGRESS_GENERATING: &str = "generating_response";

async fn read(req: Request) -> Result<QueryRequest, ApiError> {
    let body = extract::json_object(req).await?;
    request::parse(&body).map_err(ApiError::validation)
}

fn params(app: &App, r: &QueryRequest) -> QueryParams {
    let q = &app.settings.query;
    let prefix = q
        .user_prompt_prefix
        .as_deref()
        .filter(|_| !r.disable_user_prompt_prefix);
    let user_prompt = match (prefix, r.user_prompt.as_deref().filter(|p| !p.is_empty())) {
        (Some(prefix), Some(prompt)) => format!("{prefix}\n{prompt}"),
        (Some(prefix), None) => prefix.to_owned(),
        (None, Some(prompt)) => prompt.to_owned(),
        (None, None) => String::new(),
    };
    QueryParams {
        query: r.query.clone(),
        mode: r.mode,
        top_k: r.top_k.unwrap_or(q.top_k),
        chunk_top_k: r.chunk_top_k.unwrap_or(q.chunk_top_k),
        max_entity_tokens: r.max_entity_tokens.unwrap_or(q.max_entity_tokens),
        max_relation_tokens: r.max_relation_tokens.unwrap_or(q.max_relation_tokens),
        max_total_tokens: r.max_total_tokens.unwrap_or(q.max_total_tokens),
        hl_keywords: r.hl_keywords.clone(),
        ll_keywords: r.ll_keywords.clone(),
        response_type: r
            .response_type
            .clone()
            .unwrap_or_else(|| DEFAULT_RESPONSE_TYPE.to_owned()),
        user_prompt,
    }
}

/// Runs retrieval on a blocking thread; `progress` hears each step.
async fn retrieve(
    app: &Arc<App>,
    ws: &Arc<Workspace>,
    params: QueryParams,
    progress: impl Fn(&'static str) + Send + Sync + 'static,
) -> Result<Retrieval, String> {
    let (app, ws) = (app.clone(), ws.clone());
    tokio::task::spawn_blocking(move || {
        let q = &app.settings.query;
        let settings = RetrievalSettings {
            cosine_threshold: q.cosine_threshold,
            related_chunk_number: q.related_chunk_number,
            chunk_pick: if q.pick_chunks_by_weight {
                ChunkPick::Weight
            } else {
                ChunkPick::Vector
            },
            language: app.settings.indexing.summary_language.clone(),
        };
        let tokenizer = lightrag_engine::chunking::Tokenizer::o200k();
        let engine = QueryEngine {
            stores: ws.stores(),
            tokenizer: &tokenizer,
            embedder: &*app.embedder,
            model: &*app.model,
            settings: &settings,
        };
        wait(engine.retrieve(&params, &progress)).map_err(|e| e.to_string())
    })
    .await
    .map_err(|e| e.to_string())?
}

/// Retrieval without progress notes; a failure is a 500.
async fn retrieved(
    app: &Arc<App>,
    ws: &Arc<Workspace>,
    params: &QueryParams,
) -> Result<Retrieval, ApiError> {
    retrieve(app, ws, params.clone(), |_| {})
        .await
        .map_err(|e| ApiError::internal(&e))
}

/// `references` as the query routes return them (chunk contents only on request).
fn references(retrieval: &Retrieval, with_content: bool) -> Value {
    retrieval
        .references
        .iter()
        .map(|r| {
            let mut item = json!({"reference_id": r.reference_id, "file_path": r.file_path});
            if with_content {
                item["content"] = retrieval
                    .chunks
                    .iter()
                    .filter(|c| c.reference_id == r.reference_id)
                    .map(|c| Value::from(c.content.clone()))
                    .collect();
            }
            item
        })
        .collect()
}

/// How the answer is produced.
enum Answer {
    /// Not from the model (no context, context or prompt only).
    Fixed(String),
    /// From the answer cache.
    Cached(String),
    /// From the model; cached once complete.
    Generated(TextStream, Option<CacheSlot>),
}

/// Where a generated answer is cached once it is complete.
pub(crate) struct CacheSlot {
    ws: Arc<Workspace>,
    key: String,
    mode: Mode,
}

impl CacheSlot {
    /// Stores a complete answer (an empty one is not worth keeping).
    pub(crate) async fn remember(self, text: &str) {
        if text.trim().is_empty() {
            return;
        }
        let CacheSlot { ws, key, mode } = self;
        let value = json!({"return": text, "cache_type": "query", "mode": mode.as_str()});
        if let Err(e) = super::documents::blocking(&ws, move |ws| {
            ws.storage
                .kv_upsert(KvNamespace::LlmResponseCache, &[(key, value)])
        })
        .await
        {
            tracing::warn!(detail = ?e.detail, "query answer not cached");
        }
    }
}

/// A generated answer in full, cached when it has a slot.
pub(crate) async fn complete(
    stream: TextStream,
    cache: Option<CacheSlot>,
) -> Result<String, ModelError> {
    let text = collect(stream).await?;
    if let Some(cache) = cache {
        cache.remember(&text).await;
    }
    Ok(text)
}

fn cache_key(app: &App, request: &QueryRequest, params: &QueryParams) -> String {
    let llm = &app.settings.models.llm;
    let history: Vec<(&str, &str)> = request
        .conversation_history
        .iter()
        .map(|m| (m.role.as_str(), m.content.as_str()))
        .collect();
    let identity = json!([
        params.mode.as_str(),
        params.query,
        params.response_type,
        params.top_k,
        params.chunk_top_k,
        params.max_entity_tokens,
        params.max_relation_tokens,
        params.max_total_tokens,
        params.hl_keywords,
        params.ll_keywords,
        params.user_prompt,
        history,
        llm.binding.name(),
        llm.model,
    ]);
    format!(
        "query:{}:{}",
        params.mode.as_str(),
        ids::md5_hex(identity.to_string().as_bytes())
    )
}

async fn answer(
    app: &Arc<App>,
    ws: &Arc<Workspace>,
    request: &QueryRequest,
    params: &QueryParams,
    retrieval: &Retrieval,
) -> Result<Answer, ApiError> {
    let bypass = params.mode == Mode::Bypass;
    if !bypass && retrieval.is_empty() {
        return Ok(Answer::Fixed(prompts::FAIL_RESPONSE.to_owned()));
    }
    let context = (!bypass).then(|| render_context(params.mode, retrieval));
    if request.only_need_context {
        return Ok(Answer::Fixed(context.unwrap_or_default()));
    }
    let system = context.map(|context| system_prompt(params, &context));
    if request.only_need_prompt {
        return Ok(Answer::Fixed(prompt_text(
            system.as_deref().unwrap_or_default(),
            &params.query,
        )));
    }
    let key = app
        .settings
        .query
        .enable_llm_cache
        .then(|| cache_key(app, request, params));
    if let Some(key) = key.clone() {
        let cached = super::documents::blocking(ws, move |ws| {
            ws.storage.kv_get(KvNamespace::LlmResponseCache, &key)
        })
        .await?;
        if let Some(text) = cached.and_then(|c| c.get("return")?.as_str().map(str::to_owned)) {
            return Ok(Answer::Cached(text));
        }
    }
    let cache = key.map(|key| CacheSlot {
        ws: ws.clone(),
        key,
        mode: params.mode,
    });
    let stream = app
        .model
        .chat(messages(
            system,
            &request.conversation_history,
            &params.query,
        ))
        .await
        .map_err(|e| ApiError::internal(&e))?;
    Ok(Answer::Generated(stream, cache))
}

/// A RAG answer for another front end: whole, or a model stream to relay (and cache
/// under `cache` once complete).
pub(crate) enum Reply {
    Whole(String),
    Stream {
        stream: TextStream,
        cache: Option<CacheSlot>,
    },
}

pub(crate) async fn reply(
    app: &Arc<App>,
    ws: &Arc<Workspace>,
    request: &QueryRequest,
) -> Result<Reply, ApiError> {
    let params = params(app, request);
    tracing::info!(
        mode = %params.mode.as_str(),
        only_need_context = request.only_need_context,
        "rag query"
    );
    let retrieval = retrieved(app, ws, &params).await?;
    Ok(match answer(app, ws, request, &params, &retrieval).await? {
        Answer::Fixed(text) | Answer::Cached(text) => Reply::Whole(text),
        Answer::Generated(stream, cache) => Reply::Stream { stream, cache },
    })
}

fn seconds_since(started: Instant) -> f64 {
    (started.elapsed().as_secs_f64() * 1000.0).round() / 1000.0
}

/// Ask a question; the whole answer in one JSON object.
#[utoipa::path(post, path = "/query", tag = "query",
    responses((status = 200, description = "{response, references, response_time, llm_generated}"), (status = 422)))]
pub async fn query(
    State(app): State<Arc<App>>,
    Ws(ws): Ws,
    req: Request,
) -> Result<Json<Value>, ApiError> {
    let started = Instant::now();
    let request = read(req).await?;
    let params = params(&app, &request);
    let retrieval = retrieved(&app, &ws, &params).await?;
    let (response, llm_generated) = match answer(&app, &ws, &request, &params, &retrieval).await? {
        Answer::Fixed(text) => (text, false),
        Answer::Cached(text) => (text, true),
        Answer::Generated(stream, cache) => {
            let text = complete(stream, cache)
                .await
                .map_err(|e| ApiError::internal(&e))?;
            if text.trim().is_empty() {
                (EMPTY_ANSWER.to_owned(), false)
            } else {
                (text, true)
            }
        }
    };
    tracing::info!(
        mode = %params.mode.as_str(),
        chunks = retrieval.chunks.len(),
        llm_generated,
        elapsed_ms = started.elapsed().as_millis() as u64,
        "query answered"
    );
    Ok(Json(json!({
        "response": response,
        "references": request.include_references.then(|| references(&retrieval, request.include_chunk_content)),
        "response_time": seconds_since(started),
        "llm_generated": llm_generated,
    })))
}

/// Everything after the headers of a `/query/stream` answer.
async fn stream_answer(
    app: Arc<App>,
    ws: Arc<Workspace>,
    request: QueryRequest,
    params: QueryParams,
    retrieval: Option<Retrieval>,
    lines: Lines,
    started: Instant,
) {
    let progress_lines = lines.clone();
    let retrieval = match retrieval {
        Some(r) => r,
        None => {
            let progress =
                move |step: &'static str| progress_lines.try_send(json!({"progress": step}));
            match retrieve(&app, &ws, params.clone(), progress).await {
                Ok(r) => r,
                Err(error) => {
                    lines.send(json!({"error": error})).await;
                    return;
                }
            }
        }
    };
    let refs = request
        .include_references
        .then(|| references(&retrieval, request.include_chunk_content));
    if request.include_progress && !lines.send(json!({"progress": PROGRESS_GENERATING})).await {
        return;
    }
    let single = |text: String, llm_generated: bool| {
        let mut line = json!({"response": text, "llm_generated": llm_generated});
        if let Some(refs) = &refs {
            line["references"] = refs.clone();
        }
        line
    };
    let answer = match answer(&app, &ws, &request, &params, &retrieval).await {
        Ok(a) => a,
        Err(e) => {
            lines.send(json!({"error": e.detail})).await;
            return;
        }
    };
    let delivered = match answer {
        Answer::Fixed(text) => lines.send(single(text, false)).await,
        Answer::Cached(text) => lines.send(single(text, true)).await,
        Answer::Generated(stream, cache) if request.stream == Some(false) => {
            match complete(stream, cache).await {
                Ok(text) => lines.send(single(text, true)).await,
                Err(e) => lines.send(json!({"error": e.to_string()})).await,
            }
        }
        Answer::Generated(stream, cache) => {
            if let Some(refs) = &refs
                && !lines.send(json!({"references": refs})).await
            {
                return;
            }
            match lines
                .relay(stream, |piece| json!({"response": piece}))
                .await
            {
                Relayed::Complete(text) => {
                    if let Some(cache) = cache {
                        cache.remember(&text).await;
                    }
                    true
                }
                Relayed::Failed(e, _) => {
                    lines.send(json!({"error": e.to_string()})).await;
                    return;
                }
                Relayed::Gone => {
                    tracing::info!(mode = %params.mode.as_str(), "client disconnected; generation stopped");
                    return;
                }
            }
        }
    };
    if delivered && request.include_progress {
        lines
            .send(json!({"response_time": seconds_since(started)}))
            .await;
    }
}

/// Ask a question; the answer as newline-delimited JSON, streamed as it is generated.
#[utoipa::path(post, path = "/query/stream", tag = "query",
    responses((status = 200, content_type = "application/x-ndjson"), (status = 422)))]
pub async fn query_stream(
    State(app): State<Arc<App>>,
    Ws(ws): Ws,
    req: Request,
) -> Result<Response, ApiError> {
    let started = Instant::now();
    let closing = ndjson::closing(req.headers());
    let request = read(req).await?;
    let params = params(&app, &request);
    // Without progress lines, retrieval errors are still a plain 500.
    let retrieval = if request.include_progress {
        None
    } else {
        Some(retrieved(&app, &ws, &params).await?)
    };
    let (lines, response) = ndjson::channel(closing, ndjson::Encoding::Ascii);
    tokio::spawn(stream_answer(
        app, ws, request, params, retrieval, lines, started,
    ));
    Ok(response)
}

/// `/query/data`'s own 400 for what the other routes answer 422.
fn data_failure(error: ApiError) -> Response {
    let details = match error.detail.as_array() {
        Some(items) => items
            .iter()
            .map(|e| {
                let loc: Vec<String> = e["loc"]
                    .as_array()
                    .map(|l| {
                        l.iter()
                            .skip(1)
                            .map(|p| p.as_str().map_or_else(|| p.to_string(), str::to_owned))
                            .collect()
                    })
                    .unwrap_or_default();
                format!(
                    "{}: {}",
                    loc.join("."),
                    e["msg"].as_str().unwrap_or_default()
                )
            })
            .collect::<Vec<_>>()
            .join("; "),
        None => return error.into_response(),
    };
    (
        StatusCode::BAD_REQUEST,
        Json(json!({"status": "failure", "message": format!("Validation error: {details}"), "data": {}, "metadata": {}})),
    )
        .into_response()
}

/// What retrieval finds for a question (entities, relations, chunks, references), with
/// no answer generated.
#[utoipa::path(post, path = "/query/data", tag = "query",
    responses((status = 200, description = "{status, message, data, metadata}"), (status = 400)))]
pub async fn query_data(
    State(app): State<Arc<App>>,
    Ws(ws): Ws,
    req: Request,
) -> Result<Response, ApiError> {
    let request = match read(req).await {
        Ok(r) => r,
        Err(e) if e.status == StatusCode::UNPROCESSABLE_ENTITY => return Ok(data_failure(e)),
        Err(e) => return Err(e),
    };
    let params = params(&app, &request);
    let retrieval = retrieved(&app, &ws, &params).await?;
    let references = references(&retrieval, false);
    Ok(Json(json!({
        "status": "success",
        "message": "Query executed successfully",
        "data": {
            "entities": retrieval.entities,
            "relationships": retrieval.relations,
            "chunks": retrieval.chunks,
            "references": references,
        },
        "metadata": {
            "query_mode": params.mode.as_str(),
            "keywords": {
                "high_level": retrieval.keywords.high_level,
                "low_level": retrieval.keywords.low_level,
            },
            "processing_info": retrieval.info,
        },
    }))
    .into_response())
}
