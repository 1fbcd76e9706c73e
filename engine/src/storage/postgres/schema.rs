//! Every table and index the PostgreSQL storages use, created (when missing) by the
//! first pool of each process in one transaction under a fixed advisory lock: replicas
//! booting at once on an empty database take turns, and the later ones find everything
//! there. The DDL of LightRAG's tables is LightRAG 1.5.7's own (`check_tables()`), so
//! either server can create the database the other serves; indexes carry LightRAG's
//! names, so neither makes a second copy of one the other made. Tables of our own are
//! prefixed `lightrag_master_`.
//!
//! To add tables, append a [`Table`] to [`TABLES`]. DDL whose names depend on settings
//! (the vector tables' model suffix) takes the same lock through [`locked`].

use postgres::Transaction;

use super::pool::Pool;
use crate::storage::Result;
use crate::storage::outages::Patience;

/// `pg_advisory_xact_lock` key of schema changes ("LRM_SCHM").
pub(crate) const SCHEMA_LOCK: i64 = 0x4C52_4D5F_5343_484D;

/// One table: its statements, each idempotent (`IF NOT EXISTS`), run in order.
pub(crate) struct Table {
    /// The name in the catalog (lower case).
    pub(crate) name: &'static str,
    pub(crate) ddl: &'static [&'static str],
}

/// The standard pair of indexes LightRAG gives every table of §3.
macro_rules! id_indexes {
    ($t:literal) => {
        concat!(
            "CREATE INDEX IF NOT EXISTS idx_",
            $t,
            "_id ON ",
            $t,
            " (id); ",
            "CREATE INDEX IF NOT EXISTS idx_",
            $t,
            "_workspace_id ON ",
            $t,
            " (workspace, id)"
        )
    };
}

/// A tracking table (§3.1): an id of `$id_len`, one JSONB payload column, `count`.
macro_rules! tracking {
    ($name:literal, $upper:literal, $id_len:literal, $payload:literal) => {
        Table {
            name: $name,
            ddl: &[
                concat!(
                    "CREATE TABLE IF NOT EXISTS ",
                    $upper,
                    " (id VARCHAR(",
                    $id_len,
                    "), ",
                    "workspace VARCHAR(255), ",
                    $payload,
                    " JSONB, count INTEGER, ",
                    "create_time TIMESTAMP(0) DEFAULT CURRENT_TIMESTAMP, ",
                    "update_time TIMESTAMP(0) DEFAULT CURRENT_TIMESTAMP, ",
                    "CONSTRAINT ",
                    $upper,
                    "_PK PRIMARY KEY (workspace, id))"
                ),
                id_indexes!($name),
            ],
        }
    };
}

pub(crate) const TABLES: &[Table] = &[
    Table {
        name: "lightrag_doc_full",
        ddl: &[
            "CREATE TABLE IF NOT EXISTS LIGHTRAG_DOC_FULL (id VARCHAR(255), workspace VARCHAR(255), \
             doc_name VARCHAR(1024), content TEXT, meta JSONB, sidecar_location TEXT NULL, \
             parse_format VARCHAR(32) NULL DEFAULT 'raw', content_hash TEXT NULL, \
             process_options TEXT NULL, chunk_options JSONB NULL DEFAULT '{}'::jsonb, \
             parse_engine TEXT NULL, create_time TIMESTAMP(0) DEFAULT CURRENT_TIMESTAMP, \
             update_time TIMESTAMP(0) DEFAULT CURRENT_TIMESTAMP, \
             CONSTRAINT LIGHTRAG_DOC_FULL_PK PRIMARY KEY (workspace, id))",
            id_indexes!("lightrag_doc_full"),
        ],
    },
    Table {
        name: "lightrag_doc_chunks",
        ddl: &[
            "CREATE TABLE IF NOT EXISTS LIGHTRAG_DOC_CHUNKS (id VARCHAR(255), workspace VARCHAR(255), \
             full_doc_id VARCHAR(256), chunk_order_index INTEGER, tokens INTEGER, content TEXT, \
             file_path TEXT NULL, llm_cache_list JSONB NULL DEFAULT '[]'::jsonb, \
             heading JSONB NULL DEFAULT '{}'::jsonb, sidecar JSONB NULL DEFAULT '{}'::jsonb, \
             create_time TIMESTAMP(0) DEFAULT CURRENT_TIMESTAMP, \
             update_time TIMESTAMP(0) DEFAULT CURRENT_TIMESTAMP, \
             CONSTRAINT LIGHTRAG_DOC_CHUNKS_PK PRIMARY KEY (workspace, id))",
            id_indexes!("lightrag_doc_chunks"),
        ],
    },
    Table {
        name: "lightrag_llm_cache",
        ddl: &[
            "CREATE TABLE IF NOT EXISTS LIGHTRAG_LLM_CACHE (workspace varchar(255) NOT NULL, \
             id varchar(255) NOT NULL, original_prompt TEXT, return_value TEXT, \
             chunk_id VARCHAR(255) NULL, cache_type VARCHAR(32), queryparam JSONB NULL, \
             create_time TIMESTAMP DEFAULT CURRENT_TIMESTAMP, \
             update_time TIMESTAMP DEFAULT CURRENT_TIMESTAMP, \
             CONSTRAINT LIGHTRAG_LLM_CACHE_PK PRIMARY KEY (workspace, id))",
            id_indexes!("lightrag_llm_cache"),
        ],
    },
    Table {
        name: "lightrag_doc_status",
        ddl: &[
            "CREATE TABLE IF NOT EXISTS LIGHTRAG_DOC_STATUS (workspace varchar(255) NOT NULL, \
             id varchar(255) NOT NULL, content_summary varchar(255) NULL, content_length int4 NULL, \
             chunks_count int4 NULL, status varchar(64) NULL, file_path TEXT NULL, \
             chunks_list JSONB NULL DEFAULT '[]'::jsonb, track_id varchar(255) NULL, \
             metadata JSONB NULL DEFAULT '{}'::jsonb, error_msg TEXT NULL, content_hash TEXT NULL, \
             created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP, \
             updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP, \
             CONSTRAINT LIGHTRAG_DOC_STATUS_PK PRIMARY KEY (workspace, id))",
            id_indexes!("lightrag_doc_status"),
            "CREATE INDEX IF NOT EXISTS idx_lightrag_doc_status_track_id \
             ON lightrag_doc_status (track_id)",
            "CREATE INDEX IF NOT EXISTS idx_lightrag_doc_status_workspace_content_hash \
             ON lightrag_doc_status (workspace, content_hash) \
             WHERE content_hash IS NOT NULL AND content_hash <> ''",
            "CREATE INDEX IF NOT EXISTS idx_lightrag_doc_status_workspace_status_updated_at \
             ON lightrag_doc_status (workspace, status, updated_at DESC)",
            "CREATE INDEX IF NOT EXISTS idx_lightrag_doc_status_workspace_status_created_at \
             ON lightrag_doc_status (workspace, status, created_at DESC)",
            "CREATE INDEX IF NOT EXISTS idx_lightrag_doc_status_workspace_updated_at \
             ON lightrag_doc_status (workspace, updated_at DESC)",
            "CREATE INDEX IF NOT EXISTS idx_lightrag_doc_status_workspace_created_at \
             ON lightrag_doc_status (workspace, created_at DESC)",
            "CREATE INDEX IF NOT EXISTS idx_lightrag_doc_status_workspace_file_path \
             ON lightrag_doc_status (workspace, file_path)",
            "CREATE INDEX IF NOT EXISTS idx_lightrag_doc_status_ws_status_created_nf_id \
             ON lightrag_doc_status (workspace, status, created_at NULLS FIRST, id)",
        ],
    },
    tracking!(
        "lightrag_full_entities",
        "LIGHTRAG_FULL_ENTITIES",
        "255",
        "entity_names"
    ),
    tracking!(
        "lightrag_full_relations",
        "LIGHTRAG_FULL_RELATIONS",
        "255",
        "relation_pairs"
    ),
    tracking!(
        "lightrag_entity_chunks",
        "LIGHTRAG_ENTITY_CHUNKS",
        "512",
        "chunk_ids"
    ),
    tracking!(
        "lightrag_relation_chunks",
        "LIGHTRAG_RELATION_CHUNKS",
        "512",
        "chunk_ids"
    ),
    Table {
        name: "lightrag_master_kv",
        ddl: &[
            // Our KV namespaces LightRAG has no table for (scan jobs, content hashes,
            // deletions under way, the embedding identity): one JSON value per key.
            "CREATE TABLE IF NOT EXISTS lightrag_master_kv (workspace VARCHAR(255) NOT NULL, \
             namespace VARCHAR(64) NOT NULL, id TEXT NOT NULL, value JSONB NOT NULL, \
             create_time TIMESTAMP(0) DEFAULT CURRENT_TIMESTAMP, \
             update_time TIMESTAMP(0) DEFAULT CURRENT_TIMESTAMP, \
             PRIMARY KEY (workspace, namespace, id))",
        ],
    },
    // PGTableGraphStorage (LightRAG 1.5.7's pgtable_impl): nodes keyed by entity name,
    // undirected edges stored once, canonically (src_id < tgt_id), with the index that
    // finds a node's edges by either end and foreign keys that delete a node's edges
    // with it.
    Table {
        name: "lightrag_graph_nodes",
        ddl: &[
            "CREATE TABLE IF NOT EXISTS lightrag_graph_nodes (workspace TEXT NOT NULL, \
             namespace TEXT NOT NULL DEFAULT 'chunk_entity_relation', id TEXT NOT NULL, \
             properties JSONB NOT NULL DEFAULT '{}', updated_at TIMESTAMPTZ NOT NULL DEFAULT now(), \
             PRIMARY KEY (workspace, namespace, id))",
        ],
    },
    Table {
        name: "lightrag_graph_edges",
        ddl: &[
            "CREATE TABLE IF NOT EXISTS lightrag_graph_edges (workspace TEXT NOT NULL, \
             namespace TEXT NOT NULL DEFAULT 'chunk_entity_relation', src_id TEXT NOT NULL, \
             tgt_id TEXT NOT NULL, properties JSONB NOT NULL DEFAULT '{}', \
             updated_at TIMESTAMPTZ NOT NULL DEFAULT now(), \
             PRIMARY KEY (workspace, namespace, src_id, tgt_id))",
            "CREATE INDEX IF NOT EXISTS idx_lightrag_graph_edges_namespace_tgt \
             ON lightrag_graph_edges (workspace, namespace, tgt_id)",
            "CREATE INDEX IF NOT EXISTS idx_lightrag_graph_edges_noncanonical \
             ON lightrag_graph_edges (workspace, namespace) \
             WHERE src_id COLLATE \"C\" > tgt_id COLLATE \"C\"",
            // Rows another writer left the wrong way round: the newest of a pair wins.
            "WITH flipped AS (DELETE FROM lightrag_graph_edges \
             WHERE src_id COLLATE \"C\" > tgt_id COLLATE \"C\" RETURNING *) \
             INSERT INTO lightrag_graph_edges (workspace, namespace, src_id, tgt_id, properties, updated_at) \
             SELECT workspace, namespace, tgt_id, src_id, properties, updated_at FROM flipped \
             ON CONFLICT (workspace, namespace, src_id, tgt_id) DO UPDATE \
             SET properties = EXCLUDED.properties, updated_at = EXCLUDED.updated_at \
             WHERE EXCLUDED.updated_at > lightrag_graph_edges.updated_at",
            "DO $$ BEGIN \
             IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = 'fk_lightrag_graph_edges_src') THEN \
               DELETE FROM lightrag_graph_edges e WHERE NOT EXISTS (SELECT 1 FROM lightrag_graph_nodes n \
                 WHERE n.workspace = e.workspace AND n.namespace = e.namespace AND n.id = e.src_id); \
               ALTER TABLE lightrag_graph_edges ADD CONSTRAINT fk_lightrag_graph_edges_src \
                 FOREIGN KEY (workspace, namespace, src_id) \
                 REFERENCES lightrag_graph_nodes (workspace, namespace, id) ON DELETE CASCADE; \
             END IF; \
             IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = 'fk_lightrag_graph_edges_tgt') THEN \
               DELETE FROM lightrag_graph_edges e WHERE NOT EXISTS (SELECT 1 FROM lightrag_graph_nodes n \
                 WHERE n.workspace = e.workspace AND n.namespace = e.namespace AND n.id = e.tgt_id); \
               ALTER TABLE lightrag_graph_edges ADD CONSTRAINT fk_lightrag_graph_edges_tgt \
                 FOREIGN KEY (workspace, namespace, tgt_id) \
                 REFERENCES lightrag_graph_nodes (workspace, namespace, id) ON DELETE CASCADE; \
             END IF; END $$",
        ],
    },
    // Coordination across nodes (storage/postgres/coordination.rs).
    Table {
        name: "lightrag_master_pipeline_fence",
        ddl: &[
            "CREATE TABLE IF NOT EXISTS lightrag_master_pipeline_fence (\
                workspace TEXT PRIMARY KEY, token BIGINT NOT NULL)",
        ],
    },
    Table {
        name: "lightrag_master_pipeline_status",
        ddl: &[
            "CREATE TABLE IF NOT EXISTS lightrag_master_pipeline_status (\
                workspace TEXT PRIMARY KEY, busy BOOLEAN NOT NULL DEFAULT false, \
                cancellation_requested BOOLEAN NOT NULL DEFAULT false, \
                job_name TEXT NOT NULL DEFAULT '', job_start BIGINT, \
                docs INTEGER NOT NULL DEFAULT 0, batchs INTEGER NOT NULL DEFAULT 0, \
                cur_batch INTEGER NOT NULL DEFAULT 0, latest_message TEXT NOT NULL DEFAULT '', \
                history TEXT[] NOT NULL DEFAULT '{}')",
        ],
    },
    Table {
        name: "lightrag_master_generations",
        ddl: &["CREATE TABLE IF NOT EXISTS lightrag_master_generations (\
                workspace TEXT NOT NULL, namespace TEXT NOT NULL, generation BIGINT NOT NULL, \
                PRIMARY KEY (workspace, namespace))"],
    },
    Table {
        name: "lightrag_master_login_failures",
        ddl: &[
            "CREATE TABLE IF NOT EXISTS lightrag_master_login_failures (\
                client TEXT NOT NULL, username TEXT NOT NULL, failures INTEGER NOT NULL, \
                window_end TIMESTAMPTZ NOT NULL, PRIMARY KEY (client, username))",
        ],
    },
    Table {
        name: "lightrag_master_token_renewals",
        ddl: &[
            "CREATE TABLE IF NOT EXISTS lightrag_master_token_renewals (\
                username TEXT PRIMARY KEY, renewed_at TIMESTAMPTZ NOT NULL)",
        ],
    },
    Table {
        name: "lightrag_master_input_files",
        ddl: &["CREATE TABLE IF NOT EXISTS lightrag_master_input_files (\
                workspace TEXT NOT NULL, name TEXT NOT NULL, content BYTEA NOT NULL, \
                created_at TIMESTAMPTZ NOT NULL DEFAULT now(), PRIMARY KEY (workspace, name))"],
    },
];

/// Creates whatever of [`TABLES`] is missing: the first contact of each process's pool,
/// so with the start-up retries ([`Patience::Start`]).
pub(crate) fn ensure(pool: &Pool) -> Result<()> {
    let statements: Vec<&str> = TABLES.iter().flat_map(|t| t.ddl.iter().copied()).collect();
    apply(pool, Patience::Start, &statements)?;
    let tables: Vec<&str> = TABLES.iter().map(|t| t.name).collect();
    tracing::debug!(postgres = %pool.config().address(), ?tables, "schema ready");
    Ok(())
}

/// Runs `statements` in one transaction under [`SCHEMA_LOCK`].
fn apply<S: AsRef<str> + Sync>(pool: &Pool, patience: Patience, statements: &[S]) -> Result<()> {
    pool.run_with(patience, |client| {
        let mut tx = client.transaction()?;
        locked(&mut tx)?;
        for statement in statements {
            tx.batch_execute(statement.as_ref())?;
        }
        tx.commit()
    })
}

/// Takes [`SCHEMA_LOCK`] until the end of `tx`.
pub(crate) fn locked(tx: &mut Transaction<'_>) -> std::result::Result<(), postgres::Error> {
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&SCHEMA_LOCK])
        .map(drop)
}
