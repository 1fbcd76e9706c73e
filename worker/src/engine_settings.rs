//! The engine's view of the server's settings: the config crate owns every option, the
//! engine takes plain structs of its own, and this is the one place that maps one onto
//! the other.

use lightrag_config::Settings;
use lightrag_config::postgres as pg;
use lightrag_engine::chunking::{
    Breakpoint, ChunkingDefaults, ChunkingOptions, ChunkingRequest, Strategy,
};
use lightrag_engine::documents::IndexingConfig;
use lightrag_engine::embedding::Batching;
use lightrag_engine::ingest::{SourceLimits, SummaryPolicy};
use lightrag_engine::llm::ExtractionSettings;
use lightrag_engine::parsing::ParseLimits;
use lightrag_engine::storage::ann::AnnSettings;
use lightrag_engine::storage::postgres::{
    SslConfig, SslMode, VectorIndexConfig, VectorIndexType, VectorSuffix,
};
use lightrag_engine::storage::{Backend, PostgresConfig, RedisConfig, StorageConfig};

/// Where the workspaces' data lives: each role on the backend its LightRAG name picks
/// (config accepts only names this build serves), the rest in the embedded store.
pub fn storage(settings: &Settings) -> StorageConfig {
    let selection = &settings.storage;
    let backend = |in_redis: bool, in_postgres: bool| match (in_redis, in_postgres) {
        (true, _) => Backend::Redis,
        (_, true) => Backend::Postgres,
        _ => Backend::Embedded,
    };
    StorageConfig {
        kv: backend(selection.kv_in_redis(), selection.kv_in_postgres()),
        doc_status: backend(
            selection.doc_status_in_redis(),
            selection.doc_status_in_postgres(),
        ),
        vectors: backend(false, selection.vector_in_postgres()),
        graph: backend(false, selection.graph_in_postgres()),
        working_dir: settings.working_dir.clone(),
        vector_index: AnnSettings {
            min_vectors: selection.vector_index_min_vectors,
            ef_search: selection.vector_index_ef_search,
        },
        redis: selection.redis.as_ref().map(|r| RedisConfig {
            uri: r.uri.clone(),
            workspace: r.workspace.clone(),
            max_connections: r.max_connections,
            socket_timeout: r.socket_timeout,
            connect_timeout: r.connect_timeout,
            retry_attempts: r.retry_attempts,
            allow_eviction_policy: r.allow_eviction_policy,
        }),
        postgres: selection
            .postgres
            .as_ref()
            .map(|p| postgres(p, settings.workers)),
        vector_suffix: Some(VectorSuffix {
            model: selection.vector_table_model.clone(),
            dim: settings.indexing.embedding_dim,
        }),
    }
}

/// POSTGRES_* for one of the node's `workers`: each gets its share of the connections.
fn postgres(p: &pg::PostgresSettings, workers: usize) -> PostgresConfig {
    let v = &p.vector_index;
    PostgresConfig {
        host: p.host.clone(),
        port: p.port,
        user: p.user.clone(),
        password: p.password.clone(),
        database: p.database.clone(),
        workspace: p.workspace.clone(),
        max_connections: PostgresConfig::per_worker(p.max_connections, workers),
        ssl: SslConfig {
            mode: match p.ssl.mode {
                pg::SslMode::Disable => SslMode::Disable,
                pg::SslMode::Allow => SslMode::Allow,
                pg::SslMode::Prefer => SslMode::Prefer,
                pg::SslMode::Require => SslMode::Require,
                pg::SslMode::VerifyCa => SslMode::VerifyCa,
                pg::SslMode::VerifyFull => SslMode::VerifyFull,
            },
            cert: p.ssl.cert.clone(),
            key: p.ssl.key.clone(),
            root_cert: p.ssl.root_cert.clone(),
            crl: p.ssl.crl.clone(),
        },
        server_settings: p.server_settings.clone(),
        statement_cache_size: p.statement_cache_size,
        connection_retries: p.connection_retries,
        retry_backoff: p.retry_backoff,
        retry_backoff_max: p.retry_backoff_max,
        vector_index: VectorIndexConfig {
            index_type: v.index_type.map(|t| match t {
                pg::VectorIndexType::Hnsw => VectorIndexType::Hnsw,
                pg::VectorIndexType::HnswHalfvec => VectorIndexType::HnswHalfvec,
                pg::VectorIndexType::Ivfflat => VectorIndexType::Ivfflat,
                pg::VectorIndexType::Vchordrq => VectorIndexType::Vchordrq,
            }),
            hnsw_m: v.hnsw_m,
            hnsw_ef: v.hnsw_ef,
            ivfflat_lists: v.ivfflat_lists,
            vchordrq_build_options: v.vchordrq_build_options.clone(),
            vchordrq_probes: v.vchordrq_probes.clone(),
            vchordrq_epsilon: v.vchordrq_epsilon,
        },
    }
}

/// How documents are indexed.
pub fn indexing(settings: &Settings) -> IndexingConfig {
    let indexing = &settings.indexing;
    let models = &settings.models;
    IndexingConfig {
        extraction: ExtractionSettings {
            entity_types: indexing.entity_types.clone(),
            language: indexing.summary_language.clone(),
            max_gleaning: indexing.max_gleaning,
        },
        summary: SummaryPolicy {
            force_on_merge: indexing.force_summary_on_merge,
            max_tokens: indexing.summary_max_tokens,
            length: indexing.summary_length,
        },
        limits: SourceLimits {
            entity_sources: indexing.max_source_ids_per_entity,
            relation_sources: indexing.max_source_ids_per_relation,
            file_paths: indexing.max_file_paths,
        },
        chunking: ChunkingOptions {
            chunk_token_size: indexing.chunk_size,
            overlap_token_size: indexing.chunk_overlap,
            ..Default::default()
        },
        chunking_defaults: chunking_defaults(settings),
        batching: embedding_batching(settings),
        llm_concurrency: models.extract.max_async,
        use_cache: indexing.cache_extraction,
        max_parallel_insert: indexing.max_parallel_insert,
        parse_limits: ParseLimits {
            max_decoded_bytes: indexing.parse_max_decoded_bytes,
            max_operations: indexing.parse_max_operations,
            timeout: std::time::Duration::from_secs(indexing.parse_timeout_secs),
        },
    }
}

/// CHUNK_F_*, CHUNK_R_*, CHUNK_V_* and CHUNK_P_* as each strategy's defaults.
fn chunking_defaults(settings: &Settings) -> ChunkingDefaults {
    let c = &settings.chunker;
    ChunkingDefaults {
        fixed_token: ChunkingRequest {
            chunk_token_size: c.f_size,
            chunk_overlap_token_size: c.f_overlap,
            split_by_character: c.f_split_by_character.clone(),
            split_by_character_only: c.f_split_by_character_only,
            ..ChunkingRequest::new(Strategy::FixedToken)
        },
        recursive_character: ChunkingRequest {
            chunk_token_size: c.r_size,
            chunk_overlap_token_size: c.r_overlap,
            separators: c.r_separators.clone(),
            ..ChunkingRequest::new(Strategy::RecursiveCharacter)
        },
        semantic_vector: ChunkingRequest {
            chunk_token_size: c.v_size,
            // Config accepts only the four names.
            breakpoint_threshold_type: c
                .v_threshold_type
                .as_deref()
                .and_then(Breakpoint::from_name),
            breakpoint_threshold_amount: c.v_threshold_amount,
            buffer_size: c.v_buffer_size,
            ..ChunkingRequest::new(Strategy::SemanticVector)
        },
        paragraph_semantic: ChunkingRequest {
            chunk_token_size: c.p_size,
            chunk_overlap_token_size: c.p_overlap,
            ..ChunkingRequest::new(Strategy::ParagraphSemantic)
        },
    }
}

/// EMBEDDING_BATCH_NUM batches, EMBEDDING_FUNC_MAX_ASYNC at once.
pub fn embedding_batching(settings: &Settings) -> Batching {
    Batching {
        batch_size: settings.models.embedding_batch,
        concurrency: settings.models.embedding.max_async,
    }
}
