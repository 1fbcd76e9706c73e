//! LightRAG 1.5.7's vector tables (`PGVectorStorage`): their names (the embedding model
//! and dimension as a suffix, so a new model or dimension selects new, empty tables),
//! DDL, vector index and the start-up step that creates them, adopting the rows of a
//! legacy unsuffixed table. A database LightRAG made is taken as it is.

use postgres::Transaction;

use super::{VectorIndexConfig, VectorIndexType};
use crate::ids;
use crate::storage::{Result, StorageError, VectorNamespace};

/// What LightRAG suffixes vector table names with: EMBEDDING_MODEL as given (unset: the
/// legacy unsuffixed names) and the embedding dimension.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VectorSuffix {
    pub model: Option<String>,
    pub dim: usize,
}

/// PostgreSQL's limit on identifiers.
const MAX_NAME: usize = 63;

/// The unsuffixed (legacy) table of `ns`, as the catalog holds it.
pub(super) fn legacy_name(ns: VectorNamespace) -> &'static str {
    match ns {
        VectorNamespace::Chunks => "lightrag_vdb_chunks",
        VectorNamespace::Entities => "lightrag_vdb_entity",
        VectorNamespace::Relationships => "lightrag_vdb_relation",
    }
}

/// The table of `ns` for `suffix`: `<base>_<model, [^a-z0-9_] as _>_<dim>d`, or the
/// legacy name without a model. Longer than PostgreSQL keeps is refused, as LightRAG
/// does (it does not shorten).
pub(super) fn table_name(ns: VectorNamespace, suffix: &VectorSuffix) -> Result<String> {
    let base = legacy_name(ns);
    let Some(model) = suffix
        .model
        .as_deref()
        .map(str::trim)
        .filter(|m| !m.is_empty())
    else {
        return Ok(base.to_owned());
    };
    let safe: String = model
        .to_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let name = format!("{base}_{safe}_{}d", suffix.dim);
    if name.len() > MAX_NAME {
        return Err(StorageError::Refused {
            what: format!("PGVectorStorage table {name}"),
            reason: format!(
                "the name is longer than PostgreSQL's {MAX_NAME} characters: choose a shorter \
                 EMBEDDING_MODEL"
            ),
        });
    }
    Ok(name)
}

/// LightRAG's index names: `idx_<table>_<suffix>`, or the first 12 hex digits of the
/// table name's md5 in place of the table when that is too long.
pub(super) fn index_name(table: &str, suffix: &str) -> String {
    let name = format!("idx_{table}_{suffix}");
    if name.len() <= MAX_NAME {
        return name;
    }
    format!("idx_{}_{suffix}", &ids::md5_hex(table.as_bytes())[..12])
}

/// The SQL type of the vector column and of the values compared with it.
pub(super) fn vector_type(index: &VectorIndexConfig) -> &'static str {
    match index.index_type {
        Some(VectorIndexType::HnswHalfvec) => "halfvec",
        _ => "vector",
    }
}

fn create_table(ns: VectorNamespace, table: &str, column: &str) -> String {
    let columns = match ns {
        VectorNamespace::Chunks => {
            "full_doc_id VARCHAR(256), chunk_order_index INTEGER, tokens INTEGER, content TEXT, \
             content_vector {V}, file_path TEXT NULL, \
             create_time TIMESTAMP(0) DEFAULT CURRENT_TIMESTAMP, \
             update_time TIMESTAMP(0) DEFAULT CURRENT_TIMESTAMP"
        }
        VectorNamespace::Entities => {
            "entity_name VARCHAR(512), content TEXT, content_vector {V}, \
             create_time TIMESTAMP(0) DEFAULT CURRENT_TIMESTAMP, \
             update_time TIMESTAMP(0) DEFAULT CURRENT_TIMESTAMP, \
             chunk_ids VARCHAR(255)[] NULL, file_path TEXT NULL"
        }
        VectorNamespace::Relationships => {
            "source_id VARCHAR(512), target_id VARCHAR(512), content TEXT, content_vector {V}, \
             create_time TIMESTAMP(0) DEFAULT CURRENT_TIMESTAMP, \
             update_time TIMESTAMP(0) DEFAULT CURRENT_TIMESTAMP, \
             chunk_ids VARCHAR(255)[] NULL, file_path TEXT NULL"
        }
    };
    format!(
        "CREATE TABLE IF NOT EXISTS {table} (id VARCHAR(255), workspace VARCHAR(255), {}, \
         CONSTRAINT {table}_PK PRIMARY KEY (workspace, id))",
        columns.replace("{V}", column)
    )
}

/// The columns a row of `ns` has besides `workspace`, `id`, the vector and timestamps.
pub(super) fn data_columns(ns: VectorNamespace) -> &'static str {
    match ns {
        VectorNamespace::Chunks => "full_doc_id, chunk_order_index, tokens, content, file_path",
        VectorNamespace::Entities => "entity_name, content, chunk_ids, file_path",
        VectorNamespace::Relationships => "source_id, target_id, content, chunk_ids, file_path",
    }
}

fn exists(tx: &mut Transaction<'_>, table: &str) -> std::result::Result<bool, postgres::Error> {
    let row = tx.query_one("SELECT to_regclass($1) IS NOT NULL", &[&table])?;
    row.try_get(0)
}

/// Creates the table of `ns` if missing (copying this workspace's rows of the legacy
/// table into it when there are some, refusing when their dimension differs), drops
/// the legacy table when it is empty, and makes sure of the indexes. The caller holds
/// the schema lock in `tx`.
pub(super) fn set_up(
    tx: &mut Transaction<'_>,
    ns: VectorNamespace,
    table: &str,
    workspace: &str,
    dim: usize,
    index: &VectorIndexConfig,
) -> Result<()> {
    let column = format!("{}({dim})", vector_type(index).to_uppercase());
    let legacy = legacy_name(ns);
    let pg = |e: postgres::Error| refused(table, e);
    if table != legacy && !exists(tx, table).map_err(pg)? && exists(tx, legacy).map_err(pg)? {
        let legacy_dim: Option<i32> = tx
            .query_opt(
                &format!(
                    "SELECT vector_dims(content_vector::vector) FROM {legacy} \
                     WHERE workspace = $1 LIMIT 1"
                ),
                &[&workspace],
            )
            .map_err(pg)?
            .map(|r| r.get(0));
        tx.batch_execute(&create_table(ns, table, &column))
            .map_err(pg)?;
        if let Some(legacy_dim) = legacy_dim {
            adopt(tx, ns, table, legacy, workspace, legacy_dim, dim)?;
        } else {
            let any: bool = tx
                .query_one(&format!("SELECT EXISTS (SELECT 1 FROM {legacy})"), &[])
                .map_err(pg)?
                .get(0);
            if !any {
                tx.batch_execute(&format!("DROP TABLE {legacy}"))
                    .map_err(pg)?;
                tracing::info!(table = legacy, "empty legacy vector table dropped");
            }
        }
    } else {
        tx.batch_execute(&create_table(ns, table, &column))
            .map_err(pg)?;
    }
    for (suffix, columns) in [("id", "id"), ("workspace_id", "workspace, id")] {
        let name = index_name(table, suffix);
        tx.batch_execute(&format!(
            "CREATE INDEX IF NOT EXISTS {name} ON {table} ({columns})"
        ))
        .map_err(pg)?;
    }
    vector_index(tx, table, &column, index);
    Ok(())
}

/// Copies this workspace's rows of the legacy table into the new one (they stay in the
/// legacy table too, as LightRAG leaves them).
fn adopt(
    tx: &mut Transaction<'_>,
    ns: VectorNamespace,
    table: &str,
    legacy: &str,
    workspace: &str,
    legacy_dim: i32,
    dim: usize,
) -> Result<()> {
    if usize::try_from(legacy_dim).ok() != Some(dim) {
        return Err(StorageError::Refused {
            what: format!("PGVectorStorage migration of {legacy} to {table}"),
            reason: format!(
                "the legacy table's vectors have {legacy_dim} dimensions, the configured \
                 embedding {dim}"
            ),
        });
    }
    let columns = format!(
        "workspace, id, content_vector, create_time, update_time, {}",
        data_columns(ns)
    );
    let pg = |e: postgres::Error| refused(table, e);
    let expected: i64 = tx
        .query_one(
            &format!("SELECT count(*) FROM {legacy} WHERE workspace = $1"),
            &[&workspace],
        )
        .map_err(pg)?
        .get(0);
    let copied = tx
        .execute(
            &format!(
                "INSERT INTO {table} ({columns}) SELECT {columns} FROM {legacy} \
                 WHERE workspace = $1 ORDER BY id ON CONFLICT DO NOTHING"
            ),
            &[&workspace],
        )
        .map_err(pg)?;
    if copied != expected as u64 {
        return Err(StorageError::Refused {
            what: format!("PGVectorStorage migration of {legacy} to {table}"),
            reason: format!("{copied} of {expected} rows copied"),
        });
    }
    tracing::info!(
        from = legacy,
        to = table,
        workspace,
        rows = copied,
        "legacy vectors adopted"
    );
    Ok(())
}

/// The configured vector index, made as LightRAG makes it: nothing when it exists under
/// its name; else the other types' indexes go, the column takes the type, and the index
/// is built, all in one savepoint. A failure (an index type the server lacks, HNSW over
/// 2000 dimensions) is logged and undoes the step, so the table keeps the index it had
/// (LightRAG may have dropped it already) or is searched without one.
fn vector_index(tx: &mut Transaction<'_>, table: &str, column: &str, config: &VectorIndexConfig) {
    let Some(kind) = config.index_type else {
        return;
    };
    let name = index_name(table, &format!("{}_cosine", type_name(kind)));
    let result = (|| {
        let mut sp = tx.savepoint("vector_index")?;
        let present: bool = sp
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM pg_indexes WHERE schemaname = current_schema() \
                 AND tablename = $1 AND indexname = $2)",
                &[&table, &name],
            )?
            .get(0);
        if present {
            return Ok(false);
        }
        for other in ALL_TYPES.iter().filter(|t| **t != kind) {
            let other = index_name(table, &format!("{}_cosine", type_name(*other)));
            sp.batch_execute(&format!("DROP INDEX IF EXISTS {other}"))?;
        }
        sp.batch_execute(&format!(
            "ALTER TABLE {table} ALTER COLUMN content_vector TYPE {column}"
        ))?;
        sp.batch_execute(&create_index(&name, table, kind, config))?;
        sp.commit().map(|()| true)
    })();
    match result {
        Ok(true) => tracing::info!(table, index = %name, "vector index created"),
        Ok(false) => {}
        Err(e) => {
            tracing::warn!(table, index = %name, error = %e, "vector index not created; searches scan the table")
        }
    }
}

const ALL_TYPES: [VectorIndexType; 4] = [
    VectorIndexType::Hnsw,
    VectorIndexType::HnswHalfvec,
    VectorIndexType::Ivfflat,
    VectorIndexType::Vchordrq,
];

fn type_name(kind: VectorIndexType) -> &'static str {
    match kind {
        VectorIndexType::Hnsw => "hnsw",
        VectorIndexType::HnswHalfvec => "hnsw_halfvec",
        VectorIndexType::Ivfflat => "ivfflat",
        VectorIndexType::Vchordrq => "vchordrq",
    }
}

fn create_index(name: &str, table: &str, kind: VectorIndexType, c: &VectorIndexConfig) -> String {
    let on = format!("CREATE INDEX {name} ON {table}");
    match kind {
        VectorIndexType::Hnsw => format!(
            "{on} USING hnsw (content_vector vector_cosine_ops) WITH (m = {}, ef_construction = {})",
            c.hnsw_m, c.hnsw_ef
        ),
        VectorIndexType::HnswHalfvec => format!(
            "{on} USING hnsw (content_vector halfvec_cosine_ops) WITH (m = {}, ef_construction = {})",
            c.hnsw_m, c.hnsw_ef
        ),
        VectorIndexType::Ivfflat => format!(
            "{on} USING ivfflat (content_vector vector_cosine_ops) WITH (lists = {})",
            c.ivfflat_lists
        ),
        VectorIndexType::Vchordrq => match c.vchordrq_build_options.as_deref() {
            Some(options) if !options.is_empty() => format!(
                "{on} USING vchordrq (content_vector vector_cosine_ops) WITH (options = $${options}$$)"
            ),
            _ => format!("{on} USING vchordrq (content_vector vector_cosine_ops)"),
        },
    }
}

fn refused(table: &str, e: postgres::Error) -> StorageError {
    StorageError::Refused {
        what: format!("PGVectorStorage table {table}"),
        reason: e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn suffix(model: Option<&str>, dim: usize) -> VectorSuffix {
        VectorSuffix {
            model: model.map(str::to_owned),
            dim,
        }
    }

    #[test]
    fn tables_are_named_as_lightrag_names_them() {
        let name = |m, d, ns| table_name(ns, &suffix(m, d)).unwrap();
        assert_eq!(
            name(
                Some("text-embedding-3-large"),
                3072,
                VectorNamespace::Entities
            ),
            "lightrag_vdb_entity_text_embedding_3_large_3072d"
        );
        assert_eq!(
            name(Some("BAAI/bge-m3"), 1024, VectorNamespace::Entities),
            "lightrag_vdb_entity_baai_bge_m3_1024d"
        );
        assert_eq!(
            name(
                Some("nomic-embed-text:latest"),
                768,
                VectorNamespace::Chunks
            ),
            "lightrag_vdb_chunks_nomic_embed_text_latest_768d"
        );
        assert_eq!(
            name(None, 768, VectorNamespace::Relationships),
            "lightrag_vdb_relation"
        );
        assert_eq!(
            name(Some("  "), 768, VectorNamespace::Entities),
            "lightrag_vdb_entity"
        );
        // Each other code point, non-ASCII included, is one underscore.
        assert_eq!(
            name(Some("modèle.v2"), 8, VectorNamespace::Chunks),
            "lightrag_vdb_chunks_mod_le_v2_8d"
        );
        assert!(table_name(VectorNamespace::Chunks, &suffix(Some(&"m".repeat(50)), 8)).is_err());
    }

    #[test]
    fn long_index_names_take_the_md5_of_the_table() {
        assert_eq!(
            index_name("lightrag_vdb_entity_baai_bge_m3_1024d", "hnsw_cosine"),
            "idx_lightrag_vdb_entity_baai_bge_m3_1024d_hnsw_cosine"
        );
        let table = "lightrag_vdb_relation_text_embedding_3_large_3072d";
        let long = index_name(table, "hnsw_cosine");
        assert_eq!(
            long,
            format!("idx_{}_hnsw_cosine", &ids::md5_hex(table.as_bytes())[..12])
        );
        assert!(long.len() <= MAX_NAME);
    }
}
