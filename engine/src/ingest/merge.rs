//! Merging what chunks say into the graph: descriptions of an entity or relation seen in
//! several chunks are kept as distinct fragments joined by `<SEP>` (condensed by the
//! model when too many or too long), source chunks and files as the newest few, as
//! LightRAG stores them.

use std::collections::HashSet;

use futures_util::StreamExt;
use serde_json::Map;

use super::schedule::Priority;
use super::{Entities, Ingest, IngestError, Relations};
use crate::llm::{ModelError, SummaryRequest, wait};
use crate::storage::graph::{Entity, GRAPH_FIELD_SEP, Relation};

/// How a write treats what the graph already holds for an element.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Write {
    /// Add this contribution's fragments to the stored ones (a new document).
    Merge,
    /// Rebuild the element from this contribution alone (after a deletion); only its
    /// creation time is kept.
    Replace,
}

impl Write {
    /// The stored element whose fragments a write starts from.
    fn kept<T>(self, existing: Option<&T>) -> Option<&T> {
        match self {
            Write::Merge => existing,
            Write::Replace => None,
        }
    }
}

/// Fragments of `existing` joined by `<SEP>`, plus new ones not already there.
pub(super) fn merge_fragments<S: AsRef<str>>(existing: Option<&str>, new: &[S]) -> String {
    merge_newest(existing, new, usize::MAX)
}

/// Like [`merge_fragments`], keeping only the newest `limit` fragments (LightRAG's FIFO
/// limit on source ids and file paths: a hub entity's lists stop growing). Borrows
/// every fragment: a hub's long lists are split and joined without a copy each.
pub(super) fn merge_newest<S: AsRef<str>>(
    existing: Option<&str>,
    new: &[S],
    limit: usize,
) -> String {
    let mut fragments: Vec<&str> = existing
        .filter(|s| !s.is_empty())
        .map(|s| s.split(GRAPH_FIELD_SEP).collect())
        .unwrap_or_default();
    let mut seen: HashSet<&str> = fragments.iter().copied().collect();
    for fragment in new {
        let fragment = fragment.as_ref();
        if !fragment.is_empty() && seen.insert(fragment) {
            fragments.push(fragment);
        }
    }
    let skip = fragments.len().saturating_sub(limit);
    fragments[skip..].join(GRAPH_FIELD_SEP)
}

impl Ingest<'_> {
    /// Merged descriptions with too many fragments or tokens, condensed by the model
    /// (concurrently, ahead of waiting extractions); the others unchanged.
    async fn summarize_long(
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
        let gate = &self.scheduling.model;
        let summaries: Vec<Result<String, ModelError>> = futures_util::stream::iter(items.iter())
            .map(|(name, description)| async move {
                if !needs(description) {
                    return Ok(description.clone());
                }
                let fragments: Vec<String> = description
                    .split(GRAPH_FIELD_SEP)
                    .map(str::to_owned)
                    .collect();
                let _ticket = gate.enter(Priority::Merge).await;
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
            .collect()
            .await;
        Ok(summaries.into_iter().collect::<Result<_, _>>()?)
    }

    /// Merges entities and relations into the graph and their vector stores: what the
    /// graph holds is read, the long descriptions of both kinds are condensed at once,
    /// then both kinds are embedded at once and written.
    pub(crate) fn write_graph(
        &self,
        entities: &Entities,
        relations: &Relations,
        mode: Write,
    ) -> Result<(), IngestError> {
        let mut stored_entities = Vec::with_capacity(entities.len());
        let mut merged_entities = Vec::with_capacity(entities.len());
        // What the graph holds, in one read per kind (not one per element).
        let names: Vec<String> = entities.keys().cloned().collect();
        let mut nodes = self.stores.graph.nodes_get(&names)?;
        let pairs: Vec<(String, String)> = relations.keys().cloned().collect();
        let mut edges = self.stores.graph.edges_get(&pairs)?;
        for (name, c) in entities {
            let existing = nodes.remove(name);
            let description = merge_fragments(
                mode.kept(existing.as_ref()).map(|e| e.description.as_str()),
                &c.descriptions,
            );
            merged_entities.push((name.clone(), description));
            stored_entities.push(existing);
        }
        let mut stored_relations = Vec::with_capacity(relations.len());
        let mut merged_relations = Vec::with_capacity(relations.len());
        for ((source, target), c) in relations {
            let existing = edges.remove(&crate::ids::endpoints(source.clone(), target.clone()));
            let description = merge_fragments(
                mode.kept(existing.as_ref()).map(|r| r.description.as_str()),
                &c.descriptions,
            );
            merged_relations.push((format!("{source}-{target}"), description));
            stored_relations.push(existing);
        }
        let (entity_descriptions, relation_descriptions) = wait(async {
            tokio::join!(
                self.summarize_long("Entity", merged_entities),
                self.summarize_long("Relation", merged_relations)
            )
        });
        let entity_records =
            self.entity_records(entities, stored_entities, entity_descriptions?, mode);
        let relation_records =
            self.relation_records(relations, stored_relations, relation_descriptions?, mode);
        self.stores.put_graph(
            self.embedder,
            self.batching,
            &entity_records,
            &relation_records,
        )
    }

    fn entity_records(
        &self,
        entities: &Entities,
        stored: Vec<Option<Entity>>,
        descriptions: Vec<String>,
        mode: Write,
    ) -> Vec<Entity> {
        entities
            .iter()
            .zip(stored)
            .zip(descriptions)
            .map(|(((name, c), existing), description)| {
                let kept = mode.kept(existing.as_ref());
                let stored_type = existing.as_ref().map(|e| e.entity_type.clone());
                let entity_type = match mode {
                    Write::Merge => stored_type.or_else(|| c.entity_type.clone()),
                    Write::Replace => c.entity_type.clone().or(stored_type),
                };
                Entity {
                    name: name.clone(),
                    entity_type: entity_type.unwrap_or_else(|| "other".to_owned()),
                    description,
                    source_id: merge_newest(
                        kept.map(|e| e.source_id.as_str()),
                        &c.chunk_ids,
                        self.limits.entity_sources,
                    ),
                    file_path: merge_newest(
                        kept.map(|e| e.file_path.as_str()),
                        &c.file_paths,
                        self.limits.file_paths,
                    ),
                    created_at: Some(self.created_at(existing.as_ref().and_then(|e| e.created_at))),
                    extra: Map::new(),
                }
            })
            .collect()
    }

    /// A graph element keeps its creation time through merges and rebuilds.
    fn created_at(&self, stored: Option<i64>) -> i64 {
        stored.unwrap_or(self.now)
    }

    fn relation_records(
        &self,
        relations: &Relations,
        stored: Vec<Option<Relation>>,
        descriptions: Vec<String>,
        mode: Write,
    ) -> Vec<Relation> {
        relations
            .iter()
            .zip(stored)
            .zip(descriptions)
            .map(|((((source, target), c), existing), description)| {
                let kept = mode.kept(existing.as_ref());
                // The weight counts the distinct chunks that state the relation: a chunk
                // already among the sources adds nothing, so running a document again
                // (after a crash mid-merge) counts nothing twice.
                let known: HashSet<&str> = kept
                    .map(|r| r.source_id.split(GRAPH_FIELD_SEP).collect())
                    .unwrap_or_default();
                let fresh: HashSet<&String> = c
                    .chunk_ids
                    .iter()
                    .filter(|id| !known.contains(id.as_str()))
                    .collect();
                let weight = kept.map_or(0.0, |r| r.weight) + fresh.len() as f64;
                let keywords = merge_fragments(
                    kept.map(|r| r.keywords.replace(", ", GRAPH_FIELD_SEP))
                        .as_deref(),
                    &c.keywords,
                )
                .replace(GRAPH_FIELD_SEP, ", ");
                Relation {
                    source: source.clone(),
                    target: target.clone(),
                    weight,
                    keywords,
                    description,
                    source_id: merge_newest(
                        kept.map(|r| r.source_id.as_str()),
                        &c.chunk_ids,
                        self.limits.relation_sources,
                    ),
                    file_path: merge_newest(
                        kept.map(|r| r.file_path.as_str()),
                        &c.file_paths,
                        self.limits.file_paths,
                    ),
                    created_at: Some(self.created_at(existing.as_ref().and_then(|r| r.created_at))),
                    extra: Map::new(),
                }
            })
            .collect()
    }
}
