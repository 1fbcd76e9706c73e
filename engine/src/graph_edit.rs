//! Reading and editing the knowledge graph by hand: subgraphs for the explorer, label
//! search, and entity and relation creation, edits, renames, merges and deletions.
//!
//! Every edit keeps the four places an element lives in step: the graph, its vector
//! (entity `ent-md5(name)` of "name\ndescription", relation `rel-md5(a+b)`), its chunk
//! index (`entity_chunks`, `relation_chunks`) and the per-document lists
//! (`full_entities`, `full_relations`). A renamed or merged entity is found under its
//! new name and no longer under the old one. The caller holds the pipeline lock.

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};

use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::embedding::{Batching, Embedder};
use crate::ids;
use crate::ingest::{
    GRAPH_FIELD_SEP, Stores, chunk_ids_record, entity_vector, relation_chunks_key, relation_vector,
};
use crate::llm::ModelError;
use crate::storage::vectors::VectorIndex;
use crate::storage::{Edge, KvNamespace, StorageError, VectorRecord};

#[derive(Debug, thiserror::Error)]
pub enum EditError {
    /// The element named does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The edit is not allowed or not well formed.
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Model(#[from] ModelError),
}

type Result<T> = std::result::Result<T, EditError>;

/// A node as the graph explorer shows it.
#[derive(Debug, Clone, Serialize)]
pub struct GraphNode {
    pub id: String,
    pub labels: Vec<String>,
    pub properties: Value,
}

#[derive(Debug, Clone, Serialize)]
pub struct GraphEdge {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub source: String,
    pub target: String,
    pub properties: Value,
}

#[derive(Debug, Clone, Serialize)]
pub struct Subgraph {
    pub nodes: Vec<GraphNode>,
    pub edges: Vec<GraphEdge>,
    pub is_truncated: bool,
}

fn text<'v>(data: &'v Value, key: &str) -> &'v str {
    data.get(key).and_then(Value::as_str).unwrap_or_default()
}

/// `<SEP>`-joined fragments of both, in order, without repeats or blanks.
fn union(a: &str, b: &str) -> String {
    let mut seen = HashSet::new();
    a.split(GRAPH_FIELD_SEP)
        .chain(b.split(GRAPH_FIELD_SEP))
        .filter(|f| !f.is_empty() && seen.insert(*f))
        .collect::<Vec<_>>()
        .join(GRAPH_FIELD_SEP)
}

fn keywords_union(a: &str, b: &str) -> String {
    let mut seen = HashSet::new();
    a.split(',')
        .chain(b.split(','))
        .map(str::trim)
        .filter(|k| !k.is_empty() && seen.insert(k.to_owned()))
        .collect::<Vec<_>>()
        .join(", ")
}

fn node_view(name: &str, data: &Value) -> GraphNode {
    let mut properties = data.clone();
    properties["entity_id"] = Value::from(name);
    GraphNode {
        id: name.to_owned(),
        labels: vec![name.to_owned()],
        properties,
    }
}

fn edge_view(edge: &Edge) -> GraphEdge {
    GraphEdge {
        id: format!("{}-{}", edge.source, edge.target),
        kind: "DIRECTED",
        source: edge.source.clone(),
        target: edge.target.clone(),
        properties: edge.data.clone(),
    }
}

/// Relevance of a label to a search, 0 for no match: exact, prefix, word prefix,
/// substring, then the query's characters in order.
pub fn label_score(label: &str, query: &str) -> u32 {
    let (l, q) = (label.to_lowercase(), query.trim().to_lowercase());
    if q.is_empty() {
        return 0;
    }
    let closeness = 20u32.saturating_sub((l.len().abs_diff(q.len()) as u32).min(20));
    if l == q {
        return 1000;
    }
    if l.starts_with(&q) {
        return 800 + closeness;
    }
    if l.split(|c: char| !c.is_alphanumeric())
        .any(|w| w.starts_with(&q))
    {
        return 600 + closeness;
    }
    if l.contains(&q) {
        return 400 + closeness;
    }
    let mut rest = l.chars();
    if q.chars().all(|c| rest.any(|x| x == c)) {
        return 100 + closeness;
    }
    0
}

pub struct GraphEditor<'a> {
    pub stores: Stores<'a>,
    pub embedder: &'a dyn Embedder,
    pub batching: Batching,
}

impl GraphEditor<'_> {
    /// Names matching `query`, best first.
    pub fn search_labels(&self, query: &str, limit: usize) -> Result<Vec<String>> {
        let mut scored: Vec<(u32, String)> = self
            .stores
            .graph
            .node_names()?
            .into_iter()
            .map(|name| (label_score(&name, query), name))
            .filter(|(score, _)| *score > 0)
            .collect();
        scored.sort_by(|a, b| {
            b.0.cmp(&a.0)
                .then(a.1.len().cmp(&b.1.len()))
                .then(a.1.cmp(&b.1))
        });
        Ok(scored
            .into_iter()
            .take(limit)
            .map(|(_, name)| name)
            .collect())
    }

    /// The neighbourhood of `label` up to `max_depth` hops, or with `*` the most
    /// connected nodes; at most `max_nodes` nodes, fewer hops then higher degree kept.
    pub fn subgraph(&self, label: &str, max_depth: usize, max_nodes: usize) -> Result<Subgraph> {
        let graph = self.stores.graph;
        let (names, is_truncated) = if label == "*" {
            let all = graph.node_names()?.len();
            (graph.most_connected(max_nodes)?, all > max_nodes)
        } else {
            if graph.node_get(label)?.is_none() {
                return Ok(Subgraph {
                    nodes: Vec::new(),
                    edges: Vec::new(),
                    is_truncated: false,
                });
            }
            // Breadth first, remembering each node's hop count.
            let mut depth: HashMap<String, usize> = HashMap::from([(label.to_owned(), 0)]);
            let mut order = vec![label.to_owned()];
            let mut queue = VecDeque::from([label.to_owned()]);
            while let Some(node) = queue.pop_front() {
                let d = depth[&node];
                if d >= max_depth {
                    continue;
                }
                for edge in graph.edges_of(&node)? {
                    let other = if edge.source == node {
                        edge.target
                    } else {
                        edge.source
                    };
                    if !depth.contains_key(&other) {
                        depth.insert(other.clone(), d + 1);
                        order.push(other.clone());
                        queue.push_back(other);
                    }
                }
            }
            let truncated = order.len() > max_nodes;
            if truncated {
                let degrees = graph.node_degrees(&order)?;
                order.sort_by(|a, b| {
                    depth[a]
                        .cmp(&depth[b])
                        .then(degrees.get(b).cmp(&degrees.get(a)))
                        .then(a.cmp(b))
                });
                order.truncate(max_nodes);
            }
            (order, truncated)
        };
        let kept: HashSet<&str> = names.iter().map(String::as_str).collect();
        let mut nodes = Vec::with_capacity(names.len());
        let mut edges = Vec::new();
        let mut seen = HashSet::new();
        for name in &names {
            if let Some(data) = graph.node_get(name)? {
                nodes.push(node_view(name, &data));
            }
            for edge in graph.edges_of(name)? {
                if kept.contains(edge.source.as_str())
                    && kept.contains(edge.target.as_str())
                    && seen.insert(ids::endpoints(edge.source.clone(), edge.target.clone()))
                {
                    edges.push(edge_view(&edge));
                }
            }
        }
        Ok(Subgraph {
            nodes,
            edges,
            is_truncated,
        })
    }

    /// Embeds a record and stores it in `index`.
    fn put_vector(&self, index: &VectorIndex, record: VectorRecord) -> Result<()> {
        self.stores
            .embed_into(self.embedder, self.batching, index, vec![record])
    }

    /// Writes an entity's node, vector and chunk index.
    fn put_entity(&self, name: &str, data: &Value) -> Result<()> {
        let mut data = data.clone();
        data["entity_id"] = Value::from(name);
        self.stores.graph.node_upsert(name, &data)?;
        let source_id = text(&data, "source_id");
        self.put_vector(
            self.stores.entity_index,
            entity_vector(
                name,
                text(&data, "description"),
                source_id,
                text(&data, "file_path"),
            ),
        )?;
        self.stores.kv.kv_upsert(
            KvNamespace::EntityChunks,
            &[(name.to_owned(), chunk_ids_record(source_id))],
        )?;
        Ok(())
    }

    /// Writes a relation's edge, vector and chunk index (the pair in either order).
    fn put_relation(&self, source: &str, target: &str, data: &Value) -> Result<()> {
        let (a, b) = ids::endpoints(source, target);
        self.stores.graph.edge_upsert(source, target, data)?;
        let source_id = text(data, "source_id");
        self.put_vector(
            self.stores.relation_index,
            relation_vector(
                (source, target),
                text(data, "keywords"),
                text(data, "description"),
                source_id,
                text(data, "file_path"),
            ),
        )?;
        self.stores.kv.kv_upsert(
            KvNamespace::RelationChunks,
            &[(relation_chunks_key(a, b), chunk_ids_record(source_id))],
        )?;
        Ok(())
    }

    fn drop_relation(&self, source: &str, target: &str) -> Result<()> {
        let (a, b) = ids::endpoints(source, target);
        self.stores.graph.edge_delete(a, b)?;
        self.stores.relation_index.delete(
            self.stores.vectors,
            self.stores.generations,
            &[ids::relation_id(a, b)],
        )?;
        self.stores
            .kv
            .kv_delete(KvNamespace::RelationChunks, &[relation_chunks_key(a, b)])?;
        Ok(())
    }

    /// Removes an entity with all its relations from every store.
    fn drop_entity(&self, name: &str) -> Result<()> {
        for edge in self.stores.graph.edges_of(name)? {
            self.drop_relation(&edge.source, &edge.target)?;
        }
        self.stores.graph.node_delete(name)?;
        self.stores.entity_index.delete(
            self.stores.vectors,
            self.stores.generations,
            &[ids::entity_id(name)],
        )?;
        self.stores
            .kv
            .kv_delete(KvNamespace::EntityChunks, &[name.to_owned()])?;
        Ok(())
    }

    /// Rewrites the per-document entity and relation lists: names in `renamed` become
    /// their new name (`None`: dropped), duplicates and self-relations vanish.
    fn rewrite_document_lists(&self, renamed: &HashMap<String, Option<String>>) -> Result<()> {
        let kv = self.stores.kv;
        let map = |name: &str| -> Option<String> {
            match renamed.get(name) {
                Some(new) => new.clone(),
                None => Some(name.to_owned()),
            }
        };
        for doc in kv.kv_keys(KvNamespace::FullEntities)? {
            let Some(record) = kv.kv_get(KvNamespace::FullEntities, &doc)? else {
                continue;
            };
            let names: Vec<&str> = record["entity_names"]
                .as_array()
                .map(|a| a.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            if !names.iter().any(|n| renamed.contains_key(*n)) {
                continue;
            }
            let new: BTreeSet<String> = names.iter().filter_map(|n| map(n)).collect();
            kv.kv_upsert(
                KvNamespace::FullEntities,
                &[(doc, json!({"entity_names": new, "count": new.len()}))],
            )?;
        }
        for doc in kv.kv_keys(KvNamespace::FullRelations)? {
            let Some(record) = kv.kv_get(KvNamespace::FullRelations, &doc)? else {
                continue;
            };
            let pairs: Vec<(String, String)> = record["relation_pairs"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|p| {
                            Some((
                                p.get(0)?.as_str()?.to_owned(),
                                p.get(1)?.as_str()?.to_owned(),
                            ))
                        })
                        .collect()
                })
                .unwrap_or_default();
            if !pairs
                .iter()
                .any(|(a, b)| renamed.contains_key(a) || renamed.contains_key(b))
            {
                continue;
            }
            let new: BTreeSet<(String, String)> = pairs
                .iter()
                .filter_map(|(a, b)| Some(ids::endpoints(map(a)?, map(b)?)))
                .filter(|(a, b)| a != b)
                .collect();
            let list: Vec<[&String; 2]> = new.iter().map(|(a, b)| [a, b]).collect();
            kv.kv_upsert(
                KvNamespace::FullRelations,
                &[(doc, json!({"relation_pairs": list, "count": list.len()}))],
            )?;
        }
        Ok(())
    }

    /// A new entity; `Invalid` when the name is taken.
    pub fn create_entity(&self, name: &str, fields: &Map<String, Value>) -> Result<Value> {
        if self.stores.graph.node_get(name)?.is_some() {
            return Err(EditError::Invalid(format!(
                "Entity '{name}' already exists"
            )));
        }
        let mut data = Value::Object(fields.clone());
        for key in ["description", "entity_type", "source_id", "file_path"] {
            if data.get(key).is_none_or(Value::is_null) {
                data[key] = Value::from(if key == "entity_type" { "UNKNOWN" } else { "" });
            }
        }
        data["created_at"] = json!(crate::clock::now_epoch_secs());
        self.put_entity(name, &data)?;
        data["entity_name"] = Value::from(name);
        Ok(data)
    }

    /// A new relation between two existing entities.
    pub fn create_relation(
        &self,
        source: &str,
        target: &str,
        fields: &Map<String, Value>,
    ) -> Result<Value> {
        for (role, name) in [("Source", source), ("Target", target)] {
            if self.stores.graph.node_get(name)?.is_none() {
                return Err(EditError::Invalid(format!(
                    "{role} entity '{name}' does not exist"
                )));
            }
        }
        if self.stores.graph.edge_get(source, target)?.is_some() {
            return Err(EditError::Invalid(format!(
                "Relation from '{source}' to '{target}' already exists"
            )));
        }
        let mut data = Value::Object(fields.clone());
        for key in ["description", "keywords", "source_id", "file_path"] {
            if data.get(key).is_none_or(Value::is_null) {
                data[key] = Value::from("");
            }
        }
        if !data["weight"].is_number() {
            data["weight"] = json!(1.0);
        }
        data["created_at"] = json!(crate::clock::now_epoch_secs());
        self.put_relation(source, target, &data)?;
        data["src_id"] = Value::from(source);
        data["tgt_id"] = Value::from(target);
        Ok(data)
    }

    /// Merges `sources` into `target` (created if missing): descriptions, source ids and
    /// files combined; their relations moved to the target, parallel ones combined
    /// (weights added), self-relations dropped; the sources removed everywhere.
    pub fn merge_entities(&self, sources: &[String], target: &str) -> Result<Value> {
        let graph = self.stores.graph;
        let sources: Vec<&String> = sources.iter().filter(|s| s.as_str() != target).collect();
        let mut merged = graph.node_get(target)?;
        let mut nodes = Vec::new();
        for source in &sources {
            let node = graph
                .node_get(source)?
                .ok_or_else(|| EditError::Invalid(format!("Entity '{source}' does not exist")))?;
            nodes.push(node);
        }
        for node in &nodes {
            merged = Some(match merged {
                None => node.clone(),
                Some(mut m) => {
                    for key in ["description", "source_id", "file_path"] {
                        m[key] = Value::from(union(text(&m, key), text(node, key)));
                    }
                    if text(&m, "entity_type").is_empty() {
                        m["entity_type"] = node["entity_type"].clone();
                    }
                    m
                }
            });
        }
        let merged = merged.unwrap_or_else(|| json!({"entity_type": "UNKNOWN", "description": "", "source_id": "", "file_path": ""}));
        let moving: HashSet<&str> = sources.iter().map(|s| s.as_str()).chain([target]).collect();
        // The relations the target ends up with, by the other endpoint.
        let mut relations: HashMap<String, (String, String, Value)> = HashMap::new();
        for name in sources.iter().map(|s| s.as_str()).chain([target]) {
            for edge in graph.edges_of(name)? {
                let other = if edge.source == name {
                    &edge.target
                } else {
                    &edge.source
                };
                if moving.contains(other.as_str()) {
                    continue;
                }
                let (s, t) = if edge.source == name {
                    (target.to_owned(), other.clone())
                } else {
                    (other.clone(), target.to_owned())
                };
                relations
                    .entry(other.clone())
                    .and_modify(|(_, _, d)| {
                        for key in ["description", "source_id", "file_path"] {
                            d[key] = Value::from(union(text(d, key), text(&edge.data, key)));
                        }
                        d["keywords"] = Value::from(keywords_union(
                            text(d, "keywords"),
                            text(&edge.data, "keywords"),
                        ));
                        let weight = d["weight"].as_f64().unwrap_or(1.0)
                            + edge.data["weight"].as_f64().unwrap_or(1.0);
                        d["weight"] = json!(weight);
                    })
                    .or_insert((s, t, edge.data.clone()));
            }
        }
        for source in &sources {
            self.drop_entity(source)?;
        }
        for edge in graph.edges_of(target)? {
            self.drop_relation(&edge.source, &edge.target)?;
        }
        self.put_entity(target, &merged)?;
        for (s, t, data) in relations.values() {
            self.put_relation(s, t, data)?;
        }
        let renamed: HashMap<String, Option<String>> = sources
            .iter()
            .map(|s| ((*s).clone(), Some(target.to_owned())))
            .collect();
        self.rewrite_document_lists(&renamed)?;
        let mut data = merged;
        data["entity_name"] = Value::from(target);
        Ok(data)
    }

    /// Applies `updates` (already validated: string fields, optionally a new
    /// `entity_name`) to an entity; a new name moves it (merging into an existing
    /// entity only with `allow_merge`). Returns the final name and data, and whether a
    /// merge happened.
    pub fn edit_entity(
        &self,
        name: &str,
        updates: &Map<String, Value>,
        allow_rename: bool,
        allow_merge: bool,
    ) -> Result<(String, Value, bool)> {
        if self.stores.graph.node_get(name)?.is_none() {
            return Err(EditError::Invalid(format!(
                "Entity '{name}' does not exist"
            )));
        }
        let new_name = updates
            .get("entity_name")
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|n| *n != name);
        let mut final_name = name.to_owned();
        let mut merged = false;
        if let Some(new_name) = new_name {
            if new_name.is_empty() {
                return Err(EditError::Invalid("Entity name cannot be empty".to_owned()));
            }
            if !allow_rename {
                return Err(EditError::Invalid(format!(
                    "Renaming entity '{name}' requires allow_rename=true"
                )));
            }
            let exists = self.stores.graph.node_get(new_name)?.is_some();
            if exists && !allow_merge {
                return Err(EditError::Invalid(format!(
                    "Entity name '{new_name}' already exists, cannot rename"
                )));
            }
            self.merge_entities(&[name.to_owned()], new_name)?;
            final_name = new_name.to_owned();
            merged = exists;
        }
        let mut data =
            self.stores.graph.node_get(&final_name)?.ok_or_else(|| {
                EditError::NotFound(format!("Entity '{final_name}' does not exist"))
            })?;
        let mut changed = false;
        for (key, value) in updates.iter().filter(|(k, _)| k.as_str() != "entity_name") {
            data[key.as_str()] = value.clone();
            changed = true;
        }
        if changed {
            self.put_entity(&final_name, &data)?;
        }
        data["entity_name"] = Value::from(final_name.clone());
        Ok((final_name, data, merged))
    }

    /// Applies `updates` to a relation; the weight may not fall below its number of
    /// distinct source chunks.
    pub fn edit_relation(
        &self,
        source: &str,
        target: &str,
        updates: &Map<String, Value>,
    ) -> Result<Value> {
        let edge = self.stores.graph.edge_get(source, target)?.ok_or_else(|| {
            EditError::Invalid(format!(
                "Relation from '{source}' to '{target}' does not exist"
            ))
        })?;
        let mut data = edge.data;
        for (key, value) in updates {
            data[key.as_str()] = value.clone();
        }
        let sources = text(&data, "source_id")
            .split(GRAPH_FIELD_SEP)
            .filter(|s| !s.is_empty())
            .collect::<HashSet<_>>()
            .len();
        if let Some(weight) = data["weight"].as_f64()
            && weight < sources as f64
        {
            return Err(EditError::Invalid(format!(
                "Weight {weight} is below the relation's {sources} distinct source chunks"
            )));
        }
        self.put_relation(&edge.source, &edge.target, &data)?;
        data["src_id"] = Value::from(edge.source);
        data["tgt_id"] = Value::from(edge.target);
        Ok(data)
    }

    pub fn delete_entity(&self, name: &str) -> Result<()> {
        if self.stores.graph.node_get(name)?.is_none() {
            return Err(EditError::NotFound(format!("Entity '{name}' not found")));
        }
        self.drop_entity(name)?;
        self.rewrite_document_lists(&HashMap::from([(name.to_owned(), None)]))
    }

    pub fn delete_relation(&self, source: &str, target: &str) -> Result<()> {
        if self.stores.graph.edge_get(source, target)?.is_none() {
            return Err(EditError::NotFound(format!(
                "Relation from '{source}' to '{target}' not found"
            )));
        }
        self.drop_relation(source, target)?;
        let kv = self.stores.kv;
        let pair = ids::endpoints(source, target);
        for doc in kv.kv_keys(KvNamespace::FullRelations)? {
            let Some(record) = kv.kv_get(KvNamespace::FullRelations, &doc)? else {
                continue;
            };
            let pairs: Vec<Value> = record["relation_pairs"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            let kept: Vec<Value> = pairs
                .iter()
                .filter(|p| {
                    let (a, b) = (
                        p[0].as_str().unwrap_or_default(),
                        p[1].as_str().unwrap_or_default(),
                    );
                    ids::endpoints(a, b) != pair
                })
                .cloned()
                .collect();
            if kept.len() != pairs.len() {
                kv.kv_upsert(
                    KvNamespace::FullRelations,
                    &[(doc, json!({"relation_pairs": kept, "count": kept.len()}))],
                )?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_scores_rank_exact_prefix_word_substring_subsequence() {
        let q = "curie";
        let mut labels = [
            "Pierre Curie",
            "Curie",
            "Curiosity",
            "Marie Curie Institute",
            "Ecurie",
            "Cure Index",
        ];
        labels.sort_by_key(|l| std::cmp::Reverse(label_score(l, q)));
        assert_eq!(labels[0], "Curie");
        assert_eq!(label_score("Polonium", q), 0);
        assert!(label_score("Curiosity", "curi") > label_score("Pierre Curie", "curi"));
        assert!(label_score("Pierre Curie", q) > label_score("Ecurie", q));
        assert!(label_score("Elon Musk", "elnmsk") > 0);
    }

    #[test]
    fn unions_keep_order_and_drop_repeats() {
        assert_eq!(union("a<SEP>b", "b<SEP>c"), "a<SEP>b<SEP>c");
        assert_eq!(union("", "x"), "x");
        assert_eq!(keywords_union("a, b", "b,c"), "a, b, c");
    }
}
