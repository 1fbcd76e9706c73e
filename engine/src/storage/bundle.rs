//! The stores one workspace's indexing, edits and queries use, bundled: every storage
//! role, the generation counters shared across workers, and this worker's caches over
//! them. A bundle is cheap (references only) and made per operation.

use super::cache::DegreeCache;
use super::vectors::VectorIndex;
use super::{
    Generations, GraphStorage, KvStorage, StorageError, VectorNamespace, VectorRecord,
    VectorStorage,
};
use crate::embedding::{self, Batching, Embedder};
use crate::llm::{ModelError, wait};

/// The stores of one workspace, as the engine takes them.
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
        storage: &'a dyn super::Storage,
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

/// A worker's caches over one workspace: a vector index per namespace and the node
/// degrees.
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
