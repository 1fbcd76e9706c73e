//! Accepting documents: admission control (MAX_PENDING_DOCUMENTS), the
//! one-document-per-source-name rule, and the durable pending records the pipeline
//! picks up. A document is accepted only once its records are committed.

use crate::clock;
use crate::error::{ErrorKind, Kind};
use crate::ids;
use crate::storage::{DocStatus, DocStatusRecord, FullDoc, KvNamespace, StorageError};
use crate::workspace::Workspace;

/// A document about to be recorded as pending: its canonical source name, its
/// `full_docs` record (its text, which gives the summary shown until it is processed,
/// or the file still to parse).
pub struct Incoming {
    pub source: String,
    pub full_doc: FullDoc,
}

impl Incoming {
    pub fn id(&self) -> String {
        ids::doc_id_for_source(&self.source)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum IntakeError {
    /// LightRAG's refusal of a second document under an already-known source name.
    #[error(
        "Document storage already contains '{name}' (Status: {status}). Delete the existing record before re-uploading."
    )]
    AlreadyExists { name: String, status: DocStatus },
    #[error(
        "Pipeline is at capacity: {waiting} documents are waiting to be indexed (MAX_PENDING_DOCUMENTS={max_pending}). Retry later."
    )]
    AtCapacity { waiting: usize, max_pending: usize },
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl Kind for IntakeError {
    fn kind(&self) -> ErrorKind {
        match self {
            IntakeError::AlreadyExists { .. } => ErrorKind::Conflict,
            IntakeError::AtCapacity { .. } => ErrorKind::Overloaded,
            IntakeError::Storage(e) => e.kind(),
        }
    }
}

/// Room for `incoming` more documents in the workspace's queue (0: no limit).
pub fn admission(ws: &Workspace, incoming: usize, max_pending: usize) -> Result<(), IntakeError> {
    if max_pending == 0 {
        return Ok(());
    }
    let waiting: usize = ws
        .storage
        .status_counts()?
        .into_iter()
        .filter(|(status, _)| status.is_unfinished())
        .map(|(_, n)| n)
        .sum();
    if waiting + incoming > max_pending {
        return Err(IntakeError::AtCapacity {
            waiting,
            max_pending,
        });
    }
    Ok(())
}

/// The refusal for `source` if a document already holds its name.
pub fn check_new(ws: &Workspace, source: &str) -> Result<(), IntakeError> {
    match ws.storage.doc_get(&ids::doc_id_for_source(source))? {
        Some(existing) => Err(IntakeError::AlreadyExists {
            name: source.to_owned(),
            status: existing.status,
        }),
        None => Ok(()),
    }
}

/// Records the documents as pending under `track_id`, all or none. Their contents are
/// inserted first, only if no document holds one of their ids (checked and written in
/// one step of the store): that is the reservation two requests naming the same
/// document race for. The status records the pipeline looks at come after, so it never
/// sees a pending document without its content.
pub fn accept(
    ws: &Workspace,
    max_pending: usize,
    track_id: &str,
    docs: &[Incoming],
) -> Result<(), IntakeError> {
    admission(ws, docs.len(), max_pending)?;
    let contents = docs
        .iter()
        .map(|d| Ok((d.id(), serde_json::to_value(&d.full_doc)?)))
        .collect::<Result<Vec<_>, serde_json::Error>>()
        .map_err(StorageError::from)?;
    if let Some(taken) = ws.storage.kv_insert_new(KvNamespace::FullDocs, &contents)? {
        return Err(refusal(ws, docs, &taken)?);
    }
    let now = clock::now_iso8601();
    let records: Vec<DocStatusRecord> = docs
        .iter()
        .map(|d| {
            let text = d.full_doc.content.as_deref().unwrap_or_default();
            DocStatusRecord {
                id: d.id(),
                status: DocStatus::Pending,
                file_path: d.source.clone(),
                track_id: Some(track_id.to_owned()),
                content_summary: text.chars().take(100).collect(),
                content_length: text.chars().count(),
                chunks_count: None,
                error_msg: None,
                metadata: shown_options(&d.full_doc),
                created_at: now.clone(),
                updated_at: now.clone(),
            }
        })
        .collect();
    if let Some(existing) = ws.storage.doc_insert_new(&records)? {
        // A status record without content: a deletion of that document is finishing.
        // The contents just written are ours to take back.
        let ids: Vec<String> = contents.into_iter().map(|(id, _)| id).collect();
        ws.storage.kv_delete(KvNamespace::FullDocs, &ids)?;
        return Err(IntakeError::AlreadyExists {
            name: existing.file_path,
            status: existing.status,
        });
    }
    Ok(())
}

/// The status metadata of a new document: LightRAG's `process_options`, the chunking
/// selector (`F`, `R`, `V`, `P`) its request or file name chose.
fn shown_options(full_doc: &FullDoc) -> serde_json::Value {
    match &full_doc.chunking {
        Some(c) => serde_json::json!({"process_options": c.strategy.selector().to_string()}),
        None => serde_json::json!({}),
    }
}

/// The refusal for the document whose id `taken` is already held.
fn refusal(ws: &Workspace, docs: &[Incoming], taken: &str) -> Result<IntakeError, IntakeError> {
    let source = docs
        .iter()
        .find(|d| d.id() == taken)
        .map(|d| d.source.clone())
        .unwrap_or_default();
    // The holder's status record may not be written yet (it is accepted this instant).
    let status = ws
        .storage
        .doc_get(taken)?
        .map_or(DocStatus::Pending, |d| d.status);
    Ok(IntakeError::AlreadyExists {
        name: source,
        status,
    })
}
