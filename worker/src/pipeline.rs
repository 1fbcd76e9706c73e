//! The document pipeline as seen by a worker: one run at a time per workspace across
//! all workers, claimed in the arena by pid (a dead owner's claim is taken over, so a
//! SIGKILLed worker's documents are resumed by another), processing every pending
//! document and resuming the ones a previous run left in `processing`.
//!
//! Every worker polls the document store briefly; whichever finds work and wins the
//! claim processes it on a blocking thread, document by document, recording
//! `processing`, then `processed` with its chunk count or `failed` with the error.

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use lightrag_engine::chunking::{ChunkingOptions, Tokenizer};
use lightrag_engine::clock;
use lightrag_engine::embedding::Batching;
use lightrag_engine::ingest::{Document, Ingest, SourceLimits, SummaryPolicy};
use lightrag_engine::llm::ExtractionSettings;
use lightrag_engine::storage::{
    DocStatusRecord, DocStatusStorage, Generations, KvNamespace, KvStorage, VectorNamespace,
};
use nix::errno::Errno;
use nix::sys::signal::kill;
use nix::unistd::Pid;

use crate::app::App;
use crate::input_files;
use crate::keyed_table::KeyedTable;
use crate::workspace::Workspace;

/// How often an idle worker looks for documents to process.
const POLL: Duration = Duration::from_millis(500);
const PENDING: &str = "pending";
const PARSING: &str = "parsing";
const PROCESSING: &str = "processing";
/// LightRAG's job name for document processing runs.
const JOB_NAME: &str = "Default Job";

/// Vector generations of one workspace, in the arena: a write on any worker makes every
/// other worker reload its cached vectors.
pub struct ArenaGenerations {
    table: &'static KeyedTable<256>,
    workspace: String,
}

impl ArenaGenerations {
    pub fn new(table: &'static KeyedTable<256>, workspace: &str) -> Self {
        ArenaGenerations {
            table,
            workspace: workspace.to_owned(),
        }
    }

    fn cell(&self, namespace: VectorNamespace) -> &std::sync::atomic::AtomicU64 {
        self.table
            .value(&format!("{}:{}", self.workspace, namespace.as_str()))
    }
}

impl Generations for ArenaGenerations {
    fn current(&self, namespace: VectorNamespace) -> u64 {
        self.cell(namespace).load(Ordering::Acquire)
    }
    fn bump(&self, namespace: VectorNamespace) {
        self.cell(namespace).fetch_add(1, Ordering::AcqRel);
    }
}

pub(crate) fn is_alive(pid: u64) -> bool {
    pid != 0 && !matches!(kill(Pid::from_raw(pid as i32), None), Err(Errno::ESRCH))
}

/// The workspace's pipeline, held by this process until dropped (a panic under it
/// releases it too).
pub(crate) struct Claim {
    cell: &'static AtomicU64,
}

impl Drop for Claim {
    fn drop(&mut self) {
        let _ = self.cell.compare_exchange(
            u64::from(std::process::id()),
            0,
            Ordering::AcqRel,
            Ordering::Acquire,
        );
    }
}

impl Claim {
    /// Takes `cell` for this process unless a live process holds it; a dead owner's
    /// claim is taken over.
    fn take(cell: &'static AtomicU64) -> Option<Claim> {
        let me = u64::from(std::process::id());
        let owner = cell.load(Ordering::Acquire);
        if is_alive(owner) {
            return None;
        }
        if owner != 0 {
            tracing::warn!(
                dead_owner = owner,
                "taking over the pipeline of a dead worker"
            );
        }
        cell.compare_exchange(owner, me, Ordering::AcqRel, Ordering::Acquire)
            .ok()
            .map(|_| Claim { cell })
    }
}

/// Claims the workspace's pipeline for this process. Exclusive: `None` while anyone,
/// this process included, holds it.
pub(crate) fn claim(app: &App, ws: &Workspace) -> Option<Claim> {
    Claim::take(app.shared.pipeline_owners.value(&ws.name))
}

/// Whether some live process holds the workspace's pipeline.
pub(crate) fn busy(app: &App, ws: &Workspace) -> bool {
    let owner = app
        .shared
        .pipeline_owners
        .value(&ws.name)
        .load(Ordering::Acquire);
    is_alive(owner)
}

/// Starts the worker's pipeline loop on the runtime: every workspace with unfinished
/// documents gets a run, by whichever worker claims it.
pub fn spawn(app: Arc<App>) {
    tokio::spawn(async move {
        loop {
            let app_for_run = app.clone();
            let outcome = tokio::task::spawn_blocking(move || run_workspaces(&app_for_run)).await;
            if let Ok(Err(e)) = outcome {
                tracing::error!(error = %e, "pipeline run failed");
            }
            tokio::time::sleep(POLL).await;
        }
    });
}

fn run_workspaces(app: &App) -> lightrag_engine::storage::Result<()> {
    let names = app
        .default_workspace
        .storage
        .workspaces_with_status(&[PENDING, PARSING, PROCESSING])?;
    for name in names {
        let ws = match app.workspace(&name) {
            Ok(ws) => ws,
            Err(error) => {
                tracing::error!(workspace = %name, %error, "workspace cannot be opened");
                continue;
            }
        };
        if let Err(error) = run_once(app, &ws) {
            tracing::error!(workspace = %name, %error, "pipeline run failed");
        }
    }
    Ok(())
}

fn unfinished(ws: &Workspace) -> lightrag_engine::storage::Result<Vec<DocStatusRecord>> {
    let mut docs = ws.storage.docs_with_status(PROCESSING)?;
    docs.extend(ws.storage.docs_with_status(PARSING)?);
    docs.extend(ws.storage.docs_with_status(PENDING)?);
    Ok(docs)
}

/// The document's text: stored with it, or for an uploaded or scanned file, extracted
/// now (status `parsing`), stored, and the file archived into `__parsed__/`.
fn content_of(
    ws: &Workspace,
    doc: &mut DocStatusRecord,
) -> lightrag_engine::storage::Result<Result<Stored, String>> {
    let Some(full_doc) = ws.storage.kv_get(KvNamespace::FullDocs, &doc.id)? else {
        return Ok(Err("document content is missing from full_docs".to_owned()));
    };
    if let Some(content) = full_doc.get("content").and_then(|c| c.as_str()) {
        return Ok(Ok(Stored {
            text: content.to_owned(),
            chunking: full_doc.get("chunking").cloned(),
        }));
    }
    let Some(file_name) = full_doc.get("source_file").and_then(|f| f.as_str()) else {
        return Ok(Err(
            "document has neither content nor a source file".to_owned()
        ));
    };
    doc.status = PARSING.to_owned();
    doc.updated_at = clock::now_iso8601();
    ws.storage.doc_upsert(std::slice::from_ref(doc))?;
    let dir = &ws.input_dir;
    let text = match input_files::parse(dir, file_name, &doc.file_path) {
        Ok(text) => text,
        Err(error) => return Ok(Err(error)),
    };
    ws.storage.kv_upsert(
        KvNamespace::FullDocs,
        &[(
            doc.id.clone(),
            serde_json::json!({"content": text, "file_path": doc.file_path}),
        )],
    )?;
    doc.content_summary = text.chars().take(100).collect();
    doc.content_length = text.chars().count();
    match input_files::archive(dir, file_name) {
        Ok(to) => {
            tracing::info!(doc_id = %doc.id, file = %file_name, to = %to.display(), "file parsed and archived")
        }
        Err(error) => {
            tracing::warn!(doc_id = %doc.id, file = %file_name, %error, "parsed file could not be archived")
        }
    }
    Ok(Ok(Stored {
        text,
        chunking: None,
    }))
}

/// A document's text and the chunking its request asked for, as stored.
struct Stored {
    text: String,
    chunking: Option<serde_json::Value>,
}

/// The key of a text in the content-hash index.
fn content_key(text: &str) -> String {
    lightrag_engine::ids::md5_hex(text.as_bytes())
}

/// Another live document holding the same text, or `None` after claiming the text for
/// this one.
fn duplicate_of(
    ws: &Workspace,
    doc: &DocStatusRecord,
    text: &str,
) -> lightrag_engine::storage::Result<Option<DocStatusRecord>> {
    let key = content_key(text);
    let holder = ws
        .storage
        .kv_get(KvNamespace::ContentHashes, &key)?
        .and_then(|h| h.get("doc_id")?.as_str().map(str::to_owned));
    if let Some(holder) = holder.filter(|h| *h != doc.id)
        && let Some(original) = ws.storage.doc_get(&holder)?
        && original.status != "failed"
    {
        return Ok(Some(original));
    }
    ws.storage.kv_upsert(
        KvNamespace::ContentHashes,
        &[(key, serde_json::json!({"doc_id": doc.id}))],
    )?;
    Ok(None)
}

/// Releases the texts of deleted documents from the content-hash index.
fn forget_contents(ws: &Workspace, ids: &[String]) -> lightrag_engine::storage::Result<()> {
    let mut keys = Vec::new();
    for id in ids {
        let text = ws
            .storage
            .kv_get(KvNamespace::FullDocs, id)?
            .and_then(|d| d.get("content")?.as_str().map(content_key));
        if let Some(key) = text {
            let holder = ws.storage.kv_get(KvNamespace::ContentHashes, &key)?;
            if holder.is_some_and(|h| h["doc_id"] == id.as_str()) {
                keys.push(key);
            }
        }
    }
    ws.storage.kv_delete(KvNamespace::ContentHashes, &keys)
}

/// The chunking a document's request asked for, on top of the server's (an overlap
/// not given stays below the requested size).
fn chunking_of(
    server: &ChunkingOptions,
    asked: Option<&serde_json::Value>,
) -> Option<ChunkingOptions> {
    asked.filter(|c| c.is_object()).map(|c| {
        let size = c["chunk_token_size"]
            .as_u64()
            .map_or(server.chunk_token_size, |n| n as usize);
        let overlap = c["chunk_overlap_token_size"]
            .as_u64()
            .map_or(server.overlap_token_size.min(size.saturating_sub(1)), |n| {
                n as usize
            });
        ChunkingOptions {
            chunk_token_size: size,
            overlap_token_size: overlap,
            split_by_character: c["split_by_character"].as_str().map(str::to_owned),
            split_by_character_only: c["split_by_character_only"].as_bool().unwrap_or(false),
        }
    })
}

/// If the workspace has work and this worker wins its claim, processes everything there
/// is.
fn run_once(app: &App, ws: &Workspace) -> lightrag_engine::storage::Result<()> {
    if unfinished(ws)?.is_empty() {
        return Ok(());
    }
    let Some(_claim) = claim(app, ws) else {
        return Ok(());
    };
    let result = process_all(app, ws);
    if let Err(e) = &result {
        ws.pipeline_status
            .message(&format!("Pipeline stopped: {e}"));
        ws.pipeline_status.finish();
    }
    result
}

/// A cancelled run marks what it did not finish as failed, as LightRAG does.
fn cancel_rest(ws: &Workspace, mut doc: DocStatusRecord) -> lightrag_engine::storage::Result<()> {
    doc.status = "failed".to_owned();
    doc.error_msg = Some("User cancelled".to_owned());
    doc.updated_at = clock::now_iso8601();
    ws.storage.doc_upsert(std::slice::from_ref(&doc))
}

/// Runs `f` with the workspace's indexer: the configured chunking, model and
/// embedding over this worker's stores.
fn with_indexer<T>(
    app: &App,
    ws: &Workspace,
    merge_lock: &Mutex<()>,
    f: impl FnOnce(&Ingest<'_>) -> T,
) -> T {
    let indexing = &app.settings.indexing;
    let models = &app.settings.models;
    let tokenizer = Tokenizer::o200k();
    let extraction = ExtractionSettings {
        entity_types: indexing.entity_types.clone(),
        language: indexing.summary_language.clone(),
        max_gleaning: indexing.max_gleaning,
    };
    let summary = SummaryPolicy {
        force_on_merge: indexing.force_summary_on_merge,
        max_tokens: indexing.summary_max_tokens,
        length: indexing.summary_length,
    };
    let chunking = ChunkingOptions {
        chunk_token_size: indexing.chunk_size,
        overlap_token_size: indexing.chunk_overlap,
        ..Default::default()
    };
    f(&Ingest {
        stores: ws.stores(),
        tokenizer: &tokenizer,
        embedder: &*app.embedder,
        batching: Batching {
            batch_size: models.embedding_batch,
            concurrency: models.embedding.max_async,
        },
        model: &*app.model,
        extraction: &extraction,
        summary: &summary,
        limits: SourceLimits {
            entity_sources: indexing.max_source_ids_per_entity,
            relation_sources: indexing.max_source_ids_per_relation,
            file_paths: indexing.max_file_paths,
        },
        llm_concurrency: models.llm.max_async,
        merge_lock,
        chunking: &chunking,
        use_cache: indexing.cache_extraction,
        now: clock::now_epoch_secs(),
    })
}

/// Processes every unfinished document, MAX_PARALLEL_INSERT at a time, until none is
/// left or the run is cancelled.
fn process_all(app: &App, ws: &Workspace) -> lightrag_engine::storage::Result<()> {
    let status = &ws.pipeline_status;
    let runtime = tokio::runtime::Handle::current();
    let merge_lock = Mutex::new(());
    loop {
        if status.cancellation_requested() {
            status.message("Pipeline cancelled by the user");
            status.finish();
            return Ok(());
        }
        let docs = unfinished(ws)?;
        if docs.is_empty() {
            status.message("Document processing pipeline completed");
            status.finish();
            return Ok(());
        }
        let resumed = docs.iter().filter(|d| d.status != PENDING).count();
        let total = docs.len();
        tracing::info!(documents = total, resumed, "pipeline: processing documents");
        status.start(JOB_NAME, total, clock::now_epoch_secs());
        status.message(&format!("Processing {total} document(s)"));
        let next = AtomicUsize::new(0);
        let failure = Mutex::new(None);
        let parallel = app.settings.indexing.max_parallel_insert.min(total);
        std::thread::scope(|scope| {
            for _ in 0..parallel {
                scope.spawn(|| {
                    // Model clients belong to the worker's runtime.
                    let _runtime = runtime.enter();
                    with_indexer(app, ws, &merge_lock, |indexer| {
                        loop {
                            let index = next.fetch_add(1, Ordering::AcqRel);
                            let Some(doc) = docs.get(index) else { break };
                            let outcome = if status.cancellation_requested() {
                                cancel_rest(ws, doc.clone())
                            } else {
                                process_one(ws, indexer, doc.clone(), index, total)
                            };
                            if let Err(error) = outcome {
                                failure
                                    .lock()
                                    .unwrap_or_else(|e| e.into_inner())
                                    .get_or_insert(error);
                                break;
                            }
                        }
                    });
                });
            }
        });
        if let Some(error) = failure.into_inner().unwrap_or_else(|e| e.into_inner()) {
            return Err(error);
        }
    }
}

/// One document: its text (parsed from its file if need be), indexed, its status
/// recorded as `processed` with its chunk count or `failed` with the reason.
fn process_one(
    ws: &Workspace,
    indexer: &Ingest<'_>,
    mut doc: DocStatusRecord,
    index: usize,
    total: usize,
) -> lightrag_engine::storage::Result<()> {
    let status = &ws.pipeline_status;
    status.progress(index + 1);
    status.message(&format!(
        "Extracting stage {}/{total}: {}",
        index + 1,
        doc.file_path
    ));
    let mut content = content_of(ws, &mut doc)?;
    if let Ok(stored) = &content
        && let Some(original) = duplicate_of(ws, &doc, &stored.text)?
    {
        doc.metadata = serde_json::json!({
            "is_duplicate": true,
            "original_doc_id": original.id,
            "original_track_id": original.track_id,
        });
        content = Err(format!(
            "Content already exists. Original doc_id: {}",
            original.id
        ));
    }
    if content.is_ok() {
        doc.status = PROCESSING.to_owned();
        doc.updated_at = clock::now_iso8601();
        ws.storage.doc_upsert(std::slice::from_ref(&doc))?;
    }
    let started = std::time::Instant::now();
    let outcome = match content {
        Err(error) => Err(error),
        Ok(stored) => {
            let chunking = chunking_of(indexer.chunking, stored.chunking.as_ref());
            indexer
                .run(&Document {
                    id: &doc.id,
                    content: &stored.text,
                    file_path: &doc.file_path,
                    chunking: chunking.as_ref(),
                })
                .map_err(|e| e.to_string())
        }
    };
    doc.updated_at = clock::now_iso8601();
    match outcome {
        Ok(report) => {
            tracing::info!(
                doc_id = %doc.id,
                chunks = report.chunk_ids.len(),
                entities = report.entities,
                relations = report.relations,
                skipped_records = report.skipped_records,
                cached_extractions = report.cached_extractions,
                elapsed_ms = started.elapsed().as_millis() as u64,
                "document processed"
            );
            doc.status = "processed".to_owned();
            doc.chunks_count = Some(report.chunk_ids.len());
            doc.error_msg = None;
        }
        Err(error) => {
            tracing::error!(doc_id = %doc.id, %error, "document failed");
            doc.status = "failed".to_owned();
            doc.error_msg = Some(error);
        }
    }
    ws.storage.doc_upsert(std::slice::from_ref(&doc))?;
    status.message(&format!(
        "Completed processing file {}/{total}: {} ({})",
        index + 1,
        doc.file_path,
        doc.status
    ));
    Ok(())
}

/// What a deletion request asks for besides the index: the source files, the cached
/// extraction answers.
pub struct DeletionRequest {
    pub doc_ids: Vec<String>,
    pub delete_file: bool,
    pub delete_llm_cache: bool,
}

/// Deletes documents under the pipeline claim, which the caller must hold: index data
/// (shared entities and relations rebuilt once for the batch), status records, and on
/// request their files in the input directory and `__parsed__/`.
pub(crate) fn delete_documents(
    app: &App,
    ws: &Workspace,
    request: &DeletionRequest,
) -> lightrag_engine::storage::Result<()> {
    let status = &ws.pipeline_status;
    let mut known = Vec::new();
    for id in &request.doc_ids {
        match ws.storage.doc_get(id)? {
            Some(doc) => known.push(doc),
            None => status.message(&format!("Document {id} not found")),
        }
    }
    let total = known.len();
    status.start(
        &format!("Deleting {total} Documents"),
        total,
        clock::now_epoch_secs(),
    );
    let ids: Vec<String> = known.iter().map(|d| d.id.clone()).collect();
    forget_contents(ws, &ids)?;
    let outcome = with_indexer(app, ws, &Mutex::new(()), |indexer| {
        indexer.delete_documents(&ids, request.delete_llm_cache)
    });
    match outcome {
        Ok(report) => {
            ws.storage.doc_delete(&ids)?;
            tracing::info!(
                documents = total,
                chunks = report.chunks,
                entities_removed = report.entities_removed,
                entities_rebuilt = report.entities_rebuilt,
                relations_removed = report.relations_removed,
                relations_rebuilt = report.relations_rebuilt,
                "documents deleted"
            );
            for doc in &known {
                status.message(&format!("Deleted document {} ({})", doc.id, doc.file_path));
                if request.delete_file {
                    remove_source_files(ws, &doc.file_path);
                }
            }
            status.message(&format!(
                "Deletion completed: {total} document(s), {} entities rebuilt, {} relations rebuilt",
                report.entities_rebuilt, report.relations_rebuilt
            ));
        }
        Err(error) => {
            tracing::error!(%error, "document deletion failed");
            status.message(&format!("Deletion failed: {error}"));
        }
    }
    status.finish();
    Ok(())
}

fn remove_source_files(ws: &Workspace, file_name: &str) {
    let dir = &ws.input_dir;
    for path in [
        dir.join(file_name),
        dir.join(input_files::PARSED_DIR).join(file_name),
    ] {
        match std::fs::remove_file(&path) {
            Ok(()) => tracing::info!(file = %path.display(), "source file deleted"),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => tracing::warn!(file = %path.display(), %error, "source file not deleted"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cell() -> &'static AtomicU64 {
        Box::leak(Box::new(AtomicU64::new(0)))
    }

    #[test]
    fn a_claim_is_exclusive_until_dropped() {
        let cell = cell();
        let first = Claim::take(cell).expect("free");
        assert!(Claim::take(cell).is_none(), "held by this live process");
        drop(first);
        assert_eq!(cell.load(Ordering::Acquire), 0);
        assert!(Claim::take(cell).is_some());
    }

    #[test]
    fn a_panic_under_a_claim_releases_it() {
        let cell = cell();
        let outcome = std::panic::catch_unwind(|| {
            let _claim = Claim::take(cell).expect("free");
            panic!("an edit went wrong");
        });
        assert!(outcome.is_err());
        assert!(Claim::take(cell).is_some());
    }

    #[test]
    fn a_dead_owner_is_taken_over() {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let dead = child.id();
        child.wait().unwrap();
        let cell = cell();
        cell.store(u64::from(dead), Ordering::Release);
        let _claim = Claim::take(cell).expect("taken over");
        assert_eq!(cell.load(Ordering::Acquire), u64::from(std::process::id()));
    }
}
