//! Embeddings. The `builtin` embedder needs no model and no network; provider bindings
//! (OpenAI-compatible, Azure OpenAI, Ollama) arrive with the pipeline.

pub mod builtin;
