//! How each KV namespace's JSON records map onto LightRAG 1.5.7's columns (§3.4 of the
//! storage reference): which field goes in which column, what a missing field becomes,
//! which columns an update may not blank, and how the timestamps are kept. Fields
//! without a column are dropped as LightRAG drops them, except in `full_docs`, whose
//! `meta` column (which LightRAG neither writes nor reads) keeps ours (`source_file`,
//! `chunking`, `chunks_list`, …). Our own namespaces have no LightRAG table: they are
//! whole JSON values in `lightrag_master_kv`.
//!
//! A document's chunk list is the one field two tables hold: ours in `meta`, LightRAG's
//! in `LIGHTRAG_DOC_STATUS.chunks_list` (its deletion reads it there). A `full_docs`
//! record whose `meta` has none (a document LightRAG wrote) takes the doc-status list,
//! so that deleting such a document finds its chunks.

use postgres::Row;
use postgres::types::ToSql;
use serde_json::{Map, Value, json};

use crate::storage::KvNamespace;

#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Text,
    Int,
    Json,
}

/// What a missing (or null) field is written as.
#[derive(Clone, Copy)]
pub(super) enum Missing {
    Null,
    /// A JSON literal (`[]`, `{}`).
    Json(&'static str),
    Text(&'static str),
    /// The length of the list in another field (the tracking tables' `count`).
    LenOf(&'static str),
}

#[derive(Clone, Copy)]
pub(super) struct Column {
    pub(super) field: &'static str,
    pub(super) column: &'static str,
    pub(super) kind: Kind,
    pub(super) missing: Missing,
    /// On conflict an empty new value (NULL, `''`, `{}`) keeps the stored one.
    pub(super) keep_stored: bool,
    /// Left out of a record read back when it holds this JSON (`{}` headings).
    pub(super) hide_when: Option<&'static str>,
}

const fn col(field: &'static str, column: &'static str, kind: Kind) -> Column {
    Column {
        field,
        column,
        kind,
        missing: Missing::Null,
        keep_stored: false,
        hide_when: None,
    }
}

const fn kept(c: Column) -> Column {
    Column {
        keep_stored: true,
        ..c
    }
}

const fn or(c: Column, missing: Missing) -> Column {
    Column { missing, ..c }
}

/// UTC now, naive: what LightRAG's Python writes into chunk, tracking and vector rows.
pub(super) const UTC_NOW: &str = "(now() AT TIME ZONE 'UTC')";

/// How `create_time`/`update_time` are written.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Times {
    /// The column defaults (`CURRENT_TIMESTAMP`), `update_time` refreshed on conflict.
    Database,
    /// UTC now, naive, as LightRAG's Python writes them for chunks and tracking tables.
    Utc,
}

pub(super) struct Layout {
    pub(super) table: &'static str,
    pub(super) columns: &'static [Column],
    /// The JSONB column that keeps the fields no other column takes.
    pub(super) overflow: Option<&'static str>,
    pub(super) times: Times,
    /// A field read from another table when the record lacks it: `(field, SQL of a
    /// JSON value over this table's row)`.
    pub(super) borrowed: Option<(&'static str, &'static str)>,
}

const FULL_DOCS: Layout = Layout {
    table: "lightrag_doc_full",
    columns: &[
        col("content", "content", Kind::Text),
        // Read back as '' when NULL, as LightRAG does (a missing text default is also
        // what NULL reads as).
        or(col("file_path", "doc_name", Kind::Text), Missing::Text("")),
        kept(col("sidecar_location", "sidecar_location", Kind::Text)),
        kept(col("parse_format", "parse_format", Kind::Text)),
        kept(col("content_hash", "content_hash", Kind::Text)),
        kept(col("process_options", "process_options", Kind::Text)),
        kept(col("chunk_options", "chunk_options", Kind::Json)),
        kept(col("parse_engine", "parse_engine", Kind::Text)),
    ],
    overflow: Some("meta"),
    times: Times::Database,
    borrowed: Some((
        "chunks_list",
        "(SELECT s.chunks_list FROM lightrag_doc_status s \
         WHERE s.workspace = lightrag_doc_full.workspace AND s.id = lightrag_doc_full.id)",
    )),
};

const TEXT_CHUNKS: Layout = Layout {
    table: "lightrag_doc_chunks",
    columns: &[
        col("tokens", "tokens", Kind::Int),
        col("chunk_order_index", "chunk_order_index", Kind::Int),
        col("full_doc_id", "full_doc_id", Kind::Text),
        col("content", "content", Kind::Text),
        col("file_path", "file_path", Kind::Text),
        or(
            col("llm_cache_list", "llm_cache_list", Kind::Json),
            Missing::Json("[]"),
        ),
        Column {
            hide_when: Some("{}"),
            ..or(col("heading", "heading", Kind::Json), Missing::Json("{}"))
        },
        Column {
            hide_when: Some("{}"),
            ..or(col("sidecar", "sidecar", Kind::Json), Missing::Json("{}"))
        },
    ],
    overflow: None,
    times: Times::Utc,
    borrowed: None,
};

const LLM_CACHE: Layout = Layout {
    table: "lightrag_llm_cache",
    columns: &[
        col("original_prompt", "original_prompt", Kind::Text),
        col("return", "return_value", Kind::Text),
        col("chunk_id", "chunk_id", Kind::Text),
        or(
            col("cache_type", "cache_type", Kind::Text),
            Missing::Text("extract"),
        ),
        col("queryparam", "queryparam", Kind::Json),
    ],
    overflow: None,
    times: Times::Database,
    borrowed: None,
};

macro_rules! tracking {
    ($table:literal, $payload:literal) => {
        Layout {
            table: $table,
            columns: &[
                or(col($payload, $payload, Kind::Json), Missing::Json("[]")),
                or(col("count", "count", Kind::Int), Missing::LenOf($payload)),
            ],
            overflow: None,
            times: Times::Utc,
            borrowed: None,
        }
    };
}

const FULL_ENTITIES: Layout = tracking!("lightrag_full_entities", "entity_names");
const FULL_RELATIONS: Layout = tracking!("lightrag_full_relations", "relation_pairs");
const ENTITY_CHUNKS: Layout = tracking!("lightrag_entity_chunks", "chunk_ids");
const RELATION_CHUNKS: Layout = tracking!("lightrag_relation_chunks", "chunk_ids");

/// LightRAG's table of `ns`; None for our own namespaces (`lightrag_master_kv`).
pub(super) fn of(ns: KvNamespace) -> Option<&'static Layout> {
    Some(match ns {
        KvNamespace::FullDocs => &FULL_DOCS,
        KvNamespace::TextChunks => &TEXT_CHUNKS,
        KvNamespace::LlmResponseCache => &LLM_CACHE,
        KvNamespace::FullEntities => &FULL_ENTITIES,
        KvNamespace::FullRelations => &FULL_RELATIONS,
        KvNamespace::EntityChunks => &ENTITY_CHUNKS,
        KvNamespace::RelationChunks => &RELATION_CHUNKS,
        KvNamespace::ScanJobs
        | KvNamespace::ContentHashes
        | KvNamespace::Deletions
        | KvNamespace::EmbeddingIdentity => return None,
    })
}

/// Every row's value of one column, sent as one array parameter (`unnest` turns the
/// arrays back into rows, so a batch is one statement whatever its size).
#[derive(Debug)]
pub(super) enum Values {
    Text(Vec<Option<String>>),
    Int(Vec<Option<i32>>),
    Json(Vec<Option<Value>>),
}

/// One row's value of one column.
pub(super) enum Cell {
    Text(Option<String>),
    Int(Option<i32>),
    Json(Option<Value>),
}

impl Values {
    pub(super) fn new(kind: Kind, rows: usize) -> Values {
        match kind {
            Kind::Text => Values::Text(Vec::with_capacity(rows)),
            Kind::Int => Values::Int(Vec::with_capacity(rows)),
            Kind::Json => Values::Json(Vec::with_capacity(rows)),
        }
    }

    /// The array type of the parameter.
    pub(super) fn array_type(kind: Kind) -> &'static str {
        match kind {
            Kind::Text => "text[]",
            Kind::Int => "int4[]",
            Kind::Json => "jsonb[]",
        }
    }

    /// Appends `cell`; one of another kind than the column's is a bug of the caller.
    pub(super) fn push(&mut self, cell: Cell) {
        match (self, cell) {
            (Values::Text(v), Cell::Text(c)) => v.push(c),
            (Values::Int(v), Cell::Int(c)) => v.push(c),
            (Values::Json(v), Cell::Json(c)) => v.push(c),
            _ => unreachable!("a cell of another kind than its column"),
        }
    }

    pub(super) fn param(&self) -> &(dyn ToSql + Sync) {
        match self {
            Values::Text(v) => v,
            Values::Int(v) => v,
            Values::Json(v) => v,
        }
    }
}

/// `INSERT INTO {table} ({columns}) SELECT {select} FROM unnest(...)`: `$1` is the
/// workspace, then one array per `(alias, type)` of `arrays`, from `${first}`.
pub(super) fn unnest_insert(
    table: &str,
    columns: &[&str],
    select: &[String],
    arrays: &[(&str, &str)],
    first: usize,
) -> String {
    let params: Vec<String> = arrays
        .iter()
        .enumerate()
        .map(|(i, (_, ty))| format!("${}::{ty}", first + i))
        .collect();
    let aliases: Vec<&str> = arrays.iter().map(|(alias, _)| *alias).collect();
    format!(
        "INSERT INTO {table} ({}) SELECT {} FROM unnest({}) AS u({})",
        columns.join(", "),
        select.join(", "),
        params.join(", "),
        aliases.join(", ")
    )
}

impl Layout {
    /// `INSERT ... SELECT ... FROM unnest(...) ON CONFLICT` of a whole batch: `$1`
    /// workspace, `$2` the ids, then one array per column ([`Layout::values`]) and the
    /// overflow. With `only_new`, an existing row is left alone and the ids written come
    /// back (`RETURNING id`). An upsert's ids must be distinct: PostgreSQL refuses to
    /// update one row twice in a statement.
    pub(super) fn insert_sql(&self, only_new: bool) -> String {
        let mut names: Vec<&str> = vec!["workspace", "id"];
        names.extend(self.columns.iter().map(|c| c.column));
        names.extend(self.overflow);
        let aliases: Vec<String> = (0..names.len() - 1).map(|i| format!("v{i}")).collect();
        let mut select: Vec<String> = vec!["$1".to_owned()];
        select.extend(aliases.iter().map(|a| format!("u.{a}")));
        let mut types: Vec<&str> = vec!["text[]"];
        types.extend(self.columns.iter().map(|c| Values::array_type(c.kind)));
        types.extend(self.overflow.map(|_| "jsonb[]"));
        let arrays: Vec<(&str, &str)> = aliases.iter().map(String::as_str).zip(types).collect();
        if self.times == Times::Utc {
            names.extend(["create_time", "update_time"]);
            select.extend(std::iter::repeat_n(UTC_NOW.to_owned(), 2));
        }
        let conflict = if only_new {
            "DO NOTHING RETURNING id".to_owned()
        } else {
            let mut sets: Vec<String> = self
                .columns
                .iter()
                .map(|c| {
                    let name = c.column;
                    if !c.keep_stored {
                        return format!("{name} = EXCLUDED.{name}");
                    }
                    let empty = match c.kind {
                        Kind::Json => "'{}'::jsonb",
                        _ => "''",
                    };
                    format!(
                        "{name} = COALESCE(NULLIF(EXCLUDED.{name}, {empty}), {}.{name})",
                        self.table
                    )
                })
                .collect();
            sets.extend(self.overflow.map(|o| format!("{o} = EXCLUDED.{o}")));
            sets.push(match self.times {
                Times::Utc => format!("update_time = {UTC_NOW}"),
                Times::Database => "update_time = CURRENT_TIMESTAMP".to_owned(),
            });
            format!("DO UPDATE SET {}", sets.join(", "))
        };
        format!(
            "{} ON CONFLICT (workspace, id) {conflict}",
            unnest_insert(self.table, &names, &select, &arrays, 2)
        )
    }

    /// The arrays after the ids for `records`, one per column in order, then the
    /// overflow.
    pub(super) fn values<'a>(
        &self,
        records: impl ExactSizeIterator<Item = &'a Value>,
    ) -> Vec<Values> {
        let rows = records.len();
        let mut arrays: Vec<Values> = self
            .columns
            .iter()
            .map(|c| Values::new(c.kind, rows))
            .collect();
        let mut overflow: Vec<Option<Value>> = Vec::new();
        for record in records {
            let empty = Map::new();
            let fields = record.as_object().unwrap_or(&empty);
            for (c, values) in self.columns.iter().zip(arrays.iter_mut()) {
                values.push(cell(
                    c,
                    fields.get(c.field).filter(|v| !v.is_null()),
                    fields,
                ));
            }
            if self.overflow.is_some() {
                let rest: Map<String, Value> = fields
                    .iter()
                    .filter(|(k, _)| !self.columns.iter().any(|c| c.field == k.as_str()))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                overflow.push((!rest.is_empty()).then_some(Value::Object(rest)));
            }
        }
        if self.overflow.is_some() {
            arrays.push(Values::Json(overflow));
        }
        arrays
    }

    /// The column list of reads, in [`Layout::record`]'s order.
    pub(super) fn select_list(&self) -> String {
        let mut names: Vec<&str> = self.columns.iter().map(|c| c.column).collect();
        names.extend(self.overflow);
        names.extend(self.borrowed.map(|(_, sql)| sql));
        names.join(", ")
    }

    /// The JSON record of a row read with [`Layout::select_list`].
    pub(super) fn record(&self, row: &Row) -> std::result::Result<Value, postgres::Error> {
        self.record_at(row, 0)
    }

    /// The same, the select list starting at column `first`.
    pub(super) fn record_at(
        &self,
        row: &Row,
        first: usize,
    ) -> std::result::Result<Value, postgres::Error> {
        let mut record = Map::new();
        for (i, c) in self.columns.iter().enumerate() {
            let i = first + i;
            let value = match c.kind {
                Kind::Text => row.try_get::<_, Option<String>>(i)?.map(Value::String),
                Kind::Int => row.try_get::<_, Option<i32>>(i)?.map(|n| json!(n)),
                Kind::Json => row.try_get::<_, Option<Value>>(i)?,
            };
            let value = match (value, c.missing) {
                (None, Missing::Text(t)) => Some(json!(t)),
                (v, _) => v,
            };
            let hidden = |v: &Value| c.hide_when.is_some_and(|h| v == &literal(h));
            if let Some(v) = value.filter(|v| !hidden(v)) {
                record.insert(c.field.to_owned(), v);
            }
        }
        if self.overflow.is_some()
            && let Some(Value::Object(rest)) =
                row.try_get::<_, Option<Value>>(first + self.columns.len())?
        {
            for (k, v) in rest {
                record.entry(k).or_insert(v);
            }
        }
        if let Some((field, _)) = self.borrowed {
            let at = self.columns.len() + usize::from(self.overflow.is_some());
            let value = row.try_get::<_, Option<Value>>(at)?;
            if let Some(list) = value.filter(|v| v.as_array().is_some_and(|a| !a.is_empty())) {
                record.entry(field).or_insert(list);
            }
        }
        Ok(Value::Object(record))
    }
}

fn literal(json: &str) -> Value {
    serde_json::from_str(json).expect("a JSON literal of this module")
}

/// The column value of one record (`value` is its field, when not null).
fn cell(c: &Column, value: Option<&Value>, fields: &Map<String, Value>) -> Cell {
    match c.kind {
        Kind::Text => Cell::Text(match (value, c.missing) {
            (Some(Value::String(s)), _) => Some(s.clone()),
            (Some(other), _) => Some(other.to_string()),
            (None, Missing::Text(t)) => Some(t.to_owned()),
            (None, _) => None,
        }),
        Kind::Int => Cell::Int(match (value, c.missing) {
            (Some(v), _) => v.as_i64().and_then(|n| i32::try_from(n).ok()),
            (None, Missing::LenOf(field)) => fields
                .get(field)
                .and_then(Value::as_array)
                .and_then(|a| i32::try_from(a.len()).ok()),
            (None, _) => None,
        }),
        Kind::Json => Cell::Json(match (value, c.missing) {
            (Some(v), _) => Some(v.clone()),
            (None, Missing::Json(j)) => Some(literal(j)),
            (None, _) => None,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upserts_keep_what_lightrag_keeps() {
        let sql = FULL_DOCS.insert_sql(false);
        assert!(sql.starts_with(
            "INSERT INTO lightrag_doc_full (workspace, id, content, doc_name, sidecar_location"
        ));
        assert!(
            sql.contains("SELECT $1, u.v0, u.v1")
                && sql.contains("FROM unnest($2::text[], $3::text[]"),
            "{sql}"
        );
        assert!(sql.contains("content = EXCLUDED.content"), "{sql}");
        assert!(
            sql.contains("chunk_options = COALESCE(NULLIF(EXCLUDED.chunk_options, '{}'::jsonb), lightrag_doc_full.chunk_options)"),
            "{sql}"
        );
        assert!(
            sql.ends_with("meta = EXCLUDED.meta, update_time = CURRENT_TIMESTAMP"),
            "{sql}"
        );
        let chunks = TEXT_CHUNKS.insert_sql(true);
        assert!(
            chunks.contains("create_time, update_time) SELECT"),
            "{chunks}"
        );
        assert!(chunks.contains("$3::int4[]"), "{chunks}");
        assert!(chunks.ends_with("DO NOTHING RETURNING id"), "{chunks}");
    }

    #[test]
    fn a_documents_chunk_list_is_read_from_doc_status_when_meta_lacks_it() {
        let select = FULL_DOCS.select_list();
        assert!(
            select.ends_with(
                "meta, (SELECT s.chunks_list FROM lightrag_doc_status s WHERE s.workspace = \
                 lightrag_doc_full.workspace AND s.id = lightrag_doc_full.id)"
            ),
            "{select}"
        );
        // Written, it stays in `meta` only: the borrowed field is no column of the insert.
        let insert = FULL_DOCS.insert_sql(false);
        assert!(!insert.contains("lightrag_doc_status"), "{insert}");
        assert_eq!(TEXT_CHUNKS.select_list().matches("SELECT").count(), 0);
    }

    #[test]
    fn parameters_follow_the_columns_and_overflow_takes_the_rest() {
        let doc = json!({"content": "x", "file_path": "a.txt", "source_file": "a.txt", "chunks_list": ["c"]});
        let arrays = FULL_DOCS.values([&doc].into_iter());
        assert_eq!(arrays.len(), FULL_DOCS.columns.len() + 1);
        let Some(Values::Json(overflow)) = arrays.last() else {
            panic!("the overflow is JSON: {arrays:?}");
        };
        assert_eq!(
            overflow,
            &[Some(json!({"source_file": "a.txt", "chunks_list": ["c"]}))]
        );
        let entities = [json!({"entity_names": ["A", "B"]}), json!({"count": 7})];
        let arrays = FULL_ENTITIES.values(entities.iter());
        assert_eq!(format!("{:?}", arrays[1]), "Int([Some(2), Some(7)])");
        let cache = json!({"return": "answer"});
        let arrays = LLM_CACHE.values([&cache].into_iter());
        assert_eq!(format!("{:?}", arrays[3]), "Text([Some(\"extract\")])");
        assert_eq!(format!("{:?}", arrays[0]), "Text([None])");
    }
}
