//! What the chunks say: each chunk's extraction (cached answers first, then the model
//! with several calls in flight through the run's gate), gathered entity by entity and
//! relation by relation.

use std::collections::BTreeMap;

use futures_util::StreamExt;
use serde_json::json;

use super::schedule::Priority;
use super::{Ingest, IngestError, IngestReport};
use crate::chunking::Tokenizer;
use crate::chunking::headings::{self, ChunkHeading};
use crate::extraction::{self, Extraction};
use crate::ids;
use crate::llm::{ModelError, wait};
use crate::storage::KvNamespace;

/// The LLM-cache key of a chunk's extraction answer.
pub(crate) fn extraction_cache_key(chunk: &str) -> String {
    format!("extract:{}", ids::md5_hex(chunk.as_bytes()))
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

/// A chunk to extract from: its id, text, source file and, in a section, its heading
/// path.
pub(crate) struct ChunkRef<'c> {
    pub id: &'c str,
    pub content: &'c str,
    pub file_path: &'c str,
    pub section: Option<String>,
}

/// The heading path the extraction prompt shows for a chunk (LightRAG's `---Section
/// Context---`): its parents and its own heading, within LightRAG's 256 tokens
/// (first → … → leaf when longer). `None` for a chunk outside every section.
pub(crate) fn section_path(
    tokenizer: &Tokenizer,
    heading: Option<&ChunkHeading>,
) -> Option<String> {
    let heading = heading?;
    let mut path = heading.parent_headings.clone();
    path.push(heading.heading.clone());
    headings::content_headings(tokenizer, &path)
}

impl Ingest<'_> {
    /// What the chunks say, entity by entity and relation by relation (extraction
    /// answers cached). Every relation's endpoints are entities.
    pub(crate) fn contributions(
        &self,
        chunks: &[ChunkRef<'_>],
        report: &mut IngestReport,
    ) -> Result<(Entities, Relations), IngestError> {
        let extractions = wait(self.extract_all(chunks, report))?;
        Ok(gather(chunks, extractions, report))
    }

    /// Every chunk's extraction: cached answers first, the rest from the model, this
    /// document keeping up to `llm_concurrency` calls waiting for the run's gate (as
    /// LightRAG's per-document chunk semaphore under its global LLM limit); new answers
    /// are cached.
    pub(super) async fn extract_all(
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
        let gate = &self.scheduling.model;
        let fresh: Vec<Result<String, ModelError>> = futures_util::stream::iter(missing.iter())
            .map(|&i| async move {
                let chunk = &chunks[i];
                let _ticket = gate.enter(Priority::Extract).await;
                self.model
                    .extract(chunk.content, chunk.section.as_deref(), self.extraction)
                    .await
            })
            .buffered(self.llm_concurrency.max(1))
            .collect()
            .await;
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
}

/// The chunks' extractions gathered entity by entity and relation by relation; every
/// relation's endpoints are entities.
pub(super) fn gather(
    chunks: &[ChunkRef<'_>],
    extractions: Vec<Extraction>,
    report: &mut IngestReport,
) -> (Entities, Relations) {
    let mut entities = Entities::new();
    let mut relations = Relations::new();
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
    (entities, relations)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_section_path_ends_with_the_chunks_own_heading() {
        let tokenizer = Tokenizer::o200k();
        let heading = ChunkHeading {
            level: 2,
            heading: "Install".into(),
            parent_headings: vec!["Guide".into()],
        };
        assert_eq!(
            section_path(&tokenizer, Some(&heading)).as_deref(),
            Some("Guide → Install")
        );
        assert_eq!(section_path(&tokenizer, None), None);
    }
}
