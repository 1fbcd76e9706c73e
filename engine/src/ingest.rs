//! One document through the indexing steps: chunk, embed the chunks, extract entities
//! and relations per chunk (answers cached), merge them into the graph and the entity
//! and relation vector stores with source tracking, and record the per-document
//! indexes. The caller owns scheduling and status: it must run one ingestion per
//! workspace at a time (the pipeline lock), because merges read, modify and write.
//!
//! Descriptions of an entity or relation seen in several chunks are kept as distinct
//! fragments joined by `<SEP>`, as LightRAG stores them.

use std::collections::{BTreeMap, HashSet};
use std::sync::Mutex;

use serde_json::{Value, json};

use crate::chunking::{self, ChunkError, ChunkingOptions, Tokenizer};
use futures_util::StreamExt;

use crate::embedding::{self, Batching, Embedder};
use crate::extraction::{self, Extraction};
use crate::ids;
use crate::llm::{ExtractionSettings, LanguageModel, ModelError, SummaryRequest, wait};
use crate::storage::vectors::VectorIndex;
use crate::storage::{
    Generations, GraphStorage, KvNamespace, KvStorage, StorageError, VectorNamespace, VectorRecord,
    VectorStorage,
};

/// LightRAG's separator between merged fragments.
pub const GRAPH_FIELD_SEP: &str = "<SEP>";

/// The stores one ingestion writes.
pub struct Stores<'a> {
    /// Cached node degrees (read by retrieval).
    pub degrees: &'a DegreeCache,
    pub kv: &'a dyn KvStorage,
    pub graph: &'a dyn GraphStorage,
    pub vectors: &'a dyn VectorStorage,
    pub generations: &'a dyn Generations,
    pub chunk_index: &'a VectorIndex,
    pub entity_index: &'a VectorIndex,
    pub relation_index: &'a VectorIndex,
}

impl<'a> Stores<'a> {
    /// One storage backend in every role, with a worker's vector caches over it.
    pub fn new(
        storage: &'a dyn crate::storage::Storage,
        generations: &'a dyn Generations,
        indexes: &'a Indexes,
    ) -> Stores<'a> {
        Stores {
            degrees: &indexes.degrees,
            kv: storage,
            graph: storage,
            vectors: storage,
            generations,
            chunk_index: &indexes.chunks,
            entity_index: &indexes.entities,
            relation_index: &indexes.relationships,
        }
    }

    /// Embeds each record's `meta.content` and stores it in `index` (one of these
    /// stores' indexes).
    pub(crate) fn embed_into<E: From<StorageError> + From<ModelError>>(
        &self,
        embedder: &dyn Embedder,
        batching: Batching,
        index: &VectorIndex,
        mut records: Vec<VectorRecord>,
    ) -> Result<(), E> {
        if records.is_empty() {
            return Ok(());
        }
        wait(embedding::embed_records(embedder, &mut records, batching))?;
        index.upsert(self.vectors, self.generations, &records)?;
        Ok(())
    }
}

pub struct Document<'a> {
    pub id: &'a str,
    pub content: &'a str,
    pub file_path: &'a str,
    /// The document's own chunking, when its request gave one.
    pub chunking: Option<&'a ChunkingOptions>,
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
    /// Taken around the graph merge: documents indexed in parallel (MAX_PARALLEL_INSERT)
    /// chunk, embed and extract at once, but merge one at a time.
    pub merge_lock: &'a Mutex<()>,
    pub chunking: &'a ChunkingOptions,
    /// Reuse cached extraction answers (ENABLE_LLM_CACHE_FOR_EXTRACT).
    pub use_cache: bool,
    /// Timestamp stored on new graph elements (seconds since the epoch).
    pub now: i64,
}

/// The LLM-cache key of a chunk's extraction answer.
pub(crate) fn extraction_cache_key(chunk: &str) -> String {
    format!("extract:{}", ids::md5_hex(chunk.as_bytes()))
}

/// Fragments of `existing` joined by `<SEP>`, plus new ones not already there.
fn merge_fragments(existing: Option<&str>, new: impl IntoIterator<Item = String>) -> String {
    merge_newest(existing, new, usize::MAX)
}

/// Like [`merge_fragments`], keeping only the newest `limit` fragments (LightRAG's FIFO
/// limit on source ids and file paths: a hub entity's lists stop growing).
fn merge_newest(
    existing: Option<&str>,
    new: impl IntoIterator<Item = String>,
    limit: usize,
) -> String {
    let mut fragments: Vec<String> = existing
        .filter(|s| !s.is_empty())
        .map(|s| s.split(GRAPH_FIELD_SEP).map(str::to_owned).collect())
        .unwrap_or_default();
    let mut seen: HashSet<String> = fragments.iter().cloned().collect();
    for fragment in new {
        if !fragment.is_empty() && seen.insert(fragment.clone()) {
            fragments.push(fragment);
        }
    }
    let skip = fragments.len().saturating_sub(limit);
    fragments[skip..].join(GRAPH_FIELD_SEP)
}

/// `{"chunk_ids": [...]}` for an entity's or relation's `<SEP>`-joined source ids.
pub(crate) fn chunk_ids_record(source_id: &str) -> Value {
    let ids: Vec<&str> = source_id
        .split(GRAPH_FIELD_SEP)
        .filter(|id| !id.is_empty())
        .collect();
    json!({ "chunk_ids": ids })
}

/// A relation's key in `relation_chunks`.
pub(crate) fn relation_chunks_key(source: &str, target: &str) -> String {
    format!("{source}{GRAPH_FIELD_SEP}{target}")
}

/// An entity's vector record, embedded from "name\ndescription" as LightRAG does (the
/// vector is filled in by [`embedding::embed_records`]).
pub(crate) fn entity_vector(
    name: &str,
    description: &str,
    source_id: &str,
    file_path: &str,
) -> VectorRecord {
    VectorRecord {
        id: ids::entity_id(name),
        vector: Vec::new(),
        meta: json!({"entity_name": name, "content": format!("{name}\n{description}"),
            "source_id": source_id, "file_path": file_path}),
    }
}

/// A relation's vector record, embedded from "keywords\tsource\ntarget\ndescription"
/// as LightRAG does (the vector is filled in by [`embedding::embed_records`]). Its id
/// is the same whichever way round the pair comes.
pub(crate) fn relation_vector(
    (source, target): (&str, &str),
    keywords: &str,
    description: &str,
    source_id: &str,
    file_path: &str,
) -> VectorRecord {
    let (a, b) = ids::endpoints(source, target);
    VectorRecord {
        id: ids::relation_id(a, b),
        vector: Vec::new(),
        meta: json!({"src_id": source, "tgt_id": target,
            "content": format!("{keywords}\t{source}\n{target}\n{description}"),
            "source_id": source_id, "file_path": file_path}),
    }
}

fn field<'v>(data: &'v Option<Value>, name: &str) -> Option<&'v str> {
    data.as_ref()?.get(name)?.as_str()
}

/// The stored fields a write starts from: all of them when merging, none when
/// replacing.
fn kept_field<'v>(existing: &'v Option<Value>, mode: Write) -> impl Fn(&str) -> Option<&'v str> {
    move |name| match mode {
        Write::Merge => field(existing, name),
        Write::Replace => None,
    }
}

/// What a set of chunks says about an entity or a relation.
#[derive(Default, Clone)]
pub(crate) struct Contribution {
    pub entity_type: Option<String>,
    pub keywords: Vec<String>,
    pub descriptions: Vec<String>,
    pub chunk_ids: Vec<String>,
    pub file_paths: Vec<String>,
}

pub(crate) type Entities = BTreeMap<String, Contribution>;
pub(crate) type Relations = BTreeMap<(String, String), Contribution>;

/// A chunk to extract from: its id, text and source file.
pub(crate) struct ChunkRef<'c> {
    pub id: &'c str,
    pub content: &'c str,
    pub file_path: &'c str,
}

/// How a write treats what the graph already holds for an element.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Write {
    /// Add this contribution's fragments to the stored ones (a new document).
    Merge,
    /// Rebuild the element from this contribution alone (after a deletion); only its
    /// creation time is kept.
    Replace,
}

impl Ingest<'_> {
    pub fn run(&self, doc: &Document<'_>) -> Result<IngestReport, IngestError> {
        let chunks = chunking::chunk(
            self.tokenizer,
            doc.content,
            doc.chunking.unwrap_or(self.chunking),
        )?;
        let mut report = IngestReport::default();
        let chunk_records: Vec<(String, Value)> = chunks
            .iter()
            .map(|c| {
                let id = ids::chunk_id(&c.content);
                let record = json!({
                    "tokens": c.tokens, "content": c.content, "chunk_order_index": c.order,
                    "full_doc_id": doc.id, "file_path": doc.file_path,
                });
                (id, record)
            })
            .collect();
        self.stores
            .kv
            .kv_upsert(KvNamespace::TextChunks, &chunk_records)?;
        // The document remembers its chunks, which is what deleting it starts from
        // (other fields of its record, such as its chunking, are kept).
        let chunk_ids: Vec<&String> = chunk_records.iter().map(|(id, _)| id).collect();
        let mut record = self
            .stores
            .kv
            .kv_get(KvNamespace::FullDocs, doc.id)?
            .filter(Value::is_object)
            .unwrap_or_else(|| json!({}));
        record["content"] = json!(doc.content);
        record["file_path"] = json!(doc.file_path);
        record["chunks_list"] = json!(chunk_ids);
        self.stores
            .kv
            .kv_upsert(KvNamespace::FullDocs, &[(doc.id.to_owned(), record)])?;
        let vectors = self.embed(&chunks.iter().map(|c| c.content.clone()).collect::<Vec<_>>())?;
        let chunk_vectors: Vec<VectorRecord> = chunk_records
            .iter()
            .zip(vectors)
            .map(|((id, record), vector)| VectorRecord {
                id: id.clone(),
                vector,
                meta: json!({"full_doc_id": doc.id, "file_path": doc.file_path, "content": record["content"]}),
            })
            .collect();
        self.stores.chunk_index.upsert(
            self.stores.vectors,
            self.stores.generations,
            &chunk_vectors,
        )?;

        let refs: Vec<ChunkRef<'_>> = chunk_records
            .iter()
            .zip(&chunks)
            .map(|((id, _), chunk)| ChunkRef {
                id,
                content: &chunk.content,
                file_path: doc.file_path,
            })
            .collect();
        let (entities, relations) = self.contributions(&refs, &mut report)?;
        let _merging = self.merge_lock.lock().unwrap_or_else(|e| e.into_inner());
        self.write_entities(&entities, Write::Merge)?;
        self.write_relations(&relations, Write::Merge)?;
        let names: Vec<&String> = entities.keys().collect();
        let pairs: Vec<[&String; 2]> = relations.keys().map(|(s, t)| [s, t]).collect();
        self.stores.kv.kv_upsert(
            KvNamespace::FullEntities,
            &[(
                doc.id.to_owned(),
                json!({"entity_names": names, "count": names.len()}),
            )],
        )?;
        self.stores.kv.kv_upsert(
            KvNamespace::FullRelations,
            &[(
                doc.id.to_owned(),
                json!({"relation_pairs": pairs, "count": pairs.len()}),
            )],
        )?;
        report.entities = entities.len();
        report.relations = relations.len();
        report.chunk_ids = chunk_records.into_iter().map(|(id, _)| id).collect();
        Ok(report)
    }

    /// What the chunks say, entity by entity and relation by relation (extraction
    /// answers cached). Every relation's endpoints are entities.
    pub(crate) fn contributions(
        &self,
        chunks: &[ChunkRef<'_>],
        report: &mut IngestReport,
    ) -> Result<(Entities, Relations), IngestError> {
        let mut entities = Entities::new();
        let mut relations = Relations::new();
        let extractions = self.extract_all(chunks, report)?;
        for (chunk, extraction) in chunks.iter().zip(extractions) {
            report.skipped_records += extraction.skipped;
            for e in extraction.entities {
                let c = entities.entry(e.name).or_default();
                c.entity_type.get_or_insert(e.entity_type);
                c.descriptions.push(e.description);
                c.chunk_ids.push(chunk.id.to_owned());
                c.file_paths.push(chunk.file_path.to_owned());
            }
            for r in extraction.relations {
                let key = ids::endpoints(r.source, r.target);
                let c = relations.entry(key).or_default();
                c.keywords
                    .extend(r.keywords.split(',').map(|k| k.trim().to_owned()));
                c.descriptions.push(r.description);
                c.chunk_ids.push(chunk.id.to_owned());
                c.file_paths.push(chunk.file_path.to_owned());
            }
        }
        for ((source, target), c) in &relations {
            for name in [source, target] {
                entities
                    .entry(name.clone())
                    .or_insert_with(|| Contribution {
                        chunk_ids: c.chunk_ids.clone(),
                        file_paths: c.file_paths.clone(),
                        ..Default::default()
                    });
            }
        }
        Ok((entities, relations))
    }

    /// Every chunk's extraction: cached answers first, the rest from the model with up
    /// to `llm_concurrency` calls in flight; new answers are cached.
    fn extract_all(
        &self,
        chunks: &[ChunkRef<'_>],
        report: &mut IngestReport,
    ) -> Result<Vec<Extraction>, IngestError> {
        let mut answers: Vec<Option<String>> = Vec::with_capacity(chunks.len());
        for chunk in chunks {
            let cached = if self.use_cache {
                self.stores
                    .kv
                    .kv_get(
                        KvNamespace::LlmResponseCache,
                        &extraction_cache_key(chunk.content),
                    )?
                    .and_then(|a| a.get("return")?.as_str().map(str::to_owned))
            } else {
                None
            };
            report.cached_extractions += usize::from(cached.is_some());
            answers.push(cached);
        }
        let missing: Vec<usize> = (0..chunks.len())
            .filter(|i| answers[*i].is_none())
            .collect();
        let fresh: Vec<Result<String, ModelError>> = wait(
            futures_util::stream::iter(missing.iter())
                .map(|&i| self.model.extract(chunks[i].content, self.extraction))
                .buffered(self.llm_concurrency.max(1))
                .collect(),
        );
        let mut cache = Vec::new();
        for (i, answer) in missing.into_iter().zip(fresh) {
            let answer = answer?;
            if self.use_cache {
                cache.push((
                    extraction_cache_key(chunks[i].content),
                    json!({"return": answer, "cache_type": "extract"}),
                ));
            }
            answers[i] = Some(answer);
        }
        self.stores
            .kv
            .kv_upsert(KvNamespace::LlmResponseCache, &cache)?;
        Ok(answers
            .into_iter()
            .map(|a| extraction::parse(&a.unwrap_or_default()))
            .collect())
    }

    /// Vectors for `texts`, batched as configured.
    fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, IngestError> {
        Ok(wait(embedding::embed_all(
            self.embedder,
            texts,
            self.batching,
        ))?)
    }

    /// Merged descriptions with too many fragments or tokens, condensed by the model
    /// (concurrently); the others unchanged.
    fn summarize_long(
        &self,
        kind: &str,
        items: Vec<(String, String)>,
    ) -> Result<Vec<String>, IngestError> {
        let needs = |description: &str| {
            let fragments = description.split(GRAPH_FIELD_SEP).count();
            fragments > 1
                && (fragments >= self.summary.force_on_merge
                    || self.tokenizer.count(description) > self.summary.max_tokens)
        };
        let summaries: Vec<Result<String, ModelError>> = wait(
            futures_util::stream::iter(items.iter())
                .map(|(name, description)| async move {
                    if !needs(description) {
                        return Ok(description.clone());
                    }
                    let fragments: Vec<String> = description
                        .split(GRAPH_FIELD_SEP)
                        .map(str::to_owned)
                        .collect();
                    self.model
                        .summarize(SummaryRequest {
                            kind,
                            name,
                            descriptions: &fragments,
                            language: &self.extraction.language,
                            length: self.summary.length,
                        })
                        .await
                })
                .buffered(self.llm_concurrency.max(1))
                .collect(),
        );
        Ok(summaries.into_iter().collect::<Result<_, _>>()?)
    }

    pub(crate) fn write_entities(
        &self,
        entities: &Entities,
        mode: Write,
    ) -> Result<(), IngestError> {
        let mut vectors = Vec::with_capacity(entities.len());
        let mut nodes = Vec::with_capacity(entities.len());
        let mut chunk_index = Vec::with_capacity(entities.len());
        let mut stored = Vec::with_capacity(entities.len());
        let mut merged = Vec::with_capacity(entities.len());
        for (name, c) in entities {
            let existing = self.stores.graph.node_get(name)?;
            let description = merge_fragments(
                kept_field(&existing, mode)("description"),
                c.descriptions.clone(),
            );
            merged.push((name.clone(), description));
            stored.push(existing);
        }
        let descriptions = self.summarize_long("Entity", merged)?;
        for (index, ((name, c), existing)) in entities.iter().zip(stored).enumerate() {
            let kept = kept_field(&existing, mode);
            let description = &descriptions[index];
            let source_id = merge_newest(
                kept("source_id"),
                c.chunk_ids.clone(),
                self.limits.entity_sources,
            );
            let file_path = merge_newest(
                kept("file_path"),
                c.file_paths.clone(),
                self.limits.file_paths,
            );
            let entity_type = match mode {
                Write::Merge => field(&existing, "entity_type")
                    .map(str::to_owned)
                    .or_else(|| c.entity_type.clone()),
                Write::Replace => c
                    .entity_type
                    .clone()
                    .or_else(|| field(&existing, "entity_type").map(str::to_owned)),
            };
            let data = json!({
                "entity_id": name,
                "entity_type": entity_type.unwrap_or_else(|| "other".to_owned()),
                "description": description,
                "source_id": source_id,
                "file_path": file_path,
                "created_at": self.created_at(&existing),
            });
            nodes.push((name.clone(), data));
            vectors.push(entity_vector(name, description, &source_id, &file_path));
            chunk_index.push((name.clone(), chunk_ids_record(&source_id)));
        }
        self.stores.graph.nodes_upsert(&nodes)?;
        self.embed_into(self.stores.entity_index, vectors)?;
        self.stores
            .kv
            .kv_upsert(KvNamespace::EntityChunks, &chunk_index)?;
        Ok(())
    }

    /// A graph element keeps its creation time through merges and rebuilds.
    fn created_at(&self, existing: &Option<Value>) -> Value {
        existing
            .as_ref()
            .and_then(|e| e.get("created_at").cloned())
            .unwrap_or(json!(self.now))
    }

    pub(crate) fn write_relations(
        &self,
        relations: &Relations,
        mode: Write,
    ) -> Result<(), IngestError> {
        let mut vectors = Vec::with_capacity(relations.len());
        let mut edges = Vec::with_capacity(relations.len());
        let mut chunk_index = Vec::with_capacity(relations.len());
        let mut stored = Vec::with_capacity(relations.len());
        let mut merged = Vec::with_capacity(relations.len());
        for ((source, target), c) in relations {
            let existing = self.stores.graph.edge_get(source, target)?.map(|e| e.data);
            let description = merge_fragments(
                kept_field(&existing, mode)("description"),
                c.descriptions.clone(),
            );
            merged.push((format!("{source}-{target}"), description));
            stored.push(existing);
        }
        let descriptions = self.summarize_long("Relation", merged)?;
        for (index, (((source, target), c), existing)) in relations.iter().zip(stored).enumerate() {
            let kept = kept_field(&existing, mode);
            // The weight counts the distinct chunks that state the relation: a chunk
            // already among the sources adds nothing, so running a document again (after
            // a crash mid-merge) counts nothing twice.
            let known: HashSet<&str> = kept("source_id")
                .map(|s| s.split(GRAPH_FIELD_SEP).collect())
                .unwrap_or_default();
            let fresh: HashSet<&String> = c
                .chunk_ids
                .iter()
                .filter(|id| !known.contains(id.as_str()))
                .collect();
            let weight = match kept("source_id") {
                Some(_) => existing
                    .as_ref()
                    .and_then(|e| e["weight"].as_f64())
                    .unwrap_or(known.len() as f64),
                None => 0.0,
            } + fresh.len() as f64;
            let source_id = merge_newest(
                kept("source_id"),
                c.chunk_ids.clone(),
                self.limits.relation_sources,
            );
            let keywords = merge_fragments(
                kept("keywords")
                    .map(|k| k.replace(", ", GRAPH_FIELD_SEP))
                    .as_deref(),
                c.keywords.clone(),
            )
            .replace(GRAPH_FIELD_SEP, ", ");
            let description = &descriptions[index];
            let file_path = merge_newest(
                kept("file_path"),
                c.file_paths.clone(),
                self.limits.file_paths,
            );
            let data = json!({
                "weight": weight,
                "keywords": keywords,
                "description": description,
                "source_id": source_id,
                "file_path": file_path,
                "created_at": self.created_at(&existing),
            });
            edges.push((source.clone(), target.clone(), data));
            vectors.push(relation_vector(
                (source, target),
                &keywords,
                description,
                &source_id,
                &file_path,
            ));
            chunk_index.push((
                relation_chunks_key(source, target),
                chunk_ids_record(&source_id),
            ));
        }
        self.stores.graph.edges_upsert(&edges)?;
        self.embed_into(self.stores.relation_index, vectors)?;
        self.stores
            .kv
            .kv_upsert(KvNamespace::RelationChunks, &chunk_index)?;
        Ok(())
    }

    fn embed_into(
        &self,
        index: &VectorIndex,
        records: Vec<VectorRecord>,
    ) -> Result<(), IngestError> {
        self.stores
            .embed_into(self.embedder, self.batching, index, records)
    }
}

/// The vector indexes of one workspace, one per namespace.
pub struct Indexes {
    pub chunks: VectorIndex,
    pub entities: VectorIndex,
    pub relationships: VectorIndex,
    pub degrees: DegreeCache,
}

impl Default for Indexes {
    fn default() -> Self {
        Indexes {
            chunks: VectorIndex::new(VectorNamespace::Chunks),
            entities: VectorIndex::new(VectorNamespace::Entities),
            relationships: VectorIndex::new(VectorNamespace::Relationships),
            degrees: DegreeCache::default(),
        }
    }
}

/// Node degrees a worker has counted, valid while the relationship generation stays
/// the same: every change of an edge rewrites or removes its relation vector, which
/// moves that generation.
#[derive(Default)]
pub struct DegreeCache {
    cached: Mutex<(Option<u64>, std::collections::HashMap<String, usize>)>,
}

impl DegreeCache {
    /// The degrees of `names`, counting only those not cached for this generation.
    pub fn get(
        &self,
        graph: &dyn GraphStorage,
        generations: &dyn Generations,
        names: &[String],
    ) -> Result<std::collections::HashMap<String, usize>, StorageError> {
        let generation = generations.current(VectorNamespace::Relationships);
        let mut cached = self.cached.lock().unwrap_or_else(|e| e.into_inner());
        if cached.0 != Some(generation) {
            *cached = (Some(generation), std::collections::HashMap::new());
        }
        let missing: Vec<String> = names
            .iter()
            .filter(|n| !cached.1.contains_key(*n))
            .cloned()
            .collect();
        if !missing.is_empty() {
            let counted = graph.node_degrees(&missing)?;
            cached.1.extend(counted);
        }
        Ok(names
            .iter()
            .map(|n| (n.clone(), cached.1.get(n).copied().unwrap_or(0)))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::embedding::builtin::HashedNgrams;
    use crate::llm::builtin::{self, BuiltinModel};
    use crate::storage::LocalGenerations;
    use crate::storage::sqlite::SqliteStorage;

    struct Fixture {
        storage: SqliteStorage,
        generations: LocalGenerations,
        indexes: Indexes,
        tokenizer: Tokenizer,
        embedder: HashedNgrams,
        extraction: ExtractionSettings,
        summary: SummaryPolicy,
        chunking: ChunkingOptions,
        merge_lock: Mutex<()>,
    }

    impl Fixture {
        fn new() -> Fixture {
            let dir = std::env::temp_dir().join(format!(
                "lrm-ingest-{}-{}",
                std::process::id(),
                fastrand::u32(..)
            ));
            Fixture {
                storage: SqliteStorage::open(&dir, "").unwrap(),
                generations: LocalGenerations::default(),
                indexes: Indexes::default(),
                tokenizer: Tokenizer::o200k(),
                embedder: HashedNgrams::new(256),
                extraction: ExtractionSettings {
                    entity_types: builtin::DEFAULT_ENTITY_TYPES
                        .iter()
                        .map(|t| t.to_string())
                        .collect(),
                    language: "English".to_owned(),
                    max_gleaning: 1,
                },
                summary: SummaryPolicy {
                    force_on_merge: 8,
                    max_tokens: 1200,
                    length: 600,
                },
                chunking: ChunkingOptions {
                    chunk_token_size: 16,
                    overlap_token_size: 2,
                    ..Default::default()
                },
                merge_lock: Mutex::new(()),
            }
        }

        fn ingest(&self, id: &str, content: &str, file: &str) -> IngestReport {
            self.indexer()
                .run(&Document {
                    id,
                    content,
                    file_path: file,
                    chunking: None,
                })
                .unwrap()
        }

        fn indexer(&self) -> Ingest<'_> {
            Ingest {
                stores: Stores::new(&self.storage, &self.generations, &self.indexes),
                tokenizer: &self.tokenizer,
                embedder: &self.embedder,
                batching: Batching {
                    batch_size: 10,
                    concurrency: 2,
                },
                model: &BuiltinModel,
                extraction: &self.extraction,
                summary: &self.summary,
                limits: SourceLimits {
                    entity_sources: 300,
                    relation_sources: 300,
                    file_paths: 75,
                },
                llm_concurrency: 4,
                merge_lock: &self.merge_lock,
                chunking: &self.chunking,
                use_cache: true,
                now: 1_795_674_000,
            }
        }
    }

    const TEXT: &str = "Elon Musk founded SpaceX in Hawthorne. NASA awarded SpaceX a launch contract. \
                        Gwynne Shotwell runs SpaceX operations with Elon Musk.";

    #[test]
    fn builds_the_graph_vectors_and_indexes() {
        let f = Fixture::new();
        let report = f.ingest("doc-1", TEXT, "spacex.txt");
        assert!(!report.chunk_ids.is_empty());
        assert!(report.entities >= 5 && report.relations >= 4, "{report:?}");
        let node = f.storage.node_get("SpaceX").unwrap().unwrap();
        assert_eq!(node["file_path"], "spacex.txt");
        assert!(
            node["description"]
                .as_str()
                .unwrap()
                .contains(GRAPH_FIELD_SEP),
            "{node}"
        );
        let edge = f.storage.edge_get("SpaceX", "Elon Musk").unwrap().unwrap();
        assert!(edge.data["weight"].as_f64().unwrap() >= 2.0, "{edge:?}");
        let query = f.embedder.embed("SpaceX launch contract");
        let hits = f
            .indexes
            .entities
            .query(&f.storage, &f.generations, &query, 3, 0.0)
            .unwrap();
        assert!(
            hits.iter().any(|h| h.meta["entity_name"] == "SpaceX"),
            "{hits:?}"
        );
        let full = f
            .storage
            .kv_get(KvNamespace::FullEntities, "doc-1")
            .unwrap()
            .unwrap();
        assert_eq!(full["count"].as_u64().unwrap() as usize, report.entities);
        assert!(
            f.storage
                .kv_get(KvNamespace::TextChunks, &report.chunk_ids[0])
                .unwrap()
                .is_some()
        );
    }

    #[test]
    fn a_second_document_merges_with_source_tracking_and_reuses_cached_extractions() {
        let f = Fixture::new();
        f.ingest("doc-1", TEXT, "a.txt");
        let report = f.ingest("doc-2", TEXT, "b.txt");
        assert_eq!(report.cached_extractions, report.chunk_ids.len());
        let node = f.storage.node_get("NASA").unwrap().unwrap();
        assert_eq!(node["file_path"], format!("a.txt{GRAPH_FIELD_SEP}b.txt"));
        // Same chunks, same descriptions: fragments are not duplicated.
        assert!(
            !node["description"]
                .as_str()
                .unwrap()
                .contains(GRAPH_FIELD_SEP)
        );
        // Same chunks again: the relation is not counted twice.
        let edge = f.storage.edge_get("NASA", "SpaceX").unwrap().unwrap();
        assert_eq!(edge.data["weight"], 1.0);
    }

    #[test]
    fn deleting_a_document_removes_its_own_elements_and_rebuilds_shared_ones() {
        let f = Fixture::new();
        let first = f.ingest("doc-1", TEXT, "a.txt");
        f.ingest(
            "doc-2",
            "SpaceX builds Starship rockets. NASA works with SpaceX on lunar landers.",
            "b.txt",
        );
        let report = f
            .indexer()
            .delete_documents(&["doc-1".to_owned()], false)
            .unwrap();
        assert_eq!(report.chunks, first.chunk_ids.len());
        assert!(
            report.entities_removed >= 2 && report.entities_rebuilt >= 2,
            "{report:?}"
        );
        // Only doc-1 named Gwynne Shotwell and Hawthorne.
        assert!(f.storage.node_get("Gwynne Shotwell").unwrap().is_none());
        assert!(f.storage.edges_of("Gwynne Shotwell").unwrap().is_empty());
        // SpaceX and NASA survive, described by doc-2 alone.
        let spacex = f.storage.node_get("SpaceX").unwrap().unwrap();
        assert_eq!(spacex["file_path"], "b.txt");
        assert!(
            !spacex["description"]
                .as_str()
                .unwrap()
                .contains("Hawthorne"),
            "{spacex}"
        );
        let edge = f.storage.edge_get("NASA", "SpaceX").unwrap().unwrap();
        assert_eq!(edge.data["weight"], 1.0);
        assert_eq!(edge.data["file_path"], "b.txt");
        for chunk in &first.chunk_ids {
            assert!(
                f.storage
                    .kv_get(KvNamespace::TextChunks, chunk)
                    .unwrap()
                    .is_none()
            );
        }
        assert!(
            f.storage
                .kv_get(KvNamespace::FullEntities, "doc-1")
                .unwrap()
                .is_none()
        );
        // Vector search no longer finds what went.
        let hits = f
            .indexes
            .entities
            .query(
                &f.storage,
                &f.generations,
                &f.embedder.embed("Gwynne Shotwell"),
                50,
                0.0,
            )
            .unwrap();
        assert!(
            hits.iter()
                .all(|h| h.meta["entity_name"] != "Gwynne Shotwell")
        );
        let chunks = f
            .indexes
            .chunks
            .query(&f.storage, &f.generations, &f.embedder.embed(TEXT), 50, 0.0)
            .unwrap();
        assert!(
            chunks.iter().all(|h| h.meta["full_doc_id"] == "doc-2"),
            "{chunks:?}"
        );
    }

    #[test]
    fn hub_lists_keep_the_newest_sources_while_weights_keep_counting() {
        let f = Fixture::new();
        let mut indexer = f.indexer();
        indexer.limits = SourceLimits {
            entity_sources: 2,
            relation_sources: 2,
            file_paths: 2,
        };
        for i in 0..4 {
            indexer
                .run(&Document {
                    id: &format!("doc-{i}"),
                    content: &format!("NASA paid SpaceX for mission {i}."),
                    file_path: &format!("f{i}.txt"),
                    chunking: None,
                })
                .unwrap();
        }
        let node = f.storage.node_get("NASA").unwrap().unwrap();
        assert_eq!(
            node["source_id"]
                .as_str()
                .unwrap()
                .split(GRAPH_FIELD_SEP)
                .count(),
            2
        );
        assert_eq!(node["file_path"], format!("f2.txt{GRAPH_FIELD_SEP}f3.txt"));
        let edge = f.storage.edge_get("NASA", "SpaceX").unwrap().unwrap();
        assert_eq!(edge.data["weight"], 4.0);
        assert_eq!(
            edge.data["source_id"]
                .as_str()
                .unwrap()
                .split(GRAPH_FIELD_SEP)
                .count(),
            2
        );
    }

    #[test]
    fn cached_degrees_follow_new_relations() {
        let f = Fixture::new();
        f.ingest("doc-1", "NASA hired SpaceX.", "a.txt");
        let names = ["NASA".to_owned()];
        let degree = || {
            f.indexes
                .degrees
                .get(&f.storage, &f.generations, &names)
                .unwrap()["NASA"]
        };
        assert_eq!(degree(), 1);
        f.ingest("doc-2", "NASA worked with Boeing.", "b.txt");
        assert_eq!(degree(), 2, "a new relation invalidates the cache");
    }

    #[test]
    fn merge_fragments_keeps_order_and_drops_repeats() {
        assert_eq!(
            merge_fragments(Some("a<SEP>b"), ["b".into(), "c".into()]),
            "a<SEP>b<SEP>c"
        );
        assert_eq!(merge_fragments(None, ["".into(), "x".into()]), "x");
        assert_eq!(
            merge_newest(Some("a<SEP>b<SEP>c"), ["d".into(), "b".into()], 3),
            "b<SEP>c<SEP>d"
        );
    }
}
