//! LightRAG 1.5's identities: documents by source name (`doc-<md5(basename)>`, or by
//! content when there is no source), chunks by content, entities by name, relations by
//! their endpoints, and track ids `<prefix>_<YYYYMMDD_HHMMSS>_<8 hex>`.

use md5::{Digest, Md5};

pub fn md5_hex(data: &[u8]) -> String {
    Md5::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// LightRAG 1.5.7's hash of a cached call's arguments: the MD5 hex of each argument as
/// `<length in characters>:<text>`, concatenated.
pub fn args_hash(args: &[&str]) -> String {
    let joined: String = args
        .iter()
        .map(|a| format!("{}:{a}", a.chars().count()))
        .collect();
    md5_hex(joined.as_bytes())
}

/// A document with a real source name is identified by that name.
pub fn doc_id_for_source(canonical_basename: &str) -> String {
    format!("doc-{}", md5_hex(canonical_basename.as_bytes()))
}

/// Raw text without a source is identified by its content.
pub fn doc_id_for_content(content: &str) -> String {
    format!("doc-{}", md5_hex(content.as_bytes()))
}

pub fn chunk_id(content: &str) -> String {
    format!("chunk-{}", md5_hex(content.as_bytes()))
}

pub fn entity_id(name: &str) -> String {
    format!("ent-{}", md5_hex(name.as_bytes()))
}

pub fn relation_id(source: &str, target: &str) -> String {
    format!("rel-{}", md5_hex(format!("{source}{target}").as_bytes()))
}

/// A relation's endpoints in canonical order, the smaller name first: LightRAG's
/// relations are undirected and stored and identified that way.
pub fn endpoints<T: PartialOrd>(a: T, b: T) -> (T, T) {
    if a <= b { (a, b) } else { (b, a) }
}

/// What a track id groups: the operation that accepted the documents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrackKind {
    Upload,
    Insert,
    Scan,
}

impl TrackKind {
    fn prefix(self) -> &'static str {
        match self {
            TrackKind::Upload => "upload",
            TrackKind::Insert => "insert",
            TrackKind::Scan => "scan",
        }
    }
}

/// `<prefix>_<YYYYMMDD_HHMMSS>_<8 hex>` at `at` (UTC).
pub fn track_id(kind: TrackKind, at: chrono::DateTime<chrono::Utc>) -> String {
    format!(
        "{}_{}_{:08x}",
        kind.prefix(),
        at.format("%Y%m%d_%H%M%S"),
        fastrand::u32(..)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_come_smaller_first_whatever_the_type() {
        assert_eq!(endpoints("Paris", "Alice"), ("Alice", "Paris"));
        assert_eq!(endpoints("Alice", "Paris"), ("Alice", "Paris"));
        assert_eq!(
            endpoints("b".to_owned(), "a".to_owned()),
            ("a".to_owned(), "b".to_owned())
        );
    }

    #[test]
    fn ids_match_lightrag() {
        // Values from Python's hashlib.md5.
        assert_eq!(
            doc_id_for_source(""),
            "doc-d41d8cd98f00b204e9800998ecf8427e"
        );
        assert_eq!(chunk_id("abc"), "chunk-900150983cd24fb0d6963f7d28e17f72");
        assert_eq!(relation_id("a", "bc"), format!("rel-{}", md5_hex(b"abc")));
        assert_eq!(args_hash(&["mix", "é?"]), md5_hex("3:mix2:é?".as_bytes()));
        assert_eq!(entity_id("abc"), "ent-900150983cd24fb0d6963f7d28e17f72");
    }

    #[test]
    fn track_ids_have_lightrags_shape() {
        let at = chrono::DateTime::from_timestamp(1_795_674_000, 0).unwrap();
        let id = track_id(TrackKind::Upload, at);
        assert!(id.starts_with("upload_20261126_062000_"), "{id}");
        assert_eq!(id.len(), "upload_20261126_062000_".len() + 8);
        assert!(id[id.len() - 8..].chars().all(|c| c.is_ascii_hexdigit()));
    }
}
