//! What kind of failure an engine error is.
//!
//! The engine never picks HTTP status codes; it says what went wrong in terms a caller
//! can act on (the input, a missing element, a busy or conflicting state, the model
//! provider, the store). The worker turns each kind into an HTTP answer in one place
//! (`worker/src/error.rs`), so a new engine error needs no new code in any route.

/// The kinds of engine failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The request itself is not acceptable (malformed, out of range, contradictory).
    BadInput,
    /// The element the request names does not exist.
    NotFound,
    /// The request conflicts with the current state (already exists, pipeline busy).
    Conflict,
    /// Too much work is queued already; the same request can succeed later.
    Overloaded,
    /// The LLM, embedding or rerank provider failed (after its retries).
    Provider,
    /// The store failed or holds data we cannot read.
    Storage,
    /// The store cannot be reached right now; the same request can succeed once it is
    /// back.
    Unavailable,
}

/// An error that knows its [`ErrorKind`].
pub trait Kind {
    fn kind(&self) -> ErrorKind;
}

impl Kind for crate::llm::ModelError {
    fn kind(&self) -> ErrorKind {
        ErrorKind::Provider
    }
}

impl Kind for crate::storage::StorageError {
    fn kind(&self) -> ErrorKind {
        match self {
            // The configured model gives vectors of another length than the store's:
            // the provider's answer is what is wrong, not the data.
            crate::storage::StorageError::DimensionMismatch { .. } => ErrorKind::Provider,
            crate::storage::StorageError::Unavailable { .. } => ErrorKind::Unavailable,
            crate::storage::StorageError::EmbeddingChanged(_) => ErrorKind::Conflict,
            _ => ErrorKind::Storage,
        }
    }
}

impl Kind for crate::chunking::ChunkError {
    fn kind(&self) -> ErrorKind {
        ErrorKind::BadInput
    }
}

impl Kind for crate::query::QueryError {
    fn kind(&self) -> ErrorKind {
        match self {
            crate::query::QueryError::Storage(e) => e.kind(),
            crate::query::QueryError::Model(e) => e.kind(),
        }
    }
}

impl Kind for crate::graph_edit::EditError {
    fn kind(&self) -> ErrorKind {
        use crate::graph_edit::EditError;
        match self {
            EditError::NotFound(_) => ErrorKind::NotFound,
            EditError::Invalid(_) => ErrorKind::BadInput,
            EditError::Storage(e) => e.kind(),
            EditError::Model(e) => e.kind(),
        }
    }
}

impl Kind for crate::ingest::IngestError {
    fn kind(&self) -> ErrorKind {
        use crate::ingest::IngestError;
        match self {
            IngestError::Chunking(e) => e.kind(),
            IngestError::Storage(e) => e.kind(),
            IngestError::Model(e) => e.kind(),
        }
    }
}
