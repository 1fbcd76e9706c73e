//! Vector search, wherever it runs: [`VectorSearch`] is the role retrieval asks. A
//! backend that searches in place (PostgreSQL with pgvector) serves it itself; for the
//! embedded store each worker serves it from [`Indexes`]: per namespace an HNSW segment
//! mapped from WORKING_DIR and an exact delta of the writes after it (see
//! [`super::ann`]), brought up to date only when the namespace's generation counter has
//! moved since, so a write on any worker is seen everywhere at the next query.

use serde_json::Value;

use super::ann::AnnSettings;
use super::ann::index::NamespaceIndex;
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
    chunks: NamespaceIndex,
    entities: NamespaceIndex,
    relationships: NamespaceIndex,
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
            chunks: NamespaceIndex::new(VectorNamespace::Chunks),
            entities: NamespaceIndex::new(VectorNamespace::Entities),
            relationships: NamespaceIndex::new(VectorNamespace::Relationships),
        }
    }

    fn of(&self, ns: VectorNamespace) -> &NamespaceIndex {
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
    /// After a write to `ns`: folds its recent writes into a new index segment when
    /// they are many. The write has committed whatever happens here, so a failure is
    /// logged (searches stay exact over what the segment lacks), not returned.
    pub fn maintain(&self, ns: VectorNamespace) {
        let index = self.indexes.of(ns);
        if let Err(e) = index.maintain(self.storage, self.generations, &self.indexes.settings) {
            tracing::warn!(namespace = ns.as_str(), "vector index not updated: {e}");
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
        self.indexes.of(ns).similarities(
            self.storage,
            self.generations,
            &self.indexes.settings,
            query,
            ids,
        )
    }
}
