//! The run's merges, as group commits. A document whose chunks are extracted is handed
//! to the run's one merger and its thread goes on to the next document; the merger
//! takes every document waiting at once and merges them as one batch
//! ([`Ingest::merge`]: one read and one write per kind, the same graph as merging them
//! one by one), then records them `processed` together. While a batch merges (its
//! summary calls, its embeddings, its writes), the next documents extract, and all
//! that finish meanwhile form the next batch: the more the merge costs, the more
//! documents share it. Documents naming the same entities (a corpus about a few
//! people) no longer rewrite them once each.
//!
//! A document is `processed` only once its batch is written: a crash or a lost claim
//! before that leaves it `processing`, and the next run indexes it again (every write
//! is idempotent). A batch whose merge fails for a reason of its own (a model error,
//! not a store that is away) is merged again one document at a time, so only the
//! document that causes it fails.
//!
//! At most [`BACKLOG_PER_EXTRACTOR`] documents per extracting thread wait: a thread
//! whose document would be one more waits for the merger, so extracted documents never
//! pile up without bound. The backlog is deeper than the MAX_PARALLEL_INSERT threads
//! because a batch's cost grows much more slowly than its documents when they name the
//! same entities (each rewritten once per batch): while a slow merge runs, the
//! extractors keep going, the next batch is larger, and the merger catches up.

use std::sync::{Condvar, Mutex};
use std::time::Instant;

use crate::clock;
use crate::coordination::Claim;
use crate::error::{ErrorKind, Kind};
use crate::ingest::{Extracted, Ingest, IngestError};
use crate::storage::{DocStatus, DocStatusRecord, Result, StorageError};
use crate::workspace::Workspace;

/// Extracted documents that may wait for the merger per extracting thread: enough that
/// batches grow until the merger stops being the bound (builtin models: 3-4 documents
/// per batch with a backlog of one per thread, each batch rewriting the same ~280
/// elements), small enough that the waiting extractions (their chunks and vectors, about
/// 100 KB a document) stay a few MB.
const BACKLOG_PER_EXTRACTOR: usize = 8;

/// A document extracted and waiting for its merge.
pub(super) struct Waiting {
    pub doc: DocStatusRecord,
    pub extracted: Extracted,
    /// Its place in the run, for the board (`index + 1` of `total`).
    pub index: usize,
    pub started: Instant,
}

struct Queue {
    waiting: Vec<Waiting>,
    /// No document will be handed over any more.
    closed: bool,
    /// The merger is gone (it panicked): a document handed over is dropped, to be
    /// indexed again by the next run, rather than waited for.
    stopped: bool,
}

/// The documents waiting for the merger.
pub(super) struct Merges {
    queue: Mutex<Queue>,
    changed: Condvar,
    capacity: usize,
}

impl Merges {
    /// The queue of a run with `extractors` extracting threads.
    pub(super) fn for_extractors(extractors: usize) -> Merges {
        Merges {
            queue: Mutex::new(Queue {
                waiting: Vec::new(),
                closed: false,
                stopped: false,
            }),
            changed: Condvar::new(),
            capacity: extractors.max(1) * BACKLOG_PER_EXTRACTOR,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Hands a document to the merger, first waiting while `capacity` already wait.
    pub(super) fn submit(&self, document: Waiting) {
        let mut queue = self.lock();
        while queue.waiting.len() >= self.capacity && !queue.stopped {
            queue = self.changed.wait(queue).unwrap_or_else(|e| e.into_inner());
        }
        if queue.stopped {
            return;
        }
        queue.waiting.push(document);
        drop(queue);
        self.changed.notify_all();
    }

    /// Every document waiting, once there is one; `None` once closed and empty.
    fn take(&self) -> Option<Vec<Waiting>> {
        let mut queue = self.lock();
        while queue.waiting.is_empty() && !queue.closed {
            queue = self.changed.wait(queue).unwrap_or_else(|e| e.into_inner());
        }
        let batch = std::mem::take(&mut queue.waiting);
        drop(queue);
        self.changed.notify_all();
        (!batch.is_empty()).then_some(batch)
    }

    /// No more documents: the merger finishes what waits and returns.
    pub(super) fn close(&self) {
        self.lock().closed = true;
        self.changed.notify_all();
    }

    /// The merger's loop: batch after batch until closed. A store error stops the
    /// merging (the documents left stay `processing` for the next run) and is returned;
    /// the queue is drained regardless, so no thread waits on it forever.
    pub(super) fn run(
        &self,
        ws: &Workspace,
        indexer: &Ingest<'_>,
        claim: &Claim,
        total: usize,
    ) -> Result<()> {
        let _stop = Stop(self);
        let mut failure = None;
        while let Some(batch) = self.take() {
            if failure.is_none()
                && let Err(error) = merge_batch(ws, indexer, claim, batch, total)
            {
                failure = Some(error);
            }
        }
        failure.map_or(Ok(()), Err)
    }
}

/// Marks the merger gone when its loop ends, however it ends.
struct Stop<'m>(&'m Merges);

impl Drop for Stop<'_> {
    fn drop(&mut self) {
        self.0.lock().stopped = true;
        self.0.changed.notify_all();
    }
}

/// Merges a batch and records its documents' outcomes; a claim lost before the write
/// leaves them to the new holder.
fn merge_batch(
    ws: &Workspace,
    indexer: &Ingest<'_>,
    claim: &Claim,
    batch: Vec<Waiting>,
    total: usize,
) -> Result<()> {
    if !claim.still_held() {
        return Ok(());
    }
    let started = Instant::now();
    let all: Vec<&Extracted> = batch.iter().map(|w| &w.extracted).collect();
    let outcomes: Vec<std::result::Result<(), String>> = match indexer.merge(&all) {
        Ok(()) => batch.iter().map(|_| Ok(())).collect(),
        Err(e) => {
            let e = unavailable(e)?;
            if batch.len() == 1 {
                vec![Err(e.to_string())]
            } else {
                tracing::warn!(documents = batch.len(), error = %e, "batch merge failed; merging its documents one by one");
                let mut outcomes = Vec::with_capacity(batch.len());
                for w in &batch {
                    outcomes.push(match indexer.merge(&[&w.extracted]) {
                        Ok(()) => Ok(()),
                        Err(e) => Err(unavailable(e)?.to_string()),
                    });
                }
                outcomes
            }
        }
    };
    tracing::debug!(
        documents = batch.len(),
        elapsed_ms = started.elapsed().as_millis() as u64,
        "batch merged"
    );
    if !claim.still_held() {
        return Ok(());
    }
    record(ws, batch, outcomes, total)
}

/// A store that is away fails no document: the error stops the run, the documents
/// stay `processing`, and a run after the store is back indexes them again.
fn unavailable(error: IngestError) -> std::result::Result<IngestError, StorageError> {
    match error {
        IngestError::Storage(e) if e.kind() == ErrorKind::Unavailable => Err(e),
        other => Ok(other),
    }
}

/// The batch's statuses, written together: `processed` with the chunk count, or
/// `failed` with the reason.
fn record(
    ws: &Workspace,
    batch: Vec<Waiting>,
    outcomes: Vec<std::result::Result<(), String>>,
    total: usize,
) -> Result<()> {
    let now = clock::now_iso8601();
    let mut docs = Vec::with_capacity(batch.len());
    let mut places = Vec::with_capacity(batch.len());
    for (w, outcome) in batch.into_iter().zip(outcomes) {
        let mut doc = w.doc;
        let report = &w.extracted.report;
        doc.updated_at = now.clone();
        match outcome {
            Ok(()) => {
                tracing::info!(
                    doc_id = %doc.id,
                    chunks = report.chunk_ids.len(),
                    entities = report.entities,
                    relations = report.relations,
                    skipped_records = report.skipped_records,
                    cached_extractions = report.cached_extractions,
                    elapsed_ms = w.started.elapsed().as_millis() as u64,
                    "document processed"
                );
                doc.status = DocStatus::Processed;
                doc.chunks_count = Some(report.chunk_ids.len());
                doc.error_msg = None;
            }
            Err(error) => {
                tracing::error!(doc_id = %doc.id, %error, "document failed");
                doc.status = DocStatus::Failed;
                doc.error_msg = Some(error);
            }
        }
        places.push(w.index);
        docs.push(doc);
    }
    ws.storage.doc_upsert(&docs)?;
    for (doc, index) in docs.iter().zip(places) {
        ws.board.message(&format!(
            "Completed processing file {}/{total}: {} ({})",
            index + 1,
            doc.file_path,
            doc.status
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::ingest::IngestReport;

    fn waiting(index: usize) -> Waiting {
        let id = format!("doc-{index}");
        Waiting {
            doc: DocStatusRecord {
                id: id.clone(),
                status: DocStatus::Processing,
                file_path: format!("{id}.txt"),
                track_id: None,
                content_summary: String::new(),
                content_length: 0,
                chunks_count: None,
                error_msg: None,
                metadata: serde_json::Value::Null,
                created_at: String::new(),
                updated_at: String::new(),
            },
            extracted: Extracted {
                doc_id: id,
                entities: Default::default(),
                relations: Default::default(),
                report: IngestReport::default(),
            },
            index,
            started: Instant::now(),
        }
    }

    /// Waits up to 10 s for `thread`; whether it finished.
    fn finishes<T>(thread: &std::thread::ScopedJoinHandle<'_, T>) -> bool {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !thread.is_finished() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        thread.is_finished()
    }

    #[test]
    fn extractors_run_ahead_of_a_busy_merger_until_the_backlog_is_full() {
        let extractors = 2;
        let backlog = extractors * BACKLOG_PER_EXTRACTOR;
        let merges = Merges::for_extractors(extractors);
        std::thread::scope(|scope| {
            // Nothing takes meanwhile, as while the merger is busy with a batch.
            let ahead = scope.spawn(|| (0..backlog).for_each(|i| merges.submit(waiting(i))));
            assert!(finishes(&ahead), "a submission within the backlog waited");
            let over = scope.spawn(|| merges.submit(waiting(backlog)));
            std::thread::sleep(Duration::from_millis(50));
            assert!(
                !over.is_finished(),
                "a submission past the backlog did not wait"
            );
            let batch = merges.take().expect("a batch");
            assert_eq!(batch.len(), backlog);
            assert!(finishes(&over), "taking a batch did not free the backlog");
        });
        merges.close();
        let last = merges.take().expect("the last document");
        assert_eq!(last.iter().map(|w| w.index).collect::<Vec<_>>(), [backlog]);
        assert!(merges.take().is_none());
    }
}
