//! `/documents` routes: reading the document status store and the pipeline status,
//! clearing, cancelling and retrying; texts ([`insert`]), uploads, scans, deletion and
//! the recovery routes have modules of their own. The lifecycle itself is the engine's
//! (`lightrag_engine::documents`); these routes validate, call it and shape answers.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Request, State};
use lightrag_engine::documents::maintenance;
use lightrag_engine::storage::{
    DocPageQuery, DocSort, DocStatus, DocStatusRecord, KvNamespace, StorageError,
};
use lightrag_engine::workspace::Workspace;
use serde::Serialize;
use utoipa::ToSchema;

use crate::app::App;
use crate::error::ApiError;
use crate::extract::{self, PathText};
use crate::validate::Body;
use crate::workspace::Ws;
use lightrag_engine::error::Kind;

mod chunking;
pub mod deletion;
pub mod insert;
pub mod recovery;
pub mod scan;
pub mod upload;

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
            status: d.status.as_str().to_owned(),
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

/// Runs a blocking engine call off the async threads; its errors are answered by kind.
pub(crate) async fn blocking<T: Send + 'static, E: Kind + std::fmt::Display + Send + 'static>(
    ws: &Arc<Workspace>,
    f: impl FnOnce(&Workspace) -> Result<T, E> + Send + 'static,
) -> Result<T, ApiError> {
    let ws = ws.clone();
    tokio::task::spawn_blocking(move || f(&ws))
        .await
        .map_err(|e| ApiError::internal(&e))?
        .map_err(|e| ApiError::engine(&e))
}

/// Counts per status plus their sum under `all`, as LightRAG reports them.
fn with_all(counts: Vec<(DocStatus, usize)>) -> BTreeMap<String, usize> {
    let all = counts.iter().map(|(_, n)| n).sum();
    let mut map: BTreeMap<String, usize> = counts
        .into_iter()
        .map(|(status, n)| (status.as_str().to_owned(), n))
        .collect();
    map.insert("all".to_owned(), all);
    map
}

#[derive(Serialize, ToSchema)]
pub struct StatusCounts {
    /// Documents per status, plus `all`.
    status_counts: BTreeMap<String, usize>,
}

/// How many documents are in each status.
#[utoipa::path(get, path = "/documents/status_counts", tag = "documents",
    responses((status = 200, body = StatusCounts)))]
pub async fn status_counts(Ws(ws): Ws) -> Result<Json<StatusCounts>, ApiError> {
    let counts = blocking(&ws, |ws| ws.storage.status_counts()).await?;
    Ok(Json(StatusCounts {
        status_counts: with_all(counts),
    }))
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
    Ws(ws): Ws,
    PathText(track_id): PathText,
) -> Result<Json<TrackStatus>, ApiError> {
    let track_id = track_id.trim().to_owned();
    if track_id.is_empty() {
        return Err(ApiError::bad_request("Track ID cannot be empty"));
    }
    let id = track_id.clone();
    let docs = blocking(&ws, move |ws| ws.storage.docs_with_track_id(&id)).await?;
    let mut status_summary = BTreeMap::new();
    for doc in &docs {
        *status_summary
            .entry(doc.status.as_str().to_owned())
            .or_insert(0) += 1;
    }
    Ok(Json(TrackStatus {
        track_id,
        total_count: docs.len(),
        documents: docs.into_iter().map(Into::into).collect(),
        status_summary,
    }))
}

#[derive(Serialize, ToSchema)]
pub struct Pagination {
    page: usize,
    page_size: usize,
    total_count: usize,
    total_pages: usize,
    has_next: bool,
    has_prev: bool,
}

#[derive(Serialize, ToSchema)]
pub struct DocumentsPage {
    documents: Vec<DocStatusResponse>,
    pagination: Pagination,
    status_counts: BTreeMap<String, usize>,
}

fn status_value(
    body: Body<'_>,
    value: &serde_json::Value,
    field: &str,
) -> Result<DocStatus, ApiError> {
    value.as_str().and_then(DocStatus::parse).ok_or_else(|| {
        body.invalid(
            field,
            "enum",
            &format!(
                "Input should be {}",
                DocStatus::ALL.map(|s| format!("'{s}'")).join(", ")
            ),
            value,
        )
    })
}

/// One page of documents, filtered by status and sorted, with the counts per status.
#[utoipa::path(post, path = "/documents/paginated", tag = "documents",
    responses((status = 200, body = DocumentsPage), (status = 422)))]
pub async fn paginated(Ws(ws): Ws, req: Request) -> Result<Json<DocumentsPage>, ApiError> {
    let object = extract::json_object(req).await?;
    let body = Body(&object);
    let page = body.integer("page", 1, 1, usize::MAX)?;
    let page_size = body.integer("page_size", 50, 10, 200)?;
    let statuses = match (
        body.optional("status_filters"),
        body.optional("status_filter"),
    ) {
        (Some(_), _) => body
            .list("status_filters")?
            .iter()
            .map(|v| status_value(body, v, "status_filters"))
            .collect::<Result<Vec<_>, _>>()?,
        (None, Some(one)) => vec![status_value(body, one, "status_filter")?],
        (None, None) => Vec::new(),
    };
    let sort_value = object
        .get("sort_field")
        .cloned()
        .unwrap_or_else(|| "updated_at".into());
    let sort = sort_value
        .as_str()
        .and_then(DocSort::parse)
        .ok_or_else(|| {
            body.invalid(
                "sort_field",
                "literal_error",
                "Input should be 'created_at', 'updated_at', 'id' or 'file_path'",
                &sort_value,
            )
        })?;
    let direction = object
        .get("sort_direction")
        .cloned()
        .unwrap_or_else(|| "desc".into());
    let descending = match direction.as_str() {
        Some("desc") => true,
        Some("asc") => false,
        _ => {
            return Err(body.invalid(
                "sort_direction",
                "literal_error",
                "Input should be 'asc' or 'desc'",
                &direction,
            ));
        }
    };
    let query = DocPageQuery {
        statuses,
        sort,
        descending,
        offset: (page - 1).saturating_mul(page_size),
        limit: page_size,
    };
    let ((docs, total), counts) = blocking(&ws, move |ws| {
        Ok::<_, StorageError>((ws.storage.docs_page(&query)?, ws.storage.status_counts()?))
    })
    .await?;
    let total_pages = total.div_ceil(page_size);
    Ok(Json(DocumentsPage {
        documents: docs.into_iter().map(Into::into).collect(),
        pagination: Pagination {
            page,
            page_size,
            total_count: total,
            total_pages,
            has_next: page < total_pages,
            has_prev: page > 1,
        },
        status_counts: with_all(counts),
    }))
}

#[derive(Serialize, ToSchema)]
pub struct PipelineStatusResponse {
    busy: bool,
    job_name: String,
    job_start: Option<String>,
    docs: u32,
    batchs: u32,
    cur_batch: u32,
    latest_message: String,
    history_messages: Vec<String>,
    /// LightRAG's per-namespace worker flags; ours live in shared memory and need no
    /// flushing, so there is nothing to report.
    update_status: BTreeMap<String, Vec<bool>>,
    cancellation_requested: bool,
    recovery_required: bool,
    recovery_kind: Option<String>,
    recovery_message: Option<String>,
}

/// The document pipeline's state, identical from every worker.
#[utoipa::path(get, path = "/documents/pipeline_status", tag = "documents",
    responses((status = 200, body = PipelineStatusResponse)))]
pub async fn pipeline_status(Ws(ws): Ws) -> Result<Json<PipelineStatusResponse>, ApiError> {
    let (s, recovery) = blocking(&ws, |ws| {
        Ok::<_, StorageError>((
            maintenance::pipeline_status(ws),
            maintenance::recovery_pending(ws)?,
        ))
    })
    .await?;
    Ok(Json(PipelineStatusResponse {
        busy: s.busy,
        job_name: s.job_name,
        job_start: s
            .job_start
            .and_then(|t| chrono::DateTime::from_timestamp(t, 0))
            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, false)),
        docs: s.docs,
        batchs: s.batchs,
        cur_batch: s.cur_batch,
        latest_message: s.latest_message,
        history_messages: s.history_messages,
        update_status: BTreeMap::new(),
        cancellation_requested: s.cancellation_requested,
        recovery_required: recovery.is_some(),
        recovery_kind: recovery.is_some().then(|| "delete".to_owned()),
        recovery_message: recovery,
    }))
}

#[derive(Serialize, ToSchema)]
pub struct StatusMessage {
    status: &'static str,
    message: String,
}

/// Empties the LLM response cache. The body must be a JSON object (send `{}`).
#[utoipa::path(post, path = "/documents/clear_cache", tag = "documents",
    responses((status = 200, body = StatusMessage), (status = 422)))]
pub async fn clear_cache(Ws(ws): Ws, req: Request) -> Result<Json<StatusMessage>, ApiError> {
    extract::json_object(req).await?;
    blocking(&ws, |ws| ws.storage.kv_drop(KvNamespace::LlmResponseCache)).await?;
    Ok(Json(StatusMessage {
        status: "success",
        message: "Successfully cleared all cache".to_owned(),
    }))
}

/// Clears every document, chunk, vector and the graph; refused with `busy` (200) while
/// the pipeline runs on any worker.
#[utoipa::path(delete, path = "/documents", tag = "documents",
    responses((status = 200, body = StatusMessage)))]
pub async fn clear_documents(Ws(ws): Ws) -> Result<Json<StatusMessage>, ApiError> {
    let answer = tokio::task::spawn_blocking(move || {
        // Holding the pipeline claim keeps every worker's pipeline out meanwhile.
        let Some(claim) = ws.claim() else {
            return StatusMessage {
                status: "busy",
                message: "Cannot clear documents while pipeline is busy".to_owned(),
            };
        };
        let outcome = maintenance::clear_everything(&ws);
        drop(claim);
        match outcome {
            Ok(files) => StatusMessage {
                status: "success",
                message: format!("All documents cleared successfully. Deleted {files} files."),
            },
            Err(error) => {
                tracing::error!(%error, "clearing documents failed");
                StatusMessage {
                    status: "fail",
                    message: format!("Error clearing documents: {error}"),
                }
            }
        }
    })
    .await
    .map_err(|e| ApiError::internal(&e))?;
    Ok(Json(answer))
}

/// Stops the running pipeline after its current document; what it did not finish is
/// marked failed ("User cancelled").
#[utoipa::path(post, path = "/documents/cancel_pipeline", tag = "documents",
    responses((status = 200, body = StatusMessage)))]
pub async fn cancel_pipeline(Ws(ws): Ws) -> Json<StatusMessage> {
    if maintenance::cancel(&ws) {
        Json(StatusMessage {
            status: "cancellation_requested",
            message:
                "Pipeline cancellation has been requested. Documents will be marked as FAILED."
                    .to_owned(),
        })
    } else {
        Json(StatusMessage {
            status: "not_busy",
            message: "Pipeline is not currently running. No cancellation needed.".to_owned(),
        })
    }
}

#[derive(Serialize, ToSchema)]
pub struct ReprocessResponse {
    status: &'static str,
    message: String,
    track_id: &'static str,
}

/// Gives every failed document another run (they keep their track ids); pending and
/// interrupted documents are picked up anyway.
#[utoipa::path(post, path = "/documents/reprocess_failed", tag = "documents",
    responses((status = 200, body = ReprocessResponse)))]
pub async fn reprocess_failed(
    State(app): State<Arc<App>>,
    Ws(ws): Ws,
) -> Result<Json<ReprocessResponse>, ApiError> {
    let retried = blocking(&ws, maintenance::retry_failed).await?;
    app.pipeline_wake.notify_one();
    Ok(Json(ReprocessResponse {
        status: "reprocessing_started",
        message: format!(
            "Reprocessing of {retried} failed document(s) has been initiated in background."
        ),
        track_id: "",
    }))
}
