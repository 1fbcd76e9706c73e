//! Language-model work. The `builtin` model needs no network: it extracts entities and
//! relations from text deterministically and answers in LightRAG's record format, so the
//! pipeline treats it exactly like a real model. Provider bindings come with the
//! pipeline.

pub mod builtin;
