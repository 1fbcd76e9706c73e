//! `RedisDocStatusStorage`: one string key `{fn}:{doc_id}` per document holding its
//! JSON, and LightRAG's index keys beside it, kept in the same transaction as the
//! record: a sorted set per status (`{fn}__sched:status:{status}`, members
//! `"{created_at}|{doc_id}"`, score 0, so lexical order is creation order) that pages and
//! counts come from, and a set of ids per file basename (`{fn}__sched:basename:{name}`).
//!
//! Writes are LightRAG's optimistic transactions: WATCH the record, read it, then
//! MULTI/EXEC the record and its index moves, again when another writer got between.

use std::sync::Arc;

use redis::Connection;
use serde_json::{Map, Value, json};

use super::pool::Pool;
use super::{RedisConfig, any, delete_matching, glob_escape, pyjson, scan};
use crate::storage::{
    DocPageQuery, DocSort, DocStatus, DocStatusRecord, DocStatusStorage, Result, WorkspaceListing,
};

/// LightRAG gives an optimistic write this many tries.
const ATTEMPTS: usize = 50;
const NAMESPACE: &str = "doc_status";

pub struct RedisDocStatus {
    pool: Arc<Pool>,
    workspace: String,
    /// `{fn}`, e.g. `doc_status` or `ws1_doc_status`.
    prefix: String,
}

/// What a write does to one document.
enum Change<'a> {
    Put(&'a DocStatusRecord),
    Delete(&'a str),
}

impl Change<'_> {
    fn id(&self) -> &str {
        match self {
            Change::Put(doc) => &doc.id,
            Change::Delete(id) => id,
        }
    }
}

impl RedisDocStatus {
    /// Connects (once per process and URL), checks Redis, and rebuilds the index keys
    /// when records exist without any (as LightRAG does at initialisation).
    pub fn open(config: &RedisConfig, workspace: &str) -> Result<RedisDocStatus> {
        let store = RedisDocStatus {
            pool: super::pool(config)?,
            workspace: workspace.to_owned(),
            prefix: config.final_namespace(workspace, NAMESPACE),
        };
        store.rebuild_missing_index()?;
        Ok(store)
    }

    fn record_key(&self, id: &str) -> String {
        format!("{}:{id}", self.prefix)
    }

    fn status_key(&self, status: &str) -> String {
        format!("{}__sched:status:{status}", self.prefix)
    }

    fn basename_key(&self, basename: &str) -> String {
        format!("{}__sched:basename:{basename}", self.prefix)
    }

    fn records_pattern(&self) -> String {
        format!("{}:*", glob_escape(&self.prefix))
    }

    /// Adds the index entries of `record` (stored JSON of `id`) to `pipe`, or removes
    /// them.
    fn index(&self, pipe: &mut redis::Pipeline, id: &str, record: &Value, add: bool) {
        let status = record.get("status").and_then(Value::as_str).unwrap_or("");
        let key = self.status_key(status);
        let member = member(record, id);
        if add {
            pipe.zadd(key, member, 0).ignore();
        } else {
            pipe.zrem(key, member).ignore();
        }
        if let Some(name) = indexed_basename(record) {
            let key = self.basename_key(name);
            if add {
                pipe.sadd(key, id).ignore();
            } else {
                pipe.srem(key, id).ignore();
            }
        }
    }

    /// Applies `changes` in one transaction. With `only_new`, nothing is written when
    /// one of the documents exists: its record comes back.
    fn write(&self, changes: &[Change<'_>], only_new: bool) -> Result<Option<DocStatusRecord>> {
        if changes.is_empty() {
            return Ok(None);
        }
        let keys: Vec<String> = changes.iter().map(|c| self.record_key(c.id())).collect();
        self.pool.run(!only_new, |c| {
            for _ in 0..ATTEMPTS {
                redis::cmd("WATCH").arg(&keys).query::<()>(c)?;
                let old: Vec<Option<String>> = redis::cmd("MGET").arg(&keys).query(c)?;
                let old: Vec<Option<Value>> = old
                    .iter()
                    .map(|t| t.as_deref().and_then(|t| serde_json::from_str(t).ok()))
                    .collect();
                if only_new {
                    let held = changes.iter().zip(&old).find_map(|(change, old)| {
                        old.as_ref().map(|v| from_json(change.id(), v.clone()))
                    });
                    if let Some(held) = held {
                        redis::cmd("UNWATCH").query::<()>(c)?;
                        return Ok(Some(held));
                    }
                }
                let mut tx = redis::pipe();
                tx.atomic();
                for ((change, key), old) in changes.iter().zip(&keys).zip(old) {
                    if let Some(old) = &old {
                        self.index(&mut tx, change.id(), old, false);
                    }
                    match change {
                        Change::Put(doc) => {
                            let new = to_json(doc, old);
                            tx.set(key, pyjson::dumps(&new).map_err(json_error)?)
                                .ignore();
                            self.index(&mut tx, &doc.id, &new, true);
                        }
                        Change::Delete(_) => {
                            tx.del(key).ignore();
                        }
                    }
                }
                if tx.query::<Option<redis::Value>>(c)?.is_some() {
                    return Ok(None);
                }
            }
            Err(redis::RedisError::from((
                redis::ErrorKind::Client,
                "document status write kept conflicting",
                format!("{ATTEMPTS} attempts"),
            )))
        })
    }

    /// Records of `ids`, in that order, skipping ids whose record is gone.
    fn records(&self, ids: &[String]) -> Result<Vec<DocStatusRecord>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let keys: Vec<String> = ids.iter().map(|id| self.record_key(id)).collect();
        let texts: Vec<Option<String>> = self.pool.run(true, |c| {
            let mut all = Vec::with_capacity(keys.len());
            for batch in keys.chunks(1000) {
                let part: Vec<Option<String>> = redis::cmd("MGET").arg(batch).query(c)?;
                all.extend(part);
            }
            Ok(all)
        })?;
        ids.iter()
            .zip(texts)
            .filter_map(|(id, t)| t.map(|t| (id, t)))
            .map(|(id, t)| Ok(from_json(id, serde_json::from_str(&t)?)))
            .collect()
    }

    /// Every record of the workspace (a full SCAN, as LightRAG's listings do).
    fn all_records(&self) -> Result<Vec<DocStatusRecord>> {
        let prefix = format!("{}:", self.prefix);
        let pattern = self.records_pattern();
        let ids: Vec<String> = self
            .pool
            .run(true, |c| scan(c, &pattern))?
            .into_iter()
            .filter_map(|k| k.strip_prefix(&prefix).map(str::to_owned))
            .collect();
        self.records(&ids)
    }

    /// Members of a status's sorted set, by rank (`stop` inclusive, -1: all).
    fn members(&self, status: DocStatus, stop: isize, descending: bool) -> Result<Vec<String>> {
        let key = self.status_key(status.as_str());
        self.pool.run(true, |c| {
            let mut cmd = redis::cmd("ZRANGE");
            cmd.arg(&key).arg(0).arg(stop);
            if descending {
                cmd.arg("REV");
            }
            cmd.query(c)
        })
    }

    fn counts(&self, statuses: &[DocStatus]) -> Result<Vec<usize>> {
        let keys: Vec<String> = statuses
            .iter()
            .map(|s| self.status_key(s.as_str()))
            .collect();
        self.pool.run(true, |c| {
            let mut pipe = redis::pipe();
            for key in &keys {
                pipe.zcard(key);
            }
            pipe.query(c)
        })
    }

    /// LightRAG rebuilds the index when records exist and no status key does.
    fn rebuild_missing_index(&self) -> Result<()> {
        let index_pattern = format!("{}__sched:status:*", glob_escape(&self.prefix));
        let pattern = self.records_pattern();
        let (indexed, rows) = self
            .pool
            .run(true, |c| Ok((any(c, &index_pattern)?, any(c, &pattern)?)))?;
        if indexed || !rows {
            return Ok(());
        }
        let docs = self.all_records()?;
        tracing::info!(prefix = %self.prefix, documents = docs.len(),
            "rebuilding the Redis document-status index");
        let mut pipe = redis::pipe();
        for doc in &docs {
            self.index(&mut pipe, &doc.id, &to_json(doc, None), true);
        }
        self.pool.run(true, |c| pipe.query::<()>(c))
    }
}

fn json_error(e: serde_json::Error) -> redis::RedisError {
    redis::RedisError::from((
        redis::ErrorKind::Client,
        "document status not serialisable",
        e.to_string(),
    ))
}

/// `"{created_at}|{doc_id}"`.
fn member(record: &Value, id: &str) -> String {
    let created = record
        .get("created_at")
        .and_then(Value::as_str)
        .unwrap_or("");
    format!("{created}|{id}")
}

/// `(created_at, doc_id)` of a member.
fn member_parts(member: &str) -> (&str, &str) {
    member.split_once('|').unwrap_or(("", member))
}

fn member_id(member: &str) -> &str {
    member_parts(member).1
}

/// The basename a primary record is found under; duplicates and placeholder paths
/// have none.
fn indexed_basename(record: &Value) -> Option<&str> {
    let duplicate = record
        .pointer("/metadata/is_duplicate")
        .is_some_and(|d| match d {
            Value::Bool(b) => *b,
            Value::Null => false,
            Value::String(s) => !s.is_empty(),
            Value::Number(n) => n.as_f64() != Some(0.0),
            _ => true,
        });
    let path = record.get("file_path").and_then(Value::as_str)?;
    let name = path.rsplit('/').next().unwrap_or(path);
    (!duplicate && !matches!(name, "" | "unknown_source" | "no-file-path")).then_some(name)
}

/// The stored JSON of `doc`: LightRAG's fields over the old record's, so that fields we
/// do not model (`chunks_list`, `content_hash` ...) survive our writes.
fn to_json(doc: &DocStatusRecord, old: Option<Value>) -> Value {
    let mut record = match old {
        Some(Value::Object(fields)) => fields,
        _ => Map::new(),
    };
    for (key, value) in [
        ("status", json!(doc.status.as_str())),
        ("content_summary", json!(doc.content_summary)),
        ("content_length", json!(doc.content_length)),
        ("file_path", json!(doc.file_path)),
        ("track_id", json!(doc.track_id)),
        ("created_at", json!(doc.created_at)),
        ("updated_at", json!(doc.updated_at)),
        ("metadata", doc.metadata.clone()),
    ] {
        record.insert(key.to_owned(), value);
    }
    for (key, value) in [
        ("chunks_count", doc.chunks_count.map(|n| json!(n))),
        ("error_msg", doc.error_msg.as_ref().map(|m| json!(m))),
    ] {
        match value {
            Some(v) => record.insert(key.to_owned(), v),
            None => record.remove(key),
        };
    }
    record.entry("chunks_list").or_insert_with(|| json!([]));
    Value::Object(record)
}

/// A stored record, with LightRAG's defaults for what it lacks.
fn from_json(id: &str, record: Value) -> DocStatusRecord {
    let text = |k: &str| {
        record
            .get(k)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned()
    };
    DocStatusRecord {
        id: id.to_owned(),
        status: DocStatus::parse(&text("status")).unwrap_or(DocStatus::Failed),
        file_path: text("file_path"),
        track_id: record
            .get("track_id")
            .and_then(Value::as_str)
            .map(str::to_owned),
        content_summary: text("content_summary"),
        content_length: record
            .get("content_length")
            .and_then(Value::as_u64)
            .unwrap_or(0) as usize,
        chunks_count: record
            .get("chunks_count")
            .and_then(Value::as_u64)
            .map(|n| n as usize),
        error_msg: record
            .get("error_msg")
            .and_then(Value::as_str)
            .map(str::to_owned),
        metadata: match record.get("metadata") {
            Some(m @ Value::Object(_)) => m.clone(),
            _ => json!({}),
        },
        created_at: text("created_at"),
        updated_at: text("updated_at"),
    }
}

/// The sort key of the paginated list, then the id.
fn sort_key(doc: &DocStatusRecord, sort: DocSort) -> (&str, &str) {
    let field = match sort {
        DocSort::CreatedAt => &doc.created_at,
        DocSort::UpdatedAt => &doc.updated_at,
        DocSort::Id => &doc.id,
        DocSort::FilePath => &doc.file_path,
    };
    (field, &doc.id)
}

impl DocStatusStorage for RedisDocStatus {
    fn docs_page(&self, query: &DocPageQuery) -> Result<(Vec<DocStatusRecord>, usize)> {
        let mut statuses = if query.statuses.is_empty() {
            DocStatus::ALL.to_vec()
        } else {
            query.statuses.clone()
        };
        // A status named twice is one filter, not two sets to count and merge.
        statuses.sort();
        statuses.dedup();
        let total = self.counts(&statuses)?.into_iter().sum();
        let end = query.offset.saturating_add(query.limit);
        if query.limit == 0 {
            return Ok((Vec::new(), total));
        }
        if query.sort == DocSort::CreatedAt {
            // Creation order is the index's own: only the first offset + limit members
            // of each status are read.
            let stop = isize::try_from(end).unwrap_or(isize::MAX) - 1;
            let mut members = Vec::new();
            for status in &statuses {
                members.extend(self.members(*status, stop, query.descending)?);
            }
            // Ties in creation time go by id ascending, as the embedded store orders them.
            members.sort_by(|a, b| {
                let ((ca, ia), (cb, ib)) = (member_parts(a), member_parts(b));
                let by_time = if query.descending {
                    cb.cmp(ca)
                } else {
                    ca.cmp(cb)
                };
                by_time.then(ia.cmp(ib))
            });
            let ids: Vec<String> = members
                .iter()
                .skip(query.offset)
                .take(query.limit)
                .map(|m| member_id(m).to_owned())
                .collect();
            return Ok((self.records(&ids)?, total));
        }
        let mut docs = Vec::new();
        for status in &statuses {
            docs.extend(self.docs_with_status(*status)?);
        }
        docs.sort_by(|a, b| {
            let (ka, kb) = (sort_key(a, query.sort), sort_key(b, query.sort));
            if query.descending {
                kb.0.cmp(ka.0).then(ka.1.cmp(kb.1))
            } else {
                ka.cmp(&kb)
            }
        });
        let page = docs.into_iter().skip(query.offset).take(query.limit);
        Ok((page.collect(), total))
    }

    fn doc_upsert(&self, docs: &[DocStatusRecord]) -> Result<()> {
        let changes: Vec<Change<'_>> = docs.iter().map(Change::Put).collect();
        self.write(&changes, false).map(drop)
    }

    fn doc_insert_new(&self, docs: &[DocStatusRecord]) -> Result<Option<DocStatusRecord>> {
        let changes: Vec<Change<'_>> = docs.iter().map(Change::Put).collect();
        self.write(&changes, true)
    }

    fn doc_get(&self, id: &str) -> Result<Option<DocStatusRecord>> {
        Ok(self.records(&[id.to_owned()])?.pop())
    }

    fn docs_with_status(&self, status: DocStatus) -> Result<Vec<DocStatusRecord>> {
        let ids: Vec<String> = self
            .members(status, -1, false)?
            .iter()
            .map(|m| member_id(m).to_owned())
            .collect();
        self.records(&ids)
    }

    fn docs_with_track_id(&self, track_id: &str) -> Result<Vec<DocStatusRecord>> {
        let mut docs: Vec<DocStatusRecord> = self
            .all_records()?
            .into_iter()
            .filter(|d| d.track_id.as_deref() == Some(track_id))
            .collect();
        docs.sort_by(|a, b| (&a.created_at, &a.id).cmp(&(&b.created_at, &b.id)));
        Ok(docs)
    }

    fn status_counts(&self) -> Result<Vec<(DocStatus, usize)>> {
        let mut counts: Vec<(DocStatus, usize)> = DocStatus::ALL
            .into_iter()
            .zip(self.counts(&DocStatus::ALL)?)
            .filter(|(_, n)| *n > 0)
            .collect();
        counts.sort_by_key(|(status, _)| status.as_str());
        Ok(counts)
    }

    fn doc_delete(&self, ids: &[String]) -> Result<()> {
        let changes: Vec<Change<'_>> = ids.iter().map(|id| Change::Delete(id)).collect();
        self.write(&changes, false).map(drop)
    }

    fn docs_drop(&self) -> Result<()> {
        let prefix = glob_escape(&self.prefix);
        self.pool.run(true, |c: &mut Connection| {
            delete_matching(c, &format!("{prefix}:*"))?;
            delete_matching(c, &format!("{prefix}__sched:*"))?;
            delete_matching(c, &format!("{prefix}__sched_rebuild:*"))
        })
    }
}

impl WorkspaceListing for RedisDocStatus {
    /// Workspaces are read off the status keys' prefixes (`{ws}_doc_status__sched:...`);
    /// under REDIS_WORKSPACE every workspace shares one keyspace, so only this one is
    /// named.
    fn workspaces_with_status(&self, statuses: &[DocStatus]) -> Result<Vec<String>> {
        if self
            .pool
            .config()
            .workspace
            .as_deref()
            .is_some_and(|w| !w.trim().is_empty())
        {
            let busy = self.counts(statuses)?.into_iter().any(|n| n > 0);
            return Ok(if busy {
                vec![self.workspace.clone()]
            } else {
                Vec::new()
            });
        }
        // One SCAN over every workspace's status keys, then the counts of those asked for.
        let pattern = format!("*{NAMESPACE}__sched:status:*");
        let wanted: Vec<String> = statuses
            .iter()
            .map(|s| format!("{NAMESPACE}__sched:status:{}", s.as_str()))
            .collect();
        let keys = self.pool.run(true, |c| {
            let keys: Vec<String> = scan(c, &pattern)?
                .into_iter()
                .filter(|k| wanted.iter().any(|w| k.ends_with(w.as_str())))
                .collect();
            let mut pipe = redis::pipe();
            for key in &keys {
                pipe.zcard(key);
            }
            let counts: Vec<usize> = pipe.query(c)?;
            Ok(keys
                .into_iter()
                .zip(counts)
                .filter(|(_, n)| *n > 0)
                .map(|(k, _)| k)
                .collect::<Vec<_>>())
        })?;
        let mut names = Vec::new();
        for key in keys {
            let head = key[..key.rfind(NAMESPACE).unwrap_or(0)].to_owned();
            let name = match head.as_str() {
                "" => Some(""),
                head => head.strip_suffix('_'),
            };
            names.extend(name.map(str::to_owned));
        }
        names.sort();
        names.dedup();
        Ok(names)
    }
}
