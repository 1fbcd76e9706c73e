//! The RAG core of lightrag-master: identities, chunking, embeddings and storage.
//!
//! It knows nothing of HTTP or processes. It owns the document lifecycle
//! ([`documents`]) and the answer, and reaches the outside world through two seams:
//! storage ([`storage`], every role a trait, the backend chosen in [`storage::open`])
//! and coordination ([`coordination`], implemented on the shared-memory arena by the
//! worker crate).

pub mod chunking;
pub mod clock;
pub mod coordination;
pub mod cores;
pub mod deletion;
pub mod documents;
pub mod embedding;
pub mod error;
pub mod extraction;
pub mod fast_hash;
pub mod graph_edit;
pub mod ids;
pub mod ingest;
pub mod llm;
#[cfg(feature = "local-models")]
pub mod models;
pub mod parsing;
pub mod providers;
pub mod query;
pub mod rerank;
pub mod storage;
pub mod workspace;
