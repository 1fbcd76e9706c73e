//! Whole-workspace operations on documents: clearing everything, giving failed
//! documents another run, cancelling a run, and reading the pipeline status truthfully
//! (a job whose process died is not reported busy).

use crate::clock;
use crate::coordination::Snapshot;
use crate::storage::{DocStatus, KvNamespace, Result, VectorNamespace};
use crate::workspace::Workspace;

/// Drops every store of the workspace derived from its documents (the LLM cache and
/// scan records stay) and deletes the files directly in its input directory; returns
/// how many files went. The caller holds the pipeline claim.
pub fn clear_everything(ws: &Workspace) -> Result<usize> {
    for ns in KvNamespace::DOCUMENT_DATA {
        ws.storage.kv_drop(ns)?;
    }
    ws.storage.graph_drop()?;
    // After the graph: a cache over it reads the generations first (see
    // `Generations`), so one that reads between a bump and the drop keeps a stale copy.
    for ns in VectorNamespace::ALL {
        ws.storage.vectors_drop(ns)?;
        ws.generations.bump(ns);
    }
    ws.storage.docs_drop()?;
    let mut deleted = 0;
    if let Ok(entries) = std::fs::read_dir(&ws.input_dir) {
        for entry in entries.flatten() {
            if entry.file_type().is_ok_and(|t| t.is_file())
                && std::fs::remove_file(entry.path()).is_ok()
            {
                deleted += 1;
            }
        }
    }
    tracing::info!(workspace = %ws.name, files = deleted, "all documents cleared");
    ws.board.message("All documents cleared");
    Ok(deleted)
}

/// Puts every failed document back to pending (keeping its track id); returns how many.
pub fn retry_failed(ws: &Workspace) -> Result<usize> {
    let mut failed = ws.storage.docs_with_status(DocStatus::Failed)?;
    let now = clock::now_iso8601();
    for doc in &mut failed {
        doc.status = DocStatus::Pending;
        doc.error_msg = None;
        doc.updated_at = now.clone();
    }
    ws.storage.doc_upsert(&failed)?;
    tracing::info!(workspace = %ws.name, documents = failed.len(), "failed documents queued for another run");
    Ok(failed.len())
}

/// Asks the running job to stop after its current document; false when none runs.
pub fn cancel(ws: &Workspace) -> bool {
    let requested = ws.board.request_cancel();
    if requested {
        ws.board.message("Cancellation requested");
    }
    requested
}

/// The workspace's pipeline status. A board left busy by a process that died mid-job
/// is finished first: a live job always holds the claim, so once the claim is ours the
/// board's job is nobody's.
pub fn pipeline_status(ws: &Workspace) -> Snapshot {
    if ws.board.busy()
        && !ws.pipeline_busy()
        && let Some(_claim) = ws.claim()
        && ws.board.busy()
    {
        tracing::warn!(workspace = %ws.name, "clearing the job of a process that exited");
        ws.board
            .message("The process running this job exited; the pipeline resumes its work");
        ws.board.finish();
    }
    ws.board.snapshot()
}

/// Whether an interrupted deletion waits to be finished (the recovery routes report
/// it).
pub fn recovery_pending(ws: &Workspace) -> Result<Option<String>> {
    Ok(super::deletion::interrupted(ws)?.map(|request| {
        format!(
            "A deletion of {} document(s) was interrupted; the pipeline finishes it",
            request.doc_ids.len()
        )
    }))
}
