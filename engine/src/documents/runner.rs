//! The document pipeline: one run at a time per workspace across every process (the
//! coordination seam's claim), processing every pending document and resuming the
//! ones a previous run left in `parsing` or `processing`, and finishing a deletion a
//! crash interrupted.
//!
//! A document goes `pending` → (`parsing`, for a file) → `processing` → `processed`
//! with its chunk count, or `failed` with the reason. MAX_PARALLEL_INSERT documents
//! are parsed, chunked and extracted at once, each on its own thread; the documents
//! extracted are merged by the run's merger, in batches ([`super::merger`]).
//!
//! `parsing` is recorded durably before a file is parsed and replaced once its text is
//! stored (or its parse failed), so a document found still `parsing` by a later run is
//! one whose parser never answered: its process died, perhaps because of this very
//! file. It is marked failed instead of parsed again, which would crash the next
//! process in turn.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use crate::chunking::{ChunkingDefaults, ChunkingOptions, Plan, Tokenizer};
use crate::clock;
use crate::coordination::Claim;
use crate::embedding::{Batching, Embedder};
use crate::error::{ErrorKind, Kind};
use crate::ids;
use crate::ingest::{Document, Ingest, IngestError, Scheduling, SourceLimits, SummaryPolicy};
use crate::llm::{ExtractionSettings, LanguageModel};
use crate::parsing::{self, ParseLimits};
use crate::storage::{DocStatus, DocStatusRecord, FullDoc, KvNamespace, Result, WorkspaceListing};
use crate::workspace::Workspace;

use super::deletion;
use super::merger::{Merges, Waiting};

/// LightRAG's job name for document processing runs.
const JOB_NAME: &str = "Default Job";

/// Why a document left in `parsing` by an earlier run is not parsed again.
const INTERRUPTED_PARSE: &str = "Parsing was interrupted: the process parsing this file \
    stopped before it answered (it may have crashed on this file), so it is not parsed \
    again automatically. Retry it with /documents/reprocess_failed.";

/// How documents are indexed: the server's settings, as the engine takes them.
#[derive(Debug, Clone)]
pub struct IndexingConfig {
    pub extraction: ExtractionSettings,
    pub summary: SummaryPolicy,
    pub limits: SourceLimits,
    /// CHUNK_SIZE and CHUNK_OVERLAP_SIZE; a document's request may override them.
    pub chunking: ChunkingOptions,
    /// CHUNK_F_*, CHUNK_R_*, CHUNK_V_*, CHUNK_P_*: what a document's chunking leaves out.
    pub chunking_defaults: ChunkingDefaults,
    pub batching: Batching,
    /// Model calls one ingestion keeps in flight (MAX_ASYNC).
    pub llm_concurrency: usize,
    /// ENABLE_LLM_CACHE_FOR_EXTRACT.
    pub use_cache: bool,
    /// MAX_PARALLEL_INSERT.
    pub max_parallel_insert: usize,
    /// PARSE_MAX_DECODED_BYTES, PARSE_MAX_OPERATIONS and PARSE_TIMEOUT.
    pub parse_limits: ParseLimits,
}

/// The pipeline of one process: its models and indexing settings.
pub struct Pipeline {
    pub config: IndexingConfig,
    pub model: Arc<dyn LanguageModel>,
    pub embedder: Arc<dyn Embedder>,
}

/// Workspaces of the deployment with documents still to process.
pub fn workspaces_with_work(listing: &dyn WorkspaceListing) -> Result<Vec<String>> {
    listing.workspaces_with_status(&DocStatus::UNFINISHED)
}

fn unfinished(ws: &Workspace) -> Result<Vec<DocStatusRecord>> {
    let mut docs = Vec::new();
    for status in DocStatus::UNFINISHED {
        docs.extend(ws.storage.docs_with_status(status)?);
    }
    Ok(docs)
}

/// A document's text and the chunking its request or file name asked for.
struct Stored {
    text: String,
    chunking: Option<Plan>,
}

impl Pipeline {
    /// Runs `f` with the workspace's indexer over this process's stores.
    pub(crate) fn with_indexer<T>(
        &self,
        ws: &Workspace,
        scheduling: &Scheduling,
        f: impl FnOnce(&Ingest<'_>) -> T,
    ) -> T {
        let config = &self.config;
        let tokenizer = Tokenizer::o200k();
        f(&Ingest {
            stores: ws.stores(),
            tokenizer: &tokenizer,
            embedder: &*self.embedder,
            batching: config.batching,
            model: &*self.model,
            extraction: &config.extraction,
            summary: &config.summary,
            limits: config.limits,
            llm_concurrency: config.llm_concurrency,
            scheduling,
            chunking: &config.chunking,
            use_cache: config.use_cache,
            now: clock::now_epoch_secs(),
        })
    }

    /// If the workspace has work and this process wins its claim, does all of it: an
    /// interrupted deletion first, then every unfinished document.
    pub fn run(&self, ws: &Workspace) -> Result<()> {
        let interrupted = deletion::interrupted(ws)?;
        if interrupted.is_none() && unfinished(ws)?.is_empty() {
            return Ok(());
        }
        let Some(claim) = ws.claim() else {
            return Ok(());
        };
        if let Some(request) = interrupted {
            tracing::warn!(
                workspace = %ws.name,
                documents = request.doc_ids.len(),
                "resuming an interrupted deletion"
            );
            deletion::run(self, ws, &request)?;
        }
        let result = self.process_all(ws, &claim);
        if let Err(e) = &result {
            ws.board.message(&format!("Pipeline stopped: {e}"));
            ws.board.finish();
        }
        result
    }

    /// Processes every unfinished document, MAX_PARALLEL_INSERT at a time, until none is
    /// left, the run is cancelled, or the claim is lost.
    fn process_all(&self, ws: &Workspace, claim: &Claim) -> Result<()> {
        let board = &*ws.board;
        let runtime = tokio::runtime::Handle::current();
        let scheduling = Scheduling::new(self.config.llm_concurrency);
        loop {
            if board.cancellation_requested() {
                board.message("Pipeline cancelled by the user");
                board.finish();
                return Ok(());
            }
            let docs = unfinished(ws)?;
            if docs.is_empty() {
                board.message("Document processing pipeline completed");
                board.finish();
                return Ok(());
            }
            let resumed = docs
                .iter()
                .filter(|d| d.status != DocStatus::Pending)
                .count();
            let total = docs.len();
            tracing::info!(workspace = %ws.name, documents = total, resumed, "pipeline: processing documents");
            board.start(JOB_NAME, total, clock::now_epoch_secs());
            board.message(&format!("Processing {total} document(s)"));
            let next = AtomicUsize::new(0);
            let failure = Mutex::new(None);
            let fail = |error| {
                failure
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .get_or_insert(error);
            };
            let failed = || failure.lock().unwrap_or_else(|e| e.into_inner()).is_some();
            let parallel = self.config.max_parallel_insert.clamp(1, total);
            let merges = Merges::for_extractors(parallel);
            std::thread::scope(|scope| {
                let merger = scope.spawn(|| {
                    let _runtime = runtime.enter();
                    self.with_indexer(ws, &scheduling, |indexer| {
                        merges.run(ws, indexer, claim, total)
                    })
                });
                let mut extractors = Vec::with_capacity(parallel);
                for _ in 0..parallel {
                    extractors.push(scope.spawn(|| {
                        // Model clients belong to the process's runtime.
                        let _runtime = runtime.enter();
                        self.with_indexer(ws, &scheduling, |indexer| {
                            loop {
                                let index = next.fetch_add(1, Ordering::AcqRel);
                                let Some(doc) = docs.get(index) else { break };
                                if !claim.still_held() || failed() {
                                    break;
                                }
                                let outcome = if board.cancellation_requested() {
                                    cancel(ws, doc.clone()).map(|()| None)
                                } else {
                                    extract_one(
                                        ws,
                                        indexer,
                                        claim,
                                        &self.config,
                                        doc.clone(),
                                        index,
                                        total,
                                    )
                                };
                                match outcome {
                                    Ok(Some(waiting)) => merges.submit(waiting),
                                    Ok(None) => {}
                                    Err(error) => {
                                        fail(error);
                                        break;
                                    }
                                }
                            }
                        });
                    }));
                }
                // The merger is told there is no more once every extractor is done,
                // even one that panicked; a panic is raised again after that.
                let mut panic = None;
                for extractor in extractors {
                    if let Err(p) = extractor.join() {
                        panic.get_or_insert(p);
                    }
                }
                merges.close();
                match merger.join() {
                    Ok(Ok(())) => {}
                    Ok(Err(error)) => fail(error),
                    Err(p) => {
                        panic.get_or_insert(p);
                    }
                }
                if let Some(p) = panic {
                    std::panic::resume_unwind(p);
                }
            });
            if let Some(error) = failure.into_inner().unwrap_or_else(|e| e.into_inner()) {
                return Err(error);
            }
            if !claim.still_held() {
                // Another process owns the workspace now and resumes what is left.
                tracing::warn!(workspace = %ws.name, token = claim.token(), "pipeline claim lost; stopping");
                return Ok(());
            }
        }
    }
}

/// A cancelled run marks what it did not finish as failed, as LightRAG does.
fn cancel(ws: &Workspace, mut doc: DocStatusRecord) -> Result<()> {
    doc.status = DocStatus::Failed;
    doc.error_msg = Some("User cancelled".to_owned());
    doc.updated_at = clock::now_iso8601();
    ws.storage.doc_upsert(std::slice::from_ref(&doc))
}

/// The document's text: stored with it, or for an uploaded or scanned file, extracted
/// now (status `parsing`), stored, and the file archived into `__parsed__/`.
fn content_of(
    ws: &Workspace,
    server: (&ChunkingOptions, &ChunkingDefaults),
    limits: ParseLimits,
    doc: &mut DocStatusRecord,
) -> Result<std::result::Result<Stored, String>> {
    let Some(full_doc) = FullDoc::get(&*ws.storage, &doc.id)? else {
        return Ok(Err("document content is missing from full_docs".to_owned()));
    };
    // A document that chose nothing is fixed_token with the server's F defaults.
    let (options, defaults) = server;
    let asked = full_doc.chunking.clone().unwrap_or_default();
    let chunking = Some(asked.or_defaults(defaults).over(options));
    if let Some(text) = full_doc.content {
        return Ok(Ok(Stored { text, chunking }));
    }
    let Some(file_name) = full_doc.source_file else {
        return Ok(Err(
            "document has neither content nor a source file".to_owned()
        ));
    };
    if doc.status == DocStatus::Parsing {
        tracing::error!(doc_id = %doc.id, file = %file_name, "an earlier parse of this file never answered; not parsing it again");
        return Ok(Err(INTERRUPTED_PARSE.to_owned()));
    }
    // Read before `parsing` is recorded: a store that cannot answer now leaves the
    // document as it was, for the next run.
    let bytes = match ws.inputs.read(&file_name)? {
        Ok(bytes) => bytes,
        Err(error) => return Ok(Err(error)),
    };
    doc.status = DocStatus::Parsing;
    doc.updated_at = clock::now_iso8601();
    ws.storage.doc_upsert(std::slice::from_ref(doc))?;
    let text = match parsing::extract_text(&doc.file_path, &bytes, limits) {
        Ok(text) => text,
        Err(error) => {
            // The parser answered: should the claim be lost before the failure is
            // recorded, the next holder parses the file again rather than blaming it.
            doc.status = DocStatus::Pending;
            ws.storage.doc_upsert(std::slice::from_ref(doc))?;
            return Ok(Err(error.to_string()));
        }
    };
    FullDoc::put(
        &*ws.storage,
        &[(
            doc.id.clone(),
            FullDoc::text(
                text.clone(),
                doc.file_path.clone(),
                full_doc.chunking.clone(),
            ),
        )],
    )?;
    doc.content_summary = text.chars().take(100).collect();
    doc.content_length = text.chars().count();
    match ws.inputs.archive(&file_name) {
        Ok(Some(to)) => {
            tracing::info!(doc_id = %doc.id, file = %file_name, to = %to.display(), "file parsed and archived")
        }
        Ok(None) => tracing::info!(doc_id = %doc.id, file = %file_name, "file parsed"),
        Err(error) => {
            tracing::warn!(doc_id = %doc.id, file = %file_name, %error, "parsed file could not be archived")
        }
    }
    Ok(Ok(Stored { text, chunking }))
}

/// The key of a text in the content-hash index.
pub(crate) fn content_key(text: &str) -> String {
    ids::md5_hex(text.as_bytes())
}

/// Another live document holding the same text, or `None` after claiming the text for
/// this one.
fn duplicate_of(
    ws: &Workspace,
    doc: &DocStatusRecord,
    text: &str,
) -> Result<Option<DocStatusRecord>> {
    let key = content_key(text);
    let holder = ws
        .storage
        .kv_get(KvNamespace::ContentHashes, &key)?
        .and_then(|h| h.get("doc_id")?.as_str().map(str::to_owned));
    if let Some(holder) = holder.filter(|h| *h != doc.id)
        && let Some(original) = ws.storage.doc_get(&holder)?
        && original.status != DocStatus::Failed
    {
        return Ok(Some(original));
    }
    ws.storage.kv_upsert(
        KvNamespace::ContentHashes,
        &[(key, serde_json::json!({"doc_id": doc.id}))],
    )?;
    Ok(None)
}

/// One document: its text (parsed from its file if need be), chunked and extracted,
/// ready for the merger; or its status recorded as `failed` with the reason. A claim
/// lost meanwhile writes no final status: the new holder processes the document again.
fn extract_one(
    ws: &Workspace,
    indexer: &Ingest<'_>,
    claim: &Claim,
    config: &IndexingConfig,
    mut doc: DocStatusRecord,
    index: usize,
    total: usize,
) -> Result<Option<Waiting>> {
    let board = &*ws.board;
    board.progress(index + 1);
    board.message(&format!(
        "Extracting stage {}/{total}: {}",
        index + 1,
        doc.file_path
    ));
    let server = (indexer.chunking, &config.chunking_defaults);
    let mut content = content_of(ws, server, config.parse_limits, &mut doc)?;
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
        doc.status = DocStatus::Processing;
        doc.updated_at = clock::now_iso8601();
        ws.storage.doc_upsert(std::slice::from_ref(&doc))?;
    }
    let started = std::time::Instant::now();
    let outcome = match content.map(|stored| {
        indexer.extract(&Document {
            id: &doc.id,
            content: &stored.text,
            file_path: &doc.file_path,
            chunking: stored.chunking.as_ref(),
            has_headings: parsing::has_headings(&doc.file_path),
        })
    }) {
        Err(reason) => reason,
        Ok(Ok(extracted)) => {
            return Ok(Some(Waiting {
                doc,
                extracted,
                index,
                started,
            }));
        }
        // A store that is away fails no document: it stays `processing`, and a run
        // after the store is back indexes it again (every write is idempotent).
        Ok(Err(IngestError::Storage(e))) if e.kind() == ErrorKind::Unavailable => {
            return Err(e);
        }
        Ok(Err(e)) => e.to_string(),
    };
    if !claim.still_held() {
        return Ok(None);
    }
    tracing::error!(doc_id = %doc.id, error = %outcome, "document failed");
    doc.updated_at = clock::now_iso8601();
    doc.status = DocStatus::Failed;
    doc.error_msg = Some(outcome);
    ws.storage.doc_upsert(std::slice::from_ref(&doc))?;
    board.message(&format!(
        "Completed processing file {}/{total}: {} ({})",
        index + 1,
        doc.file_path,
        doc.status
    ));
    Ok(None)
}
