//! `DELETE /documents/delete_document`: validated here, answered at once, carried out
//! in the background under the pipeline claim (so no ingestion interleaves with the
//! rebuild of shared entities), progress in the pipeline status.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Request, State};
use http::StatusCode;
use serde::Serialize;
use utoipa::ToSchema;

use lightrag_engine::documents::{DeletionRequest, deletion};

use crate::app::App;
use crate::error::ApiError;
use crate::extract;
use crate::validate::Body;
use crate::workspace::Ws;

#[derive(Serialize, ToSchema)]
pub struct DeleteDocResponse {
    status: &'static str,
    message: String,
    doc_id: String,
}

/// The ids to delete: at most `max` (MAX_DELETE_IDS_PER_REQUEST, 0: no limit), unique
/// (checked through a set, so 100 000 ids cost milliseconds).
fn doc_ids(body: Body<'_>, max: usize) -> Result<Vec<String>, ApiError> {
    let items = body.list("doc_ids")?;
    let value = body.required("doc_ids")?;
    let invalid = |msg: &str| body.invalid("doc_ids", "value_error", msg, value);
    if items.is_empty() {
        return Err(invalid("Value error, doc_ids cannot be empty"));
    }
    if max > 0 && items.len() > max {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "Too many document ids in one request: {} (maximum {max}). Split them over several requests (MAX_DELETE_IDS_PER_REQUEST).",
                items.len()
            ),
        ));
    }
    let mut ids: Vec<String> = Vec::with_capacity(items.len());
    let mut seen = std::collections::HashSet::with_capacity(items.len());
    for item in items {
        let Some(id) = item.as_str() else {
            return Err(body.invalid(
                "doc_ids",
                "string_type",
                "Input should be a valid string",
                item,
            ));
        };
        let id = id.trim();
        if id.is_empty() {
            return Err(invalid("Value error, doc_ids cannot contain empty strings"));
        }
        if !seen.insert(id) {
            return Err(invalid("Value error, doc_ids must be unique"));
        }
        ids.push(id.to_owned());
    }
    Ok(ids)
}

/// Delete documents with their chunks, vectors and graph pieces; entities and
/// relations other documents still support are rebuilt from what remains.
#[utoipa::path(delete, path = "/documents/delete_document", tag = "documents",
    responses((status = 200, body = DeleteDocResponse), (status = 413), (status = 422)))]
pub async fn delete_document(
    State(app): State<Arc<App>>,
    Ws(ws): Ws,
    req: Request,
) -> Result<Json<DeleteDocResponse>, ApiError> {
    let object = extract::json_object(req).await?;
    let body = Body(&object);
    let request = DeletionRequest {
        doc_ids: doc_ids(body, app.settings.api.max_delete_ids_per_request)?,
        delete_file: body.flag("delete_file", false)?,
        delete_llm_cache: body.flag("delete_llm_cache", false)?,
    };
    let doc_id = request.doc_ids.join(", ");
    let count = request.doc_ids.len();
    let started = tokio::task::spawn_blocking(move || {
        let Some(claim) = ws.claim() else {
            return false;
        };
        std::thread::spawn(move || {
            if let Err(error) = deletion::run(&app.pipeline, &ws, &request) {
                tracing::error!(workspace = %ws.name, %error, "document deletion failed");
            }
            drop(claim);
        });
        true
    })
    .await
    .map_err(|e| ApiError::internal(&e))?;
    Ok(Json(if started {
        DeleteDocResponse {
            status: "deletion_started",
            message: format!(
                "Document deletion for {count} document(s) has been initiated. Processing will continue in background."
            ),
            doc_id,
        }
    } else {
        DeleteDocResponse {
            status: "busy",
            message: "Cannot delete documents while pipeline is busy".to_owned(),
            doc_id,
        }
    }))
}
