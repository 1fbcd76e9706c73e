//! The RAG core of lightrag-master: identities, chunking, embeddings and storage.
//!
//! It knows nothing of HTTP or processes. What must be coordinated across worker
//! processes reaches it through traits (see [`storage::Generations`]), implemented
//! in-process here and on the shared-memory arena by the worker crate.

pub mod chunking;
pub mod clock;
pub mod deletion;
pub mod embedding;
pub mod error;
pub mod extraction;
pub mod graph_edit;
pub mod ids;
pub mod ingest;
pub mod llm;
pub mod parsing;
pub mod providers;
pub mod query;
pub mod storage;
