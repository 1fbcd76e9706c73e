//! `POST /query`, `/query/stream` and `/query/data`: the HTTP side only. A request is
//! validated ([`request`]), turned into the engine's question with the server's
//! defaults, and answered by the engine's one answer path
//! ([`lightrag_engine::query::answer`]); these routes shape what comes back as JSON or
//! NDJSON ([`stream`]) and map engine failures by kind.

mod request;
mod stream;

pub(crate) use request::QueryRequest;

use std::sync::Arc;
use std::time::Instant;

use axum::Json;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use lightrag_engine::llm::collect;
use lightrag_engine::query::answer::{
    Answer, AnswerRequest, AnswerSettings, Answered, Answerer, CachedModel,
};
use lightrag_engine::query::{ChunkPick, QueryParams, Retrieval, RetrievalSettings};
use serde_json::{Value, json};

use super::ndjson;
use crate::app::App;
use crate::error::ApiError;
use crate::extract;
use crate::workspace::Ws;
use lightrag_engine::workspace::Workspace;

/// LightRAG's answer when the model returned nothing.
const EMPTY_ANSWER: &str = "No relevant context found for the query.";
const DEFAULT_RESPONSE_TYPE: &str = "Multiple Paragraphs";

async fn read(req: Request) -> Result<QueryRequest, ApiError> {
    let body = extract::json_object(req).await?;
    request::parse(&body).map_err(ApiError::validation)
}

fn params(app: &App, r: &QueryRequest) -> QueryParams {
    let q = &app.settings.query;
    // LightRAG joins them verbatim: the prefix's own trailing newlines separate them.
    let prefix = app
        .settings
        .prompts
        .user_prompt_prefix
        .as_deref()
        .filter(|_| !r.disable_user_prompt_prefix)
        .unwrap_or_default();
    let user_prompt = format!("{prefix}{}", r.user_prompt.as_deref().unwrap_or_default());
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
        enable_rerank: r.enable_rerank.unwrap_or(app.settings.rerank.by_default),
    }
}

/// The engine's answer path for `ws`, with this server's models and settings.
pub(crate) fn answerer(app: &App, ws: &Arc<Workspace>) -> Answerer {
    let q = &app.settings.query;
    let llm = &app.settings.models.query;
    Answerer {
        stores: ws.clone(),
        model: app.model.clone(),
        embedder: app.embedder.clone(),
        reranker: app.reranker.clone(),
        settings: Arc::new(AnswerSettings {
            retrieval: RetrievalSettings {
                cosine_threshold: q.cosine_threshold,
                related_chunk_number: q.related_chunk_number,
                chunk_pick: if q.pick_chunks_by_weight {
                    ChunkPick::Weight
                } else {
                    ChunkPick::Vector
                },
                language: app.settings.indexing.summary_language.clone(),
                content_headings: q.content_headings,
                min_rerank_score: app.settings.rerank.min_score,
            },
            cache: q.enable_llm_cache.then(|| CachedModel {
                binding: llm.binding.name().to_owned(),
                model: llm.model.clone(),
            }),
        }),
    }
}

/// The question of a validated request, as the engine takes it.
pub(crate) fn answer_request(app: &App, r: &QueryRequest) -> AnswerRequest {
    AnswerRequest {
        params: params(app, r),
        history: r.conversation_history.clone(),
        only_need_context: r.only_need_context,
        only_need_prompt: r.only_need_prompt,
    }
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
    let Answered { retrieval, answer } = answerer(&app, &ws)
        .answer(answer_request(&app, &request), |_| {})
        .await
        .map_err(|e| ApiError::engine(&e))?;
    let (response, llm_generated) = match answer {
        Answer::Fixed(text) => (text, false),
        Answer::Cached(text) => (text, true),
        Answer::Generated(stream) => {
            let text = collect(stream).await.map_err(|e| ApiError::engine(&e))?;
            if text.trim().is_empty() {
                (EMPTY_ANSWER.to_owned(), false)
            } else {
                (text, true)
            }
        }
    };
    tracing::info!(
        mode = %request.mode.as_str(),
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
    let question = answer_request(&app, &request);
    stream::respond(answerer(&app, &ws), question, request, closing, started).await
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
    let retrieval = answerer(&app, &ws)
        .retrieve(params(&app, &request), |_| {})
        .await
        .map_err(|e| ApiError::engine(&e))?;
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
            "query_mode": request.mode.as_str(),
            "keywords": {
                "high_level": retrieval.keywords.high_level,
                "low_level": retrieval.keywords.low_level,
            },
            "processing_info": retrieval.info,
        },
    }))
    .into_response())
}
