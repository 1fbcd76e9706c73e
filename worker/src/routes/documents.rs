//! `/documents` routes. So far the read-only ones over the document status store:
//! `GET /documents/status_counts` and `GET /documents/track_status/{track_id}`.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use http::StatusCode;
use lightrag_engine::storage::{DocStatusRecord, DocStatusStorage};
use serde::Serialize;
use utoipa::ToSchema;

use crate::app::App;
use crate::error::ApiError;

/// LightRAG's `DocStatusResponse`.
#[derive(Serialize, ToSchema)]
pub struct DocStatusResponse {
    id: String,
    content_summary: String,
    content_length: usize,
    status: String,
    created_at: String,
    updated_at: String,
    track_id: Option<String>,
    chunks_count: Option<usize>,
    error_msg: Option<String>,
    metadata: Option<serde_json::Value>,
    file_path: String,
}

impl From<DocStatusRecord> for DocStatusResponse {
    fn from(d: DocStatusRecord) -> Self {
        DocStatusResponse {
            id: d.id,
            content_summary: d.content_summary,
            content_length: d.content_length,
            status: d.status,
            created_at: d.created_at,
            updated_at: d.updated_at,
            track_id: d.track_id,
            chunks_count: d.chunks_count,
            error_msg: d.error_msg,
            metadata: (!d.metadata.is_null()).then_some(d.metadata),
            file_path: d.file_path,
        }
    }
}

/// Runs a blocking storage call off the async threads; storage errors are 500s.
async fn blocking<T: Send + 'static>(
    app: &Arc<App>,
    f: impl FnOnce(&App) -> lightrag_engine::storage::Result<T> + Send + 'static,
) -> Result<T, ApiError> {
    let app = app.clone();
    tokio::task::spawn_blocking(move || f(&app))
        .await
        .map_err(|e| ApiError::internal(&e))?
        .map_err(|e| ApiError::internal(&e))
}

#[derive(Serialize, ToSchema)]
pub struct StatusCounts {
    /// Documents per status, plus `all`.
    status_counts: BTreeMap<String, usize>,
}

/// How many documents are in each status.
#[utoipa::path(get, path = "/documents/status_counts", tag = "documents",
    responses((status = 200, body = StatusCounts)))]
pub async fn status_counts(State(app): State<Arc<App>>) -> Result<Json<StatusCounts>, ApiError> {
    let counts = blocking(&app, |app| app.storage.status_counts()).await?;
    let all = counts.iter().map(|(_, n)| n).sum();
    let mut status_counts: BTreeMap<String, usize> = counts.into_iter().collect();
    status_counts.insert("all".to_owned(), all);
    Ok(Json(StatusCounts { status_counts }))
}

#[derive(Serialize, ToSchema)]
pub struct TrackStatus {
    track_id: String,
    documents: Vec<DocStatusResponse>,
    total_count: usize,
    status_summary: BTreeMap<String, usize>,
}

/// Every document accepted under one track id.
#[utoipa::path(get, path = "/documents/track_status/{track_id}", tag = "documents",
    params(("track_id" = String, Path)),
    responses((status = 200, body = TrackStatus), (status = 400, description = "Track ID cannot be empty")))]
pub async fn track_status(
    State(app): State<Arc<App>>,
    Path(track_id): Path<String>,
) -> Result<Json<TrackStatus>, ApiError> {
    let track_id = track_id.trim().to_owned();
    if track_id.is_empty() {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "Track ID cannot be empty",
        ));
    }
    let id = track_id.clone();
    let docs = blocking(&app, move |app| app.storage.docs_with_track_id(&id)).await?;
    let mut status_summary = BTreeMap::new();
    for doc in &docs {
        *status_summary.entry(doc.status.clone()).or_insert(0) += 1;
    }
    Ok(Json(TrackStatus {
        track_id,
        total_count: docs.len(),
        documents: docs.into_iter().map(Into::into).collect(),
        status_summary,
    }))
}
