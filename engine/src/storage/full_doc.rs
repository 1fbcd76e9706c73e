//! The `full_docs` record of one document, typed: its text once known (or the file it
//! is still to be parsed from), its chunk list once indexed, and the chunking its request
//! asked for. The JSON is LightRAG's (`content`, `file_path`, `chunks_list`) plus our
//! `source_file` and `chunking`; fields we do not know are kept as they were.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{KvNamespace, KvStorage, Result};
pub use crate::chunking::ChunkingRequest;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FullDoc {
    /// The document's text; absent while its file waits to be parsed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    #[serde(default)]
    pub file_path: String,
    /// The uploaded or scanned file in the input directory the text comes from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_file: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chunking: Option<ChunkingRequest>,
    /// The document's chunk ids, once indexed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chunks_list: Option<Vec<String>>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl FullDoc {
    /// A text given in a request.
    pub fn text(content: String, file_path: String, chunking: Option<ChunkingRequest>) -> FullDoc {
        FullDoc {
            content: Some(content),
            file_path,
            chunking,
            ..FullDoc::default()
        }
    }

    /// A file in the input directory, parsed by the pipeline.
    pub fn file(
        source_file: String,
        file_path: String,
        chunking: Option<ChunkingRequest>,
    ) -> FullDoc {
        FullDoc {
            source_file: Some(source_file),
            file_path,
            chunking,
            ..FullDoc::default()
        }
    }

    pub fn get(kv: &dyn KvStorage, id: &str) -> Result<Option<FullDoc>> {
        kv.kv_get(KvNamespace::FullDocs, id)?
            .map(serde_json::from_value)
            .transpose()
            .map_err(Into::into)
    }

    pub fn put(kv: &dyn KvStorage, docs: &[(String, FullDoc)]) -> Result<()> {
        let items = docs
            .iter()
            .map(|(id, doc)| Ok((id.clone(), serde_json::to_value(doc)?)))
            .collect::<std::result::Result<Vec<_>, serde_json::Error>>()?;
        kv.kv_upsert(KvNamespace::FullDocs, &items)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn records_keep_their_json_shape() {
        let text = FullDoc::text("hello".into(), "a.txt".into(), None);
        assert_eq!(
            serde_json::to_value(&text).unwrap(),
            json!({"content": "hello", "file_path": "a.txt"})
        );
        let file = FullDoc::file("b.pdf".into(), "b.pdf".into(), None);
        assert_eq!(
            serde_json::to_value(&file).unwrap(),
            json!({"file_path": "b.pdf", "source_file": "b.pdf"})
        );
        let indexed =
            json!({"content": "x", "file_path": "c", "chunks_list": ["chunk-1"], "create_time": 5});
        let doc: FullDoc = serde_json::from_value(indexed.clone()).unwrap();
        assert_eq!(
            doc.chunks_list.as_deref(),
            Some(&["chunk-1".to_owned()][..])
        );
        assert_eq!(
            serde_json::to_value(&doc).unwrap(),
            indexed,
            "unknown fields kept"
        );
    }
}
