//! Document status: one record per document (LightRAG's `DocProcessingStatus`), its
//! typed status with LightRAG's names on the wire, and the storage role that keeps them
//! (paginated and counted per status, as the web UI lists them).

use serde_json::Value;

use super::Result;

/// Where a document is in its lifecycle; the strings are LightRAG's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DocStatus {
    /// Accepted and durable, waiting for the pipeline.
    Pending,
    /// Its file is being turned into text.
    Parsing,
    /// LightRAG's multimodal analysis stage; never entered here, but a valid filter.
    Analyzing,
    /// Being chunked, extracted and merged.
    Processing,
    /// LightRAG's state between chunking and extraction; never entered here.
    Preprocessed,
    Processed,
    Failed,
}

impl DocStatus {
    /// Every status, in LightRAG's order (its validation messages list them so).
    pub const ALL: [DocStatus; 7] = [
        DocStatus::Pending,
        DocStatus::Parsing,
        DocStatus::Analyzing,
        DocStatus::Processing,
        DocStatus::Preprocessed,
        DocStatus::Processed,
        DocStatus::Failed,
    ];

    /// Statuses the pipeline still has work for, resumed first to last.
    pub const UNFINISHED: [DocStatus; 3] = [
        DocStatus::Processing,
        DocStatus::Parsing,
        DocStatus::Pending,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DocStatus::Pending => "pending",
            DocStatus::Parsing => "parsing",
            DocStatus::Analyzing => "analyzing",
            DocStatus::Processing => "processing",
            DocStatus::Preprocessed => "preprocessed",
            DocStatus::Processed => "processed",
            DocStatus::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<DocStatus> {
        DocStatus::ALL
            .into_iter()
            .find(|status| status.as_str() == s)
    }

    /// Waiting for or under processing (what admission control counts).
    pub fn is_unfinished(self) -> bool {
        DocStatus::UNFINISHED.contains(&self)
    }
}

impl std::fmt::Display for DocStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One document's processing record (LightRAG's `DocProcessingStatus`).
#[derive(Debug, Clone, PartialEq)]
pub struct DocStatusRecord {
    pub id: String,
    pub status: DocStatus,
    pub file_path: String,
    pub track_id: Option<String>,
    pub content_summary: String,
    pub content_length: usize,
    pub chunks_count: Option<usize>,
    pub error_msg: Option<String>,
    pub metadata: Value,
    pub created_at: String,
    pub updated_at: String,
}

/// Orders of the paginated document list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocSort {
    CreatedAt,
    UpdatedAt,
    Id,
    FilePath,
}

impl DocSort {
    pub fn parse(s: &str) -> Option<DocSort> {
        match s {
            "created_at" => Some(DocSort::CreatedAt),
            "updated_at" => Some(DocSort::UpdatedAt),
            "id" => Some(DocSort::Id),
            "file_path" => Some(DocSort::FilePath),
            _ => None,
        }
    }

    pub fn column(self) -> &'static str {
        match self {
            DocSort::CreatedAt => "created_at",
            DocSort::UpdatedAt => "updated_at",
            DocSort::Id => "id",
            DocSort::FilePath => "file_path",
        }
    }
}

/// One page of the document list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocPageQuery {
    /// Empty: every status.
    pub statuses: Vec<DocStatus>,
    pub sort: DocSort,
    pub descending: bool,
    pub offset: usize,
    pub limit: usize,
}

pub trait DocStatusStorage {
    /// The page and the number of documents matching the filter.
    fn docs_page(&self, query: &DocPageQuery) -> Result<(Vec<DocStatusRecord>, usize)>;
    fn doc_upsert(&self, docs: &[DocStatusRecord]) -> Result<()>;
    /// Inserts every record, or none of them when one id is already known: then the
    /// record holding that id comes back. One atomic step, so two requests naming the
    /// same document cannot both be accepted.
    fn doc_insert_new(&self, docs: &[DocStatusRecord]) -> Result<Option<DocStatusRecord>>;
    fn doc_get(&self, id: &str) -> Result<Option<DocStatusRecord>>;
    fn docs_with_status(&self, status: DocStatus) -> Result<Vec<DocStatusRecord>>;
    fn docs_with_track_id(&self, track_id: &str) -> Result<Vec<DocStatusRecord>>;
    /// (status, count) for every status present.
    fn status_counts(&self) -> Result<Vec<(DocStatus, usize)>>;
    fn doc_delete(&self, ids: &[String]) -> Result<()>;
    /// Every record of the workspace.
    fn docs_drop(&self) -> Result<()>;
}

/// Which workspaces of the deployment have documents in given statuses: the pipeline
/// looks at all of them, whatever workspace a handle serves.
pub trait WorkspaceListing {
    fn workspaces_with_status(&self, statuses: &[DocStatus]) -> Result<Vec<String>>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_round_trip_with_lightrag_names() {
        for status in DocStatus::ALL {
            assert_eq!(DocStatus::parse(status.as_str()), Some(status));
        }
        assert_eq!(DocStatus::Processed.to_string(), "processed");
        assert_eq!(DocStatus::parse("done"), None);
        assert!(DocStatus::Parsing.is_unfinished());
        assert!(!DocStatus::Failed.is_unfinished());
    }
}
