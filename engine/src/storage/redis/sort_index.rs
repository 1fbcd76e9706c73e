//! The document list's other orders, from sorted sets of our own beside LightRAG's
//! index: LightRAG 1.5.7 keeps only creation order per status (`__sched:status:*`) and
//! sorts every other page in memory after reading every matching record. Ours, kept in
//! the record's own transaction, are `{fn}__lrm_sort:{field}:{scope}` for the fields
//! `updated_at`, `file_path` and `id` per status, and all four over every status
//! (`scope` `all`), score 0 with members `{field}\0{id}` (the field escaped so that no
//! NUL is left in it), so lexical order is the page's order: the field, then the id.
//! A page is then one `ZRANGE` by rank plus the page's records.
//!
//! Descending pages list ties by id ascending, as the embedded store does: the page is
//! read in reverse, each run of one field value turned back, and a run cut by the
//! page's edge read as its own range.
//!
//! The sets are built (`{fn}__lrm_sort:built` marks it) when missing, or when their
//! counts disagree with LightRAG's index (LightRAG wrote in between), in one MULTI/EXEC
//! that a concurrent status write makes start again.

use redis::Connection;
use serde_json::Value;

use super::doc_status::{ATTEMPTS, RedisDocStatus};
use super::scan;
use crate::storage::{DocPageQuery, DocSort, DocStatus, DocStatusRecord, Result};

/// Reads of a page whose records disagree with the set before it counts as stale.
const READ_ATTEMPTS: usize = 3;

/// Fields with a set of ours per status (creation order is LightRAG's own there).
const PER_STATUS: [DocSort; 3] = [DocSort::UpdatedAt, DocSort::FilePath, DocSort::Id];
const ALL: [DocSort; 4] = [
    DocSort::CreatedAt,
    DocSort::UpdatedAt,
    DocSort::FilePath,
    DocSort::Id,
];

/// The keys of one workspace's sets.
pub(super) struct SortKeys<'a> {
    /// `{fn}`.
    pub prefix: &'a str,
}

/// One sorted set pages are read from.
pub(super) struct Index {
    key: String,
    /// What ends the field in a member (`|` in LightRAG's, NUL in ours).
    separator: u8,
    /// The member is the id itself: no ties.
    unique: bool,
}

/// `field` with NUL and 0x01 escaped (as 0x01 0x01 and 0x01 0x02), which keeps its
/// order and leaves NUL free to end it.
fn escaped(field: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(field.len() + 1);
    for b in field.bytes() {
        match b {
            0 | 1 => out.extend([1, b + 1]),
            b => out.push(b),
        }
    }
    out
}

fn member(field: &str, id: &str) -> Vec<u8> {
    let mut m = escaped(field);
    m.push(0);
    m.extend(id.as_bytes());
    m
}

fn text<'v>(record: &'v Value, field: &str) -> &'v str {
    record.get(field).and_then(Value::as_str).unwrap_or("")
}

impl SortKeys<'_> {
    fn key(&self, sort: DocSort, scope: &str) -> String {
        format!("{}__lrm_sort:{}:{scope}", self.prefix, sort.column())
    }

    pub(super) fn built(&self) -> String {
        format!("{}__lrm_sort:built", self.prefix)
    }

    /// Every key of ours, for a rebuild or a drop.
    pub(super) fn all_keys(&self) -> Vec<String> {
        let mut keys: Vec<String> = ALL.iter().map(|s| self.key(*s, "all")).collect();
        for status in DocStatus::ALL {
            keys.extend(PER_STATUS.iter().map(|s| self.key(*s, status.as_str())));
        }
        keys.push(self.built());
        keys
    }

    /// The per-status id set, whose size must match LightRAG's status set.
    pub(super) fn id_key(&self, status: DocStatus) -> String {
        self.key(DocSort::Id, status.as_str())
    }

    /// `(key, member)` of each set `record` (stored JSON of `id`) is in.
    pub(super) fn entries(&self, id: &str, record: &Value) -> Vec<(String, Vec<u8>)> {
        let status = text(record, "status");
        let of = |sort: DocSort| match sort {
            DocSort::Id => id.as_bytes().to_vec(),
            sort => member(text(record, sort.column()), id),
        };
        let mut entries: Vec<(String, Vec<u8>)> =
            ALL.iter().map(|s| (self.key(*s, "all"), of(*s))).collect();
        entries.extend(PER_STATUS.iter().map(|s| (self.key(*s, status), of(*s))));
        entries
    }

    /// The set a page of `sort` over `status` (None: every status) is read from.
    pub(super) fn index(&self, sort: DocSort, status: Option<DocStatus>) -> Index {
        match (sort, status) {
            (DocSort::CreatedAt, Some(status)) => Index {
                key: format!("{}__sched:status:{}", self.prefix, status.as_str()),
                separator: b'|',
                unique: false,
            },
            (sort, status) => Index {
                key: self.key(sort, status.map_or("all", DocStatus::as_str)),
                separator: 0,
                unique: sort == DocSort::Id,
            },
        }
    }
}

impl Index {
    fn field<'m>(&self, member: &'m [u8]) -> &'m [u8] {
        if self.unique {
            return member;
        }
        let end = member.iter().position(|b| *b == self.separator);
        &member[..end.unwrap_or(member.len())]
    }

    fn id(&self, member: &[u8]) -> String {
        let id = if self.unique {
            member
        } else {
            let end = member.iter().position(|b| *b == self.separator);
            end.map_or(member, |e| &member[e + 1..])
        };
        String::from_utf8_lossy(id).into_owned()
    }

    /// The ids of ranks `offset..offset + limit` in the page's order.
    pub(super) fn page(
        &self,
        c: &mut Connection,
        descending: bool,
        offset: usize,
        limit: usize,
    ) -> redis::RedisResult<Vec<String>> {
        let end = offset.saturating_add(limit);
        if limit == 0 {
            return Ok(Vec::new());
        }
        let rank = |n: usize| isize::try_from(n).unwrap_or(isize::MAX);
        if !descending || self.unique {
            let mut cmd = redis::cmd("ZRANGE");
            cmd.arg(&self.key).arg(rank(offset)).arg(rank(end) - 1);
            if descending {
                cmd.arg("REV");
            }
            let members: Vec<Vec<u8>> = cmd.query(c)?;
            return Ok(members.iter().map(|m| self.id(m)).collect());
        }
        // One member beyond each edge tells whether a run of ties is cut there.
        let first = offset.saturating_sub(1);
        let window: Vec<Vec<u8>> = redis::cmd("ZRANGE")
            .arg(&self.key)
            .arg(rank(first))
            .arg(rank(end))
            .arg("REV")
            .query(c)?;
        let start = offset - first;
        if window.len() <= start {
            return Ok(Vec::new());
        }
        let stop = window.len().min(start + limit);
        let (before, after) = (
            (start > 0).then(|| self.field(&window[0])),
            window.get(stop).map(|m| self.field(m)),
        );
        let mut ids = Vec::with_capacity(limit);
        let mut run_start = start;
        while run_start < stop {
            let field = self.field(&window[run_start]);
            let run_end = (run_start..stop)
                .find(|i| self.field(&window[*i]) != field)
                .unwrap_or(stop);
            let cut = (run_start == start && before == Some(field))
                || (run_end == stop && after == Some(field));
            if cut {
                ids.extend(self.run(c, field, offset, end)?);
            } else {
                ids.extend(window[run_start..run_end].iter().rev().map(|m| self.id(m)));
            }
            run_start = run_end;
        }
        Ok(ids)
    }

    /// The part within ranks `offset..end` (descending) of the run of `field`, ids
    /// ascending.
    fn run(
        &self,
        c: &mut Connection,
        field: &[u8],
        offset: usize,
        end: usize,
    ) -> redis::RedisResult<Vec<String>> {
        let bound = |open: u8, sep: u8| {
            let mut b = vec![open];
            b.extend(field);
            b.push(sep);
            b
        };
        let (low, high) = (bound(b'[', self.separator), bound(b'(', self.separator + 1));
        let after_high = bound(b'[', self.separator + 1);
        // Ranks before the run (descending) are the members above it.
        let (above, len): (usize, usize) = redis::pipe()
            .cmd("ZLEXCOUNT")
            .arg(&self.key)
            .arg(&after_high)
            .arg("+")
            .cmd("ZLEXCOUNT")
            .arg(&self.key)
            .arg(&low)
            .arg(&high)
            .query(c)?;
        let skip = offset.max(above) - above;
        let take = end.min(above + len).saturating_sub(offset.max(above));
        let members: Vec<Vec<u8>> = redis::cmd("ZRANGE")
            .arg(&self.key)
            .arg(&low)
            .arg(&high)
            .arg("BYLEX")
            .arg("LIMIT")
            .arg(skip)
            .arg(take)
            .query(c)?;
        Ok(members.iter().map(|m| self.id(m)).collect())
    }
}

impl RedisDocStatus {
    /// A page read from the sorted sets, or None when none serves it (several statuses
    /// but not all of them, or our sets not built) or the sets turned out stale (then
    /// they are rebuilt): the caller reads every matching record instead.
    pub(super) fn indexed_page(
        &self,
        query: &DocPageQuery,
        statuses: &[DocStatus],
    ) -> Result<Option<Vec<DocStatusRecord>>> {
        let scope = match statuses {
            [one] => Some(*one),
            all if DocStatus::ALL.iter().all(|s| all.contains(s)) => None,
            _ => return Ok(None),
        };
        let keys = self.sort_keys();
        let lightrags_own = query.sort == DocSort::CreatedAt && scope.is_some();
        let built = keys.built();
        let index = keys.index(query.sort, scope);
        // A write between reading the set and the records (a deletion, a status move)
        // looks like a stale set once; only one that stays so is rebuilt.
        for _ in 0..READ_ATTEMPTS {
            let ids = self.pool.run(true, |c| {
                let usable = lightrags_own || redis::cmd("EXISTS").arg(&built).query::<bool>(c)?;
                if !usable {
                    return Ok(None);
                }
                index
                    .page(c, query.descending, query.offset, query.limit)
                    .map(Some)
            })?;
            let Some(ids) = ids else {
                return Ok(None);
            };
            let docs = self.records(&ids)?;
            let in_step =
                docs.len() == ids.len() && docs.iter().all(|d| scope.is_none_or(|s| d.status == s));
            if in_step {
                return Ok(Some(docs));
            }
        }
        tracing::warn!(prefix = %self.prefix, "the document sort sets are out of step; rebuilding them");
        self.rebuild_sort_index()?;
        Ok(None)
    }

    /// Builds our sort sets unless they are there and as large as LightRAG's status sets.
    pub(super) fn ensure_sort_index(&self) -> Result<()> {
        let keys = self.sort_keys();
        let in_step = self.pool.run(true, |c| {
            if !redis::cmd("EXISTS").arg(keys.built()).query::<bool>(c)? {
                return Ok(false);
            }
            let mut pipe = redis::pipe();
            for status in DocStatus::ALL {
                pipe.zcard(self.status_key(status.as_str()));
                pipe.zcard(keys.id_key(status));
            }
            let counts: Vec<usize> = pipe.query(c)?;
            Ok(counts.chunks(2).all(|pair| pair[0] == pair[1]))
        })?;
        if in_step {
            return Ok(());
        }
        self.rebuild_sort_index()
    }

    /// Rebuilds our sort sets from every record in one transaction, started again when
    /// any document's status changed meanwhile (every write moves LightRAG's status
    /// sets, which are watched).
    fn rebuild_sort_index(&self) -> Result<()> {
        let keys = self.sort_keys();
        let watched: Vec<String> = DocStatus::ALL
            .iter()
            .map(|s| self.status_key(s.as_str()))
            .collect();
        let prefix = format!("{}:", self.prefix);
        let pattern = self.records_pattern();
        let documents = self.pool.run(true, |c| {
            for _ in 0..ATTEMPTS {
                redis::cmd("WATCH").arg(&watched).query::<()>(c)?;
                let ids: Vec<String> = scan(c, &pattern)?;
                let mut tx = redis::pipe();
                tx.atomic().del(keys.all_keys()).ignore();
                let mut documents = 0;
                for batch in ids.chunks(1000) {
                    let texts: Vec<Option<String>> = redis::cmd("MGET").arg(batch).query(c)?;
                    for (key, text) in batch.iter().zip(texts) {
                        let (Some(id), Some(record)) = (
                            key.strip_prefix(&prefix),
                            text.and_then(|t| serde_json::from_str::<Value>(&t).ok()),
                        ) else {
                            continue;
                        };
                        documents += 1;
                        for (key, member) in keys.entries(id, &record) {
                            tx.zadd(key, member, 0).ignore();
                        }
                    }
                }
                tx.set(keys.built(), 1).ignore();
                if tx.query::<Option<redis::Value>>(c)?.is_some() {
                    return Ok(documents);
                }
            }
            Err(redis::RedisError::from((
                redis::ErrorKind::Client,
                "document sort sets: status writes kept conflicting",
                format!("{ATTEMPTS} attempts"),
            )))
        })?;
        tracing::info!(prefix = %self.prefix, documents, "built the document sort sets");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_keeps_the_order_and_frees_nul() {
        let mut fields = ["a", "a\u{0}", "a\u{1}", "a\u{2}", "ab", "", "b"];
        fields.sort();
        let encoded: Vec<Vec<u8>> = fields.iter().map(|f| member(f, "id")).collect();
        let mut sorted = encoded.clone();
        sorted.sort();
        assert_eq!(encoded, sorted);
        assert!(fields.iter().all(|f| !escaped(f).contains(&0)));
    }

    #[test]
    fn members_split_back_into_field_and_id() {
        let keys = SortKeys {
            prefix: "ws_doc_status",
        };
        let index = keys.index(DocSort::FilePath, None);
        let m = member("a.txt", "doc-1");
        assert_eq!(index.field(&m), b"a.txt");
        assert_eq!(index.id(&m), "doc-1");
        let lightrag = keys.index(DocSort::CreatedAt, Some(DocStatus::Failed));
        assert_eq!(lightrag.key, "ws_doc_status__sched:status:failed");
        assert_eq!(lightrag.id(b"2025-01-01|doc-2"), "doc-2");
        let id = keys.index(DocSort::Id, Some(DocStatus::Processed));
        assert_eq!(id.key, "ws_doc_status__lrm_sort:id:processed");
        assert_eq!(id.id(b"doc-3"), "doc-3");
    }
}
