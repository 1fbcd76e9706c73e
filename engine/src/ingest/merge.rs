//! Merging what chunks say into the graph: descriptions of an entity or relation seen in
//! several chunks are kept as distinct fragments joined by `<SEP>` (condensed by the
//! model when too many or too long), source chunks and files as the newest few, as
//! LightRAG stores them.

use std::collections::BTreeMap;

use futures_util::StreamExt;
use serde_json::Map;

use super::extract::Contribution;
use super::schedule::Priority;
use super::{Entities, Ingest, IngestError, Relations};
use crate::fast_hash::FastSet;
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
    // A hub's lists hold hundreds of fragments, hashed at every merge: foldhash.
    let mut seen: FastSet<&str> = fragments.iter().copied().collect();
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
    /// `description` condensed by the model when it has too many fragments or tokens
    /// (ahead of waiting extractions), else unchanged.
    async fn condense(
        &self,
        kind: &str,
        name: &str,
        description: String,
    ) -> Result<String, ModelError> {
        let fragments = description.split(GRAPH_FIELD_SEP).count();
        let needed = fragments > 1
            && (fragments >= self.summary.force_on_merge
                || self.tokenizer.count(&description) > self.summary.max_tokens);
        if !needed {
            return Ok(description);
        }
        let fragments: Vec<String> = description
            .split(GRAPH_FIELD_SEP)
            .map(str::to_owned)
            .collect();
        let _ticket = self.scheduling.model.enter(Priority::Merge).await;
        self.model
            .summarize(SummaryRequest {
                kind,
                name,
                descriptions: &fragments,
                language: &self.extraction.language,
                length: self.summary.length,
            })
            .await
    }

    /// Merges the contributions of a batch of documents (in order) into the graph and
    /// its vector stores, with one read and one write per kind for the whole batch.
    /// Each element folds its documents' contributions one after the other, condensing
    /// as it goes, so the result is what merging the documents one by one gives; the
    /// elements fold at once, and only their final descriptions are embedded.
    /// `mode` applies to an element's first contribution, the later ones merge.
    pub(crate) fn write_graph(
        &self,
        batch: &[(&Entities, &Relations)],
        mode: Write,
    ) -> Result<(), IngestError> {
        let mut by_name: BTreeMap<&String, Vec<&Contribution>> = BTreeMap::new();
        let mut by_pair: BTreeMap<&(String, String), Vec<&Contribution>> = BTreeMap::new();
        for (entities, relations) in batch {
            for (name, c) in *entities {
                by_name.entry(name).or_default().push(c);
            }
            for (pair, c) in *relations {
                by_pair.entry(pair).or_default().push(c);
            }
        }
        // What the graph holds, in one read per kind (not one per element).
        let names: Vec<String> = by_name.keys().map(|n| (*n).clone()).collect();
        let mut nodes = self.stores.graph.nodes_get(&names)?;
        let pairs: Vec<(String, String)> = by_pair.keys().map(|p| (*p).clone()).collect();
        let mut edges = self.stores.graph.edges_get(&pairs)?;
        let width = self.llm_concurrency.max(1);
        let entities = futures_util::stream::iter(by_name)
            .map(|(name, contributions)| {
                let stored = nodes.remove(name);
                async move {
                    let mut state = stored;
                    let mut mode = mode;
                    for c in contributions {
                        let kept = mode.kept(state.as_ref()).map(|e| e.description.as_str());
                        let description = merge_fragments(kept, &c.descriptions);
                        let description = self.condense("Entity", name, description).await?;
                        state =
                            Some(self.entity_record(name, c, state.as_ref(), description, mode));
                        mode = Write::Merge;
                    }
                    Ok::<_, ModelError>(state.expect("every element has a contribution"))
                }
            })
            .buffered(width)
            .collect::<Vec<_>>();
        let relations = futures_util::stream::iter(by_pair)
            .map(|(pair, contributions)| {
                let stored = edges.remove(&crate::ids::endpoints(pair.0.clone(), pair.1.clone()));
                async move {
                    let label = format!("{}-{}", pair.0, pair.1);
                    let mut state = stored;
                    let mut mode = mode;
                    for c in contributions {
                        let kept = mode.kept(state.as_ref()).map(|r| r.description.as_str());
                        let description = merge_fragments(kept, &c.descriptions);
                        let description = self.condense("Relation", &label, description).await?;
                        state =
                            Some(self.relation_record(pair, c, state.as_ref(), description, mode));
                        mode = Write::Merge;
                    }
                    Ok::<_, ModelError>(state.expect("every element has a contribution"))
                }
            })
            .buffered(width)
            .collect::<Vec<_>>();
        let (entities, relations) = wait(async { tokio::join!(entities, relations) });
        let entities: Vec<Entity> = entities.into_iter().collect::<Result<_, _>>()?;
        let relations: Vec<Relation> = relations.into_iter().collect::<Result<_, _>>()?;
        self.stores
            .put_graph(self.embedder, self.batching, &entities, &relations)
    }

    /// An entity after one contribution, from what the graph held (or the previous
    /// contribution left).
    fn entity_record(
        &self,
        name: &str,
        c: &Contribution,
        existing: Option<&Entity>,
        description: String,
        mode: Write,
    ) -> Entity {
        let kept = mode.kept(existing);
        let stored_type = existing.map(|e| e.entity_type.clone());
        let entity_type = match mode {
            Write::Merge => stored_type.or_else(|| c.entity_type.clone()),
            Write::Replace => c.entity_type.clone().or(stored_type),
        };
        Entity {
            name: name.to_owned(),
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
            created_at: Some(self.created_at(existing.and_then(|e| e.created_at))),
            extra: Map::new(),
        }
    }

    /// A graph element keeps its creation time through merges and rebuilds.
    fn created_at(&self, stored: Option<i64>) -> i64 {
        stored.unwrap_or(self.now)
    }

    /// A relation after one contribution, as [`Ingest::entity_record`].
    fn relation_record(
        &self,
        (source, target): &(String, String),
        c: &Contribution,
        existing: Option<&Relation>,
        description: String,
        mode: Write,
    ) -> Relation {
        let kept = mode.kept(existing);
        // The weight counts the distinct chunks that state the relation: a chunk
        // already among the sources adds nothing, so running a document again
        // (after a crash mid-merge) counts nothing twice.
        let known: FastSet<&str> = kept
            .map(|r| r.source_id.split(GRAPH_FIELD_SEP).collect())
            .unwrap_or_default();
        let fresh: FastSet<&String> = c
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
            created_at: Some(self.created_at(existing.and_then(|r| r.created_at))),
            extra: Map::new(),
        }
    }
}
