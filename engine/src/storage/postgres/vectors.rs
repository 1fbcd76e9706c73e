//! `PGVectorStorage`: the vector namespaces in LightRAG's pgvector tables, searched
//! where they are (no copy in the workers).
//!
//! Search answers LightRAG's query (cosine distance below `1 − COSINE_THRESHOLD`,
//! nearest first, `LIMIT top_k`) with fixes. An HNSW or IVFFlat scan filtered by
//! workspace can stop before it has `top_k` rows of that workspace (pgvector returns
//! what the first `ef_search` candidates hold), so each search turns on pgvector's
//! iterative scan (`relaxed_order`, pgvector 0.8+) and re-sorts the rows it gets, and
//! a scan that still returns fewer than `top_k` rows is checked by the exact search.
//! The distance threshold is applied to the `top_k` nearest, not inside the scan,
//! which with iterative scans on would walk the whole index whenever fewer than
//! `top_k` rows are close enough. And the index is made the planner's only way to the
//! order ([`PgVectors::search_rows`]).
//!
//! Writes are one `INSERT ... SELECT FROM unnest(...)` per namespace, split into parts
//! of at most [`PART_ROWS`] rows run on several connections at once: each row costs an
//! insertion into the vector index, the bulk of what indexing a document costs here.

use std::collections::HashMap;
use std::sync::Arc;

use pgvector::Vector;
use postgres::Row;
use postgres::types::ToSql;

use super::last_of_each;
use super::layout::{self, UTC_NOW, Values};
use super::pgvector::{HALFVEC, ITERATIVE_SCAN, major_minor, missing_extension};
use super::pool::Pool;
use super::vector_rows::{column_kinds, columns_of, row_meta};
use super::vector_tables::{self, VectorSuffix};
use super::{VectorIndexConfig, VectorIndexType, schema};
use crate::storage::vectors::{Hit, VectorSearch};
use crate::storage::{Result, StorageError, VectorNamespace, VectorRecord, VectorStorage};

/// Most rows per statement of a write spread over several connections.
const PART_ROWS: usize = 48;

pub(crate) struct PgVectors {
    pool: Arc<Pool>,
    workspace: String,
    /// Table of each namespace, in [`VectorNamespace::ALL`] order.
    tables: [String; 3],
    dim: usize,
    /// `vector`, or `halfvec` under HNSW_HALFVEC.
    cast: &'static str,
    iterative_scan: bool,
    index: VectorIndexConfig,
}

impl PgVectors {
    /// Makes sure of pgvector and of this workspace's tables (creating them, adopting a
    /// legacy table's rows) under the schema lock.
    pub(crate) fn open(
        pool: Arc<Pool>,
        workspace: &str,
        suffix: &VectorSuffix,
    ) -> Result<PgVectors> {
        let config = pool.config().clone();
        let workspace = config.effective_workspace(workspace);
        let address = config.address();
        let version = pool.run(|c| {
            let mut tx = c.transaction()?;
            schema::locked(&mut tx)?;
            // LightRAG creates the extension when it can; without the right, it must exist.
            let mut attempt = tx.savepoint("extension")?;
            let created = match attempt.batch_execute("CREATE EXTENSION IF NOT EXISTS vector") {
                Ok(()) => attempt.commit().map(|()| None)?,
                Err(e) => {
                    drop(attempt);
                    Some(e.to_string())
                }
            };
            let row = tx.query_opt(
                "SELECT extversion FROM pg_extension WHERE extname = 'vector'",
                &[],
            )?;
            tx.commit()?;
            Ok((row.map(|r| r.get::<_, String>(0)), created))
        })?;
        let version = match version {
            (Some(v), _) => v,
            (None, why) => {
                return Err(missing_extension(
                    &address,
                    why.as_deref().unwrap_or("not available"),
                ));
            }
        };
        let release = major_minor(&version).unwrap_or((0, 0));
        let index = config.vector_index.clone();
        if index.index_type == Some(VectorIndexType::HnswHalfvec) && release < HALFVEC {
            return Err(StorageError::Refused {
                what: format!("POSTGRES_VECTOR_INDEX_TYPE=HNSW_HALFVEC at {address}"),
                reason: format!("halfvec needs pgvector 0.7.0 or later, the server has {version}"),
            });
        }
        let tables = VectorNamespace::ALL.map(|ns| vector_tables::table_name(ns, suffix));
        let [chunks, entities, relationships] = tables;
        let tables = [chunks?, entities?, relationships?];
        pool.run(|c| {
            let mut tx = c.transaction()?;
            schema::locked(&mut tx)?;
            for (ns, table) in VectorNamespace::ALL.iter().zip(&tables) {
                if let Err(e) =
                    vector_tables::set_up(&mut tx, *ns, table, &workspace, suffix.dim, &index)
                {
                    return Ok(Err(e));
                }
            }
            tx.commit().map(Ok)
        })??;
        tracing::info!(postgres = %address, workspace, pgvector = version, tables = ?tables, "PGVectorStorage ready");
        Ok(PgVectors {
            pool,
            workspace,
            tables,
            dim: suffix.dim,
            cast: vector_tables::vector_type(&index),
            iterative_scan: release >= ITERATIVE_SCAN,
            index,
        })
    }

    fn table(&self, ns: VectorNamespace) -> &str {
        &self.tables[ns as usize]
    }

    fn check_dim(&self, ns: VectorNamespace, given: usize) -> Result<()> {
        if given != self.dim {
            return Err(StorageError::DimensionMismatch {
                namespace: ns.as_str(),
                stored: self.dim,
                given,
            });
        }
        Ok(())
    }

    /// `INSERT ... SELECT ... FROM unnest(...) ON CONFLICT (workspace, id) DO UPDATE`
    /// of every column but `create_time`, as LightRAG writes rows: `$1` workspace, `$2`
    /// the ids, `$3` the vectors, then one array per data column ([`columns_of`]); the
    /// times in UTC as its Python writes them (not the column default, which is the
    /// connection's local time).
    fn upsert_sql(&self, ns: VectorNamespace) -> String {
        let table = self.table(ns);
        let names: Vec<&str> = vector_tables::data_columns(ns).split(", ").collect();
        let mut columns = vec!["workspace", "id", "content_vector"];
        columns.extend(&names);
        let mut select = vec![
            "$1".to_owned(),
            "u.id".to_owned(),
            format!("u.vector::{}", self.cast),
        ];
        let mut arrays = vec![
            ("id".to_owned(), "text[]"),
            ("vector".to_owned(), "vector[]"),
        ];
        for (i, (name, kind)) in names.iter().zip(column_kinds(ns)).enumerate() {
            let alias = format!("v{i}");
            select.push(if *name == "chunk_ids" {
                format!("ARRAY(SELECT jsonb_array_elements_text(u.{alias}))")
            } else {
                format!("u.{alias}")
            });
            arrays.push((alias, Values::array_type(*kind)));
        }
        columns.extend(["create_time", "update_time"]);
        select.extend(std::iter::repeat_n(UTC_NOW.to_owned(), 2));
        let arrays: Vec<(&str, &str)> = arrays.iter().map(|(a, t)| (a.as_str(), *t)).collect();
        let updates: Vec<String> = names
            .iter()
            .map(|c| format!("{c} = EXCLUDED.{c}"))
            .collect();
        format!(
            "{} ON CONFLICT (workspace, id) DO UPDATE SET content_vector = EXCLUDED.content_vector, \
             {}, update_time = {UTC_NOW}",
            layout::unnest_insert(table, &columns, &select, &arrays, 2),
            updates.join(", ")
        )
    }

    /// `items` checked, each id once (the last of an id given twice wins).
    fn distinct<'a>(
        &self,
        ns: VectorNamespace,
        items: &'a [VectorRecord],
    ) -> Result<Vec<&'a VectorRecord>> {
        for item in items {
            self.check_dim(ns, item.vector.len())?;
        }
        Ok(last_of_each(items, |item| item.id.as_str()))
    }

    /// The statement and parameters writing `items` into `ns` (the last of an id given
    /// twice wins).
    fn batch(&self, ns: VectorNamespace, items: &[VectorRecord]) -> Result<Batch> {
        Ok(self.batch_of(ns, &self.distinct(ns, items)?))
    }

    /// Each namespace's records (each id once) as statements of at most [`PART_ROWS`]
    /// rows, of about the same size: the parts of one write.
    fn parts(&self, batches: &[(VectorNamespace, &[VectorRecord])]) -> Result<Vec<Batch>> {
        let mut parts = Vec::new();
        for (ns, items) in batches {
            let items = self.distinct(*ns, items)?;
            if items.is_empty() {
                continue;
            }
            let size = items.len().div_ceil(items.len().div_ceil(PART_ROWS));
            parts.extend(items.chunks(size).map(|part| self.batch_of(*ns, part)));
        }
        Ok(parts)
    }

    fn batch_of(&self, ns: VectorNamespace, items: &[&VectorRecord]) -> Batch {
        Batch {
            sql: self.upsert_sql(ns),
            ids: items.iter().map(|item| item.id.clone()).collect(),
            vectors: items
                .iter()
                .map(|item| Vector::from(item.vector.clone()))
                .collect(),
            columns: columns_of(ns, items.iter().map(|item| &item.meta)),
        }
    }

    /// Writes each namespace's batch as one statement, all in one transaction (after
    /// `first`, a statement over `$1` the workspace, when given).
    fn write(&self, first: Option<&str>, batches: &[Batch]) -> Result<()> {
        self.pool.run(|c| {
            let mut writes: Vec<(&str, Vec<&(dyn ToSql + Sync)>)> = Vec::new();
            if let Some(sql) = first {
                writes.push((sql, vec![&self.workspace]));
            }
            writes.extend(
                batches
                    .iter()
                    .map(|b| (b.sql.as_str(), b.params(&self.workspace))),
            );
            c.write_all(&writes)
        })
    }

    /// The rows of the search `sql`, run in a transaction with pgvector's iterative
    /// scans on (where it has them), the vchordrq settings applied, and the vector
    /// index made the only way to the order: PostgreSQL's estimate of an HNSW scan is
    /// so high that it sorts every row of a workspace of a few thousand instead (45 ms
    /// where the index takes 2). With `exact` no index is used. The transaction's
    /// start and settings go in one round trip, the search on a statement the
    /// connection keeps.
    fn search_rows(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
        exact: bool,
    ) -> Result<Vec<Row>> {
        let mut settings = Vec::new();
        if self.iterative_scan {
            settings.push("SET LOCAL hnsw.iterative_scan = relaxed_order".to_owned());
            settings.push("SET LOCAL ivfflat.iterative_scan = relaxed_order".to_owned());
        }
        if self.index.index_type == Some(VectorIndexType::Vchordrq) {
            if let Some(probes) = self
                .index
                .vchordrq_probes
                .as_deref()
                .filter(|p| !p.is_empty())
            {
                settings.push(format!(
                    "SET LOCAL vchordrq.probes = '{}'",
                    probes.replace('\'', "''")
                ));
            }
            settings.push(format!(
                "SET LOCAL vchordrq.epsilon = {}",
                self.index.vchordrq_epsilon
            ));
        }
        if exact {
            // The index cannot lose rows it is not used for.
            settings.push("SET LOCAL enable_indexscan = off".to_owned());
        } else if self.index.index_type.is_some() {
            settings.push("SET LOCAL enable_sort = off".to_owned());
        }
        let begin = format!("BEGIN; {}", settings.join("; "));
        self.pool.run(|c| {
            let statement = c.prepared(sql)?;
            if settings.is_empty() {
                return c.query(&statement, params);
            }
            let rows = c
                .batch_execute(&begin)
                .and_then(|()| c.query(&statement, params));
            match rows {
                Ok(rows) => c.batch_execute("COMMIT").map(|()| rows),
                Err(e) => {
                    // A connection that cannot roll back is broken, and dropped for `e`.
                    let _ = c.batch_execute("ROLLBACK");
                    Err(e)
                }
            }
        })
    }

    /// The `top_k` rows of the workspace nearest `query`, with their cosine distance,
    /// nearest first (by an index, or with `exact` by reading them all).
    fn nearest(
        &self,
        ns: VectorNamespace,
        query: &[f32],
        top_k: usize,
        exact: bool,
    ) -> Result<Vec<(Hit, f64)>> {
        let sql = format!(
            "SELECT id, {columns}, content_vector <=> $2::vector::{cast} \
             FROM {table} WHERE workspace = $1 \
             ORDER BY content_vector <=> $2::vector::{cast} LIMIT $3",
            columns = vector_tables::data_columns(ns),
            cast = self.cast,
            table = self.table(ns),
        );
        let vector = Vector::from(query.to_vec());
        let limit = i64::try_from(top_k).unwrap_or(i64::MAX);
        let distance_at = vector_tables::data_columns(ns).split(", ").count() + 1;
        let mut hits: Vec<(Hit, f64)> = self
            .search_rows(&sql, &[&self.workspace, &vector, &limit], exact)?
            .iter()
            .map(|row| {
                let distance: f64 = row.get(distance_at);
                let hit = Hit {
                    id: row.get(0),
                    score: (1.0 - distance) as f32,
                    meta: row_meta(ns, row, 1),
                };
                (hit, distance)
            })
            .collect();
        // relaxed_order may return neighbours slightly out of order.
        hits.sort_by(|a, b| a.1.total_cmp(&b.1));
        Ok(hits)
    }
}

/// One namespace's records as one statement: its SQL and its array parameters.
struct Batch {
    sql: String,
    ids: Vec<String>,
    vectors: Vec<Vector>,
    columns: Vec<Values>,
}

impl Batch {
    fn params<'a>(&'a self, workspace: &'a String) -> Vec<&'a (dyn ToSql + Sync)> {
        let mut params: Vec<&(dyn ToSql + Sync)> = vec![workspace, &self.ids, &self.vectors];
        params.extend(self.columns.iter().map(Values::param));
        params
    }
}

impl VectorStorage for PgVectors {
    fn vectors_upsert(&self, ns: VectorNamespace, items: &[VectorRecord]) -> Result<()> {
        self.vectors_upsert_many(&[(ns, items)])
    }

    /// Each part ([`PgVectors::parts`]) on a connection of its own, all at once: every
    /// row written costs an insertion into the vector index (about a millisecond at
    /// 1 024 dimensions), which in one statement one backend does alone. Not one
    /// transaction, then: a write cut short leaves some parts written, which the
    /// pipeline's next run of the document writes again (every upsert is idempotent).
    fn vectors_upsert_many(&self, batches: &[(VectorNamespace, &[VectorRecord])]) -> Result<()> {
        let parts = self.parts(batches)?;
        self.pool.run_each(&parts, |c, part| {
            c.write_all(&[(part.sql.as_str(), part.params(&self.workspace))])
        })
    }

    fn vectors_delete(&self, ns: VectorNamespace, ids: &[String]) -> Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        let sql = format!(
            "DELETE FROM {} WHERE workspace = $1 AND id = ANY($2)",
            self.table(ns)
        );
        self.pool
            .run(|c| c.execute(&sql, &[&self.workspace, &ids]).map(drop))
    }

    fn vectors_all(&self, ns: VectorNamespace) -> Result<Vec<VectorRecord>> {
        let sql = format!(
            "SELECT id, content_vector::vector, {} FROM {} WHERE workspace = $1 ORDER BY id",
            vector_tables::data_columns(ns),
            self.table(ns)
        );
        self.pool.run(|c| {
            Ok(c.query(&sql, &[&self.workspace])?
                .iter()
                .map(|row| VectorRecord {
                    id: row.get(0),
                    vector: row
                        .get::<_, Option<Vector>>(1)
                        .map(|v| v.to_vec())
                        .unwrap_or_default(),
                    meta: row_meta(ns, row, 2),
                })
                .collect())
        })
    }

    /// This workspace's rows, and those it left in a still-existing legacy table (so
    /// that they are not adopted again at the next start).
    fn vectors_drop(&self, ns: VectorNamespace) -> Result<()> {
        let table = self.table(ns).to_owned();
        let legacy = vector_tables::legacy_name(ns);
        self.pool.run(|c| {
            let mut tx = c.transaction()?;
            tx.execute(
                &format!("DELETE FROM {table} WHERE workspace = $1"),
                &[&self.workspace],
            )?;
            let legacy_exists: bool = tx
                .query_one("SELECT to_regclass($1) IS NOT NULL", &[&legacy])?
                .get(0);
            if legacy != table && legacy_exists {
                tx.execute(
                    &format!("DELETE FROM {legacy} WHERE workspace = $1"),
                    &[&self.workspace],
                )?;
            }
            tx.commit()
        })
    }

    fn vectors_replace(&self, ns: VectorNamespace, items: &[VectorRecord]) -> Result<()> {
        let batch = self.batch(ns, items)?;
        let delete = format!("DELETE FROM {} WHERE workspace = $1", self.table(ns));
        let batches: &[Batch] = if items.is_empty() {
            &[]
        } else {
            std::slice::from_ref(&batch)
        };
        self.write(Some(&delete), batches)
    }

    fn vectors_dim(&self, ns: VectorNamespace) -> Result<Option<usize>> {
        let sql = format!(
            "SELECT vector_dims(content_vector::vector) FROM {} WHERE workspace = $1 LIMIT 1",
            self.table(ns)
        );
        let dim = self.pool.run(|c| {
            Ok(c.query_opt(&sql, &[&self.workspace])?
                .and_then(|r| r.get::<_, Option<i32>>(0)))
        })?;
        Ok(dim.and_then(|d| usize::try_from(d).ok()))
    }

    fn vector_search(&self) -> Option<&dyn VectorSearch> {
        Some(self)
    }
}

impl VectorSearch for PgVectors {
    fn query(
        &self,
        ns: VectorNamespace,
        query: &[f32],
        top_k: usize,
        threshold: f32,
    ) -> Result<Vec<Hit>> {
        if top_k == 0 {
            return Ok(Vec::new());
        }
        self.check_dim(ns, query.len())?;
        let mut hits = self.nearest(ns, query, top_k, false)?;
        if hits.len() < top_k && self.index.index_type.is_some() {
            // Fewer than `top_k` rows: the workspace has no more (then reading it all is
            // cheap), or the index scan stopped short (pgvector before 0.8 returns what
            // its first candidates hold; an iterative scan stops at max_scan_tuples).
            hits = self.nearest(ns, query, top_k, true)?;
        }
        // The threshold filters the nearest `top_k` rather than the scan: the same rows
        // (whatever is nearer than a row within it is within it too), but a scan
        // filtered by distance goes on through the whole index whenever fewer than
        // `top_k` rows are close enough.
        let max_distance = 1.0 - f64::from(threshold);
        Ok(hits
            .into_iter()
            .filter(|(_, distance)| *distance < max_distance)
            .map(|(hit, _)| hit)
            .collect())
    }

    fn similarities(
        &self,
        ns: VectorNamespace,
        query: &[f32],
        ids: &[String],
    ) -> Result<Vec<Option<f32>>> {
        if query.len() != self.dim || ids.is_empty() {
            return Ok(vec![None; ids.len()]);
        }
        let sql = format!(
            "SELECT id, (1 - (content_vector <=> $2::vector::{cast}))::float4 FROM {table} \
             WHERE workspace = $1 AND id = ANY($3)",
            cast = self.cast,
            table = self.table(ns)
        );
        let vector = Vector::from(query.to_vec());
        let scores: HashMap<String, f32> = self.pool.run(|c| {
            let statement = c.prepared(&sql)?;
            Ok(c.query(&statement, &[&self.workspace, &vector, &ids])?
                .iter()
                .map(|row| (row.get(0), row.get(1)))
                .collect())
        })?;
        Ok(ids.iter().map(|id| scores.get(id).copied()).collect())
    }
}
