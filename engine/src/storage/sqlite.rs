//! The embedded backend: one SQLite file (`WORKING_DIR/lightrag.sqlite3`) in WAL mode
//! with a busy timeout, `synchronous=FULL` so a committed write survives a crash (a
//! document is durable before the 200). Every row carries the workspace.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, params};
use serde_json::Value;

mod graph;
mod page_cache;
mod readers;
mod vectors;

use super::{
    DocPageQuery, DocStatus, DocStatusRecord, DocStatusStorage, KvNamespace, KvStorage, Result,
    WorkspaceListing,
};

pub const FILE_NAME: &str = "lightrag.sqlite3";
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS kv (
    workspace TEXT NOT NULL, namespace TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,
    PRIMARY KEY (workspace, namespace, key)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS doc_status (
    workspace TEXT NOT NULL, id TEXT NOT NULL, status TEXT NOT NULL, file_path TEXT NOT NULL,
    track_id TEXT, content_summary TEXT NOT NULL, content_length INTEGER NOT NULL,
    chunks_count INTEGER, error_msg TEXT, metadata TEXT NOT NULL,
    created_at TEXT NOT NULL, updated_at TEXT NOT NULL,
    PRIMARY KEY (workspace, id)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS doc_status_by_status ON doc_status (workspace, status);
CREATE INDEX IF NOT EXISTS doc_status_by_track ON doc_status (workspace, track_id);
CREATE TABLE IF NOT EXISTS vectors (
    workspace TEXT NOT NULL, namespace TEXT NOT NULL, id TEXT NOT NULL,
    dim INTEGER NOT NULL, vector BLOB NOT NULL, meta TEXT NOT NULL,
    seq INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (workspace, namespace, id)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS graph_nodes (
    workspace TEXT NOT NULL, name TEXT NOT NULL, data TEXT NOT NULL,
    PRIMARY KEY (workspace, name)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS graph_edges (
    workspace TEXT NOT NULL, a TEXT NOT NULL, b TEXT NOT NULL,
    source TEXT NOT NULL, target TEXT NOT NULL, data TEXT NOT NULL, weight REAL,
    PRIMARY KEY (workspace, a, b)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS graph_edges_by_b ON graph_edges (workspace, b);
CREATE TABLE IF NOT EXISTS vector_tombstones (
    workspace TEXT NOT NULL, namespace TEXT NOT NULL, id TEXT NOT NULL, seq INTEGER NOT NULL,
    PRIMARY KEY (workspace, namespace, id)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS vector_heads (
    workspace TEXT NOT NULL, namespace TEXT NOT NULL,
    seq INTEGER NOT NULL, epoch INTEGER NOT NULL,
    PRIMARY KEY (workspace, namespace)) WITHOUT ROWID;
";

/// Many values by key, the keys as one JSON array (as the graph's batched reads).
const KV_GET_MANY: &str = "SELECT key, value FROM kv WHERE workspace = ?1 AND namespace = ?2
     AND key IN (SELECT value FROM json_each(?3))";

/// Bytes of the database file mapped into memory for reads.
const MMAP_BYTES: i64 = 1 << 30;
/// Page cache per connection, in KiB.
const CACHE_KIB: i64 = 32 * 1024;

pub struct SqliteStorage {
    /// The writer: every statement that changes the store, in order.
    conn: Mutex<Connection>,
    readers: readers::Readers,
    workspace: String,
    /// `WORKING_DIR/vector_index[/<workspace>]`: the vector namespaces' HNSW segments.
    index_dir: PathBuf,
    working_dir: PathBuf,
}

/// The directory of the vector indexes, beside the database.
pub const INDEX_DIR: &str = "vector_index";

/// Upgrades a store made by an older build, in one write transaction: the workers open
/// the file at the same moment after a fork, and two of them must not both add a column
/// ("duplicate column name").
fn migrate(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch("BEGIN IMMEDIATE")?;
    let upgraded = graph::add_edge_weights(conn)
        .and_then(|()| graph::ranking_indexes(conn))
        .and_then(|()| vectors::add_change_numbers(conn));
    match upgraded {
        Ok(()) => conn.execute_batch("COMMIT"),
        Err(e) => {
            // The error that matters is the upgrade's; a failed rollback ends with the
            // connection anyway.
            let _ = conn.execute_batch("ROLLBACK");
            Err(e)
        }
    }
}

impl SqliteStorage {
    /// Opens (creating if needed) the database in `working_dir` for `workspace`. Call in
    /// each worker after fork: a connection must never cross a fork.
    pub fn open(working_dir: &Path, workspace: &str) -> Result<SqliteStorage> {
        std::fs::create_dir_all(working_dir)?;
        let path = working_dir.join(FILE_NAME);
        page_cache::configure();
        let conn = Connection::open(&path)?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        // Workers open the file at the same moment after a fork; switching to WAL takes
        // a lock that the busy handler does not wait for, so retry that step ourselves.
        let deadline = std::time::Instant::now() + BUSY_TIMEOUT;
        loop {
            let setup = conn
                .pragma_update(None, "journal_mode", "WAL")
                .and_then(|()| conn.pragma_update(None, "synchronous", "FULL"))
                // Reads go through a memory map and a larger page cache: graph walks
                // touch many pages per query.
                .and_then(|()| conn.pragma_update(None, "mmap_size", MMAP_BYTES))
                .and_then(|()| conn.pragma_update(None, "cache_size", -CACHE_KIB))
                .and_then(|()| conn.execute_batch(SCHEMA))
                .and_then(|()| migrate(&conn));
            match setup {
                Err(rusqlite::Error::SqliteFailure(e, _))
                    if matches!(
                        e.code,
                        rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
                    ) && std::time::Instant::now() < deadline =>
                {
                    std::thread::sleep(Duration::from_millis(
                        10 + u64::from(fastrand::u8(..) % 20),
                    ));
                }
                other => break other?,
            }
        }
        Ok(SqliteStorage {
            conn: Mutex::new(conn),
            readers: readers::Readers::new(&path, BUSY_TIMEOUT, MMAP_BYTES),
            workspace: workspace.to_owned(),
            index_dir: match workspace {
                "" => working_dir.join(INDEX_DIR),
                name => working_dir.join(INDEX_DIR).join(name),
            },
            working_dir: working_dir.to_owned(),
        })
    }

    fn with<T>(&self, f: impl FnOnce(&mut Connection, &str) -> Result<T>) -> Result<T> {
        let mut conn = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut conn, &self.workspace)
    }

    /// A statement that only reads: on a reader connection, never waiting for the writer.
    fn read<T>(&self, f: impl FnOnce(&Connection, &str) -> Result<T>) -> Result<T> {
        self.readers.with(|conn| f(conn, &self.workspace))
    }
}

/// Statuses are stored under LightRAG's names.
impl rusqlite::ToSql for DocStatus {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        Ok(self.as_str().into())
    }
}

impl rusqlite::types::FromSql for DocStatus {
    fn column_result(value: rusqlite::types::ValueRef<'_>) -> rusqlite::types::FromSqlResult<Self> {
        let text = value.as_str()?;
        DocStatus::parse(text).ok_or_else(|| {
            rusqlite::types::FromSqlError::Other(format!("unknown document status {text:?}").into())
        })
    }
}

impl WorkspaceListing for SqliteStorage {
    fn workspaces_with_status(&self, statuses: &[DocStatus]) -> Result<Vec<String>> {
        self.read(|conn, _| {
            let marks: Vec<String> = (1..=statuses.len()).map(|i| format!("?{i}")).collect();
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT DISTINCT workspace FROM doc_status WHERE status IN ({}) ORDER BY workspace",
                marks.join(", ")
            ))?;
            let params: Vec<&dyn rusqlite::ToSql> =
                statuses.iter().map(|s| s as &dyn rusqlite::ToSql).collect();
            let names = stmt
                .query_map(params.as_slice(), |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            Ok(names)
        })
    }
}

impl KvStorage for SqliteStorage {
    fn kv_get(&self, ns: KvNamespace, key: &str) -> Result<Option<Value>> {
        self.read(|conn, ws| {
            let text: Option<String> = conn
                .query_row(
                    "SELECT value FROM kv WHERE workspace = ?1 AND namespace = ?2 AND key = ?3",
                    params![ws, ns.as_str(), key],
                    |r| r.get(0),
                )
                .optional()?;
            Ok(text.map(|t| serde_json::from_str(&t)).transpose()?)
        })
    }

    fn kv_get_many(
        &self,
        ns: KvNamespace,
        keys: &[String],
    ) -> Result<std::collections::HashMap<String, Value>> {
        if keys.is_empty() {
            return Ok(Default::default());
        }
        self.read(|conn, ws| {
            let mut stmt = conn.prepare_cached(KV_GET_MANY)?;
            let rows = stmt
                .query_map(params![ws, ns.as_str(), graph::json_list(keys)?], |r| {
                    Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            rows.into_iter()
                .map(|(key, text)| Ok((key, serde_json::from_str(&text)?)))
                .collect()
        })
    }

    fn kv_upsert(&self, ns: KvNamespace, items: &[(String, Value)]) -> Result<()> {
        self.kv_upsert_many(&[(ns, items)])
    }

    fn kv_upsert_many(&self, batches: &[(KvNamespace, &[(String, Value)])]) -> Result<()> {
        self.with(|conn, ws| {
            let tx = conn.transaction()?;
            {
                let mut stmt = tx.prepare_cached(
                    "INSERT INTO kv (workspace, namespace, key, value) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (workspace, namespace, key) DO UPDATE SET value = excluded.value",
                )?;
                for (ns, items) in batches {
                    for (key, value) in *items {
                        stmt.execute(params![ws, ns.as_str(), key, value.to_string()])?;
                    }
                }
            }
            Ok(tx.commit()?)
        })
    }

    fn kv_insert_new(&self, ns: KvNamespace, items: &[(String, Value)]) -> Result<Option<String>> {
        self.with(|conn, ws| {
            // IMMEDIATE: the write lock is held from the check to the insert.
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            {
                let mut present = tx.prepare_cached(
                    "SELECT 1 FROM kv WHERE workspace = ?1 AND namespace = ?2 AND key = ?3",
                )?;
                for (key, _) in items {
                    if present.exists(params![ws, ns.as_str(), key])? {
                        return Ok(Some(key.clone()));
                    }
                }
                let mut insert = tx.prepare_cached(
                    "INSERT INTO kv (workspace, namespace, key, value) VALUES (?1, ?2, ?3, ?4)",
                )?;
                for (key, value) in items {
                    insert.execute(params![ws, ns.as_str(), key, value.to_string()])?;
                }
            }
            tx.commit()?;
            Ok(None)
        })
    }

    fn kv_delete(&self, ns: KvNamespace, keys: &[String]) -> Result<()> {
        self.with(|conn, ws| {
            delete_each(
                conn,
                "DELETE FROM kv WHERE workspace = ?1 AND namespace = ?2 AND key = ?3",
                &[ws, ns.as_str()],
                keys,
            )
        })
    }

    fn kv_keys(&self, ns: KvNamespace) -> Result<Vec<String>> {
        self.read(|conn, ws| {
            let mut stmt = conn.prepare_cached(
                "SELECT key FROM kv WHERE workspace = ?1 AND namespace = ?2 ORDER BY key",
            )?;
            let keys = stmt
                .query_map(params![ws, ns.as_str()], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            Ok(keys)
        })
    }

    fn kv_drop(&self, ns: KvNamespace) -> Result<()> {
        self.with(|conn, ws| {
            conn.execute(
                "DELETE FROM kv WHERE workspace = ?1 AND namespace = ?2",
                params![ws, ns.as_str()],
            )?;
            Ok(())
        })
    }
}

/// Runs `sql` once per key in one transaction; `scope` binds the leading parameters
/// (workspace, namespace), the key the last one.
fn delete_each(conn: &mut Connection, sql: &str, scope: &[&str], keys: &[String]) -> Result<()> {
    let tx = conn.transaction()?;
    {
        let mut stmt = tx.prepare_cached(sql)?;
        for key in keys {
            let params = scope
                .iter()
                .map(|s| s as &dyn rusqlite::ToSql)
                .chain(std::iter::once(key as &dyn rusqlite::ToSql))
                .collect::<Vec<_>>();
            stmt.execute(params.as_slice())?;
        }
    }
    Ok(tx.commit()?)
}

/// Writes (or replaces) the records inside `tx`.
fn write_docs(tx: &rusqlite::Transaction<'_>, ws: &str, docs: &[DocStatusRecord]) -> Result<()> {
    let mut stmt = tx.prepare_cached(&format!(
        "INSERT OR REPLACE INTO doc_status (workspace, {DOC_COLUMNS})
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"
    ))?;
    for d in docs {
        stmt.execute(params![
            ws,
            d.id,
            d.status,
            d.file_path,
            d.track_id,
            d.content_summary,
            d.content_length as i64,
            d.chunks_count.map(|n| n as i64),
            d.error_msg,
            d.metadata.to_string(),
            d.created_at,
            d.updated_at
        ])?;
    }
    Ok(())
}

fn doc_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(DocStatusRecord, String)> {
    Ok((
        DocStatusRecord {
            id: r.get(0)?,
            status: r.get(1)?,
            file_path: r.get(2)?,
            track_id: r.get(3)?,
            content_summary: r.get(4)?,
            content_length: r.get::<_, i64>(5)? as usize,
            chunks_count: r.get::<_, Option<i64>>(6)?.map(|n| n as usize),
            error_msg: r.get(7)?,
            metadata: Value::Null,
            created_at: r.get(9)?,
            updated_at: r.get(10)?,
        },
        r.get(8)?,
    ))
}

const DOC_COLUMNS: &str = "id, status, file_path, track_id, content_summary, content_length, \
                           chunks_count, error_msg, metadata, created_at, updated_at";

/// Which documents `docs_where` reads, and through which index. Without statistics
/// SQLite reads a status or a track id through the primary key's workspace prefix,
/// every row of the workspace: the pipeline's poll (three statuses, twice a second in
/// every worker) read the whole table, taking a share of the cores from queries.
#[derive(Clone, Copy)]
enum DocsBy {
    Id,
    Status,
    TrackId,
}

impl DocsBy {
    fn source(self) -> &'static str {
        match self {
            DocsBy::Id => "doc_status WHERE workspace = ?1 AND id = ?2",
            DocsBy::Status => {
                "doc_status INDEXED BY doc_status_by_status WHERE workspace = ?1 AND status = ?2"
            }
            DocsBy::TrackId => {
                "doc_status INDEXED BY doc_status_by_track WHERE workspace = ?1 AND track_id = ?2"
            }
        }
    }
}

fn docs_where(
    conn: &Connection,
    by: DocsBy,
    ws: &str,
    value: &str,
) -> Result<Vec<DocStatusRecord>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {DOC_COLUMNS} FROM {} ORDER BY created_at, id",
        by.source()
    ))?;
    let rows = stmt
        .query_map(params![ws, value], doc_from_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    with_metadata(rows)
}

/// Rows with their metadata JSON parsed.
fn with_metadata(rows: Vec<(DocStatusRecord, String)>) -> Result<Vec<DocStatusRecord>> {
    rows.into_iter()
        .map(|(mut doc, metadata)| {
            doc.metadata = serde_json::from_str(&metadata)?;
            Ok(doc)
        })
        .collect()
}

impl DocStatusStorage for SqliteStorage {
    fn docs_page(&self, query: &DocPageQuery) -> Result<(Vec<DocStatusRecord>, usize)> {
        self.read(|conn, ws| {
            // There are only a handful of statuses: a filter naming them thousands of times
            // must not exceed SQLite's parameter limit.
            let statuses: std::collections::BTreeSet<DocStatus> =
                query.statuses.iter().copied().collect();
            // ?1 is the workspace, then one placeholder per status, then limit and offset.
            let filter = if statuses.is_empty() {
                String::new()
            } else {
                let marks: Vec<String> = (0..statuses.len()).map(|i| format!("?{}", i + 2)).collect();
                format!(" AND status IN ({})", marks.join(", "))
            };
            let mut scope: Vec<&dyn rusqlite::ToSql> = vec![&ws];
            scope.extend(statuses.iter().map(|s| s as &dyn rusqlite::ToSql));
            let total: i64 = conn.query_row(
                &format!("SELECT COUNT(*) FROM doc_status WHERE workspace = ?1{filter}"),
                scope.as_slice(),
                |r| r.get(0),
            )?;
            let n = statuses.len();
            let sql = format!(
                "SELECT {DOC_COLUMNS} FROM doc_status WHERE workspace = ?1{filter} ORDER BY {} {}, id LIMIT ?{} OFFSET ?{}",
                query.sort.column(),
                if query.descending { "DESC" } else { "ASC" },
                n + 2,
                n + 3
            );
            // An offset past i64 is past every row: an empty page, not a wrapped one.
            let limit = i64::try_from(query.limit).unwrap_or(i64::MAX);
            let offset = i64::try_from(query.offset).unwrap_or(i64::MAX);
            let mut params = scope;
            params.push(&limit);
            params.push(&offset);
            let mut stmt = conn.prepare_cached(&sql)?;
            let rows = stmt
                .query_map(params.as_slice(), doc_from_row)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok((with_metadata(rows)?, total as usize))
        })
    }

    fn doc_upsert(&self, docs: &[DocStatusRecord]) -> Result<()> {
        self.with(|conn, ws| {
            let tx = conn.transaction()?;
            write_docs(&tx, ws, docs)?;
            Ok(tx.commit()?)
        })
    }

    fn doc_insert_new(&self, docs: &[DocStatusRecord]) -> Result<Option<DocStatusRecord>> {
        self.with(|conn, ws| {
            // IMMEDIATE: the write lock is taken before the check, so no other writer can
            // insert one of these ids between the check and the insert.
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            for d in docs {
                if let Some(existing) = docs_where(&tx, DocsBy::Id, ws, &d.id)?.into_iter().next() {
                    return Ok(Some(existing));
                }
            }
            write_docs(&tx, ws, docs)?;
            tx.commit()?;
            Ok(None)
        })
    }

    fn docs_drop(&self) -> Result<()> {
        self.with(|conn, ws| {
            conn.execute("DELETE FROM doc_status WHERE workspace = ?1", params![ws])?;
            Ok(())
        })
    }

    fn doc_get(&self, id: &str) -> Result<Option<DocStatusRecord>> {
        self.read(|conn, ws| Ok(docs_where(conn, DocsBy::Id, ws, id)?.into_iter().next()))
    }

    fn docs_with_status(&self, status: DocStatus) -> Result<Vec<DocStatusRecord>> {
        self.read(|conn, ws| docs_where(conn, DocsBy::Status, ws, status.as_str()))
    }

    fn docs_with_track_id(&self, track_id: &str) -> Result<Vec<DocStatusRecord>> {
        self.read(|conn, ws| docs_where(conn, DocsBy::TrackId, ws, track_id))
    }

    fn status_counts(&self) -> Result<Vec<(DocStatus, usize)>> {
        self.read(|conn, ws| {
            let mut stmt = conn.prepare_cached(
                "SELECT status, COUNT(*) FROM doc_status WHERE workspace = ?1 GROUP BY status ORDER BY status",
            )?;
            let counts = stmt
                .query_map(params![ws], |r| Ok((r.get(0)?, r.get::<_, i64>(1)? as usize)))?
                .collect::<rusqlite::Result<_>>()?;
            Ok(counts)
        })
    }

    fn doc_delete(&self, ids: &[String]) -> Result<()> {
        self.with(|conn, ws| {
            delete_each(
                conn,
                "DELETE FROM doc_status WHERE workspace = ?1 AND id = ?2",
                &[ws],
                ids,
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_by_status_or_track_are_read_through_their_index() {
        let s = SqliteStorage::open(&crate::storage::tests::temp("docs-plans"), "").unwrap();
        s.read(|conn, _| {
            for (by, index) in [
                (DocsBy::Status, "doc_status_by_status"),
                (DocsBy::TrackId, "doc_status_by_track"),
            ] {
                let sql = format!(
                    "EXPLAIN QUERY PLAN SELECT {DOC_COLUMNS} FROM {} ORDER BY created_at, id",
                    by.source()
                );
                let mut stmt = conn.prepare(&sql)?;
                let steps: Vec<String> = stmt
                    .query_map(params!["", "x"], |r| r.get(3))?
                    .collect::<rusqlite::Result<_>>()?;
                assert!(
                    steps
                        .iter()
                        .any(|s| s.contains(&format!("USING INDEX {index}"))),
                    "{steps:?}"
                );
            }
            Ok(())
        })
        .unwrap();
    }
}
