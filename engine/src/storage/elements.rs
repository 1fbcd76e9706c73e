//! Where a graph element lives, kept in step: an entity is a node, a vector
//! (`ent-md5(name)`, embedded from "name\ndescription") and its chunk list in
//! `entity_chunks`; a relation is an edge, a vector (`rel-md5(a+b)`, the pair sorted,
//! embedded from "keywords\tsource\ntarget\ndescription") and its chunk list in
//! `relation_chunks` under "a<SEP>b". Indexing, deletion and hand edits all write and
//! remove elements through here, so the places cannot drift apart.

use serde_json::{Value, json};

use super::bundle::Stores;
use super::graph::{Entity, GRAPH_FIELD_SEP, Relation, fragments};
use super::{KvNamespace, StorageError, VectorNamespace, VectorRecord};
use crate::embedding::{self, Batching, Embedder};
use crate::ids;
use crate::llm::{ModelError, wait};

/// A relation's key in `relation_chunks`, the same whichever way round the pair comes.
fn relation_chunks_key(source: &str, target: &str) -> String {
    let (a, b) = ids::endpoints(source, target);
    format!("{a}{GRAPH_FIELD_SEP}{b}")
}

/// `{"chunk_ids": [...]}`: an element's source chunks as its chunk list stores them.
fn chunk_list(source_id: &str) -> Value {
    json!({ "chunk_ids": fragments(source_id).collect::<Vec<_>>() })
}

/// An entity's vector record (the vector itself is filled in by embedding `content`).
fn entity_vector(entity: &Entity) -> VectorRecord {
    let name = &entity.name;
    VectorRecord {
        id: ids::entity_id(name),
        vector: Vec::new(),
        meta: json!({"entity_name": name, "content": format!("{name}\n{}", entity.description),
            "source_id": entity.source_id, "file_path": entity.file_path}),
    }
}

/// A relation's vector record; its id is the same whichever way round the pair comes.
fn relation_vector(relation: &Relation) -> VectorRecord {
    let (source, target) = (&relation.source, &relation.target);
    let (a, b) = ids::endpoints(source, target);
    VectorRecord {
        id: ids::relation_id(a, b),
        vector: Vec::new(),
        meta: json!({"src_id": source, "tgt_id": target,
            "content": format!("{}\t{source}\n{target}\n{}", relation.keywords, relation.description),
            "source_id": relation.source_id, "file_path": relation.file_path}),
    }
}

fn entity_lists(entities: &[Entity]) -> Vec<(String, Value)> {
    entities
        .iter()
        .map(|e| (e.name.clone(), chunk_list(&e.source_id)))
        .collect()
}

fn relation_lists(relations: &[Relation]) -> Vec<(String, Value)> {
    relations
        .iter()
        .map(|r| {
            (
                relation_chunks_key(&r.source, &r.target),
                chunk_list(&r.source_id),
            )
        })
        .collect()
}

impl Stores<'_> {
    /// Writes entities' nodes, vectors and chunk lists.
    pub(crate) fn put_entities<E: From<StorageError> + From<ModelError>>(
        &self,
        embedder: &dyn Embedder,
        batching: Batching,
        entities: &[Entity],
    ) -> Result<(), E> {
        self.graph.nodes_upsert(entities)?;
        let vectors = entities.iter().map(entity_vector).collect();
        self.embed_into::<E>(embedder, batching, VectorNamespace::Entities, vectors)?;
        self.kv
            .kv_upsert(KvNamespace::EntityChunks, &entity_lists(entities))?;
        Ok(())
    }

    /// Writes relations' edges, vectors and chunk lists.
    pub(crate) fn put_relations<E: From<StorageError> + From<ModelError>>(
        &self,
        embedder: &dyn Embedder,
        batching: Batching,
        relations: &[Relation],
    ) -> Result<(), E> {
        self.graph.edges_upsert(relations)?;
        let vectors = relations.iter().map(relation_vector).collect();
        self.embed_into::<E>(embedder, batching, VectorNamespace::Relationships, vectors)?;
        self.kv
            .kv_upsert(KvNamespace::RelationChunks, &relation_lists(relations))?;
        Ok(())
    }

    /// Writes entities and relations (nodes, edges, vectors, chunk lists), embedding
    /// both kinds at once first, so a failed embedding writes nothing.
    pub(crate) fn put_graph<E: From<StorageError> + From<ModelError>>(
        &self,
        embedder: &dyn Embedder,
        batching: Batching,
        entities: &[Entity],
        relations: &[Relation],
    ) -> Result<(), E> {
        let mut entity_vectors: Vec<VectorRecord> = entities.iter().map(entity_vector).collect();
        let mut relation_vectors: Vec<VectorRecord> =
            relations.iter().map(relation_vector).collect();
        let (embedded_entities, embedded_relations) = wait(async {
            tokio::join!(
                embedding::embed_records(embedder, &mut entity_vectors, batching),
                embedding::embed_records(embedder, &mut relation_vectors, batching)
            )
        });
        embedded_entities?;
        embedded_relations?;
        self.graph.elements_upsert(entities, relations)?;
        self.vectors_upsert_many(&[
            (VectorNamespace::Entities, &entity_vectors),
            (VectorNamespace::Relationships, &relation_vectors),
        ])?;
        self.kv.kv_upsert_many(&[
            (KvNamespace::EntityChunks, &entity_lists(entities)),
            (KvNamespace::RelationChunks, &relation_lists(relations)),
        ])?;
        Ok(())
    }

    /// Removes relations (pairs in either order) from every place.
    pub(crate) fn drop_relations(&self, pairs: &[(String, String)]) -> Result<(), StorageError> {
        self.graph.edges_delete(pairs)?;
        let vector_ids: Vec<String> = pairs
            .iter()
            .map(|(a, b)| {
                let (a, b) = ids::endpoints(a, b);
                ids::relation_id(a, b)
            })
            .collect();
        self.vectors_delete(VectorNamespace::Relationships, &vector_ids)?;
        let keys: Vec<String> = pairs
            .iter()
            .map(|(a, b)| relation_chunks_key(a, b))
            .collect();
        self.kv.kv_delete(KvNamespace::RelationChunks, &keys)
    }

    /// Removes entities' nodes (with any edges left), vectors and chunk lists; their
    /// relations' other places are the caller's ([`Stores::drop_relations`]).
    pub(crate) fn drop_entities(&self, names: &[String]) -> Result<(), StorageError> {
        self.graph.nodes_delete(names)?;
        let vector_ids: Vec<String> = names.iter().map(|n| ids::entity_id(n)).collect();
        self.vectors_delete(VectorNamespace::Entities, &vector_ids)?;
        self.kv.kv_delete(KvNamespace::EntityChunks, names)
    }
}
