//! Which backend serves each of LightRAG's storage roles, by LightRAG's class names,
//! and how to reach Redis or PostgreSQL when a role is there (LightRAG's `REDIS_*` and
//! `POSTGRES_*` settings and defaults, the latter in [`crate::postgres`]). A name
//! LightRAG knows but this build does not serve is refused with one line saying what is
//! available.

use std::time::Duration;

use crate::api;
use crate::error::ConfigError;
use crate::layers::Source;
use crate::postgres::{self, PostgresSettings};
use crate::resolver::{Resolver, implemented, non_empty, number};
use crate::spec;

/// Which storage backends serve LightRAG's four storage kinds.
#[derive(Debug, Clone, PartialEq)]
pub struct StorageSelection {
    pub kv: String,
    pub doc_status: String,
    pub graph: String,
    pub vector: String,
    /// Set when the KV or document-status role is in Redis.
    pub redis: Option<RedisSettings>,
    /// Set when any role is in PostgreSQL.
    pub postgres: Option<PostgresSettings>,
    /// EMBEDDING_MODEL as given, not the binding's default: LightRAG names the
    /// PGVectorStorage tables by it (unset: the unsuffixed legacy tables).
    pub vector_table_model: Option<String>,
    /// The embedded store's HNSW index: size from which a namespace gets one (0: never).
    pub vector_index_min_vectors: usize,
    /// The embedded store's HNSW index: candidates a search keeps.
    pub vector_index_ef_search: usize,
}

impl StorageSelection {
    pub fn kv_in_redis(&self) -> bool {
        self.kv == "RedisKVStorage"
    }

    pub fn doc_status_in_redis(&self) -> bool {
        self.doc_status == "RedisDocStatusStorage"
    }

    pub fn kv_in_postgres(&self) -> bool {
        self.kv == "PGKVStorage"
    }

    pub fn doc_status_in_postgres(&self) -> bool {
        self.doc_status == "PGDocStatusStorage"
    }

    pub fn vector_in_postgres(&self) -> bool {
        self.vector == "PGVectorStorage"
    }

    pub fn graph_in_postgres(&self) -> bool {
        self.graph == "PGTableGraphStorage"
    }

    fn any_in_postgres(&self) -> bool {
        [&self.kv, &self.doc_status, &self.graph, &self.vector]
            .iter()
            .any(|name| name.starts_with("PG"))
    }
}

/// How to reach Redis.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisSettings {
    pub uri: String,
    pub workspace: Option<String>,
    pub max_connections: usize,
    pub socket_timeout: Duration,
    pub connect_timeout: Duration,
    pub retry_attempts: u32,
    pub allow_eviction_policy: bool,
}

pub(crate) fn selection(r: &Resolver<'_>) -> Result<StorageSelection, ConfigError> {
    let mut selection = StorageSelection {
        kv: r.get(
            &spec::KV_STORAGE,
            implemented(&["JsonKVStorage", "RedisKVStorage", "PGKVStorage"]),
        )?,
        doc_status: r.get(
            &spec::DOC_STATUS_STORAGE,
            implemented(&[
                "JsonDocStatusStorage",
                "RedisDocStatusStorage",
                "PGDocStatusStorage",
            ]),
        )?,
        graph: r.get(&spec::GRAPH_STORAGE, graph_storage)?,
        vector: r.get(
            &spec::VECTOR_STORAGE,
            implemented(&["NanoVectorDBStorage", "PGVectorStorage"]),
        )?,
        redis: None,
        postgres: None,
        vector_table_model: r
            .optional(&spec::EMBEDDING_MODEL, |s| Ok(s.to_owned()))?
            .filter(|m| !m.trim().is_empty()),
        vector_index_min_vectors: r.get(
            &spec::VECTOR_INDEX_MIN_VECTORS,
            number::<usize>(0, 1_000_000_000),
        )?,
        vector_index_ef_search: r
            .get(&spec::VECTOR_INDEX_EF_SEARCH, number::<usize>(1, 100_000))?,
    };
    if selection.kv_in_redis() || selection.doc_status_in_redis() {
        selection.redis = Some(redis(r)?);
    }
    if selection.any_in_postgres() {
        selection.postgres = Some(postgres::settings(r)?);
    }
    Ok(selection)
}

const GRAPH_STORAGES: &[&str] = &["NetworkXStorage", "PGTableGraphStorage"];

/// Apache AGE gets its own reason: it is LightRAG's other PostgreSQL graph.
fn graph_storage(s: &str) -> Result<String, String> {
    if s == "PGGraphStorage" {
        return Err(format!(
            "Apache AGE is not supported; available: {}",
            GRAPH_STORAGES.join(", ")
        ));
    }
    implemented(GRAPH_STORAGES)(s)
}

/// LightRAG requires REDIS_URI in the environment whenever a Redis storage is chosen.
fn redis(r: &Resolver<'_>) -> Result<RedisSettings, ConfigError> {
    let uri = match r.raw(&spec::REDIS_URI) {
        Some((_, Source::Default)) | None => {
            return Err(ConfigError::Invalid {
                setting: spec::REDIS_URI.env,
                origin: Source::Default,
                value: String::new(),
                reason: "must be set when LIGHTRAG_KV_STORAGE or LIGHTRAG_DOC_STATUS_STORAGE \
                         is a Redis storage"
                    .to_owned(),
            });
        }
        Some(_) => r.get(&spec::REDIS_URI, redis_uri)?,
    };
    Ok(RedisSettings {
        uri,
        workspace: r
            .optional(&spec::REDIS_WORKSPACE, |s| Ok(s.to_owned()))?
            .filter(|w| !w.is_empty()),
        max_connections: r.get(&spec::REDIS_MAX_CONNECTIONS, number::<usize>(1, 100_000))?,
        socket_timeout: r.get(&spec::REDIS_SOCKET_TIMEOUT, fractional_seconds(86_400.0))?,
        connect_timeout: r.get(&spec::REDIS_CONNECT_TIMEOUT, fractional_seconds(86_400.0))?,
        retry_attempts: r.get(&spec::REDIS_RETRY_ATTEMPTS, number::<u32>(1, 100))?,
        allow_eviction_policy: r.get(&spec::REDIS_ALLOW_EVICTION_POLICY, api::boolean)?,
    })
}

fn redis_uri(s: &str) -> Result<String, String> {
    let uri = non_empty(s)?;
    if !(uri.starts_with("redis://") || uri.starts_with("rediss://")) {
        return Err("expected a redis:// or rediss:// (TLS) URL".to_owned());
    }
    Ok(uri)
}

/// Seconds as LightRAG takes them (`30.0`), above zero and at most `max`.
pub(crate) fn fractional_seconds(max: f64) -> impl Fn(&str) -> Result<Duration, String> {
    move |s| {
        let secs: f64 = s
            .parse()
            .map_err(|_| "expected a number of seconds".to_owned())?;
        if !(secs > 0.0 && secs <= max) {
            return Err(format!("must be above 0 and at most {max}"));
        }
        Ok(Duration::from_secs_f64(secs))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::{Environment, Settings};

    fn load(args: &[&str]) -> Result<StorageSelection, String> {
        let env = Environment::from_maps(HashMap::new(), HashMap::new());
        Settings::load(std::iter::once("x").chain(args.iter().copied()), &env)
            .map(|s| s.storage)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn roles_are_chosen_separately_and_redis_needs_its_uri() {
        let embedded = load(&[]).unwrap();
        assert_eq!(embedded.redis, None);
        let mixed = load(&[
            "--kv-storage",
            "RedisKVStorage",
            "--redis-uri",
            "redis://r:6379/1",
        ])
        .unwrap();
        assert!(mixed.kv_in_redis() && !mixed.doc_status_in_redis());
        let redis = mixed.redis.unwrap();
        assert_eq!(redis.max_connections, 200);
        assert_eq!(redis.socket_timeout, Duration::from_secs(30));
        assert_eq!(redis.connect_timeout, Duration::from_secs(10));
        assert_eq!(redis.retry_attempts, 3);
        let missing = load(&["--doc-status-storage", "RedisDocStatusStorage"]).unwrap_err();
        assert!(missing.contains("REDIS_URI"), "{missing}");
        let unknown = load(&["--kv-storage", "MongoKVStorage"]).unwrap_err();
        assert!(
            unknown.contains("available: JsonKVStorage, RedisKVStorage, PGKVStorage"),
            "{unknown}"
        );
        let age = load(&["--graph-storage", "PGGraphStorage"]).unwrap_err();
        assert!(
            age.contains(
                "Apache AGE is not supported; available: NetworkXStorage, PGTableGraphStorage"
            ),
            "{age}"
        );
        let milvus = load(&["--vector-storage", "MilvusVectorDBStorage"]).unwrap_err();
        assert!(
            milvus.contains("available: NanoVectorDBStorage, PGVectorStorage"),
            "{milvus}"
        );
    }

    #[test]
    fn pg_vectors_and_graph_are_chosen_and_named_by_the_given_model() {
        let env: HashMap<String, String> = [
            ("POSTGRES_USER", "u"),
            ("POSTGRES_PASSWORD", ""),
            ("POSTGRES_DATABASE", "d"),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
        let env = Environment::from_maps(env, HashMap::new());
        let load = |args: &[&str]| {
            Settings::load(std::iter::once("x").chain(args.iter().copied()), &env)
                .map(|s| s.storage)
                .unwrap()
        };
        let pg = load(&[
            "--vector-storage",
            "PGVectorStorage",
            "--graph-storage",
            "PGTableGraphStorage",
        ]);
        assert!(pg.vector_in_postgres() && pg.graph_in_postgres() && pg.postgres.is_some());
        // The binding's default model does not name tables; a given one does.
        assert_eq!(pg.vector_table_model, None);
        let named = load(&[
            "--vector-storage",
            "PGVectorStorage",
            "--embedding-model",
            "BAAI/bge-m3",
        ]);
        assert_eq!(named.vector_table_model.as_deref(), Some("BAAI/bge-m3"));
    }

    #[test]
    fn uris_and_timeouts_parse_as_lightrag_writes_them() {
        assert!(redis_uri("rediss://:pw@cache:6380/1").is_ok());
        assert!(redis_uri("http://cache").is_err());
        let seconds = fractional_seconds(86_400.0);
        assert_eq!(seconds("2.5"), Ok(Duration::from_millis(2500)));
        assert!(seconds("0").is_err());
        assert!(seconds("86401").is_err());
    }
}
