//! Storage: what LightRAG keeps, behind traits, with the embedded SQLite backend as the
//! default. One database file under WORKING_DIR serves every namespace; each worker
//! opens its own connection after fork (WAL mode: readers never block the writer).
//! Rows carry the workspace, so workspaces never see each other's data.
//!
//! Vector search is a role of its own ([`vectors::VectorSearch`]): a backend that
//! searches in place serves it; over the embedded store it is an HNSW segment mapped
//! from WORKING_DIR plus an exact delta of the recent writes ([`ann`]), brought up to
//! date only when the namespace's generation counter ([`Generations`]) moves, which any
//! worker's write does.

pub mod ann;
mod backend;
pub mod bundle;
pub mod cache;
mod doc_status;
mod elements;
mod full_doc;
pub mod graph;
pub mod outages;
pub mod postgres;
pub mod redis;
pub mod sqlite;
pub mod vectors;

pub use backend::{Backend, Storage, StorageConfig, open};
pub use doc_status::{
    DocPageQuery, DocSort, DocStatus, DocStatusRecord, DocStatusStorage, WorkspaceListing,
};
pub use full_doc::{ChunkingRequest, FullDoc};
pub use graph::{Entity, GraphStorage, Relation};
pub use postgres::PostgresConfig;
pub use redis::RedisConfig;

use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::Value;

/// LightRAG's key-value namespaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KvNamespace {
    FullDocs,
    TextChunks,
    LlmResponseCache,
    FullEntities,
    FullRelations,
    EntityChunks,
    RelationChunks,
    /// Records of `/documents/scan` runs, readable from every worker.
    ScanJobs,
    /// md5 of a document's text to the document holding it (duplicate detection).
    ContentHashes,
    /// Deletions under way: the durable marker a crashed deletion is resumed from.
    Deletions,
    /// Which embedding made the workspace's vectors (`crate::embedding::identity`).
    EmbeddingIdentity,
}

impl KvNamespace {
    pub fn as_str(self) -> &'static str {
        match self {
            KvNamespace::FullDocs => "full_docs",
            KvNamespace::TextChunks => "text_chunks",
            KvNamespace::LlmResponseCache => "llm_response_cache",
            KvNamespace::FullEntities => "full_entities",
            KvNamespace::FullRelations => "full_relations",
            KvNamespace::EntityChunks => "entity_chunks",
            KvNamespace::RelationChunks => "relation_chunks",
            KvNamespace::ScanJobs => "scan_jobs",
            KvNamespace::ContentHashes => "content_hashes",
            KvNamespace::Deletions => "deletions",
            KvNamespace::EmbeddingIdentity => "embedding_identity",
        }
    }

    /// What `DELETE /documents` empties: everything derived from the documents; the LLM
    /// cache and the scan records stay, as in LightRAG.
    pub const DOCUMENT_DATA: [KvNamespace; 8] = [
        KvNamespace::FullDocs,
        KvNamespace::TextChunks,
        KvNamespace::FullEntities,
        KvNamespace::FullRelations,
        KvNamespace::EntityChunks,
        KvNamespace::RelationChunks,
        KvNamespace::ContentHashes,
        KvNamespace::Deletions,
    ];
}

/// LightRAG's vector namespaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VectorNamespace {
    Chunks,
    Entities,
    Relationships,
}

impl VectorNamespace {
    pub const ALL: [VectorNamespace; 3] = [
        VectorNamespace::Chunks,
        VectorNamespace::Entities,
        VectorNamespace::Relationships,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            VectorNamespace::Chunks => "chunks",
            VectorNamespace::Entities => "entities",
            VectorNamespace::Relationships => "relationships",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("storage: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("cannot prepare the storage directory: {0}")]
    Io(#[from] std::io::Error),
    /// A command Redis refused or answered unexpectedly.
    #[error("Redis: {0}")]
    Redis(#[from] ::redis::RedisError),
    /// A statement PostgreSQL refused (connection failures are [`Unavailable`](Self::Unavailable)).
    #[error("PostgreSQL: {}", postgres_detail(.0))]
    Postgres(#[from] ::postgres::Error),
    /// The store cannot be reached (after its retries); the same request can succeed
    /// once it is back.
    #[error("storage unavailable: {store} cannot be reached ({reason}); try again later")]
    Unavailable { store: String, reason: String },
    /// The store is configured in a way that would lose data.
    #[error("{what} refused: {reason}")]
    Refused { what: String, reason: String },
    #[error("stored JSON is invalid: {0}")]
    Json(#[from] serde_json::Error),
    /// The workspace's vectors were made by another embedding than the configured one.
    #[error("{0}")]
    EmbeddingChanged(String),
    #[error(
        "embedding dimension mismatch in {namespace}: stored vectors have {stored} \
         dimensions, this embedding model gives {given}"
    )]
    DimensionMismatch {
        namespace: &'static str,
        stored: usize,
        given: usize,
    },
}

pub type Result<T> = std::result::Result<T, StorageError>;

/// The server's message when there is one (the driver's own text says only "db error").
fn postgres_detail(e: &::postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{} ({})", db.message(), db.code().code()),
        None => e.to_string(),
    }
}

/// Per-namespace write counters shared by every process that caches vectors. The worker
/// crate implements it on the shared-memory arena; [`LocalGenerations`] serves one
/// process.
///
/// A namespace is bumped after the store's write, and a graph element's vector is
/// written after its node or edge (`elements.rs`), so a cache that reads the generation
/// before the store (vectors, node degrees, the worker's label list) never keeps a stale
/// copy under the current generation.
pub trait Generations: Send + Sync {
    fn current(&self, namespace: VectorNamespace) -> u64;
    fn bump(&self, namespace: VectorNamespace);
}

#[derive(Default)]
pub struct LocalGenerations([AtomicU64; 3]);

impl Generations for LocalGenerations {
    fn current(&self, namespace: VectorNamespace) -> u64 {
        self.0[namespace.index()].load(Ordering::Acquire)
    }
    fn bump(&self, namespace: VectorNamespace) {
        self.0[namespace.index()].fetch_add(1, Ordering::AcqRel);
    }
}

/// Key-value namespaces of JSON values.
pub trait KvStorage {
    fn kv_get(&self, ns: KvNamespace, key: &str) -> Result<Option<Value>>;
    /// The values of `keys` that exist, by key; one statement where the backend can (a
    /// query reads its chunks at once).
    fn kv_get_many(
        &self,
        ns: KvNamespace,
        keys: &[String],
    ) -> Result<std::collections::HashMap<String, Value>> {
        let mut found = std::collections::HashMap::with_capacity(keys.len());
        for key in keys {
            if let Some(value) = self.kv_get(ns, key)? {
                found.insert(key.clone(), value);
            }
        }
        Ok(found)
    }
    fn kv_upsert(&self, ns: KvNamespace, items: &[(String, Value)]) -> Result<()>;
    /// Inserts every item, or none when one key is already present: then that key comes
    /// back. One atomic step (an insert-if-absent), for reservations.
    fn kv_insert_new(&self, ns: KvNamespace, items: &[(String, Value)]) -> Result<Option<String>>;
    fn kv_delete(&self, ns: KvNamespace, keys: &[String]) -> Result<()>;
    fn kv_keys(&self, ns: KvNamespace) -> Result<Vec<String>>;
    fn kv_drop(&self, ns: KvNamespace) -> Result<()>;
    /// Upserts into several namespaces; a backend that can makes it one transaction
    /// (one disk sync per indexing stage rather than one per namespace).
    fn kv_upsert_many(&self, batches: &[(KvNamespace, &[(String, Value)])]) -> Result<()> {
        batches
            .iter()
            .try_for_each(|(ns, items)| self.kv_upsert(*ns, items))
    }
}

/// A stored vector with its metadata.
#[derive(Debug, Clone, PartialEq)]
pub struct VectorRecord {
    pub id: String,
    pub vector: Vec<f32>,
    pub meta: Value,
}

/// What changed in a vector namespace after a point, read in one consistent snapshot.
#[derive(Debug, Clone, PartialEq)]
pub struct VectorChanges {
    /// Moves when the namespace is dropped or replaced (earlier changes no longer apply).
    pub epoch: u64,
    /// The last change included here; pass it back to read only what follows.
    pub head: u64,
    /// Vectors written after the point, each as stored now.
    pub upserted: Vec<VectorRecord>,
    /// Ids deleted after the point (and not written again since).
    pub deleted: Vec<String>,
}

pub trait VectorStorage {
    fn vectors_upsert(&self, ns: VectorNamespace, items: &[VectorRecord]) -> Result<()>;
    fn vectors_delete(&self, ns: VectorNamespace, ids: &[String]) -> Result<()>;
    fn vectors_all(&self, ns: VectorNamespace) -> Result<Vec<VectorRecord>>;
    fn vectors_drop(&self, ns: VectorNamespace) -> Result<()>;
    /// Replaces everything in `ns` with `items` in one step (re-embedding may change
    /// the dimension).
    fn vectors_replace(&self, ns: VectorNamespace, items: &[VectorRecord]) -> Result<()>;
    /// The dimension of the vectors stored in `ns`; `None` when it is empty.
    fn vectors_dim(&self, ns: VectorNamespace) -> Result<Option<usize>>;
    /// The backend's own search, when it searches where the vectors are (no copy in
    /// the workers); `None`: the engine searches a per-worker copy.
    fn vector_search(&self) -> Option<&dyn vectors::VectorSearch> {
        None
    }

    /// The changes to `ns` after change `after` (every vector when `None`), for a copy
    /// that follows the store incrementally; `None`: the backend keeps no change log
    /// (the copy reloads everything).
    fn vectors_changes(
        &self,
        _ns: VectorNamespace,
        _after: Option<u64>,
    ) -> Result<Option<VectorChanges>> {
        Ok(None)
    }

    /// Where the engine may keep approximate-search indexes of this store's vectors
    /// (a directory of the embedded store); `None`: searches stay exact.
    fn vector_index_dir(&self) -> Option<std::path::PathBuf> {
        None
    }

    /// Another handle on the same vectors, for a thread that outlives the caller's
    /// borrow (a background index build); `None`: the backend has no such handle.
    fn vectors_reopen(&self) -> Result<Option<Box<dyn VectorStorage + Send + Sync>>> {
        Ok(None)
    }

    /// Forgets the deletions of `ns` up to change `upto`: an approximate-search index
    /// covers them, and its readers read only the changes after it.
    fn vectors_forget_deletions(&self, _ns: VectorNamespace, _upto: u64) -> Result<()> {
        Ok(())
    }

    /// Upserts into several namespaces; a backend that can makes it one transaction.
    fn vectors_upsert_many(&self, batches: &[(VectorNamespace, &[VectorRecord])]) -> Result<()> {
        batches
            .iter()
            .try_for_each(|(ns, items)| self.vectors_upsert(*ns, items))
    }
}

#[cfg(test)]
mod tests {
    use super::ann::AnnSettings;
    use super::ann::index::NamespaceIndex;
    use super::sqlite::SqliteStorage;
    use super::*;
    use serde_json::json;

    pub(super) fn temp(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "lrm-engine-{}-{name}-{}",
            std::process::id(),
            fastrand::u32(..)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn processes_opening_a_new_store_at_once_all_succeed() {
        // As the workers do after a fork: every one creates and upgrades the schema.
        let dir = temp("race");
        std::fs::create_dir_all(&dir).unwrap();
        let opened: Vec<_> = std::thread::scope(|s| {
            let all: Vec<_> = (0..6)
                .map(|_| s.spawn(|| SqliteStorage::open(&dir, "").map(drop)))
                .collect();
            all.into_iter().map(|h| h.join().unwrap()).collect()
        });
        for result in opened {
            result.unwrap();
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn kv_round_trips_and_workspaces_are_isolated() {
        let dir = temp("kv");
        let a = SqliteStorage::open(&dir, "a").unwrap();
        let b = SqliteStorage::open(&dir, "b").unwrap();
        a.kv_upsert(
            KvNamespace::FullDocs,
            &[("doc-1".into(), json!({"content": "x"}))],
        )
        .unwrap();
        assert_eq!(
            a.kv_get(KvNamespace::FullDocs, "doc-1").unwrap(),
            Some(json!({"content": "x"}))
        );
        assert_eq!(b.kv_get(KvNamespace::FullDocs, "doc-1").unwrap(), None);
        assert_eq!(a.kv_get(KvNamespace::TextChunks, "doc-1").unwrap(), None);
        a.kv_upsert(
            KvNamespace::FullDocs,
            &[("doc-1".into(), json!(2)), ("doc-2".into(), json!(3))],
        )
        .unwrap();
        assert_eq!(
            a.kv_keys(KvNamespace::FullDocs).unwrap(),
            ["doc-1", "doc-2"]
        );
        a.kv_delete(KvNamespace::FullDocs, &["doc-1".into()])
            .unwrap();
        assert_eq!(a.kv_keys(KvNamespace::FullDocs).unwrap(), ["doc-2"]);
        a.kv_drop(KvNamespace::FullDocs).unwrap();
        assert!(a.kv_keys(KvNamespace::FullDocs).unwrap().is_empty());
        // A second connection (another worker) sees committed data.
        b.kv_upsert(KvNamespace::LlmResponseCache, &[("k".into(), json!("v"))])
            .unwrap();
        let b2 = SqliteStorage::open(&dir, "b").unwrap();
        assert_eq!(
            b2.kv_get(KvNamespace::LlmResponseCache, "k").unwrap(),
            Some(json!("v"))
        );
    }

    #[test]
    fn many_connections_can_open_a_new_database_at_once() {
        let dir = temp("concurrent");
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let dir = dir.clone();
                std::thread::spawn(move || SqliteStorage::open(&dir, "").map(drop))
            })
            .collect();
        for t in threads {
            t.join().unwrap().unwrap();
        }
    }

    #[test]
    fn vector_search_reloads_on_generation_and_refuses_other_dimensions() {
        let dir = temp("vectors");
        let writer = SqliteStorage::open(&dir, "").unwrap();
        let reader = SqliteStorage::open(&dir, "").unwrap();
        let generations = LocalGenerations::default();
        let reader_index = NamespaceIndex::new(VectorNamespace::Entities);
        let settings = AnnSettings::default();
        let record = |id: &str, v: Vec<f32>| VectorRecord {
            id: id.into(),
            vector: v,
            meta: json!({"name": id}),
        };
        let upsert = |items: &[VectorRecord]| {
            writer.vectors_upsert(VectorNamespace::Entities, items)?;
            generations.bump(VectorNamespace::Entities);
            Ok::<_, StorageError>(())
        };
        upsert(&[record("x", vec![1.0, 0.0]), record("y", vec![0.6, 0.8])]).unwrap();
        let hits = reader_index
            .query(&reader, &generations, &settings, &[1.0, 0.1], 5, 0.2)
            .unwrap();
        assert_eq!(
            hits.iter().map(|h| h.id.as_str()).collect::<Vec<_>>(),
            ["x", "y"]
        );
        assert!(hits[0].score > 0.99);
        // A write elsewhere moves the generation: the reader's copy reloads.
        upsert(&[record("z", vec![1.0, 0.05])]).unwrap();
        let hits = reader_index
            .query(&reader, &generations, &settings, &[1.0, 0.0], 1, 0.2)
            .unwrap();
        assert_eq!(hits.len(), 1);
        assert_eq!(
            reader_index
                .query(&reader, &generations, &settings, &[0.0, 1.0], 5, 0.9)
                .unwrap()
                .len(),
            0
        );
        assert!(matches!(
            reader_index.query(&reader, &generations, &settings, &[1.0, 0.0, 0.0], 5, 0.0),
            Err(StorageError::DimensionMismatch {
                stored: 2,
                given: 3,
                ..
            })
        ));
        assert!(matches!(
            writer.vectors_upsert(VectorNamespace::Entities, &[record("w", vec![1.0; 3])]),
            Err(StorageError::DimensionMismatch { .. })
        ));
        writer
            .vectors_delete(VectorNamespace::Entities, &["x".into()])
            .unwrap();
        generations.bump(VectorNamespace::Entities);
        writer.vectors_drop(VectorNamespace::Chunks).unwrap();
        assert!(
            writer
                .vectors_all(VectorNamespace::Chunks)
                .unwrap()
                .is_empty()
        );
        let ids: Vec<_> = reader_index
            .query(&reader, &generations, &settings, &[1.0, 0.0], 5, 0.0)
            .unwrap()
            .into_iter()
            .map(|h| h.id)
            .collect();
        assert!(!ids.contains(&"x".to_string()));
    }
}
