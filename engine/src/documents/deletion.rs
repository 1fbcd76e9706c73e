//! Deleting documents as one unit of work: the index data (chunks, vectors, the graph
//! elements only they supported; shared elements rebuilt once for the batch), their
//! content hashes, their status records and on request their files.
//!
//! A deletion is many writes. Before the first one a durable marker records what is
//! being deleted; it goes only once everything is done. What the remaining chunks say
//! about shared elements (the model's part) is worked out before anything is written,
//! so a failing model call leaves the documents as they were. A crash, or a failure
//! once the writes began, leaves the marker, from which the pipeline of any process
//! finishes the deletion ([`interrupted`], resumed by [`super::Pipeline::run`]).

use serde::{Deserialize, Serialize};

use crate::clock;
use crate::deletion::DeletionError;
use crate::ingest::Scheduling;
use crate::storage::{FullDoc, KvNamespace, Result, StorageError};
use crate::workspace::Workspace;

use super::{Pipeline, runner};

/// The marker's key: one deletion runs at a time per workspace (under its claim).
const MARKER: &str = "current";

/// What a deletion request asks for besides the index: the source files, the cached
/// extraction answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeletionRequest {
    pub doc_ids: Vec<String>,
    pub delete_file: bool,
    pub delete_llm_cache: bool,
}

/// The durable record of a deletion under way.
#[derive(Debug, Serialize, Deserialize)]
struct Marker {
    request: DeletionRequest,
    /// The documents' content-hash keys, read before their contents go.
    content_keys: Vec<String>,
}

fn marker(ws: &Workspace) -> Result<Option<Marker>> {
    ws.storage
        .kv_get(KvNamespace::Deletions, MARKER)?
        .map(serde_json::from_value)
        .transpose()
        .map_err(StorageError::from)
}

/// The deletion a crash interrupted in this workspace, if any.
pub fn interrupted(ws: &Workspace) -> Result<Option<DeletionRequest>> {
    Ok(marker(ws)?.map(|m| m.request))
}

/// The content-hash keys the documents hold (a text's key is released only by the
/// document it names).
fn content_keys(ws: &Workspace, ids: &[String]) -> Result<Vec<String>> {
    let mut keys = Vec::new();
    for id in ids {
        let Some(text) = FullDoc::get(&*ws.storage, id)?.and_then(|d| d.content) else {
            continue;
        };
        let key = runner::content_key(&text);
        let holder = ws.storage.kv_get(KvNamespace::ContentHashes, &key)?;
        if holder.is_some_and(|h| h["doc_id"] == id.as_str()) {
            keys.push(key);
        }
    }
    Ok(keys)
}

/// Deletes the documents; the caller holds the workspace's pipeline claim. Documents
/// not found are reported on the status board and skipped.
pub fn run(pipeline: &Pipeline, ws: &Workspace, request: &DeletionRequest) -> Result<()> {
    let board = &*ws.board;
    let mut known = Vec::new();
    for id in &request.doc_ids {
        match ws.storage.doc_get(id)? {
            Some(doc) => known.push(doc),
            None => board.message(&format!("Document {id} not found")),
        }
    }
    let total = known.len();
    board.start(
        &format!("Deleting {total} Documents"),
        total,
        clock::now_epoch_secs(),
    );
    let ids: Vec<String> = known.iter().map(|d| d.id.clone()).collect();
    // A resumed deletion keeps the keys it read before the contents went.
    let content_keys = match marker(ws)? {
        Some(resumed) => resumed.content_keys,
        None => content_keys(ws, &ids)?,
    };
    let record = Marker {
        request: DeletionRequest {
            doc_ids: ids.clone(),
            ..request.clone()
        },
        content_keys,
    };
    ws.storage.kv_upsert(
        KvNamespace::Deletions,
        &[(MARKER.to_owned(), serde_json::to_value(&record)?)],
    )?;
    let scheduling = Scheduling::new(pipeline.config.llm_concurrency);
    let outcome = pipeline.with_indexer(ws, &scheduling, |indexer| {
        indexer.delete_documents(&ids, request.delete_llm_cache)
    });
    match outcome {
        Ok(report) => {
            ws.storage
                .kv_delete(KvNamespace::ContentHashes, &record.content_keys)?;
            ws.storage.doc_delete(&ids)?;
            tracing::info!(
                workspace = %ws.name,
                documents = total,
                chunks = report.chunks,
                entities_removed = report.entities_removed,
                entities_rebuilt = report.entities_rebuilt,
                relations_removed = report.relations_removed,
                relations_rebuilt = report.relations_rebuilt,
                "documents deleted"
            );
            for doc in &known {
                board.message(&format!("Deleted document {} ({})", doc.id, doc.file_path));
                if request.delete_file {
                    ws.inputs.remove(&doc.file_path);
                } else {
                    ws.inputs.forget(&doc.file_path);
                }
            }
            board.message(&format!(
                "Deletion completed: {total} document(s), {} entities rebuilt, {} relations rebuilt",
                report.entities_rebuilt, report.relations_rebuilt
            ));
        }
        Err(DeletionError::Planning(error)) => {
            tracing::error!(workspace = %ws.name, %error, "document deletion failed; the documents are kept");
            board.message(&format!("Deletion failed: {error}"));
        }
        Err(DeletionError::Applying(error)) => {
            // Part of it is written: the marker stays and the pipeline finishes it.
            tracing::error!(workspace = %ws.name, %error, "document deletion interrupted; it will be resumed");
            board.message(&format!("Deletion interrupted, to be resumed: {error}"));
            board.finish();
            return Ok(());
        }
    }
    ws.storage
        .kv_delete(KvNamespace::Deletions, &[MARKER.to_owned()])?;
    board.finish();
    Ok(())
}
