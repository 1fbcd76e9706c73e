//! The vector namespaces in SQLite, with the change log that lets a worker's search
//! copy follow them incrementally: every written row carries a change number (`seq`,
//! from the namespace's counter in `vector_heads`), every deleted id leaves a tombstone
//! with one, and dropping or replacing a namespace moves its `epoch` (older change
//! numbers no longer describe it). All of a write's rows, numbers and tombstones
//! commit in one transaction; SQLite has one writer at a time, so numbers are handed
//! out in commit order and "every change after n" is exact in any reader's snapshot.

use std::path::PathBuf;

use rusqlite::{Connection, OptionalExtension, Transaction, params};

use super::SqliteStorage;
use crate::storage::{
    Result, StorageError, VectorChanges, VectorNamespace, VectorRecord, VectorStorage,
};

fn to_blob(vector: &[f32]) -> Vec<u8> {
    vector.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn from_blob(blob: &[u8]) -> Vec<f32> {
    blob.chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

/// Databases from before the change log get its column; their rows count as change 0.
pub(super) fn add_change_numbers(conn: &Connection) -> rusqlite::Result<()> {
    let has_column = conn
        .prepare("SELECT 1 FROM pragma_table_info('vectors') WHERE name = 'seq'")?
        .exists([])?;
    if !has_column {
        conn.execute_batch("ALTER TABLE vectors ADD COLUMN seq INTEGER NOT NULL DEFAULT 0;")?;
    }
    conn.execute_batch(
        "CREATE INDEX IF NOT EXISTS vectors_by_seq ON vectors (workspace, namespace, seq);",
    )
}

fn stored_dim(conn: &Connection, ws: &str, ns: VectorNamespace) -> Result<Option<usize>> {
    Ok(conn
        .query_row(
            "SELECT dim FROM vectors WHERE workspace = ?1 AND namespace = ?2 LIMIT 1",
            params![ws, ns.as_str()],
            |r| r.get::<_, i64>(0),
        )
        .optional()?
        .map(|d| d as usize))
}

/// Hands out `count` change numbers of `ns`; the first of them.
fn next_seqs(tx: &Transaction<'_>, ws: &str, ns: VectorNamespace, count: usize) -> Result<i64> {
    let last: i64 = tx.query_row(
        "INSERT INTO vector_heads (workspace, namespace, seq, epoch) VALUES (?1, ?2, ?3, 0)
         ON CONFLICT (workspace, namespace) DO UPDATE SET seq = seq + excluded.seq
         RETURNING seq",
        params![ws, ns.as_str(), count as i64],
        |r| r.get(0),
    )?;
    Ok(last - count as i64 + 1)
}

/// Empties `ns` and starts its next epoch.
fn clear(tx: &Transaction<'_>, ws: &str, ns: VectorNamespace) -> Result<()> {
    for sql in [
        "DELETE FROM vectors WHERE workspace = ?1 AND namespace = ?2",
        "DELETE FROM vector_tombstones WHERE workspace = ?1 AND namespace = ?2",
        "INSERT INTO vector_heads (workspace, namespace, seq, epoch) VALUES (?1, ?2, 0, 1)
         ON CONFLICT (workspace, namespace) DO UPDATE SET epoch = epoch + 1",
    ] {
        tx.execute(sql, params![ws, ns.as_str()])?;
    }
    Ok(())
}

/// Inserts `items` into `ns` within `tx`, all of `dim` dimensions (the first item's
/// when `None`).
fn insert_vectors(
    tx: &Transaction<'_>,
    ws: &str,
    ns: VectorNamespace,
    items: &[VectorRecord],
    mut dim: Option<usize>,
) -> Result<()> {
    if items.is_empty() {
        return Ok(());
    }
    let first = next_seqs(tx, ws, ns, items.len())?;
    let mut insert = tx.prepare_cached(
        "INSERT OR REPLACE INTO vectors (workspace, namespace, id, dim, vector, meta, seq)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?;
    let mut untomb = tx.prepare_cached(
        "DELETE FROM vector_tombstones WHERE workspace = ?1 AND namespace = ?2 AND id = ?3",
    )?;
    for (item, seq) in items.iter().zip(first..) {
        let given = item.vector.len();
        match dim {
            Some(stored) if stored != given => {
                return Err(StorageError::DimensionMismatch {
                    namespace: ns.as_str(),
                    stored,
                    given,
                });
            }
            _ => dim = Some(given),
        }
        insert.execute(params![
            ws,
            ns.as_str(),
            item.id,
            given as i64,
            to_blob(&item.vector),
            item.meta.to_string(),
            seq
        ])?;
        untomb.execute(params![ws, ns.as_str(), item.id])?;
    }
    Ok(())
}

fn record(id: String, blob: &[u8], meta: &str) -> Result<VectorRecord> {
    Ok(VectorRecord {
        id,
        vector: from_blob(blob),
        meta: serde_json::from_str(meta)?,
    })
}

/// Rows of `ns` with a change number above `after` (all when `None`).
fn rows_after(
    conn: &Connection,
    ws: &str,
    ns: VectorNamespace,
    after: Option<u64>,
) -> Result<Vec<VectorRecord>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, vector, meta FROM vectors WHERE workspace = ?1 AND namespace = ?2 AND seq > ?3",
    )?;
    let after = after.map_or(-1, |a| a as i64);
    let rows = stmt
        .query_map(params![ws, ns.as_str(), after], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, Vec<u8>>(1)?,
                r.get::<_, String>(2)?,
            ))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    rows.into_iter()
        .map(|(id, blob, meta)| record(id, &blob, &meta))
        .collect()
}

impl SqliteStorage {
    /// Removes the index of a namespace just emptied: its epoch is past, so no reader
    /// would use it, and it may be large. A reader that mapped it keeps its maps.
    fn remove_segment(&self, ns: VectorNamespace) -> Result<()> {
        Ok(crate::storage::ann::manifest::remove_all(
            &self.index_dir,
            ns.as_str(),
        )?)
    }
}

impl VectorStorage for SqliteStorage {
    fn vectors_upsert(&self, ns: VectorNamespace, items: &[VectorRecord]) -> Result<()> {
        self.vectors_upsert_many(&[(ns, items)])
    }

    fn vectors_upsert_many(&self, batches: &[(VectorNamespace, &[VectorRecord])]) -> Result<()> {
        self.with(|conn, ws| {
            let dims = batches
                .iter()
                .map(|(ns, _)| stored_dim(conn, ws, *ns))
                .collect::<Result<Vec<_>>>()?;
            let tx = conn.transaction()?;
            for ((ns, items), dim) in batches.iter().zip(dims) {
                insert_vectors(&tx, ws, *ns, items, dim)?;
            }
            Ok(tx.commit()?)
        })
    }

    fn vectors_replace(&self, ns: VectorNamespace, items: &[VectorRecord]) -> Result<()> {
        self.with(|conn, ws| {
            let tx = conn.transaction()?;
            clear(&tx, ws, ns)?;
            insert_vectors(&tx, ws, ns, items, None)?;
            Ok(tx.commit()?)
        })?;
        self.remove_segment(ns)
    }

    fn vectors_dim(&self, ns: VectorNamespace) -> Result<Option<usize>> {
        self.read(|conn, ws| stored_dim(conn, ws, ns))
    }

    fn vectors_delete(&self, ns: VectorNamespace, ids: &[String]) -> Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        self.with(|conn, ws| {
            let tx = conn.transaction()?;
            let first = next_seqs(&tx, ws, ns, ids.len())?;
            {
                let mut delete = tx.prepare_cached(
                    "DELETE FROM vectors WHERE workspace = ?1 AND namespace = ?2 AND id = ?3",
                )?;
                let mut tomb = tx.prepare_cached(
                    "INSERT OR REPLACE INTO vector_tombstones (workspace, namespace, id, seq)
                     VALUES (?1, ?2, ?3, ?4)",
                )?;
                for (id, seq) in ids.iter().zip(first..) {
                    if delete.execute(params![ws, ns.as_str(), id])? > 0 {
                        tomb.execute(params![ws, ns.as_str(), id, seq])?;
                    }
                }
            }
            Ok(tx.commit()?)
        })
    }

    fn vectors_drop(&self, ns: VectorNamespace) -> Result<()> {
        self.with(|conn, ws| {
            let tx = conn.transaction()?;
            clear(&tx, ws, ns)?;
            Ok(tx.commit()?)
        })?;
        self.remove_segment(ns)
    }

    fn vectors_all(&self, ns: VectorNamespace) -> Result<Vec<VectorRecord>> {
        self.read(|conn, ws| rows_after(conn, ws, ns, None))
    }

    fn vectors_changes(
        &self,
        ns: VectorNamespace,
        after: Option<u64>,
    ) -> Result<Option<VectorChanges>> {
        self.read(|conn, ws| {
            // One read transaction: the head, the rows and the tombstones agree.
            let tx = conn.unchecked_transaction()?;
            let (head, epoch) = tx
                .query_row(
                    "SELECT seq, epoch FROM vector_heads WHERE workspace = ?1 AND namespace = ?2",
                    params![ws, ns.as_str()],
                    |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)),
                )
                .optional()?
                .unwrap_or((0, 0));
            let upserted = rows_after(&tx, ws, ns, after)?;
            let deleted = match after {
                None => Vec::new(),
                Some(after) => {
                    let mut stmt = tx.prepare_cached(
                        "SELECT id FROM vector_tombstones
                         WHERE workspace = ?1 AND namespace = ?2 AND seq > ?3",
                    )?;
                    stmt.query_map(params![ws, ns.as_str(), after as i64], |r| r.get(0))?
                        .collect::<rusqlite::Result<Vec<String>>>()?
                }
            };
            tx.finish()?;
            Ok(Some(VectorChanges {
                epoch: epoch as u64,
                head: head as u64,
                upserted,
                deleted,
            }))
        })
    }

    fn vector_index_dir(&self) -> Option<PathBuf> {
        Some(self.index_dir.clone())
    }

    fn vectors_reopen(&self) -> Result<Option<Box<dyn VectorStorage + Send + Sync>>> {
        Ok(Some(Box::new(SqliteStorage::open(
            &self.working_dir,
            &self.workspace,
        )?)))
    }

    fn vectors_forget_deletions(&self, ns: VectorNamespace, upto: u64) -> Result<()> {
        self.with(|conn, ws| {
            conn.prepare_cached(
                "DELETE FROM vector_tombstones WHERE workspace = ?1 AND namespace = ?2 AND seq <= ?3",
            )?
            .execute(params![ws, ns.as_str(), upto as i64])?;
            Ok(())
        })
    }
}
