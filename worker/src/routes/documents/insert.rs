//! `POST /documents/text` and `/documents/texts`: texts validated here (LightRAG's
//! field rules and messages) and handed to the engine's intake, which records them
//! durably as pending before the answer; the pipeline indexes them.

use std::collections::HashSet;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Request, State};
use http::StatusCode;
use lightrag_engine::documents::{Incoming, intake};
use lightrag_engine::ids;
use lightrag_engine::storage::{ChunkingRequest, FullDoc};
use lightrag_engine::workspace::Workspace;
use serde::Serialize;
use utoipa::ToSchema;

use super::{blocking, chunking};
use crate::app::App;
use crate::error::ApiError;
use crate::extract;
use crate::validate::Body;
use crate::workspace::Ws;

#[derive(Serialize, ToSchema)]
pub struct InsertResponse {
    pub(super) status: &'static str,
    pub(super) message: String,
    pub(super) track_id: String,
}

const NO_SOURCE: &str = "A valid file_source is required for text insertion";
const NO_SOURCES: &str = "A valid file_source is required for each text";

/// The canonical source name: the basename, or `None` when there is no usable one.
fn canonical_source(source: &str) -> Option<String> {
    let base = source
        .trim()
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or_default()
        .trim();
    (!base.is_empty() && base != "unknown_source").then(|| base.to_owned())
}

fn text_at(value: &serde_json::Value, loc: Vec<serde_json::Value>) -> Result<String, ApiError> {
    let Some(text) = value.as_str() else {
        return Err(ApiError::invalid(
            loc,
            "string_type",
            "Input should be a valid string",
            value.clone(),
        ));
    };
    let text = text.trim();
    if text.is_empty() {
        return Err(ApiError::invalid(
            loc,
            "value_error",
            "Value error, Text cannot be empty",
            value.clone(),
        ));
    }
    Ok(text.to_owned())
}

fn source_at(
    value: Option<&serde_json::Value>,
    loc: Vec<serde_json::Value>,
    refusal: &str,
) -> Result<String, ApiError> {
    let raw = value.and_then(|v| v.as_str()).unwrap_or_default();
    if raw.chars().any(|c| c.is_control()) {
        return Err(ApiError::invalid(
            loc,
            "value_error",
            "Value error, file_source contains control characters",
            raw.into(),
        ));
    }
    canonical_source(raw).ok_or_else(|| ApiError::bad_request(refusal))
}

fn text_document(text: String, source: String, chunking: Option<ChunkingRequest>) -> Incoming {
    Incoming {
        full_doc: FullDoc::text(text, source.clone(), chunking),
        source,
    }
}

/// Records the documents durably as pending (committed before the answer) unless one
/// of their names is already known (409), and wakes the pipeline; returns the new
/// track id.
pub(super) async fn accept(
    app: &App,
    ws: &Arc<Workspace>,
    kind: ids::TrackKind,
    docs: Vec<Incoming>,
) -> Result<String, ApiError> {
    let track_id = ids::track_id(kind, chrono::Utc::now());
    let track = track_id.clone();
    let max_pending = app.settings.api.max_pending_documents;
    blocking(ws, move |ws| intake::accept(ws, max_pending, &track, &docs)).await?;
    app.pipeline_wake.notify_one();
    Ok(track_id)
}

/// Insert one text; it is indexed in the background.
#[utoipa::path(post, path = "/documents/text", tag = "documents",
    responses((status = 200, body = InsertResponse), (status = 400), (status = 409), (status = 422)))]
pub async fn insert_text(
    State(app): State<Arc<App>>,
    Ws(ws): Ws,
    req: Request,
) -> Result<Json<InsertResponse>, ApiError> {
    let body = extract::json_object(req).await?;
    let text = text_at(
        Body(&body).required("text")?,
        vec!["body".into(), "text".into()],
    )?;
    let source = source_at(
        body.get("file_source"),
        vec!["body".into(), "file_source".into()],
        NO_SOURCE,
    )?;
    let chunking = chunking::parse(&body)?;
    let track_id = accept(
        &app,
        &ws,
        ids::TrackKind::Insert,
        vec![text_document(text, source, chunking)],
    )
    .await?;
    Ok(Json(InsertResponse {
        status: "success",
        message: "Text successfully received. Processing will continue in background.".to_owned(),
        track_id,
    }))
}

/// The documents of a `/documents/texts` body, validated in one pass (the source names'
/// uniqueness through a set). Parsing and checking up to 50 MiB of texts is CPU work,
/// done off the reactor.
fn texts_of(
    body: &serde_json::Map<String, serde_json::Value>,
    max: usize,
) -> Result<Vec<Incoming>, ApiError> {
    let texts = Body(body).required("texts")?;
    let Some(texts) = texts.as_array().filter(|t| !t.is_empty()) else {
        return Err(ApiError::invalid(
            vec!["body".into(), "texts".into()],
            "too_short",
            "List should have at least 1 item after validation, not 0",
            texts.clone(),
        ));
    };
    if max > 0 && texts.len() > max {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "Too many texts in one request: {} (maximum {max}). Split them over several requests (MAX_TEXTS_PER_REQUEST).",
                texts.len()
            ),
        ));
    }
    let sources = body.get("file_sources").and_then(|s| s.as_array());
    let Some(sources) = sources.filter(|s| s.len() == texts.len()) else {
        return Err(ApiError::bad_request(NO_SOURCES));
    };
    let chunking = chunking::parse(body)?;
    let mut accepted: Vec<Incoming> = Vec::with_capacity(texts.len());
    let mut seen = HashSet::with_capacity(texts.len());
    for (i, (text, source)) in texts.iter().zip(sources).enumerate() {
        let text = text_at(text, vec!["body".into(), "texts".into(), i.into()])?;
        let source = source_at(
            Some(source),
            vec!["body".into(), "file_sources".into(), i.into()],
            NO_SOURCES,
        )?;
        if !seen.insert(source.clone()) {
            return Err(ApiError::bad_request(
                "file_sources must be unique by filename",
            ));
        }
        accepted.push(text_document(text, source, chunking.clone()));
    }
    Ok(accepted)
}

/// Insert several texts, each with its own source name.
#[utoipa::path(post, path = "/documents/texts", tag = "documents",
    responses((status = 200, body = InsertResponse), (status = 400), (status = 409), (status = 413), (status = 422)))]
pub async fn insert_texts(
    State(app): State<Arc<App>>,
    Ws(ws): Ws,
    req: Request,
) -> Result<Json<InsertResponse>, ApiError> {
    let body = extract::body_bytes(req).await?;
    let max = app.settings.api.max_texts_per_request;
    let accepted =
        tokio::task::spawn_blocking(move || texts_of(&extract::json_object_of(&body)?, max))
            .await
            .map_err(|e| ApiError::internal(&e))??;
    let track_id = accept(&app, &ws, ids::TrackKind::Insert, accepted).await?;
    Ok(Json(InsertResponse {
        status: "success",
        message: "Texts successfully received. Processing will continue in background.".to_owned(),
        track_id,
    }))
}
