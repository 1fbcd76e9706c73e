//! `PGDocStatusStorage`: one `LIGHTRAG_DOC_STATUS` row per document, with LightRAG's
//! columns and conventions (a missing `chunks_count` is `-1`, times are naive UTC
//! `timestamp`s read back as `…+00:00`). Paging, sorting, counts and track ids are SQL
//! over LightRAG's indexes; `content_hash` is left as LightRAG wrote it. A reservation
//! is one transaction of `INSERT … ON CONFLICT DO NOTHING`, rolled back as a whole when
//! one id exists.
//!
//! `chunks_list` is where LightRAG looks for a document's chunks (its deletion reads
//! it); we keep that list in the document's `full_docs` record (`meta` of
//! `LIGHTRAG_DOC_FULL`), so each write copies it from there when that row is in the same
//! database, and keeps the stored list otherwise. The `full_docs` read does the reverse
//! for documents LightRAG wrote ([`super::layout`]).

use std::collections::HashSet;
use std::sync::Arc;

use chrono::{DateTime, NaiveDateTime, Timelike};
use postgres::Row;
use postgres::types::ToSql;
use serde_json::{Value, json};

use super::pool::Pool;
use super::{PostgresConfig, first_refused, last_of_each};
use crate::storage::{
    DocPageQuery, DocSort, DocStatus, DocStatusRecord, DocStatusStorage, Result, WorkspaceListing,
};

const COLUMNS: &str = "id, status, file_path, track_id, content_summary, content_length, \
                       chunks_count, error_msg, metadata, created_at, updated_at";

/// The chunk ids of the document `$id` as its `full_docs` record has them (NULL
/// without one).
macro_rules! chunks_of_doc {
    ($id:literal) => {
        concat!(
            // `$1::text` as in the select list: one parameter, one type.
            "(SELECT f.meta->'chunks_list' FROM lightrag_doc_full f WHERE f.workspace = $1::text \
             AND f.id = ",
            $id,
            " AND jsonb_typeof(f.meta->'chunks_list') = 'array')"
        )
    };
}

/// A batch in one statement: `$1` the workspace, then one array per column.
const UPSERT: &str = concat!(
    "INSERT INTO lightrag_doc_status (workspace, id, status, file_path, track_id, \
     content_summary, content_length, chunks_count, error_msg, metadata, created_at, updated_at, \
     chunks_list) SELECT $1::text, u.*, COALESCE(",
    chunks_of_doc!("u.id"),
    ", '[]'::jsonb) FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], \
     $7::int4[], $8::int4[], $9::text[], $10::jsonb[], $11::timestamp[], $12::timestamp[]) \
     AS u(id, status, file_path, track_id, content_summary, content_length, chunks_count, \
     error_msg, metadata, created_at, updated_at) ON CONFLICT (workspace, id)"
);

const UPDATE: &str = concat!(
    "DO UPDATE SET chunks_list = COALESCE(",
    chunks_of_doc!("EXCLUDED.id"),
    ", lightrag_doc_status.chunks_list), status = EXCLUDED.status, file_path = EXCLUDED.file_path, \
     track_id = EXCLUDED.track_id, content_summary = EXCLUDED.content_summary, \
     content_length = EXCLUDED.content_length, chunks_count = EXCLUDED.chunks_count, \
     error_msg = EXCLUDED.error_msg, metadata = EXCLUDED.metadata, \
     created_at = EXCLUDED.created_at, updated_at = EXCLUDED.updated_at"
);

/// The column is `varchar(255)`.
const SUMMARY_CHARS: usize = 255;

pub struct PgDocStatus {
    pool: Arc<Pool>,
    /// The LightRAG workspace this handle serves.
    lightrag_workspace: String,
    /// The `workspace` column's value.
    workspace: String,
    /// POSTGRES_WORKSPACE is set: every LightRAG workspace shares these rows.
    pinned: bool,
}

/// The records' parameters after the workspace, one array per column.
#[derive(Default)]
struct Params {
    id: Vec<String>,
    status: Vec<&'static str>,
    file_path: Vec<String>,
    track_id: Vec<Option<String>>,
    summary: Vec<String>,
    length: Vec<i32>,
    chunks: Vec<i32>,
    error: Vec<Option<String>>,
    metadata: Vec<Value>,
    created: Vec<Option<NaiveDateTime>>,
    updated: Vec<Option<NaiveDateTime>>,
}

impl Params {
    fn of<'a>(docs: impl IntoIterator<Item = &'a DocStatusRecord>) -> Params {
        let mut p = Params::default();
        for doc in docs {
            p.id.push(doc.id.clone());
            p.status.push(doc.status.as_str());
            p.file_path.push(doc.file_path.clone());
            p.track_id.push(doc.track_id.clone());
            p.summary
                .push(doc.content_summary.chars().take(SUMMARY_CHARS).collect());
            p.length
                .push(i32::try_from(doc.content_length).unwrap_or(i32::MAX));
            p.chunks.push(
                doc.chunks_count
                    .map_or(-1, |n| i32::try_from(n).unwrap_or(i32::MAX)),
            );
            p.error.push(doc.error_msg.clone());
            p.metadata.push(match &doc.metadata {
                m @ Value::Object(_) => m.clone(),
                _ => json!({}),
            });
            p.created.push(to_timestamp(&doc.created_at));
            p.updated.push(to_timestamp(&doc.updated_at));
        }
        p
    }

    fn list<'a>(&'a self, workspace: &'a String) -> [&'a (dyn ToSql + Sync); 12] {
        [
            workspace,
            &self.id,
            &self.status,
            &self.file_path,
            &self.track_id,
            &self.summary,
            &self.length,
            &self.chunks,
            &self.error,
            &self.metadata,
            &self.created,
            &self.updated,
        ]
    }
}

/// An ISO time as LightRAG stores it: converted to UTC, the offset dropped (a time
/// without one is taken as UTC).
fn to_timestamp(iso: &str) -> Option<NaiveDateTime> {
    DateTime::parse_from_rfc3339(iso)
        .map(|t| t.naive_utc())
        .or_else(|_| NaiveDateTime::parse_from_str(iso, "%Y-%m-%dT%H:%M:%S%.f"))
        .ok()
}

/// LightRAG's `isoformat()` of a stored time, tagged UTC (no fraction when it is 0).
fn from_timestamp(t: Option<NaiveDateTime>) -> String {
    match t {
        None => String::new(),
        Some(t) if t.nanosecond() == 0 => t.format("%Y-%m-%dT%H:%M:%S+00:00").to_string(),
        Some(t) => t.format("%Y-%m-%dT%H:%M:%S%.6f+00:00").to_string(),
    }
}

fn record(row: &Row) -> std::result::Result<DocStatusRecord, postgres::Error> {
    let text = |i: usize| -> std::result::Result<String, postgres::Error> {
        Ok(row.try_get::<_, Option<String>>(i)?.unwrap_or_default())
    };
    let status: Option<String> = row.try_get(1)?;
    Ok(DocStatusRecord {
        id: row.try_get(0)?,
        status: status
            .as_deref()
            .and_then(DocStatus::parse)
            .unwrap_or(DocStatus::Failed),
        file_path: text(2)?,
        track_id: row.try_get(3)?,
        content_summary: text(4)?,
        content_length: row
            .try_get::<_, Option<i32>>(5)?
            .map_or(0, |n| usize::try_from(n).unwrap_or(0)),
        chunks_count: row
            .try_get::<_, Option<i32>>(6)?
            .and_then(|n| usize::try_from(n).ok()),
        error_msg: row.try_get(7)?,
        metadata: match row.try_get::<_, Option<Value>>(8)? {
            Some(m @ Value::Object(_)) => m,
            _ => json!({}),
        },
        created_at: from_timestamp(row.try_get(9)?),
        updated_at: from_timestamp(row.try_get(10)?),
    })
}

/// ORDER BY of a page, `id` breaking ties as in the other backends. Text columns sort
/// bytewise (`COLLATE "C"`), as SQLite and Redis do, whatever the database collation.
fn order(sort: DocSort, descending: bool) -> String {
    let dir = if descending { "DESC" } else { "ASC" };
    let column = match sort {
        DocSort::CreatedAt => "created_at",
        DocSort::UpdatedAt => "updated_at",
        DocSort::Id => "id COLLATE \"C\"",
        DocSort::FilePath => "file_path COLLATE \"C\"",
    };
    format!("{column} {dir} NULLS LAST, id COLLATE \"C\" ASC")
}

impl PgDocStatus {
    /// Reaches PostgreSQL (once per process and configuration) and makes the schema.
    pub fn open(config: &PostgresConfig, workspace: &str) -> Result<PgDocStatus> {
        Ok(PgDocStatus {
            pool: Pool::shared(config)?,
            lightrag_workspace: workspace.to_owned(),
            workspace: config.effective_workspace(workspace),
            pinned: config.workspace.as_deref().is_some_and(|w| !w.is_empty()),
        })
    }

    /// The workspace's records matching `clause` (`$2` is `value`), oldest first.
    fn records_where(&self, clause: &str, value: &str) -> Result<Vec<DocStatusRecord>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM lightrag_doc_status WHERE workspace = $1 AND {clause} \
             ORDER BY created_at ASC NULLS FIRST, id COLLATE \"C\""
        );
        let value = value.to_owned();
        self.pool.run(|client| {
            // The idle pipeline's poll reads the unfinished ones twice a second.
            let statement = client.prepared(&sql)?;
            client
                .query(&statement, &[&self.workspace, &value])?
                .iter()
                .map(record)
                .collect()
        })
    }
}

impl DocStatusStorage for PgDocStatus {
    fn docs_page(&self, query: &DocPageQuery) -> Result<(Vec<DocStatusRecord>, usize)> {
        let statuses: Vec<String> = query
            .statuses
            .iter()
            .map(|s| s.as_str().to_owned())
            .collect();
        let filter = if statuses.is_empty() {
            ""
        } else {
            " AND status = ANY($2)"
        };
        let count =
            format!("SELECT COUNT(*) FROM lightrag_doc_status WHERE workspace = $1{filter}");
        let (limit_at, offset_at) = if statuses.is_empty() { (2, 3) } else { (3, 4) };
        let page = format!(
            "SELECT {COLUMNS} FROM lightrag_doc_status WHERE workspace = $1{filter} \
             ORDER BY {} LIMIT ${limit_at} OFFSET ${offset_at}",
            order(query.sort, query.descending)
        );
        // Past i64 is past every row: an empty page, not a wrapped one.
        let limit = i64::try_from(query.limit).unwrap_or(i64::MAX);
        let offset = i64::try_from(query.offset).unwrap_or(i64::MAX);
        self.pool.run(|client| {
            let mut scope: Vec<&(dyn ToSql + Sync)> = vec![&self.workspace];
            if !statuses.is_empty() {
                scope.push(&statuses);
            }
            let total: i64 = client.query_one(&count, &scope)?.try_get(0)?;
            scope.extend([&limit as &(dyn ToSql + Sync), &offset]);
            let docs = client
                .query(&page, &scope)?
                .iter()
                .map(record)
                .collect::<std::result::Result<Vec<_>, _>>()?;
            Ok((docs, usize::try_from(total).unwrap_or(0)))
        })
    }

    /// One statement; of an id given twice the last record wins.
    fn doc_upsert(&self, docs: &[DocStatusRecord]) -> Result<()> {
        if docs.is_empty() {
            return Ok(());
        }
        let params = Params::of(last_of_each(docs, |d| d.id.as_str()));
        let sql = format!("{UPSERT} {UPDATE}");
        self.pool.run(|client| {
            let statement = client.prepared(&sql)?;
            client
                .execute(&statement, &params.list(&self.workspace))
                .map(drop)
        })
    }

    fn doc_insert_new(&self, docs: &[DocStatusRecord]) -> Result<Option<DocStatusRecord>> {
        if docs.is_empty() {
            return Ok(None);
        }
        let params = Params::of(docs);
        let sql = format!("{UPSERT} DO NOTHING RETURNING id");
        let held =
            format!("SELECT {COLUMNS} FROM lightrag_doc_status WHERE workspace = $1 AND id = $2");
        self.pool.run(|client| {
            let insert = client.prepared(&sql)?;
            let mut tx = client.transaction()?;
            let written: HashSet<String> = tx
                .query(&insert, &params.list(&self.workspace))?
                .iter()
                .map(|row| row.try_get(0))
                .collect::<std::result::Result<_, _>>()?;
            if let Some(id) = first_refused(&params.id, &written) {
                // The conflicting row is committed (the insert waited for it) or is an
                // earlier record of this batch; dropping the transaction undoes the
                // others.
                let row = tx.query_one(&held, &[&self.workspace, id])?;
                return record(&row).map(Some);
            }
            tx.commit()?;
            Ok(None)
        })
    }

    fn doc_get(&self, id: &str) -> Result<Option<DocStatusRecord>> {
        Ok(self.records_where("id = $2", id)?.into_iter().next())
    }

    fn docs_with_status(&self, status: DocStatus) -> Result<Vec<DocStatusRecord>> {
        self.records_where("status = $2", status.as_str())
    }

    fn docs_with_track_id(&self, track_id: &str) -> Result<Vec<DocStatusRecord>> {
        self.records_where("track_id = $2", track_id)
    }

    fn status_counts(&self) -> Result<Vec<(DocStatus, usize)>> {
        let rows: Vec<(Option<String>, i64)> = self.pool.run(|client| {
            client
                .query(
                    "SELECT status, COUNT(*) FROM lightrag_doc_status WHERE workspace = $1 \
                     GROUP BY status",
                    &[&self.workspace],
                )?
                .iter()
                .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
                .collect()
        })?;
        let mut counts: Vec<(DocStatus, usize)> = rows
            .into_iter()
            .filter_map(|(s, n)| Some((DocStatus::parse(s.as_deref()?)?, usize::try_from(n).ok()?)))
            .collect();
        counts.sort_by_key(|(s, _)| s.as_str());
        Ok(counts)
    }

    fn doc_delete(&self, ids: &[String]) -> Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        let ids = ids.to_vec();
        self.pool.run(|client| {
            client
                .execute(
                    "DELETE FROM lightrag_doc_status WHERE workspace = $1 AND id = ANY($2)",
                    &[&self.workspace, &ids],
                )
                .map(drop)
        })
    }

    fn docs_drop(&self) -> Result<()> {
        self.pool.run(|client| {
            client
                .execute(
                    "DELETE FROM lightrag_doc_status WHERE workspace = $1",
                    &[&self.workspace],
                )
                .map(drop)
        })
    }
}

impl WorkspaceListing for PgDocStatus {
    /// LightRAG workspaces, not `workspace` values: this handle's own workspace for its
    /// rows (all of them under POSTGRES_WORKSPACE), `default` read as the unnamed one.
    fn workspaces_with_status(&self, statuses: &[DocStatus]) -> Result<Vec<String>> {
        let statuses: Vec<String> = statuses.iter().map(|s| s.as_str().to_owned()).collect();
        let found: Vec<String> = self.pool.run(|client| {
            client
                .query(
                    "SELECT DISTINCT workspace FROM lightrag_doc_status WHERE status = ANY($1) \
                     AND (workspace = $2 OR NOT $3)",
                    &[&statuses, &self.workspace, &self.pinned],
                )?
                .iter()
                .map(|r| r.try_get(0))
                .collect()
        })?;
        let mut names: Vec<String> = found
            .into_iter()
            .map(|ws| match ws {
                ws if ws == self.workspace => self.lightrag_workspace.clone(),
                ws if ws == "default" => String::new(),
                ws => ws,
            })
            .collect();
        names.sort();
        names.dedup();
        Ok(names)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_stored_naive_utc_and_read_as_lightrag_writes_them() {
        let t = to_timestamp("2026-11-29T09:07:09+01:00").unwrap();
        assert_eq!(from_timestamp(Some(t)), "2026-11-29T08:07:09+00:00");
        let micro = to_timestamp("2026-11-29T08:07:09.208062+00:00").unwrap();
        assert_eq!(
            from_timestamp(Some(micro)),
            "2026-11-29T08:07:09.208062+00:00"
        );
        let naive = to_timestamp("2026-11-29T08:07:09").unwrap();
        assert_eq!(from_timestamp(Some(naive)), "2026-11-29T08:07:09+00:00");
        assert_eq!(to_timestamp("yesterday"), None);
        assert_eq!(from_timestamp(None), "");
    }

    #[test]
    fn pages_sort_bytewise_with_the_id_breaking_ties() {
        assert_eq!(
            order(DocSort::FilePath, true),
            "file_path COLLATE \"C\" DESC NULLS LAST, id COLLATE \"C\" ASC"
        );
        assert_eq!(
            order(DocSort::CreatedAt, false),
            "created_at ASC NULLS LAST, id COLLATE \"C\" ASC"
        );
    }
}
