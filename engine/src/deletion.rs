//! Deleting documents from the index: their chunks and chunk vectors go, and every
//! entity and relation they contributed to is either removed (no other chunk supports
//! it) or rebuilt from the chunks that remain. A rebuild re-reads those chunks'
//! extraction answers from the LLM cache, so the model is only called for chunks whose
//! answer is not cached. A batch of documents is rebuilt once, not once per document.
//!
//! Like ingestion, deletion must hold the workspace's pipeline lock: it reads, modifies
//! and writes shared graph elements.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::ids;
use crate::ingest::{
    ChunkRef, Entities, Ingest, IngestError, IngestReport, Relations, Write, extraction_cache_key,
    section_path,
};
use crate::storage::graph::fragments;
use crate::storage::{FullDoc, KvNamespace, VectorNamespace};

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct DeletionReport {
    pub chunks: usize,
    pub entities_removed: usize,
    pub entities_rebuilt: usize,
    pub relations_removed: usize,
    pub relations_rebuilt: usize,
}

fn strings(value: Option<&Value>) -> Vec<String> {
    value
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// A `<SEP>`-joined property as its list of fragments.
fn fragment_list(joined: &str) -> Vec<String> {
    fragments(joined).map(str::to_owned).collect()
}

/// Why a deletion stopped, and whether it wrote anything before.
#[derive(Debug, thiserror::Error)]
pub enum DeletionError {
    /// Reading the documents or asking the model what the remaining chunks say
    /// failed: nothing was written, the documents are whole.
    #[error("{0}")]
    Planning(IngestError),
    /// A write (or a summary or embedding it needed) failed part-way: running the same
    /// deletion again finishes it.
    #[error("{0}")]
    Applying(IngestError),
}

impl crate::error::Kind for DeletionError {
    fn kind(&self) -> crate::error::ErrorKind {
        match self {
            DeletionError::Planning(e) | DeletionError::Applying(e) => e.kind(),
        }
    }
}

/// What a deletion will do, worked out before anything is written.
struct Plan {
    deleted_chunks: Vec<String>,
    cache_keys: Vec<String>,
    gone_entities: Vec<String>,
    gone_relations: Vec<(String, String)>,
    rebuilt: (Entities, Relations),
}

impl Ingest<'_> {
    /// Removes the documents' chunks, vectors and per-document indexes and repairs the
    /// graph around them. Document status records are the caller's.
    /// With `purge_cache`, the cached extraction answers of the deleted chunks go too.
    ///
    /// Everything that may fail on the model's account before a write is done first;
    /// the writes then go rebuilt elements first, removals after, so a deletion run
    /// again after a failure or a crash finishes what the first one began.
    pub fn delete_documents(
        &self,
        doc_ids: &[String],
        purge_cache: bool,
    ) -> Result<DeletionReport, DeletionError> {
        let plan = self
            .plan_deletion(doc_ids)
            .map_err(DeletionError::Planning)?;
        let report = DeletionReport {
            chunks: plan.deleted_chunks.len(),
            entities_removed: plan.gone_entities.len(),
            entities_rebuilt: plan.rebuilt.0.len(),
            relations_removed: plan.gone_relations.len(),
            relations_rebuilt: plan.rebuilt.1.len(),
        };
        self.apply_deletion(doc_ids, &plan, purge_cache)
            .map_err(DeletionError::Applying)?;
        Ok(report)
    }

    fn plan_deletion(&self, doc_ids: &[String]) -> Result<Plan, IngestError> {
        let kv = self.stores.kv;
        let mut deleted_chunks = BTreeSet::new();
        let mut entity_names = BTreeSet::new();
        let mut relation_pairs = BTreeSet::new();
        let mut cache_keys = Vec::new();
        // Each kind read in one call for all the documents (not one per chunk or
        // element): on PostgreSQL every call is a round trip.
        let mut entity_lists = kv.kv_get_many(KvNamespace::FullEntities, doc_ids)?;
        let mut relation_lists = kv.kv_get_many(KvNamespace::FullRelations, doc_ids)?;
        for doc_id in doc_ids {
            let chunk_list = FullDoc::get(kv, doc_id)?
                .and_then(|d| d.chunks_list)
                .unwrap_or_default();
            let chunks = kv.kv_get_many(KvNamespace::TextChunks, &chunk_list)?;
            for chunk_id in chunk_list {
                // Chunk ids are content hashes: a chunk another document also holds
                // stays. One already gone was deleted by an interrupted run of this
                // deletion.
                match chunks.get(&chunk_id) {
                    Some(chunk)
                        if chunk.get("full_doc_id").and_then(Value::as_str)
                            == Some(doc_id.as_str()) =>
                    {
                        if let Some(content) = chunk.get("content").and_then(Value::as_str) {
                            cache_keys.push(extraction_cache_key(content));
                        }
                    }
                    Some(_) => continue,
                    None => {}
                }
                deleted_chunks.insert(chunk_id);
            }
            let entities = entity_lists.remove(doc_id);
            entity_names.extend(strings(
                entities.as_ref().and_then(|e| e.get("entity_names")),
            ));
            let relations = relation_lists.remove(doc_id);
            if let Some(pairs) = relations
                .as_ref()
                .and_then(|r| r.get("relation_pairs")?.as_array().cloned())
            {
                for pair in pairs {
                    if let [Some(a), Some(b)] =
                        [pair.get(0), pair.get(1)].map(|v| v.and_then(Value::as_str))
                    {
                        relation_pairs.insert(if a <= b {
                            (a.to_owned(), b.to_owned())
                        } else {
                            (b.to_owned(), a.to_owned())
                        });
                    }
                }
            }
        }
        // What survives of each affected element: the chunks still supporting it.
        let remaining = |source_id: &str| -> Vec<String> {
            fragments(source_id)
                .filter(|c| !deleted_chunks.contains(*c))
                .map(str::to_owned)
                .collect()
        };
        let mut rebuild_entities: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut gone_entities = Vec::new();
        let names: Vec<String> = entity_names.iter().cloned().collect();
        let nodes = self.stores.graph.nodes_get(&names)?;
        for name in &entity_names {
            let Some(node) = nodes.get(name) else {
                continue;
            };
            match remaining(&node.source_id) {
                left if left.is_empty() => gone_entities.push(name.clone()),
                left => {
                    rebuild_entities.insert(name.clone(), left);
                }
            }
        }
        let mut rebuild_relations: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
        let mut gone_relations = Vec::new();
        let pairs: Vec<(String, String)> = relation_pairs.iter().cloned().collect();
        let edges = self.stores.graph.edges_get(&pairs)?;
        for (a, b) in &relation_pairs {
            let Some(edge) = edges.get(&ids::endpoints(a.clone(), b.clone())) else {
                continue;
            };
            let left = remaining(&edge.source_id);
            if left.is_empty() || gone_entities.contains(a) || gone_entities.contains(b) {
                gone_relations.push((a.clone(), b.clone()));
            } else {
                rebuild_relations.insert((a.clone(), b.clone()), left);
            }
        }

        let rebuilt = self.plan_rebuild(&rebuild_entities, &rebuild_relations)?;
        Ok(Plan {
            deleted_chunks: deleted_chunks.into_iter().collect(),
            cache_keys,
            gone_entities,
            gone_relations,
            rebuilt,
        })
    }

    fn apply_deletion(
        &self,
        doc_ids: &[String],
        plan: &Plan,
        purge_cache: bool,
    ) -> Result<(), IngestError> {
        let kv = self.stores.kv;
        self.write_graph(&[(&plan.rebuilt.0, &plan.rebuilt.1)], Write::Replace)?;
        self.stores.drop_relations(&plan.gone_relations)?;
        self.stores.drop_entities(&plan.gone_entities)?;
        self.stores
            .vectors_delete(VectorNamespace::Chunks, &plan.deleted_chunks)?;
        kv.kv_delete(KvNamespace::TextChunks, &plan.deleted_chunks)?;
        if purge_cache {
            kv.kv_delete(KvNamespace::LlmResponseCache, &plan.cache_keys)?;
        }
        kv.kv_delete(KvNamespace::FullEntities, doc_ids)?;
        kv.kv_delete(KvNamespace::FullRelations, doc_ids)?;
        kv.kv_delete(KvNamespace::FullDocs, doc_ids)?;
        Ok(())
    }

    /// What each element becomes from what its remaining chunks say about it (the
    /// model is asked for chunks whose extraction is not cached).
    fn plan_rebuild(
        &self,
        entities: &BTreeMap<String, Vec<String>>,
        relations: &BTreeMap<(String, String), Vec<String>>,
    ) -> Result<(Entities, Relations), IngestError> {
        let needed: BTreeSet<&String> = entities
            .values()
            .chain(relations.values())
            .flatten()
            .collect();
        let needed: Vec<String> = needed.into_iter().cloned().collect();
        let chunks = self
            .stores
            .kv
            .kv_get_many(KvNamespace::TextChunks, &needed)?;
        let mut stored = Vec::with_capacity(needed.len());
        for chunk_id in &needed {
            if let Some(chunk) = chunks.get(chunk_id) {
                let text = |name| {
                    chunk
                        .get(name)
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_owned()
                };
                let heading = chunk
                    .get("heading")
                    .and_then(|h| serde_json::from_value(h.clone()).ok());
                stored.push((
                    chunk_id.clone(),
                    text("content"),
                    text("file_path"),
                    section_path(self.tokenizer, heading.as_ref()),
                ));
            }
        }
        let refs: Vec<ChunkRef<'_>> = stored
            .iter()
            .map(|(id, content, file_path, section)| ChunkRef {
                id,
                content,
                file_path,
                section: section.clone(),
            })
            .collect();
        let (said_entities, said_relations) =
            self.contributions(&refs, &mut IngestReport::default())?;
        let file_of: BTreeMap<&str, &str> = refs.iter().map(|r| (r.id, r.file_path)).collect();
        let files = |chunks: &[String]| -> Vec<String> {
            chunks
                .iter()
                .filter_map(|c| file_of.get(c.as_str()).map(|f| f.to_string()))
                .collect()
        };
        // Nothing in the remaining chunks names these (endpoints added for a relation):
        // they keep their descriptions on their remaining sources.
        let unsaid_names: Vec<String> = entities
            .keys()
            .filter(|n| said_entities.get(*n).is_none_or(|c| c.chunk_ids.is_empty()))
            .cloned()
            .collect();
        let unsaid_nodes = self.stores.graph.nodes_get(&unsaid_names)?;
        let unsaid_pairs: Vec<(String, String)> = relations
            .keys()
            .filter(|p| {
                said_relations
                    .get(*p)
                    .is_none_or(|c| c.chunk_ids.is_empty())
            })
            .cloned()
            .collect();
        let unsaid_edges = self.stores.graph.edges_get(&unsaid_pairs)?;
        let mut new_entities = Entities::new();
        for (name, left) in entities {
            let mut c = said_entities.get(name).cloned().unwrap_or_default();
            if c.chunk_ids.is_empty() {
                let node = unsaid_nodes.get(name);
                c.descriptions = node.map_or_else(Vec::new, |n| fragment_list(&n.description));
                c.file_paths = files(left);
                c.chunk_ids = left.clone();
            }
            new_entities.insert(name.clone(), c);
        }
        let mut new_relations = Relations::new();
        for (pair, left) in relations {
            let mut c = said_relations.get(pair).cloned().unwrap_or_default();
            if c.chunk_ids.is_empty() {
                let edge = unsaid_edges.get(&ids::endpoints(pair.0.clone(), pair.1.clone()));
                c.descriptions = edge.map_or_else(Vec::new, |e| fragment_list(&e.description));
                c.file_paths = files(left);
                c.chunk_ids = left.clone();
            }
            new_relations.insert(pair.clone(), c);
        }
        Ok((new_entities, new_relations))
    }
}
