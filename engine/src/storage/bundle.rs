//! The stores one workspace's indexing, edits and queries use, bundled: every storage
//! role, the generation counters shared across workers, and this worker's caches over
//! them. A bundle is cheap (references only) and made per operation.
//!
//! Vector writes go through the bundle ([`Stores::vectors_upsert`], [`Stores::vectors_delete`]),
//! which moves the namespace's generation so every worker's caches follow; searches go
//! to [`Stores::search`], the backend's own search or this worker's indexes.

use std::sync::Arc;

use super::ann::AnnSettings;
use super::cache::{DegreeCache, WeightCache};
use super::vectors::{CachedSearch, Indexes as VectorIndexes, VectorSearch};
use super::{
    Generations, GraphStorage, KvStorage, Result, StorageError, VectorNamespace, VectorRecord,
    VectorStorage,
};
use crate::embedding::{self, Batching, Embedder};
use crate::llm::{ModelError, wait};

/// The stores of one workspace, as the engine takes them.
pub struct Stores<'a> {
    /// Cached node degrees and relation weights (read by retrieval).
    pub degrees: &'a DegreeCache,
    pub weights: &'a WeightCache,
    pub kv: &'a dyn KvStorage,
    pub graph: &'a dyn GraphStorage,
    pub vectors: &'a dyn VectorStorage,
    pub generations: &'a dyn Generations,
    search: Search<'a>,
}

/// Where this bundle's vector searches run.
enum Search<'a> {
    /// The backend searches where the vectors are.
    Backend(&'a dyn VectorSearch),
    /// This worker's copy of the embedded store's vectors.
    Cached(CachedSearch<'a>),
}

impl<'a> Stores<'a> {
    /// One storage backend in every role, with a worker's caches over it (its vector
    /// indexes only when the backend does not search itself).
    pub fn new(
        storage: &'a dyn super::Storage,
        generations: &'a dyn Generations,
        indexes: &'a Indexes,
    ) -> Stores<'a> {
        let search = match storage.vector_search() {
            Some(search) => Search::Backend(search),
            None => Search::Cached(CachedSearch {
                indexes: &indexes.vectors,
                storage,
                generations,
            }),
        };
        Stores {
            degrees: &indexes.degrees,
            weights: &indexes.weights,
            kv: storage,
            graph: storage,
            vectors: storage,
            generations,
            search,
        }
    }

    /// Vector search over the workspace's namespaces.
    pub fn search(&self) -> &dyn VectorSearch {
        match &self.search {
            Search::Backend(search) => *search,
            Search::Cached(search) => search,
        }
    }

    /// Writes vectors, then tells every worker's caches to reload.
    pub fn vectors_upsert(&self, ns: VectorNamespace, items: &[VectorRecord]) -> Result<()> {
        self.vectors.vectors_upsert(ns, items)?;
        self.written(ns);
        Ok(())
    }

    /// After a write to `ns`: moves its counter, then lets this worker's index fold the
    /// recent writes into a new segment when they are many.
    fn written(&self, ns: VectorNamespace) {
        self.generations.bump(ns);
        if let Search::Cached(search) = &self.search {
            search.maintain(ns);
        }
    }

    /// Writes several namespaces in one storage call, then moves each one's counter.
    pub fn vectors_upsert_many(
        &self,
        batches: &[(VectorNamespace, &[VectorRecord])],
    ) -> Result<()> {
        let batches: Vec<(VectorNamespace, &[VectorRecord])> = batches
            .iter()
            .filter(|(_, items)| !items.is_empty())
            .copied()
            .collect();
        if batches.is_empty() {
            return Ok(());
        }
        self.vectors.vectors_upsert_many(&batches)?;
        for (ns, _) in batches {
            self.written(ns);
        }
        Ok(())
    }

    pub fn vectors_delete(&self, ns: VectorNamespace, ids: &[String]) -> Result<()> {
        self.vectors.vectors_delete(ns, ids)?;
        self.written(ns);
        Ok(())
    }

    /// Embeds each record's `meta.content` and stores it in `ns`.
    pub(crate) fn embed_into<E: From<StorageError> + From<ModelError>>(
        &self,
        embedder: &dyn Embedder,
        batching: Batching,
        ns: VectorNamespace,
        mut records: Vec<VectorRecord>,
    ) -> std::result::Result<(), E> {
        if records.is_empty() {
            return Ok(());
        }
        wait(embedding::embed_records(embedder, &mut records, batching))?;
        self.vectors_upsert(ns, &records)?;
        Ok(())
    }
}

/// A worker's caches over one workspace: its vector indexes (used only when the
/// backend does not search itself), the node degrees and relation weights.
#[derive(Default)]
pub struct Indexes {
    vectors: VectorIndexes,
    pub degrees: DegreeCache,
    pub weights: WeightCache,
}

impl Indexes {
    /// Caches whose vector indexes follow `settings`.
    pub fn new(settings: AnnSettings) -> Indexes {
        Indexes {
            vectors: VectorIndexes::new(settings),
            degrees: DegreeCache::default(),
            weights: WeightCache::default(),
        }
    }

    /// Vector index builds run on a thread of their own and move `generations` once
    /// published (see [`VectorIndexes::building_in_background`]).
    pub fn building_in_background(self, generations: Arc<dyn Generations>) -> Indexes {
        Indexes {
            vectors: self.vectors.building_in_background(generations),
            ..self
        }
    }
}
