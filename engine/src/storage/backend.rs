//! The one place where a workspace's storage backends are chosen.
//!
//! Every role (KV namespaces, document status, vectors, graph, workspace listing) is a
//! trait; [`Storage`] is all of them at once, which is what the engine holds per
//! workspace. Roles are chosen separately, as LightRAG's `LIGHTRAG_*_STORAGE` names
//! choose them: a mixed setup is a [`Mixed`] that hands each role to its backend, with
//! the embedded store serving the roles no other backend has. A new backend implements
//! its role traits and gets a [`Backend`] variant here; nothing else in the engine
//! changes.

use std::path::PathBuf;

use super::graph::{Entity, Relation};
use super::postgres::graph::PgGraph;
use super::postgres::pool::Pool;
use super::postgres::vectors::PgVectors;
use super::postgres::{PgDocStatus, PgKv, PostgresConfig, VectorSuffix};
use super::redis::{RedisConfig, RedisDocStatus, RedisKv};
use super::sqlite::SqliteStorage;
use super::{
    DocPageQuery, DocStatus, DocStatusRecord, DocStatusStorage, GraphStorage, KvNamespace,
    KvStorage, Result, StorageError, VectorNamespace, VectorRecord, VectorStorage,
    WorkspaceListing,
};

/// Every storage role, served for one workspace.
pub trait Storage:
    KvStorage + DocStatusStorage + VectorStorage + GraphStorage + WorkspaceListing + Send + Sync
{
}

impl<T> Storage for T where
    T: KvStorage + DocStatusStorage + VectorStorage + GraphStorage + WorkspaceListing + Send + Sync
{
}

/// The storage implementations this build has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// SQLite in WAL mode under the working directory (LightRAG's file-backed names).
    Embedded,
    /// LightRAG's Redis layout (KV and document status only).
    Redis,
    /// LightRAG's PostgreSQL tables.
    Postgres,
}

/// Where and how a deployment stores its data.
#[derive(Debug, Clone, PartialEq)]
pub struct StorageConfig {
    /// The backend of the KV namespaces.
    pub kv: Backend,
    /// The backend of document status.
    pub doc_status: Backend,
    /// The backend of the vector namespaces.
    pub vectors: Backend,
    /// The backend of the knowledge graph.
    pub graph: Backend,
    /// WORKING_DIR: the embedded store's directory (vectors and graph, and every role
    /// no other backend serves).
    pub working_dir: PathBuf,
    /// How to reach Redis, when a role is there.
    pub redis: Option<RedisConfig>,
    /// How to reach PostgreSQL, when a role is there.
    pub postgres: Option<PostgresConfig>,
    /// The embedding model and dimension PGVectorStorage names its tables by.
    pub vector_suffix: Option<VectorSuffix>,
    /// How the embedded store's vectors are indexed for search.
    pub vector_index: super::ann::AnnSettings,
}

impl StorageConfig {
    /// Every role in the embedded store under `working_dir`.
    pub fn embedded(working_dir: PathBuf) -> StorageConfig {
        StorageConfig {
            kv: Backend::Embedded,
            doc_status: Backend::Embedded,
            vectors: Backend::Embedded,
            graph: Backend::Embedded,
            working_dir,
            redis: None,
            postgres: None,
            vector_suffix: None,
            vector_index: super::ann::AnnSettings::default(),
        }
    }

    fn postgres(&self) -> Result<&PostgresConfig> {
        self.postgres.as_ref().ok_or_else(|| StorageError::Refused {
            what: "the PostgreSQL storage".into(),
            reason: "POSTGRES_* is not configured".into(),
        })
    }

    fn all_embedded(&self) -> bool {
        [self.kv, self.doc_status, self.vectors, self.graph]
            .iter()
            .all(|b| *b == Backend::Embedded)
    }

    fn redis(&self) -> Result<&RedisConfig> {
        self.redis.as_ref().ok_or_else(|| StorageError::Refused {
            what: "the Redis storage".into(),
            reason: "REDIS_URI is not configured".into(),
        })
    }
}

/// Opens `workspace` on the configured backends. Call after fork: a handle never
/// crosses one.
pub fn open(config: &StorageConfig, workspace: &str) -> Result<Box<dyn Storage>> {
    let embedded = SqliteStorage::open(&config.working_dir, workspace)?;
    if config.all_embedded() {
        return Ok(Box::new(embedded));
    }
    let kv: Option<Box<dyn KvStorage + Send + Sync>> = match config.kv {
        Backend::Embedded => None,
        Backend::Redis => Some(Box::new(RedisKv::open(config.redis()?, workspace)?)),
        Backend::Postgres => Some(Box::new(PgKv::open(config.postgres()?, workspace)?)),
    };
    let docs: Option<Box<dyn DocRoles>> = match config.doc_status {
        Backend::Embedded => None,
        Backend::Redis => Some(Box::new(RedisDocStatus::open(config.redis()?, workspace)?)),
        Backend::Postgres => Some(Box::new(PgDocStatus::open(config.postgres()?, workspace)?)),
    };
    let vectors: Option<Box<dyn VectorStorage + Send + Sync>> = match config.vectors {
        Backend::Embedded => None,
        Backend::Redis => return Err(no_redis_role("vector")),
        Backend::Postgres => {
            let suffix = config
                .vector_suffix
                .as_ref()
                .ok_or_else(|| StorageError::Refused {
                    what: "PGVectorStorage".into(),
                    reason: "the embedding dimension its tables are named by is not known".into(),
                })?;
            let pool = Pool::shared(config.postgres()?)?;
            Some(Box::new(PgVectors::open(pool, workspace, suffix)?))
        }
    };
    let graph: Option<Box<dyn GraphStorage + Send + Sync>> = match config.graph {
        Backend::Embedded => None,
        Backend::Redis => return Err(no_redis_role("graph")),
        Backend::Postgres => Some(Box::new(PgGraph::open(
            Pool::shared(config.postgres()?)?,
            workspace,
        ))),
    };
    Ok(Box::new(Mixed {
        kv,
        docs,
        vectors,
        graph,
        embedded,
    }))
}

/// Redis serves only the KV and document-status roles (config never asks for more).
fn no_redis_role(role: &str) -> StorageError {
    StorageError::Refused {
        what: format!("the {role} storage in Redis"),
        reason: "Redis serves only KV and document status".into(),
    }
}

/// Document status with the workspace listing that goes with it.
trait DocRoles: DocStatusStorage + WorkspaceListing + Send + Sync {}
impl<T: DocStatusStorage + WorkspaceListing + Send + Sync> DocRoles for T {}

/// Roles on different backends; a role without its own goes to the embedded store.
struct Mixed {
    kv: Option<Box<dyn KvStorage + Send + Sync>>,
    docs: Option<Box<dyn DocRoles>>,
    vectors: Option<Box<dyn VectorStorage + Send + Sync>>,
    graph: Option<Box<dyn GraphStorage + Send + Sync>>,
    embedded: SqliteStorage,
}

impl Mixed {
    fn kv(&self) -> &dyn KvStorage {
        self.kv.as_deref().map_or(&self.embedded, |kv| kv)
    }

    fn docs(&self) -> &dyn DocRoles {
        self.docs.as_deref().map_or(&self.embedded, |docs| docs)
    }

    fn vectors(&self) -> &dyn VectorStorage {
        self.vectors.as_deref().map_or(&self.embedded, |v| v)
    }

    fn graph(&self) -> &dyn GraphStorage {
        self.graph.as_deref().map_or(&self.embedded, |g| g)
    }
}

/// Trait methods that forward to `self.$role()`.
macro_rules! forward {
    ($role:ident: $( fn $name:ident(&self $(, $arg:ident: $ty:ty)*) -> $ret:ty; )*) => {
        $( fn $name(&self $(, $arg: $ty)*) -> $ret { self.$role().$name($($arg),*) } )*
    };
}

impl KvStorage for Mixed {
    forward! { kv:
        fn kv_get(&self, ns: KvNamespace, key: &str) -> Result<Option<serde_json::Value>>;
        fn kv_get_many(&self, ns: KvNamespace, keys: &[String]) -> Result<std::collections::HashMap<String, serde_json::Value>>;
        fn kv_upsert(&self, ns: KvNamespace, items: &[(String, serde_json::Value)]) -> Result<()>;
        fn kv_upsert_many(&self, batches: &[(KvNamespace, &[(String, serde_json::Value)])]) -> Result<()>;
        fn kv_insert_new(&self, ns: KvNamespace, items: &[(String, serde_json::Value)]) -> Result<Option<String>>;
        fn kv_delete(&self, ns: KvNamespace, keys: &[String]) -> Result<()>;
        fn kv_keys(&self, ns: KvNamespace) -> Result<Vec<String>>;
        fn kv_drop(&self, ns: KvNamespace) -> Result<()>;
    }
}

impl DocStatusStorage for Mixed {
    forward! { docs:
        fn docs_page(&self, query: &DocPageQuery) -> Result<(Vec<DocStatusRecord>, usize)>;
        fn doc_upsert(&self, docs: &[DocStatusRecord]) -> Result<()>;
        fn doc_insert_new(&self, docs: &[DocStatusRecord]) -> Result<Option<DocStatusRecord>>;
        fn doc_get(&self, id: &str) -> Result<Option<DocStatusRecord>>;
        fn docs_with_status(&self, status: DocStatus) -> Result<Vec<DocStatusRecord>>;
        fn docs_with_track_id(&self, track_id: &str) -> Result<Vec<DocStatusRecord>>;
        fn status_counts(&self) -> Result<Vec<(DocStatus, usize)>>;
        fn doc_delete(&self, ids: &[String]) -> Result<()>;
        fn docs_drop(&self) -> Result<()>;
    }
}

impl WorkspaceListing for Mixed {
    forward! { docs:
        fn workspaces_with_status(&self, statuses: &[DocStatus]) -> Result<Vec<String>>;
    }
}

impl VectorStorage for Mixed {
    forward! { vectors:
        fn vectors_upsert(&self, ns: VectorNamespace, items: &[VectorRecord]) -> Result<()>;
        fn vectors_delete(&self, ns: VectorNamespace, ids: &[String]) -> Result<()>;
        fn vectors_all(&self, ns: VectorNamespace) -> Result<Vec<VectorRecord>>;
        fn vectors_drop(&self, ns: VectorNamespace) -> Result<()>;
        fn vectors_replace(&self, ns: VectorNamespace, items: &[VectorRecord]) -> Result<()>;
        fn vectors_dim(&self, ns: VectorNamespace) -> Result<Option<usize>>;
        fn vector_search(&self) -> Option<&dyn super::vectors::VectorSearch>;
        fn vectors_changes(&self, ns: VectorNamespace, after: Option<u64>) -> Result<Option<super::VectorChanges>>;
        fn vector_index_dir(&self) -> Option<std::path::PathBuf>;
        fn vectors_forget_deletions(&self, ns: VectorNamespace, upto: u64) -> Result<()>;
        fn vectors_reopen(&self) -> Result<Option<Box<dyn VectorStorage + Send + Sync>>>;
        fn vectors_upsert_many(&self, batches: &[(VectorNamespace, &[VectorRecord])]) -> Result<()>;
    }
}

impl GraphStorage for Mixed {
    forward! { graph:
        fn nodes_upsert(&self, entities: &[Entity]) -> Result<()>;
        fn elements_upsert(&self, entities: &[Entity], relations: &[Relation]) -> Result<()>;
        fn node_get(&self, name: &str) -> Result<Option<Entity>>;
        fn node_delete(&self, name: &str) -> Result<()>;
        fn node_names(&self) -> Result<Vec<String>>;
        fn most_connected(&self, limit: usize) -> Result<Vec<String>>;
        fn node_degrees(&self, names: &[String]) -> Result<std::collections::HashMap<String, usize>>;
        fn edges_upsert(&self, relations: &[Relation]) -> Result<()>;
        fn edge_get(&self, a: &str, b: &str) -> Result<Option<Relation>>;
        fn edge_delete(&self, a: &str, b: &str) -> Result<()>;
        fn edges_of(&self, node: &str) -> Result<Vec<Relation>>;
        fn edge_weights_of(&self, node: &str) -> Result<Vec<(String, String, f64)>>;
        fn nodes_get(&self, names: &[String]) -> Result<std::collections::HashMap<String, Entity>>;
        fn edges_get(&self, pairs: &[(String, String)]) -> Result<std::collections::HashMap<(String, String), Relation>>;
        fn edge_weights_of_many(&self, nodes: &[String]) -> Result<Vec<Vec<(String, String, f64)>>>;
        fn graph_drop(&self) -> Result<()>;
    }
}
