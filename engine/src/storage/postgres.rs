//! LightRAG's PostgreSQL storages (`PGKVStorage`, `PGDocStatusStorage`, and the vector
//! and graph roles built on the same pool) with LightRAG 1.5.7's tables, columns and
//! workspace keying, so that a database LightRAG wrote is served as it is and the other
//! way round. What LightRAG has no table for goes in tables of our own, prefixed
//! `lightrag_master_`.
//!
//! The client is the blocking `postgres` crate: the storage traits are sync and run on
//! blocking threads, as the Redis backend's do. Each worker process makes its own pool
//! after fork, with its share of POSTGRES_MAX_CONNECTIONS; the first pool of a process
//! creates or upgrades the schema under an advisory lock, so replicas booting at once
//! on an empty database do it one after the other.

use std::path::PathBuf;
use std::time::Duration;

mod coordination;
mod doc_status;
pub(crate) mod graph;
mod input_files;
mod kv;
mod layout;
mod pgvector;
pub(crate) mod pool;
pub(crate) mod schema;
mod statistics;
mod tls;
mod vector_rows;
mod vector_tables;
pub(crate) mod vectors;

pub use vector_tables::VectorSuffix;

pub use coordination::{PgCoordination, PgRenewals, PgThrottle};
pub use doc_status::PgDocStatus;
pub use input_files::PgInputs;
pub use kv::PgKv;

/// The last item of each key, in the order of those last items. A batch goes to
/// PostgreSQL as one `INSERT ... ON CONFLICT DO UPDATE`, which cannot touch a row twice:
/// a key written twice in one call keeps its last value, as consecutive writes (and a
/// Python dict, LightRAG's batches) would.
pub(crate) fn last_of_each<'a, T, K: std::hash::Hash + Eq>(
    items: &'a [T],
    key: impl Fn(&'a T) -> K,
) -> Vec<&'a T> {
    let mut seen = std::collections::HashSet::new();
    let mut kept: Vec<&T> = items
        .iter()
        .rev()
        .filter(|item| seen.insert(key(item)))
        .collect();
    kept.reverse();
    kept
}

/// The first of `ids` (in order) that an `INSERT ... ON CONFLICT DO NOTHING RETURNING
/// id` of all of them did not write: present before, or a repeat of an earlier one —
/// where writing them one by one would have stopped.
pub(crate) fn first_refused<'a>(
    ids: &'a [String],
    written: &std::collections::HashSet<String>,
) -> Option<&'a String> {
    let mut seen = std::collections::HashSet::new();
    ids.iter()
        .find(|id| !written.contains(*id) || !seen.insert(id.as_str()))
}

/// LightRAG's `POSTGRES_SSL_MODE` values; `Allow` behaves as `Prefer` (LightRAG passes
/// no SSL argument then, and its driver prefers TLS).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    Disable,
    Allow,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

/// The `POSTGRES_SSL_*` family.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SslConfig {
    pub mode: SslMode,
    /// Client certificate and key (PEM), sent when the server asks for one.
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
    /// CA certificates for verify-ca/verify-full; the system's when unset.
    pub root_cert: Option<PathBuf>,
    pub crl: Option<PathBuf>,
}

/// `POSTGRES_VECTOR_INDEX_TYPE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VectorIndexType {
    Hnsw,
    HnswHalfvec,
    Ivfflat,
    Vchordrq,
}

/// The vector index family of PGVectorStorage.
#[derive(Debug, Clone, PartialEq)]
pub struct VectorIndexConfig {
    /// None: no vector index.
    pub index_type: Option<VectorIndexType>,
    pub hnsw_m: u32,
    /// ef_construction.
    pub hnsw_ef: u32,
    pub ivfflat_lists: u32,
    pub vchordrq_build_options: Option<String>,
    pub vchordrq_probes: Option<String>,
    pub vchordrq_epsilon: f64,
}

/// How to reach PostgreSQL (LightRAG's `POSTGRES_*` settings).
#[derive(Debug, Clone, PartialEq)]
pub struct PostgresConfig {
    pub host: String,
    pub port: u16,
    pub user: String,
    pub password: String,
    pub database: String,
    /// POSTGRES_WORKSPACE: when set, the workspace of every row, whatever the LightRAG
    /// workspace.
    pub workspace: Option<String>,
    /// This worker's share of POSTGRES_MAX_CONNECTIONS (at least 1).
    pub max_connections: usize,
    pub ssl: SslConfig,
    /// POSTGRES_SERVER_SETTINGS, sent at connect as `-c name=value` options.
    pub server_settings: Vec<(String, String)>,
    /// POSTGRES_STATEMENT_CACHE_SIZE: 0 sends every statement unnamed (PgBouncer in
    /// transaction mode).
    pub statement_cache_size: usize,
    /// Attempts in all while PostgreSQL is unreachable at start (the pool's first
    /// contact); an operation once serving tries one fresh connection (see `pool`).
    pub connection_retries: u32,
    /// The first pause between two attempts, doubled each time up to `retry_backoff_max`.
    pub retry_backoff: Duration,
    pub retry_backoff_max: Duration,
    pub vector_index: VectorIndexConfig,
}

impl PostgresConfig {
    /// `host:port`, for logs and error messages.
    pub fn address(&self) -> String {
        if self.host.starts_with('/') {
            format!("{}/.s.PGSQL.{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// The `workspace` column of the LightRAG workspace `workspace`: POSTGRES_WORKSPACE,
    /// else the workspace, else `default` (LightRAG 1.5.7's precedence).
    pub fn effective_workspace(&self, workspace: &str) -> String {
        match self.workspace.as_deref() {
            Some(ws) if !ws.is_empty() => ws.to_owned(),
            _ if workspace.is_empty() => "default".to_owned(),
            _ => workspace.to_owned(),
        }
    }

    /// POSTGRES_MAX_CONNECTIONS of the node divided among its `workers`.
    pub fn per_worker(node_max: usize, workers: usize) -> usize {
        (node_max / workers.max(1)).max(1)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn config(host: &str, port: u16) -> PostgresConfig {
        PostgresConfig {
            host: host.to_owned(),
            port,
            user: "lightrag".into(),
            password: String::new(),
            database: "lightrag".into(),
            workspace: None,
            max_connections: 4,
            ssl: SslConfig {
                mode: SslMode::Disable,
                cert: None,
                key: None,
                root_cert: None,
                crl: None,
            },
            server_settings: Vec::new(),
            statement_cache_size: 100,
            connection_retries: 1,
            retry_backoff: Duration::from_millis(50),
            retry_backoff_max: Duration::from_millis(100),
            vector_index: VectorIndexConfig {
                index_type: Some(VectorIndexType::Hnsw),
                hnsw_m: 16,
                hnsw_ef: 64,
                ivfflat_lists: 100,
                vchordrq_build_options: None,
                vchordrq_probes: None,
                vchordrq_epsilon: 1.9,
            },
        }
    }

    #[test]
    fn a_batch_keeps_the_last_item_of_each_key() {
        let items = [("a", 1), ("b", 2), ("a", 3), ("c", 4), ("b", 5)];
        let kept: Vec<_> = last_of_each(&items, |(k, _)| *k)
            .into_iter()
            .copied()
            .collect();
        assert_eq!(kept, [("a", 3), ("c", 4), ("b", 5)]);
    }

    #[test]
    fn the_first_id_not_written_is_a_present_one_or_a_repeat() {
        let ids: Vec<String> = ["a", "b", "a", "c"].map(String::from).to_vec();
        let written = |w: &[&str]| w.iter().map(|s| s.to_string()).collect();
        assert_eq!(
            first_refused(&ids, &written(&["a", "b", "c"])).unwrap(),
            "a"
        );
        assert_eq!(first_refused(&ids, &written(&["a", "c"])).unwrap(), "b");
        assert_eq!(first_refused(&ids[..2], &written(&["a", "b"])), None);
    }

    #[test]
    fn workspace_precedence_and_shares_follow_lightrag() {
        let mut c = config("db", 5432);
        assert_eq!(c.effective_workspace(""), "default");
        assert_eq!(c.effective_workspace("ws1"), "ws1");
        c.workspace = Some("shared".into());
        assert_eq!(c.effective_workspace("ws1"), "shared");
        assert_eq!(c.address(), "db:5432");
        assert_eq!(PostgresConfig::per_worker(50, 4), 12);
        assert_eq!(PostgresConfig::per_worker(2, 4), 1);
    }
}
