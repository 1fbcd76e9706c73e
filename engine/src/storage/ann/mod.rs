//! Approximate nearest-neighbour search for the embedded store's vector namespaces, so
//! a query's cost stays flat as the store grows (exact search reads every vector).
//!
//! Per namespace, a worker searches these and merges what they find:
//!
//! - the **segments** ([`segment`], [`part`]) the namespace's **manifest**
//!   ([`manifest`]) lists: each an HNSW graph ([`hnsw`]) with its vectors, ids and
//!   metadata in one immutable file under `WORKING_DIR/vector_index/`, memory-mapped,
//!   so every worker reads the same pages of the page cache and none copies them;
//! - the **delta** ([`flat`]): the writes the store made after the manifest's last
//!   change (`seq`), read incrementally from the store and searched exactly, so a
//!   result is never short of a recent write. Ids deleted or rewritten since are
//!   tombstones: the segments' copies are skipped at query time.
//!
//! The process that writes vectors publishes a new manifest once the delta is large
//! enough ([`index::NamespaceIndex::plan`], [`build`]): under a file lock (one builder
//! at a time across processes) and from a snapshot (so on any thread, no reader or
//! writer waiting, [`background`]), it writes the delta as a new small segment, merges segments only
//! when the tiers call for it, renames the new manifest over the old one, and moves the
//! namespace's generation counter, which tells every worker to map it at its next
//! query. Below `min_vectors` nothing is built and the namespace is searched exactly,
//! as it is faster there.

pub mod background;
pub mod build;
pub mod dot;
pub mod flat;
pub mod hnsw;
pub mod index;
pub mod manifest;
pub mod part;
pub mod recall;
pub mod segment;

/// Why a segment could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum AnnError {
    /// The file system refused a read, a write or the rename.
    #[error("vector index: {0}")]
    Io(#[from] std::io::Error),
    /// A segment file that is not one this version writes (or was damaged).
    #[error("vector index file is invalid: {0}")]
    Invalid(String),
}

pub type Result<T> = std::result::Result<T, AnnError>;

/// How the embedded store indexes its vectors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AnnSettings {
    /// Vectors a namespace holds before it gets an HNSW segment; 0: never (exact only).
    pub min_vectors: usize,
    /// Candidates a search keeps (at least the query's top_k): larger finds more of
    /// the exact answer and costs more.
    pub ef_search: usize,
}

impl Default for AnnSettings {
    fn default() -> Self {
        AnnSettings {
            min_vectors: 5000,
            ef_search: 256,
        }
    }
}

#[cfg(test)]
mod index_tests;
