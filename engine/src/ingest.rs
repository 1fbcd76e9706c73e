//! A document through the indexing steps, in two halves. [`Ingest::extract`]: chunk,
//! store and embed the chunks, extract entities and relations per chunk ([`extract`],
//! answers cached); the chunks' vectors and their extractions are computed at once, as
//! LightRAG does. [`Ingest::merge`]: merge what a batch of documents said into the
//! graph and the entity and relation vector stores with source tracking ([`merge`]),
//! and record the per-document indexes. The caller owns status and the run: one run
//! per workspace at a time (the pipeline lock), its documents sharing one
//! [`Scheduling`]; several documents extract at once, and because a merge reads,
//! modifies and writes, one merge runs at a time, taking every document waiting
//! (the runner's group commit).

mod extract;
mod merge;
mod schedule;
#[cfg(test)]
mod tests;

use serde_json::{Value, json};

use crate::chunking::{self, ChunkError, ChunkingOptions, Plan, Tokenizer};
use crate::embedding::{self, Batching, Embedder};
use crate::ids;
use crate::llm::{ExtractionSettings, LanguageModel, ModelError, wait};
use crate::storage::bundle::Stores;
use crate::storage::{FullDoc, KvNamespace, StorageError, VectorNamespace, VectorRecord};

pub(crate) use extract::{ChunkRef, Entities, Relations, extraction_cache_key, section_path};
pub(crate) use merge::Write;
pub use schedule::Scheduling;

pub struct Document<'a> {
    pub id: &'a str,
    pub content: &'a str,
    pub file_path: &'a str,
    /// The document's own chunking, when its request or file name gave one.
    pub chunking: Option<&'a Plan>,
    /// Its text carries Markdown headings (`parsing::has_headings` of its file name).
    pub has_headings: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IngestReport {
    pub chunk_ids: Vec<String>,
    pub entities: usize,
    pub relations: usize,
    /// Unreadable extraction records skipped.
    pub skipped_records: usize,
    pub cached_extractions: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error(transparent)]
    Chunking(#[from] ChunkError),
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Model(#[from] ModelError),
}

/// How many source chunks and files an entity or relation keeps (the newest):
/// MAX_SOURCE_IDS_PER_ENTITY, MAX_SOURCE_IDS_PER_RELATION, MAX_FILE_PATHS.
#[derive(Debug, Clone, Copy)]
pub struct SourceLimits {
    pub entity_sources: usize,
    pub relation_sources: usize,
    pub file_paths: usize,
}

/// When merged descriptions are condensed by the model.
#[derive(Debug, Clone)]
pub struct SummaryPolicy {
    /// FORCE_LLM_SUMMARY_ON_MERGE: this many fragments or more are summarised.
    pub force_on_merge: usize,
    /// SUMMARY_MAX_TOKENS: a longer merged description is summarised.
    pub max_tokens: usize,
    /// SUMMARY_LENGTH_RECOMMENDED, in tokens.
    pub length: usize,
}

pub struct Ingest<'a> {
    pub stores: Stores<'a>,
    pub tokenizer: &'a Tokenizer,
    pub embedder: &'a dyn Embedder,
    pub batching: Batching,
    pub model: &'a dyn LanguageModel,
    pub extraction: &'a ExtractionSettings,
    pub summary: &'a SummaryPolicy,
    pub limits: SourceLimits,
    /// Model calls this ingestion keeps in flight at once (MAX_ASYNC).
    pub llm_concurrency: usize,
    /// Shared by the documents indexed in parallel (MAX_PARALLEL_INSERT): they chunk,
    /// embed and extract at once within one MAX_ASYNC gate, and merge at once unless
    /// they name a common entity.
    pub scheduling: &'a Scheduling,
    pub chunking: &'a ChunkingOptions,
    /// Reuse cached extraction answers (ENABLE_LLM_CACHE_FOR_EXTRACT).
    pub use_cache: bool,
    /// Timestamp stored on new graph elements (seconds since the epoch).
    pub now: i64,
}

/// A document chunked, its chunks stored and embedded, and what they say gathered:
/// what is left is its merge ([`Ingest::merge`]).
pub struct Extracted {
    pub doc_id: String,
    pub(crate) entities: Entities,
    pub(crate) relations: Relations,
    pub report: IngestReport,
}

impl Ingest<'_> {
    /// A document's chunks stored with their vectors, and what they say about entities
    /// and relations, ready to merge.
    pub fn extract(&self, doc: &Document<'_>) -> Result<Extracted, IngestError> {
        let server = Plan::FixedToken(self.chunking.clone());
        let plan = doc.chunking.unwrap_or(&server);
        let chunks = chunking::split(
            self.tokenizer,
            doc.content,
            plan,
            doc.has_headings,
            |sentences: &[String]| self.embed(sentences),
        )?;
        tracing::debug!(
            doc_id = doc.id,
            strategy = plan.strategy().name(),
            chunks = chunks.len(),
            "document chunked"
        );
        let mut report = IngestReport::default();
        let chunk_records: Vec<(String, Value)> = chunks
            .iter()
            .map(|c| {
                let id = ids::chunk_id(&c.content);
                let mut record = json!({
                    "tokens": c.tokens, "content": c.content, "chunk_order_index": c.order,
                    "full_doc_id": doc.id, "file_path": doc.file_path,
                });
                if let Some(heading) = &c.heading {
                    record["heading"] = json!(heading);
                }
                (id, record)
            })
            .collect();
        // The document remembers its chunks, which is what deleting it starts from
        // (other fields of its record, such as its chunking, are kept).
        let mut record = FullDoc::get(self.stores.kv, doc.id)?.unwrap_or_default();
        record.content = Some(doc.content.to_owned());
        record.file_path = doc.file_path.to_owned();
        record.chunks_list = Some(chunk_records.iter().map(|(id, _)| id.clone()).collect());
        let full_doc = [(
            doc.id.to_owned(),
            serde_json::to_value(&record).map_err(StorageError::from)?,
        )];
        self.stores.kv.kv_upsert_many(&[
            (KvNamespace::TextChunks, &chunk_records),
            (KvNamespace::FullDocs, &full_doc),
        ])?;
        let refs: Vec<ChunkRef<'_>> = chunk_records
            .iter()
            .zip(&chunks)
            .map(|((id, _), chunk)| ChunkRef {
                id,
                content: &chunk.content,
                file_path: doc.file_path,
                section: section_path(self.tokenizer, chunk.heading.as_ref()),
            })
            .collect();
        let texts: Vec<String> = chunks.iter().map(|c| c.content.clone()).collect();
        let chunk_vectors = async {
            let vectors = embedding::embed_all(self.embedder, &texts, self.batching).await?;
            let records: Vec<VectorRecord> = chunk_records
                .iter()
                .zip(vectors)
                .map(|((id, record), vector)| VectorRecord {
                    id: id.clone(),
                    vector,
                    meta: json!({"full_doc_id": doc.id, "file_path": doc.file_path, "content": record["content"],
                        "tokens": record["tokens"], "chunk_order_index": record["chunk_order_index"]}),
                })
                .collect();
            self.stores
                .vectors_upsert(VectorNamespace::Chunks, &records)?;
            Ok::<(), IngestError>(())
        };
        let (stored, extractions) =
            wait(async { tokio::join!(chunk_vectors, self.extract_all(&refs, &mut report)) });
        stored?;
        let (entities, relations) = extract::gather(&refs, extractions?, &mut report);
        report.entities = entities.len();
        report.relations = relations.len();
        report.chunk_ids = chunk_records.into_iter().map(|(id, _)| id).collect();
        Ok(Extracted {
            doc_id: doc.id.to_owned(),
            entities,
            relations,
            report,
        })
    }

    /// Merges a batch of extracted documents, in order, into the graph and its vector
    /// stores (one read and one write per kind, the result that of merging them one by
    /// one), then records which entities and relations each document named. The caller
    /// runs one merge at a time per workspace.
    pub fn merge(&self, batch: &[&Extracted]) -> Result<(), IngestError> {
        let graph: Vec<(&Entities, &Relations)> =
            batch.iter().map(|d| (&d.entities, &d.relations)).collect();
        self.write_graph(&graph, Write::Merge)?;
        let mut entity_index = Vec::with_capacity(batch.len());
        let mut relation_index = Vec::with_capacity(batch.len());
        for d in batch {
            let names: Vec<&String> = d.entities.keys().collect();
            let pairs: Vec<[&String; 2]> = d.relations.keys().map(|(s, t)| [s, t]).collect();
            entity_index.push((
                d.doc_id.clone(),
                json!({"entity_names": names, "count": names.len()}),
            ));
            relation_index.push((
                d.doc_id.clone(),
                json!({"relation_pairs": pairs, "count": pairs.len()}),
            ));
        }
        self.stores.kv.kv_upsert_many(&[
            (KvNamespace::FullEntities, &entity_index),
            (KvNamespace::FullRelations, &relation_index),
        ])?;
        Ok(())
    }

    /// One document through every step, merged on its own.
    pub fn run(&self, doc: &Document<'_>) -> Result<IngestReport, IngestError> {
        let extracted = self.extract(doc)?;
        self.merge(&[&extracted])?;
        Ok(extracted.report)
    }

    /// Vectors for `texts`, batched as configured.
    fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, IngestError> {
        Ok(wait(embedding::embed_all(
            self.embedder,
            texts,
            self.batching,
        ))?)
    }
}
