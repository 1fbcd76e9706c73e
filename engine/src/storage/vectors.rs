//! Vector search, wherever it runs: [`VectorSearch`] is the role retrieval asks. A
//! backend that searches in place (PostgreSQL with pgvector) serves it itself; for the
//! embedded store each worker serves it from [`Indexes`]: per namespace an HNSW segment
//! mapped from WORKING_DIR and an exact delta of the writes after it (see
//! [`super::ann`]), brought up to date only when the namespace's generation counter has
//! moved since, so a write on any worker is seen everywhere at the next query.
//!
//! A worker's indexes publish new segments on a thread of their own when they are given
//! the generation counters to announce them with ([`Indexes::building_in_background`],
//! as a served workspace's are): the write that triggered the build has returned long
//! before, and any lock its caller holds (a document's merge) is not held for it (see
//! [`super::ann::background`]).

use std::sync::Arc;

use serde_json::Value;

use super::ann::index::NamespaceIndex;
use super::ann::{AnnSettings, background};
use super::{Generations, Result, VectorNamespace, VectorStorage};

/// A search result.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    pub id: String,
    pub score: f32,
    pub meta: Value,
}

/// Nearest-vector search over the vector namespaces of one workspace.
pub trait VectorSearch {
    /// The `top_k` most similar vectors of `ns` with cosine similarity at least
    /// `threshold`, best first. A query of another dimension than the stored vectors is
    /// a [`super::StorageError::DimensionMismatch`].
    fn query(
        &self,
        ns: VectorNamespace,
        query: &[f32],
        top_k: usize,
        threshold: f32,
    ) -> Result<Vec<Hit>>;

    /// The cosine similarity of `query` to each of `ids` in `ns` (`None` for an id not
    /// stored, or for every id when the dimensions differ).
    fn similarities(
        &self,
        ns: VectorNamespace,
        query: &[f32],
        ids: &[String],
    ) -> Result<Vec<Option<f32>>>;
}

/// A worker's indexes over the embedded store, one per namespace.
pub struct Indexes {
    settings: AnnSettings,
    /// The counters a background build moves once it has published; `None`: builds
    /// run on the writing thread.
    background: Option<Arc<dyn Generations>>,
    chunks: Arc<NamespaceIndex>,
    entities: Arc<NamespaceIndex>,
    relationships: Arc<NamespaceIndex>,
}

impl Default for Indexes {
    fn default() -> Self {
        Indexes::new(AnnSettings::default())
    }
}

impl Indexes {
    pub fn new(settings: AnnSettings) -> Indexes {
        Indexes {
            settings,
            background: None,
            chunks: Arc::new(NamespaceIndex::new(VectorNamespace::Chunks)),
            entities: Arc::new(NamespaceIndex::new(VectorNamespace::Entities)),
            relationships: Arc::new(NamespaceIndex::new(VectorNamespace::Relationships)),
        }
    }

    /// Builds publish on a thread of their own, then move `generations`.
    pub fn building_in_background(mut self, generations: Arc<dyn Generations>) -> Indexes {
        self.background = Some(generations);
        self
    }

    fn of(&self, ns: VectorNamespace) -> &Arc<NamespaceIndex> {
        match ns {
            VectorNamespace::Chunks => &self.chunks,
            VectorNamespace::Entities => &self.entities,
            VectorNamespace::Relationships => &self.relationships,
        }
    }
}

/// [`VectorSearch`] from a worker's [`Indexes`], brought up to date from `storage` when
/// `generations` say it changed.
pub struct CachedSearch<'a> {
    pub indexes: &'a Indexes,
    pub storage: &'a dyn VectorStorage,
    pub generations: &'a dyn Generations,
}

impl CachedSearch<'_> {
    /// After a write to `ns`: publishes its recent writes as a new index segment when
    /// they are many. The write has committed whatever happens here, so a failure is
    /// logged (searches stay exact over what the segments lack), not returned.
    pub fn maintain(&self, ns: VectorNamespace) {
        let index = self.indexes.of(ns);
        let settings = &self.indexes.settings;
        if let Some(generations) = &self.indexes.background {
            return background::maintain(index, self.storage, generations, settings, ns);
        }
        if let Err(e) = index.maintain(self.storage, self.generations, settings) {
            tracing::warn!(namespace = ns.as_str(), "vector index not updated: {e}");
        }
    }

    /// At this process's first search of `ns`, the build a stopped or crashed process
    /// left unfinished starts again, on the builder thread: otherwise the writes after
    /// the manifest would be searched exactly until the next write, which a read-only
    /// server never makes.
    fn resume_unfinished_build(&self, ns: VectorNamespace) {
        if self.indexes.background.is_some() && self.indexes.of(ns).first_search() {
            self.maintain(ns);
        }
    }
}

impl VectorSearch for CachedSearch<'_> {
    fn query(
        &self,
        ns: VectorNamespace,
        query: &[f32],
        top_k: usize,
        threshold: f32,
    ) -> Result<Vec<Hit>> {
        self.resume_unfinished_build(ns);
        self.indexes.of(ns).query(
            self.storage,
            self.generations,
            &self.indexes.settings,
            query,
            top_k,
            threshold,
        )
    }

    fn similarities(
        &self,
        ns: VectorNamespace,
        query: &[f32],
        ids: &[String],
    ) -> Result<Vec<Option<f32>>> {
        self.resume_unfinished_build(ns);
        self.indexes.of(ns).similarities(
            self.storage,
            self.generations,
            &self.indexes.settings,
            query,
            ids,
        )
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::ann::background::tests::wait_until_published;
    use super::super::ann::hnsw::tests::random_vectors;
    use super::*;
    use crate::storage::sqlite::SqliteStorage;
    use crate::storage::{LocalGenerations, VectorRecord};

    #[test]
    fn a_build_left_unfinished_resumes_at_the_first_search() {
        let dir = crate::storage::tests::temp("vectors-resume");
        let store = SqliteStorage::open(&dir, "").unwrap();
        let ns = VectorNamespace::Relationships;
        // Written by a process that stopped before its build published anything.
        let vectors = random_vectors(3000, 8, 7);
        let records: Vec<VectorRecord> = vectors
            .iter()
            .enumerate()
            .map(|(i, v)| VectorRecord {
                id: format!("r{i}"),
                vector: v.clone(),
                meta: json!(null),
            })
            .collect();
        store.vectors_upsert(ns, &records).unwrap();

        let generations: Arc<dyn Generations> = Arc::new(LocalGenerations::default());
        let settings = AnnSettings {
            min_vectors: 1000,
            ef_search: 64,
        };
        let indexes = Indexes::new(settings).building_in_background(generations.clone());
        let search = CachedSearch {
            indexes: &indexes,
            storage: &store,
            generations: &*generations,
        };
        let index = indexes.of(ns);
        assert_eq!(
            index.shape(&store, &*generations, &settings).unwrap().delta,
            3000
        );

        let hits = search.query(ns, &vectors[0], 5, 0.0).unwrap();
        assert_eq!(hits[0].id, "r0");
        wait_until_published(index, &store, &*generations, &settings, |shape| {
            assert_eq!(shape.indexed + shape.delta, 3000);
            "not resumed".to_owned()
        });
        let _ = std::fs::remove_dir_all(&dir);
    }
}
