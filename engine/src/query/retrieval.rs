//! Retrieval per mode: vector searches, the graph around their hits, source chunks,
//! round-robin merges, the rerank of the merged chunks, then the token budgets and the references ([`super::context`]).

use std::collections::HashSet;

use serde_json::Value;

use super::{
    ChunkPick, ChunkRow, EntityRow, Mode, PROGRESS_CHUNKS, PROGRESS_ENTITIES, PROGRESS_RELATIONS,
    PROGRESS_RERANKING, QueryEngine, QueryError, QueryParams, RelationRow, Retrieval,
};
use super::{chunk_pick, context, ranking};
use crate::chunking::{self, Tokenizer};
use crate::embedding::{self, Batching};
use crate::fast_hash::FastMap;
use crate::ids;
use crate::llm::Keywords;
use crate::rerank;
use crate::storage::graph::{Entity, Relation, fragments};
use crate::storage::{KvNamespace, VectorNamespace};

fn text(data: &Value, key: &str) -> String {
    data.get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

/// Relations read per statement while filling the relation budget.
const RELATION_BATCH: usize = 64;

/// Interleaves lists (first of each, then second of each ...), dropping repeats.
fn round_robin<T: Clone, K: std::hash::Hash + Eq>(lists: &[&[T]], key: impl Fn(&T) -> K) -> Vec<T> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    let longest = lists.iter().map(|l| l.len()).max().unwrap_or(0);
    for i in 0..longest {
        for list in lists {
            if let Some(item) = list.get(i)
                && seen.insert(key(item))
            {
                out.push(item.clone());
            }
        }
    }
    out
}

/// The embeddings of the query and its keyword texts, in one call.
struct Vectors {
    query: Vec<f32>,
    low: Option<Vec<f32>>,
    high: Option<Vec<f32>>,
}

impl QueryEngine<'_> {
    async fn vectors(
        &self,
        params: &QueryParams,
        keywords: &Keywords,
    ) -> Result<Vectors, QueryError> {
        let mut texts = vec![params.query.clone()];
        let low = (!keywords.low_level.is_empty()).then(|| {
            texts.push(keywords.low_level.join(", "));
            texts.len() - 1
        });
        let high = (!keywords.high_level.is_empty()).then(|| {
            texts.push(keywords.high_level.join(", "));
            texts.len() - 1
        });
        // All texts in one batch: one embedding call per query.
        let one_call = Batching {
            batch_size: texts.len(),
            concurrency: 1,
        };
        let mut vectors =
            embedding::embed_all_for(self.embedder, &texts, one_call, embedding::Purpose::Query)
                .await?;
        let take = |i: Option<usize>, vectors: &mut Vec<Vec<f32>>| {
            i.map(|i| std::mem::take(&mut vectors[i]))
        };
        let high = take(high, &mut vectors);
        let low = take(low, &mut vectors);
        Ok(Vectors {
            query: std::mem::take(&mut vectors[0]),
            low,
            high,
        })
    }

    /// The `top_k` nearest vectors of `ns` at or above COSINE_THRESHOLD.
    fn search(
        &self,
        ns: VectorNamespace,
        vector: &[f32],
        top_k: usize,
    ) -> Result<Vec<crate::storage::vectors::Hit>, QueryError> {
        Ok(self
            .stores
            .search()
            .query(ns, vector, top_k, self.settings.cosine_threshold)?)
    }

    /// The entities of `names` that exist, in that order, read in one statement.
    fn entities(&self, names: &[String]) -> Result<Vec<EntityRow>, QueryError> {
        let found = self.stores.graph.nodes_get(names)?;
        Ok(names
            .iter()
            .filter_map(|name| found.get(name).cloned().map(entity_row))
            .collect())
    }

    /// Entities similar to the low-level keywords, with their relations (the most
    /// connected first).
    fn local(
        &self,
        params: &QueryParams,
        vector: &[f32],
    ) -> Result<(Vec<EntityRow>, Vec<RelationRow>), QueryError> {
        let hits = self.search(VectorNamespace::Entities, vector, params.top_k)?;
        let names: Vec<String> = hits
            .iter()
            .map(|hit| text(&hit.meta, "entity_name"))
            .collect();
        let entities = self.entities(&names)?;
        let names: Vec<String> = entities.iter().map(|e| e.entity_name.clone()).collect();
        let per_node =
            self.stores
                .weights
                .get(self.stores.graph, self.stores.generations, &names)?;
        let endpoints = ranking::endpoints(&per_node);
        let degrees =
            self.stores
                .degrees
                .get(self.stores.graph, self.stores.generations, &endpoints)?;
        // Looked up twice per relation (thousands around a hub): a fast hasher.
        let degrees: FastMap<&str, usize> = degrees
            .iter()
            .map(|(name, d)| (name.as_str(), *d))
            .collect();
        let degree = |name: &str| degrees.get(name).copied().unwrap_or(0);
        let edges = ranking::most_related(&per_node, degree);
        Ok((
            entities,
            self.relations_within(&edges, params.max_relation_tokens)?,
        ))
    }

    /// The longest prefix of `edges` whose relations fit in `budget` tokens, read in
    /// batches: only about as many as the budget holds are read in full.
    fn relations_within(
        &self,
        edges: &[ranking::Edge<'_>],
        budget: usize,
    ) -> Result<Vec<RelationRow>, QueryError> {
        let mut relations = Vec::new();
        let mut tokens = 0;
        for batch in edges.chunks(RELATION_BATCH) {
            let pairs: Vec<(String, String)> = batch
                .iter()
                .map(|(s, t, _)| ((*s).to_owned(), (*t).to_owned()))
                .collect();
            let mut found = self.stores.graph.edges_get(&pairs)?;
            for (source, target) in pairs {
                let Some(relation) = found.remove(&ids::endpoints(source, target)) else {
                    continue;
                };
                let mut relation = relation_row(relation);
                tokens += context::tokens_of(self.tokenizer, &mut relation);
                if tokens > budget {
                    return Ok(relations);
                }
                relations.push(relation);
            }
        }
        Ok(relations)
    }

    /// Relations similar to the high-level keywords, with their endpoint entities.
    fn global(
        &self,
        params: &QueryParams,
        vector: &[f32],
    ) -> Result<(Vec<EntityRow>, Vec<RelationRow>), QueryError> {
        let hits = self.search(VectorNamespace::Relationships, vector, params.top_k)?;
        let pairs: Vec<(String, String)> = hits
            .iter()
            .map(|hit| (text(&hit.meta, "src_id"), text(&hit.meta, "tgt_id")))
            .collect();
        let found = self.stores.graph.edges_get(&pairs)?;
        let mut relations = Vec::new();
        let mut names: Vec<String> = Vec::new();
        for (a, b) in pairs {
            if let Some(relation) = found.get(&ids::endpoints(a, b)).cloned() {
                let relation = relation_row(relation);
                for name in [&relation.src_id, &relation.tgt_id] {
                    if !names.contains(name) {
                        names.push(name.clone());
                    }
                }
                relations.push(relation);
            }
        }
        Ok((self.entities(&names)?, relations))
    }

    /// The source chunks of `sources` (entities' or relations' `source_id`, best item
    /// first) that KG_CHUNK_PICK_METHOD picks, leaving out `exclude`.
    fn source_chunks(
        &self,
        sources: &[&str],
        query: &[f32],
        exclude: &[String],
        drop_emptied: bool,
    ) -> Result<Vec<String>, QueryError> {
        let exclude: HashSet<&str> = exclude.iter().map(String::as_str).collect();
        let per_item = sources.iter().copied().map(fragments);
        let lists = chunk_pick::candidates(per_item, &exclude, drop_emptied);
        let per_item_max = self.settings.related_chunk_number;
        if self.settings.chunk_pick == ChunkPick::Vector {
            let ids = chunk_pick::unique(&lists);
            let owned: Vec<String> = ids.iter().map(|id| (*id).to_owned()).collect();
            let scores =
                self.stores
                    .search()
                    .similarities(VectorNamespace::Chunks, query, &owned)?;
            let count = per_item_max * lists.len() / 2;
            if let Some(picked) = chunk_pick::by_similarity(&ids, &scores, count) {
                return Ok(picked);
            }
        }
        Ok(chunk_pick::weighted_polling(&lists, per_item_max, 1))
    }

    /// The CHUNK_TOP_K chunks of the merged list: reranked first when the query asks
    /// for it and a reranker is configured (all merged chunks are candidates, as in
    /// LightRAG); without a reranker the order stands, so only the kept ones are read.
    async fn top_chunks(
        &self,
        params: &QueryParams,
        mut ids: Vec<String>,
        progress: &(dyn Fn(&'static str) + Sync),
    ) -> Result<Vec<ChunkRow>, QueryError> {
        let top_k = params.chunk_top_k;
        if !params.enable_rerank {
            ids.truncate(top_k);
            return self.chunk_rows(&ids);
        }
        if self.reranker.is_some() && !ids.is_empty() {
            progress(PROGRESS_RERANKING);
        } else {
            ids.truncate(top_k);
        }
        let rows = self.chunk_rows(&ids)?;
        let mut rows = rerank::rerank(
            self.reranker,
            &params.query,
            rows,
            |c| c.content.as_str(),
            top_k,
            self.settings.min_rerank_score,
        )
        .await;
        rows.truncate(top_k);
        Ok(rows)
    }

    fn chunk_rows(&self, ids: &[String]) -> Result<Vec<ChunkRow>, QueryError> {
        let chunks = self.stores.kv.kv_get_many(KvNamespace::TextChunks, ids)?;
        Ok(ids
            .iter()
            .filter_map(|id| {
                let chunk = chunks.get(id)?;
                Some(ChunkRow {
                    reference_id: String::new(),
                    content: text(chunk, "content"),
                    file_path: text(chunk, "file_path"),
                    chunk_id: id.clone(),
                    content_headings: self
                        .settings
                        .content_headings
                        .then(|| headings_of(chunk))
                        .flatten(),
                    tokens: 0,
                })
            })
            .collect())
    }
}

/// The `content_headings` of a chunk record: its `heading.parent_headings` joined.
fn headings_of(chunk: &Value) -> Option<String> {
    let parents: Vec<String> = chunk
        .pointer("/heading/parent_headings")?
        .as_array()?
        .iter()
        .filter_map(|p| p.as_str().map(str::to_owned))
        .collect();
    chunking::headings::content_headings(&Tokenizer::o200k(), &parents)
}

fn entity_row(entity: Entity) -> EntityRow {
    EntityRow {
        entity_name: entity.name,
        entity_type: entity.entity_type,
        description: entity.description,
        source_id: entity.source_id,
        file_path: entity.file_path,
        created_at: entity.created_at.into(),
        reference_id: String::new(),
        tokens: 0,
    }
}

fn relation_row(relation: Relation) -> RelationRow {
    RelationRow {
        description: relation.description,
        keywords: relation.keywords,
        weight: relation.weight,
        source_id: relation.source_id,
        file_path: relation.file_path,
        created_at: relation.created_at.into(),
        reference_id: String::new(),
        tokens: 0,
        src_id: relation.source,
        tgt_id: relation.target,
    }
}

pub(super) async fn run(
    engine: &QueryEngine<'_>,
    params: &QueryParams,
    keywords: Keywords,
    progress: &(dyn Fn(&'static str) + Sync),
) -> Result<Retrieval, QueryError> {
    let vectors = engine.vectors(params, &keywords).await?;
    let mode = params.mode;
    let (mut local, mut global) = ((Vec::new(), Vec::new()), (Vec::new(), Vec::new()));
    if matches!(mode, Mode::Local | Mode::Hybrid | Mode::Mix) {
        progress(PROGRESS_ENTITIES);
        if let Some(low) = &vectors.low {
            local = engine.local(params, low)?;
        }
    }
    if matches!(mode, Mode::Global | Mode::Hybrid | Mode::Mix) {
        progress(PROGRESS_RELATIONS);
        if let Some(high) = &vectors.high {
            global = engine.global(params, high)?;
        }
    }
    let entities = round_robin(&[&local.0, &global.0], |e: &EntityRow| {
        e.entity_name.clone()
    });
    let relations = round_robin(&[&local.1, &global.1], |r: &RelationRow| {
        ids::endpoints(r.src_id.clone(), r.tgt_id.clone())
    });

    progress(PROGRESS_CHUNKS);
    let vector_chunks: Vec<String> = if matches!(mode, Mode::Naive | Mode::Mix) {
        engine
            .search(VectorNamespace::Chunks, &vectors.query, params.chunk_top_k)?
            .into_iter()
            .map(|hit| hit.id)
            .collect()
    } else {
        Vec::new()
    };
    let total_entities = entities.len();
    let total_relations = relations.len();
    let (entities, relations) =
        context::truncate_graph(engine.tokenizer, params, entities, relations);
    let entity_chunks = engine.source_chunks(
        &entities
            .iter()
            .map(|e| e.source_id.as_str())
            .collect::<Vec<_>>(),
        &vectors.query,
        &[],
        false,
    )?;
    // A relation brings only chunks its entities did not.
    let relation_chunks = engine.source_chunks(
        &relations
            .iter()
            .map(|r| r.source_id.as_str())
            .collect::<Vec<_>>(),
        &vectors.query,
        &entity_chunks,
        true,
    )?;
    let chunk_ids = round_robin(
        &[&vector_chunks, &entity_chunks, &relation_chunks],
        String::clone,
    );
    let total_chunks = chunk_ids.len();
    let chunks = engine.top_chunks(params, chunk_ids, progress).await?;
    Ok(context::finish(
        engine.tokenizer,
        params,
        keywords,
        entities,
        relations,
        chunks,
        (total_entities, total_relations, total_chunks),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_robin_interleaves_without_repeats() {
        let a = ["1", "2", "3"];
        let b = ["2", "4"];
        assert_eq!(round_robin(&[&a, &b], |s| *s), ["1", "2", "4", "3"]);
    }
}
