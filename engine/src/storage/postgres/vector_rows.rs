//! How the metadata of a vector record (what the engine writes: a chunk's document,
//! order, tokens and text; an entity's or relation's names, content and source
//! chunks) maps onto the data columns of LightRAG's vector tables
//! ([`super::vector_tables::data_columns`]), and how a row reads back as that metadata.

use postgres::Row;
use serde_json::{Map, Value, json};

use super::layout::{Cell, Kind, Values};
use crate::ids;
use crate::storage::VectorNamespace;
use crate::storage::graph::{GRAPH_FIELD_SEP, fragments};

/// The kind of each of [`super::vector_tables::data_columns`]; the chunk ids of a row go as a
/// JSON list (an array of arrays cannot be unnested row by row).
pub(super) fn column_kinds(ns: VectorNamespace) -> &'static [Kind] {
    match ns {
        VectorNamespace::Chunks => &[Kind::Text, Kind::Int, Kind::Int, Kind::Text, Kind::Text],
        VectorNamespace::Entities => &[Kind::Text, Kind::Text, Kind::Json, Kind::Text],
        VectorNamespace::Relationships => {
            &[Kind::Text, Kind::Text, Kind::Text, Kind::Json, Kind::Text]
        }
    }
}

/// The arrays of [`super::vector_tables::data_columns`] for the records' metadata.
pub(super) fn columns_of<'a>(
    ns: VectorNamespace,
    metas: impl Iterator<Item = &'a Value>,
) -> Vec<Values> {
    let mut columns: Vec<Values> = column_kinds(ns)
        .iter()
        .map(|kind| Values::new(*kind, 0))
        .collect();
    for meta in metas {
        let text = |key: &str| {
            meta.get(key)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        let int = |key: &str| {
            Cell::Int(
                meta.get(key)
                    .and_then(Value::as_i64)
                    .and_then(|n| i32::try_from(n).ok()),
            )
        };
        let chunk_ids = || {
            let joined = text("source_id");
            Cell::Json(Some(Value::from(fragments(&joined).collect::<Vec<_>>())))
        };
        let cell = |s: String| Cell::Text(Some(s));
        let row = match ns {
            VectorNamespace::Chunks => vec![
                cell(text("full_doc_id")),
                int("chunk_order_index"),
                int("tokens"),
                cell(text("content")),
                cell(text("file_path")),
            ],
            VectorNamespace::Entities => vec![
                cell(text("entity_name")),
                cell(text("content")),
                chunk_ids(),
                cell(text("file_path")),
            ],
            VectorNamespace::Relationships => {
                let (source, target) = ids::endpoints(text("src_id"), text("tgt_id"));
                vec![
                    cell(source),
                    cell(target),
                    cell(text("content")),
                    chunk_ids(),
                    cell(text("file_path")),
                ]
            }
        };
        for (column, value) in columns.iter_mut().zip(row) {
            column.push(value);
        }
    }
    columns
}

/// A row's data columns (from column `first`) as the metadata the engine writes.
pub(super) fn row_meta(ns: VectorNamespace, row: &Row, first: usize) -> Value {
    let text = |i: usize| row.get::<_, Option<String>>(first + i).unwrap_or_default();
    let mut meta = Map::new();
    match ns {
        VectorNamespace::Chunks => {
            meta.insert("full_doc_id".into(), json!(text(0)));
            for (i, key) in [(1, "chunk_order_index"), (2, "tokens")] {
                if let Some(n) = row.get::<_, Option<i32>>(first + i) {
                    meta.insert(key.into(), json!(n));
                }
            }
            meta.insert("content".into(), json!(text(3)));
            meta.insert("file_path".into(), json!(text(4)));
        }
        VectorNamespace::Entities => {
            meta.insert("entity_name".into(), json!(text(0)));
            meta.insert("content".into(), json!(text(1)));
            let chunks = row
                .get::<_, Option<Vec<String>>>(first + 2)
                .unwrap_or_default();
            meta.insert("source_id".into(), json!(chunks.join(GRAPH_FIELD_SEP)));
            meta.insert("file_path".into(), json!(text(3)));
        }
        VectorNamespace::Relationships => {
            meta.insert("src_id".into(), json!(text(0)));
            meta.insert("tgt_id".into(), json!(text(1)));
            meta.insert("content".into(), json!(text(2)));
            let chunks = row
                .get::<_, Option<Vec<String>>>(first + 3)
                .unwrap_or_default();
            meta.insert("source_id".into(), json!(chunks.join(GRAPH_FIELD_SEP)));
            meta.insert("file_path".into(), json!(text(4)));
        }
    }
    Value::Object(meta)
}
